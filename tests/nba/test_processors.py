"""The three processors on DuckDB and on BigQuery (emulator): usage_rate by hand, overtime, shot zones,
the bootstrap rule at season boundaries, no look-ahead, and dropped team box scores."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest

from backfill_orchestrator.warehouse import Warehouse
from nba_pipeline.build import build_all
from nba_pipeline.player_composite_factors import PlayerCompositeFactors
from nba_pipeline.sample_data import Faults, write_sample
from nba_pipeline.tables import COMPOSITE, PLAYER_GAME, RAW, SCHEDULE, TEAM_BOX, TEAM_OFFENSE, PLAYER_BOX, SHOT_ZONES

from nba_jobhelp import check_format, run_job, warehouse_url

D = dt.date


def _box(**kw: int) -> dict:
    keys = ("points fg_makes fg_attempts three_makes three_attempts ft_makes ft_attempts offensive_rebounds "
            "defensive_rebounds assists steals blocks turnovers personal_fouls").split()
    return {k: kw.get(k, 0) for k in keys}


def _load(wh: Warehouse, table: str, rows: list[dict]) -> None:
    wh.create_table(table, RAW[table], replace=True)
    wh.load_rows(table, rows, RAW[table])


def _hand_game(wh: Warehouse) -> None:
    """One overtime game: team A (box present), team B (box MISSING). Players: X a normal line, Y 10 minutes
    without a shot (usage 0.0), Z did not play (0 minutes), W on team B."""
    day, g = D(2024, 11, 20), "0022400999"
    common = {"game_id": g, "game_date": day, "season": "2024-25"}
    _load(wh, SCHEDULE, [{**common, "home_team_id": "AAA", "away_team_id": "BBB", "overtime_periods": 1,
                          "game_type": "regular"}])
    _load(wh, TEAM_BOX, [{**common, "team_id": "AAA", "opponent_id": "BBB", "is_home": True, "minutes": 265,
                          **_box(points=120, fg_makes=44, fg_attempts=90, three_makes=12, three_attempts=33,
                                 ft_makes=20, ft_attempts=20, offensive_rebounds=10, turnovers=12)}])
    players = [("AAA", "X", 40.0, _box(points=25, fg_makes=9, fg_attempts=20, three_makes=2, three_attempts=5,
                                       ft_makes=5, ft_attempts=6, turnovers=3)),
               ("AAA", "Y", 10.0, _box()), ("AAA", "Z", 0.0, _box()),
               ("BBB", "W", 30.0, _box(points=10, fg_makes=4, fg_attempts=10, ft_makes=2, ft_attempts=2))]
    _load(wh, PLAYER_BOX, [{**common, "team_id": t, "player_id": p, "player_name": p, "starter": True,
                            "minutes": m, **b} for t, p, m, b in players])
    _load(wh, SHOT_ZONES, [{"game_id": g, "game_date": day, "player_id": "X", "team_id": "AAA",
                            "paint_attempts": 9, "paint_makes": 5, "mid_range_attempts": 6, "mid_range_makes": 2,
                            "three_attempts": 5, "three_makes": 2, "assisted_fg_makes": 4}])


def test_usage_rate_by_hand_with_overtime(wh: Warehouse) -> None:
    _hand_game(wh)
    build_all(wh, D(2024, 11, 20), D(2024, 11, 20))
    team = wh.query(f"SELECT * FROM {TEAM_OFFENSE}")
    assert len(team) == 1
    assert team[0]["minutes"] == 265 and team[0]["overtime_periods"] == 1
    # possessions = FGA - OREB + TOV + 0.44 FTA = 90 - 10 + 12 + 8.8
    assert team[0]["possessions"] == pytest.approx(100.8)
    assert team[0]["pace"] == pytest.approx(48 * 100.8 / 53)
    assert team[0]["offensive_rating"] == pytest.approx(100 * 120 / 100.8)
    rows = {r["player_id"]: r for r in wh.query(f"SELECT * FROM {PLAYER_GAME}")}
    # 100 * (20 + 0.44*6 + 3) * (265/5) / (40 * (90 + 0.44*20 + 12)) = 135892 / 4432
    assert rows["X"]["usage_rate"] == pytest.approx(30.6615523465704)
    assert rows["X"]["true_shooting_pct"] == pytest.approx(25 / 45.28)
    assert rows["X"]["rebounds"] == 0 and rows["X"]["minutes_played"] == 40.0
    assert (rows["X"]["paint_attempts"], rows["X"]["mid_range_makes"], rows["X"]["assisted_fg_makes"]) == (9, 2, 4)
    assert rows["Y"]["usage_rate"] == 0.0  # a real zero stays zero
    assert rows["Z"]["usage_rate"] is None  # MIN = 0
    assert rows["W"]["usage_rate"] is None  # team row missing
    assert rows["Y"]["paint_attempts"] is None  # no zone data


def test_reruns_leave_one_copy(wh: Warehouse) -> None:
    write_sample(wh, D(2024, 10, 22), D(2024, 10, 24))
    for _ in range(2):
        res = build_all(wh, D(2024, 10, 22), D(2024, 10, 24))
    n_box = wh.query(f"SELECT COUNT(*) AS n FROM {PLAYER_BOX}")[0]["n"]
    assert wh.query(f"SELECT COUNT(*) AS n FROM {PLAYER_GAME}")[0]["n"] == n_box
    assert res[1].records == n_box  # records of a re-run = rows written, not deleted + inserted
    dup = wh.query(f"SELECT game_id, player_id FROM {PLAYER_GAME} GROUP BY game_id, player_id HAVING COUNT(*) > 1")
    assert dup == []


def _composite_expectations(wh: Warehouse, day: dt.date) -> dict[str, dict]:
    """Factors for `day` computed in Python from player_game_summary (same season, strictly earlier games)."""
    season_start = D(2024, 10, 22)
    hist = defaultdict(list)
    for r in wh.query(f"SELECT player_id, game_id, game_date, points, minutes_played, usage_rate FROM {PLAYER_GAME} "
                      "WHERE game_date >= @s AND game_date < @d ORDER BY game_date, game_id", {"s": season_start, "d": day}):
        hist[r["player_id"]].append(r)
    out = {}
    for r in wh.query(f"SELECT player_id, game_date FROM {PLAYER_GAME} WHERE game_date = @d", {"d": day}):
        prior = hist[r["player_id"]]
        last5 = prior[-5:]
        out[r["player_id"]] = {
            "games_prior": len(prior),
            "points_avg_last_5": sum(x["points"] for x in last5) / len(last5) if last5 else None,
            "rest_days": (day - prior[-1]["game_date"]).days - 1 if prior else None,
        }
    return out


def test_composite_factors_no_look_ahead_and_values(wh: Warehouse) -> None:
    start, day, end = D(2024, 10, 22), D(2024, 11, 8), D(2024, 11, 12)
    write_sample(wh, start, end)
    build_all(wh, start, end)
    before = {r["player_id"]: r for r in wh.query(f"SELECT * FROM {COMPOSITE} WHERE game_date = @d", {"d": day})}
    expected = _composite_expectations(wh, day)
    assert before and set(before) == set(expected)
    for pid, exp in expected.items():
        got = before[pid]
        assert got["games_prior"] == exp["games_prior"]
        assert got["rest_days"] == exp["rest_days"]
        assert got["back_to_back"] == (exp["rest_days"] == 0)
        if exp["points_avg_last_5"] is None:
            assert got["points_avg_last_5"] is None
        else:
            assert got["points_avg_last_5"] == pytest.approx(exp["points_avg_last_5"])
    # Change everything on and after the day, re-run the day alone: its factors must not move.
    wh.execute([(f"UPDATE {PLAYER_GAME} SET points = points + 50, minutes_played = 48, usage_rate = 99 "
                 "WHERE game_date >= @d", {"d": day})])
    build = PlayerCompositeFactors()
    from nba_pipeline.jobkit import JobContext, run_dates
    import argparse
    run_dates(build, JobContext(wh, False, argparse.Namespace(seasons=None, bootstrap_days=14)), [day])
    after = {r["player_id"]: r for r in wh.query(f"SELECT * FROM {COMPOSITE} WHERE game_date = @d", {"d": day})}
    keys = ["games_prior", "points_avg_last_5", "points_avg_last_10", "minutes_avg_last_10", "usage_avg_last_5",
            "usage_trend", "rest_days", "back_to_back"]
    assert {p: [r[k] for k in keys] for p, r in after.items()} == {p: [r[k] for k in keys] for p, r in before.items()}


def test_bootstrap_rule_at_season_boundary(wh: Warehouse) -> None:
    # end of the 2024-25 finals, the summer, the start of 2025-26 (2025-10-21; bootstrap until 2025-11-03)
    write_sample(wh, D(2025, 6, 10), D(2025, 11, 6))
    build_all(wh, D(2025, 6, 10), D(2025, 11, 6))
    per_day = {r["game_date"]: r["n"] for r in wh.query(
        f"SELECT game_date, COUNT(*) AS n FROM {COMPOSITE} GROUP BY game_date")}
    games = {r["game_date"]: r["n"] for r in wh.query(
        f"SELECT game_date, COUNT(*) AS n FROM {PLAYER_GAME} GROUP BY game_date")}
    assert any(d < D(2025, 7, 1) for d in games) and any(d >= D(2025, 11, 4) for d in games)
    for d, n in games.items():
        if d < D(2025, 10, 21) or d >= D(2025, 11, 4):
            assert per_day.get(d) == n, d  # 2024-25 playoffs long past its bootstrap; 2025-26 after day 14
        else:
            assert d not in per_day, d  # first 14 days of 2025-26
    assert not [d for d in games if D(2025, 6, 23) <= d < D(2025, 10, 21)]  # no summer games
    # the first game of 2025-26 after the bootstrap window starts from the new season's history only
    first = wh.query(f"SELECT MIN(games_prior) AS lo, MAX(games_prior) AS hi FROM {COMPOSITE} "
                     "WHERE game_date = @d", {"d": D(2025, 11, 4)})[0]
    assert 0 <= first["lo"] and first["hi"] <= 9  # at most ~7 games in 14 days, never last season's


def test_dropped_team_box_scores_null_usage_exactly_there(wh: Warehouse) -> None:
    d1, d2 = D(2024, 11, 2), D(2024, 11, 4)
    write_sample(wh, D(2024, 10, 30), D(2024, 11, 6), faults=Faults(drop_team_box=(d1, d2)))
    build_all(wh, D(2024, 10, 30), D(2024, 11, 6))
    rows = wh.query(f"SELECT game_date, COUNTIF(usage_rate IS NULL) AS nulls, COUNTIF(minutes_played > 0) AS played, "
                    f"COUNT(*) AS n FROM {PLAYER_GAME} GROUP BY game_date")
    assert rows
    for r in rows:
        if d1 <= r["game_date"] <= d2:
            assert r["nulls"] == r["n"], r
        else:
            assert r["nulls"] == r["n"] - r["played"], r  # only the players who did not play


def test_each_job_cli_on_both_backends(wh, wh_settings, tmp_path) -> None:
    write_sample(wh, D(2024, 11, 1), D(2024, 11, 16))
    url = warehouse_url(wh_settings)
    if wh.dialect == "duckdb":
        wh.close()  # the job process needs the DuckDB file for itself
    for job, dates in (("team_offense", "2024-11-14,2024-11-15"), ("player_game_summary", "2024-11-14,2024-11-15"),
                       ("player_composite_factors", "2024-11-15")):
        run = run_job(job, "--dates", dates, "--warehouse", url, "--checkpoint", str(tmp_path / f"{job}.json"),
                      "--workers", "2")
        check_format(run)
        assert run.code == 0, run.stderr + "\n".join(run.lines)
        assert sorted(run.dates("ok")) == dates.split(",")
        assert int(run.field(run.complete, "records")) > 0
