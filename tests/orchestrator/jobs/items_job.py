#!/usr/bin/env python3
"""A job-kit-format job writing one row per date of its dates file into a DuckDB table, for the repair tests.

    items_job.py --dates-file F --db WH --table demo.up [--source demo.up2] [--counter C]
                 [--null-first-run D1,D2 --marker M] [--always-null D1,D2] [--slow-after-first S]

v = the date's day of month (from --source's v * 2 when given: NULL where the source has no value). Faults:
--null-first-run writes NULL on those dates the first time the job runs (no --marker file yet: the marker is
then created) - a race that a re-run fixes; --always-null writes NULL on them every time - a bug no re-run fixes.
--slow-after-first S sleeps S seconds per date once the marker exists (a repair re-run that is slow enough to be
killed in the middle of). Each start appends "<pid> <dates>" to --counter.
"""
import argparse
import os
import signal
import sys
import time

import duckdb

p = argparse.ArgumentParser()
p.add_argument("--dates-file", required=True)
p.add_argument("--db", required=True)
p.add_argument("--table", required=True)
p.add_argument("--source")
p.add_argument("--counter")
p.add_argument("--null-first-run", default="")
p.add_argument("--always-null", default="")
p.add_argument("--marker")
p.add_argument("--slow-after-first", type=float, default=0.0)
a = p.parse_args()
dates = [x.strip() for x in open(a.dates_file) if x.strip()]
if a.counter:
    with open(a.counter, "a") as f:
        f.write(f"{os.getpid()} {','.join(dates)}\n")
first_run = bool(a.marker) and not os.path.exists(a.marker)
null_now = set(a.always_null.split(",")) - {""}
if first_run:
    null_now |= set(a.null_first_run.split(",")) - {""}
    open(a.marker, "w").close()
slow = a.slow_after_first if a.marker and not first_run else 0.0


def out(text):
    sys.stdout.write(f"[jobkit] {text}\n")
    sys.stdout.flush()


def on_term(signum, frame):
    out(f"COMPLETE status=interrupted days={len(dates)} ok=0 failed=0 skipped=0 records=0 seconds=0")
    os._exit(143)


signal.signal(signal.SIGTERM, on_term)
out(f"START job=items dates={len(dates)} workers=1 pid={os.getpid()}")
for d in dates:
    time.sleep(slow)
    con = duckdb.connect(a.db)  # one connection per date: the gate may open the file between two phases only
    try:
        con.execute(f"CREATE TABLE IF NOT EXISTS {a.table} (d DATE, v BIGINT)")
        if d in null_now:
            value = None
        elif a.source:
            row = con.execute(f"SELECT v * 2 FROM {a.source} WHERE d = ?", [d]).fetchone()
            value = row[0] if row else None
        else:
            value = int(d[-2:])
        con.execute("BEGIN")
        con.execute(f"DELETE FROM {a.table} WHERE d = ?", [d])
        con.execute(f"INSERT INTO {a.table} VALUES (?, ?)", [d, value])
        con.execute("COMMIT")
    finally:
        con.close()
    out(f"DATE {d} ok records=1 seconds={slow}")
out(f"COMPLETE status=ok days={len(dates)} ok={len(dates)} failed=0 skipped=0 records={len(dates)} seconds=1")
