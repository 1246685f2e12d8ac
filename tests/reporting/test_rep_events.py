"""Every event kind is either listed by the report or deliberately hidden; operator actions show up."""
from __future__ import annotations

from pathlib import Path

from runfixture import RUN_ID

from backfill_orchestrator.events import Event
from backfill_orchestrator.reporting.charts import STATUS_COLORS
from backfill_orchestrator.reporting.report import render_json
from backfill_orchestrator.reporting.report_html import render_html
from backfill_orchestrator.reporting.view import HIDDEN, SHOWN, build_view
from backfill_orchestrator.runmodel import EventKind, PhaseStatus, RunStatus
from backfill_orchestrator.state import open_state


def test_every_event_kind_is_shown_or_hidden_and_never_both():
    assert not SHOWN & HIDDEN, SHOWN & HIDDEN
    assert set(EventKind) == SHOWN | HIDDEN, set(EventKind) ^ (SHOWN | HIDDEN)


def test_operator_actions_and_resumes_reach_the_report(demo_run: Path):
    kinds = [EventKind.STOP_REQUESTED, EventKind.PHASE_STOPPED, EventKind.PHASE_RESTARTED, EventKind.READOPTED,
             EventKind.ENDED_UNWATCHED]
    with open_state(demo_run) as st:
        for kind in kinds:
            st.add_event(Event(kind.value, RUN_ID, f"the {kind.value} message", phase="player_game_summary"))
        st.add_event(Event(EventKind.HEARTBEAT.value, RUN_ID, "still alive"))
    view = build_view(demo_run)
    html, data = render_html(view), render_json(view)
    for kind in kinds:
        assert f"the {kind.value} message" in html and f"the {kind.value} message" in data, kind
    assert "still alive" not in html and "still alive" not in data
    assert [e.kind for e in view.events][-1] == "heartbeat"  # hidden from the report, not from the view (status)


def test_every_status_has_a_colour():
    assert set(PhaseStatus) | set(RunStatus) <= set(STATUS_COLORS)


def test_check_statuses_known_to_reporting_are_those_of_validation():
    from backfill_orchestrator.reporting.view import CheckStatus
    from backfill_orchestrator.validation.results import Status

    assert CheckStatus.ALL == tuple(s.value for s in Status)
