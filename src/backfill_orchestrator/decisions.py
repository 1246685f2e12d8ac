"""The orchestrator's decisions as plain functions (no I/O): was an attempt good, what happens after it (gate,
retry, fail, stop), which dates to retry, which errors are worth a retry, how long to back off, when a phase
counts as stalled, what a set of gate results means.

Kept apart from the loop that acts on them so that each rule is stated once and can be read in one place.
"""
from __future__ import annotations

import datetime as dt
import random
import re
import statistics
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Iterable, Sequence

from .dates import format_ranges
from .errors import EXIT_USAGE
from .process import ExitInfo
from .progress_formats import Progress
from .runmodel import Reason

STALL_FLOOR = 600.0  # seconds: the default stall threshold never goes below 10 minutes
STALL_FACTOR = 5.0  # ... and is otherwise 5x the median seconds per date


@dataclass(frozen=True)
class AttemptOutcome:
    ok: bool  # the attempt finished every date: go to the gate
    reason: str  # one line: why it is not ok ("exit 1", "3 failed dates", "no completion marker", ...)
    retry_dates: list[dt.date] = field(default_factory=list)  # only these are re-run by a retry
    exit_known: bool = True
    exit_code: int | None = None


def judge_attempt(dates: Sequence[dt.date], progress: Progress, exit: ExitInfo | None,
                  date_status: dict[dt.date, str] | None, stopped: str | None = None) -> AttemptOutcome:
    """An attempt is good when the process ended on its own, its log has the completion marker, no date failed,
    nothing fatal was printed, and (when known) it exited 0. Legacy jobs always exit 0, and the exit code of an
    adopted process is unknowable, so the log decides as much as the exit code does."""
    known = bool(exit and exit.known)
    code = exit.returncode if exit and exit.known else None
    reasons = []
    if stopped:
        reasons.append(stopped)
    if exit is not None and exit.known and (exit.returncode != 0 or exit.signal is not None):
        reasons.append(exit.describe())
    if progress.failed_dates or progress.failed:
        n = len(progress.failed_dates) or progress.failed
        reasons.append(f"{n} failed date{'s' if n != 1 else ''} in the log")
    if progress.fatal:
        reasons.append(f"fatal error in the log: {progress.fatal[:200]}")
    if not progress.completed:
        reasons.append("the log has no completion marker (incomplete)")
    elif progress.complete_status == "interrupted":
        reasons.append("the job reports it was interrupted")
    if not reasons:
        return AttemptOutcome(True, "ok", [], known, code)
    return AttemptOutcome(False, "; ".join(reasons), retry_dates(dates, progress, date_status), known, code)


# Errors a retry cannot change: the same argv against the same warehouse fails the same way. Names as the job kit
# prints them (`DATE ... failed error="ErrorClass: message"`). Anything else - connection resets, timeouts, quota,
# server errors, an error class not listed here - is retried: a needless retry costs minutes, a wrong "permanent"
# costs the night. docs/runbook.md#permanent-error repeats this list.
PERMANENT_ERRORS = frozenset({
    # an object that does not exist
    "TableNotFound", "ColumnNotFound", "CatalogException", "BinderException", "NotFound",
    # malformed SQL, arguments or configuration
    "ParserException", "BadRequest", "UsageError", "ConfigError",
    # the job's own code is wrong
    "NameError", "AttributeError", "TypeError", "ImportError", "ModuleNotFoundError", "SyntaxError",
})
_DATED_ERROR = re.compile(r"^\d{4}-\d\d-\d\d: (?:[\w.]+\.)?(\w+)(?::|$)")


def error_class(text: str) -> str | None:
    """`2024-10-24: TableNotFound: nba.x` (a per-date error as progress.Progress.errors holds it) -> `TableNotFound`;
    None for a line that does not name a date and an error class."""
    m = _DATED_ERROR.match(text)
    return m.group(1) if m else None


def permanent_error(progress: Progress) -> str | None:
    """The first error text when EVERY failed date of the attempt failed with a PERMANENT_ERRORS class; None
    otherwise (a transient or unknown error, a date without its error, more errors than the log parser keeps)."""
    failed = len(progress.failed_dates) or progress.failed
    dated = [e for e in progress.errors if error_class(e) is not None]
    if not failed or len(dated) < failed or len(progress.errors) != len(dated):
        return None
    if all(error_class(e) in PERMANENT_ERRORS for e in dated):
        return dated[0].split(": ", 1)[1]
    return None


def retry_dates(dates: Sequence[dt.date], progress: Progress,
                date_status: dict[dt.date, str] | None) -> list[dt.date]:
    """Only what did not succeed: the failed dates, plus - when the job did not finish - every date it never
    reported as ok or skipped. Without per-date lines (a custom format), all the attempt's dates."""
    wanted = set(dates)
    if date_status:
        good = {d for d, s in date_status.items() if s in ("ok", "skipped")}
        return sorted(wanted - good)
    failed = set(progress.failed_dates) & wanted
    if progress.completed and failed:
        return sorted(failed)
    return sorted(wanted)


class Step(str, Enum):
    GATE = "gate"  # the attempt did its dates: run the post gate
    RETRY = "retry"  # re-run the dates that did not succeed, after a backoff
    FAIL = "fail"  # no retry can help, or none is left
    STOP = "stop"  # the run is leaving and the phase's process is to be stopped (`backfill stop`, or asked to)
    LEAVE = "leave"  # the run is leaving; the process keeps running and `backfill resume` re-adopts it


@dataclass(frozen=True)
class AttemptResult:
    """What watching one attempt found (phase_runner._watch); `decide_transition` says what comes next."""
    attempt: int
    outcome: AttemptOutcome
    progress: Progress
    exit: ExitInfo | None
    stopped: Reason | None = None  # STALLED / TIMED_OUT: the orchestrator stopped the process
    leaving: str | None = None  # "stop" (`backfill stop`) or "interrupt" (a signal): the attempt did not end
    last_line: str | None = None  # the attempt's last log line (a job's one-line `error: ...`)


@dataclass(frozen=True)
class Transition:
    step: Step
    message: str = ""
    reason: Reason | None = None


def decide_transition(a: AttemptResult, tries: int, retries: int, stop_phases_on_exit: bool) -> Transition:
    """After an attempt: gate it, retry its unfinished dates, fail the phase, or leave (stopping the process or
    not). `tries`: attempts since the last (re)start, this one included; `retries`: the phase's budget."""
    if a.leaving == "stop":
        return Transition(Step.STOP, "stopped by `backfill stop`", Reason.STOPPED_BY_OPERATOR)
    if a.leaving is not None:
        return Transition(Step.STOP, "stopped: the orchestrator is leaving", Reason.INTERRUPTED) \
            if stop_phases_on_exit else Transition(Step.LEAVE)
    out = a.outcome
    if out.ok:
        return Transition(Step.GATE)
    if not out.retry_dates:
        return Transition(Step.GATE, out.reason)  # every date ok or skipped: the gate decides
    if a.exit is not None and a.exit.known and a.exit.returncode == EXIT_USAGE and a.progress.done == 0:
        # the job refused its arguments (bad --warehouse, dates file, ...): the same command fails the same way
        return Transition(Step.FAIL, f"attempt {a.attempt}: the command refused its arguments (exit 2, no date "
                          f"done): {a.last_line or 'see its log'}", Reason.COMMAND_REFUSED)
    failure = a.stopped or Reason.PHASE_CRASHED
    permanent = None if a.stopped or not _ended_by_itself(a) else permanent_error(a.progress)
    if permanent is not None:
        return Transition(Step.FAIL, f"attempt {a.attempt} failed with a permanent error, not retried: {permanent} "
                          f"(failed dates: {format_ranges(out.retry_dates, limit=5)})", Reason.PERMANENT_ERROR)
    if tries <= retries:
        return Transition(Step.RETRY, out.reason, failure)
    return Transition(Step.FAIL, f"attempt {a.attempt} failed ({out.reason}); no retries left; failed dates: "
                      f"{format_ranges(out.retry_dates, limit=5)}", failure)


def _ended_by_itself(a: AttemptResult) -> bool:
    """The job finished its list and said so: a crash or a signal leaves dates unexplained (retry those)."""
    return a.progress.completed and a.progress.complete_status != "interrupted" and not a.progress.fatal and \
        (a.exit is None or a.exit.signal is None)


def backoff_seconds(base: float, try_number: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter: base * 2^(n-1), times a random factor in [0.5, 1.5) so that several
    phases or runs that failed together do not retry in lock step."""
    r = (rng or random).random()
    return base * (2 ** max(0, try_number - 1)) * (0.5 + r)


def stall_threshold(configured: float | None, per_date_seconds: Iterable[float]) -> float:
    """`stall_after` when configured; else max(10 min, 5x the median seconds per date seen so far)."""
    if configured:
        return configured
    samples = list(per_date_seconds)
    median = statistics.median(samples) if samples else 0.0
    return max(STALL_FLOOR, STALL_FACTOR * median)


@dataclass(frozen=True)
class GateDecision:
    status: str  # pass | warn | fail
    lines: list[str]  # the checks that are not PASS: "suite/check: observed vs threshold — evidence"
    blocking: list[str]  # the subset that makes it fail
    # the dates the blocking checks name, as data (CheckResult.failing_dates): what a repair re-runs
    failing_dates: tuple[dt.date, ...] = ()
    undated: tuple[str, ...] = ()  # blocking lines that name no date (a statistic, an ERROR): no repair targets them


def check_line(suite: str, table: str, check: Any) -> str:
    status = str(getattr(check.status, "value", check.status)).upper()
    observed = _fmt(check.observed)
    text = f"{status} {suite}/{check.name} on {table}: observed {observed} vs {check.threshold}"
    return text + (f" — {check.evidence}" if check.evidence else "")


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1e6 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return "n/a" if v is None else str(v)


def decide_gates(results: Sequence[tuple[str, Any]]) -> GateDecision:
    """(gate severity, SuiteResult) pairs -> one decision. A `warning` gate never blocks: its FAIL is a WARN."""
    status, lines, blocking = "pass", [], []
    dates: set[dt.date] = set()
    undated: list[str] = []
    for severity, res in results:
        gs = str(getattr(res.gate_status, "value", res.gate_status))
        for c in res.checks:
            cs = str(getattr(c.status, "value", c.status))
            if cs == "pass":
                continue
            line = check_line(res.suite, res.table, c)
            lines.append(line)
            if severity == "critical" and c.blocking:
                blocking.append(line)
                found = getattr(c, "failing_dates", None) or []
                dates.update(found)
                if not found:
                    undated.append(line)
        if gs == "fail" and severity == "critical":
            status = "fail"
        elif gs != "pass" and status == "pass":
            status = "warn"
    return GateDecision(status, lines, blocking, tuple(sorted(dates)), tuple(undated))


def error_gate(suite: str, message: str, severity: str) -> GateDecision:
    """A gate that could not run at all (warehouse unreachable, unknown suite): fails when critical."""
    line = f"ERROR {suite}: {message}"
    critical = severity == "critical"
    return GateDecision("fail" if critical else "warn", [line], [line] if critical else [], (),
                        (line,) if critical else ())


def merge(decisions: Sequence[GateDecision]) -> GateDecision:
    order = {"pass": 0, "warn": 1, "fail": 2}
    status = max((d.status for d in decisions), key=order.__getitem__, default="pass")
    return GateDecision(status, [x for d in decisions for x in d.lines], [x for d in decisions for x in d.blocking],
                        tuple(sorted({x for d in decisions for x in d.failing_dates})),
                        tuple(x for d in decisions for x in d.undated))
