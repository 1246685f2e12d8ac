"""process.py with real subprocesses and signals: launch, wait, exit noticed fast, stop TERM->KILL, adopt."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from backfill_orchestrator.errors import BackfillError
from backfill_orchestrator.process import (AdoptRefused, adopt, cmdline_matches, identity, is_alive, launch, stop,
                                           wait)

FAKES = Path(__file__).parent / "fakes"
PY = sys.executable


def poll_until(cond, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def script(tmp_path: Path, name: str, body: str) -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(body))
    return p


# A process that exits when a trigger file appears, writing the exact time it exits to `stamp`.
TRIGGERED_EXIT = """
    import os, sys, time
    trigger, stamp, code = sys.argv[1], sys.argv[2], int(sys.argv[3])
    print("ready", flush=True)
    while not os.path.exists(trigger):
        time.sleep(0.005)
    with open(stamp, "w") as f:
        f.write(repr(time.time()))
    os._exit(code)
"""

# Ignores SIGTERM, and so does a grandchild in the same process group: only SIGKILL on the group ends both.
STUBBORN = """
    import os, signal, subprocess, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = subprocess.Popen([sys.executable, "-c",
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('grandchild', flush=True); time.sleep(3600)"])
    print(f"grandchild={child.pid}", flush=True)
    time.sleep(3600)
"""


def spawn_orphan(tmp_path: Path, argv: list[str]) -> int:
    """Start `argv` through an intermediate process that exits at once: the result is NOT our child."""
    log = tmp_path / "orphan.log"
    starter = ("import subprocess, sys; p = subprocess.Popen(sys.argv[2:], start_new_session=True, "
               "stdin=subprocess.DEVNULL, stdout=open(sys.argv[1], 'ab'), stderr=subprocess.STDOUT); print(p.pid)")
    out = subprocess.run([PY, "-c", starter, str(log), *argv], check=True, capture_output=True, text=True)
    pid = int(out.stdout.strip())
    poll_until(lambda: "ready" in log.read_text() if log.exists() else False, what="orphan ready")
    return pid


def test_launch_appends_stdout_and_stderr_to_the_log_with_env_and_cwd(tmp_path):
    log = tmp_path / "logs" / "phase.log"
    log.parent.mkdir()
    log.write_text("previous attempt\n")
    workdir = tmp_path / "work"
    workdir.mkdir()
    code = "import os, sys; print('out', os.environ['PHASE_X'], os.getcwd()); print('err', file=sys.stderr)"
    h = launch([PY, "-c", code], log, env={"PHASE_X": "42"}, cwd=workdir)
    assert h.popen is not None and h.pid == h.popen.pid
    assert h.cmdline[:2] == [PY, "-c"]
    info = wait(h, timeout=10)
    assert info is not None and info.known and info.returncode == 0 and info.signal is None
    text = log.read_text()
    assert text.startswith("previous attempt\n")
    assert f"out 42 {workdir}" in text and "err" in text


def test_launch_runs_in_its_own_session(tmp_path):
    h = launch([PY, "-c", "import time; time.sleep(30)"], tmp_path / "p.log")
    try:
        assert os.getpgid(h.pid) == h.pid and os.getsid(h.pid) == h.pid
        assert os.getpgid(h.pid) != os.getpgrp()
    finally:
        stop(h, grace=2)


def test_launch_of_a_missing_program_is_a_one_line_error(tmp_path):
    with pytest.raises(BackfillError, match="cannot start '/nonexistent/job'"):
        launch(["/nonexistent/job"], tmp_path / "p.log")


def test_wait_reports_exit_code_and_killing_signal(tmp_path):
    h = launch([PY, "-c", "import sys; sys.exit(3)"], tmp_path / "a.log")
    info = wait(h, 10)
    assert info.returncode == 3 and info.describe() == "exit 3"
    h = launch([PY, "-c", "import time; time.sleep(30)"], tmp_path / "b.log")
    assert wait(h, 0.2) is None and is_alive(h)
    os.kill(h.pid, signal.SIGKILL)
    info = wait(h, 10)
    assert info.signal == signal.SIGKILL and info.returncode is None and info.describe() == "killed by SIGKILL"
    assert not is_alive(h)


# The exit must wake wait() itself (pidfd), long before its timeout; the bound is half the timeout so that a loaded
# machine cannot break it, while a wait that slept to its timeout still fails it.
WAIT_TIMEOUT = 60.0


def test_exit_of_a_child_wakes_wait_before_its_timeout(tmp_path):
    trigger, stamp = tmp_path / "go", tmp_path / "stamp"
    s = script(tmp_path, "trig.py", TRIGGERED_EXIT)
    h = launch([PY, str(s), str(trigger), str(stamp), "5"], tmp_path / "t.log")
    poll_until(lambda: "ready" in (tmp_path / "t.log").read_text(), what="ready")
    assert wait(h, 0.3) is None
    trigger.touch()
    info = wait(h, timeout=WAIT_TIMEOUT)
    assert info is not None and info.returncode == 5
    delay = info.ended_at - float(stamp.read_text())
    assert 0 <= delay < WAIT_TIMEOUT / 2, delay


def test_exit_of_an_adopted_process_wakes_wait_before_its_timeout(tmp_path):
    trigger, stamp = tmp_path / "go", tmp_path / "stamp"
    s = script(tmp_path, "trig.py", TRIGGERED_EXIT)
    pid = spawn_orphan(tmp_path, [PY, str(s), str(trigger), str(stamp), "0"])
    h = adopt(pid, expect_cmdline=[PY, str(s), str(trigger), str(stamp), "0"])
    assert h.popen is None and is_alive(h)
    assert wait(h, 0.3) is None
    trigger.touch()
    info = wait(h, timeout=WAIT_TIMEOUT)
    assert info is not None and not info.known and info.returncode is None
    assert "unknown" in info.describe()
    delay = info.ended_at - float(stamp.read_text())
    assert 0 <= delay < WAIT_TIMEOUT / 2, delay
    assert not is_alive(h)


def test_stop_terminates_the_group_and_the_job_reports_interrupted(tmp_path):
    log = tmp_path / "job.log"
    h = launch([PY, str(FAKES / "jobkit_fake.py"), "--days", "10", "--hang-after", "3"], log)
    poll_until(lambda: log.read_text().count("DATE ") == 3, what="3 dates")
    res = stop(h, grace=10)
    assert res.signal_sent == "SIGTERM"
    assert res.exit is not None and res.exit.returncode == 143
    assert log.read_text().splitlines()[-1].startswith("[jobkit] COMPLETE status=interrupted days=10 ok=3")


def test_stop_escalates_to_sigkill_for_a_group_that_ignores_sigterm(tmp_path):
    log = tmp_path / "stubborn.log"
    h = launch([PY, str(script(tmp_path, "stubborn.py", STUBBORN))], log)
    grandchild = int(poll_until(lambda: _grandchild(log), what="grandchild pid"))
    poll_until(lambda: "grandchild\n" in log.read_text(), what="grandchild ignoring TERM")
    res = stop(h, grace=0.5)
    assert res.signal_sent == "SIGKILL" and res.seconds >= 0.5  # KILL only after the whole grace period
    assert res.exit is not None and res.exit.signal == signal.SIGKILL
    poll_until(lambda: not _running(grandchild), what="grandchild killed")


def _grandchild(log: Path) -> str | None:
    for line in log.read_text().splitlines():
        if line.startswith("grandchild="):
            return line.split("=")[1]
    return None


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_stop_of_a_finished_process_is_already_dead(tmp_path):
    h = launch([PY, "-c", "pass"], tmp_path / "x.log")
    wait(h, 10)
    res = stop(h, grace=1)
    assert res.signal_sent is None and res.exit.returncode == 0


def test_stop_of_an_adopted_process_group(tmp_path):
    pid = spawn_orphan(tmp_path, [PY, "-c", "print('ready', flush=True); import time; time.sleep(3600)"])
    h = adopt(pid)
    res = stop(h, grace=5)
    assert res.signal_sent == "SIGTERM" and res.exit is not None and not res.exit.known
    assert not _running(pid)


def test_adopt_refuses_missing_zombie_reused_and_other_commands(tmp_path):
    done = subprocess.Popen([PY, "-c", "pass"])
    done.wait()
    with pytest.raises(AdoptRefused, match=f"cannot adopt PID {done.pid}: no such process"):
        adopt(done.pid)

    zombie = subprocess.Popen([PY, "-c", "pass"])
    poll_until(lambda: psutil.Process(zombie.pid).status() == psutil.STATUS_ZOMBIE, what="zombie")
    with pytest.raises(AdoptRefused, match="zombie"):
        adopt(zombie.pid)
    zombie.wait()

    pid = spawn_orphan(tmp_path, [PY, "-c", "print('ready', flush=True); import time; time.sleep(3600)"])
    try:
        real = identity(pid)
        with pytest.raises(AdoptRefused, match="the PID was reused"):
            adopt(pid, expect_cmdline=real.cmdline, expect_create_time=real.create_time - 3600)
        with pytest.raises(AdoptRefused, match=r"it runs .*sleep\(3600\).*expected 'python3 -m nba_pipeline"):
            adopt(pid, expect_cmdline=["python3", "-m", "nba_pipeline.team_offense"])
        h = adopt(pid, expect_cmdline=real.cmdline, expect_create_time=real.create_time)
        assert (h.pid, h.create_time, h.cmdline) == (pid, real.create_time, real.cmdline)
    finally:
        os.kill(pid, signal.SIGKILL)


def test_cmdline_matches_tolerates_an_interpreter_prefix():
    assert cmdline_matches(["/usr/bin/python3", "/x/job.py", "--a"], ["/usr/bin/python3", "/x/job.py", "--a"])
    assert cmdline_matches(["/usr/bin/python3", "/x/job.py", "--a"], ["job.py", "--a"])
    assert not cmdline_matches(["/usr/bin/python3", "/x/job.py", "--a"], ["job.py", "--b"])
    assert not cmdline_matches(["/usr/bin/python3"], ["job.py", "--a"])
    assert not cmdline_matches(["a"], [])
