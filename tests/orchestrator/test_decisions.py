"""decisions.py on its own: what follows an attempt (decide_transition), which errors a retry cannot change,
which dates a retry re-runs, backoff and the stall threshold. Pure functions: no process, no clock."""
from __future__ import annotations

import datetime as dt
import random

from backfill_orchestrator.decisions import (PERMANENT_ERRORS, AttemptResult, Step, backoff_seconds,
                                             decide_transition, error_class, judge_attempt, permanent_error,
                                             retry_dates, stall_threshold)
from backfill_orchestrator.process import ExitInfo
from backfill_orchestrator.progress_formats import Progress
from backfill_orchestrator.runmodel import Reason

D = [dt.date(2024, 10, 22) + dt.timedelta(days=i) for i in range(6)]
EXIT0 = ExitInfo(True, 0, None, 0.0)
EXIT1 = ExitInfo(True, 1, None, 0.0)


def _failed(errors: list[str], *, completed: bool = True) -> Progress:
    """A job kit attempt whose dates D[4], D[5] failed with `errors` (one per date)."""
    return Progress(done=6, ok=4, failed=2, failed_dates=D[4:], completed=completed,
                    complete_status="failed" if completed else None,
                    errors=[f"{d}: {e}" for d, e in zip(D[4:], errors)])


def _attempt(progress: Progress, exit: ExitInfo | None = EXIT1, stopped: Reason | None = None,
             leaving: str | None = None, last_line: str | None = None) -> AttemptResult:
    status = {d: "ok" for d in D[:4]} | {d: "failed" for d in progress.failed_dates}
    outcome = judge_attempt(D, progress, exit, status, "stalled: no progress" if stopped else None)
    return AttemptResult(1, outcome, progress, exit, stopped, leaving, last_line)


def test_a_good_attempt_goes_to_the_gate() -> None:
    ok = Progress(done=6, ok=6, completed=True, complete_status="ok")
    t = decide_transition(_attempt(ok, EXIT0), tries=1, retries=2, stop_phases_on_exit=False)
    assert (t.step, t.reason) == (Step.GATE, None)


def test_transient_errors_are_retried_then_fail_when_the_budget_is_spent() -> None:
    a = _attempt(_failed(["ConnectionError: reset", "TimeoutError: read timed out"]))
    t = decide_transition(a, tries=1, retries=2, stop_phases_on_exit=False)
    assert (t.step, t.reason) == (Step.RETRY, Reason.PHASE_CRASHED)
    t = decide_transition(a, tries=3, retries=2, stop_phases_on_exit=False)
    assert (t.step, t.reason) == (Step.FAIL, Reason.PHASE_CRASHED)
    assert "no retries left" in t.message and "2024-10-26..2024-10-27" in t.message


def test_every_date_failing_permanently_fails_at_once_naming_the_error() -> None:
    a = _attempt(_failed(["TableNotFound: nba_raw.games", "TableNotFound: nba_raw.games"]))
    t = decide_transition(a, tries=1, retries=2, stop_phases_on_exit=False)
    assert (t.step, t.reason) == (Step.FAIL, Reason.PERMANENT_ERROR)
    assert "TableNotFound: nba_raw.games" in t.message and "not retried" in t.message


def test_one_transient_error_among_permanent_ones_is_retried() -> None:
    a = _attempt(_failed(["ColumnNotFound: x", "ServiceUnavailable: 503 try again"]))
    assert decide_transition(a, tries=1, retries=1, stop_phases_on_exit=False).step is Step.RETRY


def test_a_crash_or_a_stall_is_retried_even_after_permanent_looking_errors() -> None:
    crashed = _failed(["TableNotFound: t", "TableNotFound: t"], completed=False)
    assert decide_transition(_attempt(crashed), tries=1, retries=1, stop_phases_on_exit=False).step is Step.RETRY
    stalled = _attempt(_failed(["TableNotFound: t", "TableNotFound: t"]), stopped=Reason.STALLED)
    t = decide_transition(stalled, tries=1, retries=1, stop_phases_on_exit=False)
    assert (t.step, t.reason) == (Step.RETRY, Reason.STALLED)
    t = decide_transition(stalled, tries=2, retries=1, stop_phases_on_exit=False)
    assert (t.step, t.reason) == (Step.FAIL, Reason.STALLED)


def test_a_command_that_refused_its_arguments_is_not_retried() -> None:
    nothing = Progress(done=0, completed=False)
    a = _attempt(nothing, ExitInfo(True, 2, None, 0.0), last_line="error: --warehouse: no such file")
    t = decide_transition(a, tries=1, retries=3, stop_phases_on_exit=False)
    assert (t.step, t.reason) == (Step.FAIL, Reason.COMMAND_REFUSED)
    assert "--warehouse: no such file" in t.message


def test_leaving_stops_the_process_only_when_asked() -> None:
    running = Progress(done=2, ok=2)
    stop = decide_transition(_attempt(running, None, leaving="stop"), 1, 2, stop_phases_on_exit=False)
    assert (stop.step, stop.reason) == (Step.STOP, Reason.STOPPED_BY_OPERATOR)
    leave = decide_transition(_attempt(running, None, leaving="interrupt"), 1, 2, stop_phases_on_exit=False)
    assert leave.step is Step.LEAVE
    told = decide_transition(_attempt(running, None, leaving="interrupt"), 1, 2, stop_phases_on_exit=True)
    assert (told.step, told.reason) == (Step.STOP, Reason.INTERRUPTED)


def test_error_classes_and_the_permanent_list() -> None:
    assert error_class("2024-10-24: TableNotFound: nba.x") == "TableNotFound"
    assert error_class("2024-10-24: google.api_core.exceptions.NotFound: 404 x") == "NotFound"
    assert error_class("... (more errors in the log)") is None
    assert {"TableNotFound", "ColumnNotFound", "UsageError"} <= PERMANENT_ERRORS
    assert "ConnectionError" not in PERMANENT_ERRORS and "TimeoutError" not in PERMANENT_ERRORS
    # more failed dates than errors the parser kept: not known to be all permanent
    truncated = Progress(done=30, failed=30, completed=True, errors=[f"{D[0]}: TableNotFound: t"] * 20
                         + ["... (more errors in the log)"])
    assert permanent_error(truncated) is None


def test_retry_dates_are_only_what_did_not_succeed() -> None:
    crashed = Progress(done=2, ok=2, completed=False)
    status = {D[0]: "ok", D[1]: "skipped", D[2]: "failed"}
    assert retry_dates(D, crashed, status) == D[2:]
    done = Progress(done=6, ok=5, failed=1, failed_dates=[D[4]], completed=True, complete_status="failed")
    assert retry_dates(D, done, None) == [D[4]]
    out = judge_attempt(D, done, EXIT1, {d: "ok" for d in D if d != D[4]} | {D[4]: "failed"})
    assert not out.ok and out.retry_dates == [D[4]] and "exit 1" in out.reason
    ok = judge_attempt(D, Progress(done=6, ok=6, completed=True, complete_status="ok"), ExitInfo(False, None, None, 0),
                       None)
    assert ok.ok and ok.exit_known is False


def test_backoff_and_stall_threshold() -> None:
    rng = random.Random(1)
    waits = [backoff_seconds(10, n, rng) for n in (1, 2, 3)]
    assert 5 <= waits[0] < 15 and 10 <= waits[1] < 30 and 20 <= waits[2] < 60
    assert stall_threshold(None, []) == 600
    assert stall_threshold(None, [100, 200, 300]) == 1000
    assert stall_threshold(5, [100]) == 5
