"""`backfill metrics`: node-exporter textfile metrics of a run (progress, ETA, rate, gates, last success)."""
from __future__ import annotations

import click

from ..reporting.metrics import collect_metrics, write_metrics
from ..state import resolve_run_dir
from .options import logs_dir_option


@click.command("metrics")
@click.argument("run", required=False)
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Write here atomically (e.g. /var/lib/node_exporter/textfile/backfill.prom); default stdout.")
@logs_dir_option
def metrics_cmd(run: str | None, out: str | None, logs_dir: str) -> None:
    """Print or write Prometheus textfile metrics of RUN (default: the latest run), for Grafana.

    \b
    Example (cron, every minute):
      backfill metrics --out /var/lib/node_exporter/textfile/backfill.prom
    """
    run_dir = resolve_run_dir(logs_dir, run)
    if out:
        write_metrics(run_dir, out)
    else:
        click.echo(collect_metrics(run_dir).text(), nl=False)
