"""`backfill plan`: what a run would do, per phase — requested dates, checkpoint, warehouse, ETA."""
from __future__ import annotations

import click

from ..config import load_config
from ..plan import make_plan
from ..render import dumps
from .options import DEFAULT_CONFIG


@click.command("plan")
@click.argument("config", default=DEFAULT_CONFIG, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.option("--price-per-tib", type=float, metavar="USD",
              help="On-demand price per TiB scanned (default $BACKFILL_BQ_PRICE_PER_TIB, else the list price 6.25).")
def plan_cmd(config: str, as_json: bool, price_per_tib: float | None) -> None:
    """Show what a run of CONFIG would do: per phase, dates to do, done, failed before, and an ETA.

    For each phase of CONFIG (default config/pipeline.yaml): requested dates × the job's checkpoint × what the
    warehouse already holds, and the rate measured in the newest earlier run. On BigQuery also the cost: the
    bytes BigQuery's dry runs report for each phase's job (phases with `progress_format: jobkit`, run with
    --dry-run) and each gate, and their on-demand price. Reads only; changes nothing.

    \b
    Example:
      backfill plan config/pipeline.yaml
    """
    plan = make_plan(load_config(config), cost=True, price=price_per_tib)
    click.echo(dumps(plan) if as_json else plan.text())
