"""`backfill`: the command line. Thin: parse, call the library, print. Errors become one line + exit code.

Each command group lives in its own module here and is registered below.
"""
from __future__ import annotations

import importlib
import logging
import sys

import click

from .. import __version__
from ..errors import EXIT_USAGE, BackfillError

EPILOG = """\b
Exit codes:
  0  success
  1  a gate or a phase failed
  2  usage or configuration error
  3  finished with warnings
"""

# module name -> names of the click commands/groups it defines (imported lazily, so `backfill --help`
# does not pay for the BigQuery client)
COMMAND_MODULES: dict[str, list[str]] = {
    "config_cmd": ["config"],
    "dates_cmd": ["dates"],
    "report_cmd": ["report"],
    "metrics_cmd": ["metrics"],
    "plan_cmd": ["plan"],
    "progress_cmd": ["progress"],
    "validate_cmd": ["validate"],
    "run_cmd": ["run", "resume"],
    "status_cmd": ["status"],
    "control_cmd": ["stop", "restart", "logs"],
}


class _Main(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(n for names in COMMAND_MODULES.values() for n in names)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        for module, names in COMMAND_MODULES.items():
            if name in names:
                mod = importlib.import_module(f"{__name__}.{module}")
                return getattr(mod, name.replace("-", "_") + "_cmd")
        return None

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except BackfillError as e:
            click.echo(f"error: {e}", err=True)
            ctx.exit(e.exit_code)


@click.group(cls=_Main, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="backfill")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """Run a multi-phase warehouse backfill unattended; advance only when each phase's data passes its gate."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def main() -> None:
    try:
        cli(standalone_mode=True)
    except click.exceptions.Exit as e:  # pragma: no cover - click handles this itself in standalone mode
        sys.exit(e.exit_code)


__all__ = ["cli", "main", "EXIT_USAGE"]
