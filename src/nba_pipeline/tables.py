"""Schemas of the NBA tables: the contract between sample_data, the three processors and the validation suites."""
from __future__ import annotations

from backfill_orchestrator.warehouse import Column


def _cols(spec: str) -> tuple[Column, ...]:
    # "name TYPE, name TYPE, ..." keeps the long schemas readable next to the brief's contract
    out = []
    for part in spec.split(","):
        name, typ = part.split()
        out.append(Column(name, typ))
    return tuple(out)


_BOX = ("points INT64, fg_makes INT64, fg_attempts INT64, three_makes INT64, three_attempts INT64, ft_makes INT64, "
        "ft_attempts INT64, offensive_rebounds INT64, defensive_rebounds INT64, assists INT64, steals INT64, "
        "blocks INT64, turnovers INT64, personal_fouls INT64")

SCHEDULE = "nba_raw.schedule"
TEAM_BOX = "nba_raw.team_box_scores"
PLAYER_BOX = "nba_raw.player_box_scores"
SHOT_ZONES = "nba_raw.shot_zones"
TEAM_OFFENSE = "nba_analytics.team_offense_game_summary"
PLAYER_GAME = "nba_analytics.player_game_summary"
COMPOSITE = "nba_precompute.player_composite_factors"

RAW: dict[str, tuple[Column, ...]] = {
    SCHEDULE: _cols("game_id STRING, game_date DATE, season STRING, home_team_id STRING, away_team_id STRING, "
                    "overtime_periods INT64, game_type STRING"),
    TEAM_BOX: _cols("game_id STRING, game_date DATE, season STRING, team_id STRING, opponent_id STRING, "
                    "is_home BOOL, minutes INT64, " + _BOX),
    PLAYER_BOX: _cols("game_id STRING, game_date DATE, season STRING, team_id STRING, player_id STRING, "
                      "player_name STRING, starter BOOL, minutes FLOAT64, " + _BOX),
    SHOT_ZONES: _cols("game_id STRING, game_date DATE, player_id STRING, team_id STRING, paint_attempts INT64, "
                      "paint_makes INT64, mid_range_attempts INT64, mid_range_makes INT64, three_attempts INT64, "
                      "three_makes INT64, assisted_fg_makes INT64"),
}

DERIVED: dict[str, tuple[Column, ...]] = {
    TEAM_OFFENSE: _cols(
        "game_id STRING, game_date DATE, season STRING, team_id STRING, opponent_id STRING, overtime_periods INT64, "
        "minutes INT64, points INT64, fg_makes INT64, fg_attempts INT64, three_makes INT64, three_attempts INT64, "
        "ft_makes INT64, ft_attempts INT64, offensive_rebounds INT64, defensive_rebounds INT64, assists INT64, "
        "turnovers INT64, possessions FLOAT64, pace FLOAT64, offensive_rating FLOAT64, processed_at TIMESTAMP"),
    PLAYER_GAME: _cols(
        "game_id STRING, game_date DATE, season STRING, team_id STRING, player_id STRING, player_name STRING, "
        "starter BOOL, minutes_played FLOAT64, points INT64, fg_makes INT64, fg_attempts INT64, three_makes INT64, "
        "three_attempts INT64, ft_makes INT64, ft_attempts INT64, offensive_rebounds INT64, "
        "defensive_rebounds INT64, rebounds INT64, assists INT64, steals INT64, blocks INT64, turnovers INT64, "
        "personal_fouls INT64, usage_rate FLOAT64, true_shooting_pct FLOAT64, paint_attempts INT64, "
        "paint_makes INT64, mid_range_attempts INT64, mid_range_makes INT64, assisted_fg_makes INT64, "
        "processed_at TIMESTAMP"),
    COMPOSITE: _cols(
        "player_id STRING, game_id STRING, game_date DATE, season STRING, team_id STRING, games_prior INT64, "
        "points_avg_last_5 FLOAT64, points_avg_last_10 FLOAT64, minutes_avg_last_5 FLOAT64, "
        "minutes_avg_last_10 FLOAT64, usage_avg_last_5 FLOAT64, usage_avg_last_10 FLOAT64, usage_trend FLOAT64, "
        "rest_days INT64, back_to_back BOOL, processed_at TIMESTAMP"),
}


def column_names(table: str) -> list[str]:
    return [c.name for c in {**RAW, **DERIVED}[table]]
