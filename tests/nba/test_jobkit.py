"""The job kit through real job processes on DuckDB: usage errors, kill -9 and resume, SIGTERM, --no-resume,
--dry-run, --retry-failed and the printed RETRY command, batches. Synchronised on the job's own output."""
from __future__ import annotations

import datetime as dt
import json
import shlex
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from backfill_orchestrator.warehouse import Column
from backfill_orchestrator.warehouse.duckdb import DuckDBWarehouse
from nba_pipeline.sample_data import write_sample
from nba_pipeline.tables import DERIVED, PLAYER_BOX, PLAYER_GAME

from nba_jobhelp import ROOT, check_format, run_job, run_until

START, END = "2024-10-22", "2024-12-20"  # 60 dates, all with games except Thanksgiving and one more
N_DATES = 60


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("nba") / "sample.duckdb"
    wh = DuckDBWarehouse(path)
    write_sample(wh, dt.date(2024, 10, 22), dt.date(2024, 12, 20))
    wh.close()
    return path


@pytest.fixture
def db(sample_db: Path, tmp_path: Path) -> Path:
    """A private copy of the sample warehouse with team_offense already built (the job processes open it)."""
    path = tmp_path / "nba.duckdb"
    shutil.copy(sample_db, path)
    run = run_job("team_offense", "--start-date", START, "--end-date", END, "--warehouse", str(path),
                  "--checkpoint", str(tmp_path / "team.json"))
    assert run.code == 0, run.stderr
    return path


def _args(db: Path, cp: Path, *extra: str) -> list[str]:
    return ["--start-date", START, "--end-date", END, "--warehouse", str(db), "--checkpoint", str(cp), *extra]


def _assert_complete_once(db: Path) -> None:
    """player_game_summary holds exactly one row per raw player box score row, for every date."""
    wh = DuckDBWarehouse(db)
    try:
        got = {r["game_date"]: r["n"] for r in wh.query(
            f"SELECT game_date, COUNT(*) AS n FROM {PLAYER_GAME} GROUP BY game_date")}
        want = {r["game_date"]: r["n"] for r in wh.query(
            f"SELECT game_date, COUNT(*) AS n FROM {PLAYER_BOX} GROUP BY game_date")}
        assert got == want
        assert wh.query(f"SELECT game_id, player_id FROM {PLAYER_GAME} GROUP BY game_id, player_id "
                        "HAVING COUNT(*) > 1") == []
    finally:
        wh.close()


def _checkpoint(cp: Path) -> dict[str, set[str]]:
    data = json.loads(cp.read_text())
    return {k: set(data[k]) for k in ("done", "failed", "skipped")}


@pytest.mark.parametrize("args, msg", [
    ([], "name the dates"),
    (["--start-date", START], "--start-date and --end-date go together"),
    (["--start-date", "2024-02-30", "--end-date", END], "--start-date"),
    (["--start-date", END, "--end-date", START], "before start date"),
    (["--dates", START, "--dates-file", "x.txt"], "choose one way"),
    (["--dates-file", "/nonexistent/dates.txt"], "/nonexistent/dates.txt"),
    (["--dates", START, "--workers", "0"], "--workers"),
    (["--dates", START, "--retry-failed", "--no-resume"], "contradict"),
    (["--retry-failed", "--checkpoint", "/nonexistent/cp.json"], "no checkpoint"),
    (["--dates", START, "--warehouse", "bigquery://"], "--warehouse"),
    (["--dates", START, "--bogus"], "unrecognized arguments"),
])
def test_usage_errors_one_line_exit_2(args, msg, tmp_path) -> None:
    run = run_job("player_game_summary", *args, "--warehouse" if "--warehouse" not in args else "--progress-every",
                  str(tmp_path / "w.duckdb") if "--warehouse" not in args else "5")
    assert run.code == 2 and run.lines == []
    assert len(run.stderr.strip().splitlines()) == 1 and run.stderr.startswith("error: "), run.stderr
    assert msg in run.stderr
    assert not (tmp_path / "w.duckdb").exists()


def test_corrupt_checkpoint_is_a_usage_error(db, tmp_path) -> None:
    cp = tmp_path / "cp.json"
    cp.write_text("{not json")
    run = run_job("player_game_summary", *_args(db, cp))
    assert run.code == 2 and str(cp) in run.stderr and "--no-resume" in run.stderr


def test_kill_9_then_resume_runs_every_date_not_done(db, tmp_path) -> None:
    cp = tmp_path / "cp.json"
    first = run_until("player_game_summary", _args(db, cp, "--workers", "2"), 10, signal.SIGKILL)
    assert first.code == -signal.SIGKILL
    assert not any(ln.startswith("[jobkit] COMPLETE") for ln in first.lines)
    state = _checkpoint(cp)
    finished = state["done"] | state["skipped"]
    assert set(first.dates()) <= finished | set()  # every date printed was checkpointed before it was printed
    assert 10 <= len(finished) < N_DATES
    second = run_job("player_game_summary", *_args(db, cp, "--workers", "2"))
    check_format(second)
    assert second.code == 0 and second.field(second.lines[0], "dates") == str(N_DATES - len(finished))
    assert not set(second.dates()) & finished  # nothing done is redone
    assert finished | set(second.dates()) == {str(d) for d in _range()}
    _assert_complete_once(db)


def _range() -> list[dt.date]:
    d0 = dt.date.fromisoformat(START)
    return [d0 + dt.timedelta(days=i) for i in range(N_DATES)]


def test_sigterm_finishes_in_flight_records_checkpoint_and_exits_1(db, tmp_path) -> None:
    cp = tmp_path / "cp.json"
    first = run_until("player_game_summary", _args(db, cp, "--workers", "2"), 5, signal.SIGTERM)
    check_format(first)
    assert first.code == 1
    assert first.complete.startswith("[jobkit] COMPLETE status=interrupted")
    state = _checkpoint(cp)
    assert state["done"] | state["skipped"] == set(first.dates())  # exactly what was reported, nothing lost
    assert len(first.dates()) < N_DATES
    second = run_job("player_game_summary", *_args(db, cp))
    assert second.code == 0 and not set(second.dates()) & set(first.dates())
    _assert_complete_once(db)


def test_no_resume_reruns_everything_and_leaves_one_copy(db, tmp_path) -> None:
    cp = tmp_path / "cp.json"
    assert run_job("player_game_summary", *_args(db, cp)).code == 0
    again = run_job("player_game_summary", *_args(db, cp))
    assert again.code == 0 and again.field(again.lines[0], "dates") == "0"
    fresh = run_job("player_game_summary", *_args(db, cp, "--no-resume", "--workers", "2"))
    check_format(fresh)
    assert fresh.code == 0 and fresh.field(fresh.lines[0], "dates") == str(N_DATES)
    assert fresh.dates("skipped") and all('reason="no games"' in ln for ln in fresh.kind("DATE") if " skipped " in ln)
    _assert_complete_once(db)


def test_dry_run_writes_nothing(db, tmp_path) -> None:
    cp = tmp_path / "cp.json"
    killed = run_until("player_game_summary", _args(db, cp), 5, signal.SIGKILL)
    assert killed.code == -signal.SIGKILL
    before = cp.read_bytes()
    wh = DuckDBWarehouse(db)
    n_before = wh.query(f"SELECT COUNT(*) AS n FROM {PLAYER_GAME}")[0]["n"]
    wh.close()
    dry = run_job("player_game_summary", *_args(db, cp, "--dry-run", "--workers", "2", "--batch-days", "7"))
    check_format(dry)
    assert dry.code == 0 and int(dry.field(dry.complete, "records")) > 0
    assert cp.read_bytes() == before
    wh = DuckDBWarehouse(db)
    assert wh.query(f"SELECT COUNT(*) AS n FROM {PLAYER_GAME}")[0]["n"] == n_before
    wh.close()
    # and on a warehouse where the target does not exist yet, it is not created
    other = tmp_path / "other.duckdb"
    shutil.copy(db, other)
    wh = DuckDBWarehouse(other)
    wh.drop_table(PLAYER_GAME)
    wh.close()
    dry = run_job("player_game_summary", "--dates", "2024-11-05,2024-11-06", "--warehouse", str(other), "--dry-run")
    assert dry.code == 0 and int(dry.field(dry.complete, "records")) > 0
    wh = DuckDBWarehouse(other)
    assert not wh.table_exists(PLAYER_GAME)
    wh.close()
    assert not (ROOT / "logs" / "checkpoints").exists() or not any(
        str(other) in p.read_text() for p in (ROOT / "logs" / "checkpoints").glob("player_game_summary-*.json"))


def _break_some_dates(db: Path) -> set[str]:
    """player_game_summary.player_name made NOT NULL and some raw names NULL: those dates fail to insert."""
    wh = DuckDBWarehouse(db)
    cols = [Column(c.name, c.type, nullable=c.name != "player_name") for c in DERIVED[PLAYER_GAME]]
    wh.create_table(PLAYER_GAME, cols, replace=True)
    wh.execute([f"UPDATE {PLAYER_BOX} SET player_name = NULL WHERE team_id = 'BOS' AND starter AND game_date > '2024-11-05'"])
    bad = {str(r["game_date"]) for r in wh.query(f"SELECT DISTINCT game_date FROM {PLAYER_BOX} "
                                                 "WHERE player_name IS NULL")}
    wh.close()
    assert 5 <= len(bad) <= 50
    return bad


def _fix(db: Path) -> None:
    wh = DuckDBWarehouse(db)
    wh.execute([f"UPDATE {PLAYER_BOX} SET player_name = 'Fixed Name' WHERE player_name IS NULL"])
    wh.close()


def test_retry_failed_after_a_kill_and_the_printed_retry_command(db, tmp_path) -> None:
    cp = tmp_path / "cp.json"
    bad = _break_some_dates(db)
    first_bad = min(bad)
    # kill -9 some dates after the first failure has been reported
    lines_needed = sorted(str(d) for d in _range()).index(first_bad) + 4
    killed = run_until("player_game_summary", _args(db, cp, "--batch-days", "7"), lines_needed, signal.SIGKILL)
    failed_so_far = set(killed.dates("failed"))
    assert first_bad in failed_so_far and failed_so_far <= bad
    recorded = _checkpoint(cp)["failed"]  # saved per batch before its lines are printed: may hold more
    assert failed_so_far <= recorded <= bad  # a batch with a bad date failed only its bad dates
    # --retry-failed runs exactly the recorded failures (still broken: they fail again), nothing else
    retry = run_job("player_game_summary", *_args(db, cp, "--retry-failed"))
    check_format(retry)
    assert retry.code == 1 and set(retry.dates()) == recorded == set(retry.dates("failed"))
    # resume runs everything not done: the failures and the dates never reached
    rest = run_job("player_game_summary", *_args(db, cp, "--workers", "2", "--batch-days", "7"))
    check_format(rest)
    assert rest.code == 1 and set(rest.dates("failed")) == bad
    assert rest.kind("FAILED") and rest.kind("RETRY") and rest.lines[-3].startswith("[jobkit] FAILED")
    _fix(db)
    command = rest.kind("RETRY")[0].removeprefix("[jobkit] RETRY ")
    p = subprocess.run(shlex.split(command), capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert {ln.split()[2] for ln in p.stdout.splitlines() if " DATE " in ln} == bad
    state = _checkpoint(cp)
    assert state["failed"] == set() and state["done"] | state["skipped"] == {str(d) for d in _range()}
    _assert_complete_once(db)


def test_batches_write_the_same_rows_as_single_dates(db, tmp_path) -> None:
    single = tmp_path / "single.duckdb"
    shutil.copy(db, single)
    a = run_job("player_game_summary", *_args(single, tmp_path / "a.json", "--progress-every", "7"))
    b = run_job("player_game_summary", *_args(db, tmp_path / "b.json", "--batch-days", "31", "--workers", "2"))
    for run in (a, b):
        check_format(run)
        assert run.code == 0
    assert len(a.kind("PROGRESS")) == N_DATES // 7 + 1
    assert sorted(a.dates()) == sorted(b.dates()) and len(a.dates()) == N_DATES
    rec = lambda run: {ln.split()[2]: ln.split()[4] for ln in run.kind("DATE")}  # noqa: E731
    assert rec(a) == rec(b)
    _assert_complete_once(db)
    q = f"SELECT * EXCLUDE (processed_at) FROM {PLAYER_GAME} ORDER BY game_id, player_id"
    wa, wb = DuckDBWarehouse(single, read_only=True), DuckDBWarehouse(db, read_only=True)
    assert wa._con.execute(q).fetchall() == wb._con.execute(q).fetchall()
    wa.close()
    wb.close()


def test_kill_9_with_auto_batches_then_resume_writes_every_date_once(db, tmp_path) -> None:
    """Auto batches grow past the first 7 dates: a kill -9 after those loses at most the batches in flight, and
    the resumed run does exactly the dates the checkpoint does not hold."""
    cp = tmp_path / "cp.json"
    killed = run_until("player_game_summary", _args(db, cp, "--batch-days", "auto", "--workers", "2"), 7,
                       signal.SIGKILL)
    assert killed.code == -signal.SIGKILL
    state = _checkpoint(cp)
    committed = state["done"] | state["skipped"]
    assert set(killed.dates()) <= committed and len(committed) >= 7
    rest = run_job("player_game_summary", *_args(db, cp, "--batch-days", "auto", "--workers", "2"))
    check_format(rest)
    assert rest.code == 0
    assert set(rest.dates()) == {str(d) for d in _range()} - committed
    _assert_complete_once(db)


def test_noop_job_over_the_full_range(tmp_path) -> None:
    run = run_job("jobkit", "--start-date", "2021-10-19", "--end-date", "2026-01-02", "--workers", "2",
                  "--checkpoint", str(tmp_path / "noop.json"), "--progress-every", "100")
    check_format(run)
    assert run.code == 0 and len(run.dates("ok")) == 1537
    assert run.complete.startswith("[jobkit] COMPLETE status=ok days=1537 ok=1537 failed=0 skipped=0")
    assert len(_checkpoint(tmp_path / "noop.json")["done"]) == 1537
