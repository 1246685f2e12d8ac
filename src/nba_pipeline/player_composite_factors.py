"""Phase job: nba_precompute.player_composite_factors, per player and game, from PRIOR games only.

For a game on date D the player's history is read from player_game_summary for dates in [season start, D],
one row per player-game (a game loaded twice counts once); every window ends at `1 PRECEDING` and a game takes
the factors of the player's first game of its day, so nothing from D itself or later enters a factor (no
look-ahead, also with two games on one day).
Averages over the last 5 and 10 games of the season (points, minutes, usage), games_prior, rest_days (days
between the previous game and this one minus one: 0 = back-to-back; NULL for the first game of the season),
back_to_back, usage_trend = usage_avg_last_5 - usage_avg_last_10.
Bootstrap rule: dates less than --bootstrap-days (14) after the season's start are skipped ("bootstrap").

    python -m nba_pipeline.player_composite_factors --start-date 2024-10-22 --end-date 2025-06-22
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any, Sequence

from backfill_orchestrator.dates import Calendar, load_calendar
from backfill_orchestrator.warehouse import Warehouse

from . import DEFAULT_SEASONS
from .jobkit import JobContext, main
from .sqljob import SqlDateProcessor
from .tables import COMPOSITE, PLAYER_GAME

BOOTSTRAP_DAYS = 14


def _w(frame: str) -> str:
    return f"OVER (PARTITION BY player_id ORDER BY game_date, game_id ROWS BETWEEN {frame})"


def _day_first(col: str) -> str:
    # the value of the player's first game of the day: its windows hold only earlier DATES, so a second game
    # on the same day never sees the first one (no same-day look-ahead)
    return f"FIRST_VALUE({col}) OVER (PARTITION BY player_id, game_date ORDER BY game_id) AS {col}"


_FACTORS = ("games_prior", "points_avg_last_5", "points_avg_last_10", "minutes_avg_last_5", "minutes_avg_last_10",
            "usage_avg_last_5", "usage_avg_last_10", "prev_date")

SELECT_SQL = f"""
WITH players AS (
  SELECT DISTINCT player_id FROM {PLAYER_GAME} WHERE game_date BETWEEN @start AND @end
), hist AS (
  -- one row per player-game even if a game was loaded twice (a copy must not count as a prior game)
  SELECT g.player_id, g.game_id, MAX(g.game_date) AS game_date, MAX(g.season) AS season,
    MAX(g.team_id) AS team_id, MAX(g.points) AS points, MAX(g.minutes_played) AS minutes_played,
    MAX(g.usage_rate) AS usage_rate
  FROM {PLAYER_GAME} AS g JOIN players AS pl ON pl.player_id = g.player_id
  WHERE g.game_date BETWEEN @season_start AND @end
  GROUP BY g.player_id, g.game_id
), w AS (
  SELECT player_id, game_id, game_date, season, team_id,
    COUNT(*) {_w("UNBOUNDED PRECEDING AND 1 PRECEDING")} AS games_prior,
    AVG(points) {_w("5 PRECEDING AND 1 PRECEDING")} AS points_avg_last_5,
    AVG(points) {_w("10 PRECEDING AND 1 PRECEDING")} AS points_avg_last_10,
    AVG(minutes_played) {_w("5 PRECEDING AND 1 PRECEDING")} AS minutes_avg_last_5,
    AVG(minutes_played) {_w("10 PRECEDING AND 1 PRECEDING")} AS minutes_avg_last_10,
    AVG(usage_rate) {_w("5 PRECEDING AND 1 PRECEDING")} AS usage_avg_last_5,
    AVG(usage_rate) {_w("10 PRECEDING AND 1 PRECEDING")} AS usage_avg_last_10,
    LAG(game_date) OVER (PARTITION BY player_id ORDER BY game_date, game_id) AS prev_date
  FROM hist
), d AS (
  SELECT player_id, game_id, game_date, season, team_id,
    {", ".join(_day_first(c) for c in _FACTORS)}
  FROM w
  WHERE game_date BETWEEN @start AND @end
)
SELECT player_id, game_id, game_date, season, team_id, games_prior,
  points_avg_last_5, points_avg_last_10, minutes_avg_last_5, minutes_avg_last_10,
  usage_avg_last_5, usage_avg_last_10, usage_avg_last_5 - usage_avg_last_10 AS usage_trend,
  DATE_DIFF(game_date, prev_date, DAY) - 1 AS rest_days,
  COALESCE(DATE_DIFF(game_date, prev_date, DAY) = 1, FALSE) AS back_to_back,
  CURRENT_TIMESTAMP() AS processed_at
FROM d
"""


class PlayerCompositeFactors(SqlDateProcessor):
    name = "player_composite_factors"
    module = "nba_pipeline.player_composite_factors"
    table = COMPOSITE
    select_sql = SELECT_SQL
    source_table = PLAYER_GAME

    def __init__(self, calendar: Calendar | None = None, bootstrap_days: int = BOOTSTRAP_DAYS) -> None:
        self.calendar = calendar
        self.bootstrap_days = bootstrap_days

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--seasons", default=str(DEFAULT_SEASONS), help="season calendar YAML")
        parser.add_argument("--bootstrap-days", type=int, default=BOOTSTRAP_DAYS,
                            help="skip dates this many days after a season's start (default 14)")

    def extra_argv(self, args: argparse.Namespace) -> list[str]:
        return ["--seasons", str(args.seasons), "--bootstrap-days", str(args.bootstrap_days)]

    def _calendar(self, ctx: JobContext | None) -> Calendar:
        if self.calendar is None:
            args = getattr(ctx, "args", None)
            self.calendar = load_calendar(getattr(args, "seasons", None) or DEFAULT_SEASONS)
            self.bootstrap_days = getattr(args, "bootstrap_days", self.bootstrap_days)
        return self.calendar

    def prepare(self, ctx: JobContext, dates: Sequence[dt.date]) -> None:
        self._calendar(ctx)
        super().prepare(ctx, dates)

    def params(self, ctx: JobContext | None, start: dt.date, end: dt.date) -> dict[str, Any]:
        season = self._calendar(ctx).season_of(start)
        if season is None or not season.contains(end):
            raise ValueError(f"{start}..{end} is not inside one season of the calendar")
        return {"start": start, "end": end, "season_start": season.start}

    def skip_reason(self, ctx: JobContext, d: dt.date) -> str | None:
        if d not in ctx.state["games"]:
            return "no games"
        if self._calendar(ctx).season_of(d) is None:
            return "outside the season calendar"
        if not self._calendar(ctx).bootstrap_ok(d, self.bootstrap_days):
            return f"bootstrap: first {self.bootstrap_days} days of the season"
        return None

    def batch_key(self, ctx: JobContext, d: dt.date) -> Any:
        cal = self._calendar(ctx)
        season = cal.season_of(d)
        return (season.name if season else None, cal.bootstrap_ok(d, self.bootstrap_days))

    def season_ranges(self, start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.date]]:
        """The parts of [start, end] that get factors, one per season (the set-based floor runs these)."""
        out = []
        for s in self._calendar(None).seasons:
            lo = max(start, s.start + dt.timedelta(days=self.bootstrap_days))
            hi = min(end, s.playoffs_end)
            if lo <= hi:
                out.append((lo, hi))
        return out

    def write_range(self, wh: Warehouse, start: dt.date, end: dt.date, ctx: JobContext | None = None) -> int:
        return sum(super(PlayerCompositeFactors, self).write_range(wh, lo, hi, ctx)
                   for lo, hi in self.season_ranges(start, end))


if __name__ == "__main__":
    sys.exit(main(PlayerCompositeFactors()))
