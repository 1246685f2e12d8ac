"""Phase job: nba_analytics.player_game_summary, one row per player-game.

usage_rate = 100 * (FGA + 0.44*FTA + TOV) * (TmMIN / 5) / (MIN * (TmFGA + 0.44*TmFTA + TmTOV)), the team
figures from team_offense_game_summary (TmMIN = 240 + 25 * OT). SAFE_DIVIDE and a LEFT JOIN make it NULL
exactly when the team row is missing or MIN = 0; a real 0.0 stays 0.0. true_shooting_pct =
PTS / (2 * (FGA + 0.44*FTA)). Shot zones from nba_raw.shot_zones, NULL where no play-by-play exists.
Raw rows are de-duplicated per (game_id, player_id) by the documented rule (tables.dedup_order), so a game
loaded twice yields one row per player-game. docs/metrics.md has every formula and its source.

    python -m nba_pipeline.player_game_summary --start-date 2024-10-22 --end-date 2025-06-22
"""
from __future__ import annotations

import datetime as dt
import sys
from typing import Sequence

from . import late_raw
from .jobkit import JobContext, main
from .sqljob import SqlDateProcessor
from .tables import PLAYER_BOX, PLAYER_GAME, SHOT_ZONES, TEAM_OFFENSE, deduped

SELECT_SQL = f"""
SELECT p.game_id, p.game_date, p.season, p.team_id, p.player_id, p.player_name, p.starter,
  p.minutes AS minutes_played, p.points, p.fg_makes, p.fg_attempts, p.three_makes, p.three_attempts,
  p.ft_makes, p.ft_attempts, p.offensive_rebounds, p.defensive_rebounds,
  p.offensive_rebounds + p.defensive_rebounds AS rebounds,
  p.assists, p.steals, p.blocks, p.turnovers, p.personal_fouls,
  SAFE_DIVIDE(100 * (p.fg_attempts + 0.44 * p.ft_attempts + p.turnovers) * (t.minutes / 5),
              p.minutes * (t.fg_attempts + 0.44 * t.ft_attempts + t.turnovers)) AS usage_rate,
  SAFE_DIVIDE(p.points, 2 * (p.fg_attempts + 0.44 * p.ft_attempts)) AS true_shooting_pct,
  z.paint_attempts, z.paint_makes, z.mid_range_attempts, z.mid_range_makes, z.assisted_fg_makes,
  CURRENT_TIMESTAMP() AS processed_at
FROM {deduped(PLAYER_BOX, "game_date BETWEEN @start AND @end")} AS p
LEFT JOIN (
  -- one team row per team-game, even in a table written before its job de-duplicated raw input
  SELECT game_id, team_id, MAX(minutes) AS minutes, MAX(fg_attempts) AS fg_attempts,
         MAX(ft_attempts) AS ft_attempts, MAX(turnovers) AS turnovers
  FROM {TEAM_OFFENSE} WHERE game_date BETWEEN @start AND @end GROUP BY game_id, team_id
) AS t ON t.game_id = p.game_id AND t.team_id = p.team_id
LEFT JOIN {deduped(SHOT_ZONES, "game_date BETWEEN @start AND @end")} AS z
  ON z.game_id = p.game_id AND z.player_id = p.player_id
"""


class PlayerGameSummary(SqlDateProcessor):
    name = "player_game_summary"
    module = "nba_pipeline.player_game_summary"
    table = PLAYER_GAME
    select_sql = SELECT_SQL
    source_table = PLAYER_BOX

    def prepare(self, ctx: JobContext, dates: Sequence[dt.date]) -> None:
        if ctx.wh is not None and not ctx.dry_run:
            late_raw.land(ctx.wh)  # the demo's race: raw rows still loading when the team job ran land now
        super().prepare(ctx, dates)


if __name__ == "__main__":
    sys.exit(main(PlayerGameSummary()))
