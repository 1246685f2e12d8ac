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
from typing import Iterable, TextIO

from .clock import iso_utc
from .progress_formats import Progress
from .redact import redact_text


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

    def line(self, text: str, stamped: bool = False) -> None:
        """One line; `stamped` when the text already starts with its timestamp (progress lines)."""
        out = redact_text(text if stamped else f"{stamp()} {text}", self.secrets)
        with self._lock:
            if not self._f.closed:
                self._f.write(out + "\n")
                self._f.flush()
        if self.console is not None:
            self.console.line(out)

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
    """Plain lines on a pipe/file; on a TTY, rich progress bars per phase with the lines printed above them."""

    def __init__(self, tty: bool, stream: TextIO | None = None):
        self.tty = tty
        self.stream = stream or sys.stdout
        self._progress = None
        self._tasks: dict[str, int] = {}
        if tty:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bars, TextColumn, TimeRemainingColumn
            self._progress = Bars(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TextColumn("{task.fields[info]}"), TimeRemainingColumn(), transient=False)
            self._progress.start()

    def line(self, text: str) -> None:
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False)
        else:
            try:
                self.stream.write(text + "\n")
                self.stream.flush()
            except (OSError, ValueError):  # stdout gone (closed terminal): orchestrator.log still has it
                pass

    def update(self, phase: str, p: Progress) -> None:
        if self._progress is None:
            return
        info = f"ok={p.ok} failed={p.failed} records={p.records:,}"
        if phase not in self._tasks:
            self._tasks[phase] = self._progress.add_task(phase, total=p.total, info=info)
        self._progress.update(self._tasks[phase], completed=p.done, total=p.total, info=info)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
