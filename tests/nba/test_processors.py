"""The three processors on DuckDB and on BigQuery (emulator): usage_rate by hand, overtime, shot zones,
windows over played games (recomputed by hand, DNPs in between), the bootstrap rule at season boundaries,
no look-ahead (also with a game loaded twice and two games on one day), and dropped team box scores."""
from __future__ import annotations

import argparse
import datetime as dt
from collections import defaultdict

import pytest

from backfill_orchestrator.dates import load_calendar
from backfill_orchestrator.warehouse import Warehouse
from nba_pipeline.build import build_all
from nba_pipeline.jobkit import JobContext, build_parser, run_dates
from nba_pipeline.player_composite_factors import BOOTSTRAP_DAYS, PlayerCompositeFactors
from nba_pipeline.sample_data import Faults, write_sample
from nba_pipeline.tables import (COMPOSITE, DERIVED, KEYS, PLAYER_BOX, PLAYER_GAME, RAW, SCHEDULE, SHOT_ZONES, TEAM_BOX,
                                 TEAM_OFFENSE, column_names, dedup_order)

from nba_jobhelp import ROOT, check_format, run_job, warehouse_url

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
    assert team[0]["pace"] is None  # pace needs the opponent's possessions too (team B's box is missing)
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


def _poss(r: dict) -> float:
    return r["fg_attempts"] - r["offensive_rebounds"] + r["turnovers"] + 0.44 * r["ft_attempts"]


def test_pace_uses_both_teams_possessions_by_hand(wh: Warehouse) -> None:
    _hand_game(wh)  # team A: 100.8 possessions in 265 minutes (one overtime)
    common = {"game_id": "0022400999", "game_date": D(2024, 11, 20), "season": "2024-25"}
    wh.load_rows(TEAM_BOX, [{**common, "team_id": "BBB", "opponent_id": "AAA", "is_home": False, "minutes": 265,
                             **_box(points=110, fg_makes=40, fg_attempts=85, three_makes=10, three_attempts=30,
                                    ft_makes=20, ft_attempts=25, offensive_rebounds=12, turnovers=15)}],
                 RAW[TEAM_BOX])
    build_all(wh, D(2024, 11, 20), D(2024, 11, 20))
    team = {r["team_id"]: r for r in wh.query(f"SELECT * FROM {TEAM_OFFENSE}")}
    # Basketball-Reference: pace = 48 * ((Tm Poss + Opp Poss) / (2 * (Tm MP / 5)))
    # B: 85 - 12 + 15 + 0.44 * 25 = 99.0 possessions; 48 * (100.8 + 99.0) / (2 * 53) = 90.4754...
    assert team["BBB"]["possessions"] == pytest.approx(99.0)
    assert team["AAA"]["pace"] == pytest.approx(48 * (100.8 + 99.0) / (2 * 265 / 5))
    assert team["BBB"]["pace"] == team["AAA"]["pace"]
    assert team["AAA"]["offensive_rating"] == pytest.approx(100 * 120 / 100.8)  # ORtg stays per own possession


def test_pace_recomputed_from_raw_box_scores_and_same_for_both_teams(wh: Warehouse) -> None:
    write_sample(wh, D(2024, 11, 1), D(2024, 11, 3))
    build_all(wh, D(2024, 11, 1), D(2024, 11, 3))
    raw: dict[str, list[dict]] = defaultdict(list)
    for r in wh.query(f"SELECT * FROM {TEAM_BOX}"):
        raw[r["game_id"]].append(r)
    out: dict[str, list[dict]] = defaultdict(list)
    for r in wh.query(f"SELECT game_id, team_id, pace FROM {TEAM_OFFENSE}"):
        out[r["game_id"]].append(r)
    assert out and set(out) == set(raw)
    for game_id, rows in out.items():
        a, b = raw[game_id]
        expected = 48 * (_poss(a) + _poss(b)) / (2 * (a["minutes"] / 5))
        assert [r["pace"] for r in rows] == pytest.approx([expected, expected]), game_id


def test_reruns_leave_one_copy(wh: Warehouse) -> None:
    write_sample(wh, D(2024, 10, 22), D(2024, 10, 24))
    for _ in range(2):
        res = build_all(wh, D(2024, 10, 22), D(2024, 10, 24))
    n_box = wh.query(f"SELECT COUNT(*) AS n FROM {PLAYER_BOX}")[0]["n"]
    assert wh.query(f"SELECT COUNT(*) AS n FROM {PLAYER_GAME}")[0]["n"] == n_box
    assert res[1].records == n_box  # records of a re-run = rows written, not deleted + inserted
    dup = wh.query(f"SELECT game_id, player_id FROM {PLAYER_GAME} GROUP BY game_id, player_id HAVING COUNT(*) > 1")
    assert dup == []


def _derived_rows(wh: Warehouse) -> dict[str, list[tuple]]:
    out = {}
    for table in (TEAM_OFFENSE, PLAYER_GAME, COMPOSITE):
        cols = [c for c in column_names(table) if c != "processed_at"]
        out[table] = sorted(tuple(r.values()) for r in wh.query(f"SELECT {', '.join(cols)} FROM {table}"))
    return out


def _duplicate_keys(wh: Warehouse, table: str) -> list[dict]:
    keys = ", ".join(KEYS[table])
    return wh.query(f"SELECT {keys}, COUNT(*) AS n FROM {table} GROUP BY {keys} HAVING COUNT(*) > 1")


def test_raw_game_loaded_twice_yields_one_row_per_key(wh: Warehouse) -> None:
    start, end = D(2024, 10, 22), D(2024, 11, 8)
    write_sample(wh, start, end)
    build_all(wh, start, end)
    clean = _derived_rows(wh)
    day = D(2024, 11, 6)
    game = wh.query(f"SELECT MIN(game_id) AS g FROM {TEAM_BOX} WHERE game_date = @d", {"d": day})[0]["g"]
    for table in RAW:  # the whole game loaded a second time, in every raw table
        cols = ", ".join(column_names(table))
        wh.execute([(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {table} WHERE game_id = @g", {"g": game})])
    assert len(_duplicate_keys(wh, TEAM_BOX)) == 2 and len(_duplicate_keys(wh, PLAYER_BOX)) > 0
    res = build_all(wh, start, end)
    for table in (TEAM_OFFENSE, PLAYER_GAME, COMPOSITE):
        assert _duplicate_keys(wh, table) == [], table
    assert _derived_rows(wh) == clean  # exactly the tables of the clean load
    # the records a job reports are the rows it wrote (one per key), not the raw rows it read
    assert res[0].records == len(clean[TEAM_OFFENSE]) and res[1].records == len(clean[PLAYER_GAME])


def test_dedup_keeps_the_fullest_copy_whatever_the_load_order(wh: Warehouse) -> None:
    # a partial box score (loaded during the game) arrives AFTER the final one: the final one is kept, because
    # the rule orders copies by minutes, then the other columns, largest first, never by load order
    _hand_game(wh)
    common = {"game_id": "0022400999", "game_date": D(2024, 11, 20), "season": "2024-25"}
    wh.load_rows(TEAM_BOX, [{**common, "team_id": "AAA", "opponent_id": "BBB", "is_home": True, "minutes": 120,
                             **_box(points=55, fg_makes=20, fg_attempts=41, ft_attempts=9, turnovers=6)}],
                 RAW[TEAM_BOX])
    wh.load_rows(PLAYER_BOX, [{**common, "team_id": "AAA", "player_id": "X", "player_name": "X", "starter": True,
                               "minutes": 18.0, **_box(points=11, fg_makes=4, fg_attempts=9)}], RAW[PLAYER_BOX])
    build_all(wh, D(2024, 11, 20), D(2024, 11, 20))
    team = wh.query(f"SELECT minutes, points, possessions FROM {TEAM_OFFENSE}")
    assert team == [{"minutes": 265, "points": 120, "possessions": pytest.approx(100.8)}]
    x = wh.query(f"SELECT minutes_played, points, usage_rate FROM {PLAYER_GAME} WHERE player_id = 'X'")
    assert x == [{"minutes_played": 40.0, "points": 25, "usage_rate": pytest.approx(30.6615523465704)}]
    assert dedup_order(TEAM_BOX)[0] == "minutes DESC NULLS LAST"


FACTOR_KEYS = ("games_prior", "points_avg_last_5", "points_avg_last_10", "minutes_avg_last_5", "minutes_avg_last_10",
               "usage_avg_last_5", "usage_avg_last_10", "usage_trend", "rest_days", "back_to_back")


def _mean(xs: list) -> float | None:
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


def _factors_by_hand(prior: list[dict], day: dt.date) -> dict:
    """The documented rule: only PLAYED games (minutes > 0) strictly before `day` count, for every factor."""
    played = [g for g in prior if g["game_date"] < day and (g["minutes_played"] or 0) > 0]
    last5, last10 = played[-5:], played[-10:]
    u5, u10 = _mean([g["usage_rate"] for g in last5]), _mean([g["usage_rate"] for g in last10])
    rest = (day - played[-1]["game_date"]).days - 1 if played else None
    return {"games_prior": len(played),
            "points_avg_last_5": _mean([g["points"] for g in last5]),
            "points_avg_last_10": _mean([g["points"] for g in last10]),
            "minutes_avg_last_5": _mean([g["minutes_played"] for g in last5]),
            "minutes_avg_last_10": _mean([g["minutes_played"] for g in last10]),
            "usage_avg_last_5": u5, "usage_avg_last_10": u10,
            "usage_trend": None if u5 is None or u10 is None else u5 - u10,
            "rest_days": rest, "back_to_back": rest == 0}


def _assert_factors(got: dict, exp: dict, what: object) -> None:
    for k in FACTOR_KEYS:
        if exp[k] is None or isinstance(exp[k], (bool, int)):
            assert got[k] == exp[k], (what, k, got[k], exp[k])
        else:
            assert got[k] == pytest.approx(exp[k]), (what, k, got[k], exp[k])


def _composite_expectations(wh: Warehouse, day: dt.date, season_start: dt.date) -> dict[str, dict]:
    """Factors for `day` computed in Python from player_game_summary (same season, played games before)."""
    hist = defaultdict(list)
    for r in wh.query(f"SELECT player_id, game_id, game_date, points, minutes_played, usage_rate FROM {PLAYER_GAME} "
                      "WHERE game_date >= @s AND game_date < @d ORDER BY game_date, game_id",
                      {"s": season_start, "d": day}):
        hist[r["player_id"]].append(r)
    return {r["player_id"]: _factors_by_hand(hist[r["player_id"]], day)
            for r in wh.query(f"SELECT player_id FROM {PLAYER_GAME} WHERE game_date = @d", {"d": day})}


def test_composite_factors_no_look_ahead_and_values(wh: Warehouse) -> None:
    start, day, end = D(2024, 10, 22), D(2024, 11, 8), D(2024, 11, 12)
    write_sample(wh, start, end)
    build_all(wh, start, end)
    before = {r["player_id"]: r for r in wh.query(f"SELECT * FROM {COMPOSITE} WHERE game_date = @d", {"d": day})}
    expected = _composite_expectations(wh, day, start)
    assert before and set(before) == set(expected)
    for pid, exp in expected.items():
        _assert_factors(before[pid], exp, pid)
    # the rule is exercised: some players of the day sat out a game between games they played
    dnp_between = wh.query(
        f"SELECT COUNT(DISTINCT d.player_id) AS n FROM {PLAYER_GAME} AS d JOIN {PLAYER_GAME} AS p "
        "ON p.player_id = d.player_id AND p.game_date < @d "
        "WHERE d.game_date = @d AND p.minutes_played = 0", {"d": day})[0]["n"]
    assert dnp_between > 0
    # Change everything on and after the day, re-run the day alone: its factors must not move.
    wh.execute([(f"UPDATE {PLAYER_GAME} SET points = points + 50, minutes_played = 48, usage_rate = 99 "
                 "WHERE game_date >= @d", {"d": day})])
    run_dates(PlayerCompositeFactors(), JobContext(wh, False, argparse.Namespace(seasons=None, bootstrap_days=14)),
              [day])
    after = {r["player_id"]: r for r in wh.query(f"SELECT * FROM {COMPOSITE} WHERE game_date = @d", {"d": day})}
    assert {p: [r[k] for k in FACTOR_KEYS] for p, r in after.items()} == \
        {p: [r[k] for k in FACTOR_KEYS] for p, r in before.items()}


def _pg(game_id: str, day: dt.date, points: int, minutes: float, player: str = "P") -> dict:
    row = {c.name: None for c in DERIVED[PLAYER_GAME]}
    row.update(game_id=game_id, game_date=day, season="2024-25", team_id="AAA", player_id=player, player_name=player,
               starter=True, minutes_played=minutes, points=points,
               usage_rate=float(points) / 2 if minutes > 0 else None)
    return row


def _load_summary(wh: Warehouse, rows: list[dict]) -> None:
    _load_cols(wh, PLAYER_GAME, DERIVED[PLAYER_GAME], rows)
    games = sorted({(r["game_id"], r["game_date"]) for r in rows})
    _load(wh, SCHEDULE, [{"game_id": g, "game_date": d, "season": "2024-25", "home_team_id": "AAA",
                          "away_team_id": "BBB", "overtime_periods": 0, "game_type": "regular"} for g, d in games])


def _load_cols(wh: Warehouse, table: str, cols, rows: list[dict]) -> None:
    wh.create_table(table, cols, replace=True)
    wh.load_rows(table, rows, cols)


def _run_composite(wh: Warehouse, days: list[dt.date]) -> None:
    s = run_dates(PlayerCompositeFactors(), JobContext(wh, False, argparse.Namespace(seasons=None, bootstrap_days=14)),
                  days)
    assert not s.failed


def test_windows_count_played_games_only_with_dnps_in_between(wh: Warehouse) -> None:
    # P plays 12 games with DNPs in between; every window, games_prior, rest_days and back_to_back must be
    # over the same PLAYED games. Recomputed by hand (the documented rule) for every game, DNPs included.
    first = D(2024, 11, 5)
    plan = [(10, 30.0), (0, 0.0), (14, 32.0), (0, 0.0), (0, 0.0), (22, 35.0), (8, 20.0), (0, 0.0), (30, 38.0),
            (12, 25.0), (16, 28.0), (0, 0.0), (26, 36.0), (18, 30.0), (0, 0.0), (20, 31.0), (24, 33.0)]
    rows = [_pg(f"g{i:02d}", first + dt.timedelta(days=i if i < 8 else i + 1), pts, mins)
            for i, (pts, mins) in enumerate(plan)]  # and a day without a game after g07
    _load_summary(wh, rows)
    days = sorted({r["game_date"] for r in rows})
    _run_composite(wh, days)
    got = {r["game_id"]: r for r in wh.query(f"SELECT * FROM {COMPOSITE}")}
    assert set(got) == {r["game_id"] for r in rows}  # a DNP game gets a row too
    for r in rows:
        _assert_factors(got[r["game_id"]], _factors_by_hand(rows, r["game_date"]), r["game_id"])
    # spelled out once: before g16 the last 5 PLAYED games are g09 g10 g12 g13 g15 (g11, g14 were DNPs)
    g16 = got["g16"]
    assert g16["points_avg_last_5"] == pytest.approx((12 + 16 + 26 + 18 + 20) / 5)
    assert g16["minutes_avg_last_5"] == pytest.approx((25 + 28 + 36 + 30 + 31) / 5)
    assert g16["usage_avg_last_5"] == pytest.approx((12 + 16 + 26 + 18 + 20) / 10)
    assert g16["games_prior"] == 10 and g16["rest_days"] == 0 and g16["back_to_back"] is True
    # after two DNPs in a row the rest is counted from the last game PLAYED (g02 on Nov 7 -> g05 on Nov 10)
    assert got["g05"]["rest_days"] == 2 and got["g05"]["back_to_back"] is False


def test_no_look_ahead_with_duplicate_and_same_day_games(wh: Warehouse) -> None:
    # composite factors never look ahead: not at a game loaded twice, not at another game of the same day
    games = [("g1", D(2024, 11, 5), 10), ("g2", D(2024, 11, 7), 20), ("g3", D(2024, 11, 9), 30),
             ("g4", D(2024, 11, 10), 40), ("g5", D(2024, 11, 10), 50)]
    rows = [_pg(g, d, p, 30.0) for g, d, p in games] + [_pg("g3", D(2024, 11, 9), 30, 30.0)]  # g3 loaded twice
    _load_summary(wh, rows)
    days = [D(2024, 11, 5), D(2024, 11, 7), D(2024, 11, 9), D(2024, 11, 10)]
    for _ in range(2):  # a re-run leaves one copy too
        _run_composite(wh, days)
    got = wh.query(f"SELECT game_id, games_prior, points_avg_last_5, rest_days, back_to_back FROM {COMPOSITE} "
                   "ORDER BY game_id, games_prior")
    by_game: dict[str, list[dict]] = {}
    for r in got:
        by_game.setdefault(r["game_id"], []).append(r)
    assert {g: len(v) for g, v in by_game.items()} == {"g1": 1, "g2": 1, "g3": 1, "g4": 1, "g5": 1}
    g3, g4, g5 = by_game["g3"][0], by_game["g4"][0], by_game["g5"][0]
    assert g3["games_prior"] == 2 and g3["points_avg_last_5"] == pytest.approx(15.0)
    for r in (g4, g5):  # the other game of 2024-11-10 is not prior; g3 counts once
        assert r["games_prior"] == 3, r
        assert r["points_avg_last_5"] == pytest.approx(20.0), r
        assert r["rest_days"] == 0 and r["back_to_back"] is True, r


def test_bootstrap_rule_first_factor_date_is_season_start_plus_14() -> None:
    proc = PlayerCompositeFactors()
    assert "the first factor date is season start + N" in " ".join(build_parser(proc).format_help().split())
    season = load_calendar(ROOT / "config" / "seasons.yaml").seasons[-1]
    first = season.start + dt.timedelta(days=BOOTSTRAP_DAYS)
    ctx = JobContext(None, True, argparse.Namespace(seasons=None, bootstrap_days=BOOTSTRAP_DAYS),
                     {"games": {first - dt.timedelta(days=1), first}})
    assert proc.skip_reason(ctx, first - dt.timedelta(days=1)) == "bootstrap: first 14 days of the season"
    assert proc.skip_reason(ctx, first) is None
    assert proc.season_ranges(season.start, season.playoffs_end) == [(first, season.playoffs_end)]


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
