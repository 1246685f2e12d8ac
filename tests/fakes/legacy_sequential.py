#!/usr/bin/env python3
"""A fake of the users' day-by-day backfill job (always exits 0 unless --exit; see _common.py for options).

Extra options: --exception DATE (the day raises: `✗ Exception: ...` instead of `✗ Failed: ...`),
--no-summary (stop before the summary block, as if killed), --dates-mode (`Processing date i/n: D`).
"""
from __future__ import annotations

import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

log = logging.getLogger("backfill")


def main() -> None:
    p = _common.parser(__doc__)
    p.add_argument("--exception", action="append", default=[])
    p.add_argument("--no-summary", action="store_true")
    p.add_argument("--dates-mode", action="store_true")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s - %(levelname)s - %(message)s", stream=sys.stdout)
    dates = _common.setup(args)
    fail = _common.failing(args)
    n = len(dates)
    ok = failed = records = 0
    log.info(f"Starting day-by-day backfill for {n} days")
    pacer = _common.Pacer(args.sleep)
    for i, d in enumerate(dates, 1):
        if args.hang_after is not None and i > args.hang_after:
            _common.hang()
        if args.crash_after is not None and i > args.crash_after:
            sys.stdout.flush()
            sys.stdout.write(_common.traceback_text("player_game_summary_backfill.py"))
            sys.stdout.flush()
            sys.exit(args.exit)
        log.info(f"Processing {'date' if args.dates_mode else 'day'} {i}/{n}: {d}")
        if d in fail:
            failed += 1
            log.error(f"  ✗ Failed: {d}")
        elif d in args.exception:
            failed += 1
            log.error("  ✗ Exception: 404 Not found: Table nba_analytics.team_offense_game_summary")
        else:
            ok += 1
            records += args.records
            if i % 2:
                log.info(f"  ✓ Success: {args.records:,} records from 7 games")
            else:
                log.info(f"  ✓ Success: {args.records:,} records")
        if i % 10 == 0:
            log.info(f"Progress: {i}/{n} days ({100 * ok / i:.1f}% success), {records:,} total records "
                     f"(avg {records // i:,}/day)")
        pacer.tick()
    if not args.no_summary:
        log.info("=" * 80)
        log.info("DAY-BY-DAY BACKFILL SUMMARY:")
        log.info(f"  Total days: {n}")
        log.info(f"  Successful days: {ok}")
        log.info(f"  Failed days: {failed}")
        log.info(f"  Success rate: {100 * ok / max(n, 1):.1f}%")
        log.info(f"  Total records processed: {records:,}")
        log.info("=" * 80)
    if args.no_newline_at_end:
        sys.stdout.write("2026-01-03 14:35:00,000 - INFO - Processing day")
    _common.finish(args)


if __name__ == "__main__":
    main()
