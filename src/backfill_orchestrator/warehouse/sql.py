"""SQL is written once in BigQuery standard SQL; this turns it into what a given warehouse runs.

Translation goes through sqlglot and is cached twice: in memory (a query used once per date is parsed once per
process) and on disk (a fresh `backfill validate` process finds the statements translated before and does not
import sqlglot at all: about 0.1 s of its 0.35 s cold start). The same disk cache holds what suite loading needs to
know about a SQL fragment (`expression_info`, `select_error`). Disk entries are keyed by everything the result
depends on: the text, dialect, dataset mapping, prefix, sqlglot's version and this file's own source (so a change
to the rewrite rules below never serves an old translation). A missing, corrupt or unwritable cache is never an
error: the work is simply done again. Logical dataset names (e.g. `nba_raw`) may be mapped to real ones (e.g.
`nba_raw_dev`) at the same step.

Cache directory: $BACKFILL_CACHE_DIR, else $XDG_CACHE_HOME/backfill-orchestrator, else
~/.cache/backfill-orchestrator (entries under `sql/`); BACKFILL_CACHE_DIR=off keeps everything in memory.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..errors import UsageError

if TYPE_CHECKING:  # sqlglot is imported only when something has to be parsed (it costs ~50 ms to import)
    from sqlglot import exp

CACHE_ENV = "BACKFILL_CACHE_DIR"
_FORMAT = "bf-sql-cache 1"
_MAX_ENTRIES = 4096  # beyond this the oldest half is removed (tests with per-test prefixes add entries)


def digest(sql: str) -> str:
    """A short stable name for a statement, for logs: the same SQL always has the same digest."""
    return hashlib.sha1(" ".join(sql.split()).encode()).hexdigest()[:12]


def translate(sql: str, dialect: str, datasets: tuple[tuple[str, str], ...] = (), prefix: str = "") -> str:
    """BigQuery SQL -> `dialect` SQL, with dataset names mapped (`datasets`, a tuple of pairs so it hashes)
    and then prefixed with `prefix` (tests use a prefix per test to share one emulator)."""
    return _translate(sql, dialect, datasets, prefix)


def real_dataset(name: str, datasets: tuple[tuple[str, str], ...] = (), prefix: str = "") -> str:
    """The physical dataset/schema a logical dataset name stands for."""
    return prefix + dict(datasets).get(name, name)


@dataclass(frozen=True)
class ExpressionInfo:
    """What suite loading needs to know about one BigQuery SQL expression."""

    has_subquery: bool
    has_aggregate: bool
    columns: frozenset[str]  # names of the columns it references


@lru_cache(maxsize=4096)
def expression_info(text: str) -> ExpressionInfo | None:
    """Facts about `text` as one BigQuery expression (as in `SELECT <text>`); None when it is not one."""
    raw = _persisted("expr", (text,), lambda: json.dumps(_expression_facts(text)))
    facts = json.loads(raw)
    if facts is None:
        return None
    return ExpressionInfo(facts["subquery"], facts["aggregate"], frozenset(facts["columns"]))


@lru_cache(maxsize=1024)
def select_error(sql: str) -> str | None:
    """Why `sql` is not exactly one BigQuery SELECT statement (one line), or None when it is."""
    raw = _persisted("select", (sql,), lambda: json.dumps(_select_problem(sql)))
    return json.loads(raw)


# --- the work itself (sqlglot) ----------------------------------------------------------------------------------
@lru_cache(maxsize=1024)
def _translate(sql: str, dialect: str, datasets: tuple[tuple[str, str], ...], prefix: str) -> str:
    if dialect == "bigquery" and not datasets and not prefix:
        return sql
    return _persisted("translate", (sql, dialect, json.dumps(datasets), prefix),
                      lambda: _translate_now(sql, dialect, datasets, prefix))


def _translate_now(sql: str, dialect: str, datasets: tuple[tuple[str, str], ...], prefix: str) -> str:
    import sqlglot
    from sqlglot import exp

    try:
        trees = sqlglot.parse(sql, read="bigquery")
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError) as e:  # an unclosed quote is a TokenError
        raise UsageError(f"SQL does not parse as BigQuery SQL: {str(e).splitlines()[0]}") from None
    out = []
    for tree in trees:
        if tree is None:
            continue
        if datasets or prefix:
            for table in tree.find_all(exp.Table):
                # `dataset.INFORMATION_SCHEMA.X` names the dataset in the catalog slot
                slot = "catalog" if table.db.lower() == "information_schema" else "db"
                part = table.args.get(slot)
                if part is not None and part.name and part.name.lower() != "information_schema":
                    table.set(slot, exp.to_identifier(real_dataset(part.name, datasets, prefix)))
        if dialect == "duckdb":
            _dates_stay_dates(tree)
            _sunday_is_one(tree)
        out.append(tree.sql(dialect=dialect))
    return ";\n".join(out)


def _dates_stay_dates(tree: exp.Expression) -> None:
    """BigQuery's DATE_ADD/DATE_SUB return a DATE; DuckDB's `date + INTERVAL` returns a TIMESTAMP."""
    from sqlglot import exp

    for node in reversed(list(tree.find_all(exp.DateAdd, exp.DateSub))):  # innermost first
        node.replace(exp.cast(node.copy(), exp.DataType.Type.DATE))


def _sunday_is_one(tree: exp.Expression) -> None:
    """BigQuery's EXTRACT(DAYOFWEEK) counts Sunday = 1 .. Saturday = 7; DuckDB's counts Sunday = 0."""
    from sqlglot import exp

    for node in list(tree.find_all(exp.Extract)):
        if node.this.name.upper() == "DAYOFWEEK":
            node.replace(exp.Paren(this=exp.Add(this=node.copy(), expression=exp.Literal.number(1))))


def parse_one_expression(text: str) -> exp.Expression | None:
    """`text` parsed as one BigQuery expression (as in `SELECT <text>`), or None when it is not one."""
    import sqlglot
    from sqlglot import exp

    try:
        trees = sqlglot.parse(f"SELECT {text}", read="bigquery")
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError):
        return None
    if len(trees) != 1 or not isinstance(trees[0], exp.Select) or len(trees[0].expressions) != 1:
        return None
    return trees[0].expressions[0]


def _expression_facts(text: str) -> dict | None:
    from sqlglot import exp

    tree = parse_one_expression(text)
    if tree is None:
        return None
    return {"subquery": tree.find(exp.Select) is not None, "aggregate": tree.find(exp.AggFunc) is not None,
            "columns": sorted({c.name for c in tree.find_all(exp.Column)})}


def _select_problem(sql: str) -> str | None:
    import sqlglot
    from sqlglot import exp

    try:
        trees = [t for t in sqlglot.parse(sql, read="bigquery") if t is not None]
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError) as e:  # an unclosed quote is a TokenError
        return f"SQL does not parse as BigQuery SQL: {str(e).splitlines()[0]}"
    if len(trees) != 1 or not isinstance(trees[0], (exp.Select, exp.Union, exp.Query)):
        return "expected one SELECT statement"
    return None


# --- the disk cache ----------------------------------------------------------------------------------------------
def cache_dir() -> Path | None:
    """Where results persist across processes; None when BACKFILL_CACHE_DIR=off."""
    env = os.environ.get(CACHE_ENV, "")
    if env.lower() == "off":
        return None
    if env:
        return Path(env) / "sql"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "backfill-orchestrator" / "sql"


def _persisted(kind: str, parts: tuple[str, ...], compute: Callable[[], str]) -> str:
    """`compute()`, or what it returned for the same inputs in an earlier process. Exceptions are not cached."""
    folder = cache_dir()
    fingerprint = _fingerprint()
    if folder is None or fingerprint is None:
        return compute()
    key = hashlib.sha256("\0".join((_FORMAT, fingerprint, kind, *parts)).encode()).hexdigest()
    path = folder / f"{key}.txt"
    hit = _read(path)
    if hit is not None:
        return hit
    value = compute()
    _write(path, value)
    return value


def _read(path: Path) -> str | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    head, sep, body = data.partition(b"\n")
    # the header is the body's checksum: a truncated or garbled file is a miss, never a wrong answer
    if not sep or head != hashlib.sha256(body).hexdigest().encode():
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _write(path: Path, value: str) -> None:
    """Atomic (write a unique temporary file, rename), best effort: an unwritable cache is no error."""
    body = value.encode("utf-8")
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # the user's own: its SQL gets run
        with open(tmp, "wb") as f:
            f.write(hashlib.sha256(body).hexdigest().encode() + b"\n" + body)
        os.replace(tmp, path)
        _prune(path.parent)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass


def _prune(folder: Path, keep: int = _MAX_ENTRIES) -> None:
    """Keep the cache small: past `keep` files, remove the oldest half (only ever runs after a miss)."""
    with os.scandir(folder) as it:
        entries = [e for e in it if e.name.endswith(".txt")]
    if len(entries) <= keep:
        return
    for e in sorted(entries, key=_mtime)[: len(entries) // 2]:
        try:
            os.unlink(e.path)
        except OSError:
            pass


def _mtime(entry: os.DirEntry) -> float:
    try:
        return entry.stat().st_mtime
    except OSError:  # removed meanwhile by another process
        return 0.0


@lru_cache(maxsize=1)
def _fingerprint() -> str | None:
    """sqlglot's version and this module's source: a result is only reused by the code that made it.
    None (no disk cache) when this module's source cannot be read."""
    try:
        source = Path(__file__).read_bytes()
    except OSError:
        return None
    return f"{_sqlglot_version()}:{hashlib.sha256(source).hexdigest()}"


def _sqlglot_version() -> str:
    # read sqlglot/_version.py rather than importing sqlglot: not importing it is the point of the cache
    import importlib.util

    spec = importlib.util.find_spec("sqlglot")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        try:
            return hashlib.sha256(Path(folder, "_version.py").read_bytes()).hexdigest()
        except OSError:
            pass
    import sqlglot

    return str(getattr(sqlglot, "__version__", "unknown"))
