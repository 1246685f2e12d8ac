"""Progress line formats (one module each): a phase's log lines -> `Progress` (done/total, ok, failed, records, rate, ETA, ...).

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

from .auto import AutoParser, parser_for
from .base import BUILTIN_FORMATS, LineParser, Progress
from .jobkit import JobkitParser
from .legacy import LegacyParser
from .regex import RegexFormat, RegexParser

__all__ = ["BUILTIN_FORMATS", "AutoParser", "JobkitParser", "LegacyParser", "LineParser", "Progress", "RegexFormat",
           "RegexParser", "parser_for"]
