"""The embedded default warehouse: one DuckDB file. Schemas play the part of BigQuery datasets."""
from __future__ import annotations

import logging
import re
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import duckdb

from ..errors import ColumnNotFound, TableNotFound, WarehouseError
from .base import Column, DryRun, PerThread, QueryStats, Statement, check_table
from .sql import digest, real_dataset, translate

log = logging.getLogger(__name__)

_TYPES = {"STRING": "VARCHAR", "INT64": "BIGINT", "FLOAT64": "DOUBLE", "BOOL": "BOOLEAN", "DATE": "DATE",
          "TIMESTAMP": "TIMESTAMPTZ"}


def _quote(table: str) -> str:
    return ".".join(f'"{p}"' for p in check_table(table).split("."))


def _map_error(e: duckdb.Error) -> WarehouseError:
    msg = str(e).splitlines()[0]
    if isinstance(e, duckdb.CatalogException) and re.search(r"(Table|Schema) with name .* does not exist", msg):
        return TableNotFound(msg)
    if isinstance(e, duckdb.BinderException) and re.search(r"column .*not found|does not have a column", msg,
                                                           re.IGNORECASE):
        return ColumnNotFound(msg)
    return WarehouseError(msg)


class DuckDBWarehouse:
    dialect = "duckdb"
    last_stats = PerThread()  # QueryStats of the statement this thread ran last

    def __init__(self, path: str | Path = ":memory:", datasets: Mapping[str, str] | None = None,
                 read_only: bool = False, dataset_prefix: str = "") -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._datasets = tuple(sorted((datasets or {}).items()))
        self._prefix = dataset_prefix
        try:
            self._con = duckdb.connect(self.path, read_only=read_only)
        except duckdb.Error as e:  # not a DuckDB file, locked by another process, unreadable: one line, with the path
            raise WarehouseError(f"cannot open DuckDB database {self.path}: {str(e).splitlines()[0]}") from None
        # One connection is shared by worker threads; each thread gets its own cursor, and writes are
        # serialised because DuckDB allows one writing transaction per table at a time.
        self._local = threading.local()
        self._write_lock = threading.Lock()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        cur = getattr(self._local, "cur", None)
        if cur is None:
            cur = self._local.cur = self._con.cursor()
        return cur

    def _sql(self, sql: str) -> str:
        return translate(sql, "duckdb", self._datasets, self._prefix)

    def _real(self, table: str) -> str:
        ds, _, name = check_table(table).rpartition(".")
        return f"{real_dataset(ds, self._datasets, self._prefix)}.{name}"

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        text = self._sql(sql)
        t0 = time.perf_counter()
        cur = self._cursor()
        try:
            cur.execute(text, _used_params(text, params))
            names = [d[0] for d in cur.description or []]
            rows = [dict(zip(names, r)) for r in cur.fetchall()]
        except duckdb.Error as e:
            raise _map_error(e) from None
        self._stats(sql, t0, len(rows))
        return rows

    def execute(self, statements: Sequence[Statement], params: Mapping[str, Any] | None = None) -> int:
        cur = self._cursor()
        affected = 0
        t0 = time.perf_counter()
        with self._write_lock:
            try:
                cur.execute("BEGIN TRANSACTION")
                for st in statements:
                    sql, p = (st, params) if isinstance(st, str) else (st[0], {**(params or {}), **st[1]})
                    text = self._sql(sql)
                    cur.execute(text, _used_params(text, p))
                    if cur.description and cur.description[0][0] == "Count":
                        row = cur.fetchone()
                        affected += int(row[0]) if row and row[0] is not None else 0
                cur.execute("COMMIT")
            except duckdb.Error as e:
                try:
                    cur.execute("ROLLBACK")
                except duckdb.Error:
                    pass
                raise _map_error(e) from None
        self._stats("\n".join(s if isinstance(s, str) else s[0] for s in statements), t0, affected)
        return affected

    def load_rows(self, table: str, rows: Iterable[Mapping[str, Any]], columns: Sequence[Column]) -> int:
        names = [c.name for c in columns]
        data = [tuple(r.get(n) for n in names) for r in rows]
        if not data:
            return 0
        placeholders = ", ".join("?" for _ in names)
        cols = ", ".join(f'"{n}"' for n in names)
        cur = self._cursor()
        with self._write_lock:
            try:
                cur.execute("BEGIN TRANSACTION")
                cur.executemany(f"INSERT INTO {_quote(self._real(table))} ({cols}) VALUES ({placeholders})", data)
                cur.execute("COMMIT")
            except duckdb.Error as e:
                cur.execute("ROLLBACK")
                raise _map_error(e) from None
        return len(data)

    def create_table(self, table: str, columns: Sequence[Column], *, replace: bool = False) -> None:
        real = self._real(table)
        schema = real.split(".")[0]
        cols = ", ".join(f'"{c.name}" {_TYPES[c.type]}{"" if c.nullable else " NOT NULL"}' for c in columns)
        verb = "CREATE OR REPLACE TABLE" if replace else "CREATE TABLE IF NOT EXISTS"
        with self._write_lock:
            cur = self._cursor()
            cur.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            cur.execute(f"{verb} {_quote(real)} ({cols})")

    def drop_table(self, table: str) -> None:
        with self._write_lock:
            self._cursor().execute(f"DROP TABLE IF EXISTS {_quote(self._real(table))}")

    def table_exists(self, table: str) -> bool:
        schema, name = self._real(table).split(".")[-2:]
        # DuckDB's own catalog functions answer in about half the time of information_schema (gates ask often)
        row = self._cursor().execute(
            "SELECT (SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = $s AND table_name = $t) + (SELECT count(*) FROM duckdb_views() "
            "WHERE database_name = current_database() AND schema_name = $s AND view_name = $t)",
            {"s": schema, "t": name}).fetchone()
        return bool(row and row[0])

    def columns(self, table: str) -> list[str]:
        schema, name = self._real(table).split(".")[-2:]
        rows = self._cursor().execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = ? "
            "AND table_name = ? ORDER BY column_index", [schema, name]).fetchall()
        if not rows:
            raise TableNotFound(f"Table {table} does not exist")
        return [r[0] for r in rows]

    def dry_run(self, sql: str, params: Mapping[str, Any] | None = None) -> DryRun:
        text = self._sql(sql)
        try:
            self._cursor().execute("EXPLAIN " + text, _used_params(text, params))
        except duckdb.Error as e:
            raise _map_error(e) from None
        return DryRun(sql=text, bytes_estimate=None)

    def close(self) -> None:
        self._con.close()

    def _stats(self, sql: str, t0: float, rows: int) -> None:
        self.last_stats = QueryStats(digest(sql), time.perf_counter() - t0, rows)
        log.debug("query %s %.3fs rows=%d", self.last_stats.digest, self.last_stats.seconds, rows)


def _used_params(text: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    # DuckDB refuses parameters a statement does not reference; statements in one transaction share a dict.
    return {k: v for k, v in (params or {}).items() if re.search(rf"\${re.escape(k)}\b", text)}
