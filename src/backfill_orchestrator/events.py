"""What happened during a run, as records: written to the state journal, the run log and the notifiers.

Every failure the tool can report carries a runbook anchor (docs/runbook.md#<anchor>) so that each message,
notification and report entry ends with where to look next.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from .runmodel import EventKind, Reason

RUNBOOK = "docs/runbook.md"
# failure -> anchor in docs/runbook.md (one entry each)
ANCHORS: dict[Reason, str] = {
    Reason.GATE_FAILED: "gate-failed",
    Reason.STALLED: "stalled",
    Reason.TIMED_OUT: "timed-out",
    Reason.PHASE_CRASHED: "phase-crashed",
    Reason.PERMANENT_ERROR: "permanent-error",
    Reason.COMMAND_REFUSED: "phase-crashed",
    Reason.CANNOT_START: "phase-crashed",
    Reason.LOCK_HELD: "lock-held",
    Reason.ADOPT_REFUSED: "adopt-refused",
    Reason.WAREHOUSE_UNREACHABLE: "warehouse-unreachable",
    Reason.STATE_UNREADABLE: "state-unreadable",
    Reason.PREFLIGHT_FAILED: "gate-failed",
    Reason.NOTIFY_FAILED: "notify-failed",
    Reason.SOURCE_GAP: "source-gap",
    Reason.REPAIR_NOT_CONVERGED: "repair-did-not-converge",
    Reason.REPAIR_EXHAUSTED: "repair-did-not-converge",
    Reason.REPAIR_FAILED: "repair-failed",
}


def runbook_ref(failure: Reason | str) -> str:
    """`see docs/runbook.md#gate-failed` — appended to every failure message."""
    return f"see {RUNBOOK}#{ANCHORS[failure]}"


@dataclass
class Event:
    kind: EventKind  # runmodel.NOTIFIABLE ones may be sent to notification targets
    run_id: str
    message: str  # one line, human; failures end with runbook_ref(...)
    phase: str | None = None
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    progress: str | None = None  # the one-line progress text (format_progress_line) when known
    gate: list[str] = field(default_factory=list)  # failed/warned checks, each "check: observed vs threshold — evidence"
    log_path: str | None = None
    next_command: str | None = None  # the command a person should run next
    runbook: Reason | None = None  # anchor key of ANCHORS when this is a failure
    reason: Reason | None = None  # why, for machines: what decisions and reports read (never the message)
    data: dict[str, Any] = field(default_factory=dict)  # extra machine-readable fields (status, exit code, ...)
