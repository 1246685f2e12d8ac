"""`backfill config check`: validate a pipeline config and print the resolved plan."""
from __future__ import annotations

import click

from ..config import load_config, load_gate_suites
from ..config_report import describe_config
from ..render import dumps
from .options import DEFAULT_CONFIG


@click.group("config")
def config_cmd() -> None:
    """Work with pipeline configuration files."""


@config_cmd.command("check")
@click.argument("file", default=DEFAULT_CONFIG, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the resolved plan as JSON.")
def check(file: str, as_json: bool) -> None:
    """Validate FILE (default config/pipeline.yaml) and print the resolved plan: phases in order, date counts,
    gates (every gate's suite must exist). Exits 2 with one line naming file, line and key on the first error.

    \b
    Example:
      backfill config check config/pipeline.yaml
    """
    config = load_config(file)
    load_gate_suites(config)
    summary = describe_config(config)
    click.echo(dumps(summary) if as_json else summary.text())
