"""The run vocabulary (runmodel) stays whole: every status has exactly one place in the sets decisions use, the
stored strings are the enum values, and the notifiable kinds are what config accepts."""
from __future__ import annotations

from backfill_orchestrator import config
from backfill_orchestrator.runmodel import (NOTIFIABLE, PHASE_ACTIVE, PHASE_PROCESS_STATES, PHASE_SUCCEEDED,
                                             PHASE_TERMINAL, RUN_ACTIVE, RUN_SUCCEEDED, RUN_TERMINAL, EventKind,
                                             PhaseStatus, Reason, RunStatus)


def test_every_phase_status_is_pending_active_or_terminal_exactly_once():
    for s in PhaseStatus:
        places = [s == PhaseStatus.PENDING, s in PHASE_ACTIVE, s in PHASE_TERMINAL]
        assert places.count(True) == 1, s
    assert PHASE_PROCESS_STATES <= PHASE_ACTIVE
    assert PHASE_SUCCEEDED <= PHASE_TERMINAL


def test_every_run_status_is_active_or_terminal_exactly_once():
    for s in RunStatus:
        assert (s in RUN_ACTIVE) != (s in RUN_TERMINAL), s
    assert RUN_SUCCEEDED <= RUN_TERMINAL


def test_members_are_their_stored_strings():
    assert PhaseStatus("passed") is PhaseStatus.PASSED and PhaseStatus.PASSED == "passed"
    assert f"{RunStatus.INTERRUPTED}" == "interrupted" and str(EventKind.RUN_FINISHED) == "run_finished"
    try:
        Reason.parse("bogus")
    except ValueError as e:
        assert "unknown Reason 'bogus'" in str(e) and "gate_failed" in str(e)
    else:
        raise AssertionError("Reason.parse accepted an unknown value")


def test_config_accepts_exactly_the_notifiable_kinds():
    assert tuple(config.EVENTS) == tuple(k.value for k in NOTIFIABLE)
    assert all(isinstance(k, EventKind) for k in NOTIFIABLE)
