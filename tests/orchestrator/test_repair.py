"""Gate-driven repair with real subprocesses and a real DuckDB file (issue 12): a phase's own failing dates
re-run and gated again; a round that does not reduce the failing dates ends the repair; kill -9 in the middle of
a round, then `backfill resume`; restart/repair on a run that has nothing to repair. The real NBA jobs (the race
upstream, a source gap, `backfill repair` after a refill, history reach) are in test_repair_nba.py."""
from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import duckdb

from backfill_orchestrator.dates import read_date_file
from backfill_orchestrator.state import open_state
from orch_harness import START, Harness, job, wait_for

BAD = ["2024-10-24", "2024-10-27"]


def _suites(h: Harness) -> None:
    for table in ("up", "down"):
        (h.root / "suites" / f"{table}.yaml").write_text(json.dumps(
            {"suite": table, "table": f"demo.{table}", "date_column": "d",
             "checks": [{"name": "v_filled", "type": "coverage", "column": "v", "min": "100%"}]}))


def _pipeline(h: Harness, up_args: list[str], down_args: list[str] | None = None, rounds: int = 2) -> Path:
    _suites(h)
    db = str(h.root / "wh.duckdb")
    phases = [{"name": "up", "command": job("items_job.py", "--db", db, "--table", "demo.up", "--counter",
                                            str(h.root / "up.count"), *up_args),
               "post": "up", "repair": {"max_rounds": rounds}, "retries": 0}]
    if down_args is not None:
        phases.append({"name": "down", "depends_on": ["up"], "post": "down", "retries": 0,
                       "command": job("items_job.py", "--db", db, "--table", "demo.down", "--source", "demo.up",
                                      "--counter", str(h.root / "down.count"), *down_args)})
    return h.config(phases)


def _starts(h: Harness, name: str) -> list[list[str]]:
    path = h.root / f"{name}.count"
    return [line.split()[1].split(",") for line in path.read_text().splitlines()] if path.exists() else []


def _nulls(h: Harness, table: str) -> list[str]:
    con = duckdb.connect(str(h.root / "wh.duckdb"), read_only=True)
    try:
        return [str(r[0]) for r in con.execute(f"SELECT d FROM {table} WHERE v IS NULL ORDER BY d").fetchall()]
    finally:
        con.close()


def test_a_phase_whose_gate_fails_on_dates_re_runs_only_those_and_passes(h: Harness) -> None:
    cfg = _pipeline(h, ["--null-first-run", ",".join(BAD), "--marker", str(h.root / "up.marker")], [])
    r = h.cli("run", str(cfg))
    assert r.code == 0, r.out + r.err
    assert "repaired: up (1 round, 2 dates re-run)" in r.out
    # the first attempt did every date; the repair exactly the two the gate named, nothing else
    starts = _starts(h, "up")
    assert len(starts) == 2 and len(starts[0]) == 10 and starts[1] == BAD, starts
    assert _nulls(h, "demo.up") == [] and _nulls(h, "demo.down") == []
    run_dir = h.run_dir()
    with open_state(run_dir) as st:
        (rnd,) = st.repairs()
        up, down = st.phase("up"), st.phase("down")
    assert (rnd.phase, rnd.round, rnd.status, rnd.before, rnd.after, rnd.gate_status) == \
        ("up", 1, "passed", BAD, [], "pass")
    assert [(s.phase, s.dates, s.status) for s in rnd.steps] == [("up", BAD, "done")]
    assert "usage" not in rnd.checks[0] and "v_filled" in rnd.checks[0]
    # the re-run had its own dates file and a fresh checkpoint (the shared one says those dates are done)
    assert up.status == "passed" and up.rerun == 1 and [str(d) for d in read_date_file(up.dates_file)] == BAD
    assert "after repair round 1" in up.message and down.status == "passed"
    kinds = [e.kind for e in h.events(run_dir)]
    assert kinds.index("repair_started") < kinds.index("repair_finished") < kinds.index("phase_passed")
    md = (run_dir / "report.md").read_text()
    assert "**Repairs**" in md and "`up` round 1: **passed**, failing dates 2 -> 0" in md
    html = (run_dir / "report.html").read_text()
    assert "<h2>Repairs</h2>" in html and "its own failing dates" in html
    st = json.loads(h.cli("status", "--json").out)
    assert [(x["phase"], x["status"], x["before"], x["after"]) for x in st["repairs"]] == [("up", "passed", 2, 0)]


def test_a_round_that_does_not_reduce_the_failing_dates_ends_the_repair(h: Harness) -> None:
    # a bug, not a race: the job writes NULL on these dates every time; a second round would change nothing
    cfg = _pipeline(h, ["--always-null", ",".join(BAD), "--marker", str(h.root / "up.marker")], [], rounds=3)
    r = h.cli("run", str(cfg))
    assert r.code == 1, r.out + r.err
    starts = _starts(h, "up")
    assert len(starts) == 2 and starts[1] == BAD, starts  # one repair round, not three
    with open_state(h.run_dir()) as st:
        (rnd,) = st.repairs()
        up, down = st.phase("up"), st.phase("down")
    assert (rnd.status, rnd.before, rnd.after) == ("not_converged", BAD, BAD)
    assert (up.status, up.reason) == ("failed", "repair_not_converged")
    assert "did not reduce the failing dates (2 -> 2" in up.message and "repair-did-not-converge" in r.out
    assert (down.status, down.reason) == ("skipped", "not_started")
    assert _starts(h, "down") == []


def test_no_repair_without_max_rounds(h: Harness) -> None:
    cfg = _pipeline(h, ["--null-first-run", ",".join(BAD), "--marker", str(h.root / "up.marker")], [], rounds=0)
    r = h.cli("run", str(cfg))
    assert r.code == 1, r.out + r.err
    with open_state(h.run_dir()) as st:
        assert st.repairs() == [] and (st.phase("up").status, st.phase("up").reason) == ("failed", "gate_failed")
    assert len(_starts(h, "up")) == 1
    # ... and `backfill repair` does it after the fact (one round), the run then going on to `down`
    dry = h.cli("repair", "--dry-run")
    assert dry.code == 0, dry.out + dry.err
    assert "re-runs, in order:" in dry.out and "1. up: 2 dates (2024-10-24, 2024-10-27)" in dry.out, dry.out
    assert len(_starts(h, "up")) == 1 and h.phase("up").status == "failed"  # the dry run changed nothing
    again = h.cli("repair")
    assert again.code == 0, again.out + again.err
    assert _starts(h, "up")[1:] == [BAD] and h.phase("down").status == "passed"
    with open_state(h.run_dir()) as st:
        assert [(r.session, r.round, r.status) for r in st.repairs()] == [(1, 1, "passed")]


def test_kill_9_during_a_repair_round_then_resume_finishes_it_without_a_second_launch(h: Harness) -> None:
    cfg = _pipeline(h, ["--null-first-run", ",".join(BAD), "--marker", str(h.root / "up.marker"),
                        "--slow-after-first", "1.5"], [])
    proc = h.start("run", str(cfg))
    run_dir = h.run_dir()

    def repairing():  # the round's re-run of `up` is running and has done its first date
        rec = h.phase("up", run_dir)
        ok = rec.status == "running" and rec.rerun == 1 and rec.pid and \
            h.log_lines(rec.log_path, "[jobkit] DATE 2024-10-24") >= 2
        return rec if ok else None

    rec = wait_for(repairing, timeout=60, what="the repair re-run of up")
    orchestrator = h.run_record(run_dir).pid
    os.kill(orchestrator, signal.SIGKILL)  # the orchestrator only: the job has its own process group
    proc.wait(timeout=30)
    with open_state(run_dir) as st:
        (rnd,) = st.repairs()
    assert rnd.status == "running" and [(s.phase, s.status, s.rerun) for s in rnd.steps] == [("up", "started", 1)]
    r = h.cli("resume", run_dir.name, timeout=120)
    assert r.code == 0, r.out + r.err
    # the running re-run was re-adopted (same PID), never launched a second time
    assert len(_starts(h, "up")) == 2, _starts(h, "up")
    assert any(e.kind == "readopted" and str(rec.pid) in e.message for e in h.events(run_dir))
    with open_state(run_dir) as st:
        (rnd,) = st.repairs()
        assert rnd.status == "passed" and st.phase("down").status == "passed"
    assert _nulls(h, "demo.up") == []


def test_repair_refuses_a_run_with_nothing_to_repair(h: Harness) -> None:
    cfg = _pipeline(h, [], [])
    assert h.cli("run", str(cfg)).code == 0
    r = h.cli("repair")
    assert r.code == 2 and r.out == "" and len(r.err.strip().splitlines()) == 1, r.out + r.err
    assert "no phase failed its gate (up=passed, down=passed); nothing to repair" in r.err
    assert h.cli("repair", "--phase", "nope").code == 2


def test_restart_to_bounds_the_phase_and_dependents_follow_their_history(h: Harness) -> None:
    cfg = _pipeline(h, [], [])
    data = json.loads(cfg.read_text())
    data["phases"][1]["history"] = "3d"  # down's rows read 3 days back: a change on D makes D..D+3 stale
    cfg.write_text(json.dumps(data))
    assert h.cli("run", str(cfg)).code == 0
    r = h.cli("restart", "up", "--from", "2024-10-25", "--to", "2024-10-26")
    assert r.code == 0, r.out + r.err
    assert _starts(h, "up")[-1] == ["2024-10-25", "2024-10-26"]
    assert _starts(h, "down")[-1] == ["2024-10-25", "2024-10-26", "2024-10-27", "2024-10-28", "2024-10-29"]
    bad = h.cli("restart", "up", "--from", "2024-10-26", "--to", "2024-10-25")
    assert bad.code == 2 and "--to 2024-10-25 is before --from 2024-10-26" in bad.err
    assert START == "2024-10-22"


def test_repair_events_reach_a_webhook(h: Harness, http_receiver) -> None:
    port = http_receiver.server_address[1]
    cfg = _pipeline(h, ["--null-first-run", ",".join(BAD), "--marker", str(h.root / "up.marker")], [])
    data = json.loads(cfg.read_text())
    data["notifications"] = [{"url": f"json://127.0.0.1:{port}/hook",
                              "events": ["repair_started", "repair_finished", "source_gap"]}]
    cfg.write_text(json.dumps(data))
    assert h.cli("run", str(cfg)).code == 0
    got = [(p["type"], p["title"].split(" (run")[0], p["message"]) for _, p in http_receiver.received]
    assert [(t, title) for t, title, _ in got] == [("warning", "[backfill] repair started up"),
                                                   ("success", "[backfill] repair finished up")], got
    assert "re-running up on 2 dates" in got[0][2] and "failing dates 2 -> 0" in got[1][2]
