"""Node-exporter textfile metrics of a run, for Grafana: progress, ETA, rate, gate status, last success.

Point node_exporter's `--collector.textfile.directory` at a directory and write `<dir>/backfill.prom` there with
`backfill metrics --out` (or `backfill status --prometheus FILE`), e.g. from cron every minute. The file is
replaced atomically (temp file in the same directory, then rename) so the collector never reads half of it.

Metrics (all gauges; labels `pipeline`, `run_id`, and `phase` where per phase):
    backfill_run_info{status}                          1 (status as a label, for tables)
    backfill_run_status{status}                        1 for the run's status, 0 for the others
    backfill_run_start_timestamp_seconds / backfill_run_end_timestamp_seconds
    backfill_run_exit_code                             when ended
    backfill_run_orchestrator_alive                    1 if the orchestrator process of the run is alive
    backfill_last_success_timestamp_seconds            end of the newest passed/warned run of the pipeline
    backfill_phase_status{phase,status}                1 for the phase's status, 0 for the others
    backfill_phase_days_total / _days_done / backfill_phase_days{result=ok|failed|skipped}
    backfill_phase_progress_ratio                      done / total (0..1)
    backfill_phase_records                             records written (as reported by the job)
    backfill_phase_rate_days_per_minute
    backfill_phase_eta_timestamp_seconds               when the job expects to finish (if known)
    backfill_phase_retries
    backfill_phase_process_alive                       1 if the phase's recorded process is alive
    backfill_phase_last_success_timestamp_seconds      when the phase last passed/warned in this run
    backfill_gate_status{phase,kind,suite,status}      1 for the latest result of each gate, 0 for the others
    backfill_gate_checks{phase,kind,suite,status}      number of checks per status in that result
    backfill_metrics_generated_timestamp_seconds       so that a stale file is noticed
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import write_text_atomic
from ..clock import parse_iso
from ..runmodel import PHASE_TERMINAL, RUN_SUCCEEDED, PhaseStatus, RunStatus
from ..state import list_runs
from .view import CheckStatus, RunView, build_view

CHECK_STATUSES = CheckStatus.ALL
GATE_STATUSES = tuple(s for s in CHECK_STATUSES if s != CheckStatus.NO_BASELINE)
_HELP = {
    "backfill_run_info": "The run being described; its status as a label.",
    "backfill_run_status": "1 for the run's current status, 0 for the others.",
    "backfill_run_start_timestamp_seconds": "When the run started (unix time).",
    "backfill_run_end_timestamp_seconds": "When the run ended (unix time).",
    "backfill_run_exit_code": "The run's exit code: 0 ok, 1 failed, 2 usage, 3 warnings.",
    "backfill_run_orchestrator_alive": "1 if the orchestrator process driving the run is alive.",
    "backfill_last_success_timestamp_seconds": "End of the newest passed or warned run of this pipeline.",
    "backfill_phase_status": "1 for the phase's current status, 0 for the others.",
    "backfill_phase_days_total": "Dates the phase covers.",
    "backfill_phase_days_done": "Dates done (ok + failed + skipped).",
    "backfill_phase_days": "Dates done by result.",
    "backfill_phase_progress_ratio": "Fraction of the phase's dates done (0..1).",
    "backfill_phase_records": "Records written by the phase, as reported by its job.",
    "backfill_phase_rate_days_per_minute": "Measured rate, dates per minute.",
    "backfill_phase_eta_timestamp_seconds": "When the phase is expected to finish (unix time).",
    "backfill_phase_retries": "Retries of the phase in this run.",
    "backfill_phase_process_alive": "1 if the phase's process (PID, create time, command line) is alive.",
    "backfill_phase_last_success_timestamp_seconds": "When the phase last passed or warned in this run.",
    "backfill_gate_status": "1 for the status of the latest result of each gate, 0 for the others.",
    "backfill_gate_checks": "Checks per status in the latest result of each gate.",
    "backfill_metrics_generated_timestamp_seconds": "When this file was written (unix time).",
}


@dataclass
class Sample:
    name: str
    labels: dict[str, str]
    value: float


@dataclass
class Metrics:
    samples: list[Sample] = field(default_factory=list)

    def add(self, name: str, value: float | int | None, **labels: str) -> None:
        if value is not None:
            self.samples.append(Sample(name, labels, float(value)))

    def text(self) -> str:
        """Prometheus text exposition format 0.0.4: HELP and TYPE once per metric, samples grouped."""
        out: list[str] = []
        by_name: dict[str, list[Sample]] = {}
        for s in self.samples:
            by_name.setdefault(s.name, []).append(s)
        for name, samples in by_name.items():
            out.append(f"# HELP {name} {_HELP.get(name, name)}")
            out.append(f"# TYPE {name} gauge")
            for s in samples:
                labels = ",".join(f'{k}="{escape_label(v)}"' for k, v in s.labels.items())
                out.append(f"{name}{{{labels}}} {format_value(s.value)}")
        return "\n".join(out) + "\n"


def escape_label(v: str) -> str:
    return str(v).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def format_value(v: float) -> str:
    if v != v:
        return "NaN"
    return str(int(v)) if v == int(v) and abs(v) < 1e15 else repr(v)


def _ts(text: str | None) -> float | None:
    t = parse_iso(text)
    return t.timestamp() if t else None


def metrics_of(view: RunView, now: dt.datetime | None = None) -> Metrics:
    """Metrics of the run `view` describes (and, for the last success, its sibling runs)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    m = Metrics()
    base = {"pipeline": view.pipeline, "run_id": view.run_id}
    m.add("backfill_run_info", 1, **base, status=view.status)
    for s in RunStatus:
        m.add("backfill_run_status", int(view.status == s), **base, status=s.value)
    m.add("backfill_run_start_timestamp_seconds", _ts(view.started_at), **base)
    m.add("backfill_run_end_timestamp_seconds", _ts(view.ended_at), **base)
    m.add("backfill_run_exit_code", view.exit_code, **base)
    m.add("backfill_run_orchestrator_alive", int(view.orchestrator_alive), **base)
    m.add("backfill_last_success_timestamp_seconds", _last_success(view), **base)
    for p in view.phases:
        lab = {**base, "phase": p.name}
        for s in PhaseStatus:
            m.add("backfill_phase_status", int(p.status == s), **lab, status=s.value)
        m.add("backfill_phase_days_total", p.total, **lab)
        last = p.last
        if last is not None:
            m.add("backfill_phase_days_done", last.done, **lab)
            for result in ("ok", "failed", "skipped"):
                m.add("backfill_phase_days", getattr(last, result), **lab, result=result)
            if last.done is not None and p.total:
                m.add("backfill_phase_progress_ratio", min(1.0, last.done / p.total), **lab)
            m.add("backfill_phase_records", last.records, **lab)
            m.add("backfill_phase_rate_days_per_minute", p.rate, **lab)
            if p.status not in PHASE_TERMINAL:
                m.add("backfill_phase_eta_timestamp_seconds", _ts(last.eta) if last.eta != "unknown" else None,
                      **lab)
        elif p.succeeded_at and p.total:
            m.add("backfill_phase_progress_ratio", 1.0, **lab)
        m.add("backfill_phase_retries", p.retries, **lab)
        m.add("backfill_phase_process_alive", int(p.alive), **lab)
        m.add("backfill_phase_last_success_timestamp_seconds", _ts(p.succeeded_at), **lab)
        for g in p.gates:
            glab = {**lab, "kind": g.kind, "suite": g.suite}
            for s in GATE_STATUSES:
                m.add("backfill_gate_status", int(g.status == s), **glab, status=s)
            counts = {s: 0 for s in CHECK_STATUSES}
            for c in g.checks:
                counts[c.status] = counts.get(c.status, 0) + 1
            for s, n in counts.items():
                m.add("backfill_gate_checks", n, **glab, status=s)
    m.add("backfill_metrics_generated_timestamp_seconds", now.timestamp(), **base)
    return m


def collect_metrics(run_dir: str | Path, now: dt.datetime | None = None) -> Metrics:
    """Metrics of one run from its state.sqlite."""
    return metrics_of(build_view(run_dir, now), now)


def _last_success(view: RunView) -> float | None:
    if view.status in RUN_SUCCEEDED:
        return _ts(view.ended_at)
    run_dir = Path(view.run_dir)
    if run_dir.parent.name != "runs":
        return None
    for other in list_runs(run_dir.parent.parent):  # newest first
        if other.pipeline == view.pipeline and other.status in RUN_SUCCEEDED and other.ended_at:
            return _ts(other.ended_at)
    return None


def write_metrics(run: RunView | str | Path, out: str | Path, now: dt.datetime | None = None) -> Path:
    """Write the metrics of a run (its view, or its directory) to `out` atomically (the temp file is never
    `*.prom`); returns the path."""
    view = run if isinstance(run, RunView) else build_view(run, now)
    return write_text_atomic(out, metrics_of(view, now).text(), "metrics")
