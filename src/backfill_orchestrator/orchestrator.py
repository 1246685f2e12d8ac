"""The orchestrator: runs a pipeline's phases in dependency order, gates each one, decides, journals everything.

    orch = Orchestrator.new_run(config, RunOptions(adopt=(AdoptSpec("p1", 1234, None),)))
    result = orch.run()                            # RunResult(run_id, run_dir, status, exit_code, message)
    result = Orchestrator.for_resume(run_dir, RunOptions()).resume()

A run lives in <logs_dir>/runs/<run-id>/ (orchestrator.log, <phase>.log, <phase>.dates, state.sqlite, report) and
<logs_dir>/latest points at the newest. One run at a time per pipeline + warehouse (lock.py). Every transition is
written to state.sqlite before it is acted on (state.py), so `resume` after any death - even `kill -9` - continues
from the last transition: a phase still running is re-adopted only when its PID, create time and command line
all match, a phase that ended unwatched is judged by its log and its gate, and no phase ever runs twice at once.

Signals: SIGTERM/SIGINT record state and exit (phases keep running unless `stop_phases_on_exit`); SIGHUP is
ignored, so closing the terminal of a `nohup`-less run does not end it. The per-phase state machine is in
phase_runner.py; the rules it applies are in decisions.py.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import signal
import socket
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import psutil

from . import lock as runlock
from .config import Gate, Phase, PipelineConfig, load_config, load_gate_suites
from .decisions import GateDecision, decide_gates, error_gate, merge
from .errors import EXIT_FAILED, EXIT_OK, EXIT_WARNED, BackfillError, ColumnNotFound, TableNotFound, UsageError
from .notify import Heartbeat, Notifier, heartbeat_event
from .reporting.report import write_reports
from .events import Event, runbook_ref
from .render import stdout_is_tty
from .redact import config_secrets
from .runlog import Console, RunLog
from .state import RunState, now_iso, open_state, update_latest_link
from .warehouse.url import format_warehouse_url

NOTIFIABLE = ("run_started", "phase_started", "phase_passed", "phase_warned", "phase_failed", "stalled", "retrying",
              "run_finished", "heartbeat")


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
    status: str  # passed | warned | failed | stopped | interrupted
    exit_code: int
    message: str


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(2)


def warehouse_arg(config: PipelineConfig) -> str:
    """The {warehouse} placeholder: the warehouse URL the jobs parse back (dataset mappings included)."""
    return format_warehouse_url(config.warehouse)


def phase_dates(config: PipelineConfig, phase: Phase, calendar: Any, since: dt.date | None = None) -> list[dt.date]:
    dates = phase.dates.resolve(calendar)
    return [d for d in dates if since is None or d >= since]


def fill_command(config: PipelineConfig, phase: Phase, run_dir: Path, dates: list[dt.date], dates_file: Path,
                 checkpoint: Path) -> list[str]:
    values = {
        "python": sys.executable, "start": str(dates[0]) if dates else "", "end": str(dates[-1]) if dates else "",
        "dates_file": str(dates_file), "dates": ",".join(str(d) for d in dates), "checkpoint": str(checkpoint),
        "workers": str(phase.workers), "warehouse": warehouse_arg(config), "run_dir": str(run_dir),
        "phase": phase.name,
    }
    return [re.sub(r"\{([a-z_]+)\}", lambda m: values.get(m.group(1), m.group(0)), arg) for arg in phase.command]


def checkpoint_path(config: PipelineConfig, phase: Phase, run_dir: Path) -> Path:
    if phase.checkpoint:
        return Path(phase.checkpoint.replace("{run_dir}", str(run_dir)).replace("{phase}", phase.name))
    return (config.logs_dir / "checkpoints" / config.pipeline / f"{phase.name}.json").resolve()


def phase_log_path(phase: Phase, run_dir: Path) -> Path:
    if phase.log:
        return Path(phase.log.replace("{run_dir}", str(run_dir)).replace("{phase}", phase.name))
    return run_dir / f"{phase.name}.log"


class Orchestrator:
    """One run of one pipeline. Create with `new_run` (then `run()`) or `for_resume` (then `resume()`)."""

    def __init__(self, config: PipelineConfig, run_dir: Path, options: RunOptions = RunOptions(),
                 run_id: str | None = None):
        self.config = config
        self.run_dir = Path(run_dir).resolve()
        self.run_id = run_id or self.run_dir.name
        self.options = options
        self.st: RunState | None = None
        self.log: RunLog | None = None
        self.console: Console | None = None
        self.notifier: Any = None
        self.lock: runlock.Lock | None = None
        self.interrupt: str | None = None  # set by SIGTERM/SIGINT: record and leave
        self.calendar = config.calendar()
        self.suites: dict[str, Any] = {}
        self.runners: dict[str, Any] = {}  # phase name -> PhaseRunner (holds the live process handle)
        self.heartbeat = Heartbeat(config.heartbeat_every)

    # --- construction -------------------------------------------------------------------------------------
    @classmethod
    def new_run(cls, config: PipelineConfig, options: RunOptions = RunOptions()) -> Orchestrator:
        run_id = new_run_id()
        return cls(config, config.logs_dir / "runs" / run_id, options, run_id)

    @classmethod
    def for_resume(cls, run_dir: Path, options: RunOptions = RunOptions()) -> Orchestrator:
        with open_state(run_dir) as st:
            run = st.run()
        cwd = run.options.get("cwd")
        if cwd and Path(cwd).is_dir() and Path(cwd).resolve() != Path.cwd().resolve():
            os.chdir(cwd)  # the config's relative paths are relative to where the run was started
        if not Path(run.config_path).is_file():
            raise UsageError(f"run {run.id}: its config {run.config_path} no longer exists")
        config = load_config(run.config_path)
        opts = replace(options, stop_phases_on_exit=options.stop_phases_on_exit
                       or bool(run.options.get("stop_phases_on_exit")), only=run.options.get("only"))
        return cls(config, Path(run_dir), opts, run.id)

    # --- checks done before anything is written ---------------------------------------------------------
    def _check_inputs(self) -> None:
        names = {p.name for p in self.config.phases}
        if self.options.only and self.options.only not in names:
            self.config.phase(self.options.only)  # raises the one-line UsageError listing the phases
        for a in self.options.adopt:
            if a.phase not in names:
                self.config.phase(a.phase)
        self.suites = self._load_suites()

    def _load_suites(self) -> dict[str, Any]:
        return load_gate_suites(self.config)

    def check(self) -> None:
        """Refuse a bad --only / --adopt (one line) before the CLI prints or writes anything; `run` checks again
        (a PID to adopt may have ended meanwhile)."""
        self._check_inputs()
        self.verify_adoptions()

    def verify_adoptions(self) -> dict[str, tuple[Any, Path]]:
        from .phase_runner import verify_adopt

        return {a.phase: verify_adopt(self, a) for a in self.options.adopt}

    # --- entry points ---------------------------------------------------------------------------------------
    def run(self) -> RunResult:
        self._check_inputs()
        adopted = self.verify_adoptions()
        self.lock = runlock.acquire(self.config.logs_dir, self.config.pipeline, self.config.warehouse_label(),
                                    self.run_id)
        try:
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
            self.event("run_started", f"run {self.run_id} started: pipeline {self.config.pipeline}, "
                       f"{len(self.config.phases)} phases, warehouse {self.config.warehouse_label()}",
                       data={"run_dir": str(self.run_dir)})
            if self.options.only:
                for p in self.config.phases:
                    if p.name != self.options.only:
                        self.st.update_phase(p.name, status="skipped",
                                             message=f"not selected (--only {self.options.only})")
            from .phase_runner import PhaseRunner

            for name, (handle, log_path) in adopted.items():
                self.runners[name] = PhaseRunner(self, self.config.phase(name))
                self.runners[name].record_adoption(handle, log_path)
            return self._drive_safely()
        finally:
            self._close()

    def resume(self, before: Callable[[], object] | None = None) -> RunResult:
        """Continue the run. `before` (e.g. `restart`'s state reset) runs once the lock is held, so that a refused
        resume (lock held by another run) changes nothing."""
        self.suites = self._load_suites()
        self.st = open_state(self.run_dir)
        try:
            run = self.st.run()
            from .control import orchestrator_alive

            if orchestrator_alive(run):
                raise UsageError(f"run {run.id} is still being driven by PID {run.pid} on {run.host}; "
                                 f"{runbook_ref('lock_held')}")
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
            self.st.update_run(status="running", ended_at=None, exit_code=None, stop_requested=0)
            self.event("resumed", f"run {self.run_id} resumed by PID {os.getpid()} "
                       f"(phases: {', '.join(f'{p.name}={p.status}' for p in self.st.phases())})")
            return self._drive_safely()
        finally:
            self._close()

    # --- the loop -----------------------------------------------------------------------------------------------
    def _drive_safely(self) -> RunResult:
        """_drive, but an error never leaves the run recorded as `running` with nobody driving it: it ends
        `failed` (phases still running stay recorded, so `backfill resume` re-adopts them)."""
        try:
            return self._drive()
        except Exception as e:
            running = [p.name for p in self._phases_or_empty() if p.status in ("running", "stalled")]
            what = str(e) if isinstance(e, BackfillError) else f"{type(e).__name__}: {e}"
            msg = (f"orchestrator error: {what}" + (f"; still running: {', '.join(running)}" if running else "")
                   + f"; continue with: backfill resume {self.run_id}")
            try:
                result = self._end("failed", EXIT_FAILED, msg)
            except Exception:
                raise e from None  # the state itself is failing: nothing more can be recorded
            if isinstance(e, BackfillError):
                return result
            raise

    def _phases_or_empty(self) -> list:
        try:
            return self.st.phases()
        except Exception:
            return []

    def _drive(self) -> RunResult:
        from .phase_runner import PhaseRunner

        self._signals()
        blocked: dict[str, str] = {}
        stop_rest: str | None = None
        for phase in self.config.phases:
            rec = self.st.phase(phase.name)
            if rec.terminal:
                if rec.status in ("failed", "stopped") or (rec.status == "skipped" and (rec.message or "")
                                                            .startswith("not started")):
                    blocked[phase.name] = rec.status
                if rec.status == "warned" and phase.on_warn == "stop":  # decided before a restart: still holds
                    stop_rest = f"not started: {phase.name} warned and has on_warn: stop"
                continue
            why = stop_rest or next((f"not started: {d} {blocked[d]}" for d in phase.depends_on if d in blocked), None)
            if why and not self.options.only:
                self.st.update_phase(phase.name, status="skipped", message=why)
                self.event("phase_skipped", f"phase {phase.name} skipped: {why}", phase=phase.name)
                blocked[phase.name] = "skipped"
                continue
            runner = self.runners.setdefault(phase.name, PhaseRunner(self, phase))
            status = runner.drive()
            if status is None or self.st.stop_requested():  # interrupted (signal) or `backfill stop`
                return self._finish_interrupted()
            if status in ("failed", "stopped"):
                blocked[phase.name] = status
            if status == "warned" and phase.on_warn == "stop":
                stop_rest = f"not started: {phase.name} warned and has on_warn: stop"
        return self._finish()

    def _finish(self) -> RunResult:
        phases = self.st.phases()
        statuses = [p.status for p in phases]
        failed = [p for p in phases if p.status == "failed"]
        warn_stop = any(p.status == "skipped" and "on_warn: stop" in (p.message or "") for p in phases)
        if failed or warn_stop:
            status, code = "failed", EXIT_FAILED
            first = failed[0] if failed else next(p for p in phases if "on_warn: stop" in (p.message or ""))
            message = f"phase {first.name}: {first.message}"
        elif "stopped" in statuses:
            status, code, message = "stopped", EXIT_FAILED, "stopped by `backfill stop`"
        elif "warned" in statuses:
            status, code = "warned", EXIT_WARNED
            message = "finished with warnings in " + ", ".join(p.name for p in phases if p.status == "warned")
        else:
            status, code, message = "passed", EXIT_OK, "every phase passed its gate"
        return self._end(status, code, message)

    def _finish_interrupted(self) -> RunResult:
        if self.st.stop_requested():
            for p in self.st.phases():
                if p.status in ("preflight", "retrying", "validating"):
                    self.st.update_phase(p.name, status="stopped", message="run stopped before this phase finished")
            return self._end("stopped", EXIT_FAILED, "stopped by `backfill stop`")
        running = [p.name for p in self.st.phases() if p.status in ("running", "stalled")]
        msg = (f"orchestrator got {self.interrupt}; state recorded"
               + (f"; still running: {', '.join(running)}" if running else "")
               + f"; continue with: backfill resume {self.run_id}")
        if self.options.stop_phases_on_exit:
            return self._end("stopped", EXIT_FAILED, msg.replace("still running", "stopped"))
        return self._end("interrupted", EXIT_FAILED, msg)

    def _end(self, status: str, code: int, message: str) -> RunResult:
        self.st.update_run(status=status, exit_code=code, ended_at=now_iso(), message=message)
        self.event("run_finished", f"run {self.run_id} {status} (exit {code}): {message}",
                   data={"status": status, "exit_code": code, "run_dir": str(self.run_dir)},
                   next_command=None if status in ("passed", "warned") else f"backfill status {self.run_id}")
        self._write_reports()
        return RunResult(self.run_id, self.run_dir, status, code, message)

    # --- gates ------------------------------------------------------------------------------------------------
    def run_gates(self, phase: Phase, kind: str, gates: tuple[Gate, ...], dates: list[dt.date],
                  attempt: int | None) -> GateDecision:
        if not gates or not dates:
            return GateDecision("pass", [], [])
        from .validation import run_suite
        from .warehouse import open_warehouse

        start, end = min(dates), max(dates)
        decisions = []
        try:
            wh = open_warehouse(self.config.warehouse)
        except Exception as e:  # the driver's own errors too (DuckDB file locked, network down): a gate ERROR
            why = str(e) if isinstance(e, BackfillError) else f"{type(e).__name__}: {e}"
            msg = f"warehouse unreachable: {why}; {runbook_ref('warehouse_unreachable')}"
            for g in gates:
                self.st.add_gate(phase.name, kind, g.suite, g.severity, attempt, "error", {"error": msg})
            self.event("gate_result", f"phase {phase.name}: {kind} gates could not run: {msg}", phase=phase.name,
                       runbook="warehouse_unreachable", data={"kind": kind, "status": "error"})
            return merge([error_gate(g.suite, msg, g.severity) for g in gates])
        try:
            for g in gates:
                suite = self.suites[g.suite]
                if g.table:
                    suite = replace(suite, table=g.table)
                self.event("gate_started", f"phase {phase.name}: {kind} gate {g.suite} over {start}..{end}",
                           phase=phase.name)
                try:
                    res = run_suite(wh, suite, start, end, calendar=self.calendar)
                except Exception as e:  # a gate that cannot run is an ERROR of that gate, never a crash of the run
                    msg = str(e) if isinstance(e, (TableNotFound, ColumnNotFound, UsageError)) else \
                        f"warehouse error: {e if isinstance(e, BackfillError) else f'{type(e).__name__}: {e}'}; " \
                        f"{runbook_ref('warehouse_unreachable')}"
                    self.st.add_gate(phase.name, kind, g.suite, g.severity, attempt, "error", {"error": msg})
                    decisions.append(error_gate(g.suite, msg, g.severity))
                    continue
                status = str(getattr(res.gate_status, "value", res.gate_status))
                self.st.add_gate(phase.name, kind, g.suite, g.severity, attempt, status, res)
                decisions.append(decide_gates([(g.severity, res)]))
                self.event("gate_result", f"phase {phase.name}: {kind} gate {g.suite} {status.upper()}",
                           phase=phase.name, gate=decisions[-1].lines, data={"kind": kind, "status": status})
        finally:
            wh.close()
        return merge(decisions)

    # --- events, log, notifications ------------------------------------------------------------------------------
    def event(self, kind: str, message: str, phase: str | None = None, **kw: Any) -> Event:
        return self.emit(Event(kind=kind, run_id=self.run_id, message=message, phase=phase, **kw))

    def emit(self, ev: Event) -> Event:
        kind, message = ev.kind, ev.message
        if self.st is not None:
            self.st.add_event(ev)  # journal first: the record survives whatever happens next
        if self.log is not None:
            extra = "".join(f"\n    {g}" for g in ev.gate)
            self.log.line(f"{kind}: {message}{extra}")
        if self.notifier is not None and kind in NOTIFIABLE:
            try:
                self.notifier.notify(ev)
            except Exception as e:  # a notifier bug must never stop the run
                if self.log is not None:
                    self.log.line(f"notify_failed: {type(e).__name__}: {e}")
        return ev

    def _open_outputs(self) -> None:
        tty = stdout_is_tty() if self.options.tty is None else self.options.tty
        self.console = Console(tty) if self.options.echo else None
        self.log = RunLog(self.run_dir / "orchestrator.log", self.console, config_secrets(self.config))
        if self.config.notifications:
            self.notifier = Notifier(self.config.notifications, self.log.logger(f"backfill.notify.{self.run_id}"))

    def _record_driver(self) -> None:
        me = psutil.Process()
        self.st.update_run(pid=os.getpid(), create_time=me.create_time(), host=socket.gethostname())

    def _lock_warning(self) -> None:
        if self.lock is not None and self.lock.stale_holder is not None:
            h = self.lock.stale_holder
            self.event("lock_taken_over", f"warning: took over a stale lock ({self.lock.stale_reason}; it was held "
                       f"by {h.describe()})", data={"lock": str(self.lock.path)})

    def _write_reports(self) -> None:
        try:
            paths = write_reports(self.run_dir)
            self.log.line(f"report: {', '.join(str(p) for p in paths)}")
        except Exception as e:  # the run's outcome stands even if its report cannot be drawn
            self.log.line(f"warning: report not written: {type(e).__name__}: {e}")

    def send_heartbeat(self, phase: str, line: str) -> None:
        """A digest of every phase, so that a long quiet night still says it is alive."""
        phases = [(p.name, p.status, line if p.name == phase else None) for p in self.st.phases()]
        started = dt.datetime.fromisoformat(self.st.run().started_at)
        self.emit(heartbeat_event(self.run_id, started, phases, log_path=str(self.run_dir / "orchestrator.log")))

    def _signals(self) -> None:
        def on_signal(signum: int, frame: Any) -> None:
            self.interrupt = signal.Signals(signum).name

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

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
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)


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
        import shlex
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
    orch._check_inputs()
    adopts = {a.phase: a for a in options.adopt}
    for a in options.adopt:
        from .phase_runner import verify_adopt
        verify_adopt(orch, a)
    calendar = config.calendar()
    out = []
    for p in config.phases:
        dates = phase_dates(config, p, calendar)
        dates_file = orch.run_dir / f"{p.name}.dates"
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


__all__ = ["AdoptSpec", "DryRunPlan", "Orchestrator", "RunOptions", "RunResult", "dry_run", "fill_command",
           "parse_adopt", "phase_dates", "warehouse_arg"]
