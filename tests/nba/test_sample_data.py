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


def test_full_range_shape_and_consistency(duck) -> None:
    s = write_sample(duck, D(2021, 10, 19), D(2026, 1, 2))
    assert 125_000 <= s.player_rows <= 135_000
    assert 0.40 <= s.zone_rows / s.player_rows <= 0.50
    per_season = {r["season"]: r["n"] for r in duck.query(
        f"SELECT season, COUNT(*) AS n FROM {SCHEDULE} WHERE game_type = 'regular' GROUP BY season")}
    for season in ("2021-22", "2022-23", "2023-24", "2024-25"):
        assert per_season[season] == 1230, per_season
    starts = {r["season"]: r["d"] for r in duck.query(f"SELECT season, MIN(game_date) AS d FROM {SCHEDULE} GROUP BY season")}
    assert starts == {"2021-22": D(2021, 10, 19), "2022-23": D(2022, 10, 18), "2023-24": D(2023, 10, 24),
                      "2024-25": D(2024, 10, 22), "2025-26": D(2025, 10, 21)}
    assert _one(duck, f"SELECT COUNT(*) AS n FROM {SCHEDULE} WHERE EXTRACT(MONTH FROM game_date) IN (7, 8, 9)") == 0
    # All-Star break 2024: the third Sunday of February (18th) and the days around it
    assert _one(duck, f"SELECT COUNT(*) AS n FROM {SCHEDULE} WHERE game_date BETWEEN '2024-02-15' AND '2024-02-20'") == 0
    assert _one(duck, f"SELECT COUNT(*) AS n FROM {SCHEDULE} WHERE game_type = 'playoffs' AND "
                      "EXTRACT(MONTH FROM game_date) = 6") > 0
    # consistency the validation suites rely on
    assert _one(duck, f"SELECT COUNT(*) AS n FROM {TEAM_BOX} WHERE minutes <> 240 + 25 * (SELECT MAX(overtime_periods) "
                      f"FROM {SCHEDULE} s WHERE s.game_id = {TEAM_BOX}.game_id)") == 0
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
    # nobody plays twice on a day; no ties
    assert _one(duck, f"SELECT COUNT(*) AS n FROM (SELECT game_date, team_id FROM {TEAM_BOX} "
                      "GROUP BY game_date, team_id HAVING COUNT(*) > 1) x") == 0
    assert _one(duck, f"SELECT COUNT(*) AS n FROM {TEAM_BOX} a JOIN {TEAM_BOX} b ON a.game_id = b.game_id "
                      "AND a.team_id < b.team_id WHERE a.points = b.points") == 0


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
