"""The run's plain log (orchestrator.log: one timestamped line per event, always, tail-able under nohup) and
what the terminal shows (rich live progress bars on a TTY, the same plain lines otherwise).

Every line is redacted on its way out (redact.py): URLs lose credentials, path and query, and the literal secrets
given (the config's notification URLs and credential-like env values: redact.config_secrets) are masked, so that
a job's fatal line quoting its token, or a library's error naming a webhook, never lands in the log.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Callable, Iterable, TextIO

from .clock import iso_utc
from .progress_formats import Progress
from .redact import redact_text
from .render import ConsoleStream


def stamp(now: dt.datetime | None = None) -> str:
    return iso_utc(now)


class RunLog:
    """Appends lines to orchestrator.log and mirrors them to the console.

    Each line is one write(2) on an O_APPEND descriptor: nothing is held in a buffer, and other writers (`tee -a`,
    a person's echo) never interleave inside a line. The log is the run's record but not its state: a line that
    cannot be written (disk full) never stops the run; the lines lost are counted and said in the first line that
    gets through. A log renamed away (logrotate) or deleted mid-run is re-created at its path."""

    def __init__(self, path: Path, console: "Console | None" = None, secrets: Iterable[str] = ()):
        self.path = path
        self.console = console
        self.secrets = [s for s in secrets if s]
        self._lock = threading.Lock()  # the notifier thread logs too
        self._fd: int | None = self._open()
        self._lost = 0  # lines not written since the last one that was
        self._lost_why = ""
        self._torn = False  # a write stopped inside a line: the next one starts on a fresh line
        if console is not None:
            console.on_lost = self._console_lost

    def line(self, text: str, stamped: bool = False) -> None:
        """One line; `stamped` when the text already starts with its timestamp (progress lines)."""
        out = self._write(text, stamped)
        if self.console is not None:
            self.console.line(out)

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def _write(self, text: str, stamped: bool = False) -> str:
        out = redact_text(text if stamped else f"{stamp()} {text}", self.secrets)
        with self._lock:
            if self._fd is None:  # closed
                return out
            data = out + "\n"
            if self._lost:
                data = f"{stamp()} warning: {self._lost} line(s) of this log were lost ({self._lost_why})\n" + data
            if self._torn:
                data = "\n" + data
            try:
                self._reopen_if_moved()
                view = memoryview(data.encode("utf-8"))
                while view:
                    n = os.write(self._fd, view)
                    self._torn = True
                    view = view[n:]
                self._torn = False
                self._lost = 0
            except OSError as e:
                self._lost += 1
                self._lost_why = f"{type(e).__name__}: {e.strerror or e}"
        return out

    def _reopen_if_moved(self) -> None:
        assert self._fd is not None
        try:
            here = os.stat(self.path)
        except FileNotFoundError:
            here = None
        mine = os.fstat(self._fd)
        if here is None or (here.st_dev, here.st_ino) != (mine.st_dev, mine.st_ino):
            fd = self._open()
            os.close(self._fd)
            self._fd = fd

    def _console_lost(self, why: str) -> None:
        # this log only: called from inside a console write (maybe rich's refresh thread), which must not recurse
        self._write(f"console lost ({why}): the terminal is gone; the run goes on and this log is its record")

    def logger(self, name: str) -> logging.Logger:
        """A logging.Logger writing into this log (what the notifier is given)."""
        log = logging.getLogger(name)
        log.propagate = False
        log.setLevel(logging.INFO)
        for h in list(log.handlers):
            log.removeHandler(h)
        log.addHandler(_Handler(self))
        return log

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


class _Handler(logging.Handler):
    def __init__(self, runlog: RunLog):
        super().__init__()
        self.runlog = runlog

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.runlog.line(f"{record.levelname.lower()}: {record.getMessage()}")
        except Exception:  # logging must never break the run
            self.handleError(record)


class Console:
    """Plain lines on a pipe/file; on a TTY, rich progress bars per phase with the lines printed above them.

    The console is a convenience, never a reason to stop: every write goes through a ConsoleStream, so a terminal
    that goes away mid-run (EIO, EPIPE, ...) drops the console, once, and the run goes on; `on_lost` (set by the
    RunLog) puts the reason in orchestrator.log."""

    def __init__(self, tty: bool, stream: TextIO | None = None):
        self.tty = tty
        self.on_lost: Callable[[str], None] | None = None
        self._stream = ConsoleStream(stream or sys.stdout, self._lost)
        self._progress = None
        self._tasks: dict[str, int] = {}
        if tty:
            from rich.console import Console as RichConsole
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bars, TextColumn, TimeRemainingColumn
            self._progress = Bars(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TextColumn("{task.fields[info]}"), TimeRemainingColumn(), transient=False,
                                  console=RichConsole(file=self._stream, force_terminal=True))  # type: ignore[arg-type]
            self._progress.start()

    @property
    def lost(self) -> str | None:
        """Why the console was dropped (None while it works)."""
        return self._stream.lost

    def line(self, text: str) -> None:
        if self._stream.lost is not None:
            self.close()
        elif self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False)
        else:
            self._stream.write(text + "\n")
            self._stream.flush()

    def update(self, phase: str, p: Progress) -> None:
        if self._stream.lost is not None:
            self.close()
        if self._progress is None:
            return
        info = f"ok={p.ok} failed={p.failed} records={p.records:,}"
        if phase not in self._tasks:
            self._tasks[phase] = self._progress.add_task(phase, total=p.total, info=info)
        self._progress.update(self._tasks[phase], completed=p.done, total=p.total, info=info)

    def close(self) -> None:
        # stops rich's refresh thread too (its writes, once the terminal is gone, would only be discarded)
        if self._progress is not None:
            progress, self._progress = self._progress, None
            progress.stop()

    def _lost(self, why: str) -> None:
        if self.on_lost is not None:
            self.on_lost(why)
