"""Phases that misbehave as processes, against the real orchestrator: a job that forks its worker and exits, a
phase that is a zombie. (Already covered elsewhere, not repeated here: a phase ignoring SIGTERM is KILLed after
the grace, tests/test_process.py::test_stop_escalates_to_sigkill_for_a_group_that_ignores_sigterm and
tests/orchestrator/test_processes.py::test_a_running_orchestrator_honours_stop_grace; the orchestrator's own
SIGHUP (ignored) and SIGTERM (recorded, phase left running, resume re-adopts it):
tests/orchestrator/test_processes.py::test_sigterm_records_and_leaves_the_phase_running; adopting a zombie PID is
refused: tests/test_process.py::test_adopt_refuses_missing_zombie_reused_and_other_commands.)"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil

from backfill_orchestrator import process
from orch_harness import FAKES, Harness, alive, wait_for

from conftest import JOBS


def _forking(gate: Path, counter: Path, child_pid: Path) -> list[str]:
    return ["{python}", str(JOBS / "forking_job.py"), "--dates-file", "{dates_file}", "--gate", str(gate),
            "--counter", str(counter), "--child-pid", str(child_pid)]


def _worker(h: Harness, child_pid: Path) -> int:
    """The forked worker's PID, once it has logged its first dates (the job's own process has exited by then)."""
    def ready():
        if not child_pid.exists():
            return None
        rec = h.phase("a")
        return int(child_pid.read_text()) if rec.log_path and h.log_lines(rec.log_path, "[jobkit] DATE") >= 2 \
            else None
    return int(wait_for(ready, what="the forked worker"))


def test_a_job_that_forks_its_worker_and_exits_is_running_until_the_worker_ends(h: Harness, tmp_path: Path) -> None:
    gate, counter, child_pid = tmp_path / "gate", tmp_path / "launches", tmp_path / "worker.pid"
    cfg = h.config([{"name": "a", "command": _forking(gate, counter, child_pid), "post": "items"}])
    orch = h.start("run", str(cfg))
    worker = _worker(h, child_pid)
    leader = h.phase("a").pid
    wait_for(lambda: not alive(leader), what="the job's own process to exit")
    assert alive(worker) and os.getpgid(worker) == leader  # the worker is the phase's group
    gate.touch()
    assert orch.wait(60) == 0, orch.communicate()
    a = h.phase("a")
    assert (a.status, a.attempt, a.exit_code) == ("passed", 1, 0)
    assert counter.read_text().split() == [str(leader)]  # never launched again while its worker ran
    assert h.log_lines(a.log_path, "[jobkit] DATE") == 10  # the worker's lines were followed to its COMPLETE


def test_stop_stops_the_worker_of_a_job_that_forked_and_exited(h: Harness, tmp_path: Path) -> None:
    gate, counter, child_pid = tmp_path / "gate", tmp_path / "launches", tmp_path / "worker.pid"
    cfg = h.config([{"name": "a", "command": _forking(gate, counter, child_pid)}])
    orch = h.start("run", str(cfg))
    worker = _worker(h, child_pid)
    leader = h.phase("a").pid
    wait_for(lambda: not alive(leader), what="the job's own process to exit")
    r = h.cli("stop", "--grace", "5")
    assert r.code == 0, r.err + r.out
    assert orch.wait(30) == 1
    assert not alive(worker)  # stopped with the group, although the process the orchestrator launched was gone
    assert (h.phase("a").status, h.run_record().status) == ("stopped", "stopped")
    assert counter.read_text().split() == [str(leader)]


def test_wait_on_a_group_whose_leader_exited_returns_when_the_last_member_ends(tmp_path: Path) -> None:
    """The library rule under the two tests above, with the exit code of the job's own process kept."""
    gate, child_pid = tmp_path / "gate", tmp_path / "worker.pid"
    dates = tmp_path / "dates"
    dates.write_text("2024-01-01\n2024-01-02\n2024-01-03\n")
    h = process.launch([sys.executable, str(JOBS / "forking_job.py"), "--dates-file", str(dates), "--gate", str(gate),
                        "--counter", str(tmp_path / "c"), "--child-pid", str(child_pid)], tmp_path / "job.log")
    wait_for(child_pid.exists, what="the worker")
    h.popen.wait()  # the job's own process has exited (and is reaped) ...
    assert process.wait(h, 0.3) is None  # ... but its worker still runs: not ended
    gate.touch()
    info = process.wait(h, 30)
    assert info is not None and (info.known, info.returncode) == (True, 0)
    assert "COMPLETE status=ok" in (tmp_path / "job.log").read_text()


def test_a_zombie_phase_is_judged_as_ended_not_waited_for_forever(h: Harness, tmp_path: Path) -> None:
    """An adopted phase whose parent never reaps it (this test is that parent until the run is over)."""
    log = tmp_path / "by-hand.log"
    gate = tmp_path / "gate"
    with open(log, "w") as out:
        ext = subprocess.Popen([sys.executable, str(JOBS / "gated_job.py"), "--dates-file", str(_dates(tmp_path)),
                                "--gate", str(gate)], stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        cfg = h.config([{"name": "a", "command": ["{python}", str(JOBS / "gated_job.py"), "--dates-file",
                                                  "{dates_file}", "--gate", str(gate)], "post": "items"}])
        orch = h.start("run", str(cfg), "--adopt", f"a={ext.pid}:{log}")
        wait_for(lambda: h.phase("a").status == "running", what="phase a adopted")
        gate.touch()
        wait_for(lambda: psutil.Process(ext.pid).status() == psutil.STATUS_ZOMBIE, what="the job to be a zombie")
        assert orch.wait(60) == 0, orch.communicate()
        assert psutil.Process(ext.pid).status() == psutil.STATUS_ZOMBIE  # still unreaped when the run ended
        a = h.phase("a")
        assert (a.status, a.pid, a.exit_known) == ("passed", ext.pid, False)
    finally:
        ext.kill()
        ext.wait(5)


def test_adopting_a_zombie_is_refused_in_one_line(h: Harness, tmp_path: Path) -> None:
    zombie = subprocess.Popen([sys.executable, str(FAKES / "jobkit_fake.py"), "--days", "1"],
                              stdout=subprocess.DEVNULL)
    try:
        wait_for(lambda: psutil.Process(zombie.pid).status() == psutil.STATUS_ZOMBIE, what="a zombie")
        cfg = h.config([{"name": "a", "command": ["{python}", str(FAKES / "jobkit_fake.py"), "--dates-file",
                                                  "{dates_file}"]}])
        r = h.cli("run", str(cfg), "--adopt", f"a={zombie.pid}")
        assert r.code == 2, r.err + r.out
        assert r.err.count("\n") == 1 and "zombie" in r.err and "Traceback" not in r.err
        assert not (h.logs / "runs").exists() or not any((h.logs / "runs").iterdir())  # nothing was started
    finally:
        zombie.wait(5)


def _dates(tmp_path: Path) -> Path:
    p = tmp_path / "ext-dates"
    p.write_text("".join(f"2024-10-{d}\n" for d in range(22, 32)))
    return p




def _orphan_worker(h: Harness, tmp_path: Path) -> tuple[Path, Path, int, int]:
    """A run whose job forked its worker and exited, then whose orchestrator died by kill -9: only the worker runs."""
    gate, counter, child_pid = tmp_path / "gate", tmp_path / "launches", tmp_path / "worker.pid"
    cfg = h.config([{"name": "a", "command": _forking(gate, counter, child_pid), "post": "items"}])
    orch = h.start("run", str(cfg))
    worker = _worker(h, child_pid)
    leader = h.phase("a").pid
    wait_for(lambda: not alive(leader), what="the job's own process to exit")
    os.kill(h.run_record().pid, signal.SIGKILL)
    orch.wait(30)
    assert alive(worker)
    return gate, counter, worker, leader


def test_stop_without_an_orchestrator_stops_the_forked_worker(h: Harness, tmp_path: Path) -> None:
    _, counter, worker, leader = _orphan_worker(h, tmp_path)
    r = h.cli("stop", "--grace", "5")
    assert r.code == 0, r.err + r.out
    assert not alive(worker)  # found by the attempt's marker in its environment, the recorded PID being gone
    assert (h.phase("a").status, h.run_record().status) == ("stopped", "stopped")
    assert counter.read_text().split() == [str(leader)]


def test_resume_follows_the_forked_worker_instead_of_launching_the_attempt_again(h: Harness,
                                                                                 tmp_path: Path) -> None:
    gate, counter, worker, leader = _orphan_worker(h, tmp_path)
    resumed = h.start("resume")
    wait_for(lambda: any(e.kind == "readopted" and str(worker) in e.message for e in h.events()),
             what="the worker re-adopted")
    gate.touch()
    assert resumed.wait(60) == 0, resumed.communicate()
    a = h.phase("a")
    assert (a.status, a.attempt) == ("passed", 1)
    assert counter.read_text().split() == [str(leader)]  # the attempt was never started a second time
    assert h.log_lines(a.log_path, "[jobkit] DATE") == 10
