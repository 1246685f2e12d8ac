"""Gate-driven repair: when a phase's post gate fails on dates, re-run only those dates - upstream first - and
gate again, instead of stopping the night.

A round (one row of the state's `repairs` table, written before it is acted on):
  planned  -> the failing dates are known (PhaseRunner._validate opened the round and set the phase `repairing`)
  running  -> the plan is written: source gaps found, upstream gates probed on the failing dates, the steps (phase,
              dates, why) in pipeline order; each step is marked `started` (with the re-run number it launches)
              before its phase is launched, and `done` once that phase passed its own gate again
  gated    -> the target re-ran its dates and its gate ran over its whole range again
  then one of: passed | warned (the target succeeds, dependents go on), not_converged (a round that does not
  reduce the failing dates ends the repair), exhausted (`max_rounds` used), source_gap (the dates lack raw data a
  re-run cannot create: refill first, then `backfill repair`), failed (a phase the round re-ran failed).

Because every step is a state transition, `kill -9` during a round is continued by `backfill resume` like any other
phase: a step whose phase is still running is re-adopted, a finished one is judged, an unstarted one is launched.
The planning rules themselves are in repair_plan.py.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable, Mapping, Protocol, Sequence

from .config import Gate, Phase, PipelineConfig
from .dates import Calendar, format_ranges, parse_date
from .decisions import GateDecision
from .errors import UsageError
from .events import runbook_ref
from .gates import evaluate_gates
from .repair_plan import RepairPlan, downstream, plan_steps, refill_hint, relevant_sources, upstream
from .runcontext import RunContext
from .runmodel import BLOCKING_SKIPS, PHASE_SUCCEEDED, EventKind, PhaseStatus, Reason, RunStatus
from .state import RepairRecord, RepairStep, RunState, now_iso

if TYPE_CHECKING:
    from .validation import Suite


class StepRunner(Protocol):
    """What a round needs of a phase's runner (phase_runner.PhaseRunner, which imports this module)."""

    def drive(self) -> PhaseStatus | None: ...

    def start_repair(self, dates: list[dt.date], rerun: int, note: str) -> None: ...


def allowed_rounds(phase: Phase) -> int:
    """`repair: {max_rounds}`; an explicit `backfill repair` gets one round even where the config sets none."""
    return max(1, phase.repair_rounds)


def _iso(dates: object) -> list[str]:
    return [str(d) for d in sorted(dates)]  # type: ignore[call-overload]


def _dates(values: list[str] | None) -> list[dt.date]:
    return [parse_date(v) for v in values or []]


# --- planning (reads the warehouse, writes nothing) -------------------------------------------------------------
def source_gaps(config: PipelineConfig, calendar: Calendar | None, target: str, suites: Mapping[str, Suite],
                dates: list[dt.date]) -> dict[str, list[dt.date]]:
    """Declared sources the target's chain reads that have no rows on some of `dates` where their
    `expected_from` table has: {source table: those dates}."""
    from .validation.suite import Bound, Check, Loc, Ref, Suite as SuiteModel, Threshold

    out: dict[str, list[dt.date]] = {}
    wanted = set(dates)
    for src in relevant_sources(config, suites, target):
        # one completeness check of the source against its expectation: its failing dates are the gap
        check = Check(name="has_rows_where_expected", type="completeness", severity="critical",
                      loc=Loc(str(config.path), 0, f"sources.{src.table}"),
                      threshold=Threshold(max=Bound(0, False)),  # any missing date fails: its dates are the gap
                      compare_to=Ref(src.expected_from or "", src.expected_date_column or src.date_column))
        probe = SuiteModel(name=f"source {src.table}", table=src.table, date_column=src.date_column,
                           checks=(check,), file=str(config.path))
        d = evaluate_gates(config, calendar, {probe.name: probe}, (Gate(suite=probe.name),), dates)
        missing = sorted(set(d.failing_dates) & wanted)
        if missing:
            out[src.table] = missing
    return out


def make_plan(config: PipelineConfig, calendar: Calendar | None, suites: Mapping[str, Suite], st: RunState,
              target: str, failing: list[dt.date], checks: list[str], round_no: int,
              dates_of: Callable[[str], list[dt.date]]) -> RepairPlan:
    """Which of the failing dates are source gaps, which upstream phases fail there too, and what re-runs."""
    phase = config.phase(target)
    gaps = source_gaps(config, calendar, target, suites, failing)
    gap_dates = {d for ds in gaps.values() for d in ds}
    todo = [d for d in failing if d not in gap_dates]
    bad: dict[str, list[dt.date]] = {}
    probes: list[str] = []
    if todo:
        for u in upstream(config, target):
            up = config.phase(u)
            if not up.post:
                continue
            d = evaluate_gates(config, calendar, suites, up.post, todo)
            names = sorted(set(d.failing_dates) & set(todo))
            if names:
                bad[u] = names
                probes.append(f"{u}: gate FAILS on {len(names)} of the dates ({format_ranges(names, limit=4)})")
            else:
                probes.append(f"{u}: gate {'fails only on checks that name no date' if d.status == 'fail' else 'sound'}"
                              f" on those dates")
    ran = {p.name for p in st.phases() if p.status in PHASE_SUCCEEDED}
    steps = plan_steps(config, calendar, target, todo, bad, ran, {p.name: dates_of(p.name) for p in config.phases})
    hints = {t: refill_hint(s, gaps[t]) for s in config.sources for t in [s.table] if t in gaps}
    return RepairPlan(target, round_no, allowed_rounds(phase), tuple(failing), tuple(checks),
                      {k: tuple(v) for k, v in gaps.items()}, hints, tuple(probes), tuple(steps))


# --- driving a round (writes the state, launches phases) ---------------------------------------------------------
class Repairer:
    def __init__(self, ctx: RunContext, suites: Mapping[str, Suite], runner: Callable[[str], StepRunner],
                 dates_of: Callable[[str], list[dt.date]]):
        self.ctx = ctx
        self.suites = suites
        self.runner = runner
        self._dates_of = dates_of  # a phase's dates (commands.phase_dates with the run's calendar)

    @property
    def st(self) -> RunState:
        return self.ctx.state

    def advance(self, target: str) -> PhaseStatus | None:
        """Drive the target's open repair round(s) until the target is terminal (its status) or the run must
        pause (None)."""
        while True:
            rec = self.st.phase(target)
            if rec.status != PhaseStatus.REPAIRING:
                return rec.status if rec.terminal else None
            rnd = self.st.open_repair(target)
            if rnd is None:  # cannot happen through the runner; a hand-edited state must not loop forever
                self._end(target, None, "failed", Reason.REPAIR_FAILED, "repairing, but no repair round is open")
                continue
            if self.ctx.interrupt or self.st.stop_requested():
                return None
            if rnd.status == "planned":
                self._plan(rnd)
            elif rnd.status == "running":
                if not self._run_steps(rnd):
                    return None
            elif rnd.status == "gated":
                self._judge(rnd)

    # planned -> running | source_gap
    def _plan(self, rnd: RepairRecord) -> None:
        ctx = self.ctx
        plan = make_plan(ctx.config, ctx.calendar, self.suites, self.st, rnd.phase, _dates(rnd.before), rnd.checks,
                         rnd.round, self._dates_of)
        gaps = {t: _iso(ds) for t, ds in plan.gaps.items()}
        steps = [RepairStep(s.phase, _iso(s.dates), s.why) for s in plan.steps]
        if plan.gaps:
            self._say_gap(rnd, plan)
        if not any(s.phase == rnd.phase for s in plan.steps):
            # nothing of the target's own is repairable: its failing dates are all source gaps
            self.st.update_repair(rnd.id, gaps=gaps, steps=steps)
            self._end(rnd.phase, rnd, "source_gap", Reason.SOURCE_GAP, self._gap_message(plan.gaps))
            return
        self.st.update_repair(rnd.id, status="running", gaps=gaps, steps=steps)
        ctx.event(EventKind.REPAIR_STARTED, f"phase {rnd.phase}: repair round {rnd.round}/{plan.max_rounds}: gate "
                  f"failed on {len(plan.failing)} dates ({format_ranges(plan.failing, limit=4)}); re-running "
                  + "; ".join(f"{s.phase} on {len(s.dates)} dates ({format_ranges(s.dates, limit=3)}): {s.why}"
                              for s in plan.steps), phase=rnd.phase,
                  data={"round": rnd.round, "steps": [{"phase": s.phase, "dates": len(s.dates), "why": s.why}
                                                      for s in plan.steps], "probes": list(plan.probes)})

    def _run_steps(self, rnd: RepairRecord) -> bool:
        """Launch and drive each step in order; False when the run must pause. Ends the round `failed` when a
        re-run phase fails; the target's own step ends with the round `gated` (PhaseRunner._validate)."""
        for i, step in enumerate(rnd.steps):
            if step.status == "done":
                continue
            runner = self.runner(step.phase)
            rec = self.st.phase(step.phase)
            if step.status == "pending" or rec.rerun < (step.rerun or 0):
                rerun = rec.rerun + 1
                steps = list(rnd.steps)
                steps[i] = replace(step, status="started", rerun=rerun)
                rnd = self.st.update_repair(rnd.id, steps=steps)  # the intent first: resume knows what it launched
                runner.start_repair(_dates(step.dates), rerun, f"repair round {rnd.round} of {rnd.phase}")
            status = runner.drive()
            if status is None or self.st.stop_requested():  # the run pauses; `backfill resume` continues the round
                return False
            if step.phase == rnd.phase:
                if status == PhaseStatus.REPAIRING:  # gated: _judge decides
                    return True
                self._end(rnd.phase, self.st.repair(rnd.id), "failed", Reason.REPAIR_FAILED,
                          f"repair round {rnd.round}: re-running its {len(step.dates)} dates failed: "
                          f"{self.st.phase(step.phase).message}")
                return True
            if status not in PHASE_SUCCEEDED:
                self._end(rnd.phase, self.st.repair(rnd.id), "failed", Reason.REPAIR_FAILED,
                          f"repair round {rnd.round}: {step.phase} failed while re-running "
                          f"{format_ranges(_dates(step.dates), limit=3)}: {self.st.phase(step.phase).message}")
                return True
            rnd = self.st.repair(rnd.id)
            steps = list(rnd.steps)
            steps[i] = replace(steps[i], status="done")
            rnd = self.st.update_repair(rnd.id, steps=steps)
        return True

    # gated -> passed | warned | next round | not_converged | exhausted | source_gap
    def _judge(self, rnd: RepairRecord) -> None:
        before, after = _dates(rnd.before), _dates(rnd.after)
        limit = allowed_rounds(self.ctx.config.phase(rnd.phase))
        rerun = sum(len(s.dates) for s in rnd.steps)
        if rnd.gate_status in ("pass", "warn"):
            status = "passed" if rnd.gate_status == "pass" else "warned"
            self._end(rnd.phase, rnd, status, None, f"gate {'passed' if status == 'passed' else 'warned'} after "
                      f"repair round {rnd.round}: failing dates {len(before)} -> 0 ({rerun} dates re-run in "
                      f"{len(rnd.steps)} phase{'s' if len(rnd.steps) != 1 else ''})")
            return
        gaps = {t: _dates(ds) for t, ds in rnd.gaps.items()}
        if after and set(after) <= {d for ds in gaps.values() for d in ds}:
            self._end(rnd.phase, rnd, "source_gap", Reason.SOURCE_GAP, self._gap_message(gaps))
            return
        if len(after) >= len(before):
            self._end(rnd.phase, rnd, "not_converged", Reason.REPAIR_NOT_CONVERGED,
                      f"repair round {rnd.round} did not reduce the failing dates ({len(before)} -> {len(after)}: "
                      f"{format_ranges(after, limit=5)})" + ("" if after else "; the gate fails on checks that name "
                                                             "no date"))
            return
        if rnd.round >= limit:
            self._end(rnd.phase, rnd, "exhausted", Reason.REPAIR_EXHAUSTED,
                      f"{limit} repair round{'s' if limit != 1 else ''} used; still failing on {len(after)} dates "
                      f"({format_ranges(after, limit=5)})")
            return
        self._finish_round(rnd, "not_passed", None, f"round {rnd.round}: failing dates {len(before)} -> {len(after)}")
        self.st.add_repair(rnd.phase, rnd.session, rnd.round + 1, rnd.after or [], rnd.checks)

    # --- endings ------------------------------------------------------------------------------------------------
    def _finish_round(self, rnd: RepairRecord, status: str, reason: Reason | None, message: str) -> None:
        self.st.update_repair(rnd.id, status=status, ended_at=now_iso(), message=message, reason=reason)
        self.ctx.event(EventKind.REPAIR_FINISHED, f"phase {rnd.phase}: repair round {rnd.round} {status}: {message}",
                       phase=rnd.phase, reason=reason,
                       data={"round": rnd.round, "status": status, "before": len(rnd.before),
                             "after": None if rnd.after is None else len(rnd.after)})

    def _end(self, target: str, rnd: RepairRecord | None, status: str, reason: Reason | None, message: str) -> None:
        """Close the round and make the target terminal: passed / warned, or failed with `reason`."""
        if rnd is not None:
            self._finish_round(rnd, status, reason, message)
        ctx = self.ctx
        if reason is None:
            final = PhaseStatus.PASSED if status == "passed" else PhaseStatus.WARNED
            self.st.update_phase(target, status=final, ended_at=now_iso(), message=message, reason=None)
            kind = EventKind.PHASE_PASSED if final == PhaseStatus.PASSED else EventKind.PHASE_WARNED
            verb = "passed its gate" if final == PhaseStatus.PASSED else "passed with warnings"
            ctx.event(kind, f"phase {target} {verb} after repair: {message}", phase=target)
            return
        self.st.update_phase(target, status=PhaseStatus.FAILED, ended_at=now_iso(), message=message, reason=reason)
        nxt = f"backfill repair {ctx.run_id}" if reason == Reason.SOURCE_GAP else \
            f"backfill restart {target} --run {ctx.run_id}"
        ctx.event(EventKind.PHASE_FAILED, f"phase {target}: {message}; dependents will not start; "
                  f"{runbook_ref(reason)}", phase=target, runbook=reason, reason=reason, next_command=nxt)

    def _say_gap(self, rnd: RepairRecord, plan: RepairPlan) -> None:
        self.ctx.event(EventKind.SOURCE_GAP, f"phase {rnd.phase}: {self._gap_message(plan.gaps)}", phase=rnd.phase,
                       reason=Reason.SOURCE_GAP, runbook=Reason.SOURCE_GAP,
                       data={"gaps": {t: _iso(ds) for t, ds in plan.gaps.items()}, "refill": dict(plan.hints)},
                       next_command=f"backfill repair {self.ctx.run_id}")

    def _gap_message(self, gaps: Mapping[str, Sequence[dt.date]]) -> str:
        parts = []
        for table, dates in gaps.items():
            src = next(s for s in self.ctx.config.sources if s.table == table)
            hint = refill_hint(src, dates)
            parts.append(f"source gap: {table} has no rows on {len(dates)} dates ({format_ranges(dates, limit=4)}) "
                         f"where {src.expected_from} has" + (f"; refill: {hint}" if hint else ""))
        return "; ".join(parts) + f"; a re-run cannot fix that: refill the source, then `backfill repair " \
            f"{self.ctx.run_id}`"


def open_round(st: RunState, phase: str, decision: GateDecision) -> RepairRecord:
    """The first round of a new repair session of `phase` (its gate just failed on `decision.failing_dates`). A
    round left open by a crash before the phase was marked `repairing` is closed first: this one replaces it."""
    close_open_rounds(st, phase, "replaced: the gate ran again before the round started")
    sessions = [r.session for r in st.repairs(phase)]
    return st.add_repair(phase, max(sessions, default=0) + 1, 1, _iso(decision.failing_dates), list(decision.blocking))


def record_gate(st: RunState, rnd: RepairRecord, phase: str, decision: GateDecision) -> None:
    """The target re-ran its dates and its gate ran over its whole range: its step is done, the round `gated`."""
    steps = [replace(s, status="done") if s.phase == phase else s for s in rnd.steps]
    st.update_repair(rnd.id, status="gated", steps=steps, gate_status=decision.status,
                     after=_iso(decision.failing_dates))


def step_started(st: RunState, phase: str) -> RepairRecord | None:
    """The open round of `phase` whose own re-run step has started (its gate result then belongs to that round)."""
    rnd = st.open_repair(phase)
    # `gated` too: a crash between recording the gate and marking the phase `repairing` gates it again
    if rnd is not None and rnd.status in ("running", "gated") and \
            any(s.phase == phase and s.status in ("started", "done") for s in rnd.steps):
        return rnd
    return None



def close_open_rounds(st: RunState, phase: str, why: str) -> None:
    """A phase reset or stopped mid-repair: its open round ends (`abandoned`), so a later gate failure of the phase
    opens a round of its own instead of being taken for that round's result."""
    for r in st.repairs(phase):
        if r.open:
            st.update_repair(r.id, status="abandoned", ended_at=now_iso(), message=why)


def repaired_summary(st: RunState) -> str:
    """`; repaired: player_game_summary (1 round, 36 dates re-run)` for the run's last line, or ''. Counts the
    phase's last repair session (a `backfill repair` after a source gap is a session of its own)."""
    last: dict[str, list[RepairRecord]] = {}
    for r in st.repairs():
        if r.phase not in last or last[r.phase][0].session != r.session:
            last[r.phase] = []
        last[r.phase].append(r)
    parts = []
    for phase, rounds in last.items():
        if rounds[-1].status in ("passed", "warned"):
            dates = sum(len(s.dates) for r in rounds for s in r.steps)
            parts.append(f"{phase} ({len(rounds)} round{'s' if len(rounds) != 1 else ''}, {dates} dates re-run)")
    return f"; repaired: {', '.join(parts)}" if parts else ""


# --- `backfill repair`: the same after the fact, on a run whose gate failed -------------------------------------
_REPAIRABLE = frozenset({Reason.GATE_FAILED, Reason.SOURCE_GAP, Reason.REPAIR_NOT_CONVERGED, Reason.REPAIR_EXHAUSTED,
                         Reason.REPAIR_FAILED})
_VERB = {"pass": "passes", "warn": "warns", "fail": "fails"}


@dataclass(frozen=True)
class RepairPreview:
    """What `backfill repair` found: the target's gate now, over its whole range, and the first round's plan."""
    run_id: str
    target: str
    gate_status: str  # pass | warn | fail, judged now
    undated: tuple[str, ...] = ()  # failing checks that name no date
    plan: RepairPlan | None = None

    def text(self) -> str:
        if self.plan is None:
            if self.gate_status != "fail":
                return f"run {self.run_id}: {self.target}'s gate {_VERB[self.gate_status]} now: nothing to repair"
            return (f"run {self.run_id}: {self.target}'s gate fails only on checks that name no date, which a repair "
                    f"cannot target: {'; '.join(self.undated[:3])}")
        return f"run {self.run_id}: " + self.plan.text()


def find_target(st: RunState) -> str:
    """The first phase, in pipeline order, that failed on its gate (or on a repair of it)."""
    for p in st.phases():
        if p.status == PhaseStatus.FAILED and p.reason in _REPAIRABLE:
            return p.name
    states = ", ".join(f"{p.name}={p.status}" for p in st.phases())
    raise UsageError(f"run {st.run().id}: no phase failed its gate ({states}); nothing to repair")


def preview_repair(st: RunState, config: PipelineConfig, suites: Mapping[str, Suite],
                   dates_of: Callable[[str], list[dt.date]], target: str | None = None) -> RepairPreview:
    """Gate the target again over its whole range (the source may have been refilled since) and plan round 1.
    Reads the warehouse; writes nothing."""
    calendar = config.calendar()
    name = target or find_target(st)
    phase = config.phase(name)
    d = evaluate_gates(config, calendar, suites, phase.post, dates_of(name))
    run_id = st.run().id
    if d.status != "fail" or not d.failing_dates:
        return RepairPreview(run_id, name, d.status, d.undated)
    plan = make_plan(config, calendar, suites, st, name, list(d.failing_dates), list(d.blocking), 1, dates_of)
    return RepairPreview(run_id, name, d.status, d.undated, plan)


def prepare_repair(st: RunState, config: PipelineConfig, preview: RepairPreview) -> None:
    """Set the run up to repair (the orchestrator's resume then drives the round): a new repair session of the
    target, or - when its gate passes now - the target passed; the dependents it kept from starting go back to
    pending."""
    if preview.gate_status == "fail" and preview.plan is None:
        raise UsageError(preview.text())
    target = preview.target
    close_open_rounds(st, target, "superseded by `backfill repair`")
    if preview.plan is None:
        final = PhaseStatus.PASSED if preview.gate_status == "pass" else PhaseStatus.WARNED
        st.update_phase(target, status=final, reason=None, ended_at=now_iso(),
                        message=f"gate {_VERB[preview.gate_status]} when checked again by `backfill repair`")
    else:
        sessions = [r.session for r in st.repairs(target)]
        st.add_repair(target, max(sessions, default=0) + 1, 1, _iso(preview.plan.failing), list(preview.plan.checks))
        st.update_phase(target, status=PhaseStatus.REPAIRING, reason=Reason.GATE_FAILED, ended_at=None,
                        message=f"`backfill repair`: gate fails on {len(preview.plan.failing)} dates")
    for name in downstream(config, [target]):
        rec = st.phase(name)
        if rec.status == PhaseStatus.SKIPPED and rec.reason in BLOCKING_SKIPS:
            st.update_phase(name, status=PhaseStatus.PENDING, reason=None, message=f"waiting for {target}'s repair")
    st.update_run(status=RunStatus.RUNNING, ended_at=None, exit_code=None, stop_requested=0, reason=None)
