"""Benchmark of the NBA phase jobs (issue 3 §4). Not a test: it prints figures, ratios measured in one run.

1. The three phases over 2021-10-19..2026-01-02 on the local DuckDB warehouse, as real job processes with
   2 workers, for each --batch-days value asked for, against the FLOOR: one set-based statement per table
   over the whole range (composite factors: one per season, because of the bootstrap rule), in-process.
2. The kit's own per-date overhead: the no-op job (`python -m nba_pipeline.jobkit`) over the same 1,537
   dates with 2 workers, against GNU parallel running `true` once per date with -j2.

    .venv/bin/python bench/bench_jobs.py [--repeat 3] [--batch-days 1,31,auto] [--workdir data/bench]

Medians over --repeat runs. Data lives under --workdir (never /tmp); it is regenerated each time.
"""
from __future__ import annotations

import argparse
import datetime as dt
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from backfill_orchestrator.dates import date_range  # noqa: E402
from backfill_orchestrator.warehouse.duckdb import DuckDBWarehouse  # noqa: E402
from nba_pipeline.build import build_all  # noqa: E402
from nba_pipeline.sample_data import write_sample  # noqa: E402

START, END = dt.date(2021, 10, 19), dt.date(2026, 1, 2)
JOBS = [("team_offense_game_summary", "team_offense"), ("player_game_summary", "player_game_summary"),
        ("player_composite_factors", "player_composite_factors")]
WORKERS = 2


def _median(xs: list[float]) -> float:
    return statistics.median(xs)


def floor(raw: Path, work: Path, repeat: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name, _ in JOBS}
    for i in range(repeat):
        db = work / f"floor-{i}.duckdb"
        shutil.copy(raw, db)
        wh = DuckDBWarehouse(db)
        for r in build_all(wh, START, END, mode="range"):
            times[r.phase].append(r.seconds)
        wh.close()
        db.unlink()
    return {k: _median(v) for k, v in times.items()}


def per_date(raw: Path, work: Path, repeat: int, batch: str) -> dict[str, tuple[float, float]]:
    """phase -> (median wall seconds of the job process, median seconds inside the kit from COMPLETE)."""
    wall: dict[str, list[float]] = {name: [] for name, _ in JOBS}
    inner: dict[str, list[float]] = {name: [] for name, _ in JOBS}
    for i in range(repeat):
        db = work / f"perdate-{batch}-{i}.duckdb"
        shutil.copy(raw, db)
        for name, module in JOBS:
            cp = work / f"cp-{batch}-{i}-{name}.json"
            argv = [sys.executable, "-m", f"nba_pipeline.{module}", "--start-date", str(START), "--end-date",
                    str(END), "--workers", str(WORKERS), "--batch-days", str(batch), "--warehouse", str(db),
                    "--checkpoint", str(cp), "--no-resume", "--progress-every", "100"]
            t0 = time.perf_counter()
            p = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
            wall[name].append(time.perf_counter() - t0)
            last = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else ""
            if p.returncode != 0 or "status=ok" not in last:
                sys.exit(f"{module} failed ({p.returncode}): {last or p.stderr.strip()[-300:]}")
            inner[name].append(float(re.search(r"seconds=(\S+)", last).group(1)))
            cp.unlink()
        db.unlink()
    return {k: (_median(wall[k]), _median(inner[k])) for k in wall}


def kit_overhead(work: Path, repeat: int) -> None:
    dates = [str(d) for d in date_range(START, END)]
    noop = [sys.executable, "-m", "nba_pipeline.jobkit", "--workers", str(WORKERS), "--no-resume"]

    def run_noop(args: list[str]) -> float:
        t0 = time.perf_counter()
        subprocess.run(noop + args + ["--checkpoint", str(work / "noop.json")], check=True, cwd=ROOT,
                       stdout=subprocess.DEVNULL)
        return time.perf_counter() - t0

    kit_all = _median([run_noop(["--start-date", dates[0], "--end-date", dates[-1]]) for _ in range(repeat)])
    kit_one = _median([run_noop(["--dates", dates[0]]) for _ in range(repeat)])
    n = len(dates)
    print(f"\n== kit overhead: {n} dates, {WORKERS} workers (median of {repeat}) ==")
    print(f"  nba_pipeline.jobkit no-op   total {kit_all:6.2f} s   startup (1 date) {kit_one:5.2f} s   "
          f"per date {(kit_all - kit_one) / (n - 1) * 1000:6.3f} ms (excl. startup), "
          f"{kit_all / n * 1000:6.3f} ms (incl.)")
    if shutil.which("parallel") is None:
        try:
            subprocess.run(["apt-get", "install", "-y", "parallel"], check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError):
            print("  GNU parallel not installed and `apt-get install -y parallel` failed: comparison skipped")
            return
    date_file = work / "dates.txt"
    date_file.write_text("\n".join(dates) + "\n")

    def run_parallel(path: Path) -> float:
        t0 = time.perf_counter()
        subprocess.run(["parallel", "--will-cite", "-j", str(WORKERS), "true", "::::", str(path)], check=True)
        return time.perf_counter() - t0

    one_file = work / "one-date.txt"
    one_file.write_text(dates[0] + "\n")
    par_all = _median([run_parallel(date_file) for _ in range(repeat)])
    par_one = _median([run_parallel(one_file) for _ in range(repeat)])
    print(f"  GNU parallel -j{WORKERS} true        total {par_all:6.2f} s   startup (1 date) {par_one:5.2f} s   "
          f"per date {(par_all - par_one) / (n - 1) * 1000:6.3f} ms (excl. startup), "
          f"{par_all / n * 1000:6.3f} ms (incl.)")
    print(f"  ratio kit / parallel: {(kit_all - kit_one) / (par_all - par_one):.2f} (per date, excl. startup), "
          f"{kit_all / par_all:.2f} (totals)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--batch-days", default="1,31,auto",
                    help="comma-separated --batch-days values to measure (auto: the default pipeline's)")
    ap.add_argument("--workdir", default=str(ROOT / "data" / "bench"))
    a = ap.parse_args()
    work = Path(a.workdir)
    work.mkdir(parents=True, exist_ok=True)
    raw = work / "raw.duckdb"
    raw.unlink(missing_ok=True)
    wh = DuckDBWarehouse(raw)
    s = write_sample(wh, START, END)
    wh.close()
    n_days = len(date_range(START, END))
    print(f"sample data {START}..{END}: {n_days} dates, {s.games} games, {s.player_rows} player rows, "
          f"generated and loaded in {s.seconds:.2f} s")
    fl = floor(raw, work, a.repeat)
    print(f"\n== floor: one set-based statement per table over the range, in-process (median of {a.repeat}) ==")
    for name, _ in JOBS:
        print(f"  {name:28s} {fl[name]:7.3f} s   {n_days / fl[name]:9.0f} days/s")
    total_floor = sum(fl.values())
    print(f"  {'all three':28s} {total_floor:7.3f} s")
    for batch in a.batch_days.split(","):
        pd = per_date(raw, work, a.repeat, batch)
        print(f"\n== per-date jobs, {WORKERS} workers, --batch-days {batch} (median of {a.repeat}) ==")
        print(f"  {'phase':28s} {'process s':>9s} {'in-kit s':>9s} {'days/s':>8s} {'ratio (process)':>16s} "
              f"{'ratio (in-kit)':>15s}")
        for name, _ in JOBS:
            w, i = pd[name]
            print(f"  {name:28s} {w:9.2f} {i:9.2f} {n_days / w:8.0f} {w / fl[name]:15.1f}x {i / fl[name]:14.1f}x")
        tw, ti = sum(v[0] for v in pd.values()), sum(v[1] for v in pd.values())
        print(f"  {'all three':28s} {tw:9.2f} {ti:9.2f} {3 * n_days / tw:8.0f} {tw / total_floor:15.1f}x "
              f"{ti / total_floor:14.1f}x")
    kit_overhead(work, a.repeat)
    raw.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
