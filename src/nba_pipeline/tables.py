"""Schemas of the NBA tables: the contract between sample_data, the three processors and the validation suites."""
from __future__ import annotations

from backfill_orchestrator.warehouse import Column, Warehouse


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
TEAM_FACTORS = "nba_precompute.team_game_factors"

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
        "rest_days INT64, back_to_back BOOL, points_avg_season FLOAT64, points_std_last_10 FLOAT64, "
        "usage_avg_season FLOAT64, usage_spike FLOAT64, paint_rate_last_10 FLOAT64, mid_range_rate_last_10 FLOAT64, "
        "three_pt_rate_last_10 FLOAT64, assisted_rate_last_10 FLOAT64, is_home BOOL, processed_at TIMESTAMP"),
    TEAM_FACTORS: _cols(
        "game_id STRING, game_date DATE, season STRING, team_id STRING, opponent_id STRING, "
        "team_games_prior INT64, team_pace_last_10 FLOAT64, team_off_rating_last_10 FLOAT64, "
        "opponent_games_prior INT64, opponent_def_rating_last_15 FLOAT64, opponent_pace_last_15 FLOAT64, "
        "processed_at TIMESTAMP"),
}


_PLAYED = "over the player's last {n} PLAYED games (minutes > 0) of the season before this game's date"

# One line per derived column: what it means and how it is computed (docs/metrics.md has the sources).
DESCRIPTIONS: dict[str, dict[str, str]] = {
    TEAM_OFFENSE: {
        "game_id": "game (natural key with team_id)",
        "game_date": "date of the game",
        "season": "season name, e.g. 2024-25",
        "team_id": "team of this row (natural key with game_id)",
        "opponent_id": "the other team of the game",
        "overtime_periods": "overtime periods, from the schedule (else (minutes - 240) / 25)",
        "minutes": "team minutes played: 240 + 25 per overtime period",
        "points": "team points", "fg_makes": "field goals made", "fg_attempts": "field goals attempted",
        "three_makes": "three-pointers made", "three_attempts": "three-pointers attempted",
        "ft_makes": "free throws made", "ft_attempts": "free throws attempted",
        "offensive_rebounds": "offensive rebounds", "defensive_rebounds": "defensive rebounds",
        "assists": "assists", "turnovers": "turnovers",
        "possessions": "team possessions estimate: FGA - OREB + TOV + 0.44 * FTA",
        "pace": "possessions per 48 minutes of BOTH teams: 48 * (Tm Poss + Opp Poss) / (2 * (Tm MP / 5)); "
                "the same value on both rows of a game",
        "offensive_rating": "points per 100 possessions: 100 * PTS / possessions",
        "processed_at": "when the row was written",
    },
    PLAYER_GAME: {
        "game_id": "game (natural key with player_id)", "game_date": "date of the game", "season": "season name",
        "team_id": "the player's team in this game", "player_id": "player (natural key with game_id)",
        "player_name": "player name", "starter": "started the game",
        "minutes_played": "minutes played; 0 = did not play (DNP)",
        "points": "points", "fg_makes": "field goals made", "fg_attempts": "field goals attempted",
        "three_makes": "three-pointers made", "three_attempts": "three-pointers attempted",
        "ft_makes": "free throws made", "ft_attempts": "free throws attempted",
        "offensive_rebounds": "offensive rebounds", "defensive_rebounds": "defensive rebounds",
        "rebounds": "offensive_rebounds + defensive_rebounds", "assists": "assists", "steals": "steals",
        "blocks": "blocks", "turnovers": "turnovers", "personal_fouls": "personal fouls",
        "usage_rate": "100 * (FGA + 0.44 * FTA + TOV) * (Tm MP / 5) / (MP * (Tm FGA + 0.44 * Tm FTA + Tm TOV)); "
                      "NULL when MP = 0 or the team row is missing",
        "true_shooting_pct": "PTS / (2 * (FGA + 0.44 * FTA)); NULL without attempts",
        "paint_attempts": "shots in the paint (NULL where no shot-zone data)", "paint_makes": "paint makes",
        "mid_range_attempts": "two-point shots outside the paint", "mid_range_makes": "mid-range makes",
        "assisted_fg_makes": "field goals made on an assist (shot-zone data)",
        "processed_at": "when the row was written",
    },
    COMPOSITE: {
        "player_id": "player (natural key with game_id; also unique per game_date)",
        "game_id": "the game the factors are for (a did-not-play game gets a row too)",
        "game_date": "date of the game (>= season start + 14 days: the bootstrap rule)",
        "season": "season name", "team_id": "the player's team in this game",
        "games_prior": "games the player PLAYED (minutes > 0) this season before this game's date",
        "points_avg_last_5": "mean points " + _PLAYED.format(n=5),
        "points_avg_last_10": "mean points " + _PLAYED.format(n=10),
        "minutes_avg_last_5": "mean minutes " + _PLAYED.format(n=5),
        "minutes_avg_last_10": "mean minutes " + _PLAYED.format(n=10),
        "usage_avg_last_5": "mean usage_rate " + _PLAYED.format(n=5) + " (NULL usage values skipped)",
        "usage_avg_last_10": "mean usage_rate " + _PLAYED.format(n=10) + " (NULL usage values skipped)",
        "usage_trend": "usage_avg_last_5 - usage_avg_last_10",
        "rest_days": "days between the last game PLAYED and this game, minus one (0 = back-to-back); "
                     "NULL before the first game played",
        "back_to_back": "the last game PLAYED was the day before",
        "points_avg_season": "mean points over the player's PLAYED games of the season before this game's date",
        "points_std_last_10": "sample standard deviation (n - 1) of points " + _PLAYED.format(n=10)
                              + "; NULL with fewer than 2 such games",
        "usage_avg_season": "mean usage_rate over the player's PLAYED games of the season before this game's date",
        "usage_spike": "usage_avg_last_5 - usage_avg_season (usage points above the season level)",
        "paint_rate_last_10": "100 * paint attempts / FGA " + _PLAYED.format(n=10)
                              + ", over the games with shot-zone data; NULL if none has it",
        "mid_range_rate_last_10": "100 * mid-range attempts / FGA " + _PLAYED.format(n=10)
                                  + ", over the games with shot-zone data; NULL if none has it",
        "three_pt_rate_last_10": "100 * three-point attempts / FGA " + _PLAYED.format(n=10)
                                 + " (box score); NULL without attempts",
        "assisted_rate_last_10": "100 * assisted makes / FGM " + _PLAYED.format(n=10)
                                 + ", over the games with shot-zone data; NULL if none has it",
        "is_home": "the player's team is the home team of the game (schedule); NULL without a schedule row",
        "processed_at": "when the row was written",
    },
    TEAM_FACTORS: {
        "game_id": "game (natural key with team_id)", "game_date": "date of the game", "season": "season name",
        "team_id": "team of this row", "opponent_id": "the other team of the game",
        "team_games_prior": "games the team played this season before this game's date",
        "team_pace_last_10": "mean pace over the team's last 10 games of the season before this game's date",
        "team_off_rating_last_10": "mean offensive_rating over the team's last 10 games of the season before "
                                   "this game's date",
        "opponent_games_prior": "games the opponent played this season before this game's date",
        "opponent_def_rating_last_15": "the opponent's mean defensive rating (points it allowed per 100 of its "
                                       "opponents' possessions) over its last 15 games of the season before "
                                       "this game's date; NULL before its first game",
        "opponent_pace_last_15": "the opponent's mean pace over its last 15 games of the season before this "
                                 "game's date",
        "processed_at": "when the row was written",
    },
}


# How BigQuery stores the derived tables: DAY partitions on the date column, so that a per-date DELETE or SELECT
# (every one of them filters on game_date) reads only its own partitions; clustered by the natural key, the
# columns the joins and the uniqueness checks use. DuckDB has neither and ignores this.
PARTITION_COLUMN = "game_date"
CLUSTERING: dict[str, tuple[str, ...]] = {
    TEAM_OFFENSE: ("team_id", "game_id"), PLAYER_GAME: ("player_id", "game_id"), COMPOSITE: ("player_id",),
    TEAM_FACTORS: ("team_id", "game_id"),
}


def create_derived(wh: Warehouse, table: str) -> str | None:
    """Create a derived table if missing, partitioned and clustered on BigQuery. Returns a warning when the
    table already exists on BigQuery without that layout (BigQuery cannot add partitioning to a table in place)."""
    if wh.dialect != "bigquery":
        wh.create_table(table, DERIVED[table])
        return None
    wh.create_table(table, DERIVED[table], partition_by=PARTITION_COLUMN,  # type: ignore[call-arg]
                    cluster_by=CLUSTERING[table])
    t = wh.get_table(table)  # type: ignore[attr-defined]
    part = t.time_partitioning.field if t.time_partitioning else None
    if part != PARTITION_COLUMN or tuple(t.clustering_fields or ()) != CLUSTERING[table]:
        return (f"{table} exists without DAY partitioning on {PARTITION_COLUMN} and clustering by "
                f"{', '.join(CLUSTERING[table])}: every per-date statement scans the whole table; recreate it "
                "(docs/bigquery.md#partitioned-and-clustered-tables)")
    return None


def column_names(table: str) -> list[str]:
    return [c.name for c in {**RAW, **DERIVED}[table]]


# The natural key of each table: at most one row per key and date (the `unique` checks of the suites).
KEYS: dict[str, tuple[str, ...]] = {
    SCHEDULE: ("game_id",), TEAM_BOX: ("game_id", "team_id"), PLAYER_BOX: ("game_id", "player_id"),
    SHOT_ZONES: ("game_id", "player_id"),
    TEAM_OFFENSE: ("game_id", "team_id"), PLAYER_GAME: ("game_id", "player_id"), COMPOSITE: ("player_id", "game_date"),
}


def dedup_order(table: str) -> list[str]:
    """The de-duplication rule of a raw table: of the rows sharing a key, the FIRST in this order is kept.
    Minutes first, then the other columns in schema order, each largest first, NULLs last: a box score
    reloaded during or after a game only grows, so the fullest copy wins; only identical copies tie, and
    those are interchangeable. The order never depends on load order, so re-runs keep the same row."""
    keys = set(KEYS[table])
    cols = [c for c in column_names(table) if c not in keys]
    cols.sort(key=lambda c: c not in ("minutes",))  # stable: minutes first, the rest in schema order
    return [f"{c} DESC NULLS LAST" for c in cols]


def deduped(table: str, where: str) -> str:
    """`table` filtered by `where`, one row per natural key (see dedup_order), as a FROM-able subquery."""
    cols = ", ".join(column_names(table))
    return (f"(SELECT {cols} FROM (\n"
            f"  SELECT {cols}, ROW_NUMBER() OVER (PARTITION BY {', '.join(KEYS[table])}\n"
            f"    ORDER BY {', '.join(dedup_order(table))}) AS bf_copy\n"
            f"  FROM {table} WHERE {where}\n"
            f") AS copies WHERE bf_copy = 1)")
