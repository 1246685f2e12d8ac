"""One run at a time per pipeline + warehouse: a lock file under <logs_dir>/locks/.

The file holds who has it (PID, host, run id, since, the PID's create time) so that a refused second run can
name the holder. Exclusion itself is an advisory `flock` held for the orchestrator's lifetime: the kernel drops it
when the holder dies, even by `kill -9`, so a lock left behind is recognised as stale without guessing. A stale
file (holder dead, or its PID now belongs to another process) is taken over and the caller is told, so that it
can journal a warning.

    lock = acquire(logs_dir, pipeline, label, run_id)   # LockHeld (exit 2) when another run holds it
    lock.stale_holder                                   # LockInfo of the dead holder taken over, or None
    lock.release()
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from .clock import iso_utc
from .errors import UsageError
from .events import runbook_ref
from .runmodel import Reason


class LockHeld(UsageError):
    """Another orchestrator run holds the lock of this pipeline + warehouse."""


@dataclass(frozen=True)
class LockInfo:
    pid: int
    host: str
    run_id: str
    since: str
    create_time: float | None
    label: str

    def describe(self) -> str:
        return f"PID {self.pid} on {self.host}, run {self.run_id}, since {self.since}"


@dataclass
class Lock:
    path: Path
    info: LockInfo
    stale_holder: LockInfo | None
    stale_reason: str | None
    _fd: int | None

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            # only remove the file if it is still ours (never a successor's)
            if _read(self.path) == self.info:
                self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)
            self._fd = None


def lock_path(logs_dir: str | Path, pipeline: str, label: str) -> Path:
    digest = hashlib.sha1(label.encode()).hexdigest()[:12]
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", pipeline)
    return Path(logs_dir) / "locks" / f"{safe}-{digest}.lock"


def acquire(logs_dir: str | Path, pipeline: str, label: str, run_id: str) -> Lock:
    path = lock_path(logs_dir, pipeline, label)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = _read(path)
            who = holder.describe() if holder else "another process (lock file being written)"
            raise LockHeld(f"pipeline {pipeline!r} on {label} is already being run by {who}; lock file {path}; "
                           f"{runbook_ref(Reason.LOCK_HELD)}") from None
        # release() unlinks the file: if the holder did so between our open and our flock, we locked a file
        # nobody else will ever open again - and a third run would lock the new one. Only the file at `path` counts.
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    previous = _read(path)
    reason = _stale_reason(previous) if previous else None
    me = psutil.Process()
    info = LockInfo(os.getpid(), socket.gethostname(), run_id,
                    iso_utc(), me.create_time(), label)
    data = json.dumps(asdict(info)).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)
    os.fsync(fd)
    return Lock(path, info, previous, reason, fd)


def _stale_reason(holder: LockInfo) -> str:
    """Why a holder that no longer has the flock is stale (for the warning)."""
    if holder.host != socket.gethostname():
        return f"lock written on host {holder.host}; its flock is not held"
    try:
        p = psutil.Process(holder.pid)
        if holder.create_time is not None and abs(p.create_time() - holder.create_time) > 1.0:
            return f"PID {holder.pid} now belongs to another process (PID reused)"
        return f"PID {holder.pid} no longer holds the lock"
    except psutil.NoSuchProcess:
        return f"PID {holder.pid} is not running"


def _read(path: Path) -> LockInfo | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8") or "null")
        return LockInfo(**raw) if isinstance(raw, dict) else None
    except (OSError, ValueError, TypeError):
        return None
