"""Checks -> as few SQL statements as possible, all written once in BigQuery standard SQL.

Every single-table aggregate check of a suite becomes a few aggregate columns of a `GROUP BY date` scan of its
table (identical aggregates are shared); the per-date result is small and the checks are evaluated from it in
Python (checks.py). The baseline period rides in the same scan: the date filter is widened to the union of the
range and the baseline ranges, and each row's date says which period it belongs to. Upstream tables of relative
counts and completeness get one such scan each; a unique check counts its key's groups per date (a `GROUP BY
date, key` counted per date: exact, NULL equal to NULL, and much cheaper than COUNT(DISTINCT) of a built string);
grouped consistency is one per-date query. All these per-date parts are then fused into ONE statement (`fuse`):
each part keeps its own columns (aliases are unique across parts) and one row per date comes back. Quantiles
and custom SQL are one query each. Example rows are fetched only for checks that failed.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from .suite import Check, Suite

DATE = "bf_date"  # the date column's alias in every per-date query
ROWS = "bf_rows"


@dataclass
class Scan:
    """One `SELECT date, aggregates... FROM table WHERE date in ranges GROUP BY date`. `prefix` makes its
    aliases unique among the parts of a fused statement (the suite's own table keeps none)."""

    table: str
    date_column: str
    prefix: str = ""
    param: str = ""  # prefix of its date parameters (the suite's table reads the baseline too: other values)
    aggs: dict[str, str] = field(default_factory=dict)  # alias -> BigQuery SQL aggregate
    _by_expr: dict[str, str] = field(default_factory=dict)

    @property
    def rows(self) -> str:
        """The alias of COUNT(*): never NULL on a date the scan has, so it also says the date is there."""
        return f"{self.prefix}{ROWS}"

    def add(self, expr: str) -> str:
        """The alias of `expr` in this scan (shared when two checks need the same aggregate)."""
        key = " ".join(expr.split())
        if key not in self._by_expr:
            alias = f"{self.prefix}a{len(self.aggs)}"
            self._by_expr[key] = alias
            self.aggs[alias] = expr
        return self._by_expr[key]

    def columns(self) -> list[str]:
        return [self.rows, *self.aggs]

    def sql(self, ranges: list[tuple[dt.date, dt.date]], *, ordered: bool = True) -> tuple[str, dict[str, Any]]:
        cols = ",\n  ".join([f"{self.date_column} AS {DATE}", f"COUNT(*) AS {self.rows}"]
                            + [f"{e} AS {a}" for a, e in self.aggs.items()])
        cond, params = date_filter(self.date_column, ranges, self.param)
        return (f"SELECT\n  {cols}\nFROM {self.table}\nWHERE {cond}\nGROUP BY {DATE}"
                + (f"\nORDER BY {DATE}" if ordered else ""), params)


@dataclass
class KeyScan:
    """Per date: the rows (matching `where`) and how many distinct keys they hold, from one `GROUP BY date, key`
    (NULL equals NULL there, as a key should). Rows minus keys is what a unique check counts."""

    table: str
    date_column: str
    columns_: tuple[str, ...]
    where: str | None
    prefix: str

    @property
    def rows(self) -> str:
        return f"{self.prefix}{ROWS}"

    @property
    def keys(self) -> str:
        return f"{self.prefix}keys"

    def columns(self) -> list[str]:
        return [self.rows, self.keys]

    def sql(self, ranges: list[tuple[dt.date, dt.date]], *, ordered: bool = True) -> tuple[str, dict[str, Any]]:
        cond, params = date_filter(self.date_column, ranges)
        keys = ", ".join(self.columns_)
        return (f"SELECT {DATE}, SUM(n) AS {self.rows}, COUNT(*) AS {self.keys} FROM (\n"
                f"  SELECT {self.date_column} AS {DATE}, COUNT(*) AS n FROM {self.table}\n"
                f"  WHERE {_and(self.where, cond)}\n  GROUP BY {DATE}, {keys}\n) AS k\nGROUP BY {DATE}"
                + (f"\nORDER BY {DATE}" if ordered else ""), params)


def fuse(parts: list[tuple[str, list[str]]]) -> str:
    """ONE statement of several per-date queries (sql, its columns other than the date): one row per date that
    any of them has, each part's columns NULL on the dates it has not. The parts are stacked (UNION ALL, each
    padded with NULLs) and folded per date with MAX of the one value there is: every part is read once, with
    no join, in SQL both warehouses run."""
    every = [col for _, cols in parts for col in cols]
    branches = []
    for i, (sql, cols) in enumerate(parts):
        mine = set(cols)
        pick = ", ".join(f"p{i}.{col}" if col in mine else f"NULL AS {col}" for col in every)
        branches.append(f"SELECT p{i}.{DATE} AS {DATE}, {pick}\nFROM (\n{sql}\n) AS p{i}")
    folded = ",\n  ".join(f"MAX({col}) AS {col}" for col in every)
    union = "\nUNION ALL\n".join(branches)
    return f"SELECT\n  {DATE},\n  {folded}\nFROM (\n{union}\n) AS parts\nGROUP BY {DATE}\nORDER BY {DATE}"


def date_filter(column: str, ranges: list[tuple[dt.date, dt.date]], name: str = "") -> tuple[str, dict[str, Any]]:
    """`column BETWEEN @start AND @end` for one range; ORed ranges (non-contiguous baseline) otherwise.
    `name` prefixes the parameters (parts of one statement that filter on other dates)."""
    if len(ranges) == 1:
        return f"{column} BETWEEN @{name}start AND @{name}end", {f"{name}start": ranges[0][0], f"{name}end": ranges[0][1]}
    parts, params = [], {}
    for i, (a, b) in enumerate(ranges):
        parts.append(f"{column} BETWEEN @{name}start{i} AND @{name}end{i}")
        params[f"{name}start{i}"], params[f"{name}end{i}"] = a, b
    return "(" + " OR ".join(parts) + ")", params


def merge_ranges(ranges: list[tuple[dt.date, dt.date]]) -> list[tuple[dt.date, dt.date]]:
    """Union of inclusive date ranges; touching ranges merge (a contiguous baseline adds no OR)."""
    out: list[tuple[dt.date, dt.date]] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1] + dt.timedelta(days=1):
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


# --- aggregate pieces --------------------------------------------------------------------------------
def _and(where: str | None, cond: str) -> str:
    return f"({where}) AND ({cond})" if where else cond


def count_rows(scan: Scan, where: str | None) -> str:
    return scan.add(f"COUNTIF({where})") if where else scan.rows


def count_nonnull(scan: Scan, column: str, where: str | None) -> str:
    return scan.add(f"COUNTIF({_and(where, f'{column} IS NOT NULL')})")


def count_distinct(scan: Scan, column: str, where: str | None) -> str:
    return scan.add(f"COUNT(DISTINCT IF({where}, {column}, NULL))" if where else f"COUNT(DISTINCT {column})")


def count_if(scan: Scan, where: str | None, cond: str) -> str:
    return scan.add(f"COUNTIF({_and(where, cond)})")


def moments(scan: Scan, column: str, where: str | None) -> dict[str, str]:
    """Per-date n, sum, sum of squares, min, max of a column: mean and stddev combine across dates."""
    v = f"IF({where}, {column}, NULL)" if where else column
    f = f"CAST({v} AS FLOAT64)"
    return {"n": scan.add(f"COUNT({v})"), "sum": scan.add(f"SUM({f})"), "sumsq": scan.add(f"SUM({f} * {f})"),
            "min": scan.add(f"MIN({f})"), "max": scan.add(f"MAX({f})")}


def outside(column: str, lo: float | None, hi: float | None) -> str:
    parts = ([f"{column} < {lo!r}"] if lo is not None else []) + ([f"{column} > {hi!r}"] if hi is not None else [])
    return " OR ".join(parts)


def mismatch(expression: str, expected: str, tolerance: float) -> str:
    return f"ABS(({expression}) - ({expected})) > {tolerance!r}"


# --- one query per check -----------------------------------------------------------------------------
def grouped_consistency_sql(suite: Suite, check: Check, prefix: str = "", *, ordered: bool = True) -> tuple[str, dict[str, Any]]:
    """Per date: groups, and groups where the aggregate differs from what is expected (or either is NULL).
    `prefix`: of the two count columns (`groups`, `bad`), unique among the parts of a fused statement."""
    left = _group_cte(suite.table, suite.date_column, check.group_by, check.expression, check.where)
    if check.compare_to is not None:
        ref = check.compare_to
        right = _group_cte(ref.table, ref.date_column or suite.date_column, check.group_by, ref.expression, ref.where,
                           with_date=False)
        on = " AND ".join(f"l.{k} = r.{k}" for k in check.group_by)
        bad = f"l.v IS NULL OR r.v IS NULL OR ABS(l.v - r.v) > {check.tolerance!r}"
        body = f"WITH l AS ({left}), r AS ({right})\n"
        frm = f"FROM l LEFT JOIN r ON {on}"
    else:
        expected = _lit(check.expected_value) if check.expected_value is not None else "l.expected"
        extra = f", {check.expected_expr} AS expected" if check.expected_expr else ""
        left = _group_cte(suite.table, suite.date_column, check.group_by, check.expression, check.where, extra=extra)
        bad = f"l.v IS NULL OR {expected} IS NULL OR ABS(l.v - {expected}) > {check.tolerance!r}"
        body = f"WITH l AS ({left})\n"
        frm = "FROM l"
    sql = (f"{body}SELECT l.{DATE} AS {DATE}, COUNT(*) AS {prefix}groups, COUNTIF({bad}) AS {prefix}bad\n{frm}\n"
           f"GROUP BY {DATE}" + (f"\nORDER BY {DATE}" if ordered else ""))
    return sql, {}


def grouped_examples_sql(suite: Suite, check: Check, limit: int) -> str:
    keys = ", ".join(f"l.{k}" for k in check.group_by)
    sql, _ = grouped_consistency_sql(suite, check)
    head, _, _ = sql.partition("SELECT l.")
    if check.compare_to is not None:
        bad = f"l.v IS NULL OR r.v IS NULL OR ABS(l.v - r.v) > {check.tolerance!r}"
        return (f"{head}SELECT l.{DATE} AS {suite.date_column}, {keys}, l.v AS observed, r.v AS expected\n"
                f"FROM l LEFT JOIN r ON {' AND '.join(f'l.{k} = r.{k}' for k in check.group_by)}\n"
                f"WHERE {bad}\nORDER BY 1, {keys}\nLIMIT {int(limit)}")
    expected = _lit(check.expected_value) if check.expected_value is not None else "l.expected"
    bad = f"l.v IS NULL OR {expected} IS NULL OR ABS(l.v - {expected}) > {check.tolerance!r}"
    return (f"{head}SELECT l.{DATE} AS {suite.date_column}, {keys}, l.v AS observed, {expected} AS expected\n"
            f"FROM l\nWHERE {bad}\nORDER BY 1, {keys}\nLIMIT {int(limit)}")


def _group_cte(table: str, date_column: str, keys: tuple[str, ...], expression: str | None, where: str | None,
               *, with_date: bool = True, extra: str = "") -> str:
    date = f"{date_column} AS {DATE}, " if with_date else ""
    cond = _and(where, f"{date_column} BETWEEN @start AND @end")
    group = (f"{DATE}, " if with_date else "") + ", ".join(keys)
    return (f"SELECT {date}{', '.join(keys)}, {expression} AS v{extra} FROM {table} "
            f"WHERE {cond} GROUP BY {group}")


def quantile_sql(suite: Suite, check: Check) -> str:
    """Exact quantile with linear interpolation (as numpy / PERCENTILE_CONT), portable: the two ranks around
    1 + q*(n-1) are selected and interpolated in Python. (APPROX_QUANTILES()[OFFSET()] is wrong on the
    emulator, and DuckDB has no APPROX_QUANTILES.)"""
    cond = _and(check.where, f"{check.column} IS NOT NULL AND {suite.date_column} BETWEEN @start AND @end")
    pos = "1 + @q * (n - 1)"
    return (f"SELECT rn, v, n FROM (\n  SELECT CAST({check.column} AS FLOAT64) AS v, "
            f"ROW_NUMBER() OVER (ORDER BY {check.column}) AS rn, COUNT(*) OVER () AS n\n"
            f"  FROM {suite.table} WHERE {cond}\n) AS ranked\n"
            f"WHERE rn = CAST(FLOOR({pos}) AS INT64) OR rn = CAST(CEIL({pos}) AS INT64)\nORDER BY rn")


def duplicate_keys_sql(suite: Suite, check: Check, limit: int) -> str:
    """The keys held by more than one row on a date of the range, most copies first."""
    ref = check.compare_to
    table, date_column, where = (ref.table, ref.date_column or suite.date_column, ref.where) if ref \
        else (suite.table, suite.date_column, check.where)
    keys = ", ".join(check.columns)
    cond = _and(where, f"{date_column} BETWEEN @start AND @end")
    return (f"SELECT {date_column}, {keys}, COUNT(*) AS copies FROM {table}\nWHERE {cond}\n"
            f"GROUP BY {date_column}, {keys}\nHAVING COUNT(*) > 1\n"
            f"ORDER BY copies DESC, {date_column}, {keys}\nLIMIT {int(limit)}")


def failing_rows_sql(suite: Suite, check: Check, bad: str, limit: int) -> str:
    cols = list(dict.fromkeys([suite.date_column, *suite.key_columns, *([check.column] if check.column else [])]))
    cond = _and(check.where, f"({bad}) AND {suite.date_column} BETWEEN @start AND @end")
    if check.type == "consistency":
        expected = check.expected_expr or _lit(check.expected_value)  # `expected: 240` is a number, not SQL
        cols += [f"{check.expression} AS observed", f"{expected} AS expected"]
    return (f"SELECT {', '.join(cols)} FROM {suite.table}\nWHERE {cond}\n"
            f"ORDER BY {', '.join(dict.fromkeys([suite.date_column, *suite.key_columns]))}\nLIMIT {int(limit)}")


def _lit(v: float) -> str:
    return f"CAST({v!r} AS FLOAT64)"  # a bare 100.0 is a DECIMAL in DuckDB


def used_params(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """Only the parameters a statement names (DuckDB refuses unused ones)."""
    return {k: v for k, v in params.items() if re.search(rf"@{k}\b", sql)}
