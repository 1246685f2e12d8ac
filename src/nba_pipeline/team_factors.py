"""Phase job: nba_precompute.team_game_factors, one row per team-game, from the teams' PRIOR games only.

For a team-game on date D, from nba_analytics.team_offense_game_summary of the same season, dates < D (a team
plays at most once a day; a game loaded twice counts once):
  team_pace_last_10, team_off_rating_last_10     the team's mean pace / offensive rating over its last 10 games
  opponent_def_rating_last_15                    the opponent's mean defensive rating (points it allowed per 100
                                                 of its opponents' possessions) over ITS last 15 games
  opponent_pace_last_15                          the opponent's mean pace over its last 15 games
Windows are "n preceding .. 1 preceding" over the team's games of the season; NULL when the team (opponent)
has no earlier game this season, never a default. A game whose opponent row is missing gives that game no
defensive rating (the mean skips it).

Fault flag (documented, for the demo's feature-gap scenario): `--null-opponent-defense D1..D2` writes
opponent_def_rating_last_15 as NULL on the team-games of those dates, as a precompute job that silently
failed to compute it would. An empty value means no fault (so a config can pass `${VAR:-}`).

    python -m nba_pipeline.team_factors --start-date 2024-10-22 --end-date 2025-06-22 --warehouse data/nba.duckdb
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any

from . import late_raw
from .faults import add_fault_flag, fault_argv, fault_range
from .jobkit import JobContext, main
from .sqljob import SqlDateProcessor
from .tables import TEAM_FACTORS, TEAM_OFFENSE

# a season is shorter than a year: history back to @start - 366 days holds every earlier game of its season
_HISTORY_DAYS = 366


def _window(n: int) -> str:
    return (f"OVER (PARTITION BY team_id, season ORDER BY game_date, game_id "
            f"ROWS BETWEEN {n} PRECEDING AND 1 PRECEDING)")


SELECT_SQL = f"""
WITH hist AS (
  -- one row per team-game even if a game was loaded twice
  SELECT game_id, team_id, MAX(game_date) AS game_date, MAX(season) AS season, MAX(opponent_id) AS opponent_id,
    MAX(pace) AS pace, MAX(offensive_rating) AS offensive_rating, MAX(points) AS points,
    MAX(possessions) AS possessions
  FROM {TEAM_OFFENSE}
  WHERE game_date BETWEEN DATE_SUB(@start, INTERVAL {_HISTORY_DAYS} DAY) AND @end
  GROUP BY game_id, team_id
), g AS (
  -- the defensive rating of a team in a game is the opponent's offense in it: points allowed per 100 possessions
  SELECT h.game_id, h.team_id, h.game_date, h.season, h.opponent_id, h.pace, h.offensive_rating,
    SAFE_DIVIDE(100 * o.points, o.possessions) AS def_rating
  FROM hist AS h LEFT JOIN hist AS o ON o.game_id = h.game_id AND o.team_id = h.opponent_id
), w AS (
  SELECT game_id, team_id, game_date, season, opponent_id,
    COUNT(*) {_window("UNBOUNDED")} AS games_prior,
    AVG(pace) {_window("10")} AS pace_last_10,
    AVG(offensive_rating) {_window("10")} AS off_rating_last_10,
    AVG(def_rating) {_window("15")} AS def_rating_last_15,
    AVG(pace) {_window("15")} AS pace_last_15
  FROM g
)
SELECT t.game_id, t.game_date, t.season, t.team_id, t.opponent_id,
  t.games_prior AS team_games_prior, t.pace_last_10 AS team_pace_last_10,
  t.off_rating_last_10 AS team_off_rating_last_10, o.games_prior AS opponent_games_prior,
  IF(t.game_date BETWEEN @gap_start AND @gap_end, NULL, o.def_rating_last_15) AS opponent_def_rating_last_15,
  o.pace_last_15 AS opponent_pace_last_15,
  CURRENT_TIMESTAMP() AS processed_at
FROM w AS t LEFT JOIN w AS o ON o.game_id = t.game_id AND o.team_id = t.opponent_id
WHERE t.game_date BETWEEN @start AND @end
"""

# the fault's range when no fault is injected: before any game
_NO_GAP = (dt.date(1900, 1, 1), dt.date(1900, 1, 1))


class TeamFactors(SqlDateProcessor):
    name = "team_defense_factors"
    module = "nba_pipeline.team_factors"
    table = TEAM_FACTORS
    select_sql = SELECT_SQL
    source_table = TEAM_OFFENSE

    def __init__(self, gap: tuple[dt.date, dt.date] | None = None) -> None:
        self.gap = gap

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_fault_flag(parser, "--null-opponent-defense", "write opponent_def_rating_last_15 as NULL on these dates")

    def extra_argv(self, args: argparse.Namespace) -> list[str]:
        return fault_argv(args, "--null-opponent-defense")

    def _gap(self, ctx: JobContext | None) -> tuple[dt.date, dt.date]:
        if self.gap is None and ctx is not None:
            self.gap = fault_range(ctx.args, "--null-opponent-defense") or _NO_GAP
        return self.gap or _NO_GAP

    def prepare(self, ctx: JobContext, dates: Any) -> None:
        if ctx.wh is not None and not ctx.dry_run:
            late_raw.land(ctx.wh)  # the demo's race: raw rows still loading when the team job ran land now
        gap = self._gap(ctx)
        if gap != _NO_GAP:
            print(f"FAULT INJECTED: opponent_def_rating_last_15 NULL on {gap[0]}..{gap[1]}", file=sys.stderr)
        super().prepare(ctx, dates)

    def params(self, ctx: JobContext | None, start: dt.date, end: dt.date) -> dict[str, Any]:
        gap = self._gap(ctx)
        return {"start": start, "end": end, "gap_start": gap[0], "gap_end": gap[1]}


if __name__ == "__main__":
    sys.exit(main(TeamFactors()))
