"""Progress line formats: a phase's log lines -> `Progress` (done/total, ok, failed, records, rate, ETA, ...).

One parser object per log stream (they keep state: the day being processed, the summary block being read):
    parser = parser_for("auto", custom_formats)      # or "jobkit", "legacy-sequential", "legacy-parallel", NAME
    for line in lines: parser.feed(line, now)        # `now` timestamps lines that carry no time of their own
    p = parser.snapshot(now)                         # a Progress, with rate and ETA computed

Formats:
  jobkit             `[jobkit] START|DATE|PROGRESS|FAILED|RETRY|COMPLETE ...` (the contract in the brief)
  legacy-sequential  the users' day-by-day job: `Processing day n/N: D`, `  ✓ Success: R records [from G games]`,
                     `  ✗ Failed: D`, `  ✗ Exception: E`, `Progress: p/t days (x% success), R total records ...`,
                     `DAY-BY-DAY BACKFILL SUMMARY:` + `  Total days: N` ... `  Total records processed: N`
  legacy-parallel    the users' parallel job: `  ✓ D: R records`, `  ✗ D: E`, `PROGRESS: p/t days (x%)` +
                     `  Success/Failed/Records/Rate/ETA: ...`, `PARALLEL BACKFILL COMPLETE` + `  Successful: N` ...
  NAME               regexes from the pipeline config (`formats:`), see RegexFormat
Legacy lines carry `%(asctime)s - %(levelname)s - `; that time (local) is used as the line's time, so reading an
old log gives the rate it really had. Numbers may have thousands separators. Both legacy variants are read by one
parser (their lines do not collide); the name reported follows the lines seen.
For every format: `Traceback (most recent call last)`, `FATAL` or `CRITICAL ERROR` makes the first such line
`fatal` (for a traceback, with the exception line appended). A completion block/marker sets `completed`;
legacy jobs always exit 0, so a phase that ended without one is incomplete and its failed days come from here.
Counts: per-date lines are counted (a date seen twice counts once, the later status wins); counts stated by
the log (PROGRESS lines) win when larger; a completion block's counts are final.
"""
from __future__ import annotations

import abc

import collections
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Mapping

from .clock import as_utc as _utc  # one rule for naive times: they are UTC
from .dates import date_range
from .errors import ConfigError, UsageError

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
    rate_per_min: float | None = None      # days (done) per minute
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
            retry_command=self.retry_command)

    def _observed_rate(self) -> float | None:
        if len(self._samples) < 2:
            return None
        (t0, d0), (t1, d1) = self._samples[0], self._samples[-1]
        minutes = (t1 - t0).total_seconds() / 60
        # under a second of history says nothing about a rate in days per minute
        return (d1 - d0) / minutes if minutes >= 1 / 60 else None


# --- jobkit ---------------------------------------------------------------------------------------------------
_KV = re.compile(r'(?<!\S)(\w+)=("(?:[^"\\]|\\.)*"|\S+)')


def _kv(text: str) -> dict[str, str]:
    return {k: (v[1:-1] if v.startswith('"') else v) for k, v in _KV.findall(text)}


class JobkitParser(LineParser):
    name = "jobkit"
    PREFIX = "[jobkit] "

    def detect(self, line: str) -> bool:
        return line.startswith(self.PREFIX)

    def _line(self, line: str, t: dt.datetime) -> bool:
        if not line.startswith(self.PREFIX):
            return False
        kind, _, rest = line[len(self.PREFIX):].partition(" ")
        if kind == "DATE":
            date_text, _, rest = rest.partition(" ")
            status, _, rest = rest.partition(" ")
            date = _parse_date(date_text)
            if date is None or status not in ("ok", "failed", "skipped"):
                return False
            kv = _kv(rest)
            records = kv.get("records", "")
            # a garbled number (two workers' writes interleaved) counts the date, not its records
            self._outcome(date, status, _int(records) if re.fullmatch(_NUM, records) else 0)
            if status == "failed":
                self._error(f"{date_text}: {kv.get('error', 'failed')}")
        elif kind == "PROGRESS":
            m = re.match(rf"({_NUM})/({_NUM})", rest)
            if m:
                self.stated["done"], self.total = _int(m.group(1)), _int(m.group(2))
            kv = _kv(rest)
            for k in ("ok", "failed", "skipped", "records"):
                if k in kv and kv[k].replace(",", "").isdigit():
                    self.stated[k] = _int(kv[k])
            if "rate" in kv:
                self.rate = _parse_rate(kv["rate"])
            if "eta" in kv:
                self.eta = _parse_eta(kv["eta"], t)
        elif kind == "START":
            self._reset()  # a log holding several runs reports the last one
            kv = _kv(rest)
            if re.fullmatch(_NUM, kv.get("dates", "")):
                self.total = _int(kv["dates"])
        elif kind == "FAILED":
            for m in re.finditer(r"(\d{4}-\d\d-\d\d)(?:\.\.(\d{4}-\d\d-\d\d))?", rest):
                a, b = _parse_date(m.group(1)), _parse_date(m.group(2) or m.group(1))
                if a and b:
                    self.stated_failed.update(date_range(a, b))
        elif kind == "RETRY":
            self.retry_command = rest.strip()
        elif kind == "COMPLETE":
            kv = _kv(rest)
            self.completed = True
            self.complete_status = kv.get("status")
            for src, dst in (("days", "total"), ("ok", "ok"), ("failed", "failed"), ("skipped", "skipped"),
                             ("records", "records")):
                if kv.get(src, "").replace(",", "").isdigit():
                    self.final[dst] = _int(kv[src])
            if {"ok", "failed", "skipped"} <= self.final.keys():
                self.final["done"] = self.final["ok"] + self.final["failed"] + self.final["skipped"]
        else:
            return False
        return True


# --- the users' legacy jobs -----------------------------------------------------------------------------------
_PREFIX = re.compile(r"^(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d)(?:[,.](\d{1,6}))? - ([A-Z]+) - (.*)$")
_SEQ = {
    "day": re.compile(rf"^Processing (?:day|date) ({_NUM})/({_NUM})(?::?\s*\(?(\d{{4}}-\d\d-\d\d))?"),
    "success": re.compile(rf"^\s*✓ Success: ({_NUM}) records(?: from ({_NUM}) games)?"),
    "failed": re.compile(r"^\s*✗ Failed: (\d{4}-\d\d-\d\d)"),
    "exception": re.compile(r"^\s*✗ Exception: (.*)$"),
    "progress": re.compile(rf"^Progress: ({_NUM})/({_NUM}) days \(([\d.]+)% success\), ({_NUM}) total records"),
    "summary": re.compile(r"^DAY-BY-DAY BACKFILL SUMMARY:?\s*$"),
}
_PAR = {
    "ok": re.compile(rf"^\s*✓ (\d{{4}}-\d\d-\d\d): ({_NUM}) records"),
    "failed": re.compile(r"^\s*✗ (\d{4}-\d\d-\d\d): (.*)$"),
    "progress": re.compile(rf"^PROGRESS: ({_NUM})/({_NUM}) days"),
    "summary": re.compile(r"^PARALLEL BACKFILL COMPLETE\s*$"),
}
_KEYVAL = re.compile(r"^\s+([A-Za-z][A-Za-z ]*?):\s+(.*?)\s*$")
# `  Key: value` lines mean something only inside the block whose header came last
_BLOCK_KEYS = {
    "seq-summary": {"Total days": "total", "Successful days": "ok", "Failed days": "failed",
                    "Total records processed": "records", "Skipped days": "skipped"},
    "par-progress": {"Success": "ok", "Successful": "ok", "Failed": "failed", "Records": "records",
                     "Skipped": "skipped"},
    "par-summary": {"Successful": "ok", "Success": "ok", "Failed": "failed", "Total records": "records",
                    "Records": "records", "Skipped": "skipped", "Total days": "total", "Total": "total"},
}


class LegacyParser(LineParser):
    """Both legacy variants; `variant` fixes the reported name, None = follow the lines seen."""

    def __init__(self, variant: str | None = None) -> None:
        super().__init__()
        self._fixed = variant
        self.name = variant or "legacy-sequential"
        self._current: dt.date | None = None
        self._block: str | None = None

    def detect(self, line: str) -> bool:
        m = _PREFIX.match(line)
        if not m:
            return False
        msg = m.group(4)
        return any(r.search(msg) for r in (*_SEQ.values(), *_PAR.values()))

    def _line_time(self, line: str) -> dt.datetime | None:
        m = _PREFIX.match(line)
        if not m:
            return None
        try:
            t = dt.datetime.fromisoformat(m.group(1).replace(" ", "T"))
        except ValueError:
            return None
        if m.group(2):
            t = t.replace(microsecond=int(m.group(2).ljust(6, "0")))
        return t.astimezone(dt.timezone.utc)  # logging's asctime is local time

    def _variant(self, name: str) -> None:
        if self._fixed is None:
            self.name = name

    def _line(self, line: str, t: dt.datetime) -> bool:
        m = _PREFIX.match(line)
        if not m:
            return False
        msg = m.group(4)
        if (r := _SEQ["day"].match(msg)):
            i, n = _int(r.group(1)), _int(r.group(2))
            self.total = n
            self.stated["done"] = max(self.stated.get("done", 0), i - 1)
            self._current = _parse_date(r.group(3)) if r.group(3) else None
            if msg.startswith("Processing day"):
                self._variant("legacy-sequential")
        elif (r := _SEQ["success"].match(msg)):
            self._outcome(self._current, "ok", _int(r.group(1)))
            self._variant("legacy-sequential")
        elif (r := _SEQ["failed"].match(msg)):
            self._outcome(_parse_date(r.group(1)), "failed")
            self._error(f"{r.group(1)}: failed")
            self._variant("legacy-sequential")
        elif (r := _SEQ["exception"].match(msg)):
            # the day being processed failed (counted once, whether or not a `✗ Failed` line follows)
            self._outcome(self._current, "failed")
            self._error(f"{self._current or '?'}: {r.group(1)}")
            self._variant("legacy-sequential")
        elif (r := _SEQ["progress"].match(msg)):
            self.stated["done"], self.total = _int(r.group(1)), _int(r.group(2))
            self.stated["records"] = _int(r.group(4))
            self._variant("legacy-sequential")
        elif _SEQ["summary"].match(msg):
            self._block, self.completed = "seq-summary", True
            self._variant("legacy-sequential")
        elif (r := _PAR["ok"].match(msg)):
            self._outcome(_parse_date(r.group(1)), "ok", _int(r.group(2)))
            self._variant("legacy-parallel")
        elif (r := _PAR["failed"].match(msg)):
            self._outcome(_parse_date(r.group(1)), "failed")
            self._error(f"{r.group(1)}: {r.group(2)}")
            self._variant("legacy-parallel")
        elif (r := _PAR["progress"].match(msg)):
            self.stated["done"], self.total = _int(r.group(1)), _int(r.group(2))
            self._block = "par-progress"
            self._variant("legacy-parallel")
        elif _PAR["summary"].match(msg):
            self._block, self.completed = "par-summary", True
            self._variant("legacy-parallel")
        elif (r := _KEYVAL.match(msg)) and self._block:
            return self._block_line(r.group(1), r.group(2), t)
        else:
            return False
        return True

    def _block_line(self, key: str, value: str, t: dt.datetime) -> bool:
        if self._block == "par-progress" and key == "Rate":
            self.rate = _parse_rate(value)
            return True
        if self._block == "par-progress" and key == "ETA":
            self.eta = _parse_eta(value, t)
            return True
        dest = _BLOCK_KEYS[self._block].get(key)
        if dest is None or not re.fullmatch(_NUM, value):
            return False
        target = self.final if self._block.endswith("summary") else self.stated
        target[dest] = _int(value)
        if self._block.endswith("summary"):
            if dest == "total":
                self.final["done"] = self.final["total"]
            elif {"ok", "failed"} <= self.final.keys() and "total" not in self.final:
                self.final["done"] = self.final["ok"] + self.final["failed"] + self.final.get("skipped", 0)
        return True


# --- named regexes from the config ----------------------------------------------------------------------------
_REGEX_KEYS = ("progress", "total", "date_ok", "date_failed", "complete", "fatal")
_COUNT_GROUPS = ("done", "total", "ok", "failed", "skipped", "records")
_ALLOWED_GROUPS = {
    "progress": {*_COUNT_GROUPS, "rate", "eta", "date"},
    "total": {"total"},
    "date_ok": {"date", "records"},
    "date_failed": {"date", "error", "records"},
    "complete": {*_COUNT_GROUPS, "status"},
    "fatal": set(),
}


@dataclass(frozen=True)
class RegexFormat:
    """A custom format: `progress` (groups done,total,ok,failed,skipped,records,rate,eta,date - any subset),
    `total` (group total), `date_ok` (date[,records]), `date_failed` (date[,error]), `complete` (the completion
    marker; optional groups ok,failed,skipped,records,total,status), `fatal` (in addition to the built-in ones).
    Every regex is searched anywhere in the line."""

    name: str
    regexes: Mapping[str, re.Pattern[str]]

    @classmethod
    def from_mapping(cls, name: str, mapping: Mapping[str, str]) -> "RegexFormat":
        if name in (*BUILTIN_FORMATS, "auto"):
            raise ConfigError(f"formats.{name}: the name is built in; choose another name")
        unknown = set(mapping) - set(_REGEX_KEYS)
        if unknown:
            raise ConfigError(f"formats.{name}.{sorted(unknown)[0]}: unknown key (use {', '.join(_REGEX_KEYS)})")
        if "progress" not in mapping:
            raise ConfigError(f"formats.{name}.progress: missing required key")
        compiled = {}
        for key, text in mapping.items():
            try:
                rx = re.compile(str(text))
            except re.error as e:
                raise ConfigError(f"formats.{name}.{key}: invalid regular expression: {e}") from None
            bad = set(rx.groupindex) - _ALLOWED_GROUPS[key]
            if bad:
                allowed = ", ".join(sorted(_ALLOWED_GROUPS[key])) or "none"
                raise ConfigError(f"formats.{name}.{key}: unknown group {sorted(bad)[0]!r} (allowed: {allowed})")
            compiled[key] = rx
        if "date" not in compiled.get("date_ok", re.compile("")).groupindex and "date_ok" in compiled:
            raise ConfigError(f"formats.{name}.date_ok: needs a (?P<date>...) group")
        if "date" not in compiled.get("date_failed", re.compile("")).groupindex and "date_failed" in compiled:
            raise ConfigError(f"formats.{name}.date_failed: needs a (?P<date>...) group")
        return cls(name, compiled)

    def parser(self) -> "RegexParser":
        return RegexParser(self)


class RegexParser(LineParser):
    def __init__(self, fmt: RegexFormat) -> None:
        super().__init__()
        self.fmt = fmt
        self.name = fmt.name
        self._current: dt.date | None = None

    def detect(self, line: str) -> bool:
        return any(rx.search(line) for key, rx in self.fmt.regexes.items() if key != "fatal")

    def _check_fatal(self, line: str) -> None:
        super()._check_fatal(line)
        rx = self.fmt.regexes.get("fatal")
        if rx and self.fatal is None and rx.search(line):
            self.fatal = line.strip()

    def _line(self, line: str, t: dt.datetime) -> bool:
        rx = self.fmt.regexes
        if "date_failed" in rx and (m := rx["date_failed"].search(line)):
            date = _parse_date(m.group("date"))
            self._outcome(date, "failed", _group_int(m, "records"))
            self._error(f"{m.group('date')}: {_group(m, 'error') or 'failed'}")
            return True
        if "date_ok" in rx and (m := rx["date_ok"].search(line)):
            self._outcome(_parse_date(m.group("date")), "ok", _group_int(m, "records"))
            return True
        if "complete" in rx and (m := rx["complete"].search(line)):
            self.completed = True
            for k in _COUNT_GROUPS:
                if _group(m, k):
                    self.final[k] = _int(m.group(k))
            if _group(m, "status"):
                self.complete_status = m.group("status")
            return True
        if (m := rx["progress"].search(line)):
            for k in _COUNT_GROUPS:
                if _group(m, k):
                    if k == "total":
                        self.total = _int(m.group(k))
                    else:
                        self.stated[k] = _int(m.group(k))
            if _group(m, "rate"):
                self.rate = _parse_rate(m.group("rate"))
            if _group(m, "eta"):
                self.eta = _parse_eta(m.group("eta"), t)
            return True
        if "total" in rx and (m := rx["total"].search(line)):
            self.total = _int(m.group("total"))
            return True
        return False


def _group(m: re.Match[str], name: str) -> str | None:
    return m.groupdict().get(name)


def _group_int(m: re.Match[str], name: str) -> int:
    v = _group(m, name)
    return _int(v) if v and re.fullmatch(_NUM, v) else 0


# --- auto-detection and lookup --------------------------------------------------------------------------------
class AutoParser(LineParser):
    """Buffers lines until one is recognisably some format, then hands everything to that format's parser."""

    MAX_BUFFER = 5000

    def __init__(self, candidates: list[LineParser]) -> None:
        super().__init__()
        self._candidates = candidates
        self._chosen: LineParser | None = None
        self._buffer: collections.deque[tuple[str, dt.datetime]] = collections.deque(maxlen=self.MAX_BUFFER)

    @property
    def chosen(self) -> LineParser | None:
        return self._chosen

    def detect(self, line: str) -> bool:
        return any(c.detect(line) for c in self._candidates)

    def feed(self, line: str, now: dt.datetime) -> bool:
        if self._chosen is not None:
            return self._chosen.feed(line, now)
        for c in self._candidates:
            if c.detect(line):
                self._chosen = c
                for old, t in self._buffer:
                    c.feed(old, t)
                self._buffer.clear()
                return c.feed(line, now)
        self._buffer.append((line, now))
        return super().feed(line, now)  # undetected yet: still count lines and notice fatal ones

    def _line(self, line: str, t: dt.datetime) -> bool:
        return False

    def snapshot(self, now: dt.datetime | None = None) -> Progress:
        return self._chosen.snapshot(now) if self._chosen is not None else super().snapshot(now)


def parser_for(name: str, custom_formats: Mapping[str, RegexFormat | Mapping[str, str]] | None = None) -> LineParser:
    """A fresh parser for format `name` (`auto` detects among the built-in and custom formats)."""
    custom = {k: (v if isinstance(v, RegexFormat) else RegexFormat.from_mapping(k, v))
              for k, v in (custom_formats or {}).items()}
    if name == "auto":
        return AutoParser([JobkitParser(), LegacyParser(), *(f.parser() for f in custom.values())])
    if name == "jobkit":
        return JobkitParser()
    if name in ("legacy-sequential", "legacy-parallel"):
        return LegacyParser(name)
    if name in custom:
        return custom[name].parser()
    known = ", ".join(["auto", *BUILTIN_FORMATS, *custom])
    raise UsageError(f"unknown progress format {name!r} (known: {known})")
