#!/usr/bin/env python3
"""A job whose process exits at once after forking the child that does the work (a wrapper that backgrounds its
worker): the child, in the same process group, writes the job-kit lines to the same log, --before dates, then waits
for --gate FILE, then the rest. --counter FILE: one line per start of the job; --child-pid FILE: the worker's PID."""
import argparse
import os
import sys
import time

p = argparse.ArgumentParser()
p.add_argument("--dates-file", required=True)
p.add_argument("--gate", required=True)
p.add_argument("--counter", required=True)
p.add_argument("--child-pid", required=True)
p.add_argument("--before", type=int, default=2)
a, _ = p.parse_known_args()
with open(a.counter, "a") as f:
    f.write(f"{os.getpid()}\n")
dates = [x.strip() for x in open(a.dates_file) if x.strip()]
sys.stdout.flush()
if os.fork() != 0:
    os._exit(0)  # the wrapper is done; its worker goes on


def out(text: str) -> None:
    sys.stdout.write(f"[jobkit] {text}\n")
    sys.stdout.flush()


with open(a.child_pid + ".tmp", "w") as f:
    f.write(f"{os.getpid()}\n")
os.replace(a.child_pid + ".tmp", a.child_pid)
out(f"START job=forking dates={len(dates)} workers=1 pid={os.getpid()}")
for i, d in enumerate(dates, 1):
    if i == a.before + 1:
        while not os.path.exists(a.gate):  # the test opens the gate
            time.sleep(0.02)
    out(f"DATE {d} ok records=10 seconds=0.01")
n = len(dates)
out(f"PROGRESS {n}/{n} days ok={n} failed=0 skipped=0 records={10 * n} rate=1.00/min eta=unknown")
out(f"COMPLETE status=ok days={n} ok={n} failed=0 skipped=0 records={10 * n} seconds=1")
