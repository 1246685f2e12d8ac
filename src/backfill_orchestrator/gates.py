"""A phase's validation gates: run its suites on the warehouse over the phase's dates, record each result, decide.

A gate that cannot run (warehouse unreachable, a table or column missing, the driver's own error) is an ERROR
of that gate - failing when critical - never a crash of the run.

`evaluate_gates` is the part that needs no run (a repair's dry run probes upstream gates on a few dates with it);
`GateRunner` adds the run's journal: each result recorded in the state and said as an event.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable, Mapping

from .config import Gate, Phase, PipelineConfig
from .dates import Calendar
from .decisions import GateDecision, decide_gates, error_gate, merge
from .errors import BackfillError, ColumnNotFound, TableNotFound, UsageError
from .events import runbook_ref
from .runcontext import RunContext
from .runmodel import EventKind, Reason

if TYPE_CHECKING:
    from .validation import Suite

# (gate, status, SuiteResult | {"error": message}) for each gate as it is decided
OnResult = Callable[[Gate, str, Any], None]


def unreachable_message(e: Exception) -> str:
    why = str(e) if isinstance(e, BackfillError) else f"{type(e).__name__}: {e}"
    return f"warehouse unreachable: {why}; {runbook_ref(Reason.WAREHOUSE_UNREACHABLE)}"


def evaluate_gates(config: PipelineConfig, calendar: Calendar | None, suites: Mapping[str, Suite],
                   gates: tuple[Gate, ...], dates: list[dt.date], on_result: OnResult | None = None,
                   on_start: Callable[[Gate], None] | None = None,
                   labels: Mapping[str, object] | None = None) -> GateDecision:
    """Run `gates` over min(dates)..max(dates) and decide. No gates or no dates: a pass. `labels` go on every
    BigQuery job the gates run (cost attribution in INFORMATION_SCHEMA.JOBS, docs/bigquery.md)."""
    if not gates or not dates:
        return GateDecision("pass", [], [])
    # heavy (DuckDB, the BigQuery client): imported by runs that have a gate to run, not by every command
    from .validation import run_suite
    from .warehouse import open_warehouse

    start, end = min(dates), max(dates)
    try:
        wh = open_warehouse(config.warehouse)
    except Exception as e:  # the driver's own errors too (DuckDB file locked, network down): a gate ERROR
        msg = unreachable_message(e)
        for g in gates:
            if on_result is not None:
                on_result(g, "error", {"error": msg})
        return merge([error_gate(g.suite, msg, g.severity) for g in gates])
    if labels and getattr(wh, "dialect", "") == "bigquery":
        from .warehouse.bigquery import job_labels  # already imported: this warehouse is BigQuery

        wh.labels.update(job_labels({**labels, "first_date": start, "last_date": end}))  # type: ignore[attr-defined]
    decisions = []
    try:
        for g in gates:
            suite = suites[g.suite]
            if g.table:
                suite = replace(suite, table=g.table)
            if on_start is not None:
                on_start(g)
            try:
                res = run_suite(wh, suite, start, end, calendar=calendar)
            except Exception as e:  # a gate that cannot run is an ERROR of that gate, never a crash of the run
                msg = str(e) if isinstance(e, (TableNotFound, ColumnNotFound, UsageError)) else \
                    f"warehouse error: {e if isinstance(e, BackfillError) else f'{type(e).__name__}: {e}'}; " \
                    f"{runbook_ref(Reason.WAREHOUSE_UNREACHABLE)}"
                decisions.append(error_gate(g.suite, msg, g.severity))
                if on_result is not None:
                    on_result(g, "error", {"error": msg})
                continue
            decisions.append(decide_gates([(g.severity, res)]))
            if on_result is not None:
                on_result(g, str(getattr(res.gate_status, "value", res.gate_status)), res)
    finally:
        wh.close()
    return merge(decisions)


class GateRunner:
    def __init__(self, ctx: RunContext, suites: dict[str, Suite]):
        self.ctx = ctx
        self.suites = suites

    def run(self, phase: Phase, kind: str, gates: tuple[Gate, ...], dates: list[dt.date],
            attempt: int | None) -> GateDecision:
        """`kind`: preflight | post. Each result is recorded in the state and said as a gate_result event."""
        ctx, st = self.ctx, self.ctx.state
        if gates and dates:
            start, end = min(dates), max(dates)
        unreachable: list[str] = []

        def started(g: Gate) -> None:
            ctx.event(EventKind.GATE_STARTED, f"phase {phase.name}: {kind} gate {g.suite} over {start}..{end}",
                      phase=phase.name)

        def result(g: Gate, status: str, res: Any) -> None:
            st.add_gate(phase.name, kind, g.suite, g.severity, attempt, status, res)
            if isinstance(res, dict):
                if res["error"].startswith("warehouse unreachable"):
                    unreachable.append(res["error"])
                return
            ctx.event(EventKind.GATE_RESULT, f"phase {phase.name}: {kind} gate {g.suite} {status.upper()}",
                      phase=phase.name, gate=decide_gates([(g.severity, res)]).lines,
                      data={"kind": kind, "status": status})

        decision = evaluate_gates(ctx.config, ctx.calendar, self.suites, gates, dates, result, started,
                                  {"pipeline": ctx.config.pipeline, "run_id": ctx.run_id, "phase": phase.name,
                                   "job": f"gate_{kind}"})
        if unreachable:
            ctx.event(EventKind.GATE_RESULT, f"phase {phase.name}: {kind} gates could not run: {unreachable[0]}",
                      phase=phase.name, runbook=Reason.WAREHOUSE_UNREACHABLE, reason=Reason.WAREHOUSE_UNREACHABLE,
                      data={"kind": kind, "status": "error"})
        return decision
