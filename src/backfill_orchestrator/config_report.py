"""The resolved plan of a config, as a result dataclass (rendered as text or JSON)."""
from __future__ import annotations

from dataclasses import dataclass

from .config import PipelineConfig
from .redact import redact_url


@dataclass(frozen=True)
class PhaseSummary:
    name: str
    depends_on: list[str]
    dates: int
    first: str | None
    last: str | None
    date_rule: str
    command: list[str]
    workers: int
    retries: int
    timeout_s: float | None
    preflight: list[str]
    post: list[str]
    repair_rounds: int = 0
    history: str = "none"


@dataclass(frozen=True)
class ConfigSummary:
    path: str
    pipeline: str
    warehouse: str
    phases: list[PhaseSummary]
    notifications: list[str]
    sources: list[str]

    def text(self) -> str:
        lines = [f"{self.path}: OK — pipeline {self.pipeline!r} on {self.warehouse}, {len(self.phases)} phases"]
        for i, p in enumerate(self.phases, 1):
            after = f" after {', '.join(p.depends_on)}" if p.depends_on else ""
            lines.append(f"  {i}. {p.name}{after}: {p.dates} dates {p.first}..{p.last} ({p.date_rule}), "
                         f"workers={p.workers} retries={p.retries}"
                         + (f" timeout={p.timeout_s:g}s" if p.timeout_s else "")
                         + (f" repair={p.repair_rounds} rounds" if p.repair_rounds else "")
                         + (f" history={p.history}" if p.history != "none" else ""))
            if p.preflight:
                lines.append(f"       pre-flight gate: {', '.join(p.preflight)}")
            if p.post:
                lines.append(f"       post gate: {', '.join(p.post)}")
            lines.append(f"       command: {' '.join(p.command)}")
        for src in self.sources:
            lines.append(f"  source: {src}")
        for n in self.notifications:
            lines.append(f"  notify: {n}")
        return "\n".join(lines)


def _gate_text(g) -> str:
    return g.suite + (f" ({g.severity})" if g.severity != "critical" else "") + (f" on {g.table}" if g.table else "")


def describe_config(cfg: PipelineConfig) -> ConfigSummary:
    calendar = cfg.calendar()
    phases = []
    for p in cfg.phases:
        dates = p.dates.resolve(calendar)
        rule = f"file {p.dates.file}" if p.dates.file else "range"
        if p.dates.season_days_only:
            rule += ", season days only"
        if p.dates.skip_first_days:
            rule += f", skipping the first {p.dates.skip_first_days} days of each season"
        phases.append(PhaseSummary(
            name=p.name, depends_on=list(p.depends_on), dates=len(dates),
            first=dates[0].isoformat() if dates else None, last=dates[-1].isoformat() if dates else None,
            date_rule=rule, command=list(p.command), workers=p.workers, retries=p.retries, timeout_s=p.timeout,
            preflight=[_gate_text(g) for g in p.preflight], post=[_gate_text(g) for g in p.post],
            repair_rounds=p.repair_rounds, history=p.history.describe()))
    w = cfg.warehouse
    where = f"duckdb {w.path}" if w.kind == "duckdb" else f"bigquery project {w.project}"
    notes = [f"{n.name or 'target'}: {'disabled (empty url)' if not n.enabled else redact_url(n.url)} "
             f"on {', '.join(n.events)}" for n in cfg.notifications]
    sources = [s.table + (f" (expected where {s.expected_from} has rows)" if s.expected_from else "")
               + (f"; refill: {s.refill}" if s.refill else "") for s in cfg.sources]
    return ConfigSummary(str(cfg.path), cfg.pipeline, where, phases, notes, sources)
