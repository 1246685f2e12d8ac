"""One phase's state machine: pending -> preflight -> running -> validating -> passed | warned | failed, with
stalled / retrying / skipped / stopped. Each step reads the phase's record from the state, does one thing, and
writes the next status before acting on it - so the same code continues a fresh run and a resumed one.

A process is only ever started from `_launch`, which writes `running` + the command line first and the PID right
after; a resumed orchestrator finds the process again by PID + create time + command line (or, when it died
between the two writes, by the BACKFILL_RUN_ID/BACKFILL_PHASE/BACKFILL_ATTEMPT variables in the process's
environment), so a phase never runs twice at once.

Watching an attempt (`_watch`) only observes and returns an AttemptResult; decisions.decide_transition says what
comes next, and `_apply` does it.
"""
from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path
from typing import Callable


from . import process
from .clock import iso_utc, parse_iso
from .commands import card_path, checkpoint_path, dates_file_path, fill_command, phase_dates, phase_log_path, \
    phase_marker
from .config import Phase
from .dates import format_ranges, parse_date, read_date_file, write_date_file
from .decisions import AttemptResult, GateDecision, Step, Transition, backoff_seconds, decide_transition, \
    judge_attempt, stall_threshold
from .errors import BackfillError
from .events import runbook_ref
from .gates import GateRunner
from .repair import open_round, record_gate, step_started
from .process import AdoptRefused, ProcessHandle
from .progress import (AutoParser, FollowPosition, LineParser, LogFollower, Progress, follow, format_progress_line,
                       parser_for, read_into, utcnow)
from .runcontext import RunContext
from .runmodel import PHASE_PROCESS_STATES, EventKind, PhaseStatus, Reason
from .state import PhaseRecord, RunState, now_iso


def date_status(parser: LineParser) -> dict[dt.date, str]:
    """Per-date outcomes the parser saw (empty for formats without per-date lines)."""
    p = parser.chosen if isinstance(parser, AutoParser) else parser
    raw = getattr(p, "dates", None) or {}
    return {d: v[0] for d, v in raw.items()}


class PhaseRunner:
    def __init__(self, ctx: RunContext, phase: Phase, gates: GateRunner):
        self.ctx = ctx
        self.phase = phase
        self.name = phase.name
        self.gates = gates
        self.handle: ProcessHandle | None = None

    @property
    def st(self) -> RunState:
        return self.ctx.state

    def drive(self) -> PhaseStatus | None:
        """Advance until the phase is terminal (its status) or the run must pause (None: signal or stop)."""
        steps: dict[PhaseStatus, Callable[[PhaseRecord], None]] = {
            PhaseStatus.PENDING: self._pending, PhaseStatus.PREFLIGHT: self._preflight,
            PhaseStatus.RUNNING: self._watch, PhaseStatus.STALLED: self._watch,
            PhaseStatus.RETRYING: self._retrying, PhaseStatus.VALIDATING: self._validate}
        while True:
            rec = self.st.phase(self.name)
            if rec.terminal or rec.status == PhaseStatus.REPAIRING:  # a repair round is the orchestrator's to drive
                return rec.status
            # a running phase handles a stop request itself (it stops its process); anything else just pauses
            if self.ctx.interrupt or (self.st.stop_requested() and rec.status not in PHASE_PROCESS_STATES):
                return None
            steps[rec.status](rec)

    def _restart_command(self) -> str:
        return f"backfill restart {self.name} --run {self.ctx.run_id}"

    def _fail(self, message: str, reason: Reason, event: str | None = None, **kw: object) -> None:
        """Record the phase `failed` (with its reason), then say so: the event ends with the runbook anchor."""
        self.st.update_phase(self.name, status=PhaseStatus.FAILED, message=message, reason=reason,
                             ended_at=now_iso())
        self.ctx.event(EventKind.PHASE_FAILED, f"{event or f'phase {self.name}: {message}'}; {runbook_ref(reason)}",
                       phase=self.name, runbook=reason, reason=reason, next_command=self._restart_command(), **kw)

    # --- steps ------------------------------------------------------------------------------------------------
    def full_dates(self) -> list[dt.date]:
        return phase_dates(self.phase, self.ctx.calendar)

    def _dates_from(self, rec: PhaseRecord) -> list[dt.date]:
        dates = phase_dates(self.phase, self.ctx.calendar, parse_date(rec.restart_from) if rec.restart_from else None)
        until = parse_date(rec.restart_to) if rec.restart_to else None
        return [d for d in dates if until is None or d <= until]

    def start_repair(self, dates: list[dt.date], rerun: int, note: str) -> None:
        """Re-run `dates` for a repair round: re-run number `rerun` (a fresh checkpoint: the shared one says these
        dates are done), its own dates file, a fresh retry budget; the gate afterwards covers the whole range."""
        rec = self.st.phase(self.name)
        self._launch(dates, self.ctx.run_dir / f"{self.name}.repair-{rerun}.dates", tries=1,
                     attempt=rec.attempt + 1, rerun=rerun, note=note)

    def _pending(self, rec: PhaseRecord) -> None:
        dates = self._dates_from(rec)
        if not dates:
            self.st.update_phase(self.name, status=PhaseStatus.SKIPPED, message="no dates to run",
                                 reason=Reason.NO_DATES)
            self.ctx.event(EventKind.PHASE_SKIPPED, f"phase {self.name} skipped: no dates to run", phase=self.name,
                           reason=Reason.NO_DATES)
            return
        self.st.update_phase(self.name, total_dates=len(dates), started_at=rec.started_at or now_iso())
        if self.phase.preflight:
            self.st.update_phase(self.name, status=PhaseStatus.PREFLIGHT)
        else:
            self._launch(dates, dates_file_path(self.phase, self.ctx.run_dir), tries=1, attempt=rec.attempt + 1)

    def _preflight(self, rec: PhaseRecord) -> None:
        d = self.gates.run(self.phase, "preflight", self.phase.preflight, self.full_dates(), rec.attempt)
        if d.status == "fail":
            msg = f"pre-flight gate failed: {d.blocking[0] if d.blocking else d.lines[0]}"
            self._fail(msg, Reason.PREFLIGHT_FAILED, f"phase {self.name} not started: {msg}", gate=d.lines)
            return
        self._launch(self._dates_from(rec), dates_file_path(self.phase, self.ctx.run_dir), tries=1,
                     attempt=rec.attempt + 1)

    def _launch(self, dates: list[dt.date], dates_file: Path, tries: int, attempt: int,
                rerun: int | None = None, note: str = "") -> None:
        ctx = self.ctx
        write_date_file(dates_file, dates)
        card_path(ctx.run_dir, self.name).unlink(missing_ok=True)  # an earlier attempt's card is not this one's
        log = phase_log_path(self.phase, ctx.run_dir).resolve()
        log.parent.mkdir(parents=True, exist_ok=True)
        st = log.stat() if log.exists() else None
        # an explicit re-run (restart, repair) gets a checkpoint of its own: the shared one would say "already done"
        new_rerun = rerun
        rerun = self.st.phase(self.name).rerun if rerun is None else rerun
        argv = fill_command(ctx.config, self.phase, ctx.run_dir, dates, dates_file,
                            checkpoint_path(ctx.config, self.phase, ctx.run_dir, rerun))
        # the intent first: a crash after this line is found again by the environment marker
        self.st.update_phase(self.name, status=PhaseStatus.RUNNING, attempt=attempt, tries=tries, pid=None,
                             create_time=None, cmdline=argv, log_path=str(log),
                             attempt_log_start=st.st_size if st else 0, log_inode=st.st_ino if st else None,
                             dates_file=str(dates_file), dates_count=len(dates), exit_code=None, exit_known=None,
                             ended_at=None, retry_at=None, message=None, reason=None,
                             **({"rerun": new_rerun} if new_rerun is not None else {}))
        env = {**self.phase.env, "BACKFILL_PIPELINE": ctx.config.pipeline,
               **phase_marker(ctx.run_id, self.name, attempt)}
        try:
            self.handle = process.launch(argv, log, env=env)
        except BackfillError as e:  # the program is missing or not executable: retrying will not change that
            self.handle = None
            self._fail(f"attempt {attempt}: {e}", Reason.CANNOT_START, log_path=str(log))
            return
        if st is None:
            self.st.update_phase(self.name, log_inode=log.stat().st_ino)
        self.st.update_phase(self.name, pid=self.handle.pid, create_time=self.handle.create_time,
                             cmdline=self.handle.cmdline)
        kind = EventKind.PHASE_STARTED if tries == 1 else EventKind.ATTEMPT_STARTED
        ctx.event(kind, f"phase {self.name} attempt {attempt} started{f' ({note})' if note else ''}: PID "
                  f"{self.handle.pid}, {len(dates)} dates "
                  f"({format_ranges(dates, limit=3)}), log {log}", phase=self.name, log_path=str(log),
                  data={"pid": self.handle.pid, "attempt": attempt, "dates_file": str(dates_file)})

    def record_adoption(self, handle: ProcessHandle, log: Path) -> None:
        dates = self.full_dates()
        dates_file = dates_file_path(self.phase, self.ctx.run_dir)
        write_date_file(dates_file, dates)
        self.st.update_phase(self.name, status=PhaseStatus.RUNNING, attempt=1, tries=1, pid=handle.pid,
                             create_time=handle.create_time, cmdline=handle.cmdline, log_path=str(log),
                             attempt_log_start=0, log_inode=log.stat().st_ino, dates_file=str(dates_file),
                             dates_count=len(dates), total_dates=len(dates), started_at=now_iso())
        self.handle = handle
        self.ctx.event(EventKind.ADOPTED, f"phase {self.name}: adopted PID {handle.pid} ({' '.join(handle.cmdline)}), "
                       f"following {log}; its exit code is unknowable, so completion is judged by the log's "
                       "completion marker and the gate", phase=self.name, log_path=str(log),
                       data={"pid": handle.pid, "create_time": handle.create_time})

    def _reattach(self, rec: PhaseRecord) -> ProcessHandle | None:
        ctx = self.ctx
        if rec.pid is None:
            found = process.find_marked(phase_marker(ctx.run_id, self.name, rec.attempt))
            if found is not None:
                self.st.update_phase(self.name, pid=found.pid, create_time=found.create_time, cmdline=found.cmdline)
                ctx.event(EventKind.READOPTED, f"phase {self.name}: found its unrecorded process PID {found.pid}",
                          phase=self.name)
                return found
            log = Path(rec.log_path) if rec.log_path else None
            if log is not None and log.is_file() and log.stat().st_size > (rec.attempt_log_start or 0):
                # it did start (its output is there) and has ended since: judge it, never start it a second time
                ctx.event(EventKind.ENDED_UNWATCHED, f"phase {self.name}: attempt {rec.attempt} ran (its log grew) "
                          "but its PID was not recorded and it is not running any more; judging it by its log and "
                          "the gate", phase=self.name)
                return None
            ctx.event(EventKind.RELAUNCH, f"phase {self.name}: attempt {rec.attempt} was never started; starting it",
                      phase=self.name)
            self._launch(read_date_file(rec.dates_file), Path(rec.dates_file), rec.tries, rec.attempt)
            return self.handle
        try:
            h = process.adopt(rec.pid, expect_cmdline=rec.cmdline, expect_create_time=rec.create_time)
        except AdoptRefused as e:
            # a job that forked its worker and exited: the worker carries the attempt's marker (inherited
            # environment) and still writes the dates: follow it, never start the attempt a second time
            worker = process.find_marked(phase_marker(ctx.run_id, self.name, rec.attempt))
            if worker is not None:
                self.st.update_phase(self.name, pid=worker.pid, create_time=worker.create_time,
                                     cmdline=worker.cmdline)
                ctx.event(EventKind.READOPTED, f"phase {self.name}: PID {rec.pid} has exited, but its worker PID "
                          f"{worker.pid} runs the same attempt: following it", phase=self.name,
                          data={"pid": worker.pid})
                return worker
            ctx.event(EventKind.ENDED_UNWATCHED, f"phase {self.name}: PID {rec.pid} is not running any more ({e}); "
                      "judging the attempt by its log and the gate", phase=self.name)
            return None
        ctx.event(EventKind.READOPTED, f"phase {self.name}: re-adopted PID {h.pid} (PID, create time and command "
                  "line match)", phase=self.name, data={"pid": h.pid})
        return h

    def _watch(self, rec: PhaseRecord) -> None:
        if self.handle is None or self.handle.pid != rec.pid:
            self.handle = self._reattach(rec)
            rec = self.st.phase(self.name)
            if rec.terminal:  # a relaunch that could not start
                return
        attempt = self._follow(rec)
        self._apply(rec, attempt, decide_transition(attempt, rec.tries, self.phase.retries,
                                                    self.ctx.stop_phases_on_exit))

    def _follow(self, rec: PhaseRecord) -> AttemptResult:
        """Follow the attempt's log until its process ends, is stopped for a stall / timeout, or the run leaves."""
        ctx = self.ctx
        dates = read_date_file(rec.dates_file) if rec.dates_file else self.full_dates()
        follower = LogFollower(rec.log_path, FollowPosition(rec.attempt_log_start or 0, rec.log_inode))
        parser = parser_for(self.phase.progress_format, ctx.config.formats)
        stopped, exit_info, leaving = None, None, None
        try:
            if self.handle is None:
                read_into(follower, parser, final=True)
                progress = parser.snapshot(utcnow())
            else:
                ticker = _Ticker(self, rec)
                result = follow(self.handle, follower, parser, on_tick=ticker.tick,
                                poll=min(ctx.config.poll_interval, 1.0))
                progress, exit_info = result.progress, result.exit
                if result.reason in ("interrupt", "stop"):
                    leaving = result.reason
                elif result.reason:
                    stopped = ticker.stop_kind
                    res = process.stop(self.handle, grace=ctx.stop_grace)
                    exit_info = res.exit
                    read_into(follower, parser, final=True)
                    progress = parser.snapshot(utcnow())
        finally:
            follower.close()
        self._snapshot(progress, rec.attempt)
        if ctx.console is not None:  # the bar shows where the phase ended, not its last poll
            ctx.console.update(self.name, progress)
        outcome = judge_attempt(dates, progress, exit_info, date_status(parser),
                                ticker.stop_text if stopped else None)
        return AttemptResult(rec.attempt, outcome, progress, exit_info, stopped, leaving,
                             _last_line(rec.log_path, rec.attempt_log_start or 0))

    def _apply(self, rec: PhaseRecord, a: AttemptResult, t: Transition) -> None:
        ctx, out = self.ctx, a.outcome
        if t.step in (Step.STOP, Step.LEAVE):
            self._leave(t)
            return
        self.handle = None
        self.st.update_phase(self.name, exit_code=out.exit_code, exit_known=out.exit_known, ended_at=now_iso())
        progress_line = format_progress_line(self.name, a.progress, utcnow())
        if t.step is Step.GATE:
            self.st.update_phase(self.name, status=PhaseStatus.VALIDATING, message=t.message or None)
            if out.ok:
                how = a.exit.describe() if a.exit else "ended unwatched (exit code unknown)"
                ctx.event(EventKind.PHASE_EXITED, f"phase {self.name} attempt {rec.attempt} finished: {how}; log "
                          "complete", phase=self.name, progress=progress_line)
            else:
                ctx.event(EventKind.PHASE_EXITED, f"phase {self.name} attempt {rec.attempt}: {out.reason}, but "
                          "every date is ok or skipped; going to the gate", phase=self.name)
            return
        if t.step is Step.RETRY:
            nxt = rec.attempt + 1
            retry_file = dates_file_path(self.phase, ctx.run_dir, nxt)
            write_date_file(retry_file, out.retry_dates)
            delay = backoff_seconds(self.phase.retry_backoff, rec.tries)
            at = utcnow() + dt.timedelta(seconds=delay)
            self.st.update_phase(self.name, status=PhaseStatus.RETRYING, dates_file=str(retry_file),
                                 dates_count=len(out.retry_dates), retry_at=iso_utc(at), message=t.message,
                                 reason=t.reason)
            ctx.event(EventKind.RETRYING, f"phase {self.name} attempt {rec.attempt} failed ({out.reason}); retry "
                      f"{rec.tries}/{self.phase.retries} of {len(out.retry_dates)} dates "
                      f"({format_ranges(out.retry_dates, limit=3)}) in {delay:.1f}s",
                      phase=self.name, log_path=rec.log_path, reason=t.reason,
                      data={"dates_file": str(retry_file), "attempt": nxt, "failure": t.reason})
            return
        assert t.reason is not None  # a FAIL always says why
        self._fail(t.message, t.reason, log_path=rec.log_path, progress=progress_line)

    def _leave(self, t: Transition) -> None:
        """The orchestrator is leaving (signal) or `backfill stop` asked: record; stop the process if told to."""
        ctx = self.ctx
        if t.step is Step.STOP:
            by_operator = t.reason is Reason.STOPPED_BY_OPERATOR
            # `backfill stop --grace N` records its grace with the request: the operator's word wins
            asked = self.st.run().options.get("stop_grace") if by_operator else None
            grace = ctx.stop_grace if asked is None else float(asked)
            res = process.stop(self.handle, grace=grace)
            why = "stopped by `backfill stop`" if by_operator else f"stopped: orchestrator got {ctx.interrupt}"
            self.st.update_phase(self.name, status=PhaseStatus.STOPPED, message=why, reason=t.reason,
                                 ended_at=now_iso(), exit_code=res.exit.returncode if res.exit else None,
                                 exit_known=bool(res.exit and res.exit.known))
            ctx.event(EventKind.PHASE_STOPPED, f"phase {self.name}: {why} ({res.signal_sent or 'already ended'})",
                      phase=self.name, reason=t.reason, data={"grace": grace, "signal": res.signal_sent})
            self.handle = None
        else:
            ctx.event(EventKind.PHASE_LEFT_RUNNING, f"phase {self.name}: PID {self.handle.pid} left running; "
                      f"`backfill resume {ctx.run_id}` re-adopts it", phase=self.name)

    def _retrying(self, rec: PhaseRecord) -> None:
        at = parse_iso(rec.retry_at) or utcnow()
        while utcnow() < at:
            if self.ctx.interrupt or self.st.stop_requested():
                return
            time.sleep(min(0.5, max(0.0, (at - utcnow()).total_seconds())))
        self._launch(read_date_file(rec.dates_file), Path(rec.dates_file), rec.tries + 1, rec.attempt + 1)

    def _validate(self, rec: PhaseRecord) -> None:
        ctx = self.ctx
        d = self.gates.run(self.phase, "post", self.phase.post, self.full_dates(), rec.attempt)
        if self._to_repair(d):
            return
        unknown = " (exit code unknown: adopted process, judged by its log's completion marker and the gate)" \
            if rec.exit_known is False else ""
        last = self.st.last_progress(self.name)
        progress_text = last.line if last else None
        if d.status == "pass":
            self.st.update_phase(self.name, status=PhaseStatus.PASSED, ended_at=now_iso(),
                                 message=f"gate passed{unknown}", reason=None)
            ctx.event(EventKind.PHASE_PASSED, f"phase {self.name} passed its gate{unknown}", phase=self.name,
                      progress=progress_text)
        elif d.status == "warn":
            self.st.update_phase(self.name, status=PhaseStatus.WARNED, ended_at=now_iso(),
                                 message=f"gate warned: {d.lines[0]}{unknown}", reason=None)
            ctx.event(EventKind.PHASE_WARNED, f"phase {self.name} passed with warnings{unknown}", phase=self.name,
                      gate=d.lines, progress=progress_text)
        else:
            msg = f"gate failed: {d.blocking[0] if d.blocking else d.lines[0]}"
            self._fail(msg, Reason.GATE_FAILED, f"phase {self.name}: {msg}; dependents will not start",
                       gate=d.lines, log_path=rec.log_path, progress=progress_text)

    def _to_repair(self, d: GateDecision) -> bool:
        """Hand the gate's outcome to a repair round (the phase becomes `repairing`; repair.Repairer decides): the
        result of the phase's own step in an open round, or a failure on dates when the phase may be repaired.
        A phase re-run as an upstream step of another phase's round never opens a round of its own."""
        rnd = step_started(self.st, self.name)
        if rnd is not None:
            record_gate(self.st, rnd, self.name, d)
            self.st.update_phase(self.name, status=PhaseStatus.REPAIRING, message=f"repair round {rnd.round}: gate "
                                 f"{d.status} after the re-run")
            return True
        if d.status != "fail" or not d.failing_dates or self.phase.repair_rounds < 1 \
                or self.st.repairing_step(self.name) is not None:
            return False
        rnd = open_round(self.st, self.name, d)
        self.st.update_phase(self.name, status=PhaseStatus.REPAIRING, reason=Reason.GATE_FAILED,
                             message=f"gate failed on {len(d.failing_dates)} dates "
                             f"({format_ranges(d.failing_dates, limit=3)}); repair round 1 of "
                             f"{self.phase.repair_rounds}")
        self.ctx.event(EventKind.GATE_RESULT, f"phase {self.name}: gate failed on {len(d.failing_dates)} dates; "
                       f"planning repair round 1 of {self.phase.repair_rounds}", phase=self.name, gate=d.lines,
                       data={"kind": "post", "status": "fail", "repair_session": rnd.session})
        return True

    def _usage(self) -> tuple[float | None, int | None]:
        """CPU % and RSS of the phase's process group while it runs; unknown (None) once it has ended."""
        if self.handle is None:
            return None, None
        cpu, rss = process.usage(self.handle)
        return (cpu, rss) if rss else (None, None)

    def _snapshot(self, p: Progress, attempt: int | None, *, log: bool = True) -> str:
        line = format_progress_line(self.name, p, utcnow())
        cpu, rss = self._usage()
        self.st.add_progress(self.name, attempt, done=p.done, total=p.total, ok=p.ok, failed=p.failed,
                             skipped=p.skipped, records=p.records, rate=p.rate_per_min,
                             eta=iso_utc(p.eta) if p.eta else None, cpu=cpu, rss=rss, line=line)
        if log and self.ctx.log is not None:
            self.ctx.log.line(line, stamped=True)
        return line


STATE_PROGRESS_EVERY = 10.0  # seconds between progress snapshots written to the state (status, metrics)


class _Ticker:
    """on_tick of progress.follow: progress lines, console, stall / timeout / stop / signal checks."""

    def __init__(self, runner: PhaseRunner, rec: PhaseRecord):
        self.r = runner
        self.rec = rec
        cfg = runner.ctx.config
        self.started = time.monotonic()
        self.proc_start = runner.handle.create_time if runner.handle else time.time()
        self.last_done = -1
        self.last_advance = time.monotonic()
        self.per_date: list[float] = []
        self.next_line = time.monotonic() + cfg.progress_every
        # `backfill status` and the dashboards read progress from the state: keep it fresher than the log line
        self.state_every = min(STATE_PROGRESS_EVERY, cfg.progress_every)
        self.next_state = time.monotonic() + self.state_every
        self.stall_reported = False
        self.stop_kind: Reason | None = None  # STALLED / TIMED_OUT once the ticker asks to stop the process
        self.stop_text: str | None = None

    def tick(self, p: Progress, _n_lines: int) -> str | None:
        ctx, ph, now = self.r.ctx, self.r.phase, time.monotonic()
        st = ctx.state
        if p.done != self.last_done:
            if self.last_done >= 0 and p.done > self.last_done:
                self.per_date.append((now - self.last_advance) / (p.done - self.last_done))
                del self.per_date[:-500]
            self.last_done, self.last_advance, self.stall_reported = p.done, now, False
        if ctx.console is not None:
            ctx.console.update(ph.name, p)
        if now >= self.next_state and now < self.next_line:
            self.next_state = now + self.state_every
            self.r._snapshot(p, self.rec.attempt, log=False)
        if now >= self.next_line:
            self.next_line = now + ctx.config.progress_every
            self.next_state = now + self.state_every
            line = self.r._snapshot(p, self.rec.attempt)
            if ctx.heartbeat.due(now):
                ctx.send_heartbeat(ph.name, line)
        if ctx.interrupt:
            return "interrupt"
        if st.stop_requested():
            return "stop"
        if ph.timeout and time.time() - self.proc_start > ph.timeout:
            self.stop_kind, self.stop_text = Reason.TIMED_OUT, f"timed out after {ph.timeout:g}s"
            ctx.event(EventKind.TIMED_OUT, f"phase {ph.name}: {self.stop_text}; stopping its process group; "
                      f"{runbook_ref(Reason.TIMED_OUT)}", phase=ph.name, runbook=Reason.TIMED_OUT,
                      reason=Reason.TIMED_OUT)
            return "timeout"
        limit = stall_threshold(ph.stall_after, self.per_date)
        if now - self.last_advance > limit and not self.stall_reported:
            self.stall_reported = True
            text = f"stalled: no progress for {now - self.last_advance:.0f}s (limit {limit:g}s)"
            st.update_phase(ph.name, status=PhaseStatus.STALLED, message=text, reason=Reason.STALLED)
            action = "stopping its process group" if ph.stop_on_stall else "left running (stop_on_stall: false)"
            ctx.event(EventKind.STALLED, f"phase {ph.name} {text}; {action}; {runbook_ref(Reason.STALLED)}",
                      phase=ph.name, runbook=Reason.STALLED, reason=Reason.STALLED,
                      progress=format_progress_line(ph.name, p, utcnow()))
            if ph.stop_on_stall:
                self.stop_kind, self.stop_text = Reason.STALLED, text
                return "stall"
            st.update_phase(ph.name, status=PhaseStatus.RUNNING, reason=None)
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
