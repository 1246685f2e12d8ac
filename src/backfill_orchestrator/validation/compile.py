"""Checks -> as few SQL statements as possible, all written once in BigQuery standard SQL.

Every single-table aggregate check of a suite becomes a few aggregate columns of ONE `GROUP BY date` scan of
its table (identical aggregates are shared); the per-date result is small and the checks are evaluated from it
in Python (checks.py). The baseline period rides in the same scan: the date filter is widened to the union of
the range and the baseline ranges, and each row's date says which period it belongs to. Upstream tables of
relative counts and completeness get one such scan each. Grouped/cross-table consistency, quantiles and custom
SQL are one query each. Example rows are fetched only for checks that failed.
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
    """One `SELECT date, aggregates... FROM table WHERE date in ranges GROUP BY date`."""

    table: str
    date_column: str
    aggs: dict[str, str] = field(default_factory=dict)  # alias -> BigQuery SQL aggregate
    _by_expr: dict[str, str] = field(default_factory=dict)

    def add(self, expr: str) -> str:
        """The alias of `expr` in this scan (shared when two checks need the same aggregate)."""
        key = " ".join(expr.split())
        if key not in self._by_expr:
            alias = f"a{len(self.aggs)}"
            self._by_expr[key] = alias
            self.aggs[alias] = expr
        return self._by_expr[key]

    def sql(self, ranges: list[tuple[dt.date, dt.date]]) -> tuple[str, dict[str, Any]]:
        cols = ",\n  ".join([f"{self.date_column} AS {DATE}", f"COUNT(*) AS {ROWS}"]
                            + [f"{e} AS {a}" for a, e in self.aggs.items()])
        cond, params = date_filter(self.date_column, ranges)
        return (f"SELECT\n  {cols}\nFROM {self.table}\nWHERE {cond}\nGROUP BY {DATE}\nORDER BY {DATE}", params)


def date_filter(column: str, ranges: list[tuple[dt.date, dt.date]]) -> tuple[str, dict[str, Any]]:
    """`column BETWEEN @start AND @end` for one range; ORed ranges (non-contiguous baseline) otherwise."""
    if len(ranges) == 1:
        return f"{column} BETWEEN @start AND @end", {"start": ranges[0][0], "end": ranges[0][1]}
    parts, params = [], {}
    for i, (a, b) in enumerate(ranges):
        parts.append(f"{column} BETWEEN @start{i} AND @end{i}")
        params[f"start{i}"], params[f"end{i}"] = a, b
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
    return scan.add(f"COUNTIF({where})") if where else ROWS


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


def key_text(columns: tuple[str, ...]) -> str:
    """One STRING per key, equal exactly when every column is equal (NULL equals NULL): each part is its
    length and its text, so ('a|b', 'c') and ('a', 'b|c') never meet. COUNT(DISTINCT) takes one expression."""
    if len(columns) == 1:
        return f"COALESCE(CAST({columns[0]} AS STRING), '~')"
    parts = [f"COALESCE(CONCAT(CAST(LENGTH(CAST({c} AS STRING)) AS STRING), ':', CAST({c} AS STRING)), '~')"
             for c in columns]
    return f"CONCAT({', '.join(parts)})"


def distinct_keys(scan: Scan, columns: tuple[str, ...], where: str | None) -> str:
    key = key_text(columns)
    return scan.add(f"COUNT(DISTINCT IF({where}, {key}, NULL))" if where else f"COUNT(DISTINCT {key})")


def outside(column: str, lo: float | None, hi: float | None) -> str:
    parts = ([f"{column} < {lo!r}"] if lo is not None else []) + ([f"{column} > {hi!r}"] if hi is not None else [])
    return " OR ".join(parts)


def mismatch(expression: str, expected: str, tolerance: float) -> str:
    return f"ABS(({expression}) - ({expected})) > {tolerance!r}"


# --- one query per check -----------------------------------------------------------------------------
def grouped_consistency_sql(suite: Suite, check: Check) -> tuple[str, dict[str, Any]]:
    """Per date: groups, and groups where the aggregate differs from what is expected (or either is NULL)."""
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
    sql = (f"{body}SELECT l.{DATE} AS {DATE}, COUNT(*) AS groups, COUNTIF({bad}) AS bad\n{frm}\n"
           f"GROUP BY {DATE}\nORDER BY {DATE}")
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
