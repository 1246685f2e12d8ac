"""Format lookup by name, and auto-detection: lines are buffered until one is recognisably some format."""
from __future__ import annotations

import collections
import datetime as dt
from typing import Mapping

from ..errors import UsageError
from .base import BUILTIN_FORMATS, LineParser, Progress
from .jobkit import JobkitParser
from .legacy import LegacyParser
from .regex import RegexFormat

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
