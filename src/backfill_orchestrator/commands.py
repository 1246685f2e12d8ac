"""What a phase's process is: its argv (placeholders filled), dates, checkpoint and log paths, and the check that
a PID given with `--adopt` really is that phase's job.

Pure functions of the config (plus a look at /proc for --adopt): the run, the dry run and the plan all build
commands and paths here, so that they agree by construction.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from . import process
from .config import Phase, PipelineConfig
from .dates import Calendar
from .errors import UsageError
from .events import runbook_ref
from .process import AdoptRefused, ProcessHandle
from .reporting.cards import card_path
from .runmodel import Reason
from .warehouse.url import format_warehouse_url


@dataclass(frozen=True)
class AdoptSpec:
    phase: str
    pid: int
    log: Path | None = None


def parse_adopt(text: str) -> AdoptSpec:
    """`PHASE=PID[:LOGFILE]` -> AdoptSpec; UsageError naming the argument otherwise."""
    m = re.fullmatch(r"([^=\s]+)=(\d+)(?::(.+))?", text)
    if not m:
        raise UsageError(f"--adopt {text!r}: expected PHASE=PID or PHASE=PID:LOGFILE")
    return AdoptSpec(m.group(1), int(m.group(2)), Path(m.group(3)) if m.group(3) else None)


def warehouse_arg(config: PipelineConfig) -> str:
    """The {warehouse} placeholder: the warehouse URL the jobs parse back (dataset mappings included)."""
    return format_warehouse_url(config.warehouse)


def phase_dates(phase: Phase, calendar: Calendar, since: dt.date | None = None) -> list[dt.date]:
    """The phase's `dates:` resolved with the calendar; from `since` on when a restart names a date."""
    return [d for d in phase.dates.resolve(calendar) if since is None or d >= since]


def fill_command(config: PipelineConfig, phase: Phase, run_dir: Path, dates: list[dt.date], dates_file: Path,
                 checkpoint: Path) -> list[str]:
    values = {
        "python": sys.executable, "start": str(dates[0]) if dates else "", "end": str(dates[-1]) if dates else "",
        "dates_file": str(dates_file), "dates": ",".join(str(d) for d in dates), "checkpoint": str(checkpoint),
        "workers": str(phase.workers), "warehouse": warehouse_arg(config), "run_dir": str(run_dir),
        "phase": phase.name, "card": str(card_path(run_dir, phase.name)),
    }
    return [re.sub(r"\{([a-z_]+)\}", lambda m: values.get(m.group(1), m.group(0)), arg) for arg in phase.command]


def checkpoint_path(config: PipelineConfig, phase: Phase, run_dir: Path, rerun: int = 0) -> Path:
    """The {checkpoint} placeholder. Normally one per pipeline and phase, kept across runs, so that a new run
    resumes where the last one stopped. An explicit re-run (`backfill restart`, number `rerun` of this phase in
    this run) gets a fresh file in the run directory instead: it must process every date it names, whatever the
    shared checkpoint says, while its own retries and resumes still skip what it has already done."""
    if rerun:
        return (run_dir / "checkpoints" / f"{phase.name}.rerun-{rerun}.json").resolve()
    if phase.checkpoint:
        return Path(phase.checkpoint.replace("{run_dir}", str(run_dir)).replace("{phase}", phase.name))
    return (config.logs_dir / "checkpoints" / config.pipeline / f"{phase.name}.json").resolve()


def phase_marker(run_id: str, phase: str, attempt: int) -> dict[str, str]:
    """The variables every process of an attempt carries in its environment (children inherit them): how a
    resumed orchestrator, or `backfill stop`, finds an attempt's processes when the recorded PID is gone."""
    return {"BACKFILL_RUN_ID": run_id, "BACKFILL_PHASE": phase, "BACKFILL_ATTEMPT": str(attempt)}


def phase_log_path(phase: Phase, run_dir: Path) -> Path:
    if phase.log:
        return Path(phase.log.replace("{run_dir}", str(run_dir)).replace("{phase}", phase.name))
    return run_dir / f"{phase.name}.log"


def dates_file_path(phase: Phase, run_dir: Path, attempt: int | None = None) -> Path:
    """The first attempt's dates file, or a retry's (`<phase>.attempt<N>.dates`: only the dates it re-runs)."""
    return run_dir / (f"{phase.name}.dates" if attempt is None else f"{phase.name}.attempt{attempt}.dates")


def verify_adopt(config: PipelineConfig, spec: AdoptSpec) -> tuple[ProcessHandle, Path]:
    """Check an --adopt before anything is written: the PID runs, looks like the phase's command, has a log."""
    phase = config.phase(spec.phase)
    where = f"--adopt {spec.phase}={spec.pid}"
    refused = runbook_ref(Reason.ADOPT_REFUSED)
    if spec.pid == os.getpid():
        raise UsageError(f"{where}: that is this orchestrator; {refused}")
    try:
        handle = process.adopt(spec.pid)
    except AdoptRefused as e:
        raise UsageError(f"{where}: {e}; {refused}") from None
    # the words that name the program (a script, a module): option values like numbers say nothing
    tokens = [os.path.basename(t) for t in phase.command[1:]
              if "{" not in t and not t.startswith("-") and re.search(r"[A-Za-z]", t)]
    joined = " ".join(handle.cmdline)
    if tokens and not any(t in joined for t in tokens):
        raise UsageError(f"{where}: PID {spec.pid} runs {joined!r}, which does not look like phase {phase.name}'s "
                         f"command (none of {', '.join(tokens)}); {refused}")
    log = spec.log
    if log is None:
        try:  # the job's stdout, when it was redirected to a file (`nohup job > file.log &`)
            target = Path(os.readlink(f"/proc/{spec.pid}/fd/1"))
            log = target if target.is_file() else None
        except OSError:
            log = None
    if log is None:
        raise UsageError(f"{where}: cannot tell where PID {spec.pid} writes its log; give it: "
                         f"--adopt {spec.phase}={spec.pid}:LOGFILE; {refused}")
    if not log.is_file():
        raise UsageError(f"{where}: log file {log} not found; {refused}")
    return handle, log.resolve()
