"""Benchmark (issue 15): the default pipeline end to end, cold, against SQLMesh on the same data, same models.

    .venv/bin/python bench/bench_e2e.py [--repeat 3] [--skip-peers] [--peer-batches 0,31]

OURS: `backfill run` of a config equal to config/pipeline.yaml's four data phases (team_offense_game_summary,
team_defense_factors, player_game_summary, player_composite_factors) with their pre-flight/post gates and the
report. The training phase is left out: it is measured by bench/bench_train.py and no peer has its equivalent.
PEER: a SQLMesh project of the same four models (INCREMENTAL_BY_TIME_RANGE on DuckDB, audits roughly matching our
critical checks: keys unique and not NULL, ranges, rows vs the raw table), generated under bench/.work/e2e/ and run
by `sqlmesh plan --auto-apply` in its own venv (bench/.work/sqlmesh). Its SQL is our jobs' own SELECTs translated
from BigQuery SQL to DuckDB by the warehouse's translator (sqlglot); the composite factors get the season
calendar inline (our job gets it as a batch parameter) so that any batch size yields the same rows. The row
counts and contents of the four tables are compared with ours (processed_at aside) and the check printed.

Cold runs: a fresh copy of the raw warehouse and fresh state (new logs dir and checkpoints; SQLMesh's state
lives in its warehouse copy) for every run, a new process each time. Caches stay warm as an installed tool has
them (bytecode, our translated-SQL cache, SQLMesh's project cache): one untimed warm-up run of each tool first. Tools
alternate within each repetition; the machine has 2 cores shared with other work, so figures are noisy:
medians. Then a per-stage breakdown of OUR run, read from its own artefacts (state.sqlite events and phases,
the jobs' COMPLETE lines). Also measured in the same alternation: the pipeline with the fixed 31-day batches
it had before `--batch-days auto`, its tables compared bit for bit with the default's, and the composite-factors
job alone at both batch sizes. Not a test: nothing here asserts; a peer that cannot run is reported in one line.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / ".work" / "e2e"
PEER_VENV = ROOT / "bench" / ".work" / "sqlmesh"
PY = ROOT / ".venv" / "bin" / "python"
BACKFILL = ROOT / ".venv" / "bin" / "backfill"
DATA_PHASES = 4  # config/pipeline.yaml's phases before train_points_model
START, END = "2021-10-19", "2026-01-02"
TABLES = ["nba_analytics.team_offense_game_summary", "nba_precompute.team_game_factors",
          "nba_analytics.player_game_summary", "nba_precompute.player_composite_factors"]


# --- data ------------------------------------------------------------------------------------------------------
def raw_data() -> tuple[Path, Path]:
    """(raw warehouse for us, the same rows in the peer's DuckDB's own storage format)."""
    raw, parquet = WORK / "raw.duckdb", WORK / "raw-parquet"
    if not raw.exists():
        subprocess.run([str(PY), "-m", "nba_pipeline.sample_data", "--out", str(raw)], check=True, cwd=ROOT,
                       capture_output=True)
    if not parquet.exists():
        import duckdb

        con = duckdb.connect(str(raw), read_only=True)
        con.execute(f"EXPORT DATABASE '{parquet}' (FORMAT parquet)")
        con.close()
    return raw, parquet


# --- ours ------------------------------------------------------------------------------------------------------
# measured beside the default (`--batch-days auto`): every phase with the fixed 31-day batches it had before, to
# show what auto sizing buys and that the tables are the same bit for bit at either size
MONTH_BATCHES = {"team_offense_game_summary": 31, "team_defense_factors": 31, "player_game_summary": 31,
                 "player_composite_factors": 31}
KEYS = {TABLES[0]: "game_id, team_id", TABLES[1]: "game_id, team_id", TABLES[2]: "game_id, player_id",
        TABLES[3]: "player_id, game_id"}


def our_config(db: Path, logs: Path, batch_days: dict[str, int] | None = None) -> Path:
    doc = yaml.safe_load((ROOT / "config" / "pipeline.yaml").read_text())
    doc["phases"] = doc["phases"][:DATA_PHASES]
    for ph in doc["phases"]:
        if ph["name"] in (batch_days or {}):
            cmd = ph["command"]
            cmd[cmd.index("--batch-days") + 1] = str(batch_days[ph["name"]])
    doc["warehouse"] = {"duckdb": {"path": str(db)}}
    doc["logs_dir"] = str(logs)
    doc["notifications"] = []
    out = WORK / "ours.yaml"
    out.write_text(yaml.safe_dump(doc, sort_keys=False))
    return out


def run_ours(raw: Path, tag: str, batch_days: dict[str, int] | None = None) -> dict:
    db, logs = WORK / f"ours-{tag}.duckdb", WORK / f"logs-{tag}"
    shutil.rmtree(logs, ignore_errors=True)
    db.unlink(missing_ok=True)
    shutil.copy(raw, db)
    cfg = our_config(db, logs, batch_days)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKFILL_")}
    t_wall0 = time.time()
    t0 = time.perf_counter()
    p = subprocess.run([str(BACKFILL), "run", str(cfg)], capture_output=True, text=True, cwd=ROOT, env=env)
    seconds = time.perf_counter() - t0
    t_end = time.time()
    if p.returncode != 0:
        sys.exit(f"backfill run failed (exit {p.returncode}): {(p.stdout + p.stderr).strip().splitlines()[-1:]}")
    run_dir = next((logs / "runs").iterdir())
    return {"seconds": seconds, "db": db, "run_dir": run_dir, "t0": t_wall0, "t_end": t_end}


# --- the peer: SQLMesh ---------------------------------------------------------------------------------------------
def peer_python() -> tuple[Path | None, str]:
    py = PEER_VENV / "bin" / "python"
    marker = PEER_VENV / ".installed"
    if not marker.exists():
        try:
            if not py.exists():
                subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True, capture_output=True)
            r = subprocess.run([str(py), "-m", "pip", "install", "-q", "sqlmesh", "duckdb"], capture_output=True,
                               text=True)
            if r.returncode != 0:
                return None, f"cannot install sqlmesh: {(r.stderr.strip().splitlines() or ['?'])[-1]}"
        except (OSError, subprocess.CalledProcessError) as e:
            return None, f"cannot create its venv: {e}"
        marker.write_text("sqlmesh duckdb")
    v = subprocess.run([str(py), "-c", "import sqlmesh, duckdb; print(sqlmesh.__version__, duckdb.__version__)"],
                       capture_output=True, text=True)
    if v.returncode != 0:
        return None, f"sqlmesh does not import: {(v.stderr.strip().splitlines() or ['?'])[-1]}"
    return py, "sqlmesh {} (duckdb {})".format(*v.stdout.split())


def _seasons_cte() -> str:
    cal = yaml.safe_load((ROOT / "config" / "seasons.yaml").read_text())["seasons"]
    rows = ", ".join(f"(DATE '{s['start']}', DATE '{s['playoffs_end']}')" for s in cal)
    return f"seasons_cal AS (SELECT * FROM (VALUES {rows}) AS v(s_start, s_end))"


def _must_replace(sql: str, old: str, new: str) -> str:
    if old not in sql:
        raise SystemExit(f"bench_e2e: the job's SQL changed, cannot find {old!r}; update the peer translation")
    return sql.replace(old, new)


def peer_models() -> dict[str, tuple[str, str]]:
    """table -> (DuckDB SELECT with SQLMesh's @start_ds/@end_ds, audits) from our jobs' own SQL."""
    sys.path.insert(0, str(ROOT / "src"))
    from backfill_orchestrator.warehouse.sql import translate
    from nba_pipeline import player_composite_factors, player_game_summary, team_factors, team_offense

    pcf = player_composite_factors.SELECT_SQL
    # one batch may span seasons: the windows restart per season (the job gets one season per batch instead)
    pcf = _must_replace(pcf, "PARTITION BY player_id ORDER BY game_date, game_id ROWS",
                        "PARTITION BY player_id, season ORDER BY game_date, game_id ROWS")
    pcf = _must_replace(pcf, "ROW_NUMBER() OVER (PARTITION BY player_id ORDER BY game_date, game_id) AS games_prior",
                        "ROW_NUMBER() OVER (PARTITION BY player_id, season ORDER BY game_date, game_id) AS games_prior")
    pcf = _must_replace(pcf, "OVER (PARTITION BY player_id ORDER BY ord",
                        "OVER (PARTITION BY player_id, season ORDER BY ord")
    tf = team_factors.SELECT_SQL.replace("@gap_start", "DATE '1900-01-01'").replace("@gap_end", "DATE '1900-01-01'")
    src = {TABLES[0]: team_offense.SELECT_SQL, TABLES[1]: tf, TABLES[2]: player_game_summary.SELECT_SQL,
           TABLES[3]: pcf}
    out = {}
    for table, sql in src.items():
        duck = translate(sql, "duckdb")
        if table == TABLES[3]:
            duck = _must_replace(duck, "WITH players AS (", f"WITH {_seasons_cte()}, players AS (")
            duck = _must_replace(duck, "$season_start",
                                 "COALESCE((SELECT MAX(s_start) FROM seasons_cal WHERE s_start <= $start), $start)")
            # the bootstrap rule and the season calendar, as the phase's date list has them
            duck += ("\nWHERE EXISTS (SELECT 1 FROM seasons_cal WHERE d.game_date BETWEEN s_start + 14 AND s_end)")
        duck = duck.replace("$start", "CAST(@start_ds AS DATE)").replace("$end", "CAST(@end_ds AS DATE)")
        out[table] = (duck, AUDITS[table])
    return out


AUDITS = {
    TABLES[0]: "unique_combination_of_columns(columns := (game_id, team_id)),\n"
               "    not_null(columns := (game_id, team_id, game_date, points, fg_attempts, possessions)),\n"
               "    accepted_range(column := minutes, min_v := 240, max_v := 340),\n"
               "    rows_vs_raw(raw := nba_raw.team_box_scores, k1 := game_id, k2 := team_id)",
    TABLES[1]: "unique_combination_of_columns(columns := (game_id, team_id)),\n"
               "    not_null(columns := (game_id, team_id, game_date, team_games_prior))",
    TABLES[2]: "unique_combination_of_columns(columns := (game_id, player_id)),\n"
               "    not_null(columns := (game_id, player_id, game_date, points, minutes_played)),\n"
               "    accepted_range(column := points, min_v := 0, max_v := 100),\n"
               "    accepted_range(column := minutes_played, min_v := 0, max_v := 65),\n"
               "    rows_vs_raw(raw := nba_raw.player_box_scores, k1 := game_id, k2 := player_id)",
    TABLES[3]: "unique_combination_of_columns(columns := (player_id, game_date)),\n"
               "    not_null(columns := (player_id, game_id, game_date, games_prior))",
}

# rows of the raw table (in the batch's dates) with no row in the model: our row_count / completeness checks
RAW_AUDIT = """AUDIT (name rows_vs_raw);
SELECT r.* FROM (SELECT DISTINCT game_date, @k1, @k2 FROM @raw
                 WHERE game_date BETWEEN CAST(@start_ds AS DATE) AND CAST(@end_ds AS DATE)) AS r
ANTI JOIN @this_model AS m USING (game_date, @k1, @k2)
"""


def write_peer_project(batch: int) -> Path:
    proj = WORK / f"sqlmesh-b{batch}"
    (proj / "models").mkdir(parents=True, exist_ok=True)
    (proj / "audits").mkdir(exist_ok=True)
    (proj / "config.py").write_text(
        "import os\n"
        "from sqlmesh.core.config import Config, GatewayConfig, ModelDefaultsConfig, DuckDBConnectionConfig\n"
        "config = Config(gateways={'local': GatewayConfig(connection=DuckDBConnectionConfig("
        "database=os.environ['BENCH_DB']))}, default_gateway='local',\n"
        f"                model_defaults=ModelDefaultsConfig(dialect='duckdb', start='{START}'))\n")
    (proj / "audits" / "rows_vs_raw.sql").write_text(RAW_AUDIT)
    kind_extra = f", batch_size {batch}" if batch else ""
    for table, (sql, audits) in peer_models().items():
        body = (f"MODEL (\n  name {table},\n  kind INCREMENTAL_BY_TIME_RANGE (time_column game_date{kind_extra}),\n"
                f"  start '{START}',\n  end '{END}',\n  cron '@daily',\n  audits (\n    {audits}\n  )\n);\n\n{sql};\n")
        (proj / "models" / f"{table.replace('.', '__')}.sql").write_text(body)
    return proj


def run_peer(py: Path, proj: Path, parquet: Path, tag: str) -> dict:
    db = WORK / f"peer_{tag}.duckdb"
    db.unlink(missing_ok=True)
    db.with_suffix(".duckdb.wal").unlink(missing_ok=True)
    # a fresh warehouse in the peer's own DuckDB (its storage version), with exactly our raw rows
    load = subprocess.run([str(py), "-c", "import duckdb,sys; c=duckdb.connect(sys.argv[1]); "
                           "c.execute(f\"IMPORT DATABASE '{sys.argv[2]}'\"); c.close()", str(db), str(parquet)],
                          capture_output=True, text=True)
    if load.returncode != 0:
        return {"error": f"loading the raw data failed: {load.stderr.strip().splitlines()[-1:]}"}
    env = {**os.environ, "BENCH_DB": str(db), "SQLMESH__DISABLE_ANONYMIZED_ANALYTICS": "1"}
    sqlmesh = py.parent / "sqlmesh"
    t0 = time.perf_counter()
    p = subprocess.run([str(sqlmesh), "--paths", str(proj), "plan", "--auto-apply", "--no-prompts"],
                       capture_output=True, text=True, cwd=proj, env=env)
    seconds = time.perf_counter() - t0
    if p.returncode != 0 or "error" in p.stdout.lower() and "audit" in p.stdout.lower():
        tail = [ln for ln in (p.stdout + p.stderr).strip().splitlines() if ln.strip()][-3:]
        return {"error": f"sqlmesh plan failed (exit {p.returncode}): {' | '.join(tail)}", "seconds": seconds}
    return {"seconds": seconds, "db": db}


# --- same tables? --------------------------------------------------------------------------------------------
def compare(ours_db: Path, peer_db: Path) -> list[str]:
    """One line per table: row counts of both and the rows that differ (processed_at aside, floats to 1e-9)."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"ATTACH '{ours_db}' AS ours (READ_ONLY)")
    con.execute(f"ATTACH '{peer_db}' AS {peer_db.stem} (READ_ONLY)")  # its views name their own catalog
    lines = []
    for t in TABLES:
        cols = con.execute(f"SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = 'ours' "
                           f"AND schema_name = '{t.split('.')[0]}' AND table_name = '{t.split('.')[1]}' "
                           "AND column_name <> 'processed_at' ORDER BY column_index").fetchall()
        sel = ", ".join(f"ROUND({c}, 9) AS {c}" if ty == "DOUBLE" else c for c, ty in cols)
        n_ours = con.execute(f"SELECT COUNT(*) FROM ours.{t}").fetchone()[0]
        n_peer = con.execute(f"SELECT COUNT(*) FROM {peer_db.stem}.{t}").fetchone()[0]
        diff = con.execute(f"SELECT (SELECT COUNT(*) FROM (SELECT {sel} FROM ours.{t} EXCEPT ALL "
                           f"SELECT {sel} FROM {peer_db.stem}.{t})) + (SELECT COUNT(*) FROM (SELECT {sel} FROM "
                           f"{peer_db.stem}.{t} EXCEPT ALL SELECT {sel} FROM ours.{t}))").fetchone()[0]
        ok = "OK " if n_ours == n_peer and diff == 0 else "MISMATCH "
        lines.append(f"  {ok}{t:42s} rows ours {n_ours:>7,}  sqlmesh {n_peer:>7,}  rows differing {diff:,}")
    con.close()
    return lines


def compare_exact(a: Path, b: Path) -> list[str]:
    """Two of our warehouses: rows differing bit for bit (processed_at aside) and the largest float difference."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"ATTACH '{a}' AS a (READ_ONLY)")
    con.execute(f"ATTACH '{b}' AS b (READ_ONLY)")
    lines = []
    for t in TABLES:
        diff = con.execute(f"SELECT COUNT(*) FROM (SELECT * EXCLUDE processed_at FROM a.{t} EXCEPT ALL "
                           f"SELECT * EXCLUDE processed_at FROM b.{t})").fetchone()[0]
        worst = ""
        if diff:
            dbl = [c for c, in con.execute(f"SELECT column_name FROM duckdb_columns() WHERE database_name = 'a' "
                                           f"AND schema_name = '{t.split('.')[0]}' AND table_name = "
                                           f"'{t.split('.')[1]}' AND data_type = 'DOUBLE'").fetchall()]
            m = con.execute(f"SELECT GREATEST({', '.join(f'MAX(ABS(x.{c} - y.{c}))' for c in dbl)}) FROM a.{t} AS x "
                            f"JOIN b.{t} AS y USING ({KEYS[t]})").fetchone()[0]
            worst = f"  (largest float difference {m:.1e})"
        lines.append(f"  {t:42s} rows differing bit for bit {diff:,}{worst}")
    con.close()
    return lines


# --- our breakdown, from the run's own artefacts -----------------------------------------------------------------
def _at(iso: str) -> float:
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def create_time_offset() -> float:
    """psutil's create_time is boot time (whole seconds, /proc/stat) + start ticks: off from time.time() by up to
    a second, the same for every process. Measured on a child spawned here (fork+exec takes ~1 ms)."""
    import psutil

    offs = []
    for _ in range(5):
        t = time.time()
        p = subprocess.Popen(["sleep", "0.2"])
        offs.append(psutil.Process(p.pid).create_time() - t)
        p.wait()
    return statistics.median(offs)


def breakdown(run: dict) -> list[tuple[str, float]]:
    """(stage, seconds) in time order, from state.sqlite, the jobs' logs and the process's start/end."""
    off = create_time_offset()
    con = sqlite3.connect(run["run_dir"] / "state.sqlite")
    events = [(k, ph, _at(json.loads(b)["at"])) for k, ph, b in
              con.execute("SELECT kind, phase, body FROM events ORDER BY id")]
    t_proc = con.execute("SELECT create_time FROM run").fetchone()[0] - off
    phases = {n: (ct - off, lp) for n, ct, lp in con.execute("SELECT name, create_time, log_path FROM phases")}
    con.close()
    out: list[tuple[str, float]] = []
    out.append(("orchestrator: process spawn (bench -> python)", t_proc - run["t0"]))
    prev = events[0][2]
    out.append(("orchestrator: imports, config, plan, lock, state", prev - t_proc))
    gate_open, exited, inner = None, set(), {}
    for kind, phase, at in events[1:]:
        if kind == "phase_started":
            ct, log = phases[phase]
            m = re.search(r"COMPLETE .*seconds=([\d.]+)", Path(log).read_text())
            inner[phase] = float(m.group(1)) if m else 0.0
            out.append((f"{phase}: previous step -> job process created", ct - prev))
            prev = ct
        elif kind == "phase_exited":
            exited.add(phase)
            out.append((f"{phase}: job start-up, imports, warehouse open/close", at - prev - inner[phase]))
            out.append((f"{phase}: job START->COMPLETE (in the kit)", inner[phase]))
            prev = at
        elif kind == "gate_started":
            label = "post" if phase in exited else "preflight"
            out.append((f"{phase}: {'job exit' if label == 'post' else 'previous step'} -> {label} gate", at - prev))
            gate_open, prev = (label, at), at
        elif kind == "gate_result" and gate_open is not None:
            out.append((f"{phase}: {gate_open[0]} gate (suite)", at - gate_open[1]))
            gate_open, prev = None, at
        elif kind in ("phase_passed", "run_finished"):
            out.append((f"{phase or 'run'}: gate result -> {kind}", at - prev))
            prev = at
    out.append(("report written, process exit", run["t_end"] - prev))
    return out


def print_breakdown(rows: list[tuple[str, float]], total: float) -> None:
    print(f"\n== breakdown of OUR median run ({total:.2f} s wall, bench's clock; in-kit seconds from the jobs' "
          "COMPLETE lines, 0.1 s resolution; start-up = process life - in-kit) ==")
    print(f"  {'stage':62s} {'s':>7s} {'share':>6s}")
    for name, s in rows:
        print(f"  {name:62s} {s:7.3f} {100 * s / total:5.1f}%")
    print(f"  {'sum':62s} {sum(s for _, s in rows):7.3f}")
    groups: dict[str, float] = {}
    for name, s in rows:
        g = ("jobs: start-up/imports/open" if "start-up" in name else "jobs: in the kit" if "START->" in name
             else "gates" if name.endswith("(suite)") else "orchestrator start-up" if name.startswith("orchestrator")
             else "report" if name.startswith("report") else "waits between steps")
        groups[g] = groups.get(g, 0.0) + s
    print("  -- by kind --")
    for g, s in sorted(groups.items(), key=lambda x: -x[1]):
        print(f"  {g:62s} {s:7.3f} {100 * s / total:5.1f}%")


def probe_composite(db: Path, repeat: int) -> tuple[float, float]:
    """The composite-factors job alone on a built warehouse (median seconds inside the kit): with fixed 31-day
    batches every batch re-reads and re-windows its season's history so far; auto sizing reads a season about
    once (its batch key never crosses one)."""
    out: dict[str, list[float]] = {"31": [], "auto": []}
    for _ in range(repeat):
        for b in out:
            p = subprocess.run([str(PY), "-m", "nba_pipeline.player_composite_factors", "--start-date", START,
                                "--end-date", END, "--workers", "2", "--batch-days", b, "--warehouse", str(db),
                                "--checkpoint", str(WORK / "probe-cp.json"), "--no-resume", "--progress-every",
                                "100000"], capture_output=True, text=True, cwd=ROOT)
            m = re.search(r"COMPLETE status=ok .*seconds=([\d.]+)", p.stdout)
            if m is None:
                raise SystemExit(f"composite probe failed: {p.stdout.strip().splitlines()[-1:]}")
            out[b].append(float(m.group(1)))
    return statistics.median(out["31"]), statistics.median(out["auto"])


# --- main ------------------------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-peers", action="store_true")
    ap.add_argument("--peer-batches", default="0,31", help="SQLMesh batch_size values (0 = one batch)")
    ap.add_argument("--skip-variant", action="store_true", help="do not measure fixed 31-day batches")
    a = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    raw, parquet = raw_data()
    peer, why = (None, "skipped (--skip-peers)") if a.skip_peers else peer_python()
    batches = [int(b) for b in a.peer_batches.split(",")] if peer else []
    projects = {b: write_peer_project(b) for b in batches}
    print(f"sample data {START}..{END}; ours: 4 data phases + gates + report (training: bench_train.py); "
          f"peer: {why}")
    # bytecode, as an installed tool has it (pip compiles at install; SQLMesh's venv has it): an editable
    # install has none, and PYTHONDONTWRITEBYTECODE would make every process compile our sources again
    subprocess.run([str(PY), "-m", "compileall", "-q", "src"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
                   env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"})
    warm = {"ours": run_ours(raw, "warm")["seconds"]}
    for b, proj in projects.items():
        r = run_peer(peer, proj, parquet, f"warm{b}")
        if "error" in r:
            print(f"sqlmesh batch {b or 'single'}: {r['error']}")
            projects.pop(b)
            continue
        warm[f"b{b}"] = r["seconds"]
    print("warm-up (first run: caches filled) " + ", ".join(f"{k} {v:.2f}s" for k, v in warm.items()))
    times: dict[str, list[float]] = {"ours": [], "month": [], **{f"b{b}": [] for b in projects}}
    variants: list[dict] = []
    runs: list[dict] = []
    last_peer: dict[int, Path] = {}
    for i in range(a.repeat):
        r = run_ours(raw, str(i))
        runs.append(r)
        times["ours"].append(r["seconds"])
        if not a.skip_variant:
            v = run_ours(raw, f"month{i}", MONTH_BATCHES)
            variants.append(v)
            times["month"].append(v["seconds"])
        for b, proj in projects.items():
            pr = run_peer(peer, proj, parquet, f"b{b}_{i}")
            if "error" in pr:
                print(f"sqlmesh batch {b or 'single'} run {i}: {pr['error']}")
                continue
            times[f"b{b}"].append(pr["seconds"])
            last_peer[b] = pr["db"]
        print(f"  run {i}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items() if v), flush=True)
    med = {k: statistics.median(v) for k, v in times.items() if v}
    print(f"\n== end to end, cold, medians of {a.repeat} (alternating; 2 shared cores: noisy) ==")
    print(f"  backfill run (4 phases, gates, report)        {med['ours']:7.2f} s  "
          f"(runs {', '.join(f'{x:.2f}' for x in times['ours'])})")
    if "month" in med:
        print(f"  the same with fixed 31-day batches (before)   {med['month']:7.2f} s  "
              f"({med['month'] / med['ours']:.2f}x the default; runs {', '.join(f'{x:.2f}' for x in times['month'])})")
    for b in projects:
        k = f"b{b}"
        if k in med:
            label = "one batch" if b == 0 else f"batch_size {b}"
            cand = f", 31-day batches {med['month'] / med[k]:.2f}x" if "month" in med else ""
            print(f"  sqlmesh plan --auto-apply, {label:15s}    {med[k]:7.2f} s  ratio ours/sqlmesh "
                  f"{med['ours'] / med[k]:.2f}x{cand}  (runs {', '.join(f'{x:.2f}' for x in times[k])})")
    con = sqlite3.connect(runs[-1]["run_dir"] / "state.sqlite")
    gates = con.execute("SELECT COUNT(*), SUM(json_array_length(json_extract(result, '$.checks'))) FROM gates").fetchone()
    con.close()
    audits = sum(len(a.split("),\n")) for a in AUDITS.values())
    print(f"  checks: ours {gates[1]} in {gates[0]} gate runs over each phase's whole range; sqlmesh {audits} audits "
          "on each batch")
    if last_peer:
        b, db = next(iter(last_peer.items()))
        print(f"\n== same tables? ours (last run) vs sqlmesh batch {b or 'single'} (processed_at aside) ==")
        for line in compare(runs[-1]["db"], db):
            print(line)
        for b2, db2 in list(last_peer.items())[1:]:
            bad = [ln for ln in compare(runs[-1]["db"], db2) if "MISMATCH" in ln]
            print(f"  sqlmesh batch {b2}: {'same as ours' if not bad else '; '.join(bad)}")
    if variants:
        print("\n== fixed 31-day batches vs auto, our tables (processed_at aside) ==")
        for line in compare_exact(runs[-1]["db"], variants[-1]["db"]):
            print(line)
    mid = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
    print_breakdown(breakdown(mid), mid["seconds"])
    b31, auto = probe_composite(runs[-1]["db"], a.repeat)
    print(f"\n== player_composite_factors alone, in the kit (median of {a.repeat}, alternating) ==\n"
          f"  --batch-days 31 {b31:.1f} s; --batch-days auto (the pipeline's) {auto:.1f} s: "
          f"{b31 - auto:.1f} s was the season's history re-read and re-windowed by every 31-day batch")
    for r in runs + variants:
        r["db"].unlink(missing_ok=True)


if __name__ == "__main__":
    main()
