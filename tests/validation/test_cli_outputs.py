"""`backfill validate` end to end on a DuckDB file: exit codes, plain console, JSON, Markdown, JUnit, dry run."""
from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from valdata import Faults, build, write_suite
from suites_text import ALL

from backfill_orchestrator.cli import cli
from backfill_orchestrator.validation import load_suites, run_suite
from backfill_orchestrator.validation import render
from backfill_orchestrator.warehouse.duckdb import DuckDBWarehouse


@pytest.fixture
def setup(tmp_path: Path, suite_dir: Path):
    def _make(faults: Faults = Faults()) -> list[str]:
        db = tmp_path / "w.duckdb"
        db.unlink(missing_ok=True)
        w = DuckDBWarehouse(db)
        build(w, faults)
        w.close()
        write_suite(suite_dir, ALL)
        return ["validate", "--suite", "players", "--start-date", "2024-02-01", "--end-date", "2024-02-29",
                "--warehouse", str(db), "--suites", str(suite_dir)]
    return _make


def test_pass_exit_0_plain_lines(setup):
    r = CliRunner().invoke(cli, setup())
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].startswith("players: vt.player_games 2024-02-01..2024-02-29: PASS (21 pass; 4 queries")
    assert len(lines) == 22 and all(line.startswith("  PASS ") for line in lines[1:])
    # aligned columns: the check names start at the same offset on every line
    assert len({line.index("critical") if "critical" in line else line.index("warning") for line in lines[1:]}) == 1


def test_fail_exit_1_with_json_markdown_junit(setup, tmp_path: Path):
    gap = (dt.date(2024, 2, 5), dt.date(2024, 2, 10))
    md, xml = tmp_path / "out" / "report.md", tmp_path / "out" / "junit.xml"
    r = CliRunner().invoke(cli, setup(Faults(null_usage=gap, outlier=True))
                           + ["--json", "--markdown", str(md), "--junit", str(xml)])
    assert r.exit_code == 1, r.output
    doc = json.loads(r.output)
    assert doc["gate_status"] == "fail"
    suite = doc["suites"][0]
    assert suite["exit_code"] == 1
    checks = {c["name"]: c for c in suite["checks"]}
    assert checks["usage_coverage"]["status"] == "fail"
    assert "2024-02-05..2024-02-10 (6 dates)" in checks["usage_coverage"]["evidence"]
    assert checks["points_range"]["examples"][0]["points"] == 150
    assert suite["series"]["usage_rate"][4] == ["2024-02-05", 0.0]
    assert all(q["digest"] for q in suite["queries"])

    text = md.read_text()
    assert "## players: **FAIL**" in text and "| FAIL | critical | usage_coverage | coverage |" in text
    assert "Examples for `points_range`" in text

    root = ET.parse(xml).getroot()
    ts = root.find("testsuite")
    assert ts is not None and ts.get("tests") == "21" and int(ts.get("failures")) >= 3
    case = root.find(".//testcase[@name='usage_coverage']")
    assert case is not None and "2024-02-05..2024-02-10" in case.find("failure").get("message")
    assert root.find(".//testcase[@name='usage_mean']/failure") is None


def test_warnings_only_exit_3(setup):
    args = setup() + ["--baseline-start", "2023-06-01", "--baseline-end", "2023-06-30"]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 3, r.output
    assert "NO_BASELINE" in r.output and "2023-06-01..2023-06-30 has no rows" in r.output


def test_table_selects_suites_and_dry_run_prints_sql(setup):
    args = setup()
    args[1:3] = ["--table", "vt.player_games"]
    r = CliRunner().invoke(cli, args + ["--dry-run"])
    assert r.exit_code == 0, r.output
    assert r.output.count("-- scan vt.player_games") == 1 and "GROUP BY bf_date" in r.output
    assert "scan_start=2024-01-01, scan_end=2024-02-29" in r.output  # the baseline widened the table's scan
    assert "COUNT_IF" in r.output  # the SQL as DuckDB runs it


def test_rich_table_on_a_terminal(tmp_path: Path, suite_dir: Path):
    w = DuckDBWarehouse(tmp_path / "w.duckdb")
    build(w, Faults(outlier=True))
    result = run_suite(w, load_suites([write_suite(suite_dir, ALL)])["players"], dt.date(2024, 2, 1),
                       dt.date(2024, 2, 29))
    text = render.rich_text([result])
    assert "\x1b[" in text and "points_range" in text and "FAIL" in text and "┃" in text


def test_config_gives_warehouse_suites_and_calendar(tmp_path: Path, suite_dir: Path):
    db = tmp_path / "w.duckdb"
    w = DuckDBWarehouse(db)
    build(w)
    w.close()
    write_suite(suite_dir, ALL)
    cfg = tmp_path / "pipeline.yaml"
    root = Path(__file__).resolve().parents[2]
    cfg.write_text(f"pipeline: t\nwarehouse: {{duckdb: {{path: {db}}}}}\ncalendar: {root / 'config' / 'seasons.yaml'}\n"
                   f"suites: [{suite_dir}]\nphases:\n  - {{name: a, command: [echo], dates: {{start: 2024-02-01, "
                   f"end: 2024-02-02}}}}\n")
    args = ["validate", "--suite", "players", "--start-date", "2024-02-01", "--end-date", "2024-02-29",
            "--config", str(cfg)]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert "players: vt.player_games 2024-02-01..2024-02-29: PASS" in r.output
    db.unlink()
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 2 and "warehouse DuckDB file not found" in r.output and not db.exists()
