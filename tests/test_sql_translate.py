"""BigQuery SQL → each warehouse's SQL: dataset mapping, prefixes, dialect functions, parameters, errors."""
from __future__ import annotations

import duckdb
import pytest

from backfill_orchestrator.errors import UsageError
from backfill_orchestrator.warehouse.sql import _translate, digest, real_dataset, translate

MAP = (("nba", "nba_dev"),)


def test_bigquery_without_mapping_is_the_identity() -> None:
    sql = "SELECT  COUNTIF(x > 1)  FROM nba.games -- kept exactly, comments too"
    assert translate(sql, "bigquery") is sql


@pytest.mark.parametrize("sql, expected", [
    ("SELECT a FROM nba.games", "SELECT a FROM p_nba_dev.games"),
    ("SELECT a FROM raw.games", "SELECT a FROM p_raw.games"),  # unmapped: prefix only
    ("SELECT * FROM `proj.nba.games` AS g", "SELECT * FROM `proj.p_nba_dev.games` AS g"),  # project kept
    ("WITH x AS (SELECT 1 AS a) SELECT * FROM x", "WITH x AS (SELECT 1 AS a) SELECT * FROM x"),  # CTE untouched
    ("DELETE FROM nba.t WHERE d = @d; INSERT INTO nba.t (d) VALUES (@d)",
     "DELETE FROM p_nba_dev.t WHERE d = @d;\nINSERT INTO p_nba_dev.t (d) VALUES (@d)"),
])
def test_bigquery_maps_then_prefixes_datasets(sql: str, expected: str) -> None:
    assert translate(sql, "bigquery", MAP, "p_") == expected


def test_information_schema_is_never_prefixed() -> None:
    out = translate("SELECT column_name FROM nba.INFORMATION_SCHEMA.COLUMNS", "bigquery", MAP, "p_")
    assert "p_nba_dev" in out and "p_INFORMATION_SCHEMA" not in out and "INFORMATION_SCHEMA" in out


def test_real_dataset() -> None:
    assert real_dataset("nba", MAP, "t1_") == "t1_nba_dev"
    assert real_dataset("other", MAP) == "other"


@pytest.mark.parametrize("sql, needle", [
    ("SELECT COUNTIF(a > 1) FROM t.x", "COUNT_IF(a > 1)"),
    ("SELECT a FROM t.x WHERE d = @day_1", "$day_1"),
    ("SELECT DATE_DIFF(@b, @a, DAY)", "DATE_DIFF('DAY', $a, $b)"),
    ("SELECT DATE_ADD(d, INTERVAL 1 DAY) FROM t.x", "CAST(d + INTERVAL '1' DAY AS DATE)"),
])
def test_duckdb_dialect(sql: str, needle: str) -> None:
    assert needle in translate(sql, "duckdb")


@pytest.mark.parametrize("sql, expected", [
    ("SELECT SAFE_DIVIDE(1, 0) AS v", None),
    ("SELECT DATE_DIFF(DATE '2024-03-01', DATE '2024-02-01', DAY) AS v", 29),
    ("SELECT DATE_ADD(DATE '2024-02-28', INTERVAL 2 DAY) AS v", __import__("datetime").date(2024, 3, 1)),
    ("SELECT COUNTIF(x > 1) AS v FROM UNNEST([1, 2, 3]) AS x", 2),
    ("SELECT FORMAT_DATE('%Y-%m', DATE '2024-02-09') AS v", "2024-02"),
    ("SELECT EXTRACT(DAYOFWEEK FROM DATE '2024-10-22') AS v", 3),  # BigQuery: Sunday = 1, so Tuesday = 3
])
def test_translated_sql_runs_on_duckdb_with_bigquery_semantics(sql: str, expected: object) -> None:
    con = duckdb.connect()
    try:
        assert con.execute(translate(sql, "duckdb")).fetchone()[0] == expected
    finally:
        con.close()


def test_parse_error_is_one_line_usage_error() -> None:
    with pytest.raises(UsageError, match="does not parse as BigQuery SQL") as e:
        translate("SELECT FROM WHERE (", "duckdb")
    assert "\n" not in str(e.value)


def test_translation_is_cached() -> None:
    sql = "SELECT a FROM nba.cache_probe WHERE b = @b"
    translate(sql, "duckdb", MAP, "c_")
    before = _translate.cache_info().hits
    assert translate(sql, "duckdb", MAP, "c_") == translate(sql, "duckdb", MAP, "c_")
    assert _translate.cache_info().hits == before + 2


def test_digest_ignores_whitespace_only() -> None:
    assert digest("SELECT a\n  FROM t") == digest("SELECT a FROM t")
    assert digest("SELECT a FROM t") != digest("SELECT b FROM t")
    assert len(digest("x")) == 12
