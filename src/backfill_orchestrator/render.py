"""Rendering shared by every command: result dataclasses -> JSON; TTY detection for rich vs plain output; a console
stream that survives the loss of its terminal."""
from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import io
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, TextIO


def to_jsonable(obj: Any) -> Any:
    """Dataclasses, enums, dates, paths, sets and tuples -> plain JSON types (stable key order)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                if not f.name.startswith("_")}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, (dt.datetime, dt.date)):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = [to_jsonable(v) for v in obj]
        return sorted(items) if isinstance(obj, (set, frozenset)) else items
    if isinstance(obj, float) and obj != obj:  # NaN is not JSON
        return None
    return obj


def dumps(obj: Any) -> str:
    return json.dumps(to_jsonable(obj), indent=2, ensure_ascii=False)


def stdout_is_tty() -> bool:
    return sys.stdout.isatty()


class ConsoleStream:
    """A console stream (stdout of a foreground run) whose loss never ends the run.

    When the terminal goes away (an SSH session drops: EIO on every write; the reader of a pipe exits: EPIPE; a
    full disk under nohup.out: ENOSPC), the first failing write or flush drops the console: the descriptors that
    pointed at the lost file are pointed at /dev/null (so that nothing else writing there later, click's final
    lines or the interpreter's flush at exit, fails either), `on_lost` is told why once, and every later write is
    discarded. The run's own record is orchestrator.log, which is not written through here."""

    def __init__(self, stream: TextIO, on_lost: Callable[[str], None] | None = None):
        self._stream = stream
        self.on_lost = on_lost
        self.lost: str | None = None  # why the console was dropped

    def write(self, text: str) -> int:
        if self.lost is None:
            try:
                return self._stream.write(text)
            except (OSError, ValueError) as e:
                self._lose(e)
        return len(text)

    def flush(self) -> None:
        if self.lost is None:
            try:
                self._stream.flush()
            except (OSError, ValueError) as e:
                self._lose(e)

    def isatty(self) -> bool:
        try:
            return self.lost is None and self._stream.isatty()
        except (OSError, ValueError):
            return False

    def fileno(self) -> int:
        return self._stream.fileno()

    def __getattr__(self, name: str) -> Any:  # encoding, errors, ... as the real stream has them
        return getattr(self._stream, name)

    def _lose(self, e: Exception) -> None:
        self.lost = (f"{type(e).__name__}: {e.strerror or e}" if isinstance(e, OSError) else f"{type(e).__name__}: {e}")
        _detach(self._stream)
        if self.on_lost is not None:
            self.on_lost(self.lost)


def _detach(stream: TextIO) -> None:
    """Point every standard descriptor that refers to the same file as `stream` (a terminal is usually stdout and
    stderr both) at /dev/null; what is still buffered for the lost file is then written there, harmlessly."""
    try:
        lost = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return
    try:
        null = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    try:
        for fd in (1, 2):
            try:
                st = os.fstat(fd)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == (lost.st_dev, lost.st_ino):
                os.dup2(null, fd)
    finally:
        os.close(null)
