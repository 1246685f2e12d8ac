"""A recorded run, written through the state store's own API: three phases over 2021-10-19..2026-01-02, the
second one adopted and FAILED by its gate (usage_rate NULL for 2024-11-02..2025-06-30), the third never started.

Only the timestamps are moved afterwards (spread over three hours) so that the charts have time to show.
"""
from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from backfill_orchestrator.dates import date_range, load_calendar
from backfill_orchestrator.events import Event, runbook_ref
from backfill_orchestrator.state import RunState

ROOT = Path(__file__).resolve().parents[2]
START, END = dt.date(2021, 10, 19), dt.date(2026, 1, 2)
GAP = (dt.date(2024, 11, 2), dt.date(2025, 6, 30))
RUN_ID = "20260103T010000Z-demo"
T0 = dt.datetime(2026, 1, 3, 1, 0, tzinfo=dt.timezone.utc)


def iso(t: dt.datetime) -> str:
    return t.isoformat(timespec="seconds").replace("+00:00", "Z")


def _game_days() -> list[dt.date]:
    cal = load_calendar(ROOT / "config" / "seasons.yaml")
    return [d for d in date_range(START, END) if cal.in_season(d)]


def _suite_result(suite: str, table: str, status: str, checks: list[dict], series: dict) -> dict:
    return {"suite": suite, "table": table, "start": str(START), "end": str(END), "status": status,
            "checks": checks, "series": series, "queries": [], "dry_run_sql": [], "baseline": None}


def _check(name: str, status: str, observed, threshold: str, evidence: str = "", column: str | None = None,
           type_: str = "coverage", severity: str = "critical") -> dict:
    return {"name": name, "type": type_, "severity": severity, "status": status, "observed": observed,
            "threshold": threshold, "evidence": evidence, "examples": [], "column": column}


def write_demo_run(run_dir: Path) -> Path:
    days = _game_days()
    st = RunState.create(run_dir, RUN_ID, "nba-backfill", "config/pipeline.yaml", "duckdb:/data/nba.duckdb",
                         ["team_offense_game_summary", "player_game_summary", "player_composite_factors"])
    total = len(date_range(START, END))
    st.add_event(Event("run_started", RUN_ID, "run started: 3 phases", at=T0))
    # phase 1: passed
    st.update_phase("team_offense_game_summary", status="passed", attempt=1, tries=1, pid=4242, exit_code=0,
                    exit_known=True, log_path=str(run_dir / "team_offense_game_summary.log"), dates_count=total,
                    started_at=iso(T0), ended_at=iso(T0 + dt.timedelta(minutes=50)))
    for i in range(1, 6):
        done = total * i // 5
        st.add_progress("team_offense_game_summary", 1, done=done, total=total, ok=done * 7 // 10, failed=0,
                        skipped=done - done * 7 // 10, records=done * 20, rate=total / 50, eta=None)
    st.add_gate("team_offense_game_summary", "post", "team_offense_game_summary", "critical", 1, "pass",
                _suite_result("team_offense_game_summary", "nba_analytics.team_offense_game_summary", "pass",
                              [_check("points_coverage", "pass", 100.0, ">= 99.5%", column="points"),
                               _check("date_completeness", "pass", 0, "<= 0", type_="completeness")],
                              {"points": [[str(d), 100.0] for d in days]}))
    st.add_event(Event("phase_passed", RUN_ID, "team_offense_game_summary passed its gate",
                       phase="team_offense_game_summary", at=T0 + dt.timedelta(minutes=50)))
    # phase 2: adopted, gate FAIL on usage_rate
    msg = ("player_game_summary gate FAILED: usage_rate_coverage 62.3% vs >= 95% — "
           f"2024-11-02..2025-06-30 (241 dates) below; {runbook_ref('gate_failed')}")
    st.update_phase("player_game_summary", status="failed", attempt=2, tries=2, pid=5151, exit_code=None,
                    exit_known=False, log_path=str(run_dir / "player_game_summary.log"), dates_count=total,
                    started_at=iso(T0 + dt.timedelta(minutes=51)), ended_at=iso(T0 + dt.timedelta(hours=3)),
                    message=msg)
    for i in range(1, 9):
        done = total * i // 8
        st.add_progress("player_game_summary", 1, done=done, total=total, ok=done * 7 // 10, failed=2,
                        skipped=done - done * 7 // 10 - 2, records=done * 250, rate=total / 129, eta=None)
    usage = [[str(d), 0.0 if GAP[0] <= d <= GAP[1] else 99.2] for d in days]
    st.add_gate("player_game_summary", "post", "player_game_summary", "critical", 2, "fail",
                _suite_result("player_game_summary", "nba_analytics.player_game_summary", "fail",
                              [_check("usage_rate_coverage", "fail", 62.3, ">= 95%",
                                      "2024-11-02..2025-06-30 (241 dates) below", column="usage_rate"),
                               _check("points_coverage", "pass", 100.0, ">= 99.5%", column="points")],
                              {"usage_rate": usage, "points": [[str(d), 100.0] for d in days]}))
    st.add_event(Event("retrying", RUN_ID, "player_game_summary: 2 failed dates, retry 1/2",
                       phase="player_game_summary", at=T0 + dt.timedelta(hours=2)))
    st.add_event(Event("phase_failed", RUN_ID, msg, phase="player_game_summary", runbook="gate_failed",
                       gate=["usage_rate_coverage: 62.3 vs >= 95% — 2024-11-02..2025-06-30 (241 dates) below"],
                       next_command="backfill restart player_game_summary --from 2024-11-02",
                       at=T0 + dt.timedelta(hours=3)))
    st.add_event(Event("run_finished", RUN_ID, "run failed: player_game_summary gate failed",
                       at=T0 + dt.timedelta(hours=3), data={"status": "failed"}))
    st.update_run(status="failed", ended_at=iso(T0 + dt.timedelta(hours=3, minutes=1)), exit_code=1,
                  message="player_game_summary failed its post gate; player_composite_factors not started")
    st.close()
    # spread the snapshot times over each phase's run (they were all written within the same second)
    with sqlite3.connect(run_dir / "state.sqlite") as db:
        for phase, t_start, minutes in (("team_offense_game_summary", T0, 10),
                                        ("player_game_summary", T0 + dt.timedelta(minutes=51), 16)):
            ids = [r[0] for r in db.execute("SELECT id FROM progress WHERE phase = ? ORDER BY id", (phase,))]
            for i, rid in enumerate(ids, 1):
                db.execute("UPDATE progress SET at = ? WHERE id = ?",
                           (iso(t_start + dt.timedelta(minutes=minutes * i)), rid))
        db.execute("UPDATE run SET started_at = ?", (iso(T0),))
    return run_dir

