"""What happened during a run, as records: written to the state journal, the run log and the notifiers.

Every failure the tool can report carries a runbook anchor (docs/runbook.md#<anchor>) so that each message,
notification and report entry ends with where to look next.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

RUNBOOK = "docs/runbook.md"
# failure -> anchor in docs/runbook.md (one entry each)
ANCHORS = {
    "gate_failed": "gate-failed",
    "stalled": "stalled",
    "timed_out": "timed-out",
    "phase_crashed": "phase-crashed",
    "lock_held": "lock-held",
    "adopt_refused": "adopt-refused",
    "warehouse_unreachable": "warehouse-unreachable",
    "state_unreadable": "state-unreadable",
    "preflight_failed": "gate-failed",
    "notify_failed": "notify-failed",
}


def runbook_ref(failure: str) -> str:
    """`see docs/runbook.md#gate-failed` — appended to every failure message."""
    return f"see {RUNBOOK}#{ANCHORS[failure]}"


@dataclass
class Event:
    kind: str  # run_started, phase_started, phase_passed, phase_warned, phase_failed, stalled, retrying,
    #            run_finished, heartbeat (the notifiable ones, config.EVENTS) and internal ones
    #            (phase_exited, gate_result, adopted, lock_taken_over, progress, ...)
    run_id: str
    message: str  # one line, human; failures end with runbook_ref(...)
    phase: str | None = None
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    progress: str | None = None  # the one-line progress text (format_progress_line) when known
    gate: list[str] = field(default_factory=list)  # failed/warned checks, each "check: observed vs threshold — evidence"
    log_path: str | None = None
    next_command: str | None = None  # the command a person should run next
    runbook: str | None = None  # anchor key of ANCHORS when this is a failure
    data: dict[str, Any] = field(default_factory=dict)  # extra machine-readable fields (status, exit code, ...)
