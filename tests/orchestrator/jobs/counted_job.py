#!/usr/bin/env python3
"""A tiny job-kit-format job that appends one line to --counter each time it starts (how tests prove that a
phase was launched exactly once). --sleep S per date; SIGTERM -> COMPLETE status=interrupted, exit 143."""
import argparse
import os
import signal
import sys
import time

p = argparse.ArgumentParser()
p.add_argument("--dates-file", required=True)
p.add_argument("--counter", required=True)
p.add_argument("--sleep", type=float, default=0.0)
a, _ = p.parse_known_args()
with open(a.counter, "a") as f:
    f.write(f"{os.getpid()}\n")
dates = [x.strip() for x in open(a.dates_file) if x.strip()]


def out(text):
    sys.stdout.write(f"[jobkit] {text}\n")
    sys.stdout.flush()


def on_term(signum, frame):
    out(f"COMPLETE status=interrupted days={len(dates)} ok=0 failed=0 skipped=0 records=0 seconds=0")
    os._exit(143)


signal.signal(signal.SIGTERM, on_term)
out(f"START job=counted dates={len(dates)} workers=1 pid={os.getpid()}")
for i, d in enumerate(dates, 1):
    time.sleep(a.sleep)
    out(f"DATE {d} ok records=10 seconds={a.sleep}")
out(f"PROGRESS {len(dates)}/{len(dates)} days ok={len(dates)} failed=0 skipped=0 records={10 * len(dates)} "
    "rate=1.00/min eta=unknown")
out(f"COMPLETE status=ok days={len(dates)} ok={len(dates)} failed=0 skipped=0 records={10 * len(dates)} seconds=1")
