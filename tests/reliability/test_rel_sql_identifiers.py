"""Identifiers from configuration reach SQL quoted, so each must be a plain name: text such as
`points; DROP TABLE x`, backticks or quotes in any identifier position of a suite or a pipeline is refused before any
SQL runs (exit 2, one line naming file:line; the warehouse file is not even opened), and a SQL fragment (`where`,
`expression`, `sql`) that is not exactly one expression / one SELECT is refused the same way."""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any, Callable

import duckdb
import pytest
from click.testing import CliRunner

from backfill_orchestrator.cli import cli

HOSTILE = ["points; DROP TABLE x", "`points`", "points`; DROP TABLE x; --", "'points'", '"points"',
           "x'); DROP TABLE x; --", "points -- comment", "points/*c*/", "demo.items; DROP TABLE x", "ünï",
           "points\nDROP TABLE x", " points", "1points"]
HOSTILE_SQL = ["v; DROP TABLE x", "v`; DROP TABLE x; --", "x'); DROP TABLE x; --", "v) OR (1=1"]

SUITE: dict[str, Any] = {"suite": "s", "table": "demo.items", "date_column": "d", "key_columns": ["d"],
                         "checks": [{"name": "c", "type": "coverage", "column": "v", "min": "90%"}]}


def _check(kind: str, **kw: Any) -> Callable[[dict, str], None]:
    def put(s: dict, v: str) -> None:
        s["checks"].append({"name": "k", "type": kind, **json.loads(json.dumps(kw).replace("@", v.replace('"', '\\"')
                                                                                                 .replace("\n", "\\n")))})
    return put


def _set(key: str) -> Callable[[dict, str], None]:
    return lambda s, v: s.__setitem__(key, v)


IDENTIFIER_POSITIONS: dict[str, Callable[[dict, str], None]] = {
    "suite": _set("suite"),
    "table": _set("table"),
    "date_column": _set("date_column"),
    "key_columns": lambda s, v: s.__setitem__("key_columns", [v]),
    "check.name": lambda s, v: s["checks"][0].__setitem__("name", v),
    "check.column": lambda s, v: s["checks"][0].__setitem__("column", v),
    "unique.columns": _check("unique", columns=["@"]),
    "unique.table": _check("unique", columns=["v"], table="@"),
    "unique.date_column": _check("unique", columns=["v"], table="demo.other", date_column="@"),
    "row_count.compare_to.table": _check("row_count", compare_to={"table": "@"}, min="90%"),
    "consistency.group_by": _check("consistency", expression="SUM(v)", expected=0, group_by=["@"]),
}
SQL_POSITIONS: dict[str, Callable[[dict, str], None]] = {
    "check.where": lambda s, v: s["checks"][0].__setitem__("where", v),
    "consistency.expression": _check("consistency", expression="@", expected=0),
    "custom_sql.sql": _check("custom_sql", sql="SELECT COUNT(*) FROM demo.items WHERE @", max=0),
}


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA demo; CREATE TABLE demo.items (d DATE, v BIGINT); CREATE TABLE demo.x (k INT)")
    con.execute("INSERT INTO demo.items VALUES (DATE '2024-10-22', 1)")
    con.close()
    return path


def _validate(tmp_path: Path, warehouse: Path, suite: dict) -> None:
    suite_file = tmp_path / "suites" / "s.yaml"
    suite_file.parent.mkdir(exist_ok=True)
    suite_file.write_text(json.dumps(suite, indent=1))  # JSON is YAML; one key per line: the line is checkable
    before = warehouse.read_bytes()
    r = CliRunner().invoke(cli, ["validate", "--suite", str(suite.get("suite")), "--start-date", "2024-10-22",
                                 "--end-date", "2024-10-22", "--suites", str(suite_file.parent),
                                 "--warehouse", str(warehouse), "--calendar", str(tmp_path / "none.yaml")])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.output
    assert r.exit_code == 2, r.output
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and re.match(rf"^error: {re.escape(str(suite_file))}:\d+: ", lines[0]), r.stderr
    assert warehouse.read_bytes() == before  # refused before the warehouse was opened: no SQL ran
    con = duckdb.connect(str(warehouse), read_only=True)
    assert con.execute("SELECT count(*) FROM demo.x").fetchone() == (0,)
    con.close()


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
@pytest.mark.parametrize("position", IDENTIFIER_POSITIONS)
def test_a_hostile_identifier_is_refused_before_any_sql(tmp_path: Path, warehouse: Path, position: str,
                                                        value: str) -> None:
    suite = copy.deepcopy(SUITE)
    IDENTIFIER_POSITIONS[position](suite, value)
    _validate(tmp_path, warehouse, suite)


@pytest.mark.parametrize("value", HOSTILE_SQL, ids=range(len(HOSTILE_SQL)))
@pytest.mark.parametrize("position", SQL_POSITIONS)
def test_a_sql_fragment_that_is_not_one_expression_is_refused_before_any_sql(tmp_path: Path, warehouse: Path,
                                                                             position: str, value: str) -> None:
    suite = copy.deepcopy(SUITE)
    SQL_POSITIONS[position](suite, value)
    _validate(tmp_path, warehouse, suite)


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
@pytest.mark.parametrize("where", ["dataset_prefix", "datasets.key", "datasets.value"])
def test_a_hostile_dataset_name_in_the_pipeline_is_one_line(tmp_path: Path, where: str, value: str) -> None:
    bq: dict[str, Any] = {"project": "my-project-123"}
    if where == "dataset_prefix":
        bq["dataset_prefix"] = value
    else:
        bq["datasets"] = {value: "real"} if where == "datasets.key" else {"demo": value}
    cfg = tmp_path / "pipeline.yaml"
    cfg.write_text(json.dumps({"pipeline": "t", "warehouse": {"bigquery": bq},
                               "phases": [{"name": "a", "command": ["true"],
                                           "dates": {"start": "2024-10-22", "end": "2024-10-22"}}]}, indent=1))
    r = CliRunner().invoke(cli, ["config", "check", str(cfg)])
    assert r.exit_code == 2, r.output
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and re.match(rf"^error: {re.escape(str(cfg))}:\d+: ", lines[0]), r.stderr
