"""The run's plain log (orchestrator.log: one timestamped line per event, always, tail-able under nohup) and
what the terminal shows (rich live progress bars on a TTY, the same plain lines otherwise).

Every line is redacted on its way out (redact.py): URLs lose credentials, path and query, and the literal secrets
given (the config's notification URLs and credential-like env values: redact.config_secrets) are masked, so that
a job's fatal line quoting its token, or a library's error naming a webhook, never lands in the log.
"""
from __future__ import annotations

import datetime as dt
import logging
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
    """Appends lines to orchestrator.log (flushed each time) and mirrors them to the console."""

    def __init__(self, path: Path, console: "Console | None" = None, secrets: Iterable[str] = ()):
        self.path = path
        self.console = console
        self.secrets = [s for s in secrets if s]
        self._lock = threading.Lock()  # the notifier thread logs too
        self._f: TextIO = open(path, "a", encoding="utf-8")
        if console is not None:
            console.on_lost = self._console_lost

    def line(self, text: str, stamped: bool = False) -> None:
        """One line; `stamped` when the text already starts with its timestamp (progress lines)."""
        out = self._write(text, stamped)
        if self.console is not None:
            self.console.line(out)

    def _write(self, text: str, stamped: bool = False) -> str:
        out = redact_text(text if stamped else f"{stamp()} {text}", self.secrets)
        with self._lock:
            if not self._f.closed:
                self._f.write(out + "\n")
                self._f.flush()
        return out

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
            self._f.close()


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
