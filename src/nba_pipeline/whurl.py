"""The `--warehouse` argument of the NBA jobs: a DuckDB file path, a `duckdb://` or a `bigquery://` URL, in
the form backfill_orchestrator.warehouse.url formats and parses (its docstring lists the parameters).

    data/nba.duckdb                                      a DuckDB file (must exist; only sample_data creates one)
    duckdb:///abs/path/nba.duckdb?dataset.nba_raw=raw_v2  the same, with a dataset mapped
    bigquery://PROJECT?location=US&endpoint=http://127.0.0.1:9050&prefix=dev_&dataset.nba_raw=raw_v2
"""
from __future__ import annotations

from pathlib import Path

from backfill_orchestrator.errors import UsageError, WarehouseError
from backfill_orchestrator.warehouse import Warehouse, open_warehouse
from backfill_orchestrator.warehouse.url import format_warehouse_url, parse_warehouse_url


def canonical(text: str) -> str:
    """The argument as it should appear in a command printed for later (absolute DuckDB path)."""
    return format_warehouse_url(parse_warehouse_url(text, what="--warehouse"))


def open_url(text: str, create: bool = False, option: str = "--warehouse") -> Warehouse:
    """Open the `--warehouse` argument. A DuckDB file must exist unless `create` (only the sample-data writer
    creates one: a job reading raw tables from a new, empty file would only fail every date, and leave the file)."""
    s = parse_warehouse_url(text, what=option)
    if s.kind != "duckdb" or s.path == ":memory:":
        return open_warehouse(s)
    p = Path(s.path)
    if p.is_dir():
        raise UsageError(f"{option} {text}: is a directory, not a DuckDB file")
    if p.exists() and not _is_duckdb(p):
        raise UsageError(f"{option} {text}: not a DuckDB database")
    if not p.exists() and not create:
        raise UsageError(f"{option} {text}: no such DuckDB file")
    import duckdb

    try:
        return open_warehouse(s)
    except duckdb.Error as e:  # e.g. another process holds its lock, or a newer DuckDB wrote it
        raise WarehouseError(f"{option} {text}: {(str(e).splitlines() or [''])[0]}") from None


def _is_duckdb(path: Path) -> bool:
    # DuckDB's file header: 8 bytes of checksum, then the magic "DUCK"
    try:
        with path.open("rb") as f:
            return f.read(12)[8:12] == b"DUCK"
    except OSError:
        return False
