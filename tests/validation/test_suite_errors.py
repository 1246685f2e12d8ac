"""Bad suites: one line naming file:line and the key, exit 2 from the CLI, nothing run."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from valdata import RANGE, build, write_suite

from backfill_orchestrator.cli import cli
from backfill_orchestrator.errors import ConfigError
from backfill_orchestrator.validation import load_suites, run_suite
from backfill_orchestrator.warehouse.duckdb import DuckDBWarehouse

HEAD = """
suite: players
table: vt.player_games
date_column: game_date
checks:
"""

CASES = [
    # (checks text, expected line, message fragment)
    ("  - {name: a, type: coverag, column: points, min: 90%}\n", 5, "checks[0].type: expected one of"),
    ("  - {name: a, type: coverage, column: points, min: 90%}\n  - {name: b, type: teleport}\n", 6,
     "did you mean"),
    ("  - {name: a, type: coverage, column: points, min: 190%}\n", 5, "between 0% and 100%"),
    ("  - {name: a, type: coverage, column: points, min: lots}\n", 5, "checks[0].min: expected a number"),
    ("  - {name: a, type: coverage, column: points, min: 90%, max: 80%}\n", 5, "greater than max"),
    ("  - {name: a, type: coverage, column: points}\n", 5, "expected a threshold"),
    ("  - {name: a, type: row_count, min: 90%}\n", 5, "needs `compare_to`"),
    ("  - {name: a, type: statistics, column: points, stat: quantile, between: [1, 2]}\n", 5, "quantile"),
    ("  - {name: a, type: regression, metric: coverage, column: points, regression: 99%, degradation: 90%}\n", 5,
     "above the degradation"),
    ("  - {name: 'bad name', type: coverage, column: points, min: 90%}\n", 5, "invalid check name"),
    ("  - {name: a, type: coverage, column: 'points; DROP', min: 90%}\n", 5, "invalid column name"),
    ("  - {name: a, type: coverage, column: points, min: 90%, colour: red}\n", 5, "checks[0].colour: unknown key"),
    ("  - {name: a, type: coverage, column: points, where: 'points >', min: 90%}\n", 5, "not a SQL expression"),
    ("  - {name: a, type: consistency, group_by: [game_id], expression: points, expected: 1}\n", 5,
     "expected an aggregate"),
    ("  - {name: a, type: custom_sql, sql: 'DELETE FROM vt.x', max: 1}\n", 5, "one SELECT"),
    ("  - {name: a, type: coverage, column: points, min: 9%}\n  - {name: a, type: coverage, column: fga, min: 9%}\n",
     6, "already used"),
    ("  - {name: a, type: unique}\n", 5, "checks[0].columns: missing required key"),
    ("  - {name: a, type: unique, columns: []}\n", 5, "expected at least one key column"),
    ("  - {name: a, type: unique, columns: [game_id], date_column: d}\n", 5, "`date_column` goes with `table`"),
]


@pytest.mark.parametrize("checks, line, fragment", CASES)
def test_bad_suite_is_one_line_with_file_and_line(suite_dir, checks, line, fragment):
    path = write_suite(suite_dir, HEAD + checks)
    with pytest.raises(ConfigError) as e:
        load_suites([path])
    msg = str(e.value)
    assert "\n" not in msg and fragment in msg
    assert msg.startswith(f"{path}:{line}: "), msg


def test_bad_table_name(suite_dir):
    path = write_suite(suite_dir, HEAD.replace("vt.player_games", "player_games") + "  - {name: a, type: row_count, min: 1}\n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}:2: table: invalid table name"):
        load_suites([path])


def test_duplicate_suite_names_across_files(suite_dir):
    write_suite(suite_dir, HEAD + "  - {name: a, type: row_count, min: 1}\n", "one.yaml")
    write_suite(suite_dir, HEAD + "  - {name: a, type: row_count, min: 1}\n", "two.yaml")
    with pytest.raises(ConfigError, match=r"two\.yaml:1: suite: suite name 'players' is already used"):
        load_suites([suite_dir])


@pytest.mark.parametrize("checks, line, key", [
    ("  - {name: a, type: coverage, column: pointz, min: 90%}\n", 5, "checks[0].column"),
    ("  - {name: a, type: coverage, column: points,\n     where: 'minutez > 0', min: 90%}\n", 6, "checks[0].where"),
    ("  - name: a\n    type: consistency\n    group_by: [game_id, team_id]\n    expression: SUM(points)\n"
     "    expected: {table: vt.team_games, expression: SUM(pts)}\n", 9, "checks[0].expected.expression"),
    ("  - {name: a, type: unique, columns: [game_id, playr_id]}\n", 5, "checks[0].columns"),
    ("  - {name: a, type: unique, table: vt.team_games,\n     columns: [game_id, player_id]}\n", 6, "checks[0].columns"),
])
def test_column_not_in_table(wh, suite_dir, checks, line, key):
    build(wh)
    path = write_suite(suite_dir, HEAD + checks)
    suite = load_suites([path])["players"]
    with pytest.raises(ConfigError) as e:
        run_suite(wh, suite, *RANGE, strict=True)
    assert str(e.value).startswith(f"{path}:{line}: {key}: column ") and "is not in" in str(e.value)
    # as a gate (not strict) the check is an ERROR that names the same place
    result = run_suite(wh, suite, *RANGE)
    assert result.checks[0].status.value == "error" and f"{path}:{line}:" in result.checks[0].evidence


def test_cli_bad_suite_exits_2_with_one_line(tmp_path: Path, suite_dir):
    db = tmp_path / "w.duckdb"
    w = DuckDBWarehouse(db)
    build(w)
    w.close()
    write_suite(suite_dir, HEAD + "  - {name: a, type: coverage, column: pointz, min: 90%}\n")
    args = ["validate", "--suite", "players", "--start-date", "2024-02-01", "--end-date", "2024-02-29",
            "--warehouse", str(db), "--suites", str(suite_dir)]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and ":5: checks[0].column: column 'pointz'" in lines[0]
    assert "did you mean 'points'" in lines[0]
    write_suite(suite_dir, HEAD + "  - {name: a, type: nonsense}\n")
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 2 and "checks[0].type: expected one of" in r.output and "Traceback" not in r.output


@pytest.mark.parametrize("extra, fragment", [
    (["--start-date", "2024-13-01"], "--start-date: expected a date"),
    (["--suite", "nope"], "no suite named 'nope'"),
    (["--baseline-start", "2024-01-01"], "--baseline-end go together"),
    (["--end-date", "2024-01-01"], "before start date"),
])
def test_cli_bad_arguments_exit_2(tmp_path: Path, suite_dir, extra, fragment):
    db = tmp_path / "w.duckdb"
    w = DuckDBWarehouse(db)
    build(w)
    w.close()
    write_suite(suite_dir, HEAD + "  - {name: a, type: row_count, min: 1}\n")
    base = {"--suite": "players", "--start-date": "2024-02-01", "--end-date": "2024-02-29"}
    for i in range(0, len(extra), 2):
        base[extra[i]] = extra[i + 1]
    args = ["validate", *[x for kv in base.items() for x in kv], "--warehouse", str(db), "--suites", str(suite_dir)]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 2 and fragment in r.output, r.output
