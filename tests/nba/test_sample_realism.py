"""The sample data behaves like the NBA: identities on every team-game (both backends), the 82-game schedule,
distributions and effects within the ranges docs/sample-data.md states, all measured back by SQL
(nba_pipeline.sample_describe) from the tables the generator wrote."""
from __future__ import annotations

import datetime as dt
import json
import subprocess
from typing import Iterator

import pytest

from backfill_orchestrator.dates import load_calendar
from backfill_orchestrator.warehouse import Warehouse
from backfill_orchestrator.warehouse.duckdb import DuckDBWarehouse
from nba_pipeline import DEFAULT_SEASONS
from nba_pipeline.sample_data import DEFAULT_END, DEFAULT_START, write_sample
from nba_pipeline.sample_describe import SampleDescription, describe, identities
from nba_pipeline.tables import PLAYER_BOX, SCHEDULE, TEAM_BOX

from nba_jobhelp import ROOT

D = dt.date
IDENTITIES = ("points_formula", "team_equals_sum_of_players", "assists_at_most_fgm", "assists_equal_assisted_makes",
              "steals_at_most_opponent_turnovers", "rebounds_at_most_available_misses", "own_misses_rebounded_once",
              "blocks_at_most_opponent_misses", "makes_at_most_attempts", "player_points_formula",
              "zones_match_box_score")


@pytest.fixture(scope="module")
def full_wh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBWarehouse]:
    """The default range (2021-10-19..2026-01-02, seed 7), written to DuckDB once for the module."""
    wh = DuckDBWarehouse(tmp_path_factory.mktemp("sample") / "nba.duckdb")
    summary = write_sample(wh, DEFAULT_START, DEFAULT_END)
    assert 120_000 <= summary.player_rows <= 135_000
    assert 0.40 <= summary.zone_rows / summary.player_rows <= 0.50  # the suites' zone coverage checks expect 40%+
    yield wh
    wh.close()


@pytest.fixture(scope="module")
def full(full_wh: DuckDBWarehouse) -> SampleDescription:
    return describe(full_wh, load_calendar(DEFAULT_SEASONS))


def _one(wh: Warehouse, sql: str) -> int:
    return wh.query(sql)[0]["n"]


def test_calendar_of_the_default_range(full_wh: DuckDBWarehouse) -> None:
    duck = full_wh
    starts = {r["season"]: r["d"] for r in duck.query(f"SELECT season, MIN(game_date) AS d FROM {SCHEDULE} GROUP BY season")}
    assert starts == {"2021-22": D(2021, 10, 19), "2022-23": D(2022, 10, 18), "2023-24": D(2023, 10, 24),
                      "2024-25": D(2024, 10, 22), "2025-26": D(2025, 10, 21)}
    assert _one(duck, f"SELECT COUNT(*) AS n FROM {SCHEDULE} WHERE EXTRACT(MONTH FROM game_date) IN (7, 8, 9)") == 0
    # All-Star break 2024: the third Sunday of February (18th) and the days around it
    assert _one(duck, f"SELECT COUNT(*) AS n FROM {SCHEDULE} WHERE game_date BETWEEN '2024-02-15' AND '2024-02-20'") == 0
    assert _one(duck, f"SELECT COUNT(*) AS n FROM {SCHEDULE} WHERE game_type = 'playoffs' AND "
                      "EXTRACT(MONTH FROM game_date) = 6") > 0
    assert _one(duck, f"SELECT COUNT(*) AS n FROM {TEAM_BOX} WHERE minutes <> 240 + 25 * (SELECT MAX(overtime_periods) "
                      f"FROM {SCHEDULE} s WHERE s.game_id = {TEAM_BOX}.game_id)") == 0
    # nobody plays twice on a day, nor three days running; no ties; nobody plays a cameo of under 2 minutes
    assert _one(duck, f"SELECT COUNT(*) AS n FROM (SELECT game_date, team_id FROM {TEAM_BOX} "
                      "GROUP BY game_date, team_id HAVING COUNT(*) > 1) x") == 0
    assert _one(duck, f"""SELECT COUNT(*) AS n FROM (
        SELECT game_date, LAG(game_date, 2) OVER (PARTITION BY team_id ORDER BY game_date) AS two_before
        FROM {TEAM_BOX}) x WHERE DATE_DIFF(game_date, two_before, DAY) = 2""") == 0
    assert _one(duck, f"SELECT COUNT(*) AS n FROM {TEAM_BOX} a JOIN {TEAM_BOX} b ON a.game_id = b.game_id "
                      "AND a.team_id < b.team_id WHERE a.points = b.points") == 0
    assert _one(duck, f"SELECT COUNT(*) AS n FROM {PLAYER_BOX} WHERE minutes > 0 AND minutes < 2") == 0


@pytest.mark.parametrize("name", IDENTITIES)
def test_identity_holds_on_every_team_game(full: SampleDescription, name: str) -> None:
    assert full.identities[name] == 0


def test_identities_are_checked_by_something_that_can_fail(duck: DuckDBWarehouse) -> None:
    write_sample(duck, D(2024, 11, 1), D(2024, 11, 2))
    assert set(identities(duck).values()) == {0}
    duck.execute(["UPDATE nba_raw.team_box_scores SET steals = 99, blocks = 99, assists = fg_makes + 1 "
                  "WHERE game_id = (SELECT MIN(game_id) FROM nba_raw.team_box_scores)"])
    broken = {k for k, v in identities(duck).items() if v}
    assert {"steals_at_most_opponent_turnovers", "blocks_at_most_opponent_misses", "assists_at_most_fgm",
            "team_equals_sum_of_players"} <= broken


def test_identities_on_both_backends(wh: Warehouse) -> None:
    write_sample(wh, D(2024, 11, 1), D(2024, 11, 4))
    found = identities(wh)
    assert set(found) == set(IDENTITIES) and set(found.values()) == {0}, found
    assert wh.query("SELECT COUNT(*) AS n FROM nba_raw.team_box_scores")[0]["n"] > 40


def test_every_team_plays_82_games_41_at_home(full: SampleDescription) -> None:
    complete = [s for s in full.seasons if s.complete]
    assert [s.season for s in complete] == ["2021-22", "2022-23", "2023-24", "2024-25"]
    for s in complete:
        assert (s.regular_games, s.team_games_min, s.team_games_max, s.home_games_min, s.home_games_max) == \
            (1230, 82, 82, 41, 41), s
    # the season in progress is a prefix of such a schedule: teams level on games played, home/away even
    partial = full.seasons[-1]
    assert partial.season == "2025-26" and not partial.complete
    assert partial.team_games_max - partial.team_games_min <= 4
    assert 0.4 * partial.team_games_min <= partial.home_games_min <= partial.home_games_max \
        <= 0.6 * partial.team_games_max


def test_distributions_like_the_nba(full: SampleDescription) -> None:
    for s in full.seasons:
        assert 110 <= s.points_per_team_game <= 116, s
        assert 97 <= s.pace <= 101, s
        assert 27 <= s.leading_scorer_points <= 35, s
        assert s.players_36_minutes <= 25, s  # a few rotations lean on their star, most do not
        if s.complete:
            assert 10 <= s.players_36_minutes, s


def test_effects_within_documented_ranges(full: SampleDescription) -> None:
    e = full.effects
    assert 1.0 <= e.home_minus_away_points <= 3.0
    assert -4.0 <= e.back_to_back_points <= -0.5
    assert 3.0 <= e.weak_minus_strong_defense_points <= 10.0
    assert 1.0 <= e.team_pace_sd <= 2.5
    assert 2.0 <= e.defensive_rating_sd <= 4.0
    assert 9 <= e.back_to_backs_per_team_season <= 17
    assert 5.0 <= e.starter_points_sd_vs_last10 <= 7.0 and e.starter_rows_measured > 40_000
    assert 0.7 <= e.season_to_season_points_corr <= 0.95


def test_describe_on_the_command_line(tmp_path) -> None:
    out = tmp_path / "nba.duckdb"
    py = str(ROOT / ".venv" / "bin" / "python")
    p = subprocess.run([py, "-m", "nba_pipeline.sample_data", "--out", str(out), "--start", "2024-10-22", "--end",
                        "2024-11-20", "--describe", "--json"], capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert set(doc["identities"].values()) == {0} and doc["seasons"][0]["season"] == "2024-25"
    assert doc["effects"]["season_to_season_points_corr"] is None  # one season: nothing to correlate
    p = subprocess.run([py, "-m", "nba_pipeline.sample_data", "--out", str(out), "--start", "2024-10-22", "--end",
                        "2024-11-20", "--describe"], capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 0 and "box-score identities (violations):" in p.stdout and "pace" in p.stdout
    p = subprocess.run([py, "-m", "nba_pipeline.sample_data", "--out", str(tmp_path / "y.duckdb"), "--json"],
                       capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 2 and p.stderr.strip() == "error: --json needs --describe"
    assert not (tmp_path / "y.duckdb").exists()
