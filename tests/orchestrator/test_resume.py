"""`backfill resume` after the orchestrator died at each awkward moment: while retrying (kill -9), between
launching a process and recording its PID, after a phase warned with `on_warn: stop`, while validating, and
with a config that no longer matches. The state is put where such a crash would have left it, then resumed."""
from __future__ import annotations

import os
import signal
from pathlib import Path

from backfill_orchestrator.dates import read_date_file
from backfill_orchestrator.state import open_state

from orch_harness import Harness, dead_pid, job, set_state, wait_for


def test_resume_honours_on_warn_stop_of_a_phase_that_already_warned(h: Harness, tmp_path: Path) -> None:
    counter = tmp_path / "b-launches"
    cfg = h.config([{"name": "a", "command": job("jobkit_fake.py"), "post": "items_warn", "on_warn": "stop"},
                    {"name": "b", "depends_on": [], "command": job("counted_job.py", "--counter", str(counter))}])
    assert h.cli("run", str(cfg)).code == 1
    run_dir = h.run_dir()
    assert h.phase("b", run_dir).status == "skipped"
    # the orchestrator was killed right after writing `a warned`, before it skipped b
    set_state(run_dir, ("UPDATE phases SET status='pending', message=NULL WHERE name='b'", ()),
         ("UPDATE run SET status='running', ended_at=NULL, exit_code=NULL, pid=?", (dead_pid(),)))
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
    set_state(run_dir, ("UPDATE phases SET status='running', pid=NULL, create_time=NULL, ended_at=NULL, exit_code=NULL, "
                   "exit_known=NULL WHERE name='a'", ()),
         ("UPDATE run SET status='running', ended_at=NULL, exit_code=NULL, pid=?", (dead_pid(),)))
    r = h.cli("resume", run_dir.name)
    assert r.code == 0, r.err + r.out
    assert len(counter.read_text().split()) == 1  # judged by its log, not started a second time
    assert h.phase("a", run_dir).status == "passed"


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
    set_state(run_dir, ("UPDATE phases SET status='validating', ended_at=NULL WHERE name='a'", ()),
         ("UPDATE phases SET status='pending' WHERE name='b'", ()),
         ("UPDATE run SET status='running', ended_at=NULL, exit_code=NULL, pid=?", (dead_pid(),)))
    r = h.cli("resume", run_dir.name)
    assert r.code == 0, r.err + r.out
    assert len(counter.read_text().split()) == 1
    assert h.phase("a", run_dir).status == "passed"
    with open_state(run_dir) as st:
        assert [g.kind for g in st.gate_results("a")] == ["post", "post"]
