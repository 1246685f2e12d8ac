"""`backfill stop`, `backfill restart`, `backfill logs`: operator actions on an existing run."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from ..control import follow_log, orchestrator_alive, phase_process, prepare_restart, stop_run
from ..dates import parse_date
from ..errors import UsageError
from ..orchestrator import Orchestrator, RunOptions
from ..state import open_state, resolve_run_dir
from .options import logs_dir_option
from .run_cmd import _done, ignore_hangup


@click.command("stop")
@click.argument("run", required=False)
@logs_dir_option
@click.option("--grace", default=10.0, show_default=True, type=click.FloatRange(min=0),
              help="Seconds between SIGTERM and SIGKILL.")
def stop_cmd(run: str | None, logs_dir: str, grace: float) -> None:
    """Stop RUN (default: the latest): SIGTERM each running phase's process group, wait, SIGKILL; state `stopped`.

    \b
    Example:
      backfill stop
    """
    click.echo(stop_run(resolve_run_dir(logs_dir, run), grace=grace).text())


@click.command("restart")
@click.argument("phase")
@click.option("--from", "from_date", metavar="DATE", help="Re-run only the phase's dates from DATE on.")
@click.option("--to", "to_date", metavar="DATE", help="... and up to DATE (dependents: as far as their history "
              "reaches).")
@click.option("--run", "run", metavar="RUN", help="Run id or directory (default: the latest).")
@logs_dir_option
def restart_cmd(phase: str, from_date: str | None, to_date: str | None, run: str | None, logs_dir: str) -> None:
    """Run PHASE of a finished or stopped run again (optionally only from DATE, up to --to), then continue the
    run. Every date named is processed again whatever the checkpoint says, and the phases downstream re-run what
    that makes stale: from the same date, up to where their `history` reaches (e.g. the season's end for rolling
    windows) when --to bounds the restart.

    \b
    Examples:
      backfill restart player_game_summary --from 2024-11-02
      backfill restart team_offense_game_summary --from 2024-12-03 --to 2024-12-03
    """
    run_dir = resolve_run_dir(logs_dir, run)
    since = parse_date(from_date, "--from") if from_date else None
    until = parse_date(to_date, "--to") if to_date else None
    if until and since and until < since:
        raise UsageError(f"--to {until} is before --from {since}")
    orch = Orchestrator.for_resume(run_dir, RunOptions())
    orch.config.phase(phase)  # a typo is a usage error naming the phases
    ignore_hangup()
    # reset under the run's lock: a restart refused because another run holds it changes nothing
    _done(orch.resume(before=lambda: prepare_restart(run_dir, phase, since, orch.config, until)))


@click.command("repair")
@click.argument("run", required=False)
@click.option("--phase", metavar="PHASE", help="The phase to repair (default: the first that failed its gate).")
@click.option("--dry-run", is_flag=True, help="Print the plan (phases, dates, why) and change nothing.")
@logs_dir_option
def repair_cmd(run: str | None, phase: str | None, dry_run: bool, logs_dir: str) -> None:
    """Repair the failed gate of RUN (default: the latest) after the fact, e.g. once a source was refilled.

    The phase's gate runs again; the dates it names are re-run, upstream first, then the run goes on. A source
    gap is named with its refill hint and nothing is re-run.

    \b
    Examples:
      backfill repair --dry-run
      backfill repair 20261130T010203Z-ab12 --phase player_game_summary
    """
    orch = Orchestrator.for_resume(resolve_run_dir(logs_dir, run), RunOptions())
    if phase:
        orch.config.phase(phase)  # a typo is a usage error naming the phases
    if dry_run:
        click.echo(orch.preview_repair(phase).text())
        return
    ignore_hangup()
    _done(orch.repair(phase))


@click.command("logs")
@click.argument("run", required=False)
@click.argument("phase", required=False)
@logs_dir_option
@click.option("-f", "--follow", is_flag=True, help="Keep printing what is appended, until the run ends.")
def logs_cmd(run: str | None, phase: str | None, logs_dir: str, follow: bool) -> None:
    """Print RUN's orchestrator.log, or PHASE's log (default: the latest run). With -f, follow it like tail -f
    until the run (or the phase's process) ends.

    \b
    Examples:
      backfill logs
      backfill logs latest player_game_summary -f
    """
    run_dir = resolve_run_dir(logs_dir, run)
    with open_state(run_dir) as st:
        rec = st.phase(phase) if phase else None
    path = Path(rec.log_path) if rec and rec.log_path else (run_dir / f"{phase}.log" if phase else
                                                             run_dir / "orchestrator.log")
    if not path.is_file():
        raise UsageError(f"{path}: no log yet" + (f" (phase {phase} has status {rec.status})" if rec else ""))

    def keep_going() -> bool:
        with open_state(run_dir) as st:
            if phase:
                return phase_process(st.phase(phase)) is not None
            return orchestrator_alive(st.run())

    follow_log(path, sys.stdout, keep_going if follow else (lambda: False))
