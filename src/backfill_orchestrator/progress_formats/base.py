"""What every line format shares: the Progress snapshot and the LineParser base (per-date bookkeeping, stated and
final counts, fatal lines, rate and ETA), and the number/date/rate/ETA readers the formats use."""
from __future__ import annotations

import abc
import collections
import datetime as dt
import re
from dataclasses import dataclass, field

from ..clock import as_utc as _utc  # one rule for naive times: they are UTC

BUILTIN_FORMATS = ("jobkit", "legacy-sequential", "legacy-parallel")
MAX_ERRORS = 20
RATE_WINDOW = dt.timedelta(minutes=15)

_FATAL = re.compile(r"Traceback \(most recent call last\)|\bFATAL\b|CRITICAL ERROR")
_DATE = re.compile(r"\d{4}-\d\d-\d\d")
_NUM = r"\d[\d,]*"


@dataclass
class Progress:
    format: str = "unknown"
    total: int | None = None
    done: int = 0
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    records: int = 0
    rate_per_min: float | None = None      # units (done) per minute
    unit: str = "days"                     # what done/total count: days for every built-in format
    eta: dt.datetime | None = None
    failed_dates: list[dt.date] = field(default_factory=list)
    completed: bool = False                # the job's completion marker/block was seen
    complete_status: str | None = None     # ok | failed | interrupted (jobkit); ok | failed for the others
    fatal: str | None = None
    last_line_at: dt.datetime | None = None
    started_at: dt.datetime | None = None
    last_progress_at: dt.datetime | None = None   # when `done` last grew (stall detection)
    errors: list[str] = field(default_factory=list)
    lines: int = 0
    retry_command: str | None = None

    @property
    def percent(self) -> float | None:
        return 100.0 * self.done / self.total if self.total else None


def _int(text: str) -> int:
    return int(text.replace(",", ""))


def _parse_date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _parse_eta(text: str, base: dt.datetime) -> dt.datetime | None:
    """`2026-01-03T21:55:00Z`, `7.3 min`, `2.5h`, `45s`, `1:02:03` (remaining); None for `unknown` and the like."""
    text = text.strip()
    try:
        return _utc(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        pass
    try:
        m = re.fullmatch(r"(\d[\d,]*(?:\.\d+)?)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hr|hrs|hours?)", text)
        if m:
            unit = m.group(2)[0]
            seconds = float(m.group(1).replace(",", "")) * {"s": 1, "m": 60, "h": 3600}[unit]
            return base + dt.timedelta(seconds=seconds)
        m = re.fullmatch(r"(?:(\d+):)?(\d+):(\d\d)", text)
        if m:
            return base + dt.timedelta(hours=int(m.group(1) or 0), minutes=int(m.group(2)), seconds=int(m.group(3)))
    except (OverflowError, ValueError):  # an absurd ETA (e.g. a rate near zero) is no ETA, never a crash
        return None
    return None


def _parse_rate(text: str) -> float | None:
    """Days per minute from `2.10/min`, `12.3 days/min`, `0.5/s`, `30 days/hour`."""
    m = re.match(r"\s*(\d[\d,]*(?:\.\d+)?)\s*(?:d(?:ays?)?)?\s*(?:/\s*(s|sec|second|m|min|minute|h|hr|hour))?", text)
    if not m:
        return None
    unit = (m.group(2) or "m")[0]
    return float(m.group(1).replace(",", "")) * {"s": 60.0, "m": 1.0, "h": 1 / 60}[unit]


class LineParser(abc.ABC):
    """Base: per-date bookkeeping, stated/final counts, fatal lines, rate and ETA. Subclasses implement `_line`."""

    name = "unknown"
    unit = "days"  # what done/total count; a custom regex format may name another (rounds, files, ...)

    def __init__(self) -> None:
        self._reset()
        self.fatal: str | None = None
        self.errors: list[str] = []
        self.lines = 0
        self.started_at: dt.datetime | None = None
        self.last_line_at: dt.datetime | None = None
        self._in_traceback = False

    def _reset(self) -> None:
        self.dates: dict[dt.date, tuple[str, int]] = {}
        self.anon = {"ok": 0, "failed": 0, "skipped": 0, "records": 0}  # outcomes without a date
        self.stated: dict[str, int] = {}
        self.final: dict[str, int] = {}
        self.total: int | None = None
        self.rate: float | None = None
        self.eta: dt.datetime | None = None
        self.stated_failed: set[dt.date] = set()
        self.completed = False
        self.complete_status: str | None = None
        self.retry_command: str | None = None
        self._samples: collections.deque[tuple[dt.datetime, int]] = collections.deque()
        self.last_progress_at: dt.datetime | None = None

    # --- feeding ------------------------------------------------------------------------------------------
    def feed(self, line: str, now: dt.datetime) -> bool:
        """Take one line (without newline). True when the line meant something to this format."""
        self.lines += 1
        t = self._line_time(line) or now
        self.last_line_at = t
        if self.started_at is None:
            self.started_at = t
        self._check_fatal(line)
        before = self._done()
        known = self._line(line, t)
        after = self._done()
        if after != before:
            self._samples.append((t, after))
            self.last_progress_at = t
            while len(self._samples) > 2 and self._samples[1][0] < t - RATE_WINDOW:
                self._samples.popleft()
        return known

    def _line_time(self, line: str) -> dt.datetime | None:
        return None

    @abc.abstractmethod
    def _line(self, line: str, t: dt.datetime) -> bool:
        """Take one line of this format into the counts; True when it told something."""

    @abc.abstractmethod
    def detect(self, line: str) -> bool:
        """True when `line` is recognisably this format (auto-detection)."""

    def _check_fatal(self, line: str) -> None:
        if self._in_traceback:
            if line[:1].isspace() or not line.strip():
                return
            self._in_traceback = False
            self._error(f"fatal: {line.strip()}")
            if self.fatal == "Traceback (most recent call last):":
                self.fatal = f"Traceback (most recent call last): ... {line.strip()}"
        m = _FATAL.search(line)
        if m:
            if m.group(0).startswith("Traceback"):
                self._in_traceback = True
            if self.fatal is None:
                self.fatal = line[m.start():].strip() if m.group(0).startswith("Traceback") else line.strip()

    def _error(self, msg: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(msg[:300])
        elif len(self.errors) == MAX_ERRORS:
            self.errors.append("... (more errors in the log)")

    # --- outcomes -----------------------------------------------------------------------------------------
    def _outcome(self, date: dt.date | None, status: str, records: int = 0) -> None:
        if date is None:
            self.anon[status] += 1
            self.anon["records"] += records
        else:
            self.dates[date] = (status, records)

    def _counted(self) -> dict[str, int]:
        c = dict(self.anon)
        for status, records in self.dates.values():
            c[status] += 1
            c["records"] += records
        c["done"] = c["ok"] + c["failed"] + c["skipped"]
        return c

    def _done(self) -> int:
        if "done" in self.final:
            return self.final["done"]
        return max(len(self.dates) + self.anon["ok"] + self.anon["failed"] + self.anon["skipped"],
                   self.stated.get("done", 0))

    # --- result -------------------------------------------------------------------------------------------
    def snapshot(self, now: dt.datetime | None = None) -> Progress:
        c = self._counted()
        v = {k: max(c[k], self.stated.get(k, 0)) for k in ("ok", "failed", "skipped", "records")}
        v.update({k: x for k, x in self.final.items() if k in v})
        done = self.final.get("done", max(c["done"], self.stated.get("done", 0), v["ok"] + v["failed"] + v["skipped"]))
        total = self.final.get("total", self.total)
        if total is not None and done > total:
            total = done
        failed_dates = sorted({d for d, (s, _) in self.dates.items() if s == "failed"}
                              | {d for d in self.stated_failed if d not in self.dates})
        rate = self.rate if self.rate is not None else self._observed_rate()
        eta = None
        if not self.completed and total is not None:
            eta = self.eta
            if eta is None and rate and self._samples:
                eta = self._samples[-1][0] + dt.timedelta(minutes=(total - done) / rate)
        status = self.complete_status
        if self.completed and status is None:
            status = "failed" if v["failed"] or failed_dates else "ok"
        return Progress(
            format=self.name, total=total, done=done, ok=v["ok"], failed=v["failed"], skipped=v["skipped"],
            records=v["records"], rate_per_min=rate, eta=eta, failed_dates=failed_dates, completed=self.completed,
            complete_status=status, fatal=self.fatal, last_line_at=self.last_line_at, started_at=self.started_at,
            last_progress_at=self.last_progress_at, errors=list(self.errors), lines=self.lines,
            retry_command=self.retry_command, unit=self.unit)

    def _observed_rate(self) -> float | None:
        if len(self._samples) < 2:
            return None
        (t0, d0), (t1, d1) = self._samples[0], self._samples[-1]
        minutes = (t1 - t0).total_seconds() / 60
        # under a second of history says nothing about a rate in days per minute
        return (d1 - d0) / minutes if minutes >= 1 / 60 else None
