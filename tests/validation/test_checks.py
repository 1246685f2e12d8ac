"""Every check type on DuckDB and on BigQuery (emulator): clean data passes, each fault fails the right check."""
from __future__ import annotations

import datetime as dt
import statistics
from pathlib import Path

import pytest
from valdata import PLAYERS, RANGE, Faults, build, write_suite
from suites_text import ALL

from backfill_orchestrator.dates import load_calendar
from backfill_orchestrator.validation import Status, load_suites, run_suite

ROOT = Path(__file__).resolve().parents[2]


def run(wh, suite_dir, faults=Faults(), text=ALL, **kw):
    build(wh, faults)
    suite = load_suites([write_suite(suite_dir, text)])["players"]
    result = run_suite(wh, suite, *RANGE, **kw)
    return result, {c.name: c for c in result.checks}


def test_clean_data_passes_every_check_in_few_statements(wh, suite_dir):
    result, checks = run(wh, suite_dir)
    bad = {n: (c.status, c.evidence) for n, c in checks.items() if c.status is not Status.PASS}
    assert bad == {}
    assert result.gate_status is Status.PASS and result.exit_code == 0
    # ONE statement for every per-date part (the table, its upstream, the two keys, 3 grouped consistency),
    # then one each: quantile, 2 custom SQL
    assert len(result.queries) == 4
    assert checks["usage_mean"].observed == pytest.approx(20.0)
    assert checks["rows_vs_raw"].observed == 500
    assert result.series["usage_rate"][0] == (RANGE[0], 100.0)
    assert len(result.series["usage_rate"]) == (RANGE[1] - RANGE[0]).days + 1
    assert all(q.digest and q.seconds >= 0 for q in result.queries)


def test_quantile_matches_linear_interpolation(wh, suite_dir):
    result, checks = run(wh, suite_dir)
    rows = wh.query(f"SELECT points FROM {PLAYERS} WHERE game_date BETWEEN @start AND @end",
                    {"start": RANGE[0], "end": RANGE[1]})
    expected = statistics.quantiles([r["points"] for r in rows], n=10, method="inclusive")[8]
    assert checks["points_p90"].observed == pytest.approx(expected)


def test_null_usage_fails_coverage_regression_temporal_and_usage_sum(wh, suite_dir):
    gap = (dt.date(2024, 2, 5), dt.date(2024, 2, 10))
    result, checks = run(wh, suite_dir, Faults(null_usage=gap))
    cov = checks["usage_coverage"]
    assert cov.status is Status.FAIL and cov.observed == pytest.approx(76.0)
    assert "2024-02-05..2024-02-10 (6 dates)" in cov.evidence
    assert checks["usage_regression"].status is Status.FAIL
    assert "76.0% of baseline" in checks["usage_regression"].evidence
    assert checks["usage_drops"].status is Status.FAIL
    assert "2024-02-05" in checks["usage_drops"].evidence
    assert checks["usage_sum"].status is Status.FAIL and checks["usage_sum"].observed == 24
    assert checks["usage_sum"].examples and checks["usage_sum"].examples[0]["observed"] is None
    assert checks["rows_vs_raw"].status is Status.PASS
    assert result.gate_status is Status.FAIL and result.exit_code == 1
    assert [d for d, v in result.series["usage_rate"] if v == 0.0][0] == gap[0]


def test_dropped_dates_fail_completeness_counts_with_ranges(wh, suite_dir):
    gap = (dt.date(2024, 2, 5), dt.date(2024, 2, 10))
    result, checks = run(wh, suite_dir, Faults(drop_dates=gap))
    assert checks["dates_complete"].status is Status.FAIL and checks["dates_complete"].observed == 6
    assert "2024-02-05..2024-02-10 (6 dates)" in checks["dates_complete"].evidence
    # the full list travels with the result (the report's charts draw every missing date from it)
    assert checks["dates_complete"].missing_dates == [gap[0] + dt.timedelta(days=i) for i in range(6)]
    assert checks["rows_vs_raw"].status is Status.FAIL
    assert checks["games_vs_raw"].status is Status.FAIL and checks["games_vs_raw"].observed == 38
    assert checks["rows_absolute"].status is Status.PASS


def test_outlier_fails_range_and_custom_value_with_example(wh, suite_dir):
    _, checks = run(wh, suite_dir, Faults(outlier=True))
    r = checks["points_range"]
    assert r.status is Status.FAIL and r.observed == 1
    assert r.examples[0]["points"] == 150 and r.examples[0]["player_id"]
    assert checks["max_points_sql"].status is Status.FAIL and checks["max_points_sql"].observed == 150
    assert checks["points_p90"].status is Status.PASS


def test_consistency_faults(wh, suite_dir):
    _, checks = run(wh, suite_dir, Faults(bad_minutes=True, fga_mismatch=True, bad_team_points=True))
    m = checks["minutes_per_team_game"]
    assert m.status is Status.FAIL and m.observed == 1
    assert m.examples[0]["observed"] == pytest.approx(250.0) and m.examples[0]["expected"] == 240
    assert checks["fga_zones"].status is Status.FAIL and checks["fga_zones"].observed == 1
    assert checks["fga_zones"].examples[0]["observed"] == checks["fga_zones"].examples[0]["expected"] + 1
    assert checks["team_points"].status is Status.FAIL and checks["team_points"].observed == 1
    assert checks["usage_mean"].status is Status.PASS


def test_duplicated_keys_fail_unique_naming_the_keys(wh, suite_dir):
    result, checks = run(wh, suite_dir, Faults(duplicate_player=True, duplicate_raw_game=True))
    target = checks["player_game_key"]
    assert target.status is Status.FAIL and target.observed == 1
    dup = target.examples[0]
    assert dup["copies"] == 2 and dup["game_date"] <= RANGE[1]
    assert f"on {dup['game_date']}" in target.evidence
    assert f"game_id={dup['game_id']} player_id={dup['player_id']} ×2" in target.evidence
    # the raw table's key: the whole game (2 teams x 5 players) loaded twice, every key named (up to examples)
    raw = checks["raw_player_game_key"]
    assert raw.status is Status.FAIL and raw.observed == 10
    assert "of vt.raw_players" in raw.evidence and f"game_id={dup['game_id']} " in raw.evidence
    assert len(raw.examples) == 3 and "(the first 3)" in raw.evidence  # the suite's `examples: 3`
    assert checks["rows_vs_raw"].status is Status.FAIL  # what a duplicate does to a relative count
    assert result.gate_status is Status.FAIL


def test_unique_key_parts_never_run_together(wh, suite_dir):
    # ('a|b', 'c') and ('a', 'b|c') read the same when joined with '|': two keys, not a duplicate
    from backfill_orchestrator.warehouse import Column
    cols = [Column("game_date", "DATE"), Column("a", "STRING"), Column("b", "STRING")]
    wh.create_table("vt.keys", cols, replace=True)
    day = RANGE[0]
    wh.load_rows("vt.keys", [{"game_date": day, "a": "x|y", "b": "z"}, {"game_date": day, "a": "x", "b": "y|z"},
                             {"game_date": day, "a": None, "b": "z"}, {"game_date": day, "a": None, "b": "z"}], cols)
    path = write_suite(suite_dir, """
        suite: keys
        table: vt.keys
        date_column: game_date
        checks:
          - {name: ab_key, type: unique, columns: [a, b]}
    """)
    check = run_suite(wh, load_suites([path])["keys"], *RANGE).checks[0]
    assert check.status is Status.FAIL and check.observed == 1  # only the NULL key repeats (NULL equals NULL)
    assert "a=None b=z ×2" in check.evidence


def test_half_rows_degrade_row_regression_and_statistics_bounds(wh, suite_dir):
    text = ALL.replace("{name: usage_stddev, type: statistics, column: usage_rate, stat: stddev, max: 2}",
                       "{name: usage_stddev, type: statistics, column: usage_rate, stat: stddev, max: 0.5}")
    result, checks = run(wh, suite_dir, Faults(half_rows=(dt.date(2024, 2, 23), dt.date(2024, 2, 29))), text=text)
    assert checks["rows_regression"].status is Status.WARN  # warning severity: 91% of baseline rows per date
    assert checks["usage_stddev"].status is Status.FAIL
    assert checks["rows_vs_raw"].status is Status.FAIL


def test_empty_baseline_is_no_baseline_with_reason_and_warns(wh, suite_dir):
    result, checks = run(wh, suite_dir, baseline=(dt.date(2023, 6, 1), dt.date(2023, 6, 30)))
    reg = checks["usage_regression"]
    assert reg.status is Status.NO_BASELINE and reg.observed is None
    assert "2023-06-01..2023-06-30" in reg.evidence and "no rows" in reg.evidence
    assert result.gate_status is Status.WARN and result.exit_code == 3


def test_non_contiguous_baseline_rides_in_the_same_scan(wh, suite_dir):
    result, checks = run(wh, suite_dir, baseline=(dt.date(2024, 1, 2), dt.date(2024, 1, 10)))
    assert checks["usage_regression"].status is Status.PASS
    assert "2024-01-02..2024-01-10" in checks["usage_regression"].evidence
    assert len(result.queries) == 4


def test_same_period_last_season_uses_the_calendar(wh, suite_dir):
    text = ALL.replace("baseline: previous_31_days", "baseline: same_period_last_season")
    result, checks = run(wh, suite_dir, text=text, calendar=load_calendar(ROOT / "config" / "seasons.yaml"))
    reg = checks["usage_regression"]
    assert reg.status is Status.NO_BASELINE
    assert "2023-01-" in reg.evidence  # 2023-24 season started 2023-10-24, 2022-23 on 2022-10-18: 371 days earlier


def test_completeness_from_calendar_with_bootstrap_rule(wh, suite_dir):
    text = """
    suite: players
    table: vt.player_games
    date_column: game_date
    checks:
      - {name: in_season, type: completeness, calendar: {skip_first_days: 14}, compare_to: {table: vt.raw_players}}
      - {name: calendar_days, type: completeness, calendar: {skip_first_days: 0}}
    """
    _, checks = run(wh, suite_dir, Faults(drop_dates=(dt.date(2024, 2, 1), dt.date(2024, 2, 3))), text=text,
                    calendar=load_calendar(ROOT / "config" / "seasons.yaml"))
    assert checks["in_season"].status is Status.FAIL and checks["in_season"].observed == 3
    assert "2024-02-01..2024-02-03 (3 dates)" in checks["in_season"].evidence
    # every in-season day is expected: the 3 dropped dates and the 4 Sundays without games are missing
    assert checks["calendar_days"].observed == 7


def test_completeness_without_calendar_is_an_error_not_a_pass(wh, suite_dir):
    text = """
    suite: players
    table: vt.player_games
    date_column: game_date
    checks:
      - {name: in_season, type: completeness, calendar: {skip_first_days: 14}, compare_to: {table: vt.raw_players}}
    """
    result, checks = run(wh, suite_dir, text=text)
    assert checks["in_season"].status is Status.ERROR and "calendar" in checks["in_season"].evidence
    assert result.gate_status is Status.FAIL


def test_missing_table_is_error_and_fails_gate_only_when_critical(wh, suite_dir):
    text = """
    suite: players
    table: vt.player_games
    date_column: game_date
    checks:
      - {name: vs_missing, type: row_count, compare_to: {table: vt.nope}, min: 100%, severity: warning}
      - {name: rows, type: row_count, min: 1}
    """
    result, checks = run(wh, suite_dir, text=text)
    assert checks["vs_missing"].status is Status.ERROR and "vt.nope" in checks["vs_missing"].evidence
    assert checks["rows"].status is Status.PASS
    assert result.gate_status is Status.WARN
    wh.drop_table(PLAYERS)
    result = run_suite(wh, load_suites([suite_dir])["players"], *RANGE)
    assert {c.status for c in result.checks} == {Status.ERROR} and result.gate_status is Status.FAIL


def test_custom_sql_rows_with_sample_and_full(wh, suite_dir):
    text = """
    suite: players
    table: vt.player_games
    date_column: game_date
    checks:
      - name: low_scorers
        type: custom_sql
        returns: rows
        sample_percent: 50
        examples: 2
        sql: >
          SELECT game_date, player_id, points FROM vt.player_games
          WHERE game_date BETWEEN @start AND @end AND points < 12
          AND MOD(EXTRACT(DAY FROM game_date) * 37, 100) < @sample_percent
    """
    _, sampled = run(wh, suite_dir, text=text)
    full = {c.name: c for c in run_suite(wh, load_suites([suite_dir])["players"], *RANGE, full=True).checks}
    assert sampled["low_scorers"].status is Status.FAIL and len(sampled["low_scorers"].examples) == 2
    assert 0 < sampled["low_scorers"].observed < full["low_scorers"].observed
    assert "sample 50%" in sampled["low_scorers"].evidence


def test_dry_run_returns_sql_and_runs_nothing(wh, suite_dir):
    result, _ = run(wh, suite_dir, dry_run=True)
    assert result.checks == [] and result.queries == []
    assert len(result.dry_run_sql) == 4
    assert "GROUP BY" in result.dry_run_sql[0] and "dry run failed" not in "".join(result.dry_run_sql)


def test_row_level_consistency_with_a_number_shows_example_rows(wh, suite_dir):
    # `expected: 150` is a number, not SQL: the example query must still run and name it
    text = ALL.replace("  - {name: fga_zones,",
                       "  - {name: points_cap, type: consistency, expression: points, expected: 150, max: 0}\n"
                       "  - {name: fga_zones,")
    _, checks = run(wh, suite_dir, Faults(outlier=True), text=text)
    cap = checks["points_cap"]
    assert cap.status is Status.FAIL and cap.examples
    assert all(e["expected"] == 150 and e["observed"] != 150 for e in cap.examples)


def test_failing_dates_are_data_on_every_date_shaped_check(wh, suite_dir):
    """A repair re-runs the dates a gate names: each date-shaped check carries them as dates, not only as text."""
    gap = (dt.date(2024, 2, 5), dt.date(2024, 2, 10))
    six = [gap[0] + dt.timedelta(days=i) for i in range(6)]
    _, checks = run(wh, suite_dir, Faults(null_usage=gap))
    assert checks["usage_coverage"].failing_dates == six  # NULL on every row there
    assert checks["usage_drops"].failing_dates[0] == gap[0]  # the drop starts on the first NULL date
    assert set(checks["usage_drops"].failing_dates) <= set(six)
    assert checks["usage_regression"].failing_dates == []  # not date-shaped: one figure over the range
    assert checks["rows_vs_raw"].failing_dates == []  # passed
    _, checks = run(wh, suite_dir, Faults(drop_dates=gap))
    assert checks["dates_complete"].failing_dates == six
    assert checks["games_vs_raw"].failing_dates == six  # fewer rows than upstream there
    _, checks = run(wh, suite_dir, Faults(outlier=True, bad_minutes=True, duplicate_player=True))
    for name in ("points_range", "minutes_per_team_game", "player_game_key"):
        c = checks[name]
        assert c.status is Status.FAIL and len(c.failing_dates) == 1, (name, c.failing_dates, c.evidence)
        assert c.failing_dates[0].isoformat() in c.evidence  # the same date the text names


def test_a_check_that_cannot_run_is_the_only_error(wh, suite_dir):
    # `where` passes the suite's column check but fails at run time (team ids are not numbers): the fused
    # statement fails, then the table's scan, then only that check's own piece; every other check is measured
    text = """
    suite: players
    table: vt.player_games
    date_column: game_date
    checks:
      - {name: bad_where, type: coverage, column: points, where: "CAST(team_id AS INT64) > 0", min: 1%}
      - {name: usage_coverage, type: coverage, column: usage_rate, where: "points IS NOT NULL", min: 95%}
      - {name: points_range, type: range, column: points, allowed: {min: 0, max: 100}}
      - {name: rows_vs_raw, type: row_count, compare_to: {table: vt.raw_players}, min: 100%, max: 100%}
      - {name: player_game_key, type: unique, columns: [game_id, player_id]}
      - name: minutes_per_team_game
        type: consistency
        group_by: [game_id, team_id]
        expression: SUM(minutes)
        expected: {table: vt.team_games, expression: "MAX(240 + 25 * overtime)"}
        tolerance: 0.5
    """
    result, checks = run(wh, suite_dir, text=text)
    assert checks["bad_where"].status is Status.ERROR
    assert checks["bad_where"].evidence.startswith("scan vt.player_games failed: ")
    assert {n: c.status for n, c in checks.items() if n != "bad_where"} == dict.fromkeys(
        ["usage_coverage", "points_range", "rows_vs_raw", "player_game_key", "minutes_per_team_game"], Status.PASS)
    assert checks["rows_vs_raw"].observed == 500 and checks["points_range"].observed == 0
    assert result.gate_status is Status.FAIL
    clean, _ = run(wh, suite_dir, text=text.replace('where: "CAST(team_id AS INT64) > 0", ', ""))
    assert [(c.observed, c.evidence) for c in clean.checks[1:]] == [(c.observed, c.evidence) for c in result.checks[1:]]
