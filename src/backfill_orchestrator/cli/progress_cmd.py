"""`backfill progress LOGFILE`: read a phase log on its own (any supported format) and summarise its progress."""
from __future__ import annotations

import time
from pathlib import Path

import click

from ..dates import format_ranges
from ..errors import EXIT_FAILED, EXIT_OK
from ..progress import (LogFollower, Progress, check_text_log, format_progress_line, log_status, parser_for,
                        read_into, utcnow)
from ..render import dumps, to_jsonable
from . import EXIT_INTERRUPTED


@click.command("progress")
@click.argument("logfile", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", default="auto", show_default=True, metavar="auto|jobkit|legacy-sequential|legacy-parallel|NAME",
              help="Line format; NAME = a format defined under `formats:` in the --config file.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="Pipeline config whose `formats:` define custom regex formats.")
@click.option("--json", "as_json", is_flag=True, help="Print the progress as JSON.")
@click.option("-f", "--follow", is_flag=True, help="Keep reading as the log grows; one line per --every, "
              "until the job's completion marker (or Ctrl-C).")
@click.option("--every", default=10.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds between progress lines with --follow.")
@click.pass_context
def progress_cmd(ctx: click.Context, logfile: str, fmt: str, config_file: str | None, as_json: bool,
                 follow: bool, every: float) -> None:
    """Summarise the progress of a backfill log: done/total, ok/failed/skipped days, records, rate, ETA, the
    failed dates as ranges, fatal errors. The format is detected from the first recognisable lines.

    Exit code: 0 when the log shows no failure, 1 when it has failed dates, a fatal error (Traceback, FATAL,
    CRITICAL ERROR) or an interrupted run; 2 for a bad argument; 130 when -f is stopped by Ctrl-C. A log without its completion block is reported
    `incomplete` (still running, or the job died: the users' legacy jobs always exit 0).

    \b
    Example:
      backfill progress logs/player_game_summary_backfill.log
      backfill progress -f --every 60 logs/latest/player_game_summary.log
    """
    path = check_text_log(logfile)
    parser = parser_for(fmt, _custom_formats(config_file))
    progress, interrupted = _follow(path, parser, every) if follow else (_read_all(path, parser), False)
    click.echo(dumps({"log": str(path), "status": log_status(progress), "percent": progress.percent,
                      **to_jsonable(progress)}) if as_json else summary_text(path, progress))
    failed = log_status(progress) in ("failed", "fatal", "interrupted") or progress.failed or progress.failed_dates
    ctx.exit(EXIT_INTERRUPTED if interrupted else EXIT_FAILED if failed else EXIT_OK)


def _custom_formats(config_file: str | None) -> dict:
    if config_file is None:
        return {}
    from ..config import load_config  # only when asked: it validates a whole pipeline file
    return dict(load_config(config_file).formats)


def _read_all(path: Path, parser) -> Progress:
    with LogFollower(path) as follower:
        read_into(follower, parser, final=True)
    return parser.snapshot(utcnow())


def _follow(path: Path, parser, every: float) -> tuple[Progress, bool]:
    """The progress when the completion block was read or Ctrl-C was pressed, and whether it was Ctrl-C."""
    next_line, seen_complete, interrupted = 0.0, False, False
    with LogFollower(path) as follower:
        try:
            while True:
                read_into(follower, parser)
                progress = parser.snapshot(utcnow())
                # a completion block's values follow its header: read once more before the last line
                if seen_complete or time.monotonic() >= next_line:
                    click.echo(format_progress_line(path.stem, progress, utcnow()))
                    next_line = time.monotonic() + every
                if seen_complete:
                    break
                seen_complete = progress.completed
                time.sleep(min(0.5, every))  # polling a file: nothing to wake us when it grows
        except KeyboardInterrupt:  # Ctrl-C is how one stops following: the summary so far, then exit 130
            interrupted = True
        read_into(follower, parser, final=True)
    return parser.snapshot(utcnow()), interrupted


def summary_text(path: Path, p: Progress) -> str:
    status = log_status(p)
    total = f"{p.done}/{p.total} days ({p.percent:.1f}%)" if p.total else f"{p.done} days (total unknown)"
    rate = f"{p.rate_per_min:.2f} days/min" if p.rate_per_min is not None else "unknown"
    eta = p.eta.strftime("%Y-%m-%dT%H:%M:%SZ") if p.eta else "unknown"
    lines = [
        f"log:       {path}",
        f"format:    {p.format}" + ("  (no recognisable progress lines)" if p.format == "unknown" else ""),
        f"status:    {status}" + ({"incomplete": "  (no completion block: still running, or the job died)",
                                   "fatal": f"  {p.fatal}"}.get(status, "")),
        f"progress:  {total}  ok={p.ok} failed={p.failed} skipped={p.skipped}",
        f"records:   {p.records:,}",
        f"rate:      {rate}   eta: {eta}",
    ]
    if p.started_at and p.last_line_at and p.started_at != p.last_line_at:  # equal = no times in the lines
        lines.append(f"time:      {p.started_at:%Y-%m-%dT%H:%M:%SZ} .. {p.last_line_at:%Y-%m-%dT%H:%M:%SZ}")
    if p.failed_dates:
        lines.append(f"failed:    {format_ranges(p.failed_dates)}")
    if p.retry_command:
        lines.append(f"retry:     {p.retry_command}")
    for e in p.errors[:5]:
        lines.append(f"error:     {e}")
    if len(p.errors) > 5:
        lines.append(f"           ... {len(p.errors) - 5} more")
    return "\n".join(lines)
