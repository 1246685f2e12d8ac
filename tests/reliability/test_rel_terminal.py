"""Losing the terminal: an SSH session drops while `backfill run` runs in the foreground without nohup.

The run is started on a real pseudo-terminal (its controlling terminal, as a shell would give it); the test
closes the terminal's master side mid-run, which hangs the terminal up (SIGHUP, then EIO on every write) exactly
as sshd does when the connection drops. The run must go on to its real end, log to orchestrator.log, and leave
no phase running."""
from __future__ import annotations

import fcntl
import os
import select
import subprocess
import termios
import threading
from pathlib import Path

from orch_harness import BACKFILL, Harness, alive, running, wait_for

from conftest import JOBS


class Terminal:
    """A pseudo-terminal whose slave side is the controlling terminal of the process started on it; the master
    side is drained by a thread (a terminal emulator's job) until hang_up() closes it."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        self.output = bytearray()
        self._stop = threading.Event()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._drain, daemon=True)

    def start(self, argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen:
        def controlling_tty() -> None:  # in the child, after the standard fds are the slave
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=self.slave, stdout=self.slave, stderr=self.slave,
                                preexec_fn=controlling_tty, close_fds=True)
        os.close(self.slave)
        self._thread.start()
        return proc

    def _drain(self) -> None:
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([self.master], [], [], 0.05)
                if ready:
                    try:
                        data = os.read(self.master, 65536)
                    except OSError:  # EIO: every slave fd closed
                        break
                    if not data:
                        break
                    self.output += data
        finally:
            os.close(self.master)  # the hang-up: the kernel sends SIGHUP to the session, writes then get EIO
            self._closed.set()

    def hang_up(self) -> None:
        self._stop.set()
        assert self._closed.wait(10)


def _counted(h: Harness, name: str, gate: Path, counter: Path, **extra: object) -> dict:
    return {"name": name, "command": ["{python}", str(JOBS / "gated_job.py"), "--dates-file", "{dates_file}",
                                      "--gate", str(gate), "--counter", str(counter)], **extra}


def test_a_run_whose_terminal_closes_goes_on_to_its_end(h: Harness, tmp_path: Path) -> None:
    gate, counter_a, counter_b = tmp_path / "gate", tmp_path / "a-launches", tmp_path / "b-launches"
    cfg = h.config([_counted(h, "a", gate, counter_a, post="items"),
                    _counted(h, "b", gate, counter_b, depends_on=["a"], post="items")])
    term = Terminal()
    env = {**h.env(), "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
    env.pop("NO_COLOR", None)
    orch = term.start([str(BACKFILL), "run", str(cfg)], h.root, env)
    try:
        a = running(h, "a", min_dates=2)
        # rich's bars are drawn (cursor control sequences): the TTY path is the one under test
        wait_for(lambda: b"\x1b[" in term.output and b"phase_started" in term.output, what="the bars on the terminal")
        term.hang_up()
        gate.touch()  # from here on, every write to the terminal fails with EIO
        assert orch.wait(60) == 0
    finally:
        if orch.poll() is None:
            orch.kill()
    run_dir = h.run_dir()
    run = h.run_record(run_dir)
    assert (run.status, run.exit_code) == ("passed", 0)
    phases = {n: h.phase(n, run_dir) for n in ("a", "b")}
    assert {n: p.status for n, p in phases.items()} == {"a": "passed", "b": "passed"}
    assert counter_a.read_text().split() == [str(a.pid)] and len(counter_b.read_text().split()) == 1
    assert not any(alive(p.pid) for p in phases.values())
    log = (run_dir / "orchestrator.log").read_text()
    assert "console lost" in log  # said once, where it is still read
    assert "phase_passed: phase b" in log and "run_finished" in log


def test_a_run_whose_output_pipe_closes_goes_on_to_its_end(h: Harness, tmp_path: Path) -> None:
    """`backfill run | tee run.txt`, and the tee is killed: plain lines, then EPIPE on every write."""
    gate, counter = tmp_path / "gate", tmp_path / "launches"
    cfg = h.config([_counted(h, "a", gate, counter, post="items")])
    orch = subprocess.Popen([str(BACKFILL), "run", str(cfg)], cwd=h.root, env=h.env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        running(h, "a", min_dates=2)
        assert orch.stdout.readline()  # the plan: the pipe was in use
        orch.stdout.close()  # the reader is gone
        gate.touch()
        assert orch.wait(60) == 0
    finally:
        if orch.poll() is None:
            orch.kill()
    err = orch.stderr.read().decode()
    assert "Traceback" not in err and "Exception ignored" not in err, err
    run_dir = h.run_dir()
    assert (h.run_record(run_dir).status, h.phase("a", run_dir).status) == ("passed", "passed")
    assert "console lost (BrokenPipeError: Broken pipe)" in (run_dir / "orchestrator.log").read_text()
