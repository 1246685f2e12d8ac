"""Shared bits of the fake phase jobs: options, the date list, pacing, hanging, SIGTERM handling.

Every fake understands:
  --start DATE --days N | --dates-file FILE | --dates D1,D2     which dates to "process"
  --fail DATE (repeatable)        the date fails
  --fail-once MARKER              the --fail dates fail only while MARKER does not exist (created at the end):
                                  a retry of the failed dates then succeeds
  --records N                     records per ok date (default 1234, so thousands separators show)
  --sleep S                       seconds per date, paced on an absolute schedule (so 0.001 = 1,000 dates/s)
  --hang-after N                  after N dates stop printing and sleep forever (a stalled job)
  --crash-after N                 after N dates print a Python Traceback and exit with --exit
  --exit CODE                     exit code at the end (legacy jobs always exit 0)
  --ignore-term                   ignore SIGTERM (to test the KILL escalation)
  --pid-file FILE                 write the PID there first
  --no-newline-at-end             the last line has no trailing newline (a truncated write)
Unknown orchestrator placeholders (--workers, --checkpoint, --warehouse) are accepted and ignored.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import sys
import time


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--start", default="2024-10-22")
    p.add_argument("--days", type=int, default=10)
    p.add_argument("--dates-file")
    p.add_argument("--dates")
    p.add_argument("--fail", action="append", default=[])
    p.add_argument("--fail-once")
    p.add_argument("--records", type=int, default=1234)
    p.add_argument("--sleep", type=float, default=0.0)
    p.add_argument("--hang-after", type=int)
    p.add_argument("--crash-after", type=int)
    p.add_argument("--exit", type=int, default=0)
    p.add_argument("--ignore-term", action="store_true")
    p.add_argument("--pid-file")
    p.add_argument("--no-newline-at-end", action="store_true")
    p.add_argument("--workers", default="1")
    p.add_argument("--checkpoint")
    p.add_argument("--warehouse")
    return p


def setup(args: argparse.Namespace) -> list[str]:
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if args.pid_file:
        with open(args.pid_file + ".tmp", "w") as f:
            f.write(f"{os.getpid()}\n")
        os.replace(args.pid_file + ".tmp", args.pid_file)
    if args.dates_file:
        with open(args.dates_file) as f:
            return [line.strip() for line in f if line.strip() and not line.startswith("#")]
    if args.dates:
        return [d for d in args.dates.split(",") if d]
    start = dt.date.fromisoformat(args.start)
    return [(start + dt.timedelta(days=i)).isoformat() for i in range(args.days)]


def failing(args: argparse.Namespace) -> set[str]:
    if args.fail_once and os.path.exists(args.fail_once):
        return set()
    return set(args.fail)


def finish(args: argparse.Namespace) -> None:
    if args.fail_once:
        open(args.fail_once, "a").close()
    sys.stdout.flush()
    sys.exit(args.exit)


class Pacer:
    """Sleeps until t0 + i*interval: an accurate rate even for 1 ms intervals."""

    def __init__(self, interval: float):
        self.interval, self.t0, self.i = interval, time.monotonic(), 0

    def tick(self) -> None:
        if self.interval <= 0:
            return
        self.i += 1
        delay = self.t0 + self.i * self.interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def hang() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    while True:
        time.sleep(3600)


def traceback_text(where: str) -> str:
    return ("Traceback (most recent call last):\n"
            f'  File "{where}", line 42, in process_date\n'
            "    rows = client.query(sql).result()\n"
            "RuntimeError: connection reset by peer\n")
