"""One phase's state machine: pending -> preflight -> running -> validating -> passed | warned | failed, with
stalled / retrying / skipped / stopped. Each step reads the phase's record from the state, does one thing, and
writes the next status before acting on it - so the same code continues a fresh run and a resumed one.

A process is only ever started from `_launch`, which writes `running` + the command line first and the PID right
after; a resumed orchestrator finds the process again by PID + create time + command line (or, when it died
between the two writes, by the BACKFILL_RUN_ID/BACKFILL_PHASE/BACKFILL_ATTEMPT variables in the process's
environment), so a phase never runs twice at once.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

from . import process
from .clock import iso_utc, parse_iso
from .config import Phase
from .dates import format_ranges, parse_date, read_date_file, write_date_file
from .decisions import backoff_seconds, judge_attempt, stall_threshold
from .errors import EXIT_USAGE, BackfillError, UsageError
from .events import runbook_ref
from .process import AdoptRefused, ProcessHandle
from .progress import (AutoParser, FollowPosition, LineParser, LogFollower, Progress, follow, format_progress_line,
                       parser_for, read_into, utcnow)
from .state import PhaseRecord, now_iso

if TYPE_CHECKING:
    from .orchestrator import AdoptSpec, Orchestrator


def date_status(parser: LineParser) -> dict[dt.date, str]:
    """Per-date outcomes the parser saw (empty for formats without per-date lines)."""
    p = parser.chosen if isinstance(parser, AutoParser) else parser
    raw = getattr(p, "dates", None) or {}
    return {d: v[0] for d, v in raw.items()}


def verify_adopt(orch: Orchestrator, spec: AdoptSpec) -> tuple[ProcessHandle, Path]:
    """Check an --adopt before anything is written: the PID runs, looks like the phase's command, has a log."""
    phase = orch.config.phase(spec.phase)
    where = f"--adopt {spec.phase}={spec.pid}"
    if spec.pid == os.getpid():
        raise UsageError(f"{where}: that is this orchestrator; {runbook_ref('adopt_refused')}")
    try:
        handle = process.adopt(spec.pid)
    except AdoptRefused as e:
        raise UsageError(f"{where}: {e}; {runbook_ref('adopt_refused')}") from None
    # the words that name the program (a script, a module): option values like numbers say nothing
    tokens = [os.path.basename(t) for t in phase.command[1:]
              if "{" not in t and not t.startswith("-") and re.search(r"[A-Za-z]", t)]
    joined = " ".join(handle.cmdline)
    if tokens and not any(t in joined for t in tokens):
        raise UsageError(f"{where}: PID {spec.pid} runs {joined!r}, which does not look like phase {phase.name}'s "
                         f"command (none of {', '.join(tokens)}); {runbook_ref('adopt_refused')}")
    log = spec.log
    if log is None:
        try:  # the job's stdout, when it was redirected to a file (`nohup job > file.log &`)
            target = Path(os.readlink(f"/proc/{spec.pid}/fd/1"))
            log = target if target.is_file() else None
        except OSError:
            log = None
    if log is None:
        raise UsageError(f"{where}: cannot tell where PID {spec.pid} writes its log; give it: "
                         f"--adopt {spec.phase}={spec.pid}:LOGFILE; {runbook_ref('adopt_refused')}")
    if not log.is_file():
        raise UsageError(f"{where}: log file {log} not found; {runbook_ref('adopt_refused')}")
    return handle, log.resolve()


def find_by_marker(run_id: str, phase: str, attempt: int) -> ProcessHandle | None:
    """The process a crashed orchestrator launched but had not recorded yet (its environment names it)."""
    want = {"BACKFILL_RUN_ID": run_id, "BACKFILL_PHASE": phase, "BACKFILL_ATTEMPT": str(attempt)}
    for p in psutil.process_iter():
        try:
            env = p.environ()
            if all(env.get(k) == v for k, v in want.items()) and p.status() != psutil.STATUS_ZOMBIE:
                return process.adopt(p.pid)
        except (psutil.Error, AdoptRefused):
            continue
    return None


class PhaseRunner:
    def __init__(self, orch: Orchestrator, phase: Phase):
        self.o = orch
        self.phase = phase
        self.name = phase.name
        self.handle: ProcessHandle | None = None

    @property
    def st(self):  # noqa: ANN201 - RunState
        return self.o.st

    def drive(self) -> str | None:
        """Advance until the phase is terminal (its status) or the run must pause (None: signal or stop)."""
        steps = {"pending": self._pending, "preflight": self._preflight, "running": self._watch,
                 "stalled": self._watch, "retrying": self._retrying, "validating": self._validate}
        while True:
            rec = self.st.phase(self.name)
            if rec.terminal:
                return rec.status
            # a running phase handles a stop request itself (it stops its process); anything else just pauses
            if self.o.interrupt or (self.st.stop_requested() and rec.status not in ("running", "stalled")):
                return None
            steps[rec.status](rec)

    # --- steps ------------------------------------------------------------------------------------------------
    def full_dates(self) -> list[dt.date]:
        return self.phase.dates.resolve(self.o.calendar)

    def _pending(self, rec: PhaseRecord) -> None:
        since = parse_date(rec.restart_from) if rec.restart_from else None
        dates = [d for d in self.full_dates() if since is None or d >= since]
        if not dates:
            self.st.update_phase(self.name, status="skipped", message="no dates to run")
            self.o.event("phase_skipped", f"phase {self.name} skipped: no dates to run", phase=self.name)
            return
        self.st.update_phase(self.name, total_dates=len(dates), started_at=rec.started_at or now_iso())
        if rec.regate:
            self.st.update_phase(self.name, status="validating", message="re-gated after an upstream restart")
        elif self.phase.preflight:
            self.st.update_phase(self.name, status="preflight")
        else:
            self._launch(dates, self.o.run_dir / f"{self.name}.dates", tries=1, attempt=rec.attempt + 1)

    def _preflight(self, rec: PhaseRecord) -> None:
        d = self.o.run_gates(self.phase, "preflight", self.phase.preflight, self.full_dates(), rec.attempt)
        if d.status == "fail":
            msg = f"pre-flight gate failed: {d.blocking[0] if d.blocking else d.lines[0]}"
            self.st.update_phase(self.name, status="failed", message=msg, ended_at=now_iso())
            self.o.event("phase_failed", f"phase {self.name} not started: {msg}; {runbook_ref('preflight_failed')}",
                         phase=self.name, gate=d.lines, runbook="preflight_failed",
                         next_command=f"backfill restart {self.name} --run {self.o.run_id}")
            return
        since = parse_date(rec.restart_from) if rec.restart_from else None
        dates = [x for x in self.full_dates() if since is None or x >= since]
        self._launch(dates, self.o.run_dir / f"{self.name}.dates", tries=1, attempt=rec.attempt + 1)

    def _launch(self, dates: list[dt.date], dates_file: Path, tries: int, attempt: int) -> None:
        from .orchestrator import checkpoint_path, fill_command, phase_log_path

        write_date_file(dates_file, dates)
        log = phase_log_path(self.phase, self.o.run_dir).resolve()
        log.parent.mkdir(parents=True, exist_ok=True)
        st = log.stat() if log.exists() else None
        argv = fill_command(self.o.config, self.phase, self.o.run_dir, dates, dates_file,
                            checkpoint_path(self.o.config, self.phase, self.o.run_dir))
        # the intent first: a crash after this line is found again by the environment marker
        self.st.update_phase(self.name, status="running", attempt=attempt, tries=tries, pid=None, create_time=None,
                             cmdline=argv, is_child=1, log_path=str(log), attempt_log_start=st.st_size if st else 0,
                             log_offset=st.st_size if st else 0, log_inode=st.st_ino if st else None,
                             dates_file=str(dates_file), dates_count=len(dates), exit_code=None, exit_known=None,
                             ended_at=None, retry_at=None, message=None)
        env = {**self.phase.env, "BACKFILL_RUN_ID": self.o.run_id, "BACKFILL_PHASE": self.name,
               "BACKFILL_ATTEMPT": str(attempt)}
        try:
            self.handle = process.launch(argv, log, env=env)
        except BackfillError as e:  # the program is missing or not executable: retrying will not change that
            self.handle = None
            msg = f"attempt {attempt}: {e}"
            self.st.update_phase(self.name, status="failed", message=msg, ended_at=now_iso())
            self.o.event("phase_failed", f"phase {self.name}: {msg}; {runbook_ref('phase_crashed')}",
                         phase=self.name, log_path=str(log), runbook="phase_crashed",
                         next_command=f"backfill restart {self.name} --run {self.o.run_id}")
            return
        if st is None:
            self.st.update_phase(self.name, log_inode=log.stat().st_ino)
        self.st.update_phase(self.name, pid=self.handle.pid, create_time=self.handle.create_time,
                             cmdline=self.handle.cmdline)
        kind = "phase_started" if tries == 1 else "attempt_started"
        self.o.event(kind, f"phase {self.name} attempt {attempt} started: PID {self.handle.pid}, {len(dates)} dates "
                     f"({format_ranges(dates, limit=3)}), log {log}", phase=self.name, log_path=str(log),
                     data={"pid": self.handle.pid, "attempt": attempt, "dates_file": str(dates_file)})

    def record_adoption(self, handle: ProcessHandle, log: Path) -> None:
        dates = self.full_dates()
        dates_file = self.o.run_dir / f"{self.name}.dates"
        write_date_file(dates_file, dates)
        self.st.update_phase(self.name, status="running", attempt=1, tries=1, pid=handle.pid,
                             create_time=handle.create_time, cmdline=handle.cmdline, is_child=0, log_path=str(log),
                             attempt_log_start=0, log_offset=0, log_inode=log.stat().st_ino,
                             dates_file=str(dates_file), dates_count=len(dates), total_dates=len(dates),
                             started_at=now_iso())
        self.handle = handle
        self.o.event("adopted", f"phase {self.name}: adopted PID {handle.pid} ({' '.join(handle.cmdline)}), "
                     f"following {log}; its exit code is unknowable, so completion is judged by the log's "
                     "completion marker and the gate", phase=self.name, log_path=str(log),
                     data={"pid": handle.pid, "create_time": handle.create_time})

    def _reattach(self, rec: PhaseRecord) -> ProcessHandle | None:
        if rec.pid is None:
            found = find_by_marker(self.o.run_id, self.name, rec.attempt)
            if found is not None:
                self.st.update_phase(self.name, pid=found.pid, create_time=found.create_time, cmdline=found.cmdline,
                                     is_child=0)
                self.o.event("readopted", f"phase {self.name}: found its unrecorded process PID {found.pid}",
                             phase=self.name)
                return found
            log = Path(rec.log_path) if rec.log_path else None
            if log is not None and log.is_file() and log.stat().st_size > (rec.attempt_log_start or 0):
                # it did start (its output is there) and has ended since: judge it, never start it a second time
                self.o.event("ended_unwatched", f"phase {self.name}: attempt {rec.attempt} ran (its log grew) but its "
                             "PID was not recorded and it is not running any more; judging it by its log and the "
                             "gate", phase=self.name)
                return None
            self.o.event("relaunch", f"phase {self.name}: attempt {rec.attempt} was never started; starting it",
                         phase=self.name)
            self._launch(read_date_file(rec.dates_file), Path(rec.dates_file), rec.tries, rec.attempt)
            return self.handle
        try:
            h = process.adopt(rec.pid, expect_cmdline=rec.cmdline, expect_create_time=rec.create_time)
        except AdoptRefused as e:
            self.o.event("ended_unwatched", f"phase {self.name}: PID {rec.pid} is not running any more ({e}); "
                         "judging the attempt by its log and the gate", phase=self.name)
            return None
        self.st.update_phase(self.name, is_child=0)
        self.o.event("readopted", f"phase {self.name}: re-adopted PID {h.pid} (PID, create time and command line "
                     "match)", phase=self.name, data={"pid": h.pid})
        return h

    def _watch(self, rec: PhaseRecord) -> None:
        if self.handle is None or self.handle.pid != rec.pid:
            self.handle = self._reattach(rec)
            rec = self.st.phase(self.name)
            if rec.terminal:  # a relaunch that could not start
                return
        dates = read_date_file(rec.dates_file) if rec.dates_file else self.full_dates()
        follower = LogFollower(rec.log_path, FollowPosition(rec.attempt_log_start or 0, rec.log_inode))
        parser = parser_for(self.phase.progress_format, self.o.config.formats)
        stopped, exit_info = None, None
        try:
            if self.handle is None:
                read_into(follower, parser, final=True)
                progress = parser.snapshot(utcnow())
            else:
                ticker = _Ticker(self, rec)
                result = follow(self.handle, follower, parser, on_tick=ticker.tick,
                                poll=min(self.o.config.poll_interval, 1.0))
                progress, exit_info = result.progress, result.exit
                if result.reason in ("interrupt", "stop"):
                    self._pause(result.reason, follower, parser)
                    return
                if result.reason:
                    stopped = ticker.stop_reason
                    res = process.stop(self.handle, grace=self.o.options.stop_grace)
                    exit_info = res.exit
                    read_into(follower, parser, final=True)
                    progress = parser.snapshot(utcnow())
        finally:
            pos = follower.position
            follower.close()
        self.handle = None
        self._snapshot(progress, rec.attempt)
        if self.o.console is not None:  # the bar shows where the phase ended, not its last poll
            self.o.console.update(self.name, progress)
        outcome = judge_attempt(dates, progress, exit_info, date_status(parser), stopped)
        self.st.update_phase(self.name, exit_code=outcome.exit_code, exit_known=outcome.exit_known,
                             ended_at=now_iso(), log_offset=pos.offset, log_inode=pos.inode)
        how = exit_info.describe() if exit_info else "ended unwatched (exit code unknown)"
        if outcome.ok:
            self.st.update_phase(self.name, status="validating")
            self.o.event("phase_exited", f"phase {self.name} attempt {rec.attempt} finished: {how}; log complete",
                         phase=self.name, progress=format_progress_line(self.name, progress, utcnow()))
            return
        failure = "stalled" if stopped and stopped.startswith("stalled") else \
            "timed_out" if stopped and stopped.startswith("timed out") else "phase_crashed"
        if not outcome.retry_dates:
            self.st.update_phase(self.name, status="validating", message=outcome.reason)
            self.o.event("phase_exited", f"phase {self.name} attempt {rec.attempt}: {outcome.reason}, but every "
                         "date is ok or skipped; going to the gate", phase=self.name)
            return
        if exit_info and exit_info.known and exit_info.returncode == EXIT_USAGE and progress.done == 0:
            # the job refused its arguments (bad --warehouse, dates file, ...): the same command fails the same
            # way again, so no retry; say why in the job's own words
            msg = f"attempt {rec.attempt}: the command refused its arguments (exit 2, no date done): " \
                  f"{_last_line(rec.log_path, rec.attempt_log_start or 0) or 'see its log'}"
            self.st.update_phase(self.name, status="failed", message=msg)
            self.o.event("phase_failed", f"phase {self.name}: {msg}; {runbook_ref('phase_crashed')}",
                         phase=self.name, log_path=rec.log_path, runbook="phase_crashed",
                         next_command=f"backfill restart {self.name} --run {self.o.run_id}")
            return
        if rec.tries <= self.phase.retries:
            nxt = rec.attempt + 1
            retry_file = self.o.run_dir / f"{self.name}.attempt{nxt}.dates"
            write_date_file(retry_file, outcome.retry_dates)
            delay = backoff_seconds(self.phase.retry_backoff, rec.tries)
            at = utcnow() + dt.timedelta(seconds=delay)
            self.st.update_phase(self.name, status="retrying", dates_file=str(retry_file),
                                 dates_count=len(outcome.retry_dates), retry_at=iso_utc(at), message=outcome.reason)
            self.o.event("retrying", f"phase {self.name} attempt {rec.attempt} failed ({outcome.reason}); retry "
                         f"{rec.tries}/{self.phase.retries} of {len(outcome.retry_dates)} dates "
                         f"({format_ranges(outcome.retry_dates, limit=3)}) in {delay:.1f}s",
                         phase=self.name, log_path=rec.log_path,
                         data={"dates_file": str(retry_file), "attempt": nxt, "failure": failure})
            return
        msg = f"attempt {rec.attempt} failed ({outcome.reason}); no retries left; failed dates: " \
              f"{format_ranges(outcome.retry_dates, limit=5)}"
        self.st.update_phase(self.name, status="failed", message=msg)
        self.o.event("phase_failed", f"phase {self.name}: {msg}; {runbook_ref(failure)}", phase=self.name,
                     log_path=rec.log_path, runbook=failure,
                     next_command=f"backfill restart {self.name} --run {self.o.run_id}",
                     progress=format_progress_line(self.name, progress, utcnow()))

    def _pause(self, reason: str, follower: LogFollower, parser: LineParser) -> None:
        """The orchestrator is leaving (signal) or `backfill stop` asked: record; stop the process if told to."""
        progress = parser.snapshot(utcnow())
        rec = self.st.phase(self.name)
        self._snapshot(progress, rec.attempt)
        pos = follower.position
        self.st.update_phase(self.name, log_offset=pos.offset, log_inode=pos.inode)
        if reason == "stop" or self.o.options.stop_phases_on_exit:
            # `backfill stop --grace N` records its grace with the request: the operator's word wins
            grace = self.st.run().options.get("stop_grace") if reason == "stop" else None
            res = process.stop(self.handle, grace=self.o.options.stop_grace if grace is None else float(grace))
            why = "stopped by `backfill stop`" if reason == "stop" else f"stopped: orchestrator got {self.o.interrupt}"
            self.st.update_phase(self.name, status="stopped", message=why, ended_at=now_iso(),
                                 exit_code=res.exit.returncode if res.exit else None,
                                 exit_known=bool(res.exit and res.exit.known))
            self.o.event("phase_stopped", f"phase {self.name}: {why} ({res.signal_sent or 'already ended'})",
                         phase=self.name)
            self.handle = None
        else:
            self.o.event("phase_left_running", f"phase {self.name}: PID {self.handle.pid} left running; "
                         f"`backfill resume {self.o.run_id}` re-adopts it", phase=self.name)

    def _retrying(self, rec: PhaseRecord) -> None:
        at = parse_iso(rec.retry_at) or utcnow()
        while utcnow() < at:
            if self.o.interrupt or self.st.stop_requested():
                return
            time.sleep(min(0.5, max(0.0, (at - utcnow()).total_seconds())))
        self._launch(read_date_file(rec.dates_file), Path(rec.dates_file), rec.tries + 1, rec.attempt + 1)

    def _validate(self, rec: PhaseRecord) -> None:
        d = self.o.run_gates(self.phase, "post", self.phase.post, self.full_dates(), rec.attempt)
        unknown = " (exit code unknown: adopted process, judged by its log's completion marker and the gate)" \
            if rec.exit_known is False else ""
        last = self.st.last_progress(self.name)
        progress_text = last.line if last else None
        if d.status == "pass":
            self.st.update_phase(self.name, status="passed", regate=0, ended_at=now_iso(),
                                 message=f"gate passed{unknown}")
            self.o.event("phase_passed", f"phase {self.name} passed its gate{unknown}", phase=self.name,
                         progress=progress_text)
        elif d.status == "warn":
            self.st.update_phase(self.name, status="warned", regate=0, ended_at=now_iso(),
                                 message=f"gate warned: {d.lines[0]}{unknown}")
            self.o.event("phase_warned", f"phase {self.name} passed with warnings{unknown}", phase=self.name,
                         gate=d.lines, progress=progress_text)
        else:
            msg = f"gate failed: {d.blocking[0] if d.blocking else d.lines[0]}"
            self.st.update_phase(self.name, status="failed", regate=0, ended_at=now_iso(), message=msg)
            self.o.event("phase_failed", f"phase {self.name}: {msg}; dependents will not start; "
                         f"{runbook_ref('gate_failed')}", phase=self.name, gate=d.lines, runbook="gate_failed",
                         log_path=rec.log_path, progress=progress_text,
                         next_command=f"backfill restart {self.name} --run {self.o.run_id}")

    def _snapshot(self, p: Progress, attempt: int | None, *, log: bool = True) -> str:
        line = format_progress_line(self.name, p, utcnow())
        self.st.add_progress(self.name, attempt, done=p.done, total=p.total, ok=p.ok, failed=p.failed,
                             skipped=p.skipped, records=p.records, rate=p.rate_per_min,
                             eta=iso_utc(p.eta) if p.eta else None, line=line)
        if log and self.o.log is not None:
            self.o.log.line(line, stamped=True)
        return line


STATE_PROGRESS_EVERY = 10.0  # seconds between progress snapshots written to the state (status, metrics)


class _Ticker:
    """on_tick of progress.follow: progress lines, console, stall / timeout / stop / signal checks."""

    def __init__(self, runner: PhaseRunner, rec: PhaseRecord):
        self.r = runner
        self.rec = rec
        self.started = time.monotonic()
        self.proc_start = runner.handle.create_time if runner.handle else time.time()
        self.last_done = -1
        self.last_advance = time.monotonic()
        self.per_date: list[float] = []
        self.next_line = time.monotonic() + runner.o.config.progress_every
        # `backfill status` and the dashboards read progress from the state: keep it fresher than the log line
        self.state_every = min(STATE_PROGRESS_EVERY, runner.o.config.progress_every)
        self.next_state = time.monotonic() + self.state_every
        self.stall_reported = False
        self.stop_reason: str | None = None

    def tick(self, p: Progress, n_lines: int) -> str | None:
        o, ph, now = self.r.o, self.r.phase, time.monotonic()
        if p.done != self.last_done:
            if self.last_done >= 0 and p.done > self.last_done:
                self.per_date.append((now - self.last_advance) / (p.done - self.last_done))
                del self.per_date[:-500]
            self.last_done, self.last_advance, self.stall_reported = p.done, now, False
        if o.console is not None:
            o.console.update(ph.name, p)
        if now >= self.next_state and now < self.next_line:
            self.next_state = now + self.state_every
            self.r._snapshot(p, self.rec.attempt, log=False)
        if now >= self.next_line:
            self.next_line = now + o.config.progress_every
            self.next_state = now + self.state_every
            line = self.r._snapshot(p, self.rec.attempt)
            if o.heartbeat.due(now):
                o.send_heartbeat(ph.name, line)
        if o.interrupt:
            return "interrupt"
        if o.st.stop_requested():
            return "stop"
        if ph.timeout and time.time() - self.proc_start > ph.timeout:
            self.stop_reason = f"timed out after {ph.timeout:g}s"
            o.event("timed_out", f"phase {ph.name}: {self.stop_reason}; stopping its process group; "
                    f"{runbook_ref('timed_out')}", phase=ph.name, runbook="timed_out")
            return "timeout"
        limit = stall_threshold(ph.stall_after, self.per_date)
        if now - self.last_advance > limit and not self.stall_reported:
            self.stall_reported = True
            self.stop_reason = f"stalled: no progress for {now - self.last_advance:.0f}s (limit {limit:g}s)"
            o.st.update_phase(ph.name, status="stalled", message=self.stop_reason)
            action = "stopping its process group" if ph.stop_on_stall else "left running (stop_on_stall: false)"
            o.event("stalled", f"phase {ph.name} {self.stop_reason}; {action}; {runbook_ref('stalled')}",
                    phase=ph.name, runbook="stalled", progress=format_progress_line(ph.name, p, utcnow()))
            if ph.stop_on_stall:
                return "stall"
            o.st.update_phase(ph.name, status="running")
        return None


def _last_line(log_path: str | None, start: int) -> str | None:
    """The last non-empty line the attempt wrote (a job's one-line `error: ...`), at most 300 characters."""
    try:
        with open(log_path or "", "rb") as f:
            f.seek(max(start, os.fstat(f.fileno()).st_size - 4096))
            lines = [x.strip() for x in f.read().decode("utf-8", errors="replace").splitlines() if x.strip()]
    except OSError:
        return None
    return lines[-1][:300] if lines else None
