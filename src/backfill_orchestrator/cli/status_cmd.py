"""`backfill status`: a run's phases, PIDs (alive?), progress, ETA, gate results and recent events, from its state."""
from __future__ import annotations

import click

from ..render import dumps
from ..reporting.metrics import write_metrics
from ..reporting.status import status_of
from ..reporting.view import build_view
from ..state import resolve_run_dir
from .options import logs_dir_option


@click.command("status")
@click.argument("run", required=False)
@logs_dir_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable (stable fields: docs/status-json.md).")
@click.option("--events", default=10, show_default=True, type=click.IntRange(min=0),
              help="How many recent events to show.")
@click.option("--prometheus", type=click.Path(dir_okay=False), metavar="FILE",
              help="Also write node-exporter textfile metrics to FILE (atomically), for Grafana.")
def status_cmd(run: str | None, logs_dir: str, as_json: bool, events: int, prometheus: str | None) -> None:
    """Show RUN (run id or directory; default: the latest). Reads the run's state only; never changes it.

    \b
    Example:
      backfill status --json
    """
    run_dir = resolve_run_dir(logs_dir, run)
    view = build_view(run_dir)
    s = status_of(view, events=events)
    if prometheus:
        write_metrics(view, prometheus)
    click.echo(dumps(s) if as_json else s.text())
