"""state.py and lock.py on their own (no subprocesses)."""
from __future__ import annotations

from pathlib import Path

import pytest

from backfill_orchestrator.events import Event
from backfill_orchestrator.lock import LockHeld, acquire
from backfill_orchestrator.state import RunState, StateError, latest_run, list_runs, open_state, resolve_run_dir


def test_state_round_trip_and_read_api(tmp_path: Path) -> None:
    run_dir = tmp_path / "logs" / "runs" / "r1"
    st = RunState.create(run_dir, "r1", "p", "/cfg.yaml", "duckdb:/x", ["a", "b"])
    st.update_phase("a", status="running", pid=42, create_time=1.5, cmdline=["python", "job.py"])
    st.add_event(Event("phase_started", "r1", "started", phase="a", gate=["x"]))
    st.add_progress("a", 1, done=3, total=6, ok=3, failed=0, skipped=0, records=30, rate=1.0, eta=None, line="l")
    st.close()
    with open_state(run_dir) as st:
        a = st.phase("a")
        assert (a.status, a.pid, a.cmdline) == ("running", 42, ["python", "job.py"])
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
