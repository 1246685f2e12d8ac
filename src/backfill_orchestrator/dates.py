"""Dates: inclusive ranges, date-list files, the job kit's checkpoint file, the season calendar and the bootstrap
rule, ranges for evidence.

Knows nothing of basketball: a calendar is a list of seasons (start, end of regular season, end of
playoffs) read from YAML such as config/seasons.yaml.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .atomic import write_text_atomic
from .errors import UsageError


def parse_date(text: str, what: str = "date") -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise UsageError(f"{what}: expected a date like 2024-10-22, got {text!r}") from None


def date_range(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every date from start to end, both included. A reversed range is a usage error, never empty."""
    if end < start:
        raise UsageError(f"end date {end} is before start date {start}")
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def read_date_file(path: str | Path) -> list[dt.date]:
    """One ISO date per line; blank lines and `#` comments ignored; errors name file and line."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise UsageError(f"{path}: cannot read date list: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not a text date list (expected one ISO date per line)") from None
    out: list[dt.date] = []
    for i, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if text:
            out.append(parse_date(text, f"{path}:{i}"))
    return sorted(set(out))


def write_date_file(path: str | Path, dates: Iterable[dt.date]) -> Path:
    """One ISO date per line, written atomically so a reader never sees half a list."""
    return write_text_atomic(path, "".join(f"{d.isoformat()}\n" for d in dates), "the date list")


CHECKPOINT_STATUSES = ("done", "failed", "skipped")
# what reading an unreadable, truncated, non-JSON or wrongly shaped checkpoint raises
CHECKPOINT_READ_ERRORS = (OSError, ValueError, AttributeError, TypeError)


def read_checkpoint_file(path: str | Path) -> tuple[str | None, dict[str, set[dt.date]]]:
    """The job kit's checkpoint `{"job": ..., "done": [...], "failed": [...], "skipped": [...]}` (ISO dates) as
    (job, {status: dates}); raises one of CHECKPOINT_READ_ERRORS when the file is not one. The jobs read it to
    resume (a bad file is a usage error there), `backfill plan` to say what is left (a note): one reader, so
    both agree on what the file means."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return data.get("job"), {s: {dt.date.fromisoformat(d) for d in data.get(s, [])} for s in CHECKPOINT_STATUSES}


def compress_ranges(dates: Iterable[dt.date]) -> list[tuple[dt.date, dt.date, int]]:
    """Consecutive dates folded into (first, last, count)."""
    out: list[tuple[dt.date, dt.date, int]] = []
    for d in sorted(set(dates)):
        if out and d - out[-1][1] == dt.timedelta(days=1):
            first, _, n = out[-1]
            out[-1] = (first, d, n + 1)
        else:
            out.append((d, d, 1))
    return out


def format_ranges(dates: Iterable[dt.date], limit: int = 10) -> str:
    """E.g. `2024-11-02..2025-06-30 (241 dates), 2025-10-21`; at most `limit` ranges then `… and N more`."""
    ranges = compress_ranges(dates)
    parts = [f"{a}" if n == 1 else f"{a}..{b} ({n} dates)" for a, b, n in ranges[:limit]]
    if len(ranges) > limit:
        parts.append(f"… and {len(ranges) - limit} more ranges ({sum(n for *_, n in ranges[limit:])} dates)")
    return ", ".join(parts)


@dataclass(frozen=True)
class Season:
    name: str
    start: dt.date
    regular_end: dt.date
    playoffs_end: dt.date

    def contains(self, d: dt.date) -> bool:
        return self.start <= d <= self.playoffs_end


@dataclass(frozen=True)
class Calendar:
    seasons: tuple[Season, ...]

    def season_of(self, d: dt.date) -> Season | None:
        for s in self.seasons:
            if s.contains(d):
                return s
        return None

    def in_season(self, d: dt.date) -> bool:
        return self.season_of(d) is not None

    def bootstrap_ok(self, d: dt.date, skip_first_days: int) -> bool:
        """True when d is in a season and at least `skip_first_days` days after its start."""
        s = self.season_of(d)
        return s is not None and (d - s.start).days >= skip_first_days


def load_calendar(path: str | Path) -> Calendar:
    """Read a season calendar: `seasons: [{name, start, regular_season_end, playoffs_end}, ...]`."""
    from .yamlsource import load_yaml  # here: a job imports this module for its date files and needs no YAML

    root = load_yaml(path).keys({"seasons"}, {"seasons"})
    seasons = []
    for node in root["seasons"].items():
        m = node.keys({"name", "start", "regular_season_end", "playoffs_end"},
                      {"name", "start", "regular_season_end", "playoffs_end"})
        s = Season(m["name"].str(), m["start"].date(), m["regular_season_end"].date(), m["playoffs_end"].date())
        if not s.start <= s.regular_end <= s.playoffs_end:
            raise node.error("expected start <= regular_season_end <= playoffs_end")
        if seasons and s.start <= seasons[-1].playoffs_end:
            raise node.error(f"season {s.name} overlaps season {seasons[-1].name}")
        seasons.append(s)
    return Calendar(tuple(seasons))
