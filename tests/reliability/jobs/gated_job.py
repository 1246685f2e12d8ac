#!/usr/bin/env python3
"""A job-kit-format job that processes --before dates, then waits until --gate FILE exists, then the rest: a
test decides the moment at which the job goes on (no sleeps as synchronisation on the test's side).

--counter FILE: one line (the PID) per start, to prove a phase was launched once.
SIGTERM -> COMPLETE status=interrupted, exit 143."""
import argparse
import os
import signal
import sys
import time

p = argparse.ArgumentParser()
p.add_argument("--dates-file", required=True)
p.add_argument("--gate", required=True)
p.add_argument("--before", type=int, default=2)
p.add_argument("--counter")
a, _ = p.parse_known_args()
if a.counter:
    with open(a.counter, "a") as f:
        f.write(f"{os.getpid()}\n")
dates = [x.strip() for x in open(a.dates_file) if x.strip()]


def out(text: str) -> None:
    sys.stdout.write(f"[jobkit] {text}\n")
    sys.stdout.flush()


def on_term(signum, frame):
    out(f"COMPLETE status=interrupted days={len(dates)} ok=0 failed=0 skipped=0 records=0 seconds=0")
    os._exit(143)


signal.signal(signal.SIGTERM, on_term)
out(f"START job=gated dates={len(dates)} workers=1 pid={os.getpid()}")
for i, d in enumerate(dates, 1):
    if i == a.before + 1:
        while not os.path.exists(a.gate):  # the test opens the gate
            time.sleep(0.02)
    out(f"DATE {d} ok records=10 seconds=0.01")
n = len(dates)
out(f"PROGRESS {n}/{n} days ok={n} failed=0 skipped=0 records={10 * n} rate=1.00/min eta=unknown")
out(f"COMPLETE status=ok days={n} ok={n} failed=0 skipped=0 records={10 * n} seconds=1")
