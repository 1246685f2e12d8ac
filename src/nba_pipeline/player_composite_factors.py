"""Phase job: nba_precompute.player_composite_factors, per player and game, from PRIOR games only.

For a game on date D the player's history is read from player_game_summary for dates in [season start, D],
one row per player-game (a game loaded twice counts once). Only games the player PLAYED (minutes > 0) count:
every window, games_prior, rest_days and back_to_back are over the same played games, strictly before D (a
game takes the factors of the player's first game of its day, so nothing from D itself or later enters a
factor: no look-ahead, also with two games on one day). A did-not-play game still gets a row (the factors
describe the player going into it); it is just never a "prior game" of a later one.
Averages over the last 5 and 10 played games of the season (points, minutes, usage), games_prior (played
games so far this season), rest_days (days between the last game played and this one minus one: 0 =
back-to-back; NULL before the first game played), back_to_back, usage_trend = usage_avg_last_5 -
usage_avg_last_10. docs/metrics.md has every formula.
Bootstrap rule: the first factor date of a season is its start + --bootstrap-days (14): dates with
(date - season start) < 14 days, i.e. the start date and the 13 days after it, are skipped ("bootstrap").

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
from .tables import COMPOSITE, PLAYER_GAME, SCHEDULE

BOOTSTRAP_DAYS = 14


def _played(frame: str) -> str:
    # windows over the player's PLAYED games of the season only (DNP rows are not in `played`)
    return f"OVER (PARTITION BY player_id ORDER BY game_date, game_id ROWS BETWEEN {frame})"


def _day_first(col: str) -> str:
    # the value of the player's first game of the day: its windows hold only earlier DATES, so a second game
    # on the same day never sees the first one (no same-day look-ahead)
    return f"FIRST_VALUE({col}) OVER (PARTITION BY player_id, game_date ORDER BY game_id) AS {col}"


_FACTORS = ("games_prior", "points_avg_last_5", "points_avg_last_10", "minutes_avg_last_5", "minutes_avg_last_10",
            "usage_avg_last_5", "usage_avg_last_10", "prev_date",
            # the model features (docs/training.md): season-to-date levels, spread, shot mix over the last 10
            "points_avg_season", "points_std_last_10", "usage_avg_season", "paint_rate_last_10",
            "mid_range_rate_last_10", "three_pt_rate_last_10", "assisted_rate_last_10")

# Shot-zone rates: sums over the last 10 PLAYED games, each ratio over the games that have the numerator's data
# (play-by-play exists for ~45% of games), so a game without zones neither adds attempts nor dilutes the rate.
# NULL when none of the 10 games has the data (unknowable; never a default).
_L10 = "9 PRECEDING AND CURRENT ROW"
_ZONE_RATES = f"""
    100 * SAFE_DIVIDE(SUM(paint_attempts) {_played(_L10)},
                      SUM(IF(paint_attempts IS NULL, NULL, fg_attempts)) {_played(_L10)}) AS paint_rate_last_10,
    100 * SAFE_DIVIDE(SUM(mid_range_attempts) {_played(_L10)},
                      SUM(IF(mid_range_attempts IS NULL, NULL, fg_attempts)) {_played(_L10)}) AS mid_range_rate_last_10,
    100 * SAFE_DIVIDE(SUM(three_attempts) {_played(_L10)}, SUM(fg_attempts) {_played(_L10)}) AS three_pt_rate_last_10,
    100 * SAFE_DIVIDE(SUM(assisted_fg_makes) {_played(_L10)},
                      SUM(IF(assisted_fg_makes IS NULL, NULL, fg_makes)) {_played(_L10)}) AS assisted_rate_last_10"""

# A season-long frame of FLOAT64 added in a different order gives different last bits: DuckDB's window segment
# tree adds a frame's rows in blocks aligned to the sorted run of ALL players, so the order depends on which
# rows a batch reads. So usage_rate is split into three INT64 limbs (x * 2^20 = a + b / 2^26 + c / 2^52, each
# step exact in FLOAT64; nothing is lost above 2^-72), whose sums are exact in any order, and the mean is
# rebuilt from them by one fixed sequence of operations: the same to the last bit whatever the batch, on
# every engine (BIGNUMERIC would do it too, but the BigQuery emulator rounds it to 5 decimals). Short frames
# (<= 15 rows) are always added row by row, and points are integers: exact already.
_LIMBS = ("usage_l1", "usage_l2", "usage_l3")
_TO_LIMBS = """,
    CAST(FLOOR(usage_rate * 1048576) AS INT64) AS usage_l1,
    CAST(FLOOR((usage_rate * 1048576 - FLOOR(usage_rate * 1048576)) * 67108864) AS INT64) AS usage_l2,
    CAST(FLOOR(((usage_rate * 1048576 - FLOOR(usage_rate * 1048576)) * 67108864
                - FLOOR((usage_rate * 1048576 - FLOOR(usage_rate * 1048576)) * 67108864)) * 67108864) AS INT64)
      AS usage_l3"""


def _exact_season_mean(frame: str) -> str:
    l1, l2, l3 = (f"SUM({c}) {_played(frame)}" for c in _LIMBS)
    return (f"SAFE_DIVIDE(((CAST({l3} AS FLOAT64) / 67108864 + {l2}) / 67108864 + {l1}) / 1048576, "
            f"COUNT(usage_rate) {_played(frame)})")


# Every player-game of the range gets a row (a DNP too: the factors describe the player going INTO the game).
# Its factors come from the player's last PLAYED game strictly before it (`last_played`): the windows are
# computed once along the played games (each ending at that game, inclusive), and a game looks them up by
# the ordinal of the last played game before it, so all windows and games_prior/rest_days/back_to_back count
# the same played games.
SELECT_SQL = f"""
WITH players AS (
  SELECT DISTINCT player_id FROM {PLAYER_GAME} WHERE game_date BETWEEN @start AND @end
), hist AS (
  -- one row per player-game even if a game was loaded twice (a copy must not count as a prior game)
  SELECT g.player_id, g.game_id, MAX(g.game_date) AS game_date, MAX(g.season) AS season,
    MAX(g.team_id) AS team_id, MAX(g.points) AS points, MAX(g.minutes_played) AS minutes_played,
    MAX(g.usage_rate) AS usage_rate, MAX(g.fg_attempts) AS fg_attempts, MAX(g.fg_makes) AS fg_makes,
    MAX(g.three_attempts) AS three_attempts, MAX(g.paint_attempts) AS paint_attempts,
    MAX(g.mid_range_attempts) AS mid_range_attempts, MAX(g.assisted_fg_makes) AS assisted_fg_makes
  FROM {PLAYER_GAME} AS g JOIN players AS pl ON pl.player_id = g.player_id
  WHERE g.game_date BETWEEN @season_start AND @end
  GROUP BY g.player_id, g.game_id
), seq AS (
  SELECT *, COALESCE(minutes_played > 0, FALSE) AS played,
    ROW_NUMBER() OVER (PARTITION BY player_id ORDER BY game_date, game_id) AS ord{_TO_LIMBS}
  FROM hist
), played AS (
  SELECT player_id, ord, game_date AS prev_date,
    ROW_NUMBER() OVER (PARTITION BY player_id ORDER BY game_date, game_id) AS games_prior,
    AVG(points) {_played("4 PRECEDING AND CURRENT ROW")} AS points_avg_last_5,
    AVG(points) {_played("9 PRECEDING AND CURRENT ROW")} AS points_avg_last_10,
    AVG(minutes_played) {_played("4 PRECEDING AND CURRENT ROW")} AS minutes_avg_last_5,
    AVG(minutes_played) {_played("9 PRECEDING AND CURRENT ROW")} AS minutes_avg_last_10,
    AVG(usage_rate) {_played("4 PRECEDING AND CURRENT ROW")} AS usage_avg_last_5,
    AVG(usage_rate) {_played("9 PRECEDING AND CURRENT ROW")} AS usage_avg_last_10,
    AVG(points) {_played("UNBOUNDED PRECEDING AND CURRENT ROW")} AS points_avg_season,
    STDDEV_SAMP(points) {_played(_L10)} AS points_std_last_10,
    {_exact_season_mean("UNBOUNDED PRECEDING AND CURRENT ROW")} AS usage_avg_season,{_ZONE_RATES}
  FROM seq WHERE played
), last_played AS (
  SELECT player_id, game_id, game_date, season, team_id,
    MAX(IF(played, ord, NULL)) OVER (PARTITION BY player_id ORDER BY ord
                                     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_ord
  FROM seq
), w AS (
  SELECT l.player_id, l.game_id, l.game_date, l.season, l.team_id, COALESCE(p.games_prior, 0) AS games_prior,
    p.points_avg_last_5, p.points_avg_last_10, p.minutes_avg_last_5, p.minutes_avg_last_10,
    p.usage_avg_last_5, p.usage_avg_last_10, p.prev_date, p.points_avg_season, p.points_std_last_10,
    p.usage_avg_season, p.paint_rate_last_10, p.mid_range_rate_last_10, p.three_pt_rate_last_10,
    p.assisted_rate_last_10
  FROM last_played AS l LEFT JOIN played AS p ON p.player_id = l.player_id AND p.ord = l.prev_ord
  WHERE l.game_date BETWEEN @start AND @end
), d AS (
  SELECT player_id, game_id, game_date, season, team_id,
    {", ".join(_day_first(c) for c in _FACTORS)}
  FROM w
)
SELECT d.player_id, d.game_id, d.game_date, d.season, d.team_id, games_prior,
  points_avg_last_5, points_avg_last_10, minutes_avg_last_5, minutes_avg_last_10,
  usage_avg_last_5, usage_avg_last_10, usage_avg_last_5 - usage_avg_last_10 AS usage_trend,
  DATE_DIFF(d.game_date, prev_date, DAY) - 1 AS rest_days,
  COALESCE(DATE_DIFF(d.game_date, prev_date, DAY) = 1, FALSE) AS back_to_back,
  points_avg_season, points_std_last_10, usage_avg_season, usage_avg_last_5 - usage_avg_season AS usage_spike,
  paint_rate_last_10, mid_range_rate_last_10, three_pt_rate_last_10, assisted_rate_last_10,
  d.team_id = s.home_team_id AS is_home,
  CURRENT_TIMESTAMP() AS processed_at
FROM d
LEFT JOIN (
  -- one row per game even if the schedule holds a game twice; no schedule row: is_home unknown (NULL)
  SELECT game_id, MAX(home_team_id) AS home_team_id FROM {SCHEDULE}
  WHERE game_date BETWEEN @start AND @end GROUP BY game_id
) AS s ON s.game_id = d.game_id
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
                            help="skip each season's first N days: the first factor date is season start + N "
                                 "(default 14)")

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
