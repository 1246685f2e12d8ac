"""The default NBA suites (config/suites) against sample data built by nba_pipeline, on DuckDB and BigQuery.

Clean data: all three gates PASS. Team box scores dropped for a range: the player_game_summary gate FAILS on
usage_rate coverage and names the missing date range.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from backfill_orchestrator.dates import load_calendar
from backfill_orchestrator.validation import Status, load_suites, run_suite
from nba_pipeline.build import build_all
from nba_pipeline.sample_data import Faults, write_sample

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
    # one statement per table (the summary + the raw player box scores it is compared with) and one per
    # grouped/cross-table consistency check (minutes, usage sum, team points)
    assert len(pgs.queries) == 2 + 3 and len(pgs.checks) == 22


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
