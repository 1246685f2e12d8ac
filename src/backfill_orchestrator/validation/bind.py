"""Suite against the warehouse: every column a check names must exist in its table.

A missing column is the suite's fault (a ConfigError naming file:line of the key); a missing table is the
data's state (the checks that need it report ERROR).
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from ..errors import ConfigError, TableNotFound
from ..warehouse.base import Warehouse
from .suite import Check, Loc, Suite, expression_columns


@dataclass
class Binding:
    table_errors: dict[str, str] = field(default_factory=dict)  # check name -> "table X not found" (ERROR)
    config_errors: dict[str, ConfigError] = field(default_factory=dict)  # check name -> suite mistake
    suite_error: ConfigError | None = None  # date_column / key_columns missing: nothing can run


def bind(wh: Warehouse, suite: Suite) -> Binding:
    out = Binding()
    cache: dict[str, set[str] | None] = {}

    def cols(table: str) -> set[str] | None:
        if table not in cache:
            try:
                cache[table] = {c.lower() for c in wh.columns(table)}
            except TableNotFound:
                cache[table] = None
        return cache[table]

    main = cols(suite.table)
    if main is None:
        for check in suite.checks:
            if check.type != "custom_sql":
                out.table_errors[check.name] = f"table {suite.table} not found"
        return out
    for key, names in (("date_column", [suite.date_column]), ("key_columns", list(suite.key_columns))):
        for name in names:
            if name.lower() not in main:
                out.suite_error = _missing(suite.locs[key], name, suite.table, main)
                return out
    for check in suite.checks:
        try:
            _check_columns(check, suite, main, cols)
        except ConfigError as e:
            out.config_errors[check.name] = e
        except _TableMissing as e:
            out.table_errors[check.name] = str(e)
    return out


class _TableMissing(Exception):
    pass


def _check_columns(check: Check, suite: Suite, main: set[str], cols) -> None:  # type: ignore[no-untyped-def]
    refs: list[tuple[str, str]] = []  # (key, column)
    if check.column:
        refs.append(("column", check.column))
    refs += [("group_by", g) for g in check.group_by]
    if check.compare_to is None:
        refs += [("columns", k) for k in check.columns]
    for key, text in (("where", check.where), ("expression", check.expression), ("expected", check.expected_expr)):
        if text:
            refs += [(key, c) for c in sorted(expression_columns(text))]
    for key, name in refs:
        if name.lower() not in main:
            raise _missing(check.locs.get(key, check.loc), name, suite.table, main)
    ref = check.compare_to
    if ref is None:
        return
    theirs = cols(ref.table)
    if theirs is None:
        raise _TableMissing(f"table {ref.table} (compare_to) not found")
    key = next((k for k in ("compare_to", "expected", "table") if k in check.locs), "compare_to")
    rrefs = [("date_column", ref.date_column or suite.date_column)]
    if check.type == "distinct_count":
        rrefs.append(("column", ref.column or check.column or ""))
    if check.type == "consistency":
        rrefs += [("table", g) for g in check.group_by]
    rrefs += [("columns", k) for k in check.columns]  # unique: the key of that table
    for k, text in (("where", ref.where), ("expression", ref.expression)):
        if text:
            rrefs += [(k, c) for c in sorted(expression_columns(text))]
    for k, name in rrefs:
        if name.lower() not in theirs:
            loc = ref.locs.get(k) or check.locs.get(k if k == "columns" else key) or check.loc
            raise _missing(loc, name, ref.table, theirs)


def _missing(loc: Loc, name: str, table: str, columns: set[str]) -> ConfigError:
    hint = difflib.get_close_matches(name.lower(), sorted(columns), n=1)
    return loc.error(f"column {name!r} is not in {table}" + (f" (did you mean {hint[0]!r}?)" if hint else ""))
