"""Benchmark of the training phase (issue 11). Not a test: it prints figures measured in this run.

The sample window of the default pipeline (2021-10-19..2026-01-02 raw data, factors from season start + 14
days), built once with the set-based floor; then `python -m nba_pipeline.ml_training` as a real process over the
training window, --repeat times: wall seconds, the trainer's own seconds, peak RSS of the process (getrusage of
the child), rounds run, and the MAEs (deterministic: the seed is fixed, so they are the same every run).

    .venv/bin/python bench/bench_train.py [--repeat 3] [--workdir bench/work/train] [-- trainer options...]

Medians over --repeat runs. Data lives under --workdir (never /tmp); it is regenerated each time.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from backfill_orchestrator.warehouse.duckdb import DuckDBWarehouse  # noqa: E402
from nba_pipeline.build import build_all  # noqa: E402
from nba_pipeline.sample_data import write_sample  # noqa: E402
from nba_pipeline.team_factors import TeamFactors  # noqa: E402

RAW = (dt.date(2021, 10, 19), dt.date(2026, 1, 2))
WINDOW = (dt.date(2021, 11, 2), dt.date(2026, 1, 2))


def build(db: Path) -> float:
    t0 = time.perf_counter()
    wh = DuckDBWarehouse(db)
    write_sample(wh, *RAW)
    build_all(wh, *RAW, mode="range")
    TeamFactors().write_range(wh, *RAW)
    wh.close()
    return time.perf_counter() - t0


def run_once(db: Path, models: Path, extra: list[str]) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "nba_pipeline.ml_training", "--start-date", str(WINDOW[0]),
                        "--end-date", str(WINDOW[1]), "--warehouse", str(db), "--models-dir", str(models),
                        "--run-id", "bench", "--progress-every", "100", *extra],
                       capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"training failed ({p.returncode}): {p.stderr.strip()[-500:]}")
    # ru_maxrss of RUSAGE_CHILDREN is the largest child so far (KiB on Linux): the trainer is the only child
    peak = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before)
    meta = json.loads(next(models.glob("*_metadata.json")).read_text())
    return {"wall": wall, "seconds": meta["seconds"], "rss_mib": peak / 1024, "meta": meta}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workdir", default=str(ROOT / "bench" / "work" / "train"))
    ap.add_argument("extra", nargs="*", help="options passed to the trainer (after --)")
    a = ap.parse_args()
    work = Path(a.workdir)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    db = work / "sample.duckdb"
    print(f"sample data + features built in {build(db):.1f}s ({db})")
    runs = []
    for i in range(a.repeat):
        models = work / f"models-{i}"
        r = run_once(db, models, a.extra)
        runs.append(r)
        print(f"  run {i + 1}: wall {r['wall']:.1f}s, trainer {r['seconds']:.1f}s, peak RSS {r['rss_mib']:.0f} MiB, "
              f"trees {r['meta']['trees']}/{r['meta']['rounds_run']} run")
    m = runs[0]["meta"]
    med = {k: statistics.median(r[k] for r in runs) for k in ("wall", "seconds", "rss_mib")}
    rows = m["rows"]
    print(f"window {WINDOW[0]}..{WINDOW[1]}: {sum(rows.values()):,} rows (train {rows['train']:,}, val "
          f"{rows['val']:,}, test {rows['test']:,}) x {len(m['features'])} features")
    print(f"median of {a.repeat}: wall {med['wall']:.1f}s, trainer {med['seconds']:.1f}s (query + split + training + "
          f"scoring + writes), peak RSS {med['rss_mib']:.0f} MiB")
    print(f"MAE: train {m['train_mae']}, val {m['val_mae']}, test {m['test_mae']}; rules baseline "
          f"{m['baseline_mae']}, moving average {m['moving_average_mae']}; improvement vs rules "
          f"{m['improvement_pct']}%")


if __name__ == "__main__":
    main()
