"""Small, exact tables for the validation tests, written to the `wh` warehouse (DuckDB and BigQuery).

Per game date (every date except Sundays, 2024-01-01..2024-02-29): 2 games x 2 teams x 5 players.
Clean data satisfies every invariant the checks look at; `Faults` breaks exactly one thing each.
"""
from __future__ import annotations

import datetime as dt
import textwrap
from dataclasses import dataclass
from pathlib import Path


from backfill_orchestrator.warehouse import Column, Warehouse

PLAYERS = "vt.player_games"
TEAMS = "vt.team_games"
RAW = "vt.raw_players"
FIRST, LAST = dt.date(2024, 1, 1), dt.date(2024, 2, 29)
RANGE = (dt.date(2024, 2, 1), dt.date(2024, 2, 29))

PLAYER_COLS = [Column("game_date", "DATE"), Column("game_id", "STRING"), Column("team_id", "STRING"),
               Column("player_id", "STRING"), Column("points", "INT64"), Column("minutes", "FLOAT64"),
               Column("usage_rate", "FLOAT64"), Column("fga", "INT64"), Column("paint", "INT64"),
               Column("mid", "INT64"), Column("three", "INT64")]
TEAM_COLS = [Column("game_date", "DATE"), Column("game_id", "STRING"), Column("team_id", "STRING"),
             Column("points", "INT64"), Column("overtime", "INT64")]
RAW_COLS = [Column("game_date", "DATE"), Column("game_id", "STRING"), Column("team_id", "STRING"),
            Column("player_id", "STRING")]


@dataclass(frozen=True)
class Faults:
    null_usage: tuple[dt.date, dt.date] | None = None  # usage_rate NULL on these dates
    drop_dates: tuple[dt.date, dt.date] | None = None  # no player rows on these dates (raw keeps them)
    outlier: bool = False  # one row with points = 150
    bad_minutes: bool = False  # one player +10 minutes (team-game sums 250)
    bad_team_points: bool = False  # one team row's points +3
    fga_mismatch: bool = False  # one row whose fga != paint + mid + three
    half_rows: tuple[dt.date, dt.date] | None = None  # only half the players on these dates
    duplicate_player: bool = False  # one player row twice (the derived table's key)
    duplicate_raw_game: bool = False  # one game's raw rows twice (the raw table's key)


def game_dates() -> list[dt.date]:
    out, d = [], FIRST
    while d <= LAST:
        if d.weekday() != 6:
            out.append(d)
        d += dt.timedelta(days=1)
    return out


def build(wh: Warehouse, faults: Faults = Faults()) -> None:
    players, teams, raw = [], [], []
    for d in game_dates():
        for g in range(2):
            game = f"{d:%Y%m%d}{g}"
            ot = 1 if (d.day + g) % 9 == 0 else 0
            for t in range(2):
                team = f"T{g * 2 + t}"
                total = 0
                for p in range(5):
                    pts = 10 + (d.day + p + t) % 15
                    zones = p % 2 == 0
                    fga = 8 + p
                    row = {"game_date": d, "game_id": game, "team_id": team, "player_id": f"P{g}{t}{p}",
                           "points": pts, "minutes": (240 + 25 * ot) / 5, "usage_rate": 20.0 + (p - 2) * 0.5,
                           "fga": fga, "paint": 3 if zones else None, "mid": 2 if zones else None,
                           "three": fga - 5 if zones else None}
                    raw.append({k: row[k] for k in ("game_date", "game_id", "team_id", "player_id")})
                    if _in(d, faults.null_usage):
                        row["usage_rate"] = None
                    if _in(d, faults.drop_dates) or (_in(d, faults.half_rows) and p % 2):
                        continue
                    players.append(row)
                    total += pts
                teams.append({"game_date": d, "game_id": game, "team_id": team, "points": total, "overtime": ot})
    target = next(r for r in players[-40::-1] if r["paint"] is not None)  # a row inside February, with zones
    if faults.outlier:
        target["points"] = 150
    if faults.bad_minutes:
        target["minutes"] += 10
    if faults.fga_mismatch:
        target["fga"] += 1
    if faults.bad_team_points:
        teams[-10]["points"] += 3
    if faults.duplicate_player:
        players.append(dict(target))
    if faults.duplicate_raw_game:
        raw += [dict(r) for r in raw if r["game_id"] == target["game_id"]]
    for table, cols, rows in ((PLAYERS, PLAYER_COLS, players), (TEAMS, TEAM_COLS, teams), (RAW, RAW_COLS, raw)):
        wh.create_table(table, cols, replace=True)
        wh.load_rows(table, rows, cols)


def _in(d: dt.date, r: tuple[dt.date, dt.date] | None) -> bool:
    return r is not None and r[0] <= d <= r[1]


def write_suite(dir: Path, text: str, name: str = "suite.yaml") -> Path:
    p = dir / name
    p.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return p


