"""state.py and lock.py on their own (no subprocesses)."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from backfill_orchestrator.events import Event
from backfill_orchestrator.lock import LockHeld, acquire
from backfill_orchestrator.runmodel import EventKind, PhaseStatus, Reason
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


def test_a_programming_error_raises_as_itself_not_as_unreadable_state(tmp_path: Path) -> None:
    st = RunState.create(tmp_path / "r1", "r1", "p", "/cfg.yaml", "duckdb:/x", ["a"])
    with pytest.raises(sqlite3.OperationalError, match="no such column"):
        st.update_phase("a", stauts="running")  # the misspelling a caller could make
    assert not isinstance(sqlite3.OperationalError(), StateError)
    st.close()


def test_a_malformed_database_is_one_line_with_runbook(tmp_path: Path) -> None:
    st = RunState.create(tmp_path, "r1", "p", "/cfg.yaml", "duckdb:/x", ["a"])
    for i in range(200):
        st.add_event(Event(EventKind.HEARTBEAT, "r1", "x" * 200))
    st.close()
    path = tmp_path / "state.sqlite"
    data = bytearray(path.read_bytes())
    data[4096:len(data)] = b"\xff" * (len(data) - 4096)  # every page after the first: garbage
    path.write_bytes(bytes(data))
    with pytest.raises(StateError) as e:
        with open_state(tmp_path) as st:
            st.events()
    assert "state-unreadable" in str(e.value) and "\n" not in str(e.value)


# the v1 DDL as the first released version wrote it (before reasons; with log_offset and is_child)
V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE run (
    id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, config_path TEXT NOT NULL, warehouse TEXT NOT NULL,
    status TEXT NOT NULL, started_at TEXT NOT NULL, ended_at TEXT, exit_code INTEGER, message TEXT,
    pid INTEGER, create_time REAL, host TEXT, options TEXT NOT NULL DEFAULT '{}',
    stop_requested INTEGER NOT NULL DEFAULT 0);
CREATE TABLE phases (
    name TEXT PRIMARY KEY, position INTEGER NOT NULL, status TEXT NOT NULL, attempt INTEGER NOT NULL DEFAULT 0,
    tries INTEGER NOT NULL DEFAULT 0, pid INTEGER, create_time REAL, cmdline TEXT, is_child INTEGER,
    log_path TEXT, log_offset INTEGER, log_inode INTEGER, attempt_log_start INTEGER,
    dates_file TEXT, dates_count INTEGER, total_dates INTEGER, started_at TEXT, ended_at TEXT, exit_code INTEGER,
    exit_known INTEGER, message TEXT, retry_at TEXT, regate INTEGER NOT NULL DEFAULT 0, restart_from TEXT,
    updated_at TEXT);
CREATE TABLE progress (
    id INTEGER PRIMARY KEY AUTOINCREMENT, phase TEXT NOT NULL, at TEXT NOT NULL, attempt INTEGER,
    done INTEGER, total INTEGER, ok INTEGER, failed INTEGER, skipped INTEGER, records INTEGER,
    rate REAL, eta TEXT, cpu REAL, rss INTEGER, line TEXT);
CREATE TABLE gates (
    id INTEGER PRIMARY KEY AUTOINCREMENT, phase TEXT NOT NULL, kind TEXT NOT NULL, suite TEXT NOT NULL,
    severity TEXT NOT NULL, attempt INTEGER, status TEXT NOT NULL, at TEXT NOT NULL, result TEXT NOT NULL);
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, kind TEXT NOT NULL, phase TEXT, message TEXT NOT NULL,
    body TEXT NOT NULL);
INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO run (id, pipeline, config_path, warehouse, status, started_at, ended_at, exit_code, message, options)
    VALUES ('old-run', 'p', '/gone/pipeline.yaml', 'duckdb:/w', 'failed', '2026-01-03T10:00:00Z',
            '2026-01-03T11:00:00Z', 1, 'phase a: gate failed: FAIL items/v on demo.items', '{}');
INSERT INTO phases (name, position, status, attempt, tries, pid, is_child, log_offset, total_dates, started_at,
                    ended_at, exit_code, exit_known, message)
    VALUES ('a', 0, 'failed', 1, 1, 4242, 1, 9000, 10, '2026-01-03T10:00:00Z', '2026-01-03T10:50:00Z', 0, 1,
            'gate failed: FAIL items/v on demo.items'),
           ('b', 1, 'skipped', 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'not started: a failed');
INSERT INTO progress (phase, at, attempt, done, total, ok, failed, skipped, records, rate, line)
    VALUES ('a', '2026-01-03T10:50:00Z', 1, 10, 10, 10, 0, 0, 1234, 0.2, 'phase=a 10/10 days');
INSERT INTO gates (phase, kind, suite, severity, attempt, status, at, result)
    VALUES ('a', 'post', 'items', 'critical', 1, 'fail', '2026-01-03T10:55:00Z', '{"error": "FAIL items/v"}');
INSERT INTO events (at, kind, phase, message, body) VALUES
    ('2026-01-03T10:55:00Z', 'phase_failed', 'a', 'phase a: gate failed',
     '{"kind": "phase_failed", "runbook": "gate_failed", "gate": ["FAIL items/v"]}'),
    ('2026-01-03T10:55:01Z', 'phase_skipped', 'b', 'phase b skipped: not started: a failed',
     '{"kind": "phase_skipped"}');
"""


def test_a_v1_state_is_migrated_and_stays_readable_by_status_and_report(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from backfill_orchestrator.cli import cli

    run_dir = tmp_path / "logs" / "runs" / "old-run"
    run_dir.mkdir(parents=True)
    con = sqlite3.connect(run_dir / "state.sqlite")
    con.executescript(V1_SCHEMA)
    con.close()
    runner = CliRunner()
    r = runner.invoke(cli, ["status", str(run_dir), "--json"])
    assert r.exit_code == 0, r.output
    status = json.loads(r.output)
    assert [p["name"] for p in status["phases"]] == ["a", "b"]
    r = runner.invoke(cli, ["report", str(run_dir), "--format", "md"])
    assert r.exit_code == 0, r.output
    assert "gate failed" in r.output
    with open_state(run_dir) as st:
        assert st.schema_version() == 3
        a, b = st.phases()
        assert (a.status, a.reason, b.status, b.reason) == (PhaseStatus.FAILED, Reason.GATE_FAILED,
                                                            PhaseStatus.SKIPPED, Reason.NOT_STARTED)
        assert [e.reason for e in st.events()] == [Reason.GATE_FAILED, None]
        assert st.progress_history("a")[0].records == 1234
    con = sqlite3.connect(run_dir / "state.sqlite")
    columns = {r[1] for r in con.execute("PRAGMA table_info(phases)")}
    con.close()
    assert "reason" in columns and not {"is_child", "log_offset"} & columns


def test_the_lock_excludes_under_contention(tmp_path: Path) -> None:
    # release() unlinks the file: a contender that opened the old file just before must not hold a lock on it
    script = Path(__file__).parent / "jobs" / "lock_stress.py"
    procs = [subprocess.Popen([sys.executable, str(script), str(tmp_path / "logs"), str(tmp_path / "inside"), "3000"],
                              stdout=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert sum(int(o.split("held ")[1]) for o in outs) > 0
    assert not any("OVERLAP" in o for o in outs), outs
