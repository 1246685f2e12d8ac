"""The model features on DuckDB and on BigQuery (emulator): team_game_factors and the feature columns of
player_composite_factors recomputed by hand in Python from the tables they read; changing every LATER game
changes no feature (no look-ahead); the documented fault flag of the team factors job."""
from __future__ import annotations

import argparse
import datetime as dt
import statistics
from collections import defaultdict

import pytest

from backfill_orchestrator.dates import date_range
from backfill_orchestrator.warehouse import Warehouse
from nba_pipeline.build import build_all
from nba_pipeline.jobkit import JobContext, run_dates
from nba_pipeline.player_composite_factors import PlayerCompositeFactors
from nba_pipeline.sample_data import write_sample
from nba_pipeline.tables import COMPOSITE, PLAYER_GAME, SCHEDULE, TEAM_FACTORS, TEAM_OFFENSE
from nba_pipeline.team_factors import TeamFactors

from nba_jobhelp import check_format, run_job

D = dt.date
START, DAY, END = D(2024, 10, 22), D(2024, 11, 8), D(2024, 11, 12)
TEAM_KEYS = ("team_games_prior", "team_pace_last_10", "team_off_rating_last_10", "opponent_games_prior",
             "opponent_def_rating_last_15", "opponent_pace_last_15")
PLAYER_KEYS = ("points_avg_season", "points_std_last_10", "usage_avg_season", "usage_spike", "paint_rate_last_10",
               "mid_range_rate_last_10", "three_pt_rate_last_10", "assisted_rate_last_10", "is_home")


def _team_factors(wh: Warehouse, dates: list[dt.date], gap: str = "") -> None:
    s = run_dates(TeamFactors(), JobContext(wh, False, argparse.Namespace(null_opponent_defense=gap)), dates)
    assert not s.failed


def _build(wh: Warehouse) -> None:
    write_sample(wh, START, END)
    build_all(wh, START, END)
    _team_factors(wh, date_range(START, END))


def _mean(xs: list) -> float | None:
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


def _close(got: object, exp: object, what: object) -> None:
    if exp is None or isinstance(exp, (bool, int)):
        assert got == exp, what
    else:
        assert got == pytest.approx(exp), what


def _team_by_hand(wh: Warehouse, day: dt.date) -> dict[str, dict]:
    """The documented rule in Python: the team's / opponent's games of the season strictly before `day`."""
    rows = wh.query(f"SELECT * FROM {TEAM_OFFENSE} WHERE game_date <= @d ORDER BY game_date, game_id", {"d": day})
    by_game = defaultdict(dict)
    for r in rows:
        by_game[r["game_id"]][r["team_id"]] = r
    hist = defaultdict(list)  # team -> its prior games, with the defensive rating of each
    for r in rows:
        if r["game_date"] < day:
            opp = by_game[r["game_id"]].get(r["opponent_id"])
            d_rtg = 100 * opp["points"] / opp["possessions"] if opp else None
            hist[r["team_id"]].append({**r, "def_rating": d_rtg})
    out = {}
    for r in rows:
        if r["game_date"] != day:
            continue
        t, o = hist[r["team_id"]], hist[r["opponent_id"]]
        out[r["team_id"]] = {
            "team_games_prior": len(t), "opponent_games_prior": len(o),
            "team_pace_last_10": _mean([g["pace"] for g in t[-10:]]),
            "team_off_rating_last_10": _mean([g["offensive_rating"] for g in t[-10:]]),
            "opponent_def_rating_last_15": _mean([g["def_rating"] for g in o[-15:]]),
            "opponent_pace_last_15": _mean([g["pace"] for g in o[-15:]]),
        }
    return out


def _player_by_hand(wh: Warehouse, day: dt.date) -> dict[str, dict]:
    played = defaultdict(list)
    for r in wh.query(f"SELECT * FROM {PLAYER_GAME} WHERE game_date >= @s AND game_date < @d AND minutes_played > 0 "
                      "ORDER BY game_date, game_id", {"s": START, "d": day}):
        played[r["player_id"]].append(r)
    home = {r["game_id"]: r["home_team_id"] for r in wh.query(f"SELECT * FROM {SCHEDULE}")}

    def rate(games: list[dict], num: str, den: str) -> float | None:
        have = [g for g in games if g[num] is not None]
        total = sum(g[den] for g in have)
        return 100 * sum(g[num] for g in have) / total if have and total else None

    out = {}
    for r in wh.query(f"SELECT * FROM {PLAYER_GAME} WHERE game_date = @d", {"d": day}):
        p = played[r["player_id"]]
        last5, last10 = p[-5:], p[-10:]
        u5, us = _mean([g["usage_rate"] for g in last5]), _mean([g["usage_rate"] for g in p])
        out[r["player_id"]] = {
            "points_avg_season": _mean([g["points"] for g in p]),
            "points_std_last_10": statistics.stdev([g["points"] for g in last10]) if len(last10) > 1 else None,
            "usage_avg_season": us, "usage_spike": None if u5 is None or us is None else u5 - us,
            "paint_rate_last_10": rate(last10, "paint_attempts", "fg_attempts"),
            "mid_range_rate_last_10": rate(last10, "mid_range_attempts", "fg_attempts"),
            "three_pt_rate_last_10": rate(last10, "three_attempts", "fg_attempts"),
            "assisted_rate_last_10": rate(last10, "assisted_fg_makes", "fg_makes"),
            "is_home": r["team_id"] == home[r["game_id"]],
        }
    return out


def _stored(wh: Warehouse, table: str, key: str, keys: tuple[str, ...], day: dt.date) -> dict[str, dict]:
    return {r[key]: {k: r[k] for k in keys}
            for r in wh.query(f"SELECT * FROM {table} WHERE game_date = @d", {"d": day})}


def test_features_by_hand_and_no_look_ahead(wh: Warehouse) -> None:
    _build(wh)
    team, player = _stored(wh, TEAM_FACTORS, "team_id", TEAM_KEYS, DAY), _stored(wh, COMPOSITE, "player_id",
                                                                                 PLAYER_KEYS, DAY)
    exp_team, exp_player = _team_by_hand(wh, DAY), _player_by_hand(wh, DAY)
    assert team and set(team) == set(exp_team)
    assert player and set(player) == set(exp_player)
    for tid, exp in exp_team.items():
        for k in TEAM_KEYS:
            _close(team[tid][k], exp[k], (tid, k))
    for pid, exp in exp_player.items():
        for k in PLAYER_KEYS:
            _close(player[pid][k], exp[k], (pid, k))
    # the sample exercises the rules: zone data partly missing, both home and away players, a full window
    assert any(v["paint_rate_last_10"] is not None for v in player.values())
    assert {v["is_home"] for v in player.values()} == {True, False}
    assert min(v["team_games_prior"] for v in team.values()) >= 5
    # Change every game on and after the day, re-run the day alone: no feature may move.
    wh.execute([(f"UPDATE {TEAM_OFFENSE} SET points = points + 40, pace = pace + 30, "
                 "offensive_rating = offensive_rating + 30, possessions = possessions - 20 WHERE game_date >= @d",
                 {"d": DAY}),
                (f"UPDATE {PLAYER_GAME} SET points = points + 50, usage_rate = 99, paint_attempts = fg_attempts, "
                 "three_attempts = 0, assisted_fg_makes = 0 WHERE game_date >= @d", {"d": DAY})])
    _team_factors(wh, [DAY])
    s = run_dates(PlayerCompositeFactors(), JobContext(wh, False, argparse.Namespace(seasons=None,
                                                                                      bootstrap_days=14)), [DAY])
    assert not s.failed
    assert _stored(wh, TEAM_FACTORS, "team_id", TEAM_KEYS, DAY) == team
    assert _stored(wh, COMPOSITE, "player_id", PLAYER_KEYS, DAY) == player


def test_first_game_of_season_is_null_not_a_default(wh: Warehouse) -> None:
    _build(wh)
    first = wh.query(f"SELECT * FROM {TEAM_FACTORS} WHERE game_date = @d", {"d": START})
    assert first
    for r in first:
        assert r["team_games_prior"] == 0
        assert all(r[k] is None for k in ("team_pace_last_10", "team_off_rating_last_10",
                                          "opponent_def_rating_last_15", "opponent_pace_last_15"))
    n = wh.query(f"SELECT COUNT(*) AS n FROM {TEAM_FACTORS} GROUP BY game_id, team_id HAVING COUNT(*) > 1")
    assert n == []


def test_fault_flag_nulls_opponent_defense_on_the_named_dates(tmp_path) -> None:
    from backfill_orchestrator.warehouse.duckdb import DuckDBWarehouse

    path = tmp_path / "w.duckdb"
    wh = DuckDBWarehouse(path)
    write_sample(wh, START, END)
    build_all(wh, START, END)
    wh.close()
    run = run_job("team_factors", "--start-date", str(START), "--end-date", str(END), "--warehouse", str(path),
                  "--checkpoint", str(tmp_path / "cp.json"), "--null-opponent-defense", "2024-11-05..2024-11-07")
    assert run.code == 0, run.stderr
    check_format(run)
    assert "FAULT INJECTED: opponent_def_rating_last_15 NULL on 2024-11-05..2024-11-07" in run.stderr
    wh = DuckDBWarehouse(path)
    rows = wh.query(f"SELECT game_date, COUNT(*) AS n, COUNT(opponent_def_rating_last_15) AS known, "
                    f"COUNT(opponent_pace_last_15) AS pace FROM {TEAM_FACTORS} WHERE game_date >= @s "
                    "GROUP BY game_date ORDER BY game_date", {"s": D(2024, 11, 1)})  # every team has played
    wh.close()
    for r in rows:
        gap = D(2024, 11, 5) <= r["game_date"] <= D(2024, 11, 7)
        assert r["known"] == (0 if gap else r["n"]), r
        assert r["pace"] == r["n"], r  # only the named feature is missing
    bad = run_job("team_factors", "--dates", "2024-11-05", "--warehouse", str(path),
                  "--null-opponent-defense", "2024-11-07..2024-11-05")
    assert bad.code == 2 and bad.stderr.count("\n") == 1 and "--null-opponent-defense" in bad.stderr
