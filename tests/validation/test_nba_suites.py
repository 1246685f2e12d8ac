"""The default NBA suites (config/suites) against sample data built by nba_pipeline, on DuckDB and BigQuery.

Clean data: all three gates PASS. Team box scores dropped for a range: the player_game_summary gate FAILS on
usage_rate coverage and names the missing date range. A raw game loaded twice: `backfill validate` FAILS
naming the game, the derived tables keep one row per key, and no_look_ahead is not fooled by the copy.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from click.testing import CliRunner

from backfill_orchestrator.cli import cli
from backfill_orchestrator.dates import load_calendar
from backfill_orchestrator.validation import Status, load_suites, run_suite
from nba_pipeline.build import build_all
from nba_pipeline.sample_data import Faults, write_sample
from nba_pipeline.tables import RAW, TEAM_BOX, column_names

ROOT = Path(__file__).resolve().parents[2]
DATA = (dt.date(2024, 10, 22), dt.date(2024, 12, 10))  # season start .. early December
CHECKED = (dt.date(2024, 11, 20), dt.date(2024, 12, 10))  # bootstrap-eligible, with a non-empty baseline
GAP = (dt.date(2024, 12, 2), dt.date(2024, 12, 5))


@pytest.fixture(scope="module")
def suites():
    return load_suites([ROOT / "config" / "suites"])


@pytest.fixture(scope="module")
def calendar():
    return load_calendar(ROOT / "config" / "seasons.yaml")


def test_clean_sample_data_passes_every_default_suite(wh, suites, calendar):
    write_sample(wh, *DATA, seed=7)
    build_all(wh, *DATA)
    for name in ("team_offense_game_summary", "player_game_summary", "player_composite_factors"):
        result = run_suite(wh, suites[name], *CHECKED, calendar=calendar, strict=True)
        bad = [(c.name, c.status.value, c.evidence) for c in result.checks if c.status is not Status.PASS]
        assert bad == [] and result.gate_status is Status.PASS, (name, bad)
    pgs = run_suite(wh, suites["player_game_summary"], *CHECKED, calendar=calendar)
    # ONE statement: the scans of the summary and of the raw player box scores it is compared with, both
    # tables' keys, the grouped/cross-table consistency checks (minutes, usage sum, team points)
    assert len(pgs.queries) == 1 and len(pgs.checks) == 24


def test_dropped_team_box_scores_fail_player_gate_on_usage_rate_naming_the_range(wh, suites, calendar):
    write_sample(wh, *DATA, seed=7, faults=Faults(drop_team_box=GAP))
    build_all(wh, *DATA)
    result = run_suite(wh, suites["player_game_summary"], *CHECKED, calendar=calendar)
    checks = {c.name: c for c in result.checks}
    usage = checks["usage_rate_coverage"]
    assert result.gate_status is Status.FAIL and result.exit_code == 1
    assert usage.status is Status.FAIL and usage.observed < 95
    assert "NULL on every row on 2024-12-02..2024-12-05 (4 dates)" in usage.evidence
    assert checks["usage_rate_coverage_regression"].status is Status.FAIL
    assert "2024-12-02..2024-12-05 (4 dates)" in checks["minutes_sum_per_team_game"].evidence
    assert checks["points_coverage"].status is Status.PASS
    # The team gate sees the gap against the schedule as a WARNING (raw box scores may lag upstream) while its
    # own transform is complete against its input; the player gate is where the run stops.
    team = run_suite(wh, suites["team_offense_game_summary"], *CHECKED, calendar=calendar)
    tchecks = {c.name: c for c in team.checks}
    assert team.gate_status is Status.WARN
    assert tchecks["dates_complete"].status is Status.FAIL and tchecks["dates_complete"].severity == "warning"
    assert "2024-12-02..2024-12-05 (4 dates)" in tchecks["dates_complete"].evidence
    assert tchecks["dates_complete_vs_team_box_scores"].status is Status.PASS


def _load_game_twice(wh, day: dt.date) -> str:
    """The first game of `day` loaded a second time into every raw table; returns its id."""
    game = wh.query(f"SELECT MIN(game_id) AS g FROM {TEAM_BOX} WHERE game_date = @d", {"d": day})[0]["g"]
    for table in RAW:
        cols = ", ".join(column_names(table))
        wh.execute([(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {table} WHERE game_id = @g", {"g": game})])
    return game


def _config_for(wh_settings, path: Path) -> Path:
    """A pipeline config whose warehouse is the test's (DuckDB file, or the emulator under the test's prefix)."""
    if wh_settings.kind == "duckdb":
        wh_yaml = f"{{duckdb: {{path: {wh_settings.path}}}}}"
    else:
        wh_yaml = (f"{{bigquery: {{project: {wh_settings.project}, endpoint: '{wh_settings.endpoint}', "
                   f"dataset_prefix: {wh_settings.dataset_prefix}}}}}")
    path.write_text(f"pipeline: t\nwarehouse: {wh_yaml}\ncalendar: {ROOT / 'config' / 'seasons.yaml'}\n"
                    f"suites: [{ROOT / 'config' / 'suites'}]\n"
                    "phases:\n  - {name: a, command: [echo], dates: {start: 2024-11-01, end: 2024-11-02}}\n")
    return path


def test_raw_game_loaded_twice_fails_validate_naming_the_game(wh, wh_settings, tmp_path):
    data, day = (dt.date(2024, 11, 4), dt.date(2024, 11, 7)), dt.date(2024, 11, 6)
    write_sample(wh, *data, seed=7)
    game = _load_game_twice(wh, day)
    build_all(wh, *data)
    if wh.dialect == "duckdb":
        wh.close()  # `backfill validate` opens the file itself
    args = ["validate", "--suite", "team_offense_game_summary", "--start-date", "2024-11-05",
            "--end-date", "2024-11-07", "--json", "--config", str(_config_for(wh_settings, tmp_path / "p.yaml"))]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 1, r.output
    checks = {c["name"]: c for c in json.loads(r.output)["suites"][0]["checks"]}
    raw = checks["raw_one_row_per_team_game"]
    assert raw["status"] == "fail" and raw["observed"] == 2, raw
    assert f"game_id={game} team_id=" in raw["evidence"] and "×2" in raw["evidence"]
    assert f"on {day}" in raw["evidence"]
    # the job kept one copy: the derived table's own key holds
    assert checks["one_row_per_team_game"]["status"] == "pass", checks["one_row_per_team_game"]
    bad = sorted(n for n, c in checks.items() if c["status"] == "fail" and c["severity"] == "critical")
    assert bad == ["raw_one_row_per_team_game"]


def test_game_loaded_twice_is_not_reported_as_look_ahead_and_keys_hold(wh, suites, calendar):
    # a game loaded twice upstream counts once in the factors; the recomputation must count it once too
    data = (dt.date(2024, 10, 22), dt.date(2024, 11, 20))
    write_sample(wh, *data, seed=7)
    _load_game_twice(wh, dt.date(2024, 11, 8))
    build_all(wh, *data)
    result = run_suite(wh, suites["player_composite_factors"], dt.date(2024, 11, 10), dt.date(2024, 11, 20),
                       calendar=calendar, full=True)
    checks = {c.name: c for c in result.checks}
    assert checks["no_look_ahead"].status is Status.PASS, (checks["no_look_ahead"].evidence,
                                                            checks["no_look_ahead"].examples)
    assert "sample" not in checks["no_look_ahead"].evidence  # --full ran it on every date: no "sample 20%"
    assert checks["one_row_per_player_date"].status is Status.PASS
    players = run_suite(wh, suites["player_game_summary"], dt.date(2024, 11, 8), dt.date(2024, 11, 8),
                        calendar=calendar)
    pchecks = {c.name: c for c in players.checks}
    assert pchecks["one_row_per_player_game"].status is Status.PASS
    assert pchecks["raw_one_row_per_player_game"].status is Status.FAIL
    assert "player_id=" in pchecks["raw_one_row_per_player_game"].evidence
