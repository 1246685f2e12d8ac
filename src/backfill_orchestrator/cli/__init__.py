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

EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a Ctrl-C

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
    "control_cmd": ["stop", "restart", "repair", "logs"],
}

# The one-line help each command shows in `backfill --help` (its docstring's first sentence), written out here so
# listing the commands imports none of them (that costs ~0.2 s: DuckDB, sqlglot, the BigQuery client).
# tests/test_cli_help.py checks it against the commands' own help; a command missing here is imported instead.
SHORT_HELP: dict[str, str] = {
    "config": "Work with pipeline configuration files.",
    "dates": "Print or write the dates from --start to --end kept by the season rules, with how many were kept "
             "and excluded and why.",
    "report": "Write and show the report of RUN (a run id or run directory; default: the latest run).",
    "metrics": "Print or write Prometheus textfile metrics of RUN (default: the latest run), for Grafana.",
    "plan": "Show what a run of CONFIG would do: per phase, dates to do, done, failed before, and an ETA.",
    "progress": "Summarise the progress of a backfill log: done/total, ok/failed/skipped days, records, rate, ETA, "
                "the failed dates as ranges, fatal errors.",
    "validate": "Validate a table over a date range with its YAML suite: PASS, WARN or FAIL per check, with "
                "evidence.",
    "run": "Run the phases of CONFIG (default config/pipeline.yaml) in order, each gated by its validation suites.",
    "resume": "Continue RUN (a run id or run directory; default: the latest) after its orchestrator died, even by "
              "kill -9: a phase still running is re-adopted (PID, create time and command line must match), a "
              "phase that ended unwatched is judged by its log and its gate; no phase is ever started twice.",
    "status": "Show RUN (run id or directory; default: the latest).",
    "stop": "Stop RUN (default: the latest): SIGTERM each running phase's process group, wait, SIGKILL; state "
            "`stopped`.",
    "restart": "Run PHASE of a finished or stopped run again (optionally only from DATE, up to --to), then continue "
               "the run.",
    "repair": "Repair the failed gate of RUN (default: the latest) after the fact, e.g. once a source was refilled.",
    "logs": "Print RUN's orchestrator.log, or PHASE's log (default: the latest run).",
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

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click's, but from SHORT_HELP (commands not listed there are imported and asked)."""
        shown: list[tuple[str, click.Command | None]] = []
        for name in self.list_commands(ctx):
            cmd = None if name in SHORT_HELP else self.get_command(ctx, name)
            if name in SHORT_HELP or (cmd is not None and not cmd.hidden):
                shown.append((name, cmd))
        if shown:
            limit = formatter.width - 6 - max(len(n) for n, _ in shown)  # click's: room for 3x the spacing
            with formatter.section("Commands"):
                formatter.write_dl([(n, _shorten(SHORT_HELP[n], limit) if c is None else c.get_short_help_str(limit))
                                    for n, c in shown])

    def make_context(self, info_name, args, parent=None, **extra):  # type: ignore[override]
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as e:  # `backfill --bogus`
            raise _OneLineUsage.of(e) from None

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except BackfillError as e:
            click.echo(f"error: {e}", err=True)
            ctx.exit(e.exit_code)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as e:  # a subcommand's bad option or argument
            raise _OneLineUsage.of(e) from None
        except KeyboardInterrupt:
            # Ctrl-C (e.g. during `logs -f`) is how one leaves; no traceback, no "Aborted!", the shell's 130
            ctx.exit(EXIT_INTERRUPTED)


class _OneLineUsage(click.ClickException):
    """Click's usage errors as ONE line like every other user mistake (click prints usage + hint + error)."""

    exit_code = EXIT_USAGE

    @classmethod
    def of(cls, e: click.UsageError) -> "_OneLineUsage":
        cmd = e.ctx.command_path if e.ctx else "backfill"
        return cls(f"{e.format_message()} (see `{cmd} --help`)")

    def show(self, file=None) -> None:  # type: ignore[override]
        click.echo(f"error: {self.format_message()}", err=True)


def _shorten(text: str, limit: int) -> str:
    """Click's shortening of a first sentence to `limit` characters (whole words, then `...`)."""
    if len(text) <= limit:
        return text
    if limit < 3:
        return "..."
    import textwrap

    return textwrap.shorten(text, limit, placeholder="...", break_on_hyphens=False)


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
