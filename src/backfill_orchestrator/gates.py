"""A phase's validation gates: run its suites on the warehouse over the phase's dates, record each result, decide.

A gate that cannot run (warehouse unreachable, a table or column missing, the driver's own error) is an ERROR
of that gate - failing when critical - never a crash of the run.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import TYPE_CHECKING

from .config import Gate, Phase
from .decisions import GateDecision, decide_gates, error_gate, merge
from .errors import BackfillError, ColumnNotFound, TableNotFound, UsageError
from .events import runbook_ref
from .runcontext import RunContext
from .runmodel import EventKind, Reason

if TYPE_CHECKING:
    from .validation import Suite


class GateRunner:
    def __init__(self, ctx: RunContext, suites: dict[str, Suite]):
        self.ctx = ctx
        self.suites = suites

    def run(self, phase: Phase, kind: str, gates: tuple[Gate, ...], dates: list[dt.date],
            attempt: int | None) -> GateDecision:
        """`kind`: preflight | post. No gates or no dates: a pass."""
        if not gates or not dates:
            return GateDecision("pass", [], [])
        # heavy (DuckDB, the BigQuery client): imported by runs that have a gate to run, not by every command
        from .validation import run_suite
        from .warehouse import open_warehouse

        ctx, st = self.ctx, self.ctx.state
        start, end = min(dates), max(dates)
        decisions = []
        try:
            wh = open_warehouse(ctx.config.warehouse)
        except Exception as e:  # the driver's own errors too (DuckDB file locked, network down): a gate ERROR
            why = str(e) if isinstance(e, BackfillError) else f"{type(e).__name__}: {e}"
            msg = f"warehouse unreachable: {why}; {runbook_ref(Reason.WAREHOUSE_UNREACHABLE)}"
            for g in gates:
                st.add_gate(phase.name, kind, g.suite, g.severity, attempt, "error", {"error": msg})
            ctx.event(EventKind.GATE_RESULT, f"phase {phase.name}: {kind} gates could not run: {msg}",
                      phase=phase.name, runbook=Reason.WAREHOUSE_UNREACHABLE, reason=Reason.WAREHOUSE_UNREACHABLE,
                      data={"kind": kind, "status": "error"})
            return merge([error_gate(g.suite, msg, g.severity) for g in gates])
        try:
            for g in gates:
                suite = self.suites[g.suite]
                if g.table:
                    suite = replace(suite, table=g.table)
                ctx.event(EventKind.GATE_STARTED, f"phase {phase.name}: {kind} gate {g.suite} over {start}..{end}",
                          phase=phase.name)
                try:
                    res = run_suite(wh, suite, start, end, calendar=ctx.calendar)
                except Exception as e:  # a gate that cannot run is an ERROR of that gate, never a crash of the run
                    msg = str(e) if isinstance(e, (TableNotFound, ColumnNotFound, UsageError)) else \
                        f"warehouse error: {e if isinstance(e, BackfillError) else f'{type(e).__name__}: {e}'}; " \
                        f"{runbook_ref(Reason.WAREHOUSE_UNREACHABLE)}"
                    st.add_gate(phase.name, kind, g.suite, g.severity, attempt, "error", {"error": msg})
                    decisions.append(error_gate(g.suite, msg, g.severity))
                    continue
                status = str(getattr(res.gate_status, "value", res.gate_status))
                st.add_gate(phase.name, kind, g.suite, g.severity, attempt, status, res)
                decisions.append(decide_gates([(g.severity, res)]))
                ctx.event(EventKind.GATE_RESULT, f"phase {phase.name}: {kind} gate {g.suite} {status.upper()}",
                          phase=phase.name, gate=decisions[-1].lines, data={"kind": kind, "status": status})
        finally:
            wh.close()
        return merge(decisions)
