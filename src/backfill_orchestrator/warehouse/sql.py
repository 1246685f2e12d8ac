"""SQL is written once in BigQuery standard SQL; this turns it into what a given warehouse runs.

Translation goes through sqlglot and is cached, so a query used once per date is parsed once per process.
Logical dataset names (e.g. `nba_raw`) may be mapped to real ones (e.g. `nba_raw_dev`) at the same step.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache

import sqlglot
from sqlglot import exp

from ..errors import UsageError


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


@lru_cache(maxsize=1024)
def _translate(sql: str, dialect: str, datasets: tuple[tuple[str, str], ...], prefix: str) -> str:
    if dialect == "bigquery" and not datasets and not prefix:
        return sql
    try:
        trees = sqlglot.parse(sql, read="bigquery")
    except sqlglot.errors.ParseError as e:
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
    for node in reversed(list(tree.find_all(exp.DateAdd, exp.DateSub))):  # innermost first
        node.replace(exp.cast(node.copy(), exp.DataType.Type.DATE))


def _sunday_is_one(tree: exp.Expression) -> None:
    """BigQuery's EXTRACT(DAYOFWEEK) counts Sunday = 1 .. Saturday = 7; DuckDB's counts Sunday = 0."""
    for node in list(tree.find_all(exp.Extract)):
        if node.this.name.upper() == "DAYOFWEEK":
            node.replace(exp.Paren(this=exp.Add(this=node.copy(), expression=exp.Literal.number(1))))
