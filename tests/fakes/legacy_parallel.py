#!/usr/bin/env python3
"""A fake of the users' parallel backfill job (`--parallel --workers 15`; always exits 0 unless --exit).

Extra options: --progress-every N (PROGRESS block every N days, default 10), --no-summary, --dates-mode.
Dates are processed in order here (a real pool interleaves them; the parser does not care).
"""
from __future__ import annotations

import logging
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

log = logging.getLogger("backfill")


def main() -> None:
    p = _common.parser(__doc__)
    p.add_argument("--parallel", action="store_true")
    p.add_argument("--progress-every", type=int, default=10)
    p.add_argument("--no-summary", action="store_true")
    p.add_argument("--dates-mode", action="store_true")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s - %(levelname)s - %(message)s", stream=sys.stdout)
    dates = _common.setup(args)
    fail = _common.failing(args)
    n = len(dates)
    ok = failed = records = 0
    t0 = time.monotonic()
    log.info(f"Starting parallel backfill: {n} days with {args.workers} workers")
    pacer = _common.Pacer(args.sleep)
    for i, d in enumerate(dates, 1):
        if args.hang_after is not None and i > args.hang_after:
            _common.hang()
        if args.crash_after is not None and i > args.crash_after:
            log.critical("CRITICAL ERROR: worker pool died")
            sys.stdout.flush()
            sys.exit(args.exit)
        if args.dates_mode:
            log.info(f"Processing date {i}/{n}")
        if d in fail:
            failed += 1
            log.error(f"  ✗ {d}: 404 Not found: Table nba_analytics.team_offense_game_summary")
        else:
            ok += 1
            records += args.records
            log.info(f"  ✓ {d}: {args.records:,} records")
        if i % args.progress_every == 0:
            minutes = max(time.monotonic() - t0, 1e-6) / 60
            rate = i / minutes
            log.info("=" * 60)
            log.info(f"PROGRESS: {i}/{n} days ({100 * i / n:.1f}%)")
            log.info(f"  Success: {ok}")
            log.info(f"  Failed: {failed}")
            log.info(f"  Records: {records:,}")
            log.info(f"  Rate: {rate:.1f} days/min")
            log.info(f"  ETA: {(n - i) / rate:.1f} min")
            log.info("=" * 60)
        pacer.tick()
    if not args.no_summary:
        log.info("=" * 60)
        log.info("PARALLEL BACKFILL COMPLETE")
        log.info(f"  Successful: {ok}")
        log.info(f"  Failed: {failed}")
        log.info(f"  Total records: {records:,}")
        log.info(f"  Duration: {(time.monotonic() - t0) / 60:.1f} min")
        log.info("=" * 60)
    if args.no_newline_at_end:
        sys.stdout.write("2026-01-03 14:35:00,000 - INFO -   ✓ 2026-01-0")
    _common.finish(args)


if __name__ == "__main__":
    main()
