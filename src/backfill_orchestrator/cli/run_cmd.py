"""`backfill run` and `backfill resume`: drive a pipeline's phases (or continue a run after the orchestrator died)."""
from __future__ import annotations

import signal

import click

from ..commands import parse_adopt
from ..config import load_config
from ..orchestrator import Orchestrator, RunOptions, RunResult
from ..orchestrator import dry_run as plan_dry_run
from ..plan import make_plan
from ..state import resolve_run_dir
from .options import DEFAULT_CONFIG, logs_dir_option


def ignore_hangup() -> None:
    """Closing the terminal of a `nohup`-less run must not end it: this process lives for the run alone, so the
    handler is set here, at the edge, and not by the library."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


def _done(result: RunResult) -> None:
    click.echo(f"run {result.run_id} {result.status} (exit {result.exit_code}): {result.message}")
    click.echo(f"logs: {result.run_dir}/orchestrator.log  (backfill status {result.run_id})")
    click.get_current_context().exit(result.exit_code)


@click.command("run")
@click.argument("config", default=DEFAULT_CONFIG, type=click.Path(dir_okay=False))
@click.option("--adopt", "adopt", multiple=True, metavar="PHASE=PID[:LOGFILE]",
              help="Take over a phase already running as PID (its log: LOGFILE, or its stdout file). Repeatable.")
@click.option("--dry-run", is_flag=True, help="Print each phase's exact argv, dates, gates and action; change nothing.")
@click.option("--stop-phases-on-exit", is_flag=True,
              help="On SIGTERM/SIGINT also stop the running phase (default: it keeps running; resume re-adopts it).")
@click.option("--only", metavar="PHASE", help="Run only this phase (the others are skipped).")
def run_cmd(config: str, adopt: tuple[str, ...], dry_run: bool, stop_phases_on_exit: bool, only: str | None) -> None:
    """Run the phases of CONFIG (default config/pipeline.yaml) in order, each gated by its validation suites.

    Writes logs/runs/<run-id>/ (orchestrator.log, one log per phase, state.sqlite, report); logs/latest points at
    it. Exit 0 all passed, 1 a gate or phase failed, 2 usage/config error or the pipeline is locked by another
    run, 3 finished with warnings.

    \b
    Examples:
      backfill run config/pipeline.yaml
      backfill run --adopt team_offense_game_summary=12345:/var/log/team_offense.log
      backfill run --dry-run
    """
    cfg = load_config(config)
    opts = RunOptions(adopt=tuple(parse_adopt(a) for a in adopt), only=only, stop_phases_on_exit=stop_phases_on_exit)
    if dry_run:
        click.echo(plan_dry_run(cfg, opts).text())
        return
    orch = Orchestrator.new_run(cfg, opts)
    orch.check()  # gates' suites, --only, --adopt: refused before anything is printed or started
    ignore_hangup()
    # the plan is printed once the lock is held: a run refused by the lock prints only the refusal; it reads the
    # suites the check above loaded (the gates' suites: all the plan looks at without --cost)
    _done(orch.run(on_locked=lambda: click.echo(make_plan(cfg, suites=orch.suites).text())))


@click.command("resume")
@click.argument("run", required=False)
@logs_dir_option
@click.option("--stop-phases-on-exit", is_flag=True, help="On SIGTERM/SIGINT also stop the running phase.")
def resume_cmd(run: str | None, logs_dir: str, stop_phases_on_exit: bool) -> None:
    """Continue RUN (a run id or run directory; default: the latest) after its orchestrator died, even by
    kill -9: a phase still running is re-adopted (PID, create time and command line must match), a phase that
    ended unwatched is judged by its log and its gate; no phase is ever started twice.

    \b
    Example:
      backfill resume 20260103T143500Z-ab12
    """
    run_dir = resolve_run_dir(logs_dir, run)
    orch = Orchestrator.for_resume(run_dir, RunOptions(stop_phases_on_exit=stop_phases_on_exit))
    ignore_hangup()
    _done(orch.resume())
