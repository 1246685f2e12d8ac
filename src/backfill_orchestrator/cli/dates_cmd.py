"""`backfill dates`: write a date list for a phase (e.g. skip each season's first 14 days: first date = season start + 14) and say what was dropped."""
from __future__ import annotations

from pathlib import Path

import click

from ..datelist import select_dates, write_selection
from ..dates import load_calendar, parse_date
from ..errors import UsageError
from ..render import dumps

DEFAULT_CALENDAR = "config/seasons.yaml"


@click.command("dates")
@click.option("--start", "start", required=True, help="First date (YYYY-MM-DD), included.")
@click.option("--end", "end", required=True, help="Last date (YYYY-MM-DD), included.")
@click.option("--calendar", "calendar", default=None, type=click.Path(dir_okay=False),
              help=f"Season calendar YAML (default {DEFAULT_CALENDAR} when a season rule is used).")
@click.option("--skip-first-days", type=click.IntRange(min=0), default=0, show_default=True,
              help="Drop the first N days of each season (and every off-season date).")
@click.option("--game-days-only", is_flag=True, help="Keep only dates inside a season of the calendar.")
@click.option("--out", "out", type=click.Path(dir_okay=False), default=None,
              help="Write the list here (atomically); without it the dates go to stdout, the summary to stderr.")
@click.option("--json", "as_json", is_flag=True, help="Print the selection (kept, excluded by reason) as JSON.")
def dates_cmd(start: str, end: str, calendar: str | None, skip_first_days: int, game_days_only: bool,
              out: str | None, as_json: bool) -> None:
    """Print or write the dates from --start to --end kept by the season rules, with how many were kept and
    excluded and why.

    \b
    Example (the composite-factors list: each season's first 14 days skipped, first date = start + 14):
      backfill dates --start 2024-10-01 --end 2026-01-02 --skip-first-days 14 --out dates/phase4.txt
    """
    d0, d1 = parse_date(start, "--start"), parse_date(end, "--end")
    needs = skip_first_days > 0 or game_days_only
    cal_path = calendar or (DEFAULT_CALENDAR if needs or Path(DEFAULT_CALENDAR).is_file() else None)
    if cal_path and not Path(cal_path).is_file():
        raise UsageError(f"--calendar: file not found: {cal_path}")
    sel = select_dates(d0, d1, load_calendar(cal_path) if cal_path else None,
                       skip_first_days=skip_first_days, game_days_only=game_days_only)
    if out:
        write_selection(out, sel)
    if as_json:
        click.echo(dumps(sel))
    elif out:
        click.echo(sel.text() + f"\nwrote {len(sel.kept)} dates to {out}")
    else:
        click.echo("".join(f"{d}\n" for d in sel.kept), nl=False)
        click.echo(sel.text(), err=True)
