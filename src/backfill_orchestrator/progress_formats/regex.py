"""Formats named in the pipeline config (`formats:`): named regexes -> counts, dates, completion, fatal."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Mapping

from ..errors import ConfigError
from .base import _NUM, BUILTIN_FORMATS, LineParser, _int, _parse_date, _parse_eta, _parse_rate

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
    Every regex is searched anywhere in the line. `unit` says what `done`/`total` count (default days), for the
    progress line and status."""

    name: str
    regexes: Mapping[str, re.Pattern[str]]
    unit: str = "days"

    @classmethod
    def from_mapping(cls, name: str, mapping: Mapping[str, str]) -> "RegexFormat":
        if name in (*BUILTIN_FORMATS, "auto"):
            raise ConfigError(f"formats.{name}: the name is built in; choose another name")
        mapping = dict(mapping)
        unit = str(mapping.pop("unit", "days"))
        unknown = set(mapping) - set(_REGEX_KEYS)
        if unknown:
            raise ConfigError(f"formats.{name}.{sorted(unknown)[0]}: unknown key (use {', '.join(_REGEX_KEYS)}, unit)")
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
        return cls(name, compiled, unit)

    def parser(self) -> "RegexParser":
        return RegexParser(self)


class RegexParser(LineParser):
    def __init__(self, fmt: RegexFormat) -> None:
        super().__init__()
        self.fmt = fmt
        self.name = fmt.name
        self.unit = fmt.unit
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
