"""`backfill report`: the run report (HTML with charts, Markdown for a ticket, JSON) from a run's state."""
from __future__ import annotations

from pathlib import Path

import click

from ..reporting.report import render, write_report, write_reports
from ..reporting.view import build_view
from ..state import resolve_run_dir
from .options import logs_dir_option


@click.command("report")
@click.argument("run", required=False)
@click.option("--format", "fmt", type=click.Choice(["html", "md", "json"]), default=None,
              help="Print (or with --out write) only this format.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Write the report to this file (format from --format or the file's extension).")
@logs_dir_option
def report_cmd(run: str | None, fmt: str | None, out: str | None, logs_dir: str) -> None:
    """Write and show the report of RUN (a run id or run directory; default: the latest run).

    Without options: (re)writes report.html, report.md and report.json in the run directory and prints the
    Markdown. The HTML is one self-contained file (inline SVG charts, no network at view time).

    \b
    Examples:
      backfill report                               # latest run
      backfill report 20260103T010000Z-1a2b --format md
      backfill report --format html --out /srv/www/backfill.html
    """
    run_dir = resolve_run_dir(logs_dir, run)
    if out:
        click.echo(f"wrote {write_report(run_dir, out, fmt)}")
    elif fmt:
        click.echo(render(build_view(run_dir), fmt), nl=False)
    else:
        paths = write_reports(run_dir)
        click.echo((Path(run_dir) / "report.md").read_text(encoding="utf-8"), nl=False)
        click.echo("\n" + "\n".join(f"wrote {p}" for p in paths))
