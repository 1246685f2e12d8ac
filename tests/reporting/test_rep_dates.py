"""Date lists at season boundaries: `select_dates` and `backfill dates`."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from click.testing import CliRunner

from backfill_orchestrator.cli import cli
from backfill_orchestrator.datelist import OFF_SEASON, select_dates
from backfill_orchestrator.dates import load_calendar, read_date_file

ROOT = Path(__file__).resolve().parents[2]
CAL = load_calendar(ROOT / "config" / "seasons.yaml")
D = dt.date


def test_bootstrap_rule_at_a_season_start():
    # 2024-25 starts 2024-10-22: with 14 days skipped, 2024-11-04 is the last excluded day, 11-05 the first kept
    sel = select_dates(D(2024, 10, 20), D(2024, 11, 6), CAL, skip_first_days=14)
    assert sel.kept == [D(2024, 11, 5), D(2024, 11, 6)]
    assert sel.excluded[OFF_SEASON] == [D(2024, 10, 20), D(2024, 10, 21)]
    first = [k for k in sel.excluded if k.startswith("first 14 days")]
    assert len(first) == 1 and sel.excluded[first[0]][0] == D(2024, 10, 22)
    assert sel.excluded[first[0]][-1] == D(2024, 11, 4) and len(sel.excluded[first[0]]) == 14


def test_playoffs_end_and_next_season_start():
    # 2024-25 playoffs end 2025-06-22; 2025-26 starts 2025-10-21
    sel = select_dates(D(2025, 6, 21), D(2025, 10, 22), CAL, game_days_only=True)
    assert sel.kept == [D(2025, 6, 21), D(2025, 6, 22), D(2025, 10, 21), D(2025, 10, 22)]
    assert sel.excluded[OFF_SEASON][0] == D(2025, 6, 23) and sel.excluded[OFF_SEASON][-1] == D(2025, 10, 20)
    assert sel.game_days == 4


def test_no_rule_keeps_every_date_and_counts_game_days():
    sel = select_dates(D(2024, 10, 20), D(2024, 10, 23), CAL)
    assert len(sel.kept) == 4 and not sel.excluded and sel.game_days == 2


def test_the_users_expectation_about_90_percent_of_game_days():
    sel = select_dates(D(2024, 10, 1), D(2026, 1, 2), CAL, skip_first_days=14)
    assert sel.game_days == 318  # 2024-10-22..2025-06-22 (244) + 2025-10-21..2026-01-02 (74)
    assert len(sel.kept) == 290
    assert 88.0 <= sel.kept_of_game_days_pct <= 92.0
    assert sel.total == 459


def test_cli_writes_the_list_and_says_why(tmp_path: Path):
    out = tmp_path / "lists" / "phase4.txt"
    r = CliRunner().invoke(cli, ["dates", "--start", "2024-10-01", "--end", "2026-01-02", "--calendar",
                                 str(ROOT / "config" / "seasons.yaml"), "--skip-first-days", "14", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert len(read_date_file(out)) == 290
    assert "kept 290 dates" in r.output
    assert "kept 290 of them (91.2%)" in r.output
    assert "141  off-season" in r.output
    assert "first 14 days of season 2024-25 (from 2024-10-22): 2024-10-22..2024-11-04 (14 dates)" in r.output
    assert f"wrote 290 dates to {out}" in r.output


def test_cli_prints_dates_to_stdout_without_out(tmp_path: Path):
    r = CliRunner().invoke(cli, ["dates", "--start", "2025-10-19", "--end", "2025-10-23", "--game-days-only",
                                 "--calendar", str(ROOT / "config" / "seasons.yaml")])
    assert r.exit_code == 0
    assert r.stdout.splitlines() == ["2025-10-21", "2025-10-22", "2025-10-23"]
    assert "excluded 2 dates" in r.stderr


def test_cli_bad_input_is_one_line_exit_2(tmp_path: Path):
    runner = CliRunner()
    for args, needle in ((["--start", "2024-13-01", "--end", "2025-01-01"], "--start"),
                         (["--start", "2025-01-02", "--end", "2025-01-01"], "before start date"),
                         (["--start", "2025-01-01", "--end", "2025-01-02", "--skip-first-days", "3", "--calendar",
                           str(tmp_path / "missing.yaml")], "--calendar: file not found")):
        r = runner.invoke(cli, ["dates", *args])
        assert r.exit_code == 2, r.output
        assert needle in r.output and "Traceback" not in r.output
    out = tmp_path / "never.txt"
    r = runner.invoke(cli, ["dates", "--start", "2025-01-02", "--end", "2025-01-01", "--out", str(out)])
    assert r.exit_code == 2 and not out.exists()
