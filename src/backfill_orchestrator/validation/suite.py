"""Validation suites: YAML -> typed Suite/Check objects. Every error is one line `file:line: key.path: message`.

A suite validates one table over a date range (given at run time). Shape:

    suite: player_game_summary
    table: nba_analytics.player_game_summary
    date_column: game_date
    key_columns: [game_id, team_id, player_id]      # shown in example rows
    baseline: previous_90_days                      # | same_period_last_season | {days: N}
    examples: 5                                     # example rows per failing check
    checks:
      - {name: usage_rate_coverage, type: coverage, column: usage_rate, where: "points IS NOT NULL",
         severity: critical, min: 95%}

Thresholds: `min`, `max` or `between: [a, b]`; a value like `95%` is a percent of the check's base (rows,
expected dates, groups, the compared table's count), a plain number is absolute (coverage, regression and
drop cut-offs are always percents). SQL fragments (`where`, `expression`) are BigQuery SQL; the columns they
name are checked against the table when the suite runs (see `bind.py`).
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError, UsageError
from ..warehouse.base import check_identifier, check_table
from ..warehouse.sql import expression_info, parse_one_expression, select_error
from ..yamlsource import Node, load_yaml

if TYPE_CHECKING:  # SQL fragments are analysed through warehouse.sql's cache, so loading needs no sqlglot
    from sqlglot import exp

CHECK_TYPES = ("coverage", "row_count", "distinct_count", "completeness", "range", "outliers", "statistics",
               "regression", "temporal", "consistency", "custom_sql", "unique")
SEVERITIES = ("critical", "warning")
STATS = ("mean", "stddev", "min", "max", "quantile")
METRICS = ("coverage", "row_count", "distinct_count", "mean")
_COMMON = {"name", "type", "severity", "description", "min", "max", "between"}
_KEYS = {
    "coverage": {"column", "where"},
    "row_count": {"where", "compare_to"},
    "distinct_count": {"column", "where", "compare_to"},
    "completeness": {"where", "compare_to", "calendar"},
    "range": {"column", "where", "allowed", "examples"},
    "outliers": {"column", "where", "allowed", "examples"},
    "statistics": {"column", "where", "stat", "quantile"},
    "regression": {"metric", "column", "where", "regression", "degradation", "direction", "baseline",
                   "if_no_baseline"},
    "temporal": {"metric", "column", "where", "window", "drop_below", "trend_min"},
    "consistency": {"expression", "expected", "where", "group_by", "tolerance", "examples"},  # expected: n|expr|table
    "custom_sql": {"sql", "returns", "sample_percent", "examples"},
    "unique": {"columns", "where", "table", "date_column", "examples"},  # table: another table's key
}
_REQUIRED = {
    "coverage": {"column"}, "distinct_count": {"column"}, "range": {"column", "allowed"},
    "outliers": {"column", "allowed"}, "statistics": {"column", "stat"}, "regression": {"metric"},
    "temporal": {"metric"}, "consistency": {"expression", "expected"}, "custom_sql": {"sql"},
    "unique": {"columns"},
}
# Checks whose result is a count of bad things: default threshold `max: 0`.
_COUNTS_BAD = {"completeness", "range", "outliers", "temporal", "consistency", "unique"}


@dataclass(frozen=True)
class Loc:
    """Where a value was written, so errors found later (e.g. a column missing in the table) can name it."""

    file: str
    line: int
    path: str

    def error(self, message: str) -> ConfigError:
        return ConfigError(f"{self.file}:{self.line}: {self.path}: {message}")

    @staticmethod
    def of(node: Node) -> "Loc":
        return Loc(node.file, node.line, node.path)


@dataclass(frozen=True)
class Bound:
    value: float
    percent: bool

    def text(self) -> str:
        return f"{_num(self.value)}{'%' if self.percent else ''}"


@dataclass(frozen=True)
class Threshold:
    min: Bound | None = None
    max: Bound | None = None

    def describe(self) -> str:
        if self.min and self.max:
            return f"between {self.min.text()} and {self.max.text()}"
        if self.min:
            return f">= {self.min.text()}"
        if self.max:
            return f"<= {self.max.text()}"
        return ""

    def ok(self, value: float | None, percent: float | None) -> bool:
        """`value` is compared with absolute bounds, `percent` with percent bounds; None never passes."""
        for bound, below in ((self.min, True), (self.max, False)):
            if bound is None:
                continue
            v = percent if bound.percent else value
            if v is None or (v < bound.value if below else v > bound.value):
                return False
        return True


@dataclass(frozen=True)
class Ref:
    """Another table over the same dates: the upstream of a relative count, completeness or consistency."""

    table: str
    date_column: str
    where: str | None = None
    column: str | None = None  # distinct_count: the column counted there (default: the check's column)
    expression: str | None = None  # consistency: an aggregate per group there
    loc: Loc | None = None
    locs: dict[str, Loc] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Baseline:
    kind: str  # previous_days | same_period_last_season
    days: int = 90

    def describe(self) -> str:
        return "same period last season" if self.kind == "same_period_last_season" else f"previous {self.days} days"


@dataclass(frozen=True)
class Check:
    name: str
    type: str
    severity: str
    loc: Loc
    locs: dict[str, Loc] = field(default_factory=dict, compare=False, hash=False)  # key -> where it was written
    description: str = ""
    column: str | None = None
    where: str | None = None
    threshold: Threshold = Threshold()
    compare_to: Ref | None = None
    examples: int = 5
    # range / outliers
    allowed_min: float | None = None
    allowed_max: float | None = None
    # statistics
    stat: str | None = None
    quantile: float | None = None
    # regression / temporal
    metric: str | None = None
    regression: float | None = None  # percent of baseline under which the check FAILs
    degradation: float | None = None  # percent of baseline under which it WARNs
    direction: str = "down"
    baseline: Baseline | None = None
    if_no_baseline: str = "warn"  # warn | pass | fail: what an empty baseline means for the gate
    window: int = 7
    drop_below: float = 50.0
    trend_min: float | None = None
    # consistency
    expression: str | None = None
    expected_value: float | None = None
    expected_expr: str | None = None
    group_by: tuple[str, ...] = ()
    tolerance: float = 0.0
    # completeness
    calendar_skip_days: int | None = None  # None: no calendar rule
    # unique: the key columns (of compare_to's table when the check names another `table`)
    columns: tuple[str, ...] = ()
    # custom_sql
    sql: str | None = None
    returns: str = "value"  # value | rows
    sample_percent: float = 100.0

    @property
    def grouped(self) -> bool:
        return self.type == "consistency" and bool(self.group_by)


@dataclass(frozen=True)
class Suite:
    name: str
    table: str
    date_column: str
    checks: tuple[Check, ...]
    file: str = ""
    line: int = 0
    description: str = ""
    key_columns: tuple[str, ...] = ()
    baseline: Baseline = Baseline("previous_days", 90)
    examples: int = 5
    locs: dict[str, Loc] = field(default_factory=dict, compare=False, hash=False)


# --- loading ------------------------------------------------------------------------------------------
def load_suites(paths: list[Path] | list[str] | Path | str) -> dict[str, Suite]:
    """Suites from files and directories (every *.yaml / *.yml in a directory). Names must be unique."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted([*p.glob("*.yaml"), *p.glob("*.yml")]))
        elif p.exists():
            files.append(p)
        else:
            raise UsageError(f"suites: no such file or directory: {p}")
    out: dict[str, Suite] = {}
    for f in files:
        suite = load_suite(f)
        if suite.name in out:
            raise suite.locs["suite"].error(f"suite name {suite.name!r} is already used in {out[suite.name].file}")
        out[suite.name] = suite
    return out


def load_suite(path: Path | str) -> Suite:
    root = load_yaml(path)
    if root.is_null():
        raise root.error("the file is empty; expected a mapping with `suite`, `table`, `date_column`, `checks`")
    m = root.keys({"suite", "table", "date_column", "description", "key_columns", "baseline", "examples", "checks"},
                  {"suite", "table", "date_column", "checks"})
    name = _ident(m["suite"], "suite name")
    suite_examples = m["examples"].int(minimum=0) if "examples" in m else 5
    baseline = _baseline(m["baseline"]) if "baseline" in m else Baseline("previous_days", 90)
    checks: list[Check] = []
    seen: dict[str, Node] = {}
    for node in m["checks"].items():
        check = _check(node, suite_examples)
        if check.name in seen:
            raise node.error(f"check name {check.name!r} is already used at line {seen[check.name].line}",
                             path=check.locs["name"].path)
        seen[check.name] = node
        checks.append(check)
    if not checks:
        raise m["checks"].error("expected at least one check")
    return Suite(
        name=name, table=_table(m["table"]), date_column=_ident(m["date_column"], "column name"),
        checks=tuple(checks), file=root.file, line=m["suite"].line,
        description=m["description"].str() if "description" in m else "",
        key_columns=tuple(_ident(n, "column name") for n in m["key_columns"].items()) if "key_columns" in m else (),
        baseline=baseline, examples=suite_examples, locs={k: Loc.of(v) for k, v in m.items()},
    )


def _check(node: Node, default_examples: int) -> Check:
    raw = node.mapping()
    if "type" not in raw:
        raise node.error("missing required key", path=f"{node.path}.type")
    kind = raw["type"].choice(CHECK_TYPES)
    m = node.keys(_COMMON | _KEYS[kind], {"name", "type"} | _REQUIRED.get(kind, set()))
    locs = {k: Loc.of(v) for k, v in m.items()}
    f: dict = dict(name=_ident(m["name"], "check name"), type=kind, loc=Loc.of(node), locs=locs,
                   severity=m["severity"].choice(SEVERITIES) if "severity" in m else "critical",
                   description=m["description"].str() if "description" in m else "",
                   examples=m["examples"].int(minimum=0) if "examples" in m else default_examples)
    if "column" in m:
        f["column"] = _ident(m["column"], "column name")
    if "where" in m and not m["where"].is_null():
        f["where"] = _expr(m["where"], aggregate=False)
    if "compare_to" in m:
        f["compare_to"] = _ref(m["compare_to"], kind)
    parse = {"range": _range, "outliers": _range, "statistics": _statistics, "regression": _regression,
             "temporal": _temporal, "consistency": _consistency, "custom_sql": _custom, "completeness": _completeness,
             "unique": _unique}
    if kind in parse:
        parse[kind](m, f)
    f["threshold"] = _threshold(node, m, kind, f)
    if kind in ("regression", "temporal") and f["metric"] != "row_count" and "column" not in f:
        raise node.error(f"metric {f['metric']} needs `column`", path=f"{node.path}.column")
    return Check(**f)


def _threshold(node: Node, m: dict[str, Node], kind: str, f: dict) -> Threshold:
    given = [k for k in ("min", "max", "between") if k in m]
    if kind == "regression":
        if given:
            raise m[given[0]].error("a regression check uses `regression` and `degradation` cut-offs, not min/max")
        return Threshold()
    if "between" in m and len(given) > 1:
        raise m["between"].error("use either `between` or `min`/`max`, not both")
    always_pct = kind == "coverage"
    if "between" in m:
        items = m["between"].items()
        if len(items) != 2:
            raise m["between"].error("expected a list of two values [low, high]")
        lo, hi = _bound(items[0], always_pct), _bound(items[1], always_pct)
    else:
        lo = _bound(m["min"], always_pct) if "min" in m else None
        hi = _bound(m["max"], always_pct) if "max" in m else None
    if lo is None and hi is None:
        if kind in _COUNTS_BAD or (kind == "custom_sql" and f.get("returns") == "rows"):
            return Threshold(max=Bound(0, False))
        raise node.error("expected a threshold: `min`, `max` or `between`", path=f"{node.path}.min")
    where = m.get("between") or m.get("min") or m.get("max")
    for b, key in ((lo, "min"), (hi, "max")):
        src = m.get(key) or m.get("between") or node
        if b is None:
            continue
        if b.percent and not 0 <= b.value <= 100:
            raise src.error(f"a percent threshold must be between 0% and 100%, got {b.text()}")
        if b.percent and kind in ("row_count", "distinct_count") and f.get("compare_to") is None:
            raise src.error("a percent threshold needs `compare_to` (the table it is a percent of)")
        if b.percent and kind == "statistics":
            raise src.error("a statistics threshold is an absolute value, not a percent")
        if b.percent and kind == "custom_sql":
            raise src.error("a custom_sql threshold is an absolute number (of failing rows, or the value)")
        if kind in _COUNTS_BAD and not b.percent and b.value < 0:
            raise src.error(f"expected a count >= 0, got {b.text()}")
    if lo and hi and lo.percent == hi.percent and lo.value > hi.value:
        raise where.error(f"min {lo.text()} is greater than max {hi.text()}")  # type: ignore[union-attr]
    return Threshold(lo, hi)


def _bound(node: Node, always_pct: bool) -> Bound:
    v = node.scalar()
    if isinstance(v, str) and v.strip().endswith("%"):
        try:
            return Bound(float(v.strip()[:-1]), True)
        except ValueError:
            pass
    elif isinstance(v, (int, float)) and not isinstance(v, bool):
        return Bound(float(v), always_pct)
    raise node.error(f"expected a number or a percent like 95%, got {v!r}")


def _pct(node: Node) -> float:
    b = _bound(node, True)
    if b.value < 0:
        raise node.error(f"expected a percent >= 0, got {b.text()}")
    return b.value


def _range(m: dict[str, Node], f: dict) -> None:
    a = m["allowed"].keys({"min", "max"})
    if not a:
        raise m["allowed"].error("expected `min` and/or `max`")
    f["allowed_min"] = a["min"].number() if "min" in a else None
    f["allowed_max"] = a["max"].number() if "max" in a else None
    if f["allowed_min"] is not None and f["allowed_max"] is not None and f["allowed_min"] > f["allowed_max"]:
        raise m["allowed"].error(f"min {_num(f['allowed_min'])} is greater than max {_num(f['allowed_max'])}")


def _statistics(m: dict[str, Node], f: dict) -> None:
    f["stat"] = m["stat"].choice(STATS)
    if f["stat"] == "quantile":
        if "quantile" not in m:
            raise m["stat"].error("stat quantile needs `quantile: 0.95` (between 0 and 1)")
        q = m["quantile"].number()
        if not 0 <= q <= 1:
            raise m["quantile"].error(f"expected a number between 0 and 1, got {_num(q)}")
        f["quantile"] = q
    elif "quantile" in m:
        raise m["quantile"].error("`quantile` is only used with `stat: quantile`")


def _regression(m: dict[str, Node], f: dict) -> None:
    f["metric"] = m["metric"].choice(METRICS)
    f["direction"] = m["direction"].choice(("down", "up")) if "direction" in m else "down"
    if "if_no_baseline" in m:
        f["if_no_baseline"] = m["if_no_baseline"].choice(("warn", "pass", "fail"))
    default = (90.0, 97.0) if f["direction"] == "down" else (110.0, 103.0)
    f["regression"] = _pct(m["regression"]) if "regression" in m else default[0]
    f["degradation"] = _pct(m["degradation"]) if "degradation" in m else max(default[1], f["regression"]) \
        if f["direction"] == "down" else min(default[1], f["regression"])
    wrong = f["regression"] > f["degradation"] if f["direction"] == "down" else f["regression"] < f["degradation"]
    if wrong:
        word = "above" if f["direction"] == "down" else "below"
        raise (m.get("regression") or m["metric"]).error(
            f"regression cut-off {_num(f['regression'])}% is {word} the degradation cut-off "
            f"{_num(f['degradation'])}% (direction {f['direction']})")
    if "baseline" in m:
        f["baseline"] = _baseline(m["baseline"])


def _temporal(m: dict[str, Node], f: dict) -> None:
    f["metric"] = m["metric"].choice(("coverage", "row_count"))
    if "window" in m:
        f["window"] = m["window"].int(minimum=2)
    if "drop_below" in m:
        f["drop_below"] = _pct(m["drop_below"])
    if "trend_min" in m:
        b = _bound(m["trend_min"], True)
        f["trend_min"] = b.value


def _consistency(m: dict[str, Node], f: dict) -> None:
    """`expected` is a number, an expression over the same table, or {table, expression} of another table."""
    group_by = tuple(_ident(n, "column name") for n in m["group_by"].items()) if "group_by" in m else ()
    e = m["expected"]
    if e.is_map():
        if not group_by:
            raise e.error("a cross-table consistency check needs `group_by` (the keys both tables share)")
        f["compare_to"] = _ref(e, "consistency")
        if f["compare_to"].expression is None:
            raise e.error("missing required key", path=f"{e.path}.expression")
    f["group_by"] = group_by
    grouped = bool(group_by)
    f["expression"] = _expr(m["expression"], aggregate=grouped)
    if not e.is_map():
        v = e.scalar()
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            f["expected_value"] = float(v)
        else:
            f["expected_expr"] = _expr(e, aggregate=grouped)
    if "tolerance" in m:
        f["tolerance"] = m["tolerance"].number()
        if f["tolerance"] < 0:
            raise m["tolerance"].error(f"expected a number >= 0, got {_num(f['tolerance'])}")


def _completeness(m: dict[str, Node], f: dict) -> None:
    if "calendar" in m:
        c = m["calendar"].keys({"skip_first_days"})
        f["calendar_skip_days"] = c["skip_first_days"].int(minimum=0) if "skip_first_days" in c else 0


def _unique(m: dict[str, Node], f: dict) -> None:
    f["columns"] = tuple(_ident(n, "column name") for n in m["columns"].items())
    if not f["columns"]:
        raise m["columns"].error("expected at least one key column")
    if "table" in m:  # the key of another table over the same dates: its where, its date column
        f["compare_to"] = Ref(table=_table(m["table"]),
                              date_column=_ident(m["date_column"], "column name") if "date_column" in m else "",
                              where=f.pop("where", None), loc=Loc.of(m["table"]),
                              locs={k: Loc.of(m[k]) for k in ("table", "date_column", "where") if k in m})
    elif "date_column" in m:
        raise m["date_column"].error("`date_column` goes with `table` (the suite's date column is used otherwise)")


def _custom(m: dict[str, Node], f: dict) -> None:
    text = m["sql"].str()
    problem = select_error(text)
    if problem is not None:
        raise m["sql"].error(problem)
    f["sql"] = text
    f["returns"] = m["returns"].choice(("value", "rows")) if "returns" in m else "value"
    if "sample_percent" in m:
        f["sample_percent"] = _pct(m["sample_percent"])
        if not 0 < f["sample_percent"] <= 100:
            raise m["sample_percent"].error(f"expected a percent in (0, 100], got {_num(f['sample_percent'])}%")


def _ref(node: Node, kind: str) -> Ref:
    allowed = {"table", "date_column", "where"}
    allowed |= {"column"} if kind == "distinct_count" else set()
    allowed |= {"expression"} if kind == "consistency" else set()
    m = node.keys(allowed, {"table", "expression"} if kind == "consistency" else {"table"})
    return Ref(
        table=_table(m["table"]),
        date_column=_ident(m["date_column"], "column name") if "date_column" in m else "",
        where=_expr(m["where"], aggregate=False) if "where" in m else None,
        column=_ident(m["column"], "column name") if "column" in m else None,
        expression=_expr(m["expression"], aggregate=True) if "expression" in m else None,
        loc=Loc.of(node), locs={k: Loc.of(v) for k, v in m.items()},
    )


def _baseline(node: Node) -> Baseline:
    if node.is_map():
        m = node.keys({"days"}, {"days"})
        return Baseline("previous_days", m["days"].int(minimum=1))
    v = node.str()
    if v == "same_period_last_season":
        return Baseline("same_period_last_season")
    if v.startswith("previous_") and v.endswith("_days") and v[9:-5].isdigit() and int(v[9:-5]) > 0:
        return Baseline("previous_days", int(v[9:-5]))
    hint = difflib.get_close_matches(v, ["previous_90_days", "same_period_last_season"], n=1)
    raise node.error(f"expected previous_N_days, same_period_last_season or {{days: N}}, got {v!r}"
                     + (f" (did you mean {hint[0]!r}?)" if hint else ""))


def _ident(node: Node, what: str) -> str:
    try:
        return check_identifier(node.str(), what=what)
    except UsageError as e:
        raise node.error(str(e)) from None


def _table(node: Node) -> str:
    try:
        return check_table(node.str())
    except UsageError as e:
        raise node.error(str(e)) from None


def _expr(node: Node, *, aggregate: bool) -> str:
    """A BigQuery SQL expression over one table's columns; aggregates required or forbidden."""
    v = node.scalar()
    text = str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else node.str()
    info = expression_info(text)
    if info is None:
        raise node.error(f"not a SQL expression: {text!r}")
    if info.has_subquery:
        raise node.error("subqueries are not allowed here; use a custom_sql check")
    has_agg = info.has_aggregate
    if aggregate and not has_agg:
        raise node.error(f"expected an aggregate per group such as SUM(x) or MAX(x), got {text!r}")
    if not aggregate and has_agg:
        raise node.error(f"aggregate functions are not allowed here, got {text!r}")
    return text


def parse_expression(text: str) -> exp.Expression | None:
    return parse_one_expression(text)


def expression_columns(text: str) -> set[str]:
    info = expression_info(text)
    return set(info.columns) if info is not None else set()


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


__all__ = ["Baseline", "Bound", "CHECK_TYPES", "Check", "Loc", "Ref", "Suite", "Threshold", "expression_columns",
           "load_suite", "load_suites"]
