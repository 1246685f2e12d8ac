"""state.py, lock.py and decisions.py on their own (no subprocesses)."""
from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest

from backfill_orchestrator.decisions import backoff_seconds, judge_attempt, retry_dates, stall_threshold
from backfill_orchestrator.events import Event
from backfill_orchestrator.lock import LockHeld, acquire
from backfill_orchestrator.process import ExitInfo
from backfill_orchestrator.progress_formats import Progress
from backfill_orchestrator.state import RunState, StateError, latest_run, list_runs, open_state, resolve_run_dir

D = [dt.date(2024, 10, 22) + dt.timedelta(days=i) for i in range(6)]


def test_state_round_trip_and_read_api(tmp_path: Path) -> None:
    run_dir = tmp_path / "logs" / "runs" / "r1"
    st = RunState.create(run_dir, "r1", "p", "/cfg.yaml", "duckdb:/x", ["a", "b"])
    st.update_phase("a", status="running", pid=42, create_time=1.5, cmdline=["python", "job.py"], is_child=1)
    st.add_event(Event("phase_started", "r1", "started", phase="a", gate=["x"]))
    st.add_progress("a", 1, done=3, total=6, ok=3, failed=0, skipped=0, records=30, rate=1.0, eta=None, line="l")
    st.close()
    with open_state(run_dir) as st:
        a = st.phase("a")
        assert (a.status, a.pid, a.cmdline, a.is_child) == ("running", 42, ["python", "job.py"], True)
        assert st.phase("b").status == "pending"
        assert st.events()[0].body["gate"] == ["x"]
        assert st.progress_history("a")[0].done == 3
    assert [r.id for r in list_runs(tmp_path / "logs")] == ["r1"]
    assert latest_run(tmp_path / "logs") == run_dir
    assert resolve_run_dir(tmp_path / "logs", "r1") == run_dir.resolve()
    assert resolve_run_dir(tmp_path / "logs", "latest") == resolve_run_dir(tmp_path / "logs", None) == latest_run(
        tmp_path / "logs")


def test_corrupt_state_is_one_line_with_runbook(tmp_path: Path) -> None:
    (tmp_path / "state.sqlite").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StateError) as e:
        open_state(tmp_path)
    msg = str(e.value)
    assert "state.sqlite" in msg and "docs/runbook.md#state-unreadable" in msg and "\n" not in msg


def test_lock_excludes_then_is_released(tmp_path: Path) -> None:
    first = acquire(tmp_path, "p", "duckdb:/w", "run-1")
    with pytest.raises(LockHeld) as e:
        acquire(tmp_path, "p", "duckdb:/w", "run-2")
    assert "run-1" in str(e.value) and "PID" in str(e.value)
    other = acquire(tmp_path, "p", "duckdb:/other", "run-3")  # another warehouse: another lock
    first.release()
    again = acquire(tmp_path, "p", "duckdb:/w", "run-2")
    assert again.stale_holder is None
    again.release()
    other.release()


def test_retry_dates_are_only_what_did_not_succeed() -> None:
    crashed = Progress(done=2, ok=2, completed=False)
    status = {D[0]: "ok", D[1]: "skipped", D[2]: "failed"}
    assert retry_dates(D, crashed, status) == D[2:]
    done = Progress(done=6, ok=5, failed=1, failed_dates=[D[4]], completed=True, complete_status="failed")
    assert retry_dates(D, done, None) == [D[4]]
    out = judge_attempt(D, done, ExitInfo(True, 1, None, 0.0), {d: "ok" for d in D if d != D[4]} | {D[4]: "failed"})
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
