"""Runs to the end: PASS, a FAIL gate blocking dependents, WARN -> exit 3, retries of only the failed dates, no
retry of a permanent error, stall, timeout, an unreachable warehouse, a program that cannot start, dry run, bad
input."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from backfill_orchestrator.dates import read_date_file
from backfill_orchestrator.state import open_state

from orch_harness import START, Harness, alive, job


def test_three_phases_pass_with_every_log_format(h: Harness) -> None:
    cfg = h.config([
        {"name": "a", "command": job("jobkit_fake.py", "--sleep", "0.02"), "post": "items"},
        {"name": "b", "depends_on": ["a"], "command": job("legacy_sequential.py", "--sleep", "0.02"),
         "preflight": "items", "post": "items"},
        {"name": "c", "depends_on": ["b"], "command": job("legacy_parallel.py", "--sleep", "0.02"), "post": "items"},
    ])
    r = h.cli("run", str(cfg))
    assert r.code == 0, r.err + r.out
    run_dir = h.run_dir()
    assert (h.logs / "latest").is_symlink()
    with open_state(run_dir) as st:
        assert st.run().status == "passed" and st.run().exit_code == 0
        phases = st.phases()
        assert [(p.name, p.status, p.attempt) for p in phases] == [("a", "passed", 1), ("b", "passed", 1),
                                                                   ("c", "passed", 1)]
        for p in phases:
            last = st.last_progress(p.name)
            assert (last.done, last.total, last.ok, last.failed) == (10, 10, 10, 0), (p.name, last)
            assert last.records == 12340
            assert p.exit_known is True and p.exit_code == 0
        assert {(g.phase, g.kind, g.status) for g in st.gate_results()} == {
            ("a", "post", "pass"), ("b", "preflight", "pass"), ("b", "post", "pass"), ("c", "post", "pass")}
    assert read_date_file(run_dir / "a.dates")[0].isoformat() == START
    log = (run_dir / "orchestrator.log").read_text()
    assert "phase=b 10/10 days (100.0%) ok=10 failed=0 records=12,340" in log
    assert "run_finished" in log


def test_critical_gate_failure_blocks_dependents(h: Harness) -> None:
    cfg = h.config([
        {"name": "a", "command": job("jobkit_fake.py"), "post": "items_bad"},
        {"name": "b", "depends_on": ["a"], "command": job("jobkit_fake.py")},
        {"name": "c", "depends_on": ["b"], "command": job("jobkit_fake.py")},
    ])
    r = h.cli("run", str(cfg))
    assert r.code == 1, r.err + r.out
    run_dir = h.run_dir()
    a, b, c = (h.phase(n, run_dir) for n in "abc")
    assert a.status == "failed" and "w_coverage" in a.message and "demo.items" in a.message
    assert (b.status, c.status) == ("skipped", "skipped")
    assert b.attempt == 0 and not (run_dir / "b.log").exists()  # never launched
    failed = h.events(run_dir, "phase_failed")[0]
    assert any("w_coverage" in g for g in failed.body["gate"]) and failed.body["runbook"] == "gate_failed"
    assert "w_coverage" in r.out and "gate-failed" in r.out


def test_warning_gate_continues_and_exits_3(h: Harness) -> None:
    cfg = h.config([
        {"name": "a", "command": job("jobkit_fake.py"), "post": "items_warn"},
        {"name": "b", "depends_on": ["a"], "command": job("jobkit_fake.py"), "post": "items"},
    ])
    r = h.cli("run", str(cfg))
    assert r.code == 3, r.err + r.out
    assert [h.phase(n).status for n in "ab"] == ["warned", "passed"]
    assert h.run_record().status == "warned"


def test_on_warn_stop_does_not_start_dependents(h: Harness) -> None:
    cfg = h.config([
        {"name": "a", "command": job("jobkit_fake.py"), "post": "items_warn", "on_warn": "stop"},
        {"name": "b", "depends_on": ["a"], "command": job("jobkit_fake.py")},
    ])
    r = h.cli("run", str(cfg))
    assert r.code == 1, r.err + r.out
    assert [h.phase(n).status for n in "ab"] == ["warned", "skipped"]


def test_failed_dates_are_retried_alone_then_gated(h: Harness, tmp_path: Path) -> None:
    marker = tmp_path / "failed-once"
    cfg = h.config([{"name": "a", "retries": 2, "retry_backoff": "0.1s", "post": "items",
                     "command": job("jobkit_fake.py", "--fail", "2024-10-24", "--fail", "2024-10-27",
                                    "--fail-once", str(marker))}])
    r = h.cli("run", str(cfg))
    assert r.code == 0, r.err + r.out
    run_dir = h.run_dir()
    a = h.phase("a", run_dir)
    assert (a.status, a.attempt) == ("passed", 2)
    assert Path(a.dates_file) == run_dir / "a.attempt2.dates"
    assert [d.isoformat() for d in read_date_file(a.dates_file)] == ["2024-10-24", "2024-10-27"]
    retry = h.events(run_dir, "retrying")
    assert len(retry) == 1 and "2 failed dates" in retry[0].message
    assert h.log_lines(a.log_path, "[jobkit] START") == 2


def test_a_permanent_error_on_every_failed_date_fails_at_once(h: Harness) -> None:
    cfg = h.config([{"name": "a", "retries": 2, "retry_backoff": "0.1s", "post": "items",
                     "command": job("jobkit_fake.py", "--fail", "2024-10-24", "--fail", "2024-10-27",
                                    "--error", "TableNotFound: nba_raw.games")},
                    {"name": "b", "depends_on": ["a"], "command": job("jobkit_fake.py")}])
    r = h.cli("run", str(cfg))
    assert r.code == 1, r.err + r.out
    run_dir = h.run_dir()
    a = h.phase("a", run_dir)
    assert (a.status, a.reason, a.attempt) == ("failed", "permanent_error", 1)
    assert "TableNotFound: nba_raw.games" in a.message
    assert h.log_lines(a.log_path, "[jobkit] START") == 1  # not retried
    assert not h.events(run_dir, "retrying")
    failed = h.events(run_dir, "phase_failed")[0]
    assert failed.reason == "permanent_error" and "permanent-error" in failed.message
    assert h.phase("b", run_dir).status == "skipped"
    assert "TableNotFound: nba_raw.games" in r.out


def test_the_real_job_on_a_warehouse_without_its_tables_is_not_retried(h: Harness) -> None:
    # what a new user meets first: the raw dataset is missing (misnamed), so every date fails with TableNotFound
    cfg = h.config([{"name": "team_offense", "retries": 2, "retry_backoff": "0.1s",
                     "dates": {"start": "2024-10-22", "end": "2024-10-24"},
                     "command": ["{python}", "-m", "nba_pipeline.team_offense", "--dates-file", "{dates_file}",
                                 "--checkpoint", "{checkpoint}", "--warehouse", "{warehouse}"]}])
    r = h.cli("run", str(cfg))
    assert r.code == 1, r.err + r.out
    p = h.phase("team_offense")
    assert (p.status, p.reason, p.attempt) == ("failed", "permanent_error", 1)
    assert "TableNotFound" in p.message and "nba_raw.schedule" in p.message


def test_crash_retries_only_the_dates_not_done(h: Harness) -> None:
    # the legacy job always exits 0: the traceback and the missing summary block are what say it crashed
    cfg = h.config([{"name": "a", "retries": 1, "retry_backoff": "0.1s",
                     "command": job("legacy_sequential.py", "--crash-after", "4")}])
    r = h.cli("run", str(cfg))
    assert r.code == 1, r.err + r.out
    run_dir = h.run_dir()
    a = h.phase("a", run_dir)
    assert (a.status, a.attempt) == ("failed", 2)
    # attempt 1 did 4 dates; attempt 2 got the 6 others; it crashed after 4 again: 2 left, no retries left
    assert [d.isoformat() for d in read_date_file(run_dir / "a.attempt2.dates")] == \
        [f"2024-10-{d}" for d in range(26, 32)]
    assert "2024-10-30..2024-10-31 (2 dates)" in a.message and "fatal" in a.message
    assert h.events(run_dir, "phase_failed")[0].body["runbook"] == "phase_crashed"


def test_stall_stops_the_process_group(h: Harness) -> None:
    cfg = h.config([{"name": "a", "stall_after": "1s", "retries": 0,
                     "command": job("jobkit_fake.py", "--hang-after", "3")}])
    r = h.cli("run", str(cfg))
    assert r.code == 1, r.err + r.out
    a = h.phase("a")
    assert (a.status, a.reason) == ("failed", "stalled") and "stalled" in a.message
    assert not alive(a.pid)
    kinds = [e.kind for e in h.events() if e.kind in ("stalled", "phase_failed")]
    assert kinds == ["stalled", "phase_failed"]
    assert "no progress for" in h.events(kind="stalled")[0].message
    # the job hangs after 3 dates (a slow start may stall it sooner): the dates it never reached are retried
    assert "..2024-10-31 (" in a.message.split("failed dates:")[1]


def test_timeout_stops_and_fails(h: Harness) -> None:
    cfg = h.config([{"name": "a", "timeout": "1s", "command": job("jobkit_fake.py", "--sleep", "0.5")}])
    r = h.cli("run", str(cfg))
    assert r.code == 1, r.err + r.out
    a = h.phase("a")
    assert a.status == "failed" and "timed out after 1s" in a.message
    assert not alive(a.pid)
    assert h.events(kind="timed_out")


def test_dry_run_prints_argv_and_changes_nothing(h: Harness) -> None:
    cfg = h.config([
        {"name": "a", "command": job("jobkit_fake.py", "--workers", "{workers}", "--warehouse", "{warehouse}"),
         "post": "items"},
        {"name": "b", "depends_on": ["a"], "command": job("jobkit_fake.py"), "preflight": "items"},
    ])
    r = h.cli("run", str(cfg), "--dry-run", "--only", "a")
    assert r.code == 0, r.err
    assert "a: launch; 10 dates 2024-10-22..2024-10-31" in r.out
    assert f"--warehouse {h.root / 'wh.duckdb'}" in r.out and "--workers 1" in r.out
    assert "b: skip (not selected: --only a)" in r.out
    assert not h.logs.exists()


def test_bad_arguments_exit_2_with_one_line(h: Harness) -> None:
    cfg = h.config([{"name": "a", "command": job("jobkit_fake.py"), "post": "nope"}])
    r = h.cli("run", str(cfg))
    assert r.code == 2 and "no validation suite named 'nope'" in r.err and len(r.err.strip().splitlines()) == 1
    cfg = h.config([{"name": "a", "command": job("jobkit_fake.py")}])
    for args, text in ((["--adopt", "a:12"], "expected PHASE=PID"), (["--only", "zz"], "no phase named 'zz'"),
                       (["--adopt", "a=999999999"], "no such process")):
        r = h.cli("run", str(cfg), *args)
        assert r.code == 2 and text in r.err, (args, r.err)
    assert not (h.logs / "runs").exists()
    r = h.cli("status", "nosuchrun")
    assert r.code == 2 and "no run 'nosuchrun'" in r.err


def test_unreachable_warehouse_fails_the_gate_cleanly(h: Harness) -> None:
    # another process holds DuckDB's write lock on the warehouse: opening it for the gate raises duckdb's error
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
                               "print('ready', flush=True); sys.stdin.read()", str(h.root / "wh.duckdb")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        cfg = h.config([{"name": "a", "command": job("jobkit_fake.py"), "post": "items"},
                        {"name": "b", "depends_on": ["a"], "command": job("jobkit_fake.py")}])
        r = h.cli("run", str(cfg))
    finally:
        holder.stdin.close()
        holder.wait(10)
    assert r.code == 1, r.err + r.out
    assert "Traceback" not in r.err, r.err
    assert "warehouse-unreachable" in r.out
    run = h.run_record()
    assert run.status == "failed" and run.exit_code == 1
    assert h.phase("a").status == "failed" and "warehouse-unreachable" in h.phase("a").message
    assert h.phase("b").status == "skipped"
    with open_state(h.run_dir()) as st:
        assert [(g.phase, g.status) for g in st.gate_results()] == [("a", "error")]


def test_a_command_that_cannot_start_fails_the_phase_and_ends_the_run(h: Harness) -> None:
    cfg = h.config([{"name": "a", "command": [str(h.root / "no-such-program"), "{dates_file}"]},
                    {"name": "b", "depends_on": ["a"], "command": job("jobkit_fake.py")}])
    r = h.cli("run", str(cfg))
    assert r.code == 1, r.err + r.out
    assert "Traceback" not in r.err
    run = h.run_record()
    assert run.status == "failed", run
    a = h.phase("a")
    assert a.status == "failed" and "cannot start" in a.message and a.pid is None
    assert h.phase("b").status == "skipped"
