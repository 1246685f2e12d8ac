"""The orchestrator against real processes and signals: adopt, kill -9 + resume, lock, stop (and its grace),
restart (and when it is refused), SIGTERM, and what the library leaves behind in its caller's process."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from backfill_orchestrator.dates import read_date_file
from backfill_orchestrator.lock import lock_path
from backfill_orchestrator.state import open_state

from orch_harness import FAKES, Harness, alive, job, running, wait_for


def test_adopt_an_externally_started_process(h: Harness, tmp_path: Path) -> None:
    log = tmp_path / "by-hand.log"
    with open(log, "w") as out:  # the users' `nohup job > log &`
        # 10 dates x 0.5 s: still running when a loaded machine gets `backfill run` to check the PID
        ext = subprocess.Popen([sys.executable, str(FAKES / "jobkit_fake.py"), "--start", "2024-10-22", "--days", "10",
                                "--sleep", "0.5"], stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    cfg = h.config([{"name": "a", "command": job("jobkit_fake.py"), "post": "items"},
                    {"name": "b", "depends_on": ["a"], "command": job("jobkit_fake.py")}])
    r = h.cli("run", str(cfg), "--adopt", f"a={ext.pid}:{log}")
    ext.wait(5)
    assert r.code == 0, r.err + r.out
    run_dir = h.run_dir()
    a = h.phase("a", run_dir)
    assert (a.status, a.pid, a.exit_known, a.exit_code) == ("passed", ext.pid, False, None)
    assert "exit code unknown" in a.message
    assert a.create_time and a.cmdline[-1] == "0.5"
    assert not (run_dir / "a.log").exists()  # the orchestrator never launched phase a itself
    assert h.log_lines(log, "[jobkit] START") == 1
    assert h.phase("b", run_dir).status == "passed"
    assert h.events(run_dir, "adopted")


def test_kill9_then_resume_readopts_without_a_second_launch(h: Harness, tmp_path: Path) -> None:
    counter = tmp_path / "launches"
    cfg = h.config([{"name": "a", "command": job("counted_job.py", "--counter", str(counter), "--sleep", "0.25"),
                     "post": "items"},
                    {"name": "b", "depends_on": ["a"], "command": job("jobkit_fake.py")}])
    orch = h.start("run", str(cfg))
    a = running(h, "a", min_dates=2)
    os.kill(orch.pid, signal.SIGKILL)
    orch.wait(5)
    assert alive(a.pid)  # the phase outlives its orchestrator (own session)
    assert h.run_record().status == "running"  # nothing was recorded: it was kill -9
    r = h.cli("resume")
    assert r.code == 0, r.err + r.out
    assert counter.read_text().split() == [str(a.pid)]  # launched exactly once
    a2 = h.phase("a")
    assert (a2.status, a2.pid, a2.attempt, a2.exit_known) == ("passed", a.pid, 1, False)
    assert h.events(kind="readopted")
    assert h.phase("b").status == "passed"


def test_resume_judges_a_phase_that_ended_unwatched(h: Harness, tmp_path: Path) -> None:
    counter = tmp_path / "launches"
    cfg = h.config([{"name": "a", "command": job("counted_job.py", "--counter", str(counter), "--sleep", "0.1"),
                     "post": "items"}])
    orch = h.start("run", str(cfg))
    a = running(h, "a")
    os.kill(orch.pid, signal.SIGKILL)
    orch.wait(5)
    wait_for(lambda: not alive(a.pid), what="phase to end")
    r = h.cli("resume")
    assert r.code == 0, r.err + r.out
    assert len(counter.read_text().split()) == 1
    assert h.phase("a").status == "passed"
    assert h.events(kind="ended_unwatched")


def test_second_run_is_refused_then_stop(h: Harness, tmp_path: Path) -> None:
    cfg = h.config([{"name": "a", "command": job("jobkit_fake.py", "--sleep", "0.5", "--days", "100")}])
    orch = h.start("run", str(cfg))
    a = running(h, "a")
    run = h.run_record()
    r = h.cli("run", str(cfg))
    assert r.code == 2, r.err
    assert f"PID {orch.pid}" in r.err and run.id in r.err and "lock-held" in r.err
    assert r.out == ""  # refused before the plan is printed
    st = json.loads(h.cli("status", "--json").out)
    assert st["orchestrator_alive"] is True and st["phases"][0]["alive"] is True
    assert st["phases"][0]["pid"] == a.pid and st["phases"][0]["status"] == "running"

    def usage_recorded():
        with open_state(h.run_dir()) as s:
            return [p for p in s.progress_history("a") if p.rss]
    sample = wait_for(usage_recorded, what="a progress snapshot with the phase's CPU and RSS")[0]
    assert sample.rss > 1_000_000 and sample.cpu is not None
    r = h.cli("stop", "--grace", "5")
    assert r.code == 0, r.err
    assert orch.wait(10) == 1
    assert not alive(a.pid)
    assert h.phase("a").status == "stopped"
    assert h.run_record().status == "stopped"


def test_stale_lock_is_taken_over_with_a_warning(h: Harness, monkeypatch) -> None:
    cfg = h.config([{"name": "a", "command": job("jobkit_fake.py")}])
    monkeypatch.chdir(h.root)  # the config's relative paths (and so the lock's warehouse label) start here
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    from backfill_orchestrator.config import load_config
    c = load_config(cfg)
    path = lock_path(h.logs, c.pipeline, c.warehouse_label())
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"pid": dead.pid, "host": os.uname().nodename, "run_id": "old-run",
                                "since": "2026-01-01T00:00:00Z", "create_time": 1.0, "label": c.warehouse_label()}))
    r = h.cli("run", str(cfg))
    assert r.code == 0, r.err + r.out
    ev = h.events(kind="lock_taken_over")
    assert len(ev) == 1 and "old-run" in ev[0].message and f"PID {dead.pid}" in ev[0].message
    assert not path.exists()  # released at the end


def test_restart_from_reruns_those_dates_and_the_dependents_from_there(h: Harness) -> None:
    cfg = h.config([{"name": "a", "command": job("jobkit_fake.py"), "post": "items"},
                    {"name": "b", "depends_on": ["a"], "command": job("jobkit_fake.py"), "post": "items"}])
    assert h.cli("run", str(cfg)).code == 0
    run_dir = h.run_dir()
    r = h.cli("restart", "a", "--from", "2024-10-28", "--run", run_dir.name)
    assert r.code == 0, r.err + r.out
    a, b = h.phase("a", run_dir), h.phase("b", run_dir)
    # b read what a wrote: it is re-run from the same date, not only re-gated on its old rows
    assert (a.status, a.attempt, a.rerun, b.status, b.attempt, b.rerun) == ("passed", 2, 1, "passed", 2, 1)
    for rec in (a, b):
        assert [d.isoformat() for d in read_date_file(rec.dates_file)] == ["2024-10-28", "2024-10-29",
                                                                           "2024-10-30", "2024-10-31"]
    with open_state(run_dir) as st:
        assert [g.kind for g in st.gate_results("b")] == ["post", "post"]
        restarted = [e.message for e in st.events() if e.kind == "phase_restarted"]
    assert h.log_lines(b.log_path, "[jobkit] START") == 2
    assert restarted == ["phase a restarted from 2024-10-28; dependents re-run: b"]


def test_sigterm_records_and_leaves_the_phase_running(h: Harness, tmp_path: Path) -> None:
    counter = tmp_path / "launches"
    # 10 dates x 0.6 s: still working when its orchestrator has left, even on a loaded machine
    cfg = h.config([{"name": "a", "command": job("counted_job.py", "--counter", str(counter), "--sleep", "0.6")}])
    orch = h.start("run", str(cfg))
    a = running(h, "a")
    os.kill(orch.pid, signal.SIGHUP)  # ignored
    os.kill(orch.pid, signal.SIGTERM)
    assert orch.wait(5) == 1
    assert h.run_record().status == "interrupted"
    assert alive(a.pid)
    assert h.events(kind="phase_left_running")
    r = h.cli("resume")
    assert r.code == 0, r.err + r.out
    assert len(counter.read_text().split()) == 1


def test_stop_without_its_orchestrator_stops_the_phase_group(h: Harness, tmp_path: Path) -> None:
    cfg = h.config([{"name": "a", "command": job("jobkit_fake.py", "--sleep", "0.5", "--days", "100")}])
    orch = h.start("run", str(cfg))
    a = running(h, "a")
    os.kill(orch.pid, signal.SIGKILL)
    orch.wait(5)
    r = h.cli("stop", "--grace", "5")
    assert r.code == 0 and "a: SIGTERM" in r.out, r.err + r.out
    assert not alive(a.pid)
    assert (h.phase("a").status, h.run_record().status) == ("stopped", "stopped")


def test_the_library_gives_back_the_working_directory_and_signal_handlers(h: Harness, tmp_path: Path,
                                                                          monkeypatch) -> None:
    from backfill_orchestrator.config import load_config
    from backfill_orchestrator.orchestrator import Orchestrator, RunOptions

    cfg = h.config([{"name": "a", "command": job("jobkit_fake.py"), "post": "items"}])
    mine = {sig: (lambda signum, frame: None) for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)}
    pytest_own = {sig: signal.signal(sig, handler) for sig, handler in mine.items()}
    try:
        monkeypatch.chdir(h.root)  # the config's relative paths start here
        result = Orchestrator.new_run(load_config(cfg), RunOptions(echo=False)).run()
        assert (result.status, result.exit_code) == ("passed", 0)
        assert Path.cwd() == h.root
        assert {sig: signal.getsignal(sig) for sig in mine} == mine
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        monkeypatch.chdir(elsewhere)
        # a resumed run works where the run was started (its relative paths), then gives the cwd back
        result = Orchestrator.for_resume(result.run_dir, RunOptions(echo=False)).resume()
        assert (result.status, result.exit_code) == ("passed", 0)
        assert Path.cwd() == elsewhere
        assert {sig: signal.getsignal(sig) for sig in mine} == mine
        assert not (elsewhere / "logs").exists()
    finally:
        for sig, handler in pytest_own.items():
            signal.signal(sig, handler)


def test_stop_of_a_finished_run_keeps_its_outcome(h: Harness) -> None:
    cfg = h.config([{"name": "a", "command": job("jobkit_fake.py"), "post": "items"}])
    assert h.cli("run", str(cfg)).code == 0
    r = h.cli("stop")
    assert r.code == 0, r.err
    run = h.run_record()
    assert (run.status, run.exit_code) == ("passed", 0)
    assert h.phase("a").status == "passed"
    assert "already" in r.out


def test_a_running_orchestrator_honours_stop_grace(h: Harness) -> None:
    cfg = h.config([{"name": "a", "command": job("jobkit_fake.py", "--sleep", "0.2", "--ignore-term"),
                     "dates": {"start": "2024-01-01", "end": "2024-12-31"}}])
    orch = h.start("run", str(cfg))
    a = running(h, "a")
    r = h.cli("stop", "--grace", "0.5")
    assert r.code == 0, r.err
    wait_for(lambda: not alive(a.pid), timeout=30, what="phase killed")
    assert orch.wait(30) == 1
    assert h.phase("a").status == "stopped"
    # TERM ignored: KILL after the operator's --grace 0.5, not the orchestrator's own 10 s
    stopped = h.events(kind="phase_stopped")[0].body["data"]
    assert (stopped["grace"], stopped["signal"]) == (0.5, "SIGKILL")


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
