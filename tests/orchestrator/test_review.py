"""Review findings: each test reproduces a bug found in the orchestrator (real processes, state read back)."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from orch_harness import Harness, alive, job, running, wait_for


def _sql(run_dir: Path, *statements: tuple[str, tuple]) -> None:
    """Put a run's state where a crash at a given moment would have left it."""
    con = sqlite3.connect(str(run_dir / "state.sqlite"))
    with con:
        for sql, args in statements:
            con.execute(sql, args)
    con.close()


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_unreachable_warehouse_fails_the_gate_cleanly(h: Harness) -> None:
    # another process holds DuckDB's write lock on the warehouse: opening it for the gate raises duckdb's error
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
                               "print('ready', flush=True); sys.stdin.read()", str(h.root / "wh.duckdb")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        cfg = h.config([{"name": "a", "command": job("jobkit_fake.py"), "post": "items"},
                        {"name": "b", "depends_on": ["a"], "command": job("jobkit_fake.py")}])
        r = h.cli("run", str(cfg))
    finally:
        holder.stdin.close()
        holder.wait(10)
    assert r.code == 1, r.err + r.out
    assert "Traceback" not in r.err, r.err
    assert "warehouse-unreachable" in r.out
    run = h.run_record()
    assert run.status == "failed" and run.exit_code == 1
    assert h.phase("a").status == "failed" and "warehouse-unreachable" in h.phase("a").message
    assert h.phase("b").status == "skipped"
    from backfill_orchestrator.state import open_state
    with open_state(h.run_dir()) as st:
        assert [(g.phase, g.status) for g in st.gate_results()] == [("a", "error")]


def test_a_command_that_cannot_start_fails_the_phase_and_ends_the_run(h: Harness) -> None:
    cfg = h.config([{"name": "a", "command": [str(h.root / "no-such-program"), "{dates_file}"]},
                    {"name": "b", "depends_on": ["a"], "command": job("jobkit_fake.py")}])
    r = h.cli("run", str(cfg))
    assert r.code == 1, r.err + r.out
    assert "Traceback" not in r.err
    run = h.run_record()
    assert run.status == "failed", run
    a = h.phase("a")
    assert a.status == "failed" and "cannot start" in a.message and a.pid is None
    assert h.phase("b").status == "skipped"


def test_stop_of_a_finished_run_keeps_its_outcome(h: Harness) -> None:
    cfg = h.config([{"name": "a", "command": job("jobkit_fake.py"), "post": "items"}])
    assert h.cli("run", str(cfg)).code == 0
    r = h.cli("stop")
    assert r.code == 0, r.err
    run = h.run_record()
    assert (run.status, run.exit_code) == ("passed", 0)
    assert h.phase("a").status == "passed"
    assert "already" in r.out


def test_restart_refuses_while_a_dependent_phase_still_runs(h: Harness, tmp_path: Path) -> None:
    counter = tmp_path / "b-launches"
    cfg = h.config([{"name": "a", "command": job("jobkit_fake.py")},
                    {"name": "b", "depends_on": ["a"],
                     "command": job("counted_job.py", "--counter", str(counter), "--sleep", "1.0")}])
    orch = h.start("run", str(cfg))
    b = running(h, "b")
    orch.send_signal(signal.SIGTERM)
    assert orch.wait(10) == 1
    assert alive(b.pid)  # left running, as designed
    r = h.cli("restart", "a")
    assert r.code == 2, r.err + r.out
    assert f"PID {b.pid}" in r.err and "b" in r.err
    assert h.phase("b").pid == b.pid and h.phase("b").status == "running"  # nothing half-written
    assert h.phase("a").status == "passed"
    os.killpg(b.pid, signal.SIGKILL)


def test_restart_refused_by_the_lock_changes_nothing(h: Harness) -> None:
    cfg = h.config([{"name": "a", "command": job("jobkit_fake.py")}])
    assert h.cli("run", str(cfg)).code == 0
    first = h.run_dir()
    slow = h.config([{"name": "a", "command": job("jobkit_fake.py", "--sleep", "0.5"),
                      "dates": {"start": "2024-01-01", "end": "2024-12-31"}}])
    orch = h.start("run", str(slow))
    wait_for(lambda: h.run_dir() != first and h.phase("a").pid, what="second run")
    try:
        r = h.cli("restart", "a", "--run", first.name)
        assert r.code == 2 and "lock-held" in r.err, r.err + r.out
        run = h.run_record(first)
        assert (run.status, run.exit_code) == ("passed", 0)
        a = h.phase("a", first)
        assert (a.status, a.restart_from, a.message) == ("passed", None, "gate passed")
    finally:
        assert h.cli("stop", "--grace", "2").code == 0
        orch.wait(20)


def test_resume_honours_on_warn_stop_of_a_phase_that_already_warned(h: Harness, tmp_path: Path) -> None:
    counter = tmp_path / "b-launches"
    cfg = h.config([{"name": "a", "command": job("jobkit_fake.py"), "post": "items_warn", "on_warn": "stop"},
                    {"name": "b", "depends_on": [], "command": job("counted_job.py", "--counter", str(counter))}])
    assert h.cli("run", str(cfg)).code == 1
    run_dir = h.run_dir()
    assert h.phase("b", run_dir).status == "skipped"
    # the orchestrator was killed right after writing `a warned`, before it skipped b
    _sql(run_dir, ("UPDATE phases SET status='pending', message=NULL WHERE name='b'", ()),
         ("UPDATE run SET status='running', ended_at=NULL, exit_code=NULL, pid=?", (_dead_pid(),)))
    r = h.cli("resume", run_dir.name)
    assert r.code == 1, r.err + r.out
    assert not counter.exists()  # b never started
    assert h.phase("b", run_dir).status == "skipped"


def test_resume_does_not_relaunch_an_attempt_whose_pid_was_not_recorded_but_ran(h: Harness, tmp_path: Path) -> None:
    counter = tmp_path / "launches"
    cfg = h.config([{"name": "a", "command": job("counted_job.py", "--counter", str(counter)), "post": "items"}])
    assert h.cli("run", str(cfg)).code == 0
    run_dir = h.run_dir()
    # killed between starting the process and recording its PID; the process then ran to its end unwatched
    _sql(run_dir, ("UPDATE phases SET status='running', pid=NULL, create_time=NULL, ended_at=NULL, exit_code=NULL, "
                   "exit_known=NULL WHERE name='a'", ()),
         ("UPDATE run SET status='running', ended_at=NULL, exit_code=NULL, pid=?", (_dead_pid(),)))
    r = h.cli("resume", run_dir.name)
    assert r.code == 0, r.err + r.out
    assert len(counter.read_text().split()) == 1  # judged by its log, not started a second time
    assert h.phase("a", run_dir).status == "passed"


def test_a_running_orchestrator_honours_stop_grace(h: Harness) -> None:
    cfg = h.config([{"name": "a", "command": job("jobkit_fake.py", "--sleep", "0.2", "--ignore-term"),
                     "dates": {"start": "2024-01-01", "end": "2024-12-31"}}])
    orch = h.start("run", str(cfg))
    a = running(h, "a")
    t0 = time.monotonic()
    r = h.cli("stop", "--grace", "0.5")
    assert r.code == 0, r.err
    wait_for(lambda: not alive(a.pid), timeout=30, what="phase killed")
    assert time.monotonic() - t0 < 6.0  # TERM ignored: KILL after --grace 0.5, not the orchestrator's own 10 s
    assert orch.wait(10) == 1
    assert h.phase("a").status == "stopped"


def test_resume_with_a_config_that_no_longer_matches_is_refused_cleanly(h: Harness) -> None:
    cfg = h.config([{"name": "a", "command": job("jobkit_fake.py")}])
    assert h.cli("run", str(cfg)).code == 0
    run_dir = h.run_dir()
    h.config([{"name": "a", "command": job("jobkit_fake.py")}, {"name": "c", "command": job("jobkit_fake.py")}])
    r = h.cli("resume", run_dir.name)
    assert r.code == 2, r.err + r.out
    assert "Traceback" not in r.err and "c" in r.err
    run = h.run_record(run_dir)
    assert (run.status, run.exit_code) == ("passed", 0)


def test_kill9_while_retrying_then_resume_retries_only_the_failed_dates_once(h: Harness, tmp_path: Path) -> None:
    from backfill_orchestrator.dates import read_date_file
    marker = tmp_path / "failed-once"
    cfg = h.config([{"name": "a", "retries": 2, "retry_backoff": "4s", "post": "items",
                     "command": job("jobkit_fake.py", "--fail", "2024-10-24", "--fail-once", str(marker))}])
    orch = h.start("run", str(cfg))
    wait_for(lambda: h.phase("a").status == "retrying", what="phase a retrying")
    os.kill(orch.pid, signal.SIGKILL)
    orch.wait(5)
    r = h.cli("resume")
    assert r.code == 0, r.err + r.out
    a = h.phase("a")
    assert (a.status, a.attempt, a.tries) == ("passed", 2, 2)
    assert [d.isoformat() for d in read_date_file(a.dates_file)] == ["2024-10-24"]
    assert h.log_lines(a.log_path, "[jobkit] START") == 2


def test_resume_of_a_phase_left_validating_only_runs_its_gate(h: Harness, tmp_path: Path) -> None:
    counter = tmp_path / "launches"
    cfg = h.config([{"name": "a", "command": job("counted_job.py", "--counter", str(counter)), "post": "items"},
                    {"name": "b", "depends_on": ["a"], "command": job("jobkit_fake.py")}])
    assert h.cli("run", str(cfg)).code == 0
    run_dir = h.run_dir()
    _sql(run_dir, ("UPDATE phases SET status='validating', ended_at=NULL WHERE name='a'", ()),
         ("UPDATE phases SET status='pending' WHERE name='b'", ()),
         ("UPDATE run SET status='running', ended_at=NULL, exit_code=NULL, pid=?", (_dead_pid(),)))
    r = h.cli("resume", run_dir.name)
    assert r.code == 0, r.err + r.out
    assert len(counter.read_text().split()) == 1
    assert h.phase("a", run_dir).status == "passed"
    from backfill_orchestrator.state import open_state
    with open_state(run_dir) as st:
        assert [g.kind for g in st.gate_results("a")] == ["post", "post"]


def test_the_lock_excludes_under_contention(tmp_path: Path) -> None:
    # release() unlinks the file: a contender that opened the old file just before must not hold a lock on it
    script = Path(__file__).parent / "jobs" / "lock_stress.py"
    procs = [subprocess.Popen([sys.executable, str(script), str(tmp_path / "logs"), str(tmp_path / "inside"), "3000"],
                              stdout=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert sum(int(o.split("held ")[1]) for o in outs) > 0
    assert not any("OVERLAP" in o for o in outs), outs
