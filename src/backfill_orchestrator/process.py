"""Phase processes: launch (own session), adopt by PID, wait, stop (TERM -> grace -> KILL on the group).

    h = launch(argv, log_path, env={"X": "1"})      # child in its own session; stdout+stderr appended to the log
    h = adopt(pid, expect_cmdline=[...], expect_create_time=t)  # someone else's process; refuses reused PIDs
    info = wait(h, timeout=0.5)                     # ExitInfo, or None if still running after `timeout`
    res = stop(h, grace=10.0)                       # SIGTERM the group, wait `grace`, SIGKILL the group

A process is identified by (pid, create_time, cmdline): a PID alone is reused by the kernel, so every operation
on a process we did not just start checks the create time first, and nothing is ever signalled when it differs.

A launched phase is its process group: it has ended when its process has exited AND no live process is left in the
group (a job that forks its worker and exits is still running; `stop` stops the worker with the group).

Waiting: on Linux a pidfd (os.pidfd_open) becomes readable the moment the process exits - for children and
non-children alike - so `wait` blocks in select() without polling and notices an exit at once. Where pidfd is
missing it falls back to polling every 50 ms. Only our own children have a knowable exit code; for an adopted
process ExitInfo.known is False and completion must be judged from its log (progress.py) and the gate.
"""
from __future__ import annotations

import os
import select
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import psutil

from .errors import BackfillError

# psutil derives create_time from the boot time, which moves when the wall clock is stepped (NTP); a new process
# that reuses the PID within one second AND has the same command line is not a realistic risk.
CREATE_TIME_TOLERANCE = 1.0
_POLL = 0.05


class AdoptRefused(BackfillError):
    """The PID cannot be adopted: gone, a zombie, reused by another process, or running another command."""


@dataclass(frozen=True)
class ProcessIdentity:
    pid: int
    create_time: float
    cmdline: list[str]


@dataclass
class ProcessHandle:
    pid: int
    create_time: float
    cmdline: list[str]
    popen: subprocess.Popen | None = None  # set for our own children only: their exit code is ours to read
    log_path: Path | None = None
    # psutil.Process objects kept between usage() calls: cpu_percent() measures since the previous call
    _procs: dict[int, psutil.Process] = field(default_factory=dict, repr=False, compare=False)

    @property
    def identity(self) -> ProcessIdentity:
        return ProcessIdentity(self.pid, self.create_time, list(self.cmdline))


@dataclass(frozen=True)
class ExitInfo:
    known: bool               # False for adopted processes: their exit status is not ours to read
    returncode: int | None    # exit code (None when killed by a signal or unknown)
    signal: int | None        # signal number that killed it (children only)
    ended_at: float           # time.time() when the exit was noticed

    def describe(self) -> str:
        if not self.known:
            return "ended (exit code unknown: not started by this orchestrator)"
        if self.signal is not None:
            return f"killed by {_signame(self.signal)}"
        return f"exit {self.returncode}"


@dataclass(frozen=True)
class StopResult:
    signal_sent: str | None   # the last signal sent: "SIGTERM", "SIGKILL" (TERM was not enough within the
                              # grace period) or None (nothing was running when stop() was called)
    seconds: float
    exit: ExitInfo | None     # None only when the group survived SIGKILL (e.g. uninterruptible sleep)


def _signame(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


# --- launch / identify / adopt ------------------------------------------------------------------------------
def launch(argv: Sequence[str], log_path: str | Path, env: Mapping[str, str] | None = None,
           cwd: str | Path | None = None) -> ProcessHandle:
    """Start `argv` in its own session (so its whole process group can be stopped, and a terminal hangup or a
    Ctrl-C aimed at the orchestrator does not reach it), stdout+stderr appended to `log_path`."""
    if not argv:
        raise BackfillError("cannot launch an empty command")
    log = Path(log_path)
    full_env = {**os.environ, **(env or {})}
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        out = open(log, "ab", buffering=0)
    except OSError as e:
        raise BackfillError(f"cannot open log {log}: {e.strerror or e}") from None
    with out:  # the child keeps its own copy of the descriptor
        try:
            popen = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                     env=full_env, cwd=cwd, start_new_session=True, close_fds=True)
        except OSError as e:
            raise BackfillError(f"cannot start {argv[0]!r}: {e.strerror or e}") from None
    # Popen returns after exec succeeded, so psutil sees the new program's command line, not ours
    try:
        ident = identity(popen.pid)
        create_time, cmdline = ident.create_time, ident.cmdline or list(argv)
    except BackfillError:  # exited already (and is a zombie until reaped): identity from what we know
        create_time, cmdline = time.time(), list(argv)
    return ProcessHandle(popen.pid, create_time, cmdline, popen, log)


def identity(pid: int) -> ProcessIdentity:
    """(pid, create time, command line) of a running process; BackfillError when there is none."""
    try:
        p = psutil.Process(pid)
        with p.oneshot():
            return ProcessIdentity(pid, p.create_time(), p.cmdline())
    except psutil.ZombieProcess:  # exited, not reaped yet: the create time is still readable
        return ProcessIdentity(pid, psutil.Process(pid).create_time() if psutil.pid_exists(pid) else 0.0, [])
    except psutil.NoSuchProcess:
        raise BackfillError(f"no process with PID {pid}") from None
    except psutil.AccessDenied:
        raise BackfillError(f"PID {pid}: access denied") from None


def cmdline_matches(actual: Sequence[str], expected: Sequence[str]) -> bool:
    """Exact match, or `actual` ends with `expected` where the first expected word may be a bare program name
    (`script.py --x` started through a shebang shows up as `/usr/bin/python3 /path/script.py --x`)."""
    actual, expected = list(actual), list(expected)
    if actual == expected:
        return True
    if not expected or len(actual) < len(expected):
        return False
    tail = actual[len(actual) - len(expected):]
    return tail[1:] == expected[1:] and os.path.basename(tail[0]) == os.path.basename(expected[0])


def adopt(pid: int, expect_cmdline: Sequence[str] | None = None,
          expect_create_time: float | None = None) -> ProcessHandle:
    """Take over a running process we did not start. Refuses (AdoptRefused, one line) a missing PID, a zombie,
    a PID whose create time differs from the recorded one (= the PID was reused), or another command."""
    try:
        p = psutil.Process(pid)
        with p.oneshot():
            status, create_time = p.status(), p.create_time()
            cmdline = p.cmdline() if status != psutil.STATUS_ZOMBIE else []
    except psutil.NoSuchProcess:
        raise AdoptRefused(f"cannot adopt PID {pid}: no such process") from None
    except psutil.AccessDenied:
        raise AdoptRefused(f"cannot adopt PID {pid}: access denied") from None
    if status == psutil.STATUS_ZOMBIE:
        raise AdoptRefused(f"cannot adopt PID {pid}: it has exited (zombie)")
    if expect_create_time is not None and abs(create_time - expect_create_time) > CREATE_TIME_TOLERANCE:
        raise AdoptRefused(f"cannot adopt PID {pid}: create time {_iso(create_time)} differs from the recorded "
                           f"{_iso(expect_create_time)} (the PID was reused by another process)")
    if expect_cmdline is not None and not cmdline_matches(cmdline, expect_cmdline):
        raise AdoptRefused(f"cannot adopt PID {pid}: it runs {_shell(cmdline)!r}, expected {_shell(expect_cmdline)!r}")
    return ProcessHandle(pid, create_time, cmdline)


def find_marked(marker: Mapping[str, str]) -> ProcessHandle | None:
    """A live process whose environment holds every variable of `marker` (commands.phase_marker), adopted; None
    when there is none. The environment identifies it however its PID came about (a fork, a re-exec)."""
    for p in psutil.process_iter():
        try:
            env = p.environ()
            if all(env.get(k) == v for k, v in marker.items()) and p.status() != psutil.STATUS_ZOMBIE:
                return adopt(p.pid)
        except (psutil.Error, AdoptRefused):
            continue
    return None


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _shell(argv: Sequence[str]) -> str:
    return shlex.join(argv)


# --- liveness and waiting ---------------------------------------------------------------------------------
def _same_process(handle: ProcessHandle) -> psutil.Process | None:
    """The psutil.Process if `handle`'s process is still running (not a zombie, not a reused PID)."""
    try:
        p = psutil.Process(handle.pid)
        if abs(p.create_time() - handle.create_time) > CREATE_TIME_TOLERANCE:
            return None
        if p.status() == psutil.STATUS_ZOMBIE:
            return None
        return p
    except psutil.NoSuchProcess:
        return None


def is_alive(handle: ProcessHandle) -> bool:
    if handle.popen is not None:
        return handle.popen.poll() is None
    return _same_process(handle) is not None


def _child_exit(popen: subprocess.Popen) -> ExitInfo:
    rc = popen.returncode
    if rc is not None and rc < 0:
        return ExitInfo(True, None, -rc, time.time())
    return ExitInfo(True, rc, None, time.time())


def _pidfd(pid: int) -> int | None:
    if not hasattr(os, "pidfd_open"):
        return None
    try:
        return os.pidfd_open(pid)
    except OSError:  # ESRCH (gone) or ENOSYS (old kernel): callers fall back to polling
        return None


def wait(handle: ProcessHandle, timeout: float | None) -> ExitInfo | None:
    """Block until the process ends (ExitInfo) or `timeout` seconds pass (None). Notices an exit at once."""
    deadline = None if timeout is None else time.monotonic() + timeout
    if handle.popen is not None and handle.popen.poll() is not None:
        return _child_exit(handle.popen) if _stragglers_gone(handle.pid, deadline) else None
    fd = _pidfd(handle.pid)
    try:
        # the pidfd refers to whatever process has the PID now: check it is still ours before trusting it
        if fd is not None and (handle.popen is not None or _same_process(handle) is not None):
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                return None
        else:
            while is_alive(handle):
                if deadline is not None and time.monotonic() >= deadline:
                    return None
                time.sleep(_POLL if deadline is None else max(0.0, min(_POLL, deadline - time.monotonic())))
    finally:
        if fd is not None:
            os.close(fd)
    if handle.popen is not None:
        handle.popen.wait()  # it has exited: this only reaps it
        if not _stragglers_gone(handle.pid, deadline):
            return None
        return _child_exit(handle.popen)
    return ExitInfo(False, None, None, time.time())


def _stragglers_gone(pgid: int, deadline: float | None) -> bool:
    """True once no live process is left in the group our child led (at once when there was none). A job that
    forks its worker and exits has not finished: the worker still writes its dates, and judging (or retrying) the
    phase now would let two processes work on the same dates. Members are polled: no descriptor tells their end."""
    while _group_exists(pgid) and _has_live_member(pgid):
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(_POLL * 4 if deadline is None else max(0.0, min(_POLL * 4, deadline - time.monotonic())))
    return True


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- stopping ----------------------------------------------------------------------------------------------
def _group_of(handle: ProcessHandle) -> int | None:
    """The process group to signal: our own launches lead their group. An adopted process is signalled as a
    group only when it leads one - never when the group is ours or belongs to the shell that started it."""
    if handle.popen is not None:
        return handle.pid
    if _same_process(handle) is None:  # the PID may be someone else's by now: never signal their group
        return None
    try:
        pgid = os.getpgid(handle.pid)
    except ProcessLookupError:
        return None
    return pgid if pgid == handle.pid and pgid != os.getpgrp() else None


def _signal(handle: ProcessHandle, pgid: int | None, sig: int) -> bool:
    """Send `sig`; False when there was nothing left to signal (ESRCH = already dead)."""
    if pgid is not None:
        try:
            os.killpg(pgid, sig)
            return True
        except ProcessLookupError:
            return False
    p = _same_process(handle)
    if p is None:
        return False
    targets = [p]
    try:
        targets += p.children(recursive=True)
    except psutil.NoSuchProcess:
        pass
    sent = False
    for t in targets:
        try:
            t.send_signal(sig)
            sent = True
        except psutil.NoSuchProcess:
            pass
    return sent


def _group_alive(handle: ProcessHandle, pgid: int | None) -> bool:
    if handle.popen is not None:
        handle.popen.poll()  # reap our child, or it would count as a living (zombie) member of the group
    if pgid is None:
        return is_alive(handle)
    # members left may all be zombies waiting for their (dead) parent to be replaced by init: treat as gone
    return _group_exists(pgid) and _has_live_member(pgid)


def _has_live_member(pgid: int) -> bool:
    for p in psutil.process_iter():
        try:
            if os.getpgid(p.pid) == pgid and p.status() != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, psutil.NoSuchProcess):
            pass
    return False


def _wait_group(handle: ProcessHandle, pgid: int | None, seconds: float) -> bool:
    """True when the process (and its group) ended within `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        if not _group_alive(handle, pgid):
            return True
        if time.monotonic() >= deadline:
            return False
        # the leader's exit is noticed at once; stragglers in the group are polled
        if is_alive(handle):
            wait(handle, min(_POLL * 4, max(0.0, deadline - time.monotonic())))
        else:
            time.sleep(_POLL)


def _exit_info(handle: ProcessHandle) -> ExitInfo | None:
    if handle.popen is not None:
        return _child_exit(handle.popen) if handle.popen.poll() is not None else None
    return None if is_alive(handle) else ExitInfo(False, None, None, time.time())


def stop(handle: ProcessHandle, grace: float = 10.0, kill_wait: float = 5.0) -> StopResult:
    """SIGTERM the process group, wait `grace` seconds, then SIGKILL the group. Never signals a reused PID."""
    t0 = time.monotonic()
    pgid = _group_of(handle)
    if not _group_alive(handle, pgid) or not _signal(handle, pgid, signal.SIGTERM):
        return StopResult(None, time.monotonic() - t0, _exit_info(handle))
    if _wait_group(handle, pgid, grace):
        return StopResult("SIGTERM", time.monotonic() - t0, _exit_info(handle))
    _signal(handle, pgid, signal.SIGKILL)
    _wait_group(handle, pgid, kill_wait)
    return StopResult("SIGKILL", time.monotonic() - t0, _exit_info(handle))


# --- resource usage (the phase runner records CPU and RSS with each progress snapshot) ---------------------
def usage(handle: ProcessHandle) -> tuple[float, int]:
    """(CPU percent of one core since the previous call, RSS bytes), the process and its descendants summed.
    The first call for a process returns 0.0 CPU (there is no previous sample yet)."""
    root = _same_process(handle)
    if root is None:
        handle._procs.clear()
        return 0.0, 0
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        procs = [root]
    cpu, rss, seen = 0.0, 0, {}
    for p in procs:
        cached = handle._procs.get(p.pid)
        if cached is not None and cached.create_time() == p.create_time():
            p = cached
        try:
            with p.oneshot():
                cpu += p.cpu_percent(None)
                rss += p.memory_info().rss
            seen[p.pid] = p
        except psutil.NoSuchProcess:
            pass
    handle._procs.clear()
    handle._procs.update(seen)
    return cpu, rss
