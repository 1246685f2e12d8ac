"""The `--warehouse` argument of the NBA jobs: a DuckDB file path or a `bigquery://` URL.

    data/nba.duckdb                         a DuckDB file (created if missing)
    duckdb:///abs/path/nba.duckdb           the same, spelled as a URL
    bigquery://PROJECT?location=US&endpoint=http://127.0.0.1:9050&prefix=dev_&dataset.nba_raw=raw_v2
        project; optional location; endpoint (the emulator; absent = real BigQuery with default credentials);
        prefix prepended to every dataset; dataset.<logical>=<real> maps one dataset name.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from backfill_orchestrator.errors import UsageError
from backfill_orchestrator.warehouse import Warehouse, WarehouseSettings, open_warehouse


def parse_warehouse(text: str) -> WarehouseSettings:
    if text.startswith("bigquery://"):
        url = urlsplit(text)
        if not url.netloc:
            raise UsageError(f"--warehouse {text!r}: expected bigquery://PROJECT?location=..&endpoint=..")
        s = WarehouseSettings(kind="bigquery", project=url.netloc)
        for key, value in parse_qsl(url.query, keep_blank_values=True):
            if key == "location":
                s.location = value
            elif key == "endpoint":
                s.endpoint = value
            elif key == "prefix":
                s.dataset_prefix = value
            elif key.startswith("dataset."):
                s.datasets[key.removeprefix("dataset.")] = value
            else:
                raise UsageError(f"--warehouse: unknown parameter {key!r} (expected location, endpoint, prefix, "
                                 "dataset.<name>)")
        return s
    path = text.removeprefix("duckdb://") if text.startswith("duckdb://") else text
    if not path:
        raise UsageError("--warehouse: empty path")
    return WarehouseSettings(kind="duckdb", path=path)


def canonical(text: str) -> str:
    """The argument as it should appear in a command printed for later (absolute DuckDB path)."""
    s = parse_warehouse(text)
    return text if s.kind == "bigquery" or s.path == ":memory:" else str(Path(s.path).resolve())


def open_url(text: str) -> Warehouse:
    return open_warehouse(parse_warehouse(text))
