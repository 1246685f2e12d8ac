"""`backfill status`: what a run is doing, from its state file only (plus a liveness look at the recorded PIDs).

    s = collect_status(run_dir) -> RunStatus     # dataclass: render with s.text() or render.dumps(s) (--json)

The JSON form (`backfill status --json`) is `render.to_jsonable(RunStatus)`: stable field names, documented here:
run_id, run_dir, pipeline, warehouse, status, started_at, ended_at, exit_code, message, orchestrator_pid,
orchestrator_alive, phases[] {name, status, attempt, tries, pid, alive, exit_code, exit_known, log_path, dates_file,
dates_count, started_at, ended_at, message, progress {done,total,ok,failed,skipped,records,rate,eta,at,line},
gates[] {kind, suite, severity, status, at, failing[]}}, events[] {at, kind, phase, message}.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .control import orchestrator_alive, phase_process
from .state import open_state


@dataclass
class ProgressStatus:
    done: int | None
    total: int | None
    ok: int | None
    failed: int | None
    skipped: int | None
    records: int | None
    rate: float | None  # days per minute
    eta: str | None
    at: str
    line: str | None


@dataclass
class GateStatus:
    kind: str
    suite: str
    severity: str
    status: str
    at: str
    failing: list[str] = field(default_factory=list)  # checks that did not pass: "check: observed vs threshold"


@dataclass
class PhaseStatus:
    name: str
    status: str
    attempt: int
    tries: int
    pid: int | None
    alive: bool
    exit_code: int | None
    exit_known: bool | None
    log_path: str | None
    dates_file: str | None
    dates_count: int | None
    started_at: str | None
    ended_at: str | None
    message: str | None
    progress: ProgressStatus | None
    gates: list[GateStatus] = field(default_factory=list)


@dataclass
class EventStatus:
    at: str
    kind: str
    phase: str | None
    message: str


@dataclass
class RunStatus:
    run_id: str
    run_dir: str
    pipeline: str
    warehouse: str
    status: str
    started_at: str
    ended_at: str | None
    exit_code: int | None
    message: str | None
    orchestrator_pid: int | None
    orchestrator_alive: bool
    phases: list[PhaseStatus]
    events: list[EventStatus]

    def text(self) -> str:
        alive = "alive" if self.orchestrator_alive else "not running"
        lines = [f"run {self.run_id} ({self.pipeline}): {self.status}"
                 + (f", exit {self.exit_code}" if self.exit_code is not None else "")
                 + f"; orchestrator PID {self.orchestrator_pid} {alive}",
                 f"  dir: {self.run_dir}"]
        if self.message:
            lines.append(f"  {self.message}")
        for p in self.phases:
            pid = f" PID {p.pid} ({'alive' if p.alive else 'not running'})" if p.pid else ""
            attempt = f" attempt {p.attempt}" if p.attempt else ""
            lines.append(f"  {p.name}: {p.status}{attempt}{pid}")
            if p.progress and p.progress.line:
                lines.append(f"      {p.progress.line}")
            for g in p.gates:
                lines.append(f"      {g.kind} gate {g.suite}: {g.status.upper()}")
                lines.extend(f"        {x}" for x in g.failing[:5])
            if p.message and p.status not in ("pending", "running"):
                lines.append(f"      {p.message}")
            if p.exit_known is False and p.status in ("passed", "warned", "failed", "validating"):
                lines.append("      exit code unknown (adopted process): judged by its log and the gate")
        if self.events:
            lines.append("  recent events:")
            lines.extend(f"    {e.at} {e.kind}: {e.message}" for e in self.events)
        return "\n".join(lines)


def _failing(result: dict[str, Any]) -> list[str]:
    out = []
    for c in result.get("checks", []) or []:
        if c.get("status") != "pass":
            out.append(f"{str(c.get('status')).upper()} {c.get('name')}: observed {c.get('observed')} vs "
                       f"{c.get('threshold')}" + (f" — {c.get('evidence')}" if c.get("evidence") else ""))
    if "error" in result:
        out.append(f"ERROR {result['error']}")
    return out


def collect_status(run_dir: str | Path, events: int = 10) -> RunStatus:
    with open_state(run_dir) as st:
        run = st.run()
        phases = []
        for rec in st.phases():
            last = st.last_progress(rec.name)
            prog = ProgressStatus(last.done, last.total, last.ok, last.failed, last.skipped, last.records, last.rate,
                                  last.eta, last.at, last.line) if last else None
            latest: dict[tuple[str, str], GateStatus] = {}
            for g in st.gate_results(rec.name):
                latest[(g.kind, g.suite)] = GateStatus(g.kind, g.suite, g.severity, g.status, g.at, _failing(g.result))
            alive = rec.status in ("running", "stalled") and phase_process(rec) is not None
            phases.append(PhaseStatus(rec.name, rec.status, rec.attempt, rec.tries, rec.pid, alive, rec.exit_code,
                                      rec.exit_known, rec.log_path, rec.dates_file, rec.dates_count, rec.started_at,
                                      rec.ended_at, rec.message, prog, list(latest.values())))
        evs = [EventStatus(e.at, e.kind, e.phase, e.message) for e in st.events(limit=events)]
        return RunStatus(run.id, str(run.run_dir), run.pipeline, run.warehouse, run.status, run.started_at,
                         run.ended_at, run.exit_code, run.message, run.pid, orchestrator_alive(run), phases, evs)
