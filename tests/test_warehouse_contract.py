"""The warehouse contract: every test runs on DuckDB and on BigQuery (real client, emulator).

SQL here is written once, in BigQuery standard SQL, exactly as the pipeline writes it.

Emulator quirks met while writing these (bqemulator 1.4; real BigQuery does not have them):
- `CAST(2.5 AS INT64)` gives 2 on the emulator, 3 on BigQuery and on DuckDB. Round explicitly:
  `CAST(ROUND(x) AS INT64)` agrees everywhere (test_round_then_cast_agrees).
- `APPROX_QUANTILES(x, n)[OFFSET(k)]` silently picks the wrong element on the emulator; take the array in
  a subquery and index it outside (test_quantiles_indexed_outside).
- `total_bytes_processed` is always 0 on the emulator, so dry_run's estimate is only checked to be an int.
- Named parameters inside multi-statement scripts and a script's DML row count are not supported by the
  emulator itself; scripts/bqemu.py patches both (see its docstring), since execute() depends on them.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Callable

import pytest

from backfill_orchestrator.errors import ColumnNotFound, TableNotFound, UsageError, WarehouseError
from backfill_orchestrator.warehouse import Column, Warehouse

UTC = dt.timezone.utc
GAMES = [Column("game_id", "STRING"), Column("game_date", "DATE"), Column("team", "STRING"),
         Column("points", "INT64"), Column("minutes", "FLOAT64"), Column("home", "BOOL"),
         Column("loaded_at", "TIMESTAMP")]
ROWS = [
    {"game_id": "g1", "game_date": dt.date(2024, 10, 22), "team": "BOS", "points": 132, "minutes": 240.0,
     "home": True, "loaded_at": dt.datetime(2024, 10, 23, 1, 2, 3, tzinfo=UTC)},
    {"game_id": "g1", "game_date": dt.date(2024, 10, 22), "team": "NYK", "points": 109, "minutes": 240.0,
     "home": False, "loaded_at": dt.datetime(2024, 10, 23, 1, 2, 3, tzinfo=UTC)},
    {"game_id": "g2", "game_date": dt.date(2024, 10, 23), "team": "BOS", "points": None, "minutes": None,
     "home": None, "loaded_at": None},
    {"game_id": "g3", "game_date": dt.date(2025, 1, 1), "team": "LAL", "points": 99, "minutes": 265.0,
     "home": True, "loaded_at": dt.datetime(2025, 1, 2, tzinfo=UTC)},
]


@pytest.fixture
def games(wh: Warehouse) -> Warehouse:
    wh.create_table("nba.games", GAMES)
    assert wh.load_rows("nba.games", ROWS, GAMES) == len(ROWS)
    return wh


def _count(wh: Warehouse, table: str = "nba.games") -> int:
    return wh.query(f"SELECT COUNT(*) AS n FROM {table}")[0]["n"]


# -- values ---------------------------------------------------------------------------------------------

def test_rows_round_trip_with_types_and_nulls(games: Warehouse) -> None:
    rows = games.query("SELECT * FROM nba.games ORDER BY game_date, team")
    assert rows == sorted(ROWS, key=lambda r: (r["game_date"], r["team"]))
    assert type(rows[0]["game_date"]) is dt.date and type(rows[0]["points"]) is int


def test_dates_compare_and_shift(games: Warehouse) -> None:
    rows = games.query("SELECT DISTINCT game_date, DATE_ADD(game_date, INTERVAL 1 DAY) AS next_day "
                       "FROM nba.games WHERE game_date BETWEEN @start AND @end ORDER BY game_date",
                       {"start": dt.date(2024, 10, 22), "end": dt.date(2024, 10, 31)})
    assert rows == [{"game_date": dt.date(2024, 10, 22), "next_day": dt.date(2024, 10, 23)},
                    {"game_date": dt.date(2024, 10, 23), "next_day": dt.date(2024, 10, 24)}]


def test_nulls_are_none_and_skipped_by_aggregates(games: Warehouse) -> None:
    row = games.query("SELECT COUNT(*) AS n, COUNT(points) AS with_points, SUM(points) AS total, "
                      "COUNTIF(points IS NULL) AS missing, MAX(IF(game_id = 'g2', minutes, NULL)) AS g2_minutes "
                      "FROM nba.games")[0]
    assert row == {"n": 4, "with_points": 3, "total": 340, "missing": 1, "g2_minutes": None}


def test_date_diff(wh: Warehouse) -> None:
    row = wh.query("SELECT DATE_DIFF(@b, @a, DAY) AS days, DATE_DIFF(@a, @b, DAY) AS back",
                   {"a": dt.date(2024, 2, 27), "b": dt.date(2024, 3, 2)})[0]
    assert row == {"days": 4, "back": -4}  # leap year: Feb 29 counts


def test_countif_and_group_by(games: Warehouse) -> None:
    rows = games.query("SELECT team, COUNT(*) AS games, COUNTIF(home) AS home_games, SUM(points) AS points "
                       "FROM nba.games GROUP BY team ORDER BY team")
    assert rows == [{"team": "BOS", "games": 2, "home_games": 1, "points": 132},
                    {"team": "LAL", "games": 1, "home_games": 1, "points": 99},
                    {"team": "NYK", "games": 1, "home_games": 0, "points": 109}]


def test_safe_divide(wh: Warehouse) -> None:
    row = wh.query("SELECT SAFE_DIVIDE(1, 4) AS q, SAFE_DIVIDE(1, 0) AS by_zero, SAFE_DIVIDE(NULL, 2) AS null_num")[0]
    assert row == {"q": 0.25, "by_zero": None, "null_num": None}


def test_round_then_cast_agrees(wh: Warehouse) -> None:
    # Plain CAST(2.5 AS INT64) is 3 on BigQuery and DuckDB but 2 on the emulator: always ROUND first.
    row = wh.query("SELECT CAST(ROUND(2.5) AS INT64) AS up, CAST(ROUND(-2.5) AS INT64) AS down, "
                   "ROUND(SAFE_DIVIDE(2, 3), 3) AS r")[0]
    assert row == {"up": 3, "down": -3, "r": 0.667}


def test_quantiles_indexed_outside(wh: Warehouse) -> None:
    # APPROX_QUANTILES(x, 2)[OFFSET(1)] inline is wrong on the emulator; index the array outside instead.
    row = wh.query("SELECT q[OFFSET(0)] AS lo, q[OFFSET(2)] AS hi FROM "
                   "(SELECT APPROX_QUANTILES(x, 2) AS q FROM UNNEST(@xs) AS x)", {"xs": [5, 1, 9, 3, 7]})[0]
    assert row == {"lo": 1, "hi": 9}


def test_window_and_cte(games: Warehouse) -> None:
    rows = games.query("WITH t AS (SELECT team, game_date, points FROM nba.games WHERE points IS NOT NULL) "
                       "SELECT team, game_date, ROW_NUMBER() OVER (PARTITION BY team ORDER BY game_date DESC) AS rn "
                       "FROM t QUALIFY rn = 1 ORDER BY team")
    assert [(r["team"], r["game_date"]) for r in rows] == [
        ("BOS", dt.date(2024, 10, 22)), ("LAL", dt.date(2025, 1, 1)), ("NYK", dt.date(2024, 10, 22))]


# -- parameters -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [
    dt.date(2024, 2, 29),
    42,
    -7,
    2.75,
    "O'Neal said \"hi\" -- ; DROP TABLE nba.games; \\ @x $1 ?",
    True,
    False,
    dt.datetime(2024, 10, 22, 23, 30, 15, tzinfo=UTC),
], ids=["date", "int", "negative_int", "float", "string_with_quotes", "true", "false", "timestamp"])
def test_scalar_parameter_round_trips(wh: Warehouse, value: Any) -> None:
    got = wh.query("SELECT @v AS v", {"v": value})[0]["v"]
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize("values", [[3, 1, 2], ["b", "a'c"], [dt.date(2024, 1, 2), dt.date(2024, 1, 1)]],
                         ids=["int", "string", "date"])
def test_array_parameter(wh: Warehouse, values: list[Any]) -> None:
    rows = wh.query("SELECT x FROM UNNEST(@xs) AS x ORDER BY x", {"xs": values})
    assert [r["x"] for r in rows] == sorted(values)


def test_array_parameter_filters_in_unnest(games: Warehouse) -> None:
    rows = games.query("SELECT DISTINCT game_id FROM nba.games WHERE game_id IN UNNEST(@ids) ORDER BY game_id",
                       {"ids": ["g1", "g3", "nope"]})
    assert [r["game_id"] for r in rows] == ["g1", "g3"]


def test_quoted_values_go_through_parameters_safely(games: Warehouse) -> None:
    evil = "x'); DELETE FROM nba.games; --"
    games.execute([("INSERT INTO nba.games (game_id, team) VALUES (@id, @team)", {"id": evil, "team": "O'NEAL"})])
    assert games.query("SELECT team FROM nba.games WHERE game_id = @id", {"id": evil}) == [{"team": "O'NEAL"}]
    assert _count(games) == len(ROWS) + 1
    rows = [{"game_id": "quote'\"\\", "team": "line\nbreak"}]
    games.load_rows("nba.games", rows, [Column("game_id", "STRING"), Column("team", "STRING")])
    assert games.query("SELECT team FROM nba.games WHERE game_id = @id", {"id": "quote'\"\\"}) == [
        {"team": "line\nbreak"}]


def test_unused_parameters_are_ignored(wh: Warehouse) -> None:
    assert wh.query("SELECT @a AS a", {"a": 1, "unused": "x"}) == [{"a": 1}]


# -- transactions and DML -------------------------------------------------------------------------------

REPLACE_DAY = [
    "DELETE FROM nba.games WHERE game_date = @d",
    "INSERT INTO nba.games (game_id, game_date, team, points) "
    "SELECT CONCAT('r', team), @d, team, 100 FROM UNNEST(@teams) AS team",
]


def test_delete_insert_is_idempotent(games: Warehouse) -> None:
    params = {"d": dt.date(2024, 10, 22), "teams": ["BOS", "NYK", "MIA"]}
    first = games.execute(REPLACE_DAY, params)
    assert first == 2 + 3  # two rows deleted, three inserted
    assert games.last_stats is not None and games.last_stats.rows == first
    before = games.query("SELECT game_id, team, points FROM nba.games ORDER BY game_id, team")
    assert games.execute(REPLACE_DAY, params) == 3 + 3
    assert games.query("SELECT game_id, team, points FROM nba.games ORDER BY game_id, team") == before
    assert games.query("SELECT COUNT(*) AS n FROM nba.games WHERE game_date = @d", params) == [{"n": 3}]
    assert _count(games) == len(ROWS) - 2 + 3


def test_single_statement_reports_affected_rows(games: Warehouse) -> None:
    assert games.execute(["UPDATE nba.games SET points = points + 1 WHERE team = @t"], {"t": "BOS"}) == 2


def test_statement_level_parameters(games: Warehouse) -> None:
    n = games.execute([("DELETE FROM nba.games WHERE game_id = @a", {"a": "g1"}),
                       ("DELETE FROM nba.games WHERE game_id = @b", {"b": "g3"})])
    assert n == 3 and _count(games) == 1


@pytest.mark.parametrize("bad, error", [
    ("INSERT INTO nba.no_such_table (game_id) VALUES ('x')", TableNotFound),
    ("INSERT INTO nba.games (no_such_column) VALUES ('x')", ColumnNotFound),
], ids=["missing_table", "missing_column"])
def test_execute_is_all_or_nothing(games: Warehouse, bad: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        games.execute(["DELETE FROM nba.games WHERE TRUE", bad])
    assert _count(games) == len(ROWS)  # the DELETE was undone


def test_failure_midway_through_many_statements_keeps_nothing(games: Warehouse) -> None:
    with pytest.raises(WarehouseError):
        games.execute(["DELETE FROM nba.games WHERE team = 'BOS'",
                       "UPDATE nba.games SET points = 0 WHERE TRUE",
                       "INSERT INTO nba.missing (x) VALUES (1)"])
    assert games.query("SELECT SUM(points) AS p, COUNT(*) AS n FROM nba.games") == [{"p": 340, "n": 4}]


# -- errors ---------------------------------------------------------------------------------------------

def test_missing_table_is_table_not_found(wh: Warehouse) -> None:
    wh.create_table("nba.present", [Column("x", "INT64")])
    with pytest.raises(TableNotFound) as e:
        wh.query("SELECT * FROM nba.absent")
    assert "absent" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(TableNotFound):
        wh.query("SELECT * FROM no_such_dataset.absent")


def test_missing_column_is_column_not_found(games: Warehouse) -> None:
    with pytest.raises(ColumnNotFound) as e:
        games.query("SELECT rebounds FROM nba.games")
    assert "rebounds" in str(e.value) and "\n" not in str(e.value)


def test_other_errors_are_one_line_warehouse_errors(wh: Warehouse) -> None:
    with pytest.raises(WarehouseError) as e:
        wh.query("SELECT DATE_DIFF(@a, 'not a date at all', DAY) AS x", {"a": dt.date(2024, 1, 1)})
    assert not isinstance(e.value, (TableNotFound, ColumnNotFound)) and "\n" not in str(e.value)


@pytest.mark.parametrize("name", ["a;drop", "nba.games;drop", "nba.ga mes", "1nba.games", "a.b.c.d", "nba"])
def test_identifiers_are_validated(wh: Warehouse, name: str) -> None:
    for call in (lambda: wh.create_table(name, [Column("x", "INT64")]), lambda: wh.table_exists(name),
                 lambda: wh.columns(name), lambda: wh.drop_table(name),
                 lambda: wh.load_rows(name, [{"x": 1}], [Column("x", "INT64")])):
        with pytest.raises(UsageError, match="invalid table name"):
            call()


def test_column_names_are_validated() -> None:
    with pytest.raises(UsageError, match="invalid column name"):
        Column("a;drop", "STRING")
    with pytest.raises(UsageError, match="unknown type"):
        Column("a", "VARCHAR")


# -- tables ---------------------------------------------------------------------------------------------

def test_table_exists_and_columns(games: Warehouse) -> None:
    assert games.table_exists("nba.games")
    assert not games.table_exists("nba.nothing") and not games.table_exists("nothing.nothing")
    assert games.columns("nba.games") == [c.name for c in GAMES]
    with pytest.raises(TableNotFound):
        games.columns("nba.nothing")


def test_create_table_is_idempotent_and_replace_empties(games: Warehouse) -> None:
    games.create_table("nba.games", GAMES)  # exists: left alone
    assert _count(games) == len(ROWS)
    games.create_table("nba.games", GAMES[:2], replace=True)
    assert _count(games) == 0 and games.columns("nba.games") == ["game_id", "game_date"]


def test_drop_table(games: Warehouse) -> None:
    games.drop_table("nba.games")
    assert not games.table_exists("nba.games")
    games.drop_table("nba.games")  # already gone: no error


def test_load_rows_into_missing_table(wh: Warehouse) -> None:
    with pytest.raises(TableNotFound):
        wh.load_rows("nba.nothing", [{"x": 1}], [Column("x", "INT64")])
    assert wh.load_rows("nba.nothing", [], [Column("x", "INT64")]) == 0


def test_dry_run(games: Warehouse) -> None:
    d = games.dry_run("SELECT team, SUM(points) AS p FROM nba.games WHERE game_date >= @d GROUP BY team",
                      {"d": dt.date(2024, 1, 1)})
    assert "games" in d.sql
    if games.dialect == "bigquery":
        assert isinstance(d.bytes_estimate, int)  # always 0 on the emulator
    else:
        assert d.bytes_estimate is None
    assert _count(games) == len(ROWS)
    with pytest.raises(ColumnNotFound):
        games.dry_run("SELECT rebounds FROM nba.games")
    with pytest.raises(TableNotFound):
        games.dry_run("SELECT * FROM nba.nothing")


def test_last_stats(games: Warehouse) -> None:
    games.query("SELECT * FROM nba.games WHERE team = @t", {"t": "BOS"})
    s = games.last_stats
    assert s is not None and s.rows == 2 and s.seconds >= 0 and len(s.digest) == 12
    if games.dialect == "bigquery":
        assert s.job_id and s.bytes_processed is not None


def test_dataset_mapping_and_prefix(open_wh: Callable[..., Warehouse]) -> None:
    mapped = open_wh(datasets={"nba": "nba_dev"})
    mapped.create_table("nba.games", GAMES)
    mapped.load_rows("nba.games", ROWS[:1], GAMES)
    assert mapped.query("SELECT game_id FROM nba.games") == [{"game_id": "g1"}]
    plain = open_wh()  # same storage, no mapping: the data sits in the real dataset
    assert plain.table_exists("nba_dev.games") and not plain.table_exists("nba.games")
    assert plain.query("SELECT COUNT(*) AS n FROM nba_dev.games") == [{"n": 1}]


# -- BigQuery client behaviour (no emulator needed: a local HTTP server that fails on purpose) -------------

class _Flaky:
    """A loopback HTTP server answering `failures` times with `status`, then 404 (table not found)."""

    def __init__(self, status: int, failures: int) -> None:
        import http.server
        import json
        import threading

        self.requests = 0
        flaky = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 — http.server's naming
                flaky.requests += 1
                code = status if flaky.requests <= failures else 404
                body = json.dumps({"error": {"code": code, "message": f"status {code}",
                                             "errors": [{"reason": "x", "message": f"status {code}"}]}}).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.bigquery
@pytest.mark.parametrize("status, retried", [(429, True), (500, True), (503, True), (400, False), (403, False)])
def test_bigquery_retries_transient_errors_only(status: int, retried: bool) -> None:
    from backfill_orchestrator.warehouse.bigquery import BigQueryWarehouse, make_retry

    flaky = _Flaky(status, failures=2)
    try:
        w = BigQueryWarehouse(project="p", endpoint=flaky.url, retry=make_retry(initial=0.01, maximum=0.05,
                                                                                 timeout=10))
        if retried:
            assert w.table_exists("ds.t") is False  # two failures absorbed, then the real answer
            assert flaky.requests == 3
        else:
            with pytest.raises(WarehouseError, match=str(status)):
                w.table_exists("ds.t")
            assert flaky.requests == 1
        w.close()
    finally:
        flaky.close()


@pytest.mark.bigquery
def test_bigquery_unreachable_endpoint_is_one_line_error(tmp_path: Any) -> None:
    import socket

    from backfill_orchestrator.warehouse.bigquery import BigQueryWarehouse, make_retry

    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    w = BigQueryWarehouse(project="p", endpoint=f"http://127.0.0.1:{port}",
                          retry=make_retry(initial=0.01, maximum=0.02, timeout=0.5))
    with pytest.raises(WarehouseError, match="cannot reach BigQuery") as e:
        w.query("SELECT 1 AS x")
    assert "\n" not in str(e.value)


@pytest.mark.bigquery
def test_bigquery_endpoint_must_be_a_url() -> None:
    from backfill_orchestrator.warehouse.bigquery import BigQueryWarehouse

    with pytest.raises(UsageError, match="http://"):
        BigQueryWarehouse(project="p", endpoint="127.0.0.1:9050")


@pytest.mark.bigquery
@pytest.mark.parametrize("value, kind", [(True, "BOOL"), (3, "INT64"), (1.5, "FLOAT64"), ("s", "STRING"),
                                         (dt.date(2024, 1, 1), "DATE"),
                                         (dt.datetime(2024, 1, 1, tzinfo=UTC), "TIMESTAMP")])
def test_bigquery_parameter_types(value: Any, kind: str) -> None:
    from backfill_orchestrator.warehouse.bigquery import query_parameter

    assert query_parameter("p", value).type_ == kind
    assert query_parameter("p", [value]).array_type == kind


@pytest.mark.bigquery
def test_bigquery_parameter_type_errors() -> None:
    from backfill_orchestrator.warehouse.bigquery import query_parameter

    with pytest.raises(UsageError, match="@p is None"):
        query_parameter("p", None)
    with pytest.raises(UsageError, match="mixes types"):
        query_parameter("p", [1, "a"])
    with pytest.raises(UsageError, match="unsupported type"):
        query_parameter("p", object())


@pytest.mark.bigquery
def test_bigquery_without_credentials_is_one_line_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from backfill_orchestrator.warehouse.bigquery import BigQueryWarehouse

    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with pytest.raises(WarehouseError, match="no Google credentials") as e:
        BigQueryWarehouse(project="p")  # no endpoint: real BigQuery, which needs credentials
    assert "\n" not in str(e.value)


def test_duckdb_views_count_as_tables(duck):
    # a suite may validate a view; existence and columns come from DuckDB's catalog, views included
    duck.create_table("vw.base", [Column("a", "INT64")])
    duck.execute(["CREATE VIEW vw.derived AS SELECT a, a + 1 AS b FROM vw.base"])
    assert duck.table_exists("vw.base") and duck.table_exists("vw.derived")
    assert not duck.table_exists("vw.missing")
    assert duck.columns("vw.derived") == ["a", "b"]
