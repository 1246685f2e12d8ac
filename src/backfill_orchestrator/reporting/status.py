"""`backfill status`: what a run is doing, projected from the run view (reporting/view.py).

    s = status_of(build_view(run_dir), events=10) -> StatusRun   # s.text() for people, render.dumps(s) for --json

The JSON form is `render.to_jsonable(StatusRun)`; its fields are documented in docs/status-json.md (a test checks
that every field of these dataclasses is named there).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..runmodel import PhaseStatus
from .view import PhaseView, ProgressView, RepairStepView, RepairView, RunView

# statuses after which the phase's message says how it ended or why it waits
_QUIET = frozenset({PhaseStatus.PENDING, PhaseStatus.RUNNING})
# the outcome was judged: an unknown exit code (adopted process) is worth a line
_JUDGED = frozenset({PhaseStatus.PASSED, PhaseStatus.WARNED, PhaseStatus.FAILED, PhaseStatus.VALIDATING})


@dataclass
class StatusGate:
    kind: str
    suite: str
    severity: str
    status: str
    at: str
    failing: list[str] = field(default_factory=list)  # checks that did not pass, one line each (CheckView.text)


@dataclass
class StatusPhase:
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
    progress: ProgressView | None  # the view's last snapshot, as it is
    gates: list[StatusGate] = field(default_factory=list)
    total_dates: int | None = None
    duration_seconds: float | None = None
    retries: int = 0


@dataclass
class StatusEvent:
    at: str
    kind: str
    phase: str | None
    message: str


@dataclass
class StatusRun:
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
    phases: list[StatusPhase]
    events: list[StatusEvent]
    duration_seconds: float | None = None
    repairs: list[RepairView] = field(default_factory=list)  # gate-driven repair rounds, oldest first

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
            if p.message and p.status not in _QUIET:
                lines.append(f"      {p.message}")
            if p.exit_known is False and p.status in _JUDGED:
                lines.append("      exit code unknown (adopted process): judged by its log and the gate")
        if self.repairs:
            lines.append("  repairs:")
            for r in self.repairs:
                after = "?" if r.after is None else str(r.after)
                lines.append(f"    {r.phase} round {r.round} (session {r.session}): {r.status}; failing dates "
                             f"{r.before} -> {after}; re-ran " + (", ".join(f"{s.phase} ({s.dates})" for s in r.steps)
                                                                  or "nothing"))
                lines.extend(f"      source gap {g}" for g in r.gaps)
        if self.events:
            lines.append("  recent events:")
            lines.extend(f"    {e.at} {e.kind}: {e.message}" for e in self.events)
        return "\n".join(lines)


__all__ = ["RepairStepView", "RepairView", "StatusEvent", "StatusGate", "StatusPhase", "StatusRun", "status_of"]


def _phase(p: PhaseView) -> StatusPhase:
    gates = [StatusGate(g.kind, g.suite, g.severity, g.status, g.at, g.failing) for g in p.gates]
    return StatusPhase(p.name, p.status, p.attempt, p.tries, p.pid, p.alive, p.exit_code, p.exit_known, p.log_path,
                       p.dates_file, p.dates_count, p.started_at, p.ended_at, p.message, p.last, gates, p.total,
                       p.duration_seconds, p.retries)


def status_of(view: RunView, events: int = 10) -> StatusRun:
    """The status of the run `view` describes, with its last `events` journal events (all kinds)."""
    evs = [StatusEvent(e.at, e.kind, e.phase, e.message) for e in (view.events[-events:] if events else [])]
    return StatusRun(view.run_id, view.run_dir, view.pipeline, view.warehouse, view.status, view.started_at,
                     view.ended_at, view.exit_code, view.message, view.orchestrator_pid, view.orchestrator_alive,
                     [_phase(p) for p in view.phases], evs, view.duration_seconds, view.repairs)
