#!/usr/bin/env python3
"""A fake phase job printing the job kit's progress lines (see _common.py for the options).

SIGTERM -> `[jobkit] COMPLETE status=interrupted ...` and exit 143 (unless --ignore-term).
"""
from __future__ import annotations

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402


def main() -> None:
    p = _common.parser(__doc__)
    p.add_argument("--job", default="fake_job")
    p.add_argument("--progress-every", type=int, default=5)
    p.add_argument("--skip", action="append", default=[], help="dates reported as skipped")
    p.add_argument("--error", default="ConnectionError: connection reset by the warehouse",
                   help="what a --fail date reports (a transient error unless told otherwise)")
    args = p.parse_args()
    dates = _common.setup(args)
    fail = _common.failing(args)
    t0 = time.monotonic()
    counts = {"ok": 0, "failed": 0, "skipped": 0, "records": 0}
    failed: list[str] = []

    def out(text: str) -> None:
        sys.stdout.write(f"[jobkit] {text}\n")
        sys.stdout.flush()

    def complete(status: str) -> None:
        out(f"COMPLETE status={status} days={len(dates)} ok={counts['ok']} failed={counts['failed']} "
            f"skipped={counts['skipped']} records={counts['records']} seconds={time.monotonic() - t0:.1f}")

    if not args.ignore_term:
        def on_term(signum, frame):
            complete("interrupted")
            os._exit(143)
        signal.signal(signal.SIGTERM, on_term)

    out(f"START job={args.job} dates={len(dates)} workers={args.workers} pid={os.getpid()}")
    pacer = _common.Pacer(args.sleep)
    for i, d in enumerate(dates, 1):
        if args.hang_after is not None and i > args.hang_after:
            _common.hang()
        if args.crash_after is not None and i > args.crash_after:
            sys.stdout.flush()
            sys.stderr.write(_common.traceback_text("jobkit_fake.py"))
            sys.stderr.flush()
            sys.exit(args.exit or 1)
        if d in fail:
            counts["failed"] += 1
            failed.append(d)
            out(f'DATE {d} failed records=0 seconds=0.20 error="{args.error}"')
        elif d in args.skip:
            counts["skipped"] += 1
            out(f'DATE {d} skipped records=0 seconds=0.01 reason="no games"')
        else:
            counts["ok"] += 1
            counts["records"] += args.records
            out(f"DATE {d} ok records={args.records} seconds=0.41")
        if i % args.progress_every == 0 or i == len(dates):
            elapsed = max(time.monotonic() - t0, 1e-9) / 60
            out(f"PROGRESS {i}/{len(dates)} days ok={counts['ok']} failed={counts['failed']} "
                f"skipped={counts['skipped']} records={counts['records']} rate={i / elapsed:.2f}/min eta=unknown")
        pacer.tick()
    if failed:
        out("FAILED " + ", ".join(failed))
        out(f"RETRY {sys.executable} {os.path.abspath(__file__)} --dates {','.join(failed)}")
    complete("failed" if failed else "ok")
    if args.no_newline_at_end:
        sys.stdout.write("[jobkit] trailing partial line")
    _common.finish(args)


if __name__ == "__main__":
    main()
