"""Sample raw data: realistic shape, internal consistency, determinism, faults, command line."""
from __future__ import annotations

import datetime as dt
import subprocess

import pytest

from backfill_orchestrator.errors import UsageError
from backfill_orchestrator.warehouse import Warehouse
from nba_pipeline.sample_data import Faults, write_sample
from nba_pipeline.tables import PLAYER_BOX, SCHEDULE, SHOT_ZONES, TEAM_BOX

from nba_jobhelp import ROOT

D = dt.date


def _one(wh: Warehouse, sql: str) -> int:
    return wh.query(sql)[0]["n"]


def test_consistency_the_suites_rely_on(duck) -> None:
    """(The default range's calendar, schedule, identities and distributions: test_sample_realism.py.)"""
    write_sample(duck, D(2024, 12, 20), D(2025, 1, 10))
    assert _one(duck, f"SELECT COUNT(*) AS n FROM {PLAYER_BOX} WHERE points <> 2 * fg_makes + three_makes + ft_makes") == 0
    assert _one(duck, f"SELECT COUNT(*) AS n FROM {TEAM_BOX} WHERE points <> 2 * fg_makes + three_makes + ft_makes") == 0
    assert _one(duck, f"""SELECT COUNT(*) AS n FROM {TEAM_BOX} t JOIN (
        SELECT game_id, team_id, SUM(minutes) AS m, SUM(points) AS p, SUM(fg_attempts) AS a, SUM(turnovers) AS tov,
               SUM(ft_attempts) AS fta FROM {PLAYER_BOX} GROUP BY game_id, team_id) p
        ON p.game_id = t.game_id AND p.team_id = t.team_id
        WHERE t.minutes <> p.m OR t.points <> p.p OR t.fg_attempts <> p.a OR t.turnovers <> p.tov
           OR t.ft_attempts <> p.fta""") == 0
    assert _one(duck, f"""SELECT COUNT(*) AS n FROM {SHOT_ZONES} z JOIN {PLAYER_BOX} p
        ON p.game_id = z.game_id AND p.player_id = z.player_id
        WHERE z.paint_attempts + z.mid_range_attempts + z.three_attempts <> p.fg_attempts
           OR z.paint_makes + z.mid_range_makes + z.three_makes <> p.fg_makes
           OR z.paint_makes > z.paint_attempts OR z.mid_range_makes > z.mid_range_attempts
           OR z.assisted_fg_makes > p.fg_makes""") == 0
    assert _one(duck, f"SELECT COUNT(*) AS n FROM {SHOT_ZONES}") > 0


def test_same_seed_same_rows_whatever_the_range(tmp_path) -> None:
    from backfill_orchestrator.warehouse.duckdb import DuckDBWarehouse

    a, b = DuckDBWarehouse(tmp_path / "a.duckdb"), DuckDBWarehouse(tmp_path / "b.duckdb")
    write_sample(a, D(2024, 11, 1), D(2024, 11, 3))
    write_sample(b, D(2024, 10, 22), D(2024, 11, 30))
    q = f"SELECT * FROM {PLAYER_BOX} WHERE game_date = '2024-11-02' ORDER BY game_id, player_id"
    assert a.query(q) == b.query(q) and a.query(q)
    write_sample(b, D(2024, 11, 1), D(2024, 11, 3), seed=8)
    assert a.query(q) != b.query(q)


def test_faults(wh: Warehouse) -> None:
    s = write_sample(wh, D(2024, 11, 1), D(2024, 11, 5),
                     faults=Faults(drop_team_box=(D(2024, 11, 2), D(2024, 11, 3)), duplicate_game="2024-11-04",
                                   null_column=("player_box_scores", "minutes", 0.1)))
    assert set(s.faults) == {"drop_team_box", "duplicate_game", "null_column"}
    days = {r["game_date"] for r in wh.query(f"SELECT DISTINCT game_date FROM {TEAM_BOX}")}
    assert D(2024, 11, 2) not in days and D(2024, 11, 3) not in days and D(2024, 11, 1) in days
    dup = wh.query(f"SELECT game_id, COUNT(*) AS n FROM {SCHEDULE} GROUP BY game_id HAVING COUNT(*) > 1")
    assert len(dup) == 1 and dup[0]["n"] == 2
    nulls = _one(wh, f"SELECT COUNTIF(minutes IS NULL) AS n FROM {PLAYER_BOX}")
    assert 0.05 * s.player_rows < nulls < 0.15 * s.player_rows


def test_bad_faults_write_nothing(duck) -> None:
    with pytest.raises(UsageError, match="no column 'minuts'"):
        write_sample(duck, D(2024, 11, 1), D(2024, 11, 2), faults=Faults(null_column=("player_box_scores", "minuts", 0.1)))
    with pytest.raises(UsageError, match="no such game"):
        write_sample(duck, D(2024, 11, 1), D(2024, 11, 2), faults=Faults(duplicate_game="nope"))
    assert not duck.table_exists(PLAYER_BOX)


def test_cli_and_script(tmp_path) -> None:
    out = tmp_path / "nba.duckdb"
    p = subprocess.run([str(ROOT / "scripts" / "sample-data.sh"), "--out", str(out), "--start", "2024-11-01",
                        "--end", "2024-11-03", "--drop-team-box", "2024-11-02..2024-11-02"],
                       capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "player_rows=" in p.stdout and "fault drop_team_box: 2024-11-02..2024-11-02" in p.stdout
    assert out.exists() and not list(tmp_path.glob(".sample-*"))  # staging directory cleaned up
    for bad, msg in ((["--null-column", "player_box_scores.minutes"], "--null-column"),
                     (["--start", "2024-11-02", "--end", "2024-11-01"], "before --start"), (["--start", "2024-13-01"], "--start"),
                     (["--bogus"], "unrecognized arguments")):
        p = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-m", "nba_pipeline.sample_data", "--out",
                            str(tmp_path / "x.duckdb"), *bad], capture_output=True, text=True, cwd=tmp_path)
        assert p.returncode == 2 and p.stdout == ""
        assert len(p.stderr.strip().splitlines()) == 1 and p.stderr.startswith("error: ") and msg in p.stderr
        assert not (tmp_path / "x.duckdb").exists()
