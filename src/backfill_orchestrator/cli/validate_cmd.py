"""`backfill validate`: run validation suites against the warehouse over a date range."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import click

from ..dates import Calendar, load_calendar, parse_date
from ..atomic import write_text_atomic
from ..errors import EXIT_FAILED, EXIT_OK, EXIT_WARNED, UsageError, WarehouseError
from ..render import stdout_is_tty
from ..validation import Suite, SuiteResult, load_suites, run_suite
from ..validation import render
from ..warehouse import Warehouse, open_warehouse
from .options import DEFAULT_CONFIG

DEFAULT_SUITES = Path("config/suites")
DEFAULT_CALENDAR = Path("config/seasons.yaml")


@click.command("validate")
@click.option("--suite", "suite_name", metavar="NAME", help="Run the suite with this name.")
@click.option("--table", metavar="DATASET.TABLE", help="Run every suite that validates this table.")
@click.option("--start-date", required=True, metavar="DATE", help="First date of the range (inclusive).")
@click.option("--end-date", required=True, metavar="DATE", help="Last date of the range (inclusive).")
@click.option("--baseline-start", metavar="DATE", help="Baseline period for regression checks (with --baseline-end).")
@click.option("--baseline-end", metavar="DATE", help="Last date of the baseline period.")
@click.option("--full", is_flag=True, help="Run sampled checks on every row instead of their sample.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON instead of a table.")
@click.option("--markdown", type=click.Path(dir_okay=False), metavar="FILE", help="Also write a Markdown report.")
@click.option("--junit", type=click.Path(dir_okay=False), metavar="FILE", help="Also write JUnit XML (for CI).")
@click.option("--dry-run", is_flag=True, help="Print the SQL (and BigQuery's byte estimate) without running it.")
@click.option("--suites", "suites_path", type=click.Path(), metavar="PATH",
              help="Suite file or directory (default: the config's `suites`, else config/suites).")
@click.option("--warehouse", "duckdb_path", type=click.Path(dir_okay=False), metavar="DUCKDB_FILE",
              help="Validate this DuckDB file instead of the config's warehouse.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="Pipeline config whose warehouse, suites and calendar to use (default config/pipeline.yaml).")
@click.option("--calendar", "calendar_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="Season calendar (default: the config's `calendar`, else config/seasons.yaml).")
@click.pass_context
def validate_cmd(ctx: click.Context, suite_name: str | None, table: str | None, start_date: str, end_date: str,
                 baseline_start: str | None, baseline_end: str | None, full: bool, as_json: bool,
                 markdown: str | None, junit: str | None, dry_run: bool, suites_path: str | None,
                 duckdb_path: str | None, config_path: str | None, calendar_path: str | None) -> None:
    """Validate a table over a date range with its YAML suite: PASS, WARN or FAIL per check, with evidence.

    Exit status: 0 all passed, 3 warnings only, 1 a critical check failed or errored, 2 bad usage or suite.

    \b
    Example:
      backfill validate --suite player_game_summary --start-date 2024-11-01 --end-date 2024-11-30 \\
          --warehouse data/nba.duckdb --junit validate.xml
    """
    if (suite_name is None) == (table is None):
        raise click.UsageError("give exactly one of --suite NAME or --table DATASET.TABLE")
    if (baseline_start is None) != (baseline_end is None):
        raise click.UsageError("--baseline-start and --baseline-end go together")
    start, end = parse_date(start_date, "--start-date"), parse_date(end_date, "--end-date")
    baseline = (parse_date(baseline_start, "--baseline-start"), parse_date(baseline_end, "--baseline-end")) \
        if baseline_start and baseline_end else None
    if end < start:  # said before any suite, calendar or warehouse is opened
        raise UsageError(f"--end-date: end date {end} is before start date {start}")
    if baseline and baseline[1] < baseline[0]:
        raise UsageError(f"--baseline-end: end date {baseline[1]} is before start date {baseline[0]}")
    wh, suites, calendar = _setup(suites_path, duckdb_path, config_path, calendar_path)
    try:
        chosen = _choose(suites, suite_name, table)
        results = [run_suite(wh, s, start, end, baseline=baseline, calendar=calendar, full=full, dry_run=dry_run,
                             strict=True) for s in chosen]
    finally:
        wh.close()
    ctx.exit(_output(results, as_json, markdown, junit, dry_run))


def _setup(suites_path: str | None, duckdb_path: str | None, config_path: str | None,
           calendar_path: str | None) -> tuple[Warehouse, dict[str, Suite], Calendar | None]:
    cfg = None
    if config_path or (duckdb_path is None and Path(DEFAULT_CONFIG).exists()):
        from ..config import load_config

        cfg = load_config(config_path or DEFAULT_CONFIG)
    suite_paths = [Path(suites_path)] if suites_path else list(cfg.suites_paths) if cfg and cfg.suites_paths \
        else [DEFAULT_SUITES]
    suites = load_suites(suite_paths)
    cal_path = Path(calendar_path) if calendar_path else cfg.calendar_path if cfg and cfg.calendar_path \
        else DEFAULT_CALENDAR if DEFAULT_CALENDAR.exists() else None
    calendar = load_calendar(cal_path) if cal_path else None
    if duckdb_path:
        if not Path(duckdb_path).is_file():
            raise UsageError(f"--warehouse: no such DuckDB file: {duckdb_path}")
        from ..warehouse.duckdb import DuckDBWarehouse

        return _open(lambda: DuckDBWarehouse(duckdb_path, read_only=True), f"--warehouse {duckdb_path}"), suites, \
            calendar
    if cfg is None:
        raise UsageError(f"no warehouse: give --warehouse DUCKDB_FILE or --config FILE ({DEFAULT_CONFIG} not found)")
    if cfg.warehouse.kind == "duckdb" and not Path(cfg.warehouse.path).is_file():
        # validating must not create an empty database where the data was expected
        raise UsageError(f"{cfg.path}: warehouse DuckDB file not found: {cfg.warehouse.path}")
    return _open(lambda: open_warehouse(cfg.warehouse), f"{cfg.path}: warehouse {cfg.warehouse.path}"), suites, \
        calendar


def _open(opener: Callable[[], Warehouse], what: str) -> Warehouse:
    try:
        return opener()
    except WarehouseError as e:  # a file the user named that DuckDB cannot open: theirs to fix (exit 2)
        raise UsageError(f"{what}: {e}") from None


def _choose(suites: dict[str, Suite], name: str | None, table: str | None) -> list[Suite]:
    if name is not None:
        if name not in suites:
            raise UsageError(f"--suite: no suite named {name!r} (suites: {', '.join(sorted(suites)) or 'none'})")
        return [suites[name]]
    chosen = [s for s in suites.values() if s.table == table]
    if not chosen:
        tables = sorted({s.table for s in suites.values()})
        raise UsageError(f"--table: no suite validates {table!r} (tables: {', '.join(tables) or 'none'})")
    return chosen


def _output(results: list[SuiteResult], as_json: bool, markdown: str | None, junit: str | None,
            dry_run: bool) -> int:
    if dry_run:
        click.echo(render.dry_run_text(results))
        return EXIT_OK
    if markdown:
        _write(Path(markdown), render.markdown(results))
    if junit:
        _write(Path(junit), render.junit(results))
    if as_json:
        click.echo(render.as_json(results))
    elif stdout_is_tty():
        click.echo(render.rich_text(results), nl=False)
    else:
        click.echo(render.plain(results))
    status = render.overall(results).value
    return {"pass": EXIT_OK, "warn": EXIT_WARNED}.get(status, EXIT_FAILED)


def _write(path: Path, text: str) -> None:
    write_text_atomic(path, text, "the validation output")

