"""The one small interface every warehouse implements.

SQL is written once, in BigQuery standard SQL, with named parameters `@name`. Tables are named
`dataset.table` (a DuckDB schema or a BigQuery dataset). Values always travel as parameters; identifiers
that come from configuration pass `check_identifier` and are quoted by the implementation.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Protocol, Sequence

from ..errors import UsageError

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Column types in BigQuery spelling; each implementation maps them to its own.
COLUMN_TYPES = ("STRING", "INT64", "FLOAT64", "BOOL", "DATE", "TIMESTAMP")


def check_identifier(name: str, *, parts: tuple[int, ...] = (1,), what: str = "identifier") -> str:
    """Return `name` if it is `a`, `a.b` or `a.b.c` (as `parts` allows) of `[A-Za-z_][A-Za-z0-9_]*`."""
    pieces = name.split(".") if isinstance(name, str) else []
    if len(pieces) not in parts or not all(_IDENT.match(p) for p in pieces):
        shapes = " or ".join({1: "name", 2: "dataset.table", 3: "project.dataset.table"}[n] for n in parts)
        raise UsageError(f"invalid {what} {name!r}: expected {shapes} made of [A-Za-z_][A-Za-z0-9_]*")
    return name


def check_table(name: str) -> str:
    return check_identifier(name, parts=(2, 3), what="table name")


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # one of COLUMN_TYPES
    nullable: bool = True

    def __post_init__(self) -> None:
        check_identifier(self.name, what="column name")
        if self.type not in COLUMN_TYPES:
            raise UsageError(f"column {self.name}: unknown type {self.type!r}, expected one of {', '.join(COLUMN_TYPES)}")


@dataclass(frozen=True)
class QueryStats:
    """What one statement cost; logged for every query (digest, duration, rows, job id, bytes)."""

    digest: str
    seconds: float
    rows: int
    job_id: str | None = None
    bytes_processed: int | None = None


class PerThread:
    """An attribute whose value is per thread: `last_stats` of a warehouse shared by worker threads (and by a
    suite's concurrent queries) names the statement that THIS thread ran last."""

    def __set_name__(self, owner: type, name: str) -> None:
        self._slot = f"_per_thread_{name}"

    def __get__(self, obj: Any, _objtype: type | None = None) -> Any:
        if obj is None:
            return self
        tls = obj.__dict__.get(self._slot)
        return getattr(tls, "value", None)

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__.setdefault(self._slot, threading.local()).value = value


@dataclass
class DryRun:
    sql: str  # the SQL as it would run in this warehouse's dialect
    bytes_estimate: int | None = None  # BigQuery's dry-run estimate; None where the engine has none


Statement = str | tuple[str, Mapping[str, Any]]


class Warehouse(Protocol):
    dialect: str  # "duckdb" | "bigquery"
    last_stats: QueryStats | None

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run one SELECT (BigQuery SQL, `@name` parameters) and return its rows as dicts."""

    def execute(self, statements: Sequence[Statement], params: Mapping[str, Any] | None = None) -> int:
        """Run statements in ONE transaction (all or nothing); return affected rows summed."""

    def load_rows(self, table: str, rows: Iterable[Mapping[str, Any]], columns: Sequence[Column]) -> int:
        """Append rows to `table` (which must exist); return the number loaded."""

    def create_table(self, table: str, columns: Sequence[Column], *, replace: bool = False) -> None:
        """Create `table` (and its dataset/schema if needed)."""

    def drop_table(self, table: str) -> None:
        """Drop `table` if it exists."""

    def table_exists(self, table: str) -> bool: ...

    def columns(self, table: str) -> list[str]:
        """Column names of `table`; raises TableNotFound."""

    def dry_run(self, sql: str, params: Mapping[str, Any] | None = None) -> DryRun: ...

    def close(self) -> None: ...


@dataclass
class WarehouseSettings:
    """What `open_warehouse` needs; built from the `warehouse:` section of the config."""

    kind: str = "duckdb"  # duckdb | bigquery
    path: str = "data/nba.duckdb"  # duckdb
    project: str | None = None  # bigquery
    location: str | None = None  # bigquery
    endpoint: str | None = None  # bigquery emulator, e.g. http://127.0.0.1:9050
    datasets: dict[str, str] = field(default_factory=dict)  # logical dataset name -> real name
    dataset_prefix: str = ""  # prepended to every real dataset name (tests isolate themselves with it)
