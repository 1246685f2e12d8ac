"""The `--warehouse` argument of the NBA jobs: a DuckDB file path or a `bigquery://` URL.

    data/nba.duckdb                         a DuckDB file (must exist; only sample_data creates one)
    duckdb:///abs/path/nba.duckdb           the same, spelled as a URL
    bigquery://PROJECT?location=US&endpoint=http://127.0.0.1:9050&prefix=dev_&dataset.nba_raw=raw_v2
        project; optional location; endpoint (the emulator; absent = real BigQuery with default credentials);
        prefix prepended to every dataset; dataset.<logical>=<real> maps one dataset name.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from backfill_orchestrator.errors import UsageError, WarehouseError
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
                s.endpoint = _endpoint(text, value)
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


def _endpoint(text: str, value: str) -> str:
    """A malformed endpoint is the user's typo: say so now, not as a failure of every date later."""
    try:
        url = urlsplit(value)
        url.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.hostname:
        raise UsageError(f"--warehouse {text!r}: endpoint {value!r} is not an http(s)://HOST[:PORT] URL")
    return value


def canonical(text: str) -> str:
    """The argument as it should appear in a command printed for later (absolute DuckDB path)."""
    s = parse_warehouse(text)
    return text if s.kind == "bigquery" or s.path == ":memory:" else str(Path(s.path).resolve())


def open_url(text: str, create: bool = False, option: str = "--warehouse") -> Warehouse:
    """Open the `--warehouse` argument. A DuckDB file must exist unless `create` (only the sample-data writer
    creates one: a job reading raw tables from a new, empty file would only fail every date, and leave the file)."""
    s = parse_warehouse(text)
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
