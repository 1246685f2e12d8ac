"""One read model of a run: `build_view(run_dir)` reads state.sqlite once, through RunState's read API, and
returns a `RunView` whose free text is already redacted; beside it, each phase's card file, when its job wrote
one (cards.py). `backfill status` (text and --json), the reports (Markdown, HTML, JSON) and the Prometheus
metrics all render from it, so that a figure they share (the latest result of each gate, a phase's total dates,
the failed-check line, durations, retries, liveness) is computed here and only here.

Secrets: every URL in free text loses its credentials, path and query; on top, the literal secrets of the run's
config (notification URLs, credential-like `env` values of phases) are masked when that config can still be
read from the run's `config_path` (as `backfill resume` reads it). Nothing is masked twice or later: renderers
take the view as it is.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ..clock import iso_utc, parse_iso, utcnow
from ..dates import format_ranges
from ..control import orchestrator_alive, phase_process
from ..errors import BackfillError
from ..events import ANCHORS, RUNBOOK
from ..redact import redact_text, secret_values
from ..runmodel import PHASE_PROCESS_STATES, PHASE_SUCCEEDED, EventKind, PhaseStatus
from ..state import GateRecord, PhaseRecord, RepairRecord, RunRecord, open_state
from ..yamlsource import Node, load_yaml
from .cards import card_path, read_card

# The report's event list: what a person reading the run afterwards needs, operator actions included.
SHOWN = frozenset({
    EventKind.RUN_STARTED, EventKind.RESUMED, EventKind.RUN_FINISHED, EventKind.LOCK_TAKEN_OVER,
    EventKind.STOP_REQUESTED, EventKind.PHASE_STARTED, EventKind.ATTEMPT_STARTED, EventKind.RELAUNCH,
    EventKind.ADOPTED, EventKind.READOPTED, EventKind.ENDED_UNWATCHED, EventKind.PHASE_EXITED, EventKind.STALLED,
    EventKind.TIMED_OUT, EventKind.RETRYING, EventKind.PHASE_STOPPED, EventKind.PHASE_LEFT_RUNNING,
    EventKind.PHASE_RESTARTED, EventKind.PHASE_SKIPPED, EventKind.PHASE_PASSED, EventKind.PHASE_WARNED,
    EventKind.PHASE_FAILED, EventKind.REPAIR_STARTED, EventKind.REPAIR_FINISHED, EventKind.SOURCE_GAP,
})
# Deliberately left out of the report's list: the heartbeat repeats what the phases say; gate starts and results
# have their own section (Gates) with every check.
HIDDEN = frozenset({EventKind.HEARTBEAT, EventKind.GATE_STARTED, EventKind.GATE_RESULT})
REPORT_EVENTS = 40  # the newest shown events a report lists


class CheckStatus:
    """The values of validation.results.Status (a test keeps them equal): importing the validation package costs
    ~0.1 s that `backfill status` and the metrics cron do not need."""
    PASS, WARN, FAIL, ERROR, NO_BASELINE = "pass", "warn", "fail", "error", "no_baseline"
    ALL = (PASS, WARN, FAIL, ERROR, NO_BASELINE)


@dataclass
class CheckView:
    name: str
    status: str  # pass | warn | fail | error | no_baseline
    severity: str
    observed: Any
    threshold: str
    evidence: str
    column: str | None = None

    def text(self) -> str:
        """The failed-check line, everywhere it is shown:
        `usage_rate_coverage [FAIL, critical]: 62.3 vs >= 95% — 2024-11-02..2025-06-30 (241 dates) below`"""
        ev = f" — {self.evidence}" if self.evidence else ""
        return f"{self.name} [{self.status.upper()}, {self.severity}]: {fmt_value(self.observed)} vs {self.threshold}{ev}"


@dataclass
class GateView:
    """The latest result of one gate (phase, kind, suite) in the run."""
    kind: str  # preflight | post
    suite: str
    severity: str
    status: str  # pass | warn | fail | error
    at: str
    attempt: int | None
    table: str | None
    start: str | None
    end: str | None
    checks: list[CheckView]
    earlier: int = 0  # earlier results of the same gate in this run (retries, re-gates)
    error: str | None = None  # the gate could not run (warehouse unreachable, suite error)

    @property
    def problems(self) -> list[CheckView]:
        return [c for c in self.checks if c.status != CheckStatus.PASS]

    @property
    def failing(self) -> list[str]:
        """Every check that did not pass, as its one line; and why the gate could not run."""
        return [c.text() for c in self.problems] + ([f"ERROR {self.error}"] if self.error else [])


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
class ProgressView:
    """The last progress snapshot of a phase."""
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
class PhaseView:
    name: str
    status: str
    started_at: str | None
    ended_at: str | None
    duration_seconds: float | None  # start to end (or to now while it runs)
    total: int | None  # the dates the phase covers
    done: int | None
    ok: int | None
    failed: int | None
    skipped: int | None
    records: int | None
    rate: float | None  # days per minute (measured over the phase when the job reports none)
    eta: str | None
    retries: int
    pid: int | None
    exit_code: int | None
    exit_note: str  # "exit code 0", "exit code unknown (adopted process)", "not started"
    log_path: str | None
    message: str | None
    gates: list[GateView]
    progress: list[tuple[str, float]]  # (at, % done) snapshots, for the chart
    runbook: list[str] = field(default_factory=list)  # "docs/runbook.md#anchor" of failures seen in this phase
    attempt: int = 0
    tries: int = 0
    alive: bool = False  # its recorded process runs now (PID, create time and command line match)
    exit_known: bool | None = None
    dates_file: str | None = None
    dates_count: int | None = None  # dates of the current attempt
    last: ProgressView | None = None
    reason: str | None = None  # runmodel.Reason value when the state records one
    card: dict[str, Any] | None = None  # the phase's card (cards.py), as validated
    card_error: str | None = None  # why its card file is not shown (unreadable, not the schema)

    @property
    def succeeded_at(self) -> str | None:
        """When it last passed or warned in this run."""
        return self.ended_at if self.status in PHASE_SUCCEEDED else None


@dataclass
class EventView:
    at: str
    kind: str
    phase: str | None
    message: str


@dataclass
class RepairStepView:
    phase: str
    dates: int
    ranges: str  # "2024-12-02..2024-12-15 (14 dates)"
    why: str
    status: str  # pending | started | done


@dataclass
class RepairView:
    """One gate-driven repair round (repair.py): which checks, which dates, what re-ran, before -> after."""
    phase: str
    session: int
    round: int
    status: str  # planned | running | gated | passed | warned | not_passed | not_converged | exhausted | source_gap | failed | abandoned
    started_at: str
    ended_at: str | None
    before: int  # failing dates when the round started
    before_ranges: str
    after: int | None  # failing dates after the re-runs (None: not gated yet)
    after_ranges: str
    checks: list[str]
    steps: list[RepairStepView]
    gaps: list[str]  # "nba_raw.team_box_scores: 73 dates (2024-11-02..2025-01-15 ...)"
    message: str | None


@dataclass
class RunView:
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
    phases: list[PhaseView]
    coverage: list[CoverageSeries]
    events: list[EventView]  # every journal event, oldest first
    next_command: str | None
    runbook: list[str]
    generated_at: str
    orchestrator_pid: int | None = None
    orchestrator_alive: bool = False
    reason: str | None = None
    repairs: list[RepairView] = field(default_factory=list)

    def shown_events(self, limit: int = REPORT_EVENTS) -> list[EventView]:
        """The newest `limit` events of the kinds a report lists (SHOWN), oldest first."""
        shown = [e for e in self.events if e.kind in SHOWN]
        return shown[-limit:] if limit else []


# --- formatting shared by every renderer ---------------------------------------------------------------------
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


# --- the figures, each computed once ---------------------------------------------------------------------------
def duration_seconds(started_at: str | None, ended_at: str | None, now: dt.datetime) -> float | None:
    started, ended = parse_iso(started_at), parse_iso(ended_at)
    return ((ended or now) - started).total_seconds() if started else None


def total_dates(p: PhaseRecord, last_total: int | None) -> int | None:
    """What the job says it covers, else the dates the attempt was given, else the phase's dates."""
    return last_total or p.dates_count or p.total_dates


def latest_gates(records: Iterable[GateRecord]) -> list[list[GateRecord]]:
    """Results grouped per gate (kind, suite), oldest first within a group: the last one is the latest."""
    by_gate: dict[tuple[str, str], list[GateRecord]] = {}
    for g in records:
        by_gate.setdefault((g.kind, g.suite), []).append(g)
    return list(by_gate.values())


def _threshold_pct(threshold: str) -> float | None:
    m = re.search(r"(-?\d+(?:\.\d+)?)\s*%", threshold or "")
    return float(m.group(1)) if m else None


def _date(v: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(v)[:10]) if v else None
    except ValueError:
        return None


_DATE_RANGE = re.compile(r"(\d{4}-\d{2}-\d{2})(?:\.\.(\d{4}-\d{2}-\d{2}))?")


def parse_ranges(text: str) -> list[dt.date]:
    """Dates named in evidence like `2024-11-02..2024-11-27 (26 dates), 2024-12-25` (format_ranges' output)."""
    out: list[dt.date] = []
    for a, b in _DATE_RANGE.findall(text):
        d0 = dt.date.fromisoformat(a)
        d1 = dt.date.fromisoformat(b) if b else d0
        out.extend(d0 + dt.timedelta(days=i) for i in range((d1 - d0).days + 1))
    return out


def missing_dates(result: dict[str, Any]) -> list[dt.date]:
    """Dates a failing completeness check found without rows: its full `missing_dates` list (the evidence text
    shortens long lists); results stored before that field existed fall back to the evidence's ranges."""
    out: set[dt.date] = set()
    for c in result.get("checks", []):
        if c.get("type") == "completeness" and c.get("status") in (CheckStatus.FAIL, CheckStatus.WARN):
            if c.get("missing_dates"):
                out.update(d for d in (_date(x) for x in c["missing_dates"]) if d)
            else:
                evidence = str(c.get("evidence") or "")
                out.update(parse_ranges(evidence.split("): ", 1)[-1]))
    return sorted(out)


# --- building -------------------------------------------------------------------------------------------------
class _Redact:
    def __init__(self, secrets: Iterable[str]):
        self.secrets = [s for s in secrets if s]

    def __call__(self, text: str | None) -> str | None:
        return None if text is None else redact_text(text, self.secrets)


def run_secrets(run: RunRecord) -> list[str]:
    """The literal secrets of the run's config (notification URLs, credential-like phase env values), read from
    its YAML as far as it can still be read; [] when it cannot (URLs in text are masked anyway). Only those keys
    are read, not the whole config: a status must not depend on the calendar or suites still being where they were.
    """
    path = Path(run.config_path)
    cwd = run.options.get("cwd")
    if not path.is_absolute() and cwd:  # relative to where the run was started, as `backfill resume` reads it
        path = Path(cwd) / path
    try:
        top = load_yaml(path).mapping()
        notifications = top["notifications"].items() if "notifications" in top else []
        phases = top["phases"].items() if "phases" in top else []
    except BackfillError:  # gone, unreadable or not a mapping: nothing more to learn from it
        return []
    urls = [_value(n.mapping().get("url")) if n.is_map() else None for n in notifications]
    envs = []
    for p in phases:
        env = p.mapping().get("env") if p.is_map() else None
        if env is not None and env.is_map():
            envs.append({k: v for k, v in ((k, _value(v)) for k, v in env.mapping().items()) if v})
    return secret_values([u for u in urls if u], envs)


def _value(node: Node | None) -> str | None:
    try:
        return node.str() if node is not None else None
    except BackfillError:  # a ${VAR} unset here, or not a scalar
        return None


def _gate_view(records: list[GateRecord], red: _Redact) -> GateView:
    g = records[-1]
    r = g.result or {}
    checks = [CheckView(name=str(c.get("name")), status=str(c.get("status")), severity=str(c.get("severity")),
                        observed=c.get("observed"), threshold=str(c.get("threshold") or ""),
                        evidence=red(str(c.get("evidence") or "")) or "", column=c.get("column"))
              for c in r.get("checks", []) or []]
    error = red(str(r["error"])) if "error" in r else None
    return GateView(kind=g.kind, suite=g.suite, severity=g.severity, status=g.status, at=g.at, attempt=g.attempt,
                    table=r.get("table"), start=r.get("start"), end=r.get("end"), checks=checks,
                    earlier=len(records) - 1, error=error)


def _series(phase: str, g: GateRecord) -> list[CoverageSeries]:
    r = g.result or {}
    start, end = _date(r.get("start")), _date(r.get("end"))
    missing = missing_dates(r)
    out = []
    parsed: dict[Any, dt.date | None] = {}  # every column of a gate has the same ~10^3 dates: each parsed once
    for column, pts in (r.get("series") or {}).items():
        days = [parsed[p[0]] if p[0] in parsed else parsed.setdefault(p[0], _date(p[0])) for p in pts]
        points = [(d, None if p[1] is None else float(p[1])) for d, p in zip(days, pts) if d]
        if not points:
            continue
        # the coverage check on this column gives the line the chart compares against
        check = next((c for c in r.get("checks", []) if c.get("column") == column and c.get("type") == "coverage"),
                     {})
        thr = _threshold_pct(str(check.get("threshold"))) if check else None
        out.append(CoverageSeries(phase, g.suite, column, start or points[0][0], end or points[-1][0], thr, points,
                                  g.kind, missing, check.get("severity") or "critical"))
    return out


def _anchor(key: str) -> str:
    return f"{RUNBOOK}#{ANCHORS.get(key, key)}"


def _phase_view(st: Any, p: PhaseRecord, now: dt.datetime, events: list[dict[str, Any]], red: _Redact,
                gates: list[list[GateRecord]]) -> PhaseView:
    hist = st.progress_history(p.name)
    last = hist[-1] if hist else None
    duration = duration_seconds(p.started_at, p.ended_at, now)
    total = total_dates(p, last.total if last else None)
    retry_events = sum(1 for e in events if e.get("kind") == EventKind.RETRYING)
    if p.exit_known is False:
        exit_note = "exit code unknown (adopted process)"
    elif p.exit_code is not None:
        exit_note = f"exit code {p.exit_code}"
    else:
        exit_note = "not started" if p.status == PhaseStatus.PENDING else (
            "running" if p.pid and not p.ended_at else "—")
    rate = last.rate if last else None
    if rate is None and last and last.done and duration:
        rate = last.done / (duration / 60.0)
    anchors: list[str] = []
    for e in events:
        if e.get("runbook") and _anchor(e["runbook"]) not in anchors:
            anchors.append(_anchor(e["runbook"]))
    last_view = ProgressView(last.done, last.total, last.ok, last.failed, last.skipped, last.records, last.rate,
                             last.eta, last.at, red(last.line)) if last else None
    return PhaseView(
        name=p.name, status=p.status, started_at=p.started_at, ended_at=p.ended_at, duration_seconds=duration,
        total=total, done=last.done if last else None, ok=last.ok if last else None,
        failed=last.failed if last else None, skipped=last.skipped if last else None,
        records=last.records if last else None, rate=rate, eta=last.eta if last else None,
        retries=max(p.attempt - 1, retry_events, 0), pid=p.pid, exit_code=p.exit_code, exit_note=exit_note,
        log_path=p.log_path, message=red(p.message), gates=[_gate_view(v, red) for v in gates],
        progress=[(h.at, 100.0 * h.done / h.total) for h in hist if h.done is not None and h.total],
        runbook=anchors, attempt=p.attempt, tries=p.tries,
        alive=p.status in PHASE_PROCESS_STATES and phase_process(p) is not None, exit_known=p.exit_known,
        dates_file=p.dates_file, dates_count=p.dates_count, last=last_view, reason=_reason(p))


def _with_card(view: PhaseView, run_dir: str | Path, red: _Redact) -> PhaseView:
    card, error = read_card(card_path(run_dir, view.name))
    view.card, view.card_error = _redact_card(card, red), red(error)
    return view


def _redact_card(v: Any, red: _Redact) -> Any:
    # a job writes its card's text as it likes: it gets the same masking as every other free text
    if isinstance(v, str):
        return red(v)
    if isinstance(v, list):
        return [_redact_card(x, red) for x in v]
    if isinstance(v, dict):
        return {k: _redact_card(x, red) for k, x in v.items()}
    return v


def _reason(rec: Any) -> str | None:
    # state schema v2 stores a structured reason beside the message; v1 records have none
    value = getattr(rec, "reason", None)
    return str(value) if value else None


def build_view(run_dir: str | Path, now: dt.datetime | None = None,
               secrets: Iterable[str] | None = None) -> RunView:
    """Everything status, reports and metrics show, from the run's state.sqlite (StateError when unreadable).
    `secrets`: literal strings to mask besides URLs; default: those of the run's config (run_secrets)."""
    now = now or utcnow()
    with open_state(run_dir) as st:
        run = st.run()
        red = _Redact(run_secrets(run) if secrets is None else secrets)
        records = st.events()
        bodies = [e.body | {"kind": e.kind, "at": e.at, "phase": e.phase, "message": e.message} for e in records]
        phase_records = st.phases()
        gates = {p.name: latest_gates(st.gate_results(p.name)) for p in phase_records}
        phases = []
        coverage: list[CoverageSeries] = []
        for p in phase_records:
            phases.append(_with_card(_phase_view(st, p, now, [b for b in bodies if b.get("phase") == p.name], red,
                                                 gates.get(p.name, [])), run_dir, red))
            for group in gates.get(p.name, []):
                coverage.extend(_series(p.name, group[-1]))
        alive = orchestrator_alive(run)
        repairs = [_repair_view(r, red) for r in st.repairs()]
    next_cmd = next((b.get("next_command") for b in reversed(bodies) if b.get("next_command")), None)
    anchors: list[str] = []
    for p in phases:
        anchors.extend(a for a in p.runbook if a not in anchors)
    for b in bodies:
        if b.get("runbook") and not b.get("phase") and _anchor(b["runbook"]) not in anchors:
            anchors.append(_anchor(b["runbook"]))
    return RunView(
        run_id=run.id, pipeline=run.pipeline, config_path=red(run.config_path) or "",
        warehouse=red(run.warehouse) or "",  # a BigQuery endpoint may carry credentials
        status=run.status, started_at=run.started_at, ended_at=run.ended_at,
        duration_seconds=duration_seconds(run.started_at, run.ended_at, now), exit_code=run.exit_code,
        message=red(run.message), run_dir=str(Path(run_dir)), phases=phases, coverage=coverage,
        events=[EventView(b["at"], b["kind"], b.get("phase"), red(b["message"]) or "") for b in bodies],
        next_command=red(next_cmd), runbook=anchors, generated_at=iso_utc(now), orchestrator_pid=run.pid,
        orchestrator_alive=alive, reason=_reason(run), repairs=repairs)


def _repair_view(r: RepairRecord, red: _Redact) -> RepairView:
    def ranges(values: list[str] | None) -> str:
        return format_ranges([dt.date.fromisoformat(v) for v in values or []], limit=4)

    return RepairView(r.phase, r.session, r.round, r.status, r.started_at, r.ended_at, len(r.before),
                      ranges(r.before), None if r.after is None else len(r.after), ranges(r.after),
                      [red(c) or "" for c in r.checks],
                      [RepairStepView(s.phase, len(s.dates), ranges(s.dates), s.why, s.status) for s in r.steps],
                      [f"{t}: {len(ds)} dates ({ranges(ds)})" for t, ds in r.gaps.items()], red(r.message))
