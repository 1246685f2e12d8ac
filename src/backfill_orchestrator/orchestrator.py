"""The orchestrator: runs a pipeline's phases in dependency order, gates each one, decides, journals everything.

    orch = Orchestrator.new_run(config, RunOptions(adopt=(AdoptSpec("p1", 1234, None),)))
    result = orch.run()                            # RunResult(run_id, run_dir, status, exit_code, message)
    result = Orchestrator.for_resume(run_dir, RunOptions()).resume()

A run lives in <logs_dir>/runs/<run-id>/ (orchestrator.log, <phase>.log, <phase>.dates, state.sqlite, report) and
<logs_dir>/latest points at the newest. One run at a time per pipeline + warehouse (lock.py). Every transition is
written to state.sqlite before it is acted on (state.py), so `resume` after any death - even `kill -9` - continues
from the last transition: a phase still running is re-adopted only when its PID, create time and command line
all match, a phase that ended unwatched is judged by its log and its gate, and no phase ever runs twice at once.

Signals: SIGTERM/SIGINT record state and exit (phases keep running unless `stop_phases_on_exit`); the handlers
are installed for the run only and the previous ones restored when it returns (the CLI ignores SIGHUP, so
closing the terminal of a `nohup`-less run does not end it). A resumed run works in the directory the run was
started from and gives the caller's working directory back when it returns.

The per-phase state machine is in phase_runner.py (handed a RunContext, not this object); the rules it applies
are in decisions.py; argv and paths in commands.py; the gates in gates.py.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import signal
import socket
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import psutil

from . import lock as runlock
from .commands import (AdoptSpec, checkpoint_path, dates_file_path, fill_command, parse_adopt, phase_dates,
                       verify_adopt, warehouse_arg)
from .config import PipelineConfig, load_config, load_gate_suites
from .control import orchestrator_alive
from .errors import EXIT_FAILED, EXIT_OK, EXIT_WARNED, BackfillError, UsageError
from .events import Event, runbook_ref
from .gates import GateRunner
from .notify import Heartbeat, Notifier
from .phase_runner import PhaseRunner
from .process import ProcessHandle
from .render import stdout_is_tty
from .redact import config_secrets, redact_text
from .repair import RepairPreview, Repairer, close_open_rounds, prepare_repair, preview_repair, repaired_summary
from .reporting.report import write_reports
from .runcontext import RunContext
from .runlog import Console, RunLog
from .runmodel import (BLOCKING_SKIPS, NOTIFIABLE, PHASE_PROCESS_STATES, RUN_SUCCEEDED, EventKind, PhaseStatus,
                       Reason, RunStatus)
from .state import PhaseRecord, RunState, now_iso, open_state, update_latest_link

if TYPE_CHECKING:
    from .validation import Suite

# the phases `backfill stop` catches between two steps (no process of theirs runs): recorded `stopped`
_BETWEEN_STEPS = frozenset({PhaseStatus.PREFLIGHT, PhaseStatus.RETRYING, PhaseStatus.VALIDATING,
                            PhaseStatus.REPAIRING})


@dataclass(frozen=True)
class RunOptions:
    adopt: tuple[AdoptSpec, ...] = ()
    only: str | None = None
    stop_phases_on_exit: bool = False
    stop_grace: float = 10.0  # TERM -> KILL grace when the orchestrator stops a phase
    tty: bool | None = None  # None = stdout_is_tty()
    echo: bool = True  # mirror orchestrator.log lines on stdout


@dataclass(frozen=True)
class RunResult:
    run_id: str
    run_dir: Path
    status: RunStatus
    exit_code: int
    message: str


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(2)


@contextlib.contextmanager
def working_dir(path: str | Path | None) -> Iterator[None]:
    """Work in `path` (the config's relative paths are relative to where the run was started), then go back."""
    before = Path.cwd()
    if path and Path(path).is_dir() and Path(path).resolve() != before.resolve():
        os.chdir(path)
    try:
        yield
    finally:
        if Path.cwd() != before:
            os.chdir(before)


class Orchestrator:
    """One run of one pipeline. Create with `new_run` (then `run()`) or `for_resume` (then `resume()`)."""

    def __init__(self, config: PipelineConfig, run_dir: Path, options: RunOptions = RunOptions(),
                 run_id: str | None = None, cwd: str | None = None):
        self.config = config
        self.secrets = config_secrets(config)  # masked in every line, event and message the run writes
        self.run_dir = Path(run_dir).resolve()
        self.run_id = run_id or self.run_dir.name
        self.options = options
        self.cwd = cwd  # where a resumed run works (the directory it was started from)
        self.st: RunState | None = None
        self.ctx: RunContext | None = None
        self.log: RunLog | None = None
        self.console: Console | None = None
        self.notifier: Notifier | None = None
        self.lock: runlock.Lock | None = None
        self.calendar = config.calendar()
        self.suites: dict[str, Suite] = {}
        self.runners: dict[str, PhaseRunner] = {}  # phase name -> its runner (holds the live process handle)
        self.repairer: Repairer | None = None
        self._saved_signals: dict[signal.Signals, Any] = {}  # the caller's handlers, given back by _close

    # --- construction -------------------------------------------------------------------------------------
    @classmethod
    def new_run(cls, config: PipelineConfig, options: RunOptions = RunOptions()) -> Orchestrator:
        run_id = new_run_id()
        return cls(config, config.logs_dir / "runs" / run_id, options, run_id)

    @classmethod
    def for_resume(cls, run_dir: Path, options: RunOptions = RunOptions()) -> Orchestrator:
        run_dir = Path(run_dir).resolve()
        with open_state(run_dir) as st:
            run = st.run()
        cwd = run.options.get("cwd")
        with working_dir(cwd):
            if not Path(run.config_path).is_file():
                raise UsageError(f"run {run.id}: its config {run.config_path} no longer exists")
            config = load_config(run.config_path)
        opts = replace(options, stop_phases_on_exit=options.stop_phases_on_exit
                       or bool(run.options.get("stop_phases_on_exit")), only=run.options.get("only"))
        return cls(config, run_dir, opts, run.id, cwd)

    # --- checks done before anything is written ---------------------------------------------------------
    def _check_inputs(self) -> None:
        names = {p.name for p in self.config.phases}
        if self.options.only and self.options.only not in names:
            self.config.phase(self.options.only)  # raises the one-line UsageError listing the phases
        for a in self.options.adopt:
            if a.phase not in names:
                self.config.phase(a.phase)
        if not self.suites:  # loaded by check() already: not parsed and validated a second time by run()
            self.suites = load_gate_suites(self.config)

    def check(self) -> None:
        """Refuse a bad --only / --adopt (one line) before the CLI prints or writes anything; `run` checks again
        (a PID to adopt may have ended meanwhile)."""
        self._check_inputs()
        self.verify_adoptions()

    def verify_adoptions(self) -> dict[str, tuple[ProcessHandle, Path]]:
        return {a.phase: verify_adopt(self.config, a) for a in self.options.adopt}

    # --- entry points ---------------------------------------------------------------------------------------
    def run(self, on_locked: Callable[[], object] | None = None) -> RunResult:
        """Start the run. `on_locked` (e.g. the CLI printing the plan) runs once the lock is held and before
        anything is written, so that a run refused by the lock prints nothing but the refusal."""
        self._check_inputs()
        adopted = self.verify_adoptions()
        self.lock = runlock.acquire(self.config.logs_dir, self.config.pipeline, self.config.warehouse_label(),
                                    self.run_id)
        try:
            if on_locked is not None:
                on_locked()
            self.st = RunState.create(self.run_dir, self.run_id, self.config.pipeline,
                                      str(Path(self.config.path).resolve()), self.config.warehouse_label(),
                                      [p.name for p in self.config.phases],
                                      {"cwd": str(Path.cwd()), "only": self.options.only,
                                       "stop_phases_on_exit": self.options.stop_phases_on_exit,
                                       "adopt": [f"{a.phase}={a.pid}" for a in self.options.adopt]})
            update_latest_link(self.config.logs_dir, self.run_dir)
            self._open_outputs()
            self._record_driver()
            self._lock_warning()
            self.event(EventKind.RUN_STARTED, f"run {self.run_id} started: pipeline {self.config.pipeline}, "
                       f"{len(self.config.phases)} phases, warehouse {self.config.warehouse_label()}",
                       data={"run_dir": str(self.run_dir)})
            if self.options.only:
                for p in self.config.phases:
                    if p.name != self.options.only:
                        self.st.update_phase(p.name, status=PhaseStatus.SKIPPED, reason=Reason.NOT_SELECTED,
                                             message=f"not selected (--only {self.options.only})")
            for name, (handle, log_path) in adopted.items():
                self._runner(name).record_adoption(handle, log_path)
            return self._drive_safely()
        finally:
            self._close()

    def resume(self, before: Callable[[], object] | None = None) -> RunResult:
        """Continue the run. `before` (e.g. `restart`'s state reset) runs once the lock is held, so that a refused
        resume (lock held by another run) changes nothing."""
        with working_dir(self.cwd):
            return self._resume(before)

    def _resume(self, before: Callable[[], object] | None) -> RunResult:
        self.suites = load_gate_suites(self.config)
        self.st = open_state(self.run_dir)
        try:
            run = self.st.run()
            if orchestrator_alive(run):
                raise UsageError(f"run {run.id} is still being driven by PID {run.pid} on {run.host}; "
                                 f"{runbook_ref(Reason.LOCK_HELD)}")
            recorded = [p.name for p in self.st.phases()]
            configured = [p.name for p in self.config.phases]
            if sorted(recorded) != sorted(configured):
                raise UsageError(f"run {run.id}: its config {self.config.path} now has phases "
                                 f"{', '.join(configured)}, but the run has {', '.join(recorded)}; "
                                 "start a new run with `backfill run`")
            self.lock = runlock.acquire(self.config.logs_dir, self.config.pipeline, self.config.warehouse_label(),
                                        self.run_id)
        except BaseException:
            self.st.close()
            self.st = None
            raise
        try:
            if before is not None:
                before()
            self._open_outputs()
            self._record_driver()
            self._lock_warning()
            self.st.update_run(status=RunStatus.RUNNING, ended_at=None, exit_code=None, stop_requested=0,
                               reason=None)
            self.event(EventKind.RESUMED, f"run {self.run_id} resumed by PID {os.getpid()} "
                       f"(phases: {', '.join(f'{p.name}={p.status}' for p in self.st.phases())})")
            return self._drive_safely()
        finally:
            self._close()

    def preview_repair(self, phase: str | None = None) -> RepairPreview:
        """`backfill repair --dry-run`: gate the failed phase again and plan its repair; nothing is written."""
        with working_dir(self.cwd):
            suites = load_gate_suites(self.config)
            with open_state(self.run_dir) as st:
                return preview_repair(st, self.config, suites, self._dates_of, phase)

    def repair(self, phase: str | None = None) -> RunResult:
        """`backfill repair`: under the run's lock, gate the failed phase again, open a repair round on the dates
        it names (or mark it passed when it passes now), and continue the run."""
        def before() -> None:
            assert self.st is not None
            prepare_repair(self.st, self.config, preview_repair(self.st, self.config, self.suites, self._dates_of,
                                                                phase))
        return self.resume(before)

    def _dates_of(self, name: str) -> list:
        return phase_dates(self.config.phase(name), self.calendar)

    # --- the loop -----------------------------------------------------------------------------------------------
    def _runner(self, name: str) -> PhaseRunner:
        if name not in self.runners:
            assert self.ctx is not None  # built by _open_outputs, before any phase is driven
            self.runners[name] = PhaseRunner(self.ctx, self.config.phase(name), GateRunner(self.ctx, self.suites))
        return self.runners[name]

    def _repairer(self) -> Repairer:
        if self.repairer is None:
            assert self.ctx is not None
            self.repairer = Repairer(self.ctx, self.suites, self._runner, self._dates_of)
        return self.repairer

    def _drive_safely(self) -> RunResult:
        """_drive, but an error never leaves the run recorded as `running` with nobody driving it: it ends
        `failed` (phases still running stay recorded, so `backfill resume` re-adopts them)."""
        try:
            return self._drive()
        except Exception as e:
            running = [p.name for p in self._phases_or_empty() if p.status in PHASE_PROCESS_STATES]
            what = str(e) if isinstance(e, BackfillError) else f"{type(e).__name__}: {e}"
            msg = (f"orchestrator error: {what}" + (f"; still running: {', '.join(running)}" if running else "")
                   + f"; continue with: backfill resume {self.run_id}")
            try:
                result = self._end(RunStatus.FAILED, EXIT_FAILED, msg, Reason.ORCHESTRATOR_ERROR)
            except Exception:
                raise e from None  # the state itself is failing: nothing more can be recorded
            if isinstance(e, BackfillError):
                return result
            raise

    def _phases_or_empty(self) -> list[PhaseRecord]:
        try:
            return self.st.phases() if self.st is not None else []
        except Exception:  # the state is what failed: the message then names no phase
            return []

    def _blocking(self, name: str) -> PhaseStatus | None:
        """The status of `name` when it keeps its dependents from starting (read now: a repair round may have
        re-run and failed a phase the loop had already passed)."""
        rec = self.st.phase(name)
        if rec.status in (PhaseStatus.FAILED, PhaseStatus.STOPPED) or \
                (rec.status == PhaseStatus.SKIPPED and rec.reason in BLOCKING_SKIPS):
            return rec.status
        return None

    def _drive(self) -> RunResult:
        self._signals()
        stop_rest: str | None = None  # set once a phase warned and has on_warn: stop
        for phase in self.config.phases:
            rec = self.st.phase(phase.name)
            if rec.terminal:
                if rec.status == PhaseStatus.WARNED and phase.on_warn == "stop":  # decided before a restart: holds
                    stop_rest = phase.name
                continue
            if stop_rest:
                why, reason = f"not started: {stop_rest} warned and has on_warn: stop", Reason.ON_WARN_STOP
            else:
                dep, dep_status = next(((d, s) for d in phase.depends_on if (s := self._blocking(d))), (None, None))
                why, reason = (f"not started: {dep} {dep_status}", Reason.NOT_STARTED) if dep else (None, None)
            if why and not self.options.only and rec.status != PhaseStatus.REPAIRING:
                self.st.update_phase(phase.name, status=PhaseStatus.SKIPPED, message=why, reason=reason)
                self.event(EventKind.PHASE_SKIPPED, f"phase {phase.name} skipped: {why}", phase=phase.name,
                           reason=reason)
                continue
            status = self._runner(phase.name).drive()
            while status == PhaseStatus.REPAIRING:  # its gate failed on dates: repair rounds (repair.py)
                status = self._repairer().advance(phase.name)
            if status is None or self.st.stop_requested():  # interrupted (signal) or `backfill stop`
                return self._finish_interrupted()
            if status == PhaseStatus.WARNED and phase.on_warn == "stop":
                stop_rest = phase.name
        return self._finish()

    def _finish(self) -> RunResult:
        phases = self.st.phases()
        failed = [p for p in phases if p.status == PhaseStatus.FAILED]
        warn_stop = [p for p in phases if p.reason == Reason.ON_WARN_STOP]
        if failed or warn_stop:
            first = (failed or warn_stop)[0]
            return self._end(RunStatus.FAILED, EXIT_FAILED, f"phase {first.name}: {first.message}", first.reason)
        if any(p.status == PhaseStatus.STOPPED for p in phases):
            return self._end(RunStatus.STOPPED, EXIT_FAILED, "stopped by `backfill stop`", Reason.STOPPED_BY_OPERATOR)
        warned = [p.name for p in phases if p.status == PhaseStatus.WARNED]
        repaired = repaired_summary(self.st)
        if warned:
            return self._end(RunStatus.WARNED, EXIT_WARNED, "finished with warnings in " + ", ".join(warned) + repaired)
        return self._end(RunStatus.PASSED, EXIT_OK, "every phase passed its gate" + repaired)

    def _finish_interrupted(self) -> RunResult:
        if self.st.stop_requested():
            for p in self.st.phases():
                if p.status in _BETWEEN_STEPS:
                    self.st.update_phase(p.name, status=PhaseStatus.STOPPED, reason=Reason.STOPPED_BY_OPERATOR,
                                         message="run stopped before this phase finished")
                    close_open_rounds(self.st, p.name, "stopped by `backfill stop`")
            return self._end(RunStatus.STOPPED, EXIT_FAILED, "stopped by `backfill stop`", Reason.STOPPED_BY_OPERATOR)
        running = [p.name for p in self.st.phases() if p.status in PHASE_PROCESS_STATES]
        msg = (f"orchestrator got {self.ctx.interrupt}; state recorded"
               + (f"; still running: {', '.join(running)}" if running else "")
               + f"; continue with: backfill resume {self.run_id}")
        if self.options.stop_phases_on_exit:
            return self._end(RunStatus.STOPPED, EXIT_FAILED, msg.replace("still running", "stopped"),
                             Reason.INTERRUPTED)
        return self._end(RunStatus.INTERRUPTED, EXIT_FAILED, msg, Reason.INTERRUPTED)

    def _end(self, status: RunStatus, code: int, message: str, reason: Reason | None = None) -> RunResult:
        self.st.update_run(status=status, exit_code=code, ended_at=now_iso(), message=message, reason=reason)
        self.event(EventKind.RUN_FINISHED, f"run {self.run_id} {status} (exit {code}): {message}", reason=reason,
                   data={"status": status, "exit_code": code, "run_dir": str(self.run_dir)},
                   next_command=None if status in RUN_SUCCEEDED else f"backfill status {self.run_id}")
        self._write_reports()
        # the summary line goes to stdout (nohup.out): masked like every other line the run writes
        return RunResult(self.run_id, self.run_dir, status, code, redact_text(message, self.secrets))

    # --- events, log, notifications ------------------------------------------------------------------------------
    def event(self, kind: EventKind, message: str, phase: str | None = None, **kw: Any) -> Event:
        return self.emit(Event(kind=kind, run_id=self.run_id, message=message, phase=phase, **kw))

    def emit(self, ev: Event) -> Event:
        # masked once, here: the journal, orchestrator.log, notifications and reports all get the masked text
        red = self.secrets
        ev = replace(ev, message=redact_text(ev.message, red), gate=[redact_text(g, red) for g in ev.gate],
                     next_command=redact_text(ev.next_command, red) if ev.next_command else None)
        if self.st is not None:
            self.st.add_event(ev)  # journal first: the record survives whatever happens next
        if self.log is not None:
            extra = "".join(f"\n    {g}" for g in ev.gate)
            self.log.line(f"{ev.kind}: {ev.message}{extra}")
        if self.notifier is not None and ev.kind in NOTIFIABLE:
            try:
                self.notifier.notify(ev)
            except Exception as e:  # a notifier bug must never stop the run
                if self.log is not None:
                    self.log.line(f"notify_failed: {type(e).__name__}: {e}")
        return ev

    def _open_outputs(self) -> None:
        self.st.mask = lambda text: redact_text(text, self.secrets)  # messages are stored masked, like events
        tty = stdout_is_tty() if self.options.tty is None else self.options.tty
        self.console = Console(tty) if self.options.echo else None
        self.log = RunLog(self.run_dir / "orchestrator.log", self.console, self.secrets)
        if self.config.notifications:
            self.notifier = Notifier(self.config.notifications, self.log.logger(f"backfill.notify.{self.run_id}"))
        self.ctx = RunContext(self.run_id, self.run_dir, self.config, self.calendar, self.st, self.emit,
                              Heartbeat(self.config.heartbeat_every), self.options.stop_grace,
                              self.options.stop_phases_on_exit, self.log, self.console)

    def _record_driver(self) -> None:
        me = psutil.Process()
        self.st.update_run(pid=os.getpid(), create_time=me.create_time(), host=socket.gethostname())

    def _lock_warning(self) -> None:
        if self.lock is not None and self.lock.stale_holder is not None:
            h = self.lock.stale_holder
            self.event(EventKind.LOCK_TAKEN_OVER, f"warning: took over a stale lock ({self.lock.stale_reason}; it was "
                       f"held by {h.describe()})", data={"lock": str(self.lock.path)})

    def _write_reports(self) -> None:
        try:
            paths = write_reports(self.run_dir)
            self.log.line(f"report: {', '.join(str(p) for p in paths)}")
        except Exception as e:  # the run's outcome stands even if its report cannot be drawn
            self.log.line(f"warning: report not written: {type(e).__name__}: {e}")

    def _signals(self) -> None:
        def on_signal(signum: int, frame: Any) -> None:
            self.ctx.interrupt = signal.Signals(signum).name

        for sig in (signal.SIGTERM, signal.SIGINT):
            self._saved_signals.setdefault(sig, signal.getsignal(sig))
            signal.signal(sig, on_signal)

    def _close(self) -> None:
        if self.notifier is not None:
            try:
                self.notifier.close(timeout=15.0)
            except Exception as e:  # the run has ended and is recorded; an undelivered message must not change that
                if self.log is not None:
                    self.log.line(f"notify_failed: while draining: {type(e).__name__}: {e}")
        try:
            for part in (self.console, self.log, self.st):
                if part is not None:
                    try:
                        part.close()
                    except Exception:  # closing one output must not keep the lock from being released
                        pass
        finally:
            if self.lock is not None:
                self.lock.release()
            for sig, handler in self._saved_signals.items():  # the caller's handlers, as they were
                signal.signal(sig, handler)
            self._saved_signals.clear()


# --- dry run ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DryRunPhase:
    name: str
    action: str  # launch | adopt PID | skip (why)
    argv: list[str]
    dates: int
    first: str | None
    last: str | None
    preflight: list[str]
    post: list[str]


@dataclass(frozen=True)
class DryRunPlan:
    run_dir: str
    phases: list[DryRunPhase] = field(default_factory=list)

    def text(self) -> str:
        lines = [f"dry run: nothing is started or written (the run would use {self.run_dir})"]
        for i, p in enumerate(self.phases, 1):
            span = f"{p.first}..{p.last}" if p.first else "no dates"
            lines.append(f"  {i}. {p.name}: {p.action}; {p.dates} dates {span}")
            if p.preflight:
                lines.append(f"       pre-flight gate: {', '.join(p.preflight)}")
            if p.post:
                lines.append(f"       post gate: {', '.join(p.post)}")
            lines.append(f"       argv: {shlex.join(p.argv)}")
        return "\n".join(lines)


def dry_run(config: PipelineConfig, options: RunOptions) -> DryRunPlan:
    """What `run` would do, changing nothing: no run dir, no lock, no state, no process."""
    orch = Orchestrator.new_run(config, options)
    orch.check()
    adopts = {a.phase: a for a in options.adopt}
    out = []
    for p in config.phases:
        dates = phase_dates(p, orch.calendar)
        dates_file = dates_file_path(p, orch.run_dir)
        argv = fill_command(config, p, orch.run_dir, dates, dates_file, checkpoint_path(config, p, orch.run_dir))
        if options.only and p.name != options.only:
            action = f"skip (not selected: --only {options.only})"
        elif not dates:
            action = "skip (no dates)"
        elif p.name in adopts:
            a = adopts[p.name]
            action = f"adopt PID {a.pid}" + (f", following {a.log}" if a.log else "")
        else:
            action = "launch"
        gate = lambda g: g.suite + (f" ({g.severity})" if g.severity != "critical" else "") + (  # noqa: E731
            f" on {g.table}" if g.table else "")
        out.append(DryRunPhase(p.name, action, argv, len(dates), str(dates[0]) if dates else None,
                               str(dates[-1]) if dates else None, [gate(g) for g in p.preflight],
                               [gate(g) for g in p.post]))
    return DryRunPlan(str(orch.run_dir), out)


# AdoptSpec, parse_adopt, fill_command, phase_dates and warehouse_arg live in commands.py; re-exported for callers
__all__ = ["AdoptSpec", "DryRunPlan", "Orchestrator", "RunOptions", "RunResult", "dry_run", "fill_command",
           "parse_adopt", "phase_dates", "warehouse_arg", "working_dir"]
