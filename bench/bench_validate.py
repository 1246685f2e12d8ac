"""Benchmark: the player_game_summary validation suite vs a hand-written SQL floor, Soda Core and Great Expectations.

    .venv/bin/python bench/bench_validate.py --rows 1000000 [--rows 10000000] [--repeat 5] [--skip-peers]

Data: nba_pipeline sample data over 2021-10-19..2026-01-02, built with build_all, then scaled up by copying the
tables with suffixed game ids (consistency between tables is kept) into bench/.work/pgs_<N>.duckdb, written in
DuckDB storage v1.0.0 so Soda's older duckdb can open the SAME file. The suite: config/suites/
player_game_summary.yaml minus two of its three cross-table checks (22 checks: coverage, row count vs raw,
completeness, one row per key in the summary and in the raw table, ranges, mean, regression vs baseline, temporal,
one row-level and one cross-table consistency). The floor is one hand-written statement computing what those
checks need (the keys as one `GROUP BY date, key` per table, the raw table's rows from the same grouping).
Peers run the checks they can express, each in its own venv under bench/.work/ (created here); a peer that
cannot be installed or run is reported with the reason and skipped. Prints medians (in-process and cold CLI),
statement counts and ratios. Not a test: nothing here asserts.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / ".work"
PY = ROOT / ".venv" / "bin" / "python"
START, END = dt.date(2022, 1, 1), dt.date(2026, 1, 2)  # + the 90-day baseline before it, in the same scan
PGS, PBS, TOS = "nba_analytics.player_game_summary", "nba_raw.player_box_scores", "nba_analytics.team_offense_game_summary"
DROP = {"usage_rate_sum_per_team_game", "team_points_equal_player_points"}


# --- data -------------------------------------------------------------------------------------------------
def base_db() -> Path:
    path = WORK / "base.duckdb"
    if path.exists():
        return path
    from backfill_orchestrator.warehouse.duckdb import DuckDBWarehouse
    from nba_pipeline.build import build_all
    from nba_pipeline.sample_data import write_sample

    tmp = path.with_suffix(".tmp.duckdb")
    tmp.unlink(missing_ok=True)
    wh = DuckDBWarehouse(tmp)
    t0 = time.perf_counter()
    write_sample(wh, dt.date(2021, 10, 19), END, seed=7)
    build_all(wh, dt.date(2021, 10, 19), END, mode="range")
    wh.close()
    tmp.replace(path)
    print(f"base sample data built in {time.perf_counter() - t0:.1f}s -> {path}")
    return path


def scaled_db(rows: int) -> tuple[Path, int]:
    path = WORK / f"pgs_{rows}.duckdb"
    con = duckdb.connect()
    con.execute(f"ATTACH '{base_db()}' AS src (READ_ONLY)")
    base_rows = con.execute(f"SELECT COUNT(*) FROM src.{PGS}").fetchone()[0]
    k = max(1, math.ceil(rows / base_rows))
    if not path.exists():
        tmp = path.with_suffix(".tmp.duckdb")
        tmp.unlink(missing_ok=True)
        con.execute(f"ATTACH '{tmp}' AS db (STORAGE_VERSION 'v1.0.0')")
        for table in (PGS, PBS, TOS):
            schema = table.split(".")[0]
            con.execute(f"CREATE SCHEMA IF NOT EXISTS db.{schema}")
            con.execute(f"CREATE TABLE db.{table} AS SELECT * REPLACE (CASE WHEN i = 0 THEN game_id "
                        f"ELSE game_id || '-' || i END AS game_id) FROM src.{table}, range({k}) AS r(i) "
                        f"ORDER BY game_date")
        con.execute("DETACH db")
        tmp.replace(path)
    n = duckdb.connect(str(path), read_only=True).execute(f"SELECT COUNT(*) FROM {PGS}").fetchone()[0]
    return path, n


def bench_suite() -> Path:
    doc = yaml.safe_load((ROOT / "config" / "suites" / "player_game_summary.yaml").read_text())
    doc["checks"] = [c for c in doc["checks"] if c["name"] not in DROP]
    out = WORK / "suites" / "player_game_summary.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(doc, sort_keys=False))
    return out.parent


# --- ours and the floor --------------------------------------------------------------------------------------
def paired(db: Path, repeat: int) -> tuple[dict, dict, float]:
    """The floor and ours alternately, each on its own warm connection: (floor, ours, median of the per-pair
    ratios). Alternating keeps a shared machine's changing load out of the ratio."""
    from backfill_orchestrator.dates import load_calendar
    from backfill_orchestrator.validation import load_suites, run_suite
    from backfill_orchestrator.warehouse.duckdb import DuckDBWarehouse

    suite = load_suites([bench_suite()])["player_game_summary"]
    cal = load_calendar(ROOT / "config" / "seasons.yaml")
    wh = DuckDBWarehouse(db, read_only=True)
    con = duckdb.connect(str(db), read_only=True)
    params = {"bstart": START - dt.timedelta(days=90), "start": START, "end": END}
    con.execute(FLOOR_SQL, params).fetchall()  # both warm
    result = run_suite(wh, suite, START, END, calendar=cal)
    floor, ours = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        _ = [r for r in con.execute(FLOOR_SQL, params).fetchall()]
        floor.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        result = run_suite(wh, suite, START, END, calendar=cal)
        ours.append(time.perf_counter() - t0)
    wh.close()
    con.close()
    return ({"median": statistics.median(floor), "statements": 1},
            {"median": statistics.median(ours), "statements": len(result.queries), "checks": len(result.checks),
             "status": result.gate_status.value,
             "not_pass": [f"{c.name}={c.status.value}" for c in result.checks if c.status.value != "pass"]},
            statistics.median(o / f for o, f in zip(ours, floor)))


def run_ours(db: Path, repeat: int) -> dict:
    from backfill_orchestrator.dates import load_calendar
    from backfill_orchestrator.validation import load_suites, run_suite
    from backfill_orchestrator.warehouse.duckdb import DuckDBWarehouse

    suite = load_suites([bench_suite()])["player_game_summary"]
    cal = load_calendar(ROOT / "config" / "seasons.yaml")
    wh = DuckDBWarehouse(db, read_only=True)
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = run_suite(wh, suite, START, END, calendar=cal)
        times.append(time.perf_counter() - t0)
    wh.close()
    assert result is not None
    return {"median": statistics.median(times), "statements": len(result.queries), "checks": len(result.checks),
            "status": result.gate_status.value,
            "not_pass": [f"{c.name}={c.status.value}" for c in result.checks if c.status.value != "pass"]}


FLOOR_SQL = f"""
WITH p AS (
  SELECT game_date, COUNT(*) AS n, COUNT(points) AS c_points,
    COUNT_IF(points IS NOT NULL) AS n_w,
    COUNT_IF(points IS NOT NULL AND minutes_played IS NOT NULL) AS c_min,
    COUNT_IF(points IS NOT NULL AND fg_attempts IS NOT NULL) AS c_fga,
    COUNT_IF(points IS NOT NULL AND three_attempts IS NOT NULL) AS c_3pa,
    COUNT_IF(points IS NOT NULL AND rebounds IS NOT NULL) AS c_reb,
    COUNT_IF(points IS NOT NULL AND assists IS NOT NULL) AS c_ast,
    COUNT_IF(points IS NOT NULL AND usage_rate IS NOT NULL) AS c_usg,
    COUNT_IF(points IS NOT NULL AND paint_attempts IS NOT NULL) AS c_paint,
    COUNT_IF(points IS NOT NULL AND mid_range_attempts IS NOT NULL) AS c_mid,
    COUNT_IF(points IS NOT NULL AND assisted_fg_makes IS NOT NULL) AS c_astd,
    COUNT_IF(points < 0 OR points > 100) AS bad_pts, COUNT_IF(minutes_played < 0 OR minutes_played > 65) AS bad_min,
    COUNT_IF(usage_rate < 0 OR usage_rate > 100) AS bad_usg, COUNT(usage_rate) AS nn_usg,
    SUM(usage_rate) FILTER (WHERE minutes_played >= 10) AS s_usg, COUNT(usage_rate) FILTER (WHERE minutes_played >= 10) AS n_usg,
    COUNT_IF(paint_attempts IS NOT NULL AND fg_attempts != paint_attempts + mid_range_attempts + three_attempts) AS bad_fga
  FROM {PGS} WHERE game_date BETWEEN $bstart AND $end GROUP BY game_date
), u AS (
  SELECT game_date, SUM(c) AS up, COUNT(*) AS up_keys FROM (SELECT game_date, COUNT(*) AS c FROM {PBS}
    WHERE game_date BETWEEN $start AND $end GROUP BY game_date, game_id, player_id) AS g GROUP BY game_date
), k AS (
  SELECT game_date, COUNT(*) AS pgs_keys FROM (SELECT game_date FROM {PGS}
    WHERE game_date BETWEEN $start AND $end GROUP BY game_date, game_id, player_id) AS g GROUP BY game_date
), m AS (
  SELECT COUNT(*) AS groups, COUNT_IF(r.e IS NULL OR ABS(l.s - r.e) > 0.01) AS bad_groups
  FROM (SELECT game_id, team_id, SUM(minutes_played) AS s FROM {PGS} WHERE game_date BETWEEN $start AND $end
        GROUP BY game_id, team_id) AS l
  LEFT JOIN (SELECT game_id, team_id, MAX(240 + 25 * overtime_periods) AS e FROM {TOS}
             WHERE game_date BETWEEN $start AND $end GROUP BY game_id, team_id) AS r USING (game_id, team_id)
)
SELECT * FROM p FULL JOIN u USING (game_date) FULL JOIN k USING (game_date) CROSS JOIN m ORDER BY game_date
"""


# the floor as it was before the suite had unique checks (20 checks): printed for comparison with older figures
_UP_KEYS = FLOOR_SQL[FLOOR_SQL.index("), u AS ("):FLOOR_SQL.index("), m AS (")]
FLOOR_SQL_20 = FLOOR_SQL.replace(_UP_KEYS, f"""), u AS (
  SELECT game_date, COUNT(*) AS up FROM {PBS} WHERE game_date BETWEEN $start AND $end GROUP BY game_date
""").replace(" FULL JOIN k USING (game_date)", "")


def run_floor(db: Path, repeat: int, sql: str = FLOOR_SQL) -> dict:
    con = duckdb.connect(str(db), read_only=True)
    params = {"bstart": START - dt.timedelta(days=90), "start": START, "end": END}
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        rows = con.execute(sql, params).fetchall()
        _ = [r for r in rows]  # evaluation of ~1,500 small rows is part of the job
        times.append(time.perf_counter() - t0)
    con.close()
    return {"median": statistics.median(times), "statements": 1}


def cold_ours(db: Path, repeat: int) -> dict:
    exe = ROOT / ".venv" / "bin" / "backfill"
    args = [str(exe), "validate", "--suite", "player_game_summary", "--start-date", str(START), "--end-date",
            str(END), "--warehouse", str(db), "--suites", str(bench_suite()), "--calendar",
            str(ROOT / "config" / "seasons.yaml")]
    times, rc = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        rc = subprocess.run(args, capture_output=True, text=True, cwd=WORK).returncode
        times.append(time.perf_counter() - t0)
    return {"median": statistics.median(times), "exit_code": rc}


# --- peers ---------------------------------------------------------------------------------------------------
def venv(name: str, packages: list[str]) -> Path | None:
    """bench/.work/<name>/bin/python with `packages`, created once; None (with the reason printed) on failure."""
    d = WORK / name
    py = d / "bin" / "python"
    marker = d / ".installed"
    if marker.exists():
        return py
    try:
        if not py.exists():
            subprocess.run([sys.executable, "-m", "venv", str(d)], check=True, capture_output=True, text=True)
        r = subprocess.run([str(py), "-m", "pip", "install", "-q", *packages], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"{name}: cannot install {' '.join(packages)}: {r.stderr.strip().splitlines()[-1:]}")
            return None
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"{name}: cannot create venv: {e}")
        return None
    marker.write_text(" ".join(packages))
    return py


SODA_CHECKS = f"""
filter player_game_summary [range]:
  where: game_date BETWEEN DATE '{START}' AND DATE '{END}'
checks for player_game_summary [range]:
  - missing_percent(points) < 0.5
  - missing_percent(minutes_played) < 1
  - missing_percent(fg_attempts) < 1
  - missing_percent(three_attempts) < 1
  - missing_percent(rebounds) < 1
  - missing_percent(assists) < 1
  - missing_percent(usage_rate) < 5
  - missing_percent(paint_attempts) < 60
  - missing_percent(mid_range_attempts) < 60
  - missing_percent(assisted_fg_makes) < 60
  - invalid_count(points) = 0:
      valid min: 0
      valid max: 100
  - invalid_count(minutes_played) = 0:
      valid min: 0
      valid max: 65
  - invalid_count(usage_rate) = 0:
      valid min: 0
      valid max: 100
  - avg(usage_rate) between 17 and 23
  - failed rows:
      name: fga_equals_zone_attempts
      fail condition: paint_attempts IS NOT NULL AND fg_attempts != paint_attempts + mid_range_attempts + three_attempts
checks for player_game_summary:
  - rows_vs_raw = 0:
      rows_vs_raw query: |
        SELECT (SELECT COUNT(*) FROM nba_raw.player_box_scores WHERE game_date BETWEEN DATE '{START}' AND DATE '{END}')
             - (SELECT COUNT(*) FROM nba_analytics.player_game_summary WHERE game_date BETWEEN DATE '{START}' AND DATE '{END}')
  - missing_dates = 0:
      missing_dates query: |
        SELECT COUNT(*) FROM (SELECT DISTINCT game_date FROM nba_raw.player_box_scores
          WHERE game_date BETWEEN DATE '{START}' AND DATE '{END}'
          EXCEPT SELECT DISTINCT game_date FROM nba_analytics.player_game_summary
          WHERE game_date BETWEEN DATE '{START}' AND DATE '{END}') AS m
  - minutes_bad_groups = 0:
      minutes_bad_groups query: |
        SELECT COUNT(*) FROM (SELECT game_id, team_id, SUM(minutes_played) AS s FROM nba_analytics.player_game_summary
          WHERE game_date BETWEEN DATE '{START}' AND DATE '{END}' GROUP BY game_id, team_id) AS l
        LEFT JOIN (SELECT game_id, team_id, MAX(240 + 25 * overtime_periods) AS e
          FROM nba_analytics.team_offense_game_summary WHERE game_date BETWEEN DATE '{START}' AND DATE '{END}'
          GROUP BY game_id, team_id) AS r USING (game_id, team_id)
        WHERE r.e IS NULL OR ABS(l.s - r.e) > 0.01
"""

SODA_RUNNER = """
import json, statistics, sys, time
from soda.scan import Scan
db, cfg, checks, repeat = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
times, scan = [], None
for _ in range(repeat):
    t0 = time.perf_counter()
    scan = Scan()
    scan.set_data_source_name("bench")
    scan.add_configuration_yaml_file(cfg)
    scan.add_sodacl_yaml_file(checks)
    scan.execute()
    times.append(time.perf_counter() - t0)
print(json.dumps({"median": statistics.median(times), "statements": len(scan._queries),
                  "checks": len(scan._checks), "failed": [str(c.check_cfg.source_line) for c in scan._checks
                  if c.outcome is not None and c.outcome.value != "pass"], "errors": scan.has_error_logs()}))
"""


def run_soda(db: Path, repeat: int) -> dict | None:
    py = venv("soda", ["soda-core-duckdb", "pytz"])
    if py is None:
        return None
    home = WORK / "soda-home"
    (home / ".soda").mkdir(parents=True, exist_ok=True)
    cfg = WORK / "soda-config.yml"
    cfg.write_text(f"data_source bench:\n  type: duckdb\n  path: {db}\n  read_only: true\n  schema: nba_analytics\n"
                   "send_anonymous_usage_stats: false\n")
    (home / ".soda" / "config.yml").write_text("send_anonymous_usage_stats: false\n")
    checks = WORK / "soda-checks.yml"
    checks.write_text(SODA_CHECKS)
    runner = WORK / "soda_runner.py"
    runner.write_text(SODA_RUNNER)
    env = {**os.environ, "HOME": str(home)}
    r = subprocess.run([str(py), str(runner), str(db), str(cfg), str(checks), str(repeat)], capture_output=True,
                       text=True, env=env, cwd=WORK)
    if r.returncode != 0:
        print(f"soda: in-process run failed: {r.stderr.strip().splitlines()[-3:]}")
        return None
    out = json.loads(r.stdout.strip().splitlines()[-1])
    soda = WORK / "soda" / "bin" / "soda"
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([str(soda), "scan", "-d", "bench", "-c", str(cfg), str(checks)], capture_output=True,
                       env=env, cwd=WORK)
        times.append(time.perf_counter() - t0)
    out["cold"] = statistics.median(times)
    return out


GX_RUNNER = """
import json, statistics, sys, time
import great_expectations as gx
import great_expectations.expectations as gxe
import sqlalchemy as sa
import great_expectations.execution_engine.sqlalchemy_execution_engine as see
db, start, end, repeat = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])


class _Duck(str):  # GX keeps ONE connection only for the dialects listed here; DuckDB needs it too
    value = "duckdb"


see._PERSISTED_CONNECTION_DIALECTS = (*see._PERSISTED_CONNECTION_DIALECTS, _Duck("duckdb"))
statements = []
t_all = time.perf_counter()
ctx = gx.get_context(mode="ephemeral")
ds = ctx.data_sources.add_sql(name="bench", connection_string=f"duckdb:///{db}", create_temp_table=False,
                              kwargs={"connect_args": {"read_only": True}})
sa.event.listen(sa.engine.Engine, "before_cursor_execute", lambda *a, **k: statements.append(1))
asset = ds.add_query_asset(name="pgs", query=f"SELECT * FROM nba_analytics.player_game_summary "
                           f"WHERE game_date BETWEEN DATE '{start}' AND DATE '{end}'")
batch_def = asset.add_batch_definition_whole_table("all")
suite = ctx.suites.add(gx.ExpectationSuite(name="pgs"))
for col, mostly in (("points", .995), ("minutes_played", .99), ("fg_attempts", .99), ("three_attempts", .99),
                    ("rebounds", .99), ("assists", .99), ("usage_rate", .95), ("paint_attempts", .40),
                    ("mid_range_attempts", .40), ("assisted_fg_makes", .40)):
    suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=col, mostly=mostly))
for col, lo, hi in (("points", 0, 100), ("minutes_played", 0, 65), ("usage_rate", 0, 100)):
    suite.add_expectation(gxe.ExpectColumnValuesToBeBetween(column=col, min_value=lo, max_value=hi))
suite.add_expectation(gxe.ExpectColumnMeanToBeBetween(column="usage_rate", min_value=17, max_value=23))
suite.add_expectation(gxe.UnexpectedRowsExpectation(unexpected_rows_query=
    "SELECT * FROM {batch} WHERE paint_attempts IS NOT NULL AND "
    "fg_attempts != paint_attempts + mid_range_attempts + three_attempts"))
suite.add_expectation(gxe.UnexpectedRowsExpectation(unexpected_rows_query=
    "SELECT * FROM (SELECT game_id, team_id, SUM(minutes_played) AS s FROM {batch} GROUP BY game_id, team_id) AS l "
    "LEFT JOIN (SELECT game_id, team_id, MAX(240 + 25 * overtime_periods) AS e FROM "
    "nba_analytics.team_offense_game_summary GROUP BY game_id, team_id) AS r USING (game_id, team_id) "
    "WHERE r.e IS NULL OR ABS(l.s - r.e) > 0.01"))
setup = time.perf_counter() - t_all
times, res = [], None
for _ in range(repeat):
    statements.clear()
    t0 = time.perf_counter()
    res = batch_def.get_batch().validate(suite)
    times.append(time.perf_counter() - t0)
print(json.dumps({"median": statistics.median(times), "statements": len(statements), "setup": setup,
                  "checks": len(res.results), "failed": [r.expectation_config.type for r in res.results if not r.success],
                  "once": time.perf_counter() - t_all if repeat == 1 else None}))
"""


def run_gx(db: Path, repeat: int) -> dict | None:
    py = venv("gx", ["great_expectations", "duckdb-engine"])
    if py is None:
        return None
    runner = WORK / "gx_runner.py"
    runner.write_text(GX_RUNNER)
    env = {**os.environ, "GX_ANALYTICS_ENABLED": "false", "HOME": str(WORK / "gx-home"), "TQDM_DISABLE": "1"}
    args = [str(py), str(runner), str(db), str(START), str(END)]
    r = subprocess.run(args + [str(repeat)], capture_output=True, text=True, env=env, cwd=WORK)
    if r.returncode != 0:
        print(f"gx: run failed: {r.stderr.strip().splitlines()[-3:]}")
        return None
    out = json.loads(r.stdout.strip().splitlines()[-1])
    times = []
    for _ in range(max(1, min(repeat, 3))):
        t0 = time.perf_counter()
        subprocess.run(args + ["1"], capture_output=True, env=env, cwd=WORK)
        times.append(time.perf_counter() - t0)
    out["cold"] = statistics.median(times)
    return out


# --- main ------------------------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, action="append", help="player_game_summary rows (repeatable)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--skip-peers", action="store_true")
    a = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    for rows in a.rows or [1_000_000]:
        db, n = scaled_db(rows)
        print(f"\n== player_game_summary suite, {n:,} rows ({db.name}), range {START}..{END} ==")
        floor, ours, ratio = paired(db, a.repeat)
        cold = cold_ours(db, a.repeat)
        floor20 = run_floor(db, a.repeat, FLOOR_SQL_20)
        print(f"hand-written floor      in-process {floor['median']:.3f}s  statements 1")
        print(f"  (floor without the two unique checks {floor20['median']:.3f}s)")
        print(f"backfill validate       in-process {ours['median']:.3f}s  statements {ours['statements']}  "
              f"checks {ours['checks']}  gate {ours['status']} {ours['not_pass'] or ''}")
        print(f"backfill validate (CLI) cold       {cold['median']:.3f}s  exit {cold['exit_code']}")
        print(f"  ratio to floor: {ours['median'] / floor['median']:.2f}x of the medians, {ratio:.2f}x median of "
              f"{a.repeat} alternating pairs (target <= 1.3x)")
        if a.skip_peers:
            continue
        soda = run_soda(db, a.repeat)
        if soda:
            print(f"Soda Core               in-process {soda['median']:.3f}s  statements {soda['statements']}  "
                  f"checks {soda['checks']}  not passing {soda['failed'] or 'none'}")
            print(f"Soda Core (CLI)         cold       {soda['cold']:.3f}s")
            print(f"  cold soda / cold backfill: {soda['cold'] / cold['median']:.1f}x (target >= 2x); "
                  f"in-process {soda['median'] / ours['median']:.1f}x")
        gxr = run_gx(db, a.repeat)
        if gxr:
            print(f"Great Expectations      in-process {gxr['median']:.3f}s  statements {gxr['statements']}  "
                  f"checks {gxr['checks']}  not passing {gxr['failed'] or 'none'}  (context setup {gxr['setup']:.2f}s)")
            print(f"Great Expectations      cold       {gxr['cold']:.3f}s  (fresh python process, one validation)")
            print(f"  cold gx / cold backfill: {gxr['cold'] / cold['median']:.1f}x (target >= 10x); "
                  f"in-process {gxr['median'] / ours['median']:.1f}x")


if __name__ == "__main__":
    main()
