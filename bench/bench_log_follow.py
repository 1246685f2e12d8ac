#!/usr/bin/env python3
"""Following a huge, fast log: a phase (a real subprocess, launched as the orchestrator launches phases) writes
job-kit lines at >= 50,000 lines/s until the log reaches --size (default 1 GB); this process follows it with the
orchestrator's own code (process.launch, progress.follow, LogFollower, the jobkit parser) and reports:

    lines written / lines read (must be equal), dates ok parsed / expected, peak RSS of the follower, write rate,
    and how far behind the follower was at worst (bytes).

    .venv/bin/python bench/bench_log_follow.py                  # 1 GB (~3-4 minutes)
    .venv/bin/python bench/bench_log_follow.py --size 20M --json
Target (issue 14): RSS under 100 MB, counts exact. Prints one JSON object with --json (what the CI test reads).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from backfill_orchestrator import process  # noqa: E402
from backfill_orchestrator.progress import LogFollower, follow  # noqa: E402
from backfill_orchestrator.progress_formats import parser_for  # noqa: E402

DATES = 1537  # the default pipeline's date count: DATE lines cycle over them

WRITER = r"""
import datetime as dt, os, sys, time
size, rate, dates, count_file = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
first = dt.date(2021, 10, 19)
names = [(first + dt.timedelta(days=i)).isoformat() for i in range(dates)]
out = sys.stdout.buffer
pad = "x" * 40
out.write(f"[jobkit] START job=bench dates={dates} workers=1 pid={os.getpid()}\n".encode())
n, written, t0, batch = 1, 0, time.monotonic(), 1000
while written < size:
    lines = []
    for _ in range(batch):
        i = n % dates
        if n % 500 == 0:
            lines.append(f"2026-01-03 14:35:00,000 - INFO - worker {n % 7}: fetched page {n} of the box scores {pad}\n")
        else:
            lines.append(f"[jobkit] DATE {names[i]} ok records={n % 400} seconds=0.01 {pad}\n")
        n += 1
    data = "".join(lines).encode()
    out.write(data)
    out.flush()
    written += len(data)
    ahead = (n - 1) / rate - (time.monotonic() - t0)  # paced on an absolute schedule
    if ahead > 0:
        time.sleep(ahead)
elapsed = time.monotonic() - t0
out.write(f"[jobkit] COMPLETE status=ok days={dates} ok={dates} failed=0 skipped=0 records=0 seconds={elapsed:.1f}\n"
          .encode())
out.flush()
with open(count_file, "w") as f:
    f.write(f"{n + 1} {elapsed}\n")  # START + n - 1 lines + COMPLETE
"""


class _Counting:
    """The parser, counting the lines the follower fed it."""

    def __init__(self, inner) -> None:
        self.inner, self.lines = inner, 0

    def feed(self, line: str, now: dt.datetime) -> bool:
        self.lines += 1
        return self.inner.feed(line, now)

    def snapshot(self, now: dt.datetime):
        return self.inner.snapshot(now)


def _size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(float(text[:-1]) * units[text[-1].upper()]) if text[-1].upper() in units else int(text)


def run(size: int, rate: float, workdir: Path, poll: float = 1.0) -> dict:
    log, counts = workdir / "phase.log", workdir / "counts"
    me = psutil.Process()
    handle = process.launch([sys.executable, "-c", WRITER, str(size), str(rate), str(DATES), str(counts)], log)
    parser = _Counting(parser_for("jobkit"))
    peak_rss, lag = me.memory_info().rss, 0

    def tick(_progress, _n: int) -> None:
        nonlocal peak_rss, lag
        peak_rss = max(peak_rss, me.memory_info().rss)
        lag = max(lag, log.stat().st_size - follower.position.offset)
        return None

    t0 = time.monotonic()
    with LogFollower(log) as follower:
        result = follow(handle, follower, parser, on_tick=tick, poll=poll)  # type: ignore[arg-type]
    elapsed = time.monotonic() - t0
    peak_rss = max(peak_rss, me.memory_info().rss)
    written, write_seconds = counts.read_text().split()
    with open(log, "rb") as f:
        in_file = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    p = result.progress
    return {"log_bytes": log.stat().st_size, "lines_written": int(written), "lines_in_file": in_file,
            "lines_read": parser.lines,
            "dates_expected": DATES, "dates_ok": p.ok, "done": p.done, "completed": p.completed,
            "write_rate_lines_per_s": round(int(written) / float(write_seconds)),
            "follow_seconds": round(elapsed, 1), "peak_rss_mb": round(peak_rss / 2**20, 1),
            "max_lag_mb": round(lag / 2**20, 1), "exit": result.exit.describe() if result.exit else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="1G", help="log size to write (e.g. 20M, 1G)")
    ap.add_argument("--rate", type=float, default=60_000, help="lines per second written (>= 50,000)")
    ap.add_argument("--poll", type=float, default=1.0, help="the orchestrator's polling interval, seconds")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-log-follow-") as d:
        r = run(_size(args.size), args.rate, Path(d), args.poll)
    r["counts_exact"] = (r["lines_read"] == r["lines_in_file"] == r["lines_written"]
                         and r["dates_ok"] == r["dates_expected"])
    if args.json:
        print(json.dumps(r))
        return
    print(f"log {r['log_bytes'] / 2**20:,.0f} MB, {r['lines_written']:,} lines written at "
          f"{r['write_rate_lines_per_s']:,} lines/s; followed in {r['follow_seconds']} s")
    print(f"lines read {r['lines_read']:,}; dates ok {r['dates_ok']:,}/{r['dates_expected']:,}, "
          f"complete={r['completed']}, counts exact: "
          f"{r['counts_exact']}")
    print(f"peak RSS of the follower {r['peak_rss_mb']} MB (target < 100 MB); worst lag {r['max_lag_mb']} MB")


if __name__ == "__main__":
    main()
