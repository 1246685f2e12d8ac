"""Phase job: nba_analytics.team_offense_game_summary, one row per team-game, from nba_raw.team_box_scores.

possessions = FGA - OREB + TOV + 0.44 * FTA (the common one-team estimate); pace as Basketball-Reference
defines it, from BOTH teams' possessions: 48 * ((Tm Poss + Opp Poss) / (2 * (Tm MP / 5))), so both rows of a
game carry the same pace (NULL when the opponent's box score is missing); offensive_rating = points per 100
possessions. Overtime comes from the schedule (minutes = 240 + 25 * OT in the team box score).
docs/metrics.md has every formula and its source.

    python -m nba_pipeline.team_offense --start-date 2024-10-22 --end-date 2025-06-22 --warehouse data/nba.duckdb

Fault flag (documented, for the demo's race scenario): `--late-raw D1..D2` - the raw team box scores of those
dates are still being loaded when this job first runs, and land when the next job starts (late_raw.py).
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

from . import late_raw
from .jobkit import JobContext, main
from .sqljob import SqlDateProcessor
from .tables import SCHEDULE, TEAM_BOX, TEAM_OFFENSE, deduped
from .faults import add_fault_flag, fault_argv, fault_range

def _poss(alias: str) -> str:
    return f"({alias}.fg_attempts - {alias}.offensive_rebounds + {alias}.turnovers + 0.44 * {alias}.ft_attempts)"


_POSS = _poss("t")

SELECT_SQL = f"""
WITH box AS (
  -- one row per team-game even if a game was loaded twice (the rule: tables.dedup_order, docs/metrics.md)
  SELECT * FROM {deduped(TEAM_BOX, "game_date BETWEEN @start AND @end")} AS b
)
SELECT t.game_id, t.game_date, t.season, t.team_id, t.opponent_id,
  COALESCE(s.overtime_periods, CAST(ROUND((t.minutes - 240) / 25) AS INT64)) AS overtime_periods,
  t.minutes, t.points, t.fg_makes, t.fg_attempts, t.three_makes, t.three_attempts, t.ft_makes, t.ft_attempts,
  t.offensive_rebounds, t.defensive_rebounds, t.assists, t.turnovers,
  {_POSS} AS possessions,
  SAFE_DIVIDE(48 * ({_POSS} + {_poss("o")}), 2 * (t.minutes / 5)) AS pace,
  SAFE_DIVIDE(100 * t.points, {_POSS}) AS offensive_rating,
  CURRENT_TIMESTAMP() AS processed_at
FROM box AS t
LEFT JOIN box AS o ON o.game_id = t.game_id AND o.team_id = t.opponent_id
LEFT JOIN (
  -- one row per game even if the schedule holds a game twice
  SELECT game_id, MAX(overtime_periods) AS overtime_periods FROM {SCHEDULE}
  WHERE game_date BETWEEN @start AND @end GROUP BY game_id
) AS s ON s.game_id = t.game_id
"""


class TeamOffense(SqlDateProcessor):
    name = "team_offense_game_summary"
    module = "nba_pipeline.team_offense"
    table = TEAM_OFFENSE
    select_sql = SELECT_SQL
    source_table = TEAM_BOX

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_fault_flag(parser, "--late-raw", "the raw team box scores of these dates land only after this job's "
                       "first run (nba_pipeline/late_raw.py)")

    def extra_argv(self, args: argparse.Namespace) -> list[str]:
        return fault_argv(args, "--late-raw")

    def prepare(self, ctx: JobContext, dates: Any) -> None:
        late = fault_range(ctx.args, "--late-raw")
        if late is not None and ctx.wh is not None and not ctx.dry_run:
            late_raw.stage(ctx.wh, *late)
        super().prepare(ctx, dates)


if __name__ == "__main__":
    sys.exit(main(TeamOffense()))
