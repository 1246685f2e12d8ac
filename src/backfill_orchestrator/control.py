"""Operator actions on an existing run, from another process: stop it, restart one phase, follow its logs.

    stop_run(run_dir, grace=10) -> StopReport      # the driving orchestrator stops the phase itself if alive;
                                                   # otherwise the phase groups are stopped here (TERM, grace, KILL)
    prepare_restart(run_dir, phase, from_date, config, to_date)  # marks the phase and its dependents; then resume
    follow_log(path, out, until=callable)          # `backfill logs -f`

Processes are only ever signalled after their PID, create time and command line were checked against the state.
"""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TextIO

import psutil

from . import process, repair_plan
from .commands import phase_marker
from .config import PipelineConfig
from .errors import UsageError
from .events import Event
from .process import AdoptRefused, ProcessHandle
from .runmodel import PHASE_ACTIVE, PHASE_PROCESS_STATES, RUN_ACTIVE, EventKind, PhaseStatus, \
    Reason, RunStatus
from .repair import close_open_rounds
from .state import PhaseRecord, RunRecord, RunState, now_iso, open_state


def orchestrator_alive(run: RunRecord) -> bool:
    """The orchestrator process recorded for the run is still that process (not a reused PID)."""
    if not run.pid or run.status != RunStatus.RUNNING:
        return False
    try:
        p = psutil.Process(run.pid)
        return (run.create_time is None or abs(p.create_time() - run.create_time) <= 1.0) \
            and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def phase_process(rec: PhaseRecord) -> ProcessHandle | None:
    """The phase's recorded process if it is still running as recorded (PID + create time + command line)."""
    if not rec.pid:
        return None
    try:
        return process.adopt(rec.pid, expect_cmdline=rec.cmdline, expect_create_time=rec.create_time)
    except AdoptRefused:
        return None


@dataclass
class StopReport:
    run_id: str
    by_orchestrator: bool  # the driving orchestrator did it (it was alive)
    stopped: list[str] = field(default_factory=list)  # "phase: SIGTERM" ...
    status: str = ""  # the run's status, or a sentence around it for a run that had already finished

    def text(self) -> str:
        how = "the running orchestrator stopped" if self.by_orchestrator else "stopped"
        what = ", ".join(self.stopped) if self.stopped else "no phase process was running"
        return f"run {self.run_id}: {how}: {what}; run status {self.status}"


def stop_run(run_dir: Path, grace: float = 10.0, wait: float | None = None) -> StopReport:
    with open_state(run_dir) as st:
        run = st.run()
        report = StopReport(run.id, False)
        if run.status not in RUN_ACTIVE and not any(phase_process(p) for p in st.phases()):
            # a finished run: its recorded outcome stands (stopping it must not turn `passed` into `stopped`)
            report.status = f"{run.status} (already finished; nothing to stop)"
            return report
        st.request_stop(grace)
        st.add_event(Event(EventKind.STOP_REQUESTED, run.id, "`backfill stop` requested a stop",
                           reason=Reason.STOPPED_BY_OPERATOR))
        if orchestrator_alive(run):
            # the orchestrator polls the flag every second, stops its phase (TERM, grace, KILL) and records it
            deadline = time.monotonic() + (wait if wait is not None else grace + 15.0)
            while time.monotonic() < deadline and orchestrator_alive(st.run()):
                time.sleep(0.1)
            if not orchestrator_alive(st.run()):
                report.by_orchestrator = True
                report.stopped = [f"{p.name}: {p.message}" for p in st.phases() if p.status == PhaseStatus.STOPPED]
                report.status = st.run().status
                return report
        for rec in st.phases():
            if rec.status not in PHASE_ACTIVE:
                continue
            handle = phase_process(rec)
            if handle is None and rec.status in PHASE_PROCESS_STATES:
                # the job's own process is gone, but a worker it forked may still run the attempt: its marker says
                handle = process.find_marked(phase_marker(run.id, rec.name, rec.attempt))
            if handle is not None:
                res = process.stop(handle, grace=grace)
                report.stopped.append(f"{rec.name}: {res.signal_sent or 'already ended'}")
            elif rec.status in PHASE_PROCESS_STATES:
                continue  # it ended on its own while nobody watched: `resume` judges it by its log and gate
            st.update_phase(rec.name, status=PhaseStatus.STOPPED, ended_at=now_iso(),
                            message="stopped by `backfill stop`", reason=Reason.STOPPED_BY_OPERATOR)
            st.add_event(Event(EventKind.PHASE_STOPPED, run.id, f"phase {rec.name} stopped by `backfill stop`",
                               phase=rec.name, reason=Reason.STOPPED_BY_OPERATOR))
        st.update_run(status=RunStatus.STOPPED, ended_at=now_iso(), exit_code=1, message="stopped by `backfill stop`",
                      reason=Reason.STOPPED_BY_OPERATOR)
        report.status = RunStatus.STOPPED
        return report


def prepare_restart(run_dir: Path, phase: str, from_date: dt.date | None, config: PipelineConfig,
                    to_date: dt.date | None = None) -> list[str]:
    """Reset `phase` to run again (only its dates in [from_date, to_date], with a fresh checkpoint), and its
    dependents to re-run what that makes stale: from the same date, and - when `to_date` bounds the restart - up
    to where each dependent's history reaches (repair_plan.restart_until: the same date, N days later, the season's
    end, or every date). Refuses while the run's orchestrator or a phase's process is alive (never two copies)."""
    with open_state(run_dir) as st:
        run = st.run()
        st.phase(phase)  # an unknown phase is a one-line error before anything changes
        if orchestrator_alive(run):
            raise UsageError(f"run {run.id} is being driven by PID {run.pid}; stop it first: backfill stop {run.id}")
        downstream = [n for n in repair_plan.downstream(config, [phase]) if n in {p.name for p in st.phases()}]
        # every phase reset here forgets its PID: one still running would then run twice at once
        for name in [phase, *downstream]:
            d = st.phase(name)
            if phase_process(d) is not None:
                raise UsageError(f"phase {name} is still running as PID {d.pid}; stop it first: "
                                 f"backfill stop {run.id}")
        since = from_date.isoformat() if from_date else None
        span = (f" from {from_date}" if from_date else "") + (f" to {to_date}" if to_date else "")
        _reset(st, phase, since, to_date.isoformat() if to_date else None, f"restarted{span}")
        # Dependents read what the phase writes: once it has re-run, their rows from the same date on are stale
        # (a re-gate alone would pass on the old values). They re-run, each with a fresh checkpoint: the shared
        # one may say "done" for rows an earlier run wrote from the old upstream values.
        calendar = config.calendar()
        for name in downstream:
            history = config.phase(name).history
            until = repair_plan.restart_until(to_date, history, calendar) if to_date else None
            start = None if history.kind == "all" else since
            _reset(st, name, start, until.isoformat() if until else None,
                   f"re-run after upstream {phase} restarted{span}"
                   + (f" (history {history.describe()})" if history.kind != "none" else ""))
        st.update_run(status=RunStatus.RUNNING, ended_at=None, exit_code=None, stop_requested=0, reason=None)
        st.add_event(Event(EventKind.PHASE_RESTARTED, run.id, f"phase {phase} restarted{span}; dependents re-run: "
                           f"{', '.join(downstream) or 'none'}", phase=phase))
        return downstream


def _reset(st: RunState, name: str, since: str | None, until: str | None, message: str) -> None:
    close_open_rounds(st, name, "the phase was restarted")
    st.update_phase(name, status=PhaseStatus.PENDING, tries=0, pid=None, create_time=None, restart_from=since,
                    restart_to=until, rerun=st.phase(name).rerun + 1, exit_code=None, exit_known=None,
                    ended_at=None, message=message, reason=None)


def follow_log(path: Path, out: TextIO, keep_going: Callable[[], bool], poll: float = 0.5) -> None:
    """Print `path` and then what is appended to it while `keep_going()` is true (plus a final read)."""
    from .progress import LogFollower

    with LogFollower(path) as f:
        while True:
            for line in f.read_lines():
                out.write(line + "\n")
            out.flush()
            if not keep_going():
                for line in f.read_lines() + f.flush_partial():
                    out.write(line + "\n")
                out.flush()
                return
            time.sleep(poll)
