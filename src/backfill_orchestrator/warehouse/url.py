"""Warehouse settings as one string: the `{warehouse}` placeholder of a phase command, `--warehouse` of a job.

    /abs/path/nba.duckdb                               a DuckDB file, no dataset mapping
    duckdb:///abs/path/nba.duckdb?dataset.nba_raw=raw_v2&prefix=dev_
                                                       the same file, datasets mapped (the path percent-encoded)
    bigquery://PROJECT?location=US&endpoint=http://127.0.0.1:9050&prefix=dev_&dataset.nba_raw=raw_v2
        project; optional location; endpoint (the emulator; absent = real BigQuery with default credentials);
        prefix prepended to every dataset; dataset.<logical>=<real> maps one dataset name.

The orchestrator formats, the jobs parse; both sides use this module so that nothing (a dataset mapping, a
prefix) is lost on the way. `parse_warehouse_url(format_warehouse_url(s)) == s` for every valid `s` whose
DuckDB path is absolute (a relative path is made absolute: the job may run in another directory).
"""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from ..errors import UsageError
from .base import WarehouseSettings, check_identifier

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_DUCKDB_PARAMS = ("prefix", "dataset.<name>")
_BIGQUERY_PARAMS = ("location", "endpoint", "prefix", "dataset.<name>")


def format_warehouse_url(settings: WarehouseSettings) -> str:
    """The one-string form of `settings`; a DuckDB file without mappings stays a plain absolute path."""
    s = settings
    params = [("prefix", s.dataset_prefix)] + [(f"dataset.{k}", v) for k, v in sorted((s.datasets or {}).items())]
    if s.kind == "duckdb":
        path = s.path if s.path == ":memory:" else str(Path(s.path).resolve())
        query = _query(params)
        return f"duckdb://{quote(path, safe='/:')}?{query}" if query else path
    if s.kind == "bigquery":
        if not s.project:
            raise ValueError("a BigQuery warehouse needs a project")
        query = _query([("location", s.location), ("endpoint", s.endpoint)] + params)
        return f"bigquery://{s.project}" + (f"?{query}" if query else "")
    raise ValueError(f"unknown warehouse kind {s.kind!r}")


def parse_warehouse_url(text: str, what: str = "warehouse URL") -> WarehouseSettings:
    """Settings from a DuckDB path, a `duckdb://` or a `bigquery://` URL. A malformed one raises UsageError,
    one line starting with `what` and the text (jobs pass what="--warehouse")."""
    def bad(reason: str) -> UsageError:
        return UsageError(f"{what} {text!r}: {reason}")

    if text.startswith("bigquery://"):
        url = urlsplit(text)
        if not url.netloc or url.path not in ("", "/") or url.fragment:
            raise bad("expected bigquery://PROJECT?location=..&endpoint=..&prefix=..&dataset.NAME=REAL")
        s = WarehouseSettings(kind="bigquery", project=url.netloc)
        allowed = _BIGQUERY_PARAMS
        query = url.query
    elif text.startswith("duckdb://"):
        path, _, query = text.removeprefix("duckdb://").partition("?")
        path = unquote(path)
        if not path:
            raise bad("expected duckdb://PATH[?dataset.NAME=REAL&prefix=..]")
        s = WarehouseSettings(kind="duckdb", path=path)
        allowed = _DUCKDB_PARAMS
    elif _SCHEME.match(text):
        raise bad("expected a DuckDB file path, duckdb://PATH or bigquery://PROJECT")
    elif not text:
        raise bad("empty path")
    else:
        return WarehouseSettings(kind="duckdb", path=text)  # a plain path is taken literally, '?' and all

    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True) if query else []
    except ValueError:
        raise bad("malformed parameters: expected NAME=VALUE pairs joined by '&'") from None
    seen: set[str] = set()
    for key, value in pairs:
        if key in seen:
            raise bad(f"parameter {key!r} given twice")
        seen.add(key)
        name = key.removeprefix("dataset.") if key.startswith("dataset.") else None
        if key not in allowed and name is None:
            raise bad(f"unknown parameter {key!r} (expected {', '.join(allowed)})")
        try:
            if key == "location":
                s.location = value or None
            elif key == "endpoint":
                s.endpoint = _endpoint(value)
            elif key == "prefix":
                s.dataset_prefix = check_identifier(value, what="dataset prefix") if value else ""
            else:
                s.datasets[check_identifier(name or "", what="dataset name")] = check_identifier(
                    value, what="dataset name")
        except UsageError as e:
            raise bad(str(e)) from None
    return s


def _query(params: list[tuple[str, str | None]]) -> str:
    # ':' and '/' stay readable (endpoints); everything else that could split the query is escaped
    return "&".join(f"{quote(k, safe='')}={quote(v, safe=':/')}" for k, v in params if v)


def _endpoint(value: str) -> str:
    """A malformed endpoint is the user's typo: say so now, not as a failure of every date later."""
    try:
        url = urlsplit(value)
        url.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.hostname:
        raise UsageError(f"endpoint {value!r} is not an http(s)://HOST[:PORT] URL")
    return value
