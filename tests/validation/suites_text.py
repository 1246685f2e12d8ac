"""The test suite covering every check type over tests/validation/conftest.py's tables."""

ALL = """
suite: players
table: vt.player_games
date_column: game_date
key_columns: [game_id, team_id, player_id]
baseline: previous_31_days
examples: 3
checks:
  - {name: usage_coverage, type: coverage, column: usage_rate, where: "points IS NOT NULL", min: 95%}
  - {name: zone_coverage, type: coverage, column: paint, severity: warning, min: 40%}
  - {name: rows_vs_raw, type: row_count, compare_to: {table: vt.raw_players}, min: 100%, max: 100%}
  - {name: rows_absolute, type: row_count, min: 100}
  - {name: player_game_key, type: unique, columns: [game_id, player_id]}
  - {name: raw_player_game_key, type: unique, columns: [game_id, player_id], table: vt.raw_players}
  - {name: games_vs_raw, type: distinct_count, column: game_id, compare_to: {table: vt.raw_players}, min: 100%}
  - {name: dates_complete, type: completeness, compare_to: {table: vt.raw_players}}
  - {name: points_range, type: range, column: points, allowed: {min: 0, max: 100}}
  - {name: usage_mean, type: statistics, column: usage_rate, stat: mean, between: [17, 23]}
  - {name: usage_stddev, type: statistics, column: usage_rate, stat: stddev, max: 2}
  - {name: points_p90, type: statistics, column: points, stat: quantile, quantile: 0.9, between: [20, 25]}
  - {name: usage_regression, type: regression, metric: coverage, column: usage_rate, regression: 90%, degradation: 97%}
  - {name: rows_regression, type: regression, metric: row_count, regression: 80%, severity: warning}
  - {name: usage_drops, type: temporal, metric: coverage, column: usage_rate, window: 5, drop_below: 50%}
  - {name: fga_zones, type: consistency, expression: fga, expected: paint + mid + three, where: paint IS NOT NULL}
  - name: minutes_per_team_game
    type: consistency
    group_by: [game_id, team_id]
    expression: SUM(minutes)
    expected: {table: vt.team_games, expression: "MAX(240 + 25 * overtime)"}
    tolerance: 0.5
  - {name: usage_sum, type: consistency, group_by: [game_id, team_id], expression: SUM(usage_rate), expected: 100, tolerance: 1}
  - name: team_points
    type: consistency
    group_by: [game_id, team_id]
    expression: SUM(points)
    expected: {table: vt.team_games, expression: SUM(points)}
  - name: max_points_sql
    type: custom_sql
    sql: SELECT MAX(points) FROM vt.player_games WHERE game_date BETWEEN @start AND @end
    max: 100
  - name: negative_minutes_sql
    type: custom_sql
    returns: rows
    sql: SELECT game_id, player_id FROM vt.player_games WHERE game_date BETWEEN @start AND @end AND minutes < 0
"""
