"""The run's vocabulary, typed: phase statuses, run statuses, event kinds and failure reasons.

Everything that decides (the orchestrator, the phase runner, control, status, the report, metrics, notify)
compares these members, never message text. They are `str` Enums so that the values stored in state.sqlite,
printed in `status --json` and sent to notifiers stay the same plain strings as before (`"passed"`), and a
member compares equal to its string.

Adding a state or an event kind is one line here; `tests/test_runmodel.py` then insists that the report either
shows the new event kind or lists it as deliberately hidden, and that every status has a place in the sets.
"""
from __future__ import annotations

from enum import Enum


class _StrEnum(str, Enum):
    def __str__(self) -> str:  # f"{status}" -> "passed", not "PhaseStatus.PASSED"
        return self.value

    @classmethod
    def parse(cls, value: str):
        """The member for a stored string; ValueError naming the allowed values otherwise."""
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(m.value for m in cls)
            raise ValueError(f"unknown {cls.__name__} {value!r} (one of: {allowed})") from None


class PhaseStatus(_StrEnum):
    PENDING = "pending"
    PREFLIGHT = "preflight"
    RUNNING = "running"
    VALIDATING = "validating"
    PASSED = "passed"
    WARNED = "warned"
    FAILED = "failed"
    STALLED = "stalled"
    RETRYING = "retrying"
    SKIPPED = "skipped"
    STOPPED = "stopped"
    REPAIRING = "repairing"  # its gate failed on dates a repair round re-runs (repair.py drives it)


# A process may be alive in these (the phase's job is running or being stopped after a stall).
PHASE_PROCESS_STATES = frozenset({PhaseStatus.RUNNING, PhaseStatus.STALLED})
# The orchestrator is working on the phase: between pending and a terminal status.
PHASE_ACTIVE = frozenset({PhaseStatus.PREFLIGHT, PhaseStatus.RUNNING, PhaseStatus.VALIDATING, PhaseStatus.STALLED,
                          PhaseStatus.RETRYING, PhaseStatus.REPAIRING})
PHASE_TERMINAL = frozenset({PhaseStatus.PASSED, PhaseStatus.WARNED, PhaseStatus.FAILED, PhaseStatus.SKIPPED,
                            PhaseStatus.STOPPED})
# Terminal and good: dependents may start.
PHASE_SUCCEEDED = frozenset({PhaseStatus.PASSED, PhaseStatus.WARNED})


class RunStatus(_StrEnum):
    RUNNING = "running"
    PASSED = "passed"
    WARNED = "warned"
    FAILED = "failed"
    STOPPED = "stopped"
    INTERRUPTED = "interrupted"  # the orchestrator exited on a signal; phases may still run: `backfill resume`


RUN_ACTIVE = frozenset({RunStatus.RUNNING, RunStatus.INTERRUPTED})
RUN_TERMINAL = frozenset({RunStatus.PASSED, RunStatus.WARNED, RunStatus.FAILED, RunStatus.STOPPED})
RUN_SUCCEEDED = frozenset({RunStatus.PASSED, RunStatus.WARNED})


class EventKind(_StrEnum):
    # the run
    RUN_STARTED = "run_started"
    RESUMED = "resumed"
    RUN_FINISHED = "run_finished"
    LOCK_TAKEN_OVER = "lock_taken_over"
    HEARTBEAT = "heartbeat"
    STOP_REQUESTED = "stop_requested"
    # a phase's life
    PHASE_STARTED = "phase_started"
    ATTEMPT_STARTED = "attempt_started"
    RELAUNCH = "relaunch"
    ADOPTED = "adopted"
    READOPTED = "readopted"
    ENDED_UNWATCHED = "ended_unwatched"
    PHASE_EXITED = "phase_exited"
    STALLED = "stalled"
    TIMED_OUT = "timed_out"
    RETRYING = "retrying"
    PHASE_STOPPED = "phase_stopped"
    PHASE_LEFT_RUNNING = "phase_left_running"
    PHASE_RESTARTED = "phase_restarted"
    PHASE_SKIPPED = "phase_skipped"
    PHASE_PASSED = "phase_passed"
    PHASE_WARNED = "phase_warned"
    PHASE_FAILED = "phase_failed"
    # gates
    GATE_STARTED = "gate_started"
    GATE_RESULT = "gate_result"
    # gate-driven repair (repair.py)
    REPAIR_STARTED = "repair_started"
    REPAIR_FINISHED = "repair_finished"
    SOURCE_GAP = "source_gap"


# The kinds a notification target may subscribe to (config `notifications[].events`).
NOTIFIABLE = (EventKind.RUN_STARTED, EventKind.PHASE_STARTED, EventKind.PHASE_PASSED, EventKind.PHASE_WARNED,
              EventKind.PHASE_FAILED, EventKind.STALLED, EventKind.RETRYING, EventKind.RUN_FINISHED,
              EventKind.HEARTBEAT, EventKind.REPAIR_STARTED, EventKind.REPAIR_FINISHED, EventKind.SOURCE_GAP)


class Reason(_StrEnum):
    """Why a phase or run ended the way it did: stored beside the human message, read by decisions.

    Also the runbook anchor key (events.ANCHORS) for the failures that have one."""
    GATE_FAILED = "gate_failed"
    PREFLIGHT_FAILED = "preflight_failed"
    STALLED = "stalled"
    TIMED_OUT = "timed_out"
    PHASE_CRASHED = "phase_crashed"
    PERMANENT_ERROR = "permanent_error"  # every failed date failed a non-transient way: no retry helps
    COMMAND_REFUSED = "command_refused"  # the job exited 2 (usage) before doing a date: the same argv fails again
    CANNOT_START = "cannot_start"  # the phase's program is missing or not executable
    LOCK_HELD = "lock_held"
    ADOPT_REFUSED = "adopt_refused"
    WAREHOUSE_UNREACHABLE = "warehouse_unreachable"
    STATE_UNREADABLE = "state_unreadable"
    NOTIFY_FAILED = "notify_failed"
    NOT_STARTED = "not_started"  # a dependency did not succeed
    NOT_SELECTED = "not_selected"  # `backfill run --only` another phase
    NO_DATES = "no_dates"
    ON_WARN_STOP = "on_warn_stop"  # the gate warned and the phase says `on_warn: stop`
    STOPPED_BY_OPERATOR = "stopped_by_operator"  # `backfill stop`
    INTERRUPTED = "interrupted"  # the orchestrator got SIGTERM/SIGINT
    ORCHESTRATOR_ERROR = "orchestrator_error"  # the orchestrator itself failed; `backfill resume` continues
    # gate-driven repair
    SOURCE_GAP = "source_gap"  # the failing dates lack data in a source table no phase writes: refill it first
    REPAIR_NOT_CONVERGED = "repair_not_converged"  # a round did not reduce the failing dates
    REPAIR_EXHAUSTED = "repair_exhausted"  # every round was used and dates still fail
    REPAIR_FAILED = "repair_failed"  # a phase the repair re-ran failed (its own gate, its process)


# A skipped phase with one of these reasons blocks its dependents (one skipped because it has no dates does not).
BLOCKING_SKIPS = frozenset({Reason.NOT_STARTED, Reason.ON_WARN_STOP})
