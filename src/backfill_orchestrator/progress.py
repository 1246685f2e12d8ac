"""Follow a phase's log incrementally and turn its lines into progress; the follow loop the orchestrator runs.

Pieces (each usable alone):
    follower = LogFollower(path, position=None)   # reads only new bytes; truncation, rotation, partial lines
    lines = follower.read_lines()                 # complete new lines (decoded, invalid UTF-8 replaced)
    lines += follower.flush_partial()             # at process end: the last line even without its newline
    pos = follower.position                       # FollowPosition(offset, inode): store it; pass it back to resume
    parser = parser_for("auto", custom_formats)   # progress_formats.py
    parser.feed(line, now); parser.snapshot(now) -> Progress
    format_progress_line(phase, progress, now)    # the one plain line for orchestrator.log

The loop (what the orchestrator calls while a phase runs):
    result = follow(handle, follower, parser, on_tick=tick, poll=1.0)
It blocks in process.wait(handle, poll) - woken at once by the process's exit (pidfd) - then reads the new
lines, feeds them to the parser and calls `on_tick(progress, new_lines)` once per poll. `on_tick` does the
orchestrator's periodic work (progress line every `progress_every`, stall/timeout checks, state snapshots) and
returns None to keep following or a short reason string to stop following (the process is left running: the
caller decides whether to `process.stop()` it). When the process exits, the rest of the log (including a last
line without newline) is read before returning, so the final Progress is complete.
    FollowResult(exit=ExitInfo|None, progress=Progress, reason=str|None)
`not progress.completed` after an exit = the process ended without the job's completion marker (for legacy jobs, which always exit 0,
that is the only sign of a crash besides `progress.fatal`).

Resuming after an orchestrator restart: a saved FollowPosition skips what was read, but the parser's counts
start again from zero. To rebuild exact counts and failed dates, re-read the phase log from offset 0 (a
1,500-date log is a few hundred KB and parses in well under a second) and keep the saved position for logs
too large for that.
"""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .clock import as_utc, iso_utc, utcnow
from .errors import UsageError
from .process import ExitInfo, ProcessHandle, wait
from .progress_formats import (BUILTIN_FORMATS, AutoParser, JobkitParser, LegacyParser, LineParser, Progress,
                               RegexFormat, RegexParser, parser_for)

__all__ = ["BUILTIN_FORMATS", "AutoParser", "JobkitParser", "LegacyParser", "LineParser", "Progress", "RegexFormat",
           "RegexParser", "parser_for", "FollowPosition", "LogFollower", "FollowResult", "follow", "read_into",
           "format_progress_line", "log_status", "utcnow"]

READ_CHUNK = 1 << 20
MAX_LINE = 1 << 20  # a "line" longer than this is cut (a job printing binary garbage must not exhaust memory)


@dataclass(frozen=True)
class FollowPosition:
    offset: int        # bytes of the file consumed as complete lines
    inode: int | None  # which file that offset belongs to (another inode = rotated: start at 0); None = any


class LogFollower:
    """Reads a growing log file incrementally. The file may not exist yet (the phase has not written anything).

    - truncation (size < our offset, e.g. `> log` or copytruncate): start again at offset 0
    - rotation by rename (the path now names another inode): finish the old file, then open the new one at 0
    - a partial last line is held back until its newline arrives, or until `flush_partial()`
    - invalid UTF-8 is replaced (U+FFFD), never an error; CRLF line ends are accepted
    """

    def __init__(self, path: str | Path, position: FollowPosition | None = None) -> None:
        self.path = Path(path)
        self._restore = position
        self._f: int | None = None           # raw fd: one read() syscall per chunk, no Python buffering
        self._ino: int | None = None
        self._pos = 0                        # bytes read from the current file (complete lines + partial)
        self._partial = b""

    @property
    def position(self) -> FollowPosition:
        return FollowPosition(self._pos - len(self._partial), self._ino)

    def close(self) -> None:
        if self._f is not None:
            os.close(self._f)
            self._f = None

    def __enter__(self) -> "LogFollower":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def read_lines(self, max_bytes: int = 16 * READ_CHUNK) -> list[str]:
        """The complete lines written since the previous call (at most about `max_bytes` of them)."""
        out: list[str] = []
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            st = None  # not created yet, or renamed away and not recreated yet: keep reading the old file
        if self._f is None:
            if st is None:
                return out
            self._open(st)
        else:
            cur = os.fstat(self._f)
            if st is not None and (st.st_ino, st.st_dev) != (cur.st_ino, cur.st_dev):
                out += self._drain(max_bytes)       # the writer may have written more to the old file
                if os.fstat(self._f).st_size > self._pos:
                    return out                      # more of the old file than one read: finish it first
                out += self.flush_partial()
                self.close()
                self._restore = None
                self._open(st)
            elif cur.st_size < self._pos:
                os.lseek(self._f, 0, os.SEEK_SET)
                self._pos, self._partial = 0, b""
        out += self._drain(max_bytes)
        return out

    def flush_partial(self) -> list[str]:
        """The held-back last line (no newline yet) as a line; call it when the writer has exited."""
        if not self._partial:
            return []
        line, self._partial = self._partial, b""
        return [_decode(line)]

    def _open(self, st: os.stat_result) -> None:
        self._f = os.open(self.path, os.O_RDONLY)
        cur = os.fstat(self._f)
        self._ino = cur.st_ino
        self._pos, self._partial = 0, b""
        pos = self._restore
        self._restore = None
        # inode None = "the file there now" (the caller knew the offset, not the inode)
        if pos is not None and pos.inode in (None, cur.st_ino) and pos.offset <= cur.st_size:
            self._pos = os.lseek(self._f, pos.offset, os.SEEK_SET)

    def _drain(self, max_bytes: int) -> list[str]:
        out: list[str] = []
        got = 0
        while got < max_bytes:
            data = os.read(self._f, READ_CHUNK)
            if not data:
                break
            got += len(data)
            self._pos += len(data)
            parts = (self._partial + data).split(b"\n")
            self._partial = parts.pop()
            out.extend(_decode(p) for p in parts)
            if len(self._partial) > MAX_LINE:
                out.append(_decode(self._partial))
                self._partial = b""
            if len(data) < READ_CHUNK:
                break
        return out


def check_text_log(path: str | Path, sniff: int = 8192) -> Path:
    """`path` as a Path when it is a readable text log; UsageError (one line naming it) otherwise. Binary = a NUL
    byte or mostly invalid UTF-8 in the first `sniff` bytes (a stray Latin-1 accent in a real log is fine)."""
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{path}: no such log file")
    try:
        with p.open("rb") as f:
            head = f.read(sniff)
    except OSError as e:
        raise UsageError(f"{path}: cannot read the log: {e.strerror or e}") from None
    text = head.decode("utf-8", errors="replace")
    if b"\x00" in head or text.count("\ufffd") > len(text) // 10:
        raise UsageError(f"{path}: not a text log (binary data in its first {len(head)} bytes)")
    return p


def _decode(raw: bytes) -> str:
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    return raw.decode("utf-8", errors="replace")


def read_into(follower: LogFollower, parser: LineParser, now: dt.datetime | None = None,
              final: bool = False) -> int:
    """Feed the new lines of `follower` to `parser`; `final` also flushes a last line without newline."""
    now = now or utcnow()
    n = 0
    batch = 2 * READ_CHUNK if final else 16 * READ_CHUNK
    lines = follower.read_lines(batch)
    # the writer is gone: read everything left, whatever its size, and the unterminated last line; each batch
    # is fed before the next is read, so a huge log is never held in memory at once
    while lines:
        for line in lines:
            parser.feed(line, now)
        n += len(lines)
        lines = follower.read_lines(batch) if final else []
    if final:
        for line in follower.flush_partial():
            parser.feed(line, now)
            n += 1
    return n


@dataclass
class FollowResult:
    exit: ExitInfo | None     # None when on_tick stopped the loop while the process was still running
    progress: Progress
    reason: str | None        # what on_tick returned to stop following, if it did


def follow(handle: ProcessHandle, follower: LogFollower, parser: LineParser,
           on_tick: Callable[[Progress, int], str | None] | None = None, poll: float = 1.0,
           clock: Callable[[], dt.datetime] = utcnow) -> FollowResult:
    """Follow `handle`'s log until the process exits or `on_tick` returns a reason to stop (see module doc)."""
    while True:
        info = wait(handle, poll)
        now = clock()
        n = read_into(follower, parser, now, final=info is not None)
        progress = parser.snapshot(now)
        if info is not None:
            return FollowResult(info, progress, None)
        reason = on_tick(progress, n) if on_tick is not None else None
        if reason:
            return FollowResult(None, progress, reason)


# --- the plain progress line -------------------------------------------------------------------------------------
def format_progress_line(phase: str, progress: Progress, now: dt.datetime) -> str:
    """`2026-01-03T14:35:00Z phase=P 612/1537 days (39.8%) ok=610 failed=2 records=51,234 rate=2.1 d/min
    eta=2026-01-03T21:55Z` (skipped=, complete=, fatal appear only when they apply)."""
    p = progress
    parts = [iso_utc(now), f"phase={phase}"]
    if p.total:
        parts.append(f"{p.done}/{p.total} {p.unit} ({100.0 * p.done / p.total:.1f}%)")
    else:
        parts.append(f"{p.done}/? {p.unit}")
    parts += [f"ok={p.ok}", f"failed={p.failed}"]
    if p.skipped:
        parts.append(f"skipped={p.skipped}")
    parts.append(f"records={p.records:,}")
    parts.append(f"rate={_rate(p.rate_per_min)} {'d' if p.unit == 'days' else p.unit}/min")
    parts.append(f"eta={as_utc(p.eta).strftime('%Y-%m-%dT%H:%MZ') if p.eta else 'unknown'}")
    if p.completed:
        parts.append(f"complete={p.complete_status or 'yes'}")
    if p.fatal:
        parts.append("FATAL")
    return " ".join(parts)


def _rate(r: float | None) -> str:
    if r is None:
        return "?"
    return f"{r:.1f}" if r >= 0.95 else f"{r:.2g}"


def log_status(progress: Progress) -> str:
    """One word for a log read on its own: ok | failed | interrupted | fatal | incomplete (no completion
    marker yet: still running, or it died without one)."""
    if progress.fatal:
        return "fatal"
    if not progress.completed:
        return "incomplete"
    if progress.complete_status in ("failed", "interrupted"):
        return progress.complete_status
    return "failed" if progress.failed or progress.failed_dates else "ok"
