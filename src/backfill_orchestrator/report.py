"""The run report: what a run did, built from its state.sqlite alone, rendered as HTML, Markdown and JSON.

`build_report(run_dir)` reads the run state (never the warehouse: the gate results stored there carry the
per-date coverage series the charts need) and returns a `RunReport`. `write_reports(run_dir)` writes
report.html (one self-contained file, inline SVG), report.md (short enough for a ticket) and report.json.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .atomic import write_text_atomic
from .clock import iso_utc, parse_iso, utcnow
from .events import ANCHORS, RUNBOOK
from .redact import redact_text
from .render import dumps
from .state import GateRecord, PhaseRecord, RunState, open_state

REPORT_FILES = ("report.html", "report.md", "report.json")
# events worth listing in a report (progress snapshots and the like are left out)
_NOTABLE = {"run_started", "phase_started", "phase_passed", "phase_warned", "phase_failed", "stalled", "retrying",
            "run_finished", "adopted", "lock_taken_over", "phase_exited", "timed_out", "stopped", "restarted",
            "resumed", "notify_failed", "phase_crashed", "adopt_refused"}


@dataclass
class CheckLine:
    name: str
    status: str
    severity: str
    observed: Any
    threshold: str
    evidence: str
    column: str | None = None

    def text(self) -> str:
        """`usage_rate_coverage: 0.0 vs >= 95% — 2024-11-02..2025-06-30 (241 dates)`"""
        ev = f" — {self.evidence}" if self.evidence else ""
        return f"{self.name} [{self.status.upper()}, {self.severity}]: {fmt_value(self.observed)} vs {self.threshold}{ev}"


@dataclass
class CoverageSeries:
    phase: str
    suite: str
    column: str
    start: dt.date
    end: dt.date
    threshold: float | None
    points: list[tuple[dt.date, float | None]]
    kind: str = "post"  # the gate it comes from: preflight | post
    missing: list[dt.date] = field(default_factory=list)  # dates that should have rows and have none
    severity: str = "critical"  # of the coverage check giving the threshold

    @property
    def low_dates(self) -> list[dt.date]:
        if self.threshold is None:
            return []
        return [d for d, v in self.points if v is not None and v < self.threshold]


@dataclass
class GateReport:
    kind: str  # preflight | post
    suite: str
    severity: str
    status: str  # pass | warn | fail | error
    at: str
    attempt: int | None
    table: str | None
    start: str | None
    end: str | None
    checks: list[CheckLine]
    earlier: int = 0  # earlier results of the same gate in this run (retries, re-gates)

    @property
    def problems(self) -> list[CheckLine]:
        return [c for c in self.checks if c.status not in ("pass",)]


@dataclass
class PhaseReport:
    name: str
    status: str
    started_at: str | None
    ended_at: str | None
    duration_seconds: float | None
    total: int | None
    done: int | None
    ok: int | None
    failed: int | None
    skipped: int | None
    records: int | None
    rate: float | None  # days per minute
    eta: str | None
    retries: int
    pid: int | None
    exit_code: int | None
    exit_note: str  # "exit code 0", "exit code unknown (adopted process)", "not started"
    log_path: str | None
    message: str | None
    gates: list[GateReport]
    progress: list[tuple[str, float]]  # (at, % done) snapshots, for the chart
    runbook: list[str] = field(default_factory=list)  # "docs/runbook.md#anchor" of failures seen in this phase


@dataclass
class EventLine:
    at: str
    kind: str
    phase: str | None
    message: str


@dataclass
class RunReport:
    run_id: str
    pipeline: str
    config_path: str
    warehouse: str
    status: str
    started_at: str
    ended_at: str | None
    duration_seconds: float | None
    exit_code: int | None
    message: str | None
    run_dir: str
    phases: list[PhaseReport]
    coverage: list[CoverageSeries]
    events: list[EventLine]
    next_command: str | None
    runbook: list[str]
    generated_at: str


def fmt_value(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return f"{v:,.2f}".rstrip("0").rstrip(".") if abs(v) < 1e6 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{sec:02d}s" if m else f"{sec}s")


def _threshold_pct(threshold: str) -> float | None:
    m = re.search(r"(-?\d+(?:\.\d+)?)\s*%", threshold or "")
    return float(m.group(1)) if m else None


def _date(v: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(v)[:10]) if v else None
    except ValueError:
        return None


def _gate_report(records: list[GateRecord]) -> GateReport:
    g = records[-1]
    r = g.result or {}
    checks = [CheckLine(name=str(c.get("name")), status=str(c.get("status")), severity=str(c.get("severity")),
                        observed=c.get("observed"), threshold=str(c.get("threshold") or ""),
                        evidence=redact_text(str(c.get("evidence") or "")), column=c.get("column"))
              for c in r.get("checks", [])]
    return GateReport(kind=g.kind, suite=g.suite, severity=g.severity, status=g.status, at=g.at, attempt=g.attempt,
                      table=r.get("table"), start=r.get("start"), end=r.get("end"), checks=checks,
                      earlier=len(records) - 1)


_DATE_RANGE = re.compile(r"(\d{4}-\d{2}-\d{2})(?:\.\.(\d{4}-\d{2}-\d{2}))?")


def parse_ranges(text: str) -> list[dt.date]:
    """Dates named in evidence like `2024-11-02..2024-11-27 (26 dates), 2024-12-25` (format_ranges' output)."""
    out: list[dt.date] = []
    for a, b in _DATE_RANGE.findall(text):
        d0 = dt.date.fromisoformat(a)
        d1 = dt.date.fromisoformat(b) if b else d0
        out.extend(d0 + dt.timedelta(days=i) for i in range((d1 - d0).days + 1))
    return out


def _missing_dates(result: dict[str, Any]) -> list[dt.date]:
    """Dates a failing completeness check found without rows: its full `missing_dates` list (the evidence text
    shortens long lists); results stored before that field existed fall back to the evidence's ranges."""
    out: set[dt.date] = set()
    for c in result.get("checks", []):
        if c.get("type") == "completeness" and c.get("status") in ("fail", "warn"):
            if c.get("missing_dates"):
                out.update(d for d in (_date(x) for x in c["missing_dates"]) if d)
            else:
                evidence = str(c.get("evidence") or "")
                out.update(parse_ranges(evidence.split("): ", 1)[-1]))
    return sorted(out)


def _series(phase: str, g: GateRecord) -> list[CoverageSeries]:
    r = g.result or {}
    start, end = _date(r.get("start")), _date(r.get("end"))
    missing = _missing_dates(r)
    out = []
    for column, pts in (r.get("series") or {}).items():
        points = [(d, None if v is None else float(v)) for d, v in ((_date(p[0]), p[1]) for p in pts) if d]
        if not points:
            continue
        # the coverage check on this column gives the line the chart compares against
        check = next((c for c in r.get("checks", []) if c.get("column") == column and c.get("type") == "coverage"),
                     {})
        thr = _threshold_pct(str(check.get("threshold"))) if check else None
        out.append(CoverageSeries(phase, g.suite, column, start or points[0][0], end or points[-1][0], thr, points,
                                  g.kind, missing, check.get("severity") or "critical"))
    return out


def _phase_report(st: RunState, p: PhaseRecord, now: dt.datetime, events: list[dict[str, Any]]) -> PhaseReport:
    hist = st.progress_history(p.name)
    last = hist[-1] if hist else None
    started, ended = parse_iso(p.started_at), parse_iso(p.ended_at)
    duration = ((ended or now) - started).total_seconds() if started else None
    total = (last.total if last and last.total else None) or p.dates_count or p.total_dates
    by_gate: dict[tuple[str, str], list[GateRecord]] = {}
    for g in st.gate_results(p.name):
        by_gate.setdefault((g.kind, g.suite), []).append(g)
    retry_events = sum(1 for e in events if e.get("kind") == "retrying")
    if p.exit_known is False:
        exit_note = "exit code unknown (adopted process)"
    elif p.exit_code is not None:
        exit_note = f"exit code {p.exit_code}"
    else:
        exit_note = "not started" if p.status == "pending" else ("running" if p.pid and not ended else "—")
    rate = last.rate if last else None
    if rate is None and last and last.done and duration:
        rate = last.done / (duration / 60.0)
    anchors = []
    for e in events:
        key = e.get("runbook")
        if key:
            ref = f"{RUNBOOK}#{ANCHORS.get(key, key)}"
            if ref not in anchors:
                anchors.append(ref)
    return PhaseReport(
        name=p.name, status=p.status, started_at=p.started_at, ended_at=p.ended_at, duration_seconds=duration,
        total=total, done=last.done if last else None, ok=last.ok if last else None,
        failed=last.failed if last else None, skipped=last.skipped if last else None,
        records=last.records if last else None, rate=rate, eta=last.eta if last else None,
        retries=max(p.attempt - 1, retry_events, 0), pid=p.pid, exit_code=p.exit_code, exit_note=exit_note,
        log_path=p.log_path, message=redact_text(p.message) if p.message else None, gates=[_gate_report(v) for v in by_gate.values()],
        progress=[(h.at, 100.0 * h.done / h.total) for h in hist if h.done is not None and h.total],
        runbook=anchors)


def build_report(run_dir: str | Path, now: dt.datetime | None = None) -> RunReport:
    """Everything the report shows, from the run's state.sqlite (StateError when it is unreadable)."""
    now = now or utcnow()
    with open_state(run_dir) as st:
        run = st.run()
        bodies = [e.body | {"kind": e.kind, "at": e.at, "phase": e.phase, "message": e.message}
                  for e in st.events()]
        phases = [_phase_report(st, p, now, [b for b in bodies if b.get("phase") == p.name]) for p in st.phases()]
        coverage: list[CoverageSeries] = []
        for p in phases:
            latest: dict[tuple[str, str], GateRecord] = {}
            for g in st.gate_results(p.name):
                latest[(g.kind, g.suite)] = g
            for g in latest.values():
                coverage.extend(_series(p.name, g))
    started, ended = parse_iso(run.started_at), parse_iso(run.ended_at)
    next_cmd = next((b.get("next_command") for b in reversed(bodies) if b.get("next_command")), None)
    anchors: list[str] = []
    for p in phases:
        anchors.extend(a for a in p.runbook if a not in anchors)
    for b in bodies:
        key = b.get("runbook")
        if key and not b.get("phase") and f"{RUNBOOK}#{ANCHORS.get(key, key)}" not in anchors:
            anchors.append(f"{RUNBOOK}#{ANCHORS.get(key, key)}")
    # secrets never reach a report: every URL in free text loses its credentials, path and query
    events = [EventLine(b["at"], b["kind"], b.get("phase"), redact_text(b["message"]))
              for b in bodies if b["kind"] in _NOTABLE]
    return RunReport(
        run_id=run.id, pipeline=run.pipeline, config_path=redact_text(run.config_path),
        warehouse=redact_text(run.warehouse),  # a BigQuery endpoint may carry credentials
        status=run.status, started_at=run.started_at, ended_at=run.ended_at,
        duration_seconds=((ended or now) - started).total_seconds() if started else None,
        exit_code=run.exit_code, message=redact_text(run.message) if run.message else None, run_dir=str(Path(run_dir)), phases=phases, coverage=coverage,
        events=events[-40:], next_command=redact_text(next_cmd) if next_cmd else None, runbook=anchors,
        generated_at=iso_utc(now))


# --- Markdown (a ticket) ------------------------------------------------------------------------------------
def render_markdown(rep: RunReport, max_checks: int = 8) -> str:
    """A ticket: at most ~40 lines and 4,000 characters however many checks failed (report.html has all)."""
    lines = [f"## Backfill run `{rep.run_id}` — **{rep.status.upper()}**", "",
             f"Pipeline `{rep.pipeline}` on `{rep.warehouse}`; started {rep.started_at}, "
             f"{'ended ' + rep.ended_at if rep.ended_at else 'still running'} ({fmt_duration(rep.duration_seconds)})"
             + (f"; exit code {rep.exit_code}" if rep.exit_code is not None else "") + ".", ""]
    if rep.message:
        lines += [_short(rep.message, 300), ""]
    lines += ["| phase | status | days ok / failed / skipped | records | duration | rate | retries | gate |",
              "|---|---|---|---|---|---|---|---|"]
    for p in rep.phases:
        days = "—" if p.ok is None else f"{p.ok:,} / {p.failed or 0:,} / {p.skipped or 0:,}"
        if p.total:
            days += f" of {p.total:,}"
        gates = ", ".join(f"{g.suite} {g.status.upper()}" for g in p.gates) or "—"
        status = p.status + (" (exit code unknown: adopted)" if p.exit_note.startswith("exit code unknown") else "")
        lines.append(f"| {p.name} | {status} | {days} | {fmt_value(p.records) if p.records is not None else '—'} | "
                     f"{fmt_duration(p.duration_seconds)} | {_rate(p.rate)} | {p.retries} | {gates} |")
    problems = [(p.name, g, c) for p in rep.phases for g in p.gates for c in g.problems]
    if problems:
        lines += ["", "**Gate problems**", ""]
        for name, g, c in problems[:max_checks]:
            lines.append(_short(f"- `{name}` {g.kind} `{g.suite}`: {c.text()}", 200))
        if len(problems) > max_checks:
            lines.append(f"- … and {len(problems) - max_checks} more (see report.html)")
    # a warning-level column (e.g. shot zones, present for ~45% of games) dips below its overall threshold on
    # many single dates by nature: the ticket lists critical columns; the HTML charts show them all
    gaps = [s for s in rep.coverage if s.severity == "critical" and s.low_dates]
    missing = {(s.phase, s.suite): s.missing for s in rep.coverage if s.missing}
    if gaps or missing:
        from .dates import format_ranges
        lines += ["", "**Coverage gaps**", ""]
        for (phase, suite), dates in list(missing.items())[:2]:
            lines.append(f"- `{suite}`: no rows on {len(dates)} expected dates: {format_ranges(dates, limit=4)}")
        for s in gaps[:4]:
            lines.append(f"- `{s.suite}.{s.column}` < {s.threshold:g}%: {format_ranges(s.low_dates, limit=4)}")
        more = max(0, len(missing) - 2) + max(0, len(gaps) - 4)
        if more:
            lines.append(f"- … and {more} more (see report.html)")
    if rep.next_command:
        lines += ["", f"Next: `{rep.next_command}`"]
    if rep.runbook:
        lines += ["", "Runbook: " + ", ".join(rep.runbook)]
    lines += ["", f"Full report: `{Path(rep.run_dir) / 'report.html'}`"]
    return "\n".join(lines) + "\n"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 2].rstrip() + " …"


def _rate(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.2f} d/min"


def render_json(rep: RunReport) -> str:
    return dumps(rep)


def render(rep: RunReport, fmt: str) -> str:
    if fmt == "md":
        return render_markdown(rep)
    if fmt == "json":
        return render_json(rep)
    from .report_html import render_html
    return render_html(rep)


REPORT_EXTENSIONS = {".html": "html", ".htm": "html", ".md": "md", ".json": "json"}


def write_report(run_dir: str | Path, out: str | Path, fmt: str | None = None) -> Path:
    """Write the report of `run_dir` to `out` (format `fmt`, else from the extension, else HTML) atomically."""
    path = Path(out)
    fmt = fmt or REPORT_EXTENSIONS.get(path.suffix.lower(), "html")
    write_text_atomic(path, render(build_report(run_dir), fmt), "the report")
    return path


def write_reports(run_dir: str | Path, now: dt.datetime | None = None) -> list[Path]:
    """Write report.html, report.md and report.json into the run directory (each atomically); their paths."""
    rep = build_report(run_dir, now)
    out = []
    for name, fmt in zip(REPORT_FILES, ("html", "md", "json")):
        path = Path(run_dir) / name
        write_text_atomic(path, render(rep, fmt), "the report")
        out.append(path)
    return out
