"""Date lists for phases: a range filtered by the season calendar, with the reason each date was dropped.

`backfill dates` prints these counts so that a person sees *why* a list is shorter than the range, e.g. the
Phase 4 list "skip each season's first 14 days (first date = season start + 14)": dates outside every season are `off-season`, the first N days of a
season are `first N days of <season>` (its rolling averages have too little history to mean anything).
"Game days" are the in-season dates of the calendar (start of the season to the end of its playoffs).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UsageError
from .dates import Calendar, date_range, format_ranges, write_date_file

OFF_SEASON = "off-season"


@dataclass(frozen=True)
class DateSelection:
    start: dt.date
    end: dt.date
    kept: list[dt.date]
    excluded: dict[str, list[dt.date]]  # reason -> dates, in calendar order
    game_days: int  # in-season dates of the range (0 when no calendar)
    skip_first_days: int = 0
    game_days_only: bool = False
    rules: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.kept) + sum(len(v) for v in self.excluded.values())

    @property
    def kept_of_game_days_pct(self) -> float | None:
        return 100.0 * len(self.kept) / self.game_days if self.game_days else None

    def text(self) -> str:
        """The summary shown by `backfill dates` (counts, then every exclusion reason with its ranges)."""
        lines = [f"range {self.start}..{self.end}: {self.total} dates; rules: {', '.join(self.rules) or 'none'}",
                 f"kept {len(self.kept)} dates" + (f": {format_ranges(self.kept, limit=6)}" if self.kept else "")]
        pct = self.kept_of_game_days_pct
        if self.game_days:
            lines.append(f"game days (in season) in range: {self.game_days}; kept {len(self.kept)} of them "
                         f"({pct:.1f}%)")
        n_excl = sum(len(v) for v in self.excluded.values())
        lines.append(f"excluded {n_excl} dates" + (":" if n_excl else ""))
        for reason, dates in self.excluded.items():
            lines.append(f"  {len(dates):5d}  {reason}: {format_ranges(dates, limit=4)}")
        return "\n".join(lines)


def select_dates(start: dt.date, end: dt.date, calendar: Calendar | None = None, *, skip_first_days: int = 0,
                 game_days_only: bool = False) -> DateSelection:
    """Dates from start to end (inclusive) kept by the rules; the same rule as a phase's `dates:` in config
    (`season_days_only` / `skip_first_days`): a bootstrap rule also drops off-season dates."""
    dates = date_range(start, end)
    rules: list[str] = []
    if game_days_only:
        rules.append("game days only")
    if skip_first_days:
        rules.append(f"skip the first {skip_first_days} days of each season")
    if calendar is None:
        return DateSelection(start, end, dates, {}, 0, skip_first_days, game_days_only, rules)
    kept: list[dt.date] = []
    reasons: dict[dt.date, str] = {}
    game_days = 0
    filtering = game_days_only or skip_first_days > 0
    for d in dates:
        season = calendar.season_of(d)
        if season is not None:
            game_days += 1
        if not filtering:
            kept.append(d)
        elif season is None:
            reasons[d] = OFF_SEASON
        elif (d - season.start).days < skip_first_days:
            reasons[d] = f"first {skip_first_days} days of season {season.name} (from {season.start})"
        else:
            kept.append(d)
    excluded: dict[str, list[dt.date]] = {}
    for d, reason in reasons.items():
        excluded.setdefault(reason, []).append(d)
    return DateSelection(start, end, kept, excluded, game_days, skip_first_days, game_days_only, rules)


def write_selection(out: str | Path, selection: DateSelection) -> Path:
    """Write the kept dates to `out` atomically; a path that cannot be written is one line naming it."""
    try:
        return write_date_file(out, selection.kept)
    except UsageError as e:  # name the option too: the user typed `--out`
        raise UsageError(f"--out {e}") from None
