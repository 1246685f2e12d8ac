"""Composite factors never look ahead: not at a game loaded twice, not at another game of the same day."""
from __future__ import annotations

import argparse
import datetime as dt

import pytest

from backfill_orchestrator.warehouse import Warehouse
from nba_pipeline.jobkit import JobContext, run_dates
from nba_pipeline.player_composite_factors import PlayerCompositeFactors
from nba_pipeline.tables import COMPOSITE, DERIVED, PLAYER_GAME, RAW, SCHEDULE

D = dt.date


def _pg(game_id: str, day: dt.date, points: int, minutes: float) -> dict:
    row = {c.name: None for c in DERIVED[PLAYER_GAME]}
    row.update(game_id=game_id, game_date=day, season="2024-25", team_id="AAA", player_id="P", player_name="P",
               starter=True, minutes_played=minutes, points=points, usage_rate=float(points) / 2)
    return row


def _load(wh: Warehouse, table: str, cols, rows: list[dict]) -> None:
    wh.create_table(table, cols, replace=True)
    wh.load_rows(table, rows, cols)


def test_no_look_ahead_with_duplicate_and_same_day_games(wh: Warehouse) -> None:
    games = [("g1", D(2024, 11, 5), 10), ("g2", D(2024, 11, 7), 20), ("g3", D(2024, 11, 9), 30),
             ("g4", D(2024, 11, 10), 40), ("g5", D(2024, 11, 10), 50)]
    rows = [_pg(g, d, p, 30.0) for g, d, p in games] + [_pg("g3", D(2024, 11, 9), 30, 30.0)]  # g3 loaded twice
    _load(wh, PLAYER_GAME, DERIVED[PLAYER_GAME], rows)
    _load(wh, SCHEDULE, RAW[SCHEDULE], [
        {"game_id": g, "game_date": d, "season": "2024-25", "home_team_id": "AAA", "away_team_id": "BBB",
         "overtime_periods": 0, "game_type": "regular"} for g, d, _ in games])
    ctx = JobContext(wh, False, argparse.Namespace(seasons=None, bootstrap_days=14))
    days = [D(2024, 11, 5), D(2024, 11, 7), D(2024, 11, 9), D(2024, 11, 10)]
    for _ in range(2):  # a re-run leaves one copy too
        s = run_dates(PlayerCompositeFactors(), ctx, days)
        assert not s.failed
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
