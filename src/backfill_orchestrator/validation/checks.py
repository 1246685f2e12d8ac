"""Each check type in two halves: `plan` adds what it needs to the per-date scans (compile.Scan), and
`evaluate` turns the small per-date results into a CheckResult with an observed value and evidence.

Evidence names dates as compressed ranges (`2024-11-02..2024-11-20 (19 dates)`), so a failing gate says
where to look.
"""
from __future__ import annotations

import datetime as dt
import functools
import math
import statistics
from dataclasses import dataclass, field
from typing import Any, Callable

from ..dates import Calendar, date_range, format_ranges
from . import compile as c
from .results import CheckResult, Status
from .suite import Check, Suite, _num

Rows = dict[dt.date, dict[str, Any]]


@dataclass
class Env:
    """What evaluation sees: the per-date rows of every scan, the check's own query rows, the dates."""

    suite: Suite
    start: dt.date
    end: dt.date
    frames: dict[str, Rows]  # scan key -> date -> row
    calendar: Calendar | None = None
    baselines: dict[str, tuple[dt.date, dt.date] | str] = field(default_factory=dict)  # check -> range | reason
    own: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # check -> rows of its own query
    full: bool = False  # sampled checks ran on every row
    _totals: dict[tuple, float] = field(default_factory=dict, repr=False)
    _per_date: dict[tuple, dict[dt.date, float]] = field(default_factory=dict, repr=False)
    _rows: dict[tuple, Any] = field(default_factory=dict, repr=False)

    @functools.cached_property
    def dates(self) -> list[dt.date]:
        return date_range(self.start, self.end)

    def total(self, key: str, alias: str, a: dt.date | None = None, b: dt.date | None = None) -> float:
        a, b = a or self.start, b or self.end
        memo = (key, alias, a, b)  # many checks share an aggregate (e.g. the rows matching a `where`)
        if memo not in self._totals:
            self._totals[memo] = sum(self.per_date(key, alias, a, b).values())
        return self._totals[memo]

    def per_date(self, key: str, alias: str, a: dt.date | None = None, b: dt.date | None = None) -> dict[dt.date, float]:
        a, b = a or self.start, b or self.end
        memo = (key, alias, a, b)  # read-only for callers: shared by every check that needs this series
        if memo not in self._per_date:
            # the hot loop of evaluation (aliases x dates): no function call per value, no date test when the
            # period covers every date of the scan
            rows = self._rows.get((key, a, b))
            if rows is None:  # the dates of a period are picked once for all its aliases
                frame = self.frames[key]
                rows = self._rows[(key, a, b)] = frame.items() if not frame or (a <= min(frame) and max(frame) <= b) \
                    else [(d, r) for d, r in frame.items() if a <= d <= b]
            self._per_date[memo] = {d: 0.0 if (v := r.get(alias)) is None else float(v) for d, r in rows}
        return self._per_date[memo]


MAIN = "main"


def upstream_key(table: str, date_column: str) -> str:
    return f"{table}:{date_column}"


@dataclass
class Plan:
    roles: dict[str, str] = field(default_factory=dict)  # role -> alias in the scan
    scans: dict[str, str] = field(default_factory=dict)  # role -> scan key
    bad_rows: str | None = None  # condition of failing rows (for example rows)


# --- planning -----------------------------------------------------------------------------------------
def plan(check: Check, suite: Suite, scans: dict[str, Any]) -> Plan:
    """Add this check's aggregates to the scans (creating upstream scans as needed)."""
    main = scans[MAIN]
    p = Plan()

    def on(role: str, alias: str, key: str = MAIN) -> None:
        p.roles[role], p.scans[role] = alias, key

    t, w, col = check.type, check.where, check.column
    if t == "coverage" or (t in ("regression", "temporal") and check.metric == "coverage"):
        on("base", c.count_rows(main, w))
        on("ok", c.count_nonnull(main, col, w))  # type: ignore[arg-type]
    elif t in ("row_count", "completeness") or (t in ("regression", "temporal") and check.metric == "row_count"):
        on("count", c.count_rows(main, w))
    elif t == "distinct_count" or (t == "regression" and check.metric == "distinct_count"):
        on("count", c.count_distinct(main, col, w))  # type: ignore[arg-type]
        on("present", c.count_rows(main, w))
    elif (t == "statistics" and check.stat != "quantile") or (t == "regression" and check.metric == "mean"):
        for role, alias in c.moments(main, col, w).items():  # type: ignore[arg-type]
            on(role, alias)
    elif t in ("range", "outliers"):
        p.bad_rows = c.outside(col, check.allowed_min, check.allowed_max)  # type: ignore[arg-type]
        on("base", c.count_nonnull(main, col, w))  # type: ignore[arg-type]
        on("bad", c.count_if(main, w, p.bad_rows))
    elif t == "consistency" and not check.grouped:
        expected = check.expected_expr or c._lit(check.expected_value)  # type: ignore[arg-type]
        p.bad_rows = c.mismatch(check.expression, expected, check.tolerance)  # type: ignore[arg-type]
        on("base", c.count_rows(main, w))
        on("bad", c.count_if(main, w, p.bad_rows))
    elif t == "unique":
        # per date: rows and distinct keys of the table the key belongs to (this one, or `table:`), from one
        # GROUP BY date + key part of the fused statement
        ref = check.compare_to
        table, date_column, where = (ref.table, ref.date_column or suite.date_column, ref.where) if ref \
            else (suite.table, suite.date_column, w)
        key = f"keys:{table}:{date_column}:{','.join(check.columns)}:{where or ''}"
        ks = scans.get(key)
        if ks is None:
            ks = scans[key] = c.KeyScan(table, date_column, check.columns, where, f"k{len(scans)}_")
        on("rows", ks.rows, key)  # type: ignore[union-attr]
        on("keys", ks.keys, key)  # type: ignore[union-attr]
    if t in ("row_count", "distinct_count", "completeness") and check.compare_to is not None:
        ref = check.compare_to
        key = upstream_key(ref.table, ref.date_column or suite.date_column)
        up = scans.get(key)
        if up is None:
            up = scans[key] = c.Scan(ref.table, ref.date_column or suite.date_column, prefix=f"u{len(scans)}_")
        if t == "distinct_count":
            on("up", c.count_distinct(up, ref.column or col, ref.where), key)  # type: ignore[arg-type]
        else:
            on("up", c.count_rows(up, ref.where), key)
    return p


# --- evaluation ---------------------------------------------------------------------------------------
def evaluate(check: Check, p: Plan, env: Env) -> CheckResult:
    return EVALUATORS[check.type](check, p, env)


def _result(check: Check, status: Status, observed: Any, evidence: str, threshold: str | None = None,
            bad_dates: Any = ()) -> CheckResult:
    """`bad_dates`: the dates the evidence names; kept as `failing_dates` only when the check did not pass."""
    return CheckResult(name=check.name, type=check.type, severity=check.severity, status=status,
                       observed=observed, threshold=check.threshold.describe() if threshold is None else threshold,
                       evidence=evidence, column=check.column, if_no_baseline=check.if_no_baseline,
                       failing_dates=sorted(set(bad_dates)) if status is not Status.PASS else [])


def _judge(check: Check, value: float | None, pct: float | None) -> Status:
    return Status.PASS if check.threshold.ok(value, pct) else Status.FAIL


def _coverage(check: Check, p: Plan, env: Env) -> CheckResult:
    base, ok = env.total(MAIN, p.roles["base"]), env.total(MAIN, p.roles["ok"])
    if base == 0:
        return _result(check, Status.FAIL, None, f"no rows{_w(check)} between {env.start} and {env.end}")
    pct = 100.0 * ok / base
    status = _judge(check, pct, pct)
    evidence = f"{_int(base - ok)} of {_int(base)} rows{_w(check)} have {check.column} NULL"
    empty: list[dt.date] = []
    low: list[dt.date] = []
    if status is Status.FAIL and check.threshold.min is not None:
        series = coverage_series(env, p)
        empty = [d for d, v in series.items() if v == 0.0]
        low = [d for d, v in series.items() if v is not None and 0 < v < check.threshold.min.value]
        if empty:
            evidence += f"; NULL on every row on {format_ranges(empty)}"
        if low:
            evidence += f"; below {check.threshold.min.text()}{' also' if empty else ''} on {format_ranges(low)}"
    return _result(check, status, round(pct, 3), evidence, bad_dates=empty + low)


def coverage_series(env: Env, p: Plan) -> dict[dt.date, float | None]:
    """Coverage % per date of the range (None where the date has no matching rows)."""
    base, ok = env.per_date(MAIN, p.roles["base"]), env.per_date(MAIN, p.roles["ok"])
    return {d: (100.0 * ok.get(d, 0) / base[d] if base.get(d) else None) for d in env.dates}


def _count(check: Check, p: Plan, env: Env) -> CheckResult:
    n = env.total(MAIN, p.roles["count"])
    what = "rows" if check.type == "row_count" else f"distinct {check.column} (per date)"
    if check.compare_to is None:
        return _result(check, _judge(check, n, None), _int(n), f"{_int(n)} {what}{_w(check)}")
    ref = check.compare_to
    up = env.total(p.scans["up"], p.roles["up"])
    pct = 100.0 * n / up if up else (100.0 if n == 0 else None)
    evidence = f"{_int(n)} {what}{_w(check)} vs {_int(up)} in {ref.table}"
    if pct is not None:
        evidence += f" ({pct:.2f}%)"
    mine, theirs = env.per_date(MAIN, p.roles["count"]), env.per_date(p.scans["up"], p.roles["up"])
    short = [d for d, v in theirs.items() if v and mine.get(d, 0) < v]
    if short and pct is not None and not check.threshold.ok(n, pct):
        evidence += f"; fewer than {ref.table} on {format_ranges(short)}"
    return _result(check, _judge(check, n, pct), _int(n), evidence, bad_dates=short)


def _completeness(check: Check, p: Plan, env: Env) -> CheckResult:
    present = {d for d, v in env.per_date(MAIN, p.roles["count"]).items() if v > 0}
    if check.compare_to is not None:
        expected = {d for d, v in env.per_date(p.scans["up"], p.roles["up"]).items() if v > 0}
        source = f"dates with rows in {check.compare_to.table}"
    elif env.calendar is None:
        return _result(check, Status.ERROR, None, "needs `compare_to` or a season calendar; none was given")
    else:
        expected = {d for d in env.dates if env.calendar.in_season(d)}
        source = "in-season dates of the calendar"
    if check.calendar_skip_days is not None:
        if env.calendar is None:
            return _result(check, Status.ERROR, None, "the calendar rule needs a season calendar; none was given")
        expected = {d for d in expected if env.calendar.bootstrap_ok(d, check.calendar_skip_days)}
        source += f" >= {check.calendar_skip_days} days after their season's start"
    missing = sorted(expected - present)
    pct = 100.0 * len(missing) / len(expected) if expected else 0.0
    if missing:
        evidence = f"missing {len(missing)} of {len(expected)} expected dates ({source}): {format_ranges(missing)}"
    else:
        evidence = f"all {len(expected)} expected dates present ({source})"
    result = _result(check, _judge(check, len(missing), pct), len(missing), evidence, bad_dates=missing)
    result.missing_dates = missing
    return result


def _range(check: Check, p: Plan, env: Env) -> CheckResult:
    base, bad = env.total(MAIN, p.roles["base"]), env.total(MAIN, p.roles["bad"])
    pct = 100.0 * bad / base if base else 0.0
    bounds = f"[{'' if check.allowed_min is None else _num(check.allowed_min)}, " \
             f"{'' if check.allowed_max is None else _num(check.allowed_max)}]"
    evidence = f"{_int(bad)} of {_int(base)} values{_w(check)} outside {bounds}"
    bad_dates = [d for d, v in env.per_date(MAIN, p.roles['bad']).items() if v] if bad else []
    if bad_dates:
        evidence += f" on {format_ranges(bad_dates)}"
    return _result(check, _judge(check, bad, pct), _int(bad), evidence, bad_dates=bad_dates)


def _statistics(check: Check, p: Plan, env: Env) -> CheckResult:
    if check.stat == "quantile":
        value, n = quantile_from_rows(env.own.get(check.name, []), check.quantile or 0.0)
    else:
        n = env.total(MAIN, p.roles["n"])
        s, ss = env.total(MAIN, p.roles["sum"]), env.total(MAIN, p.roles["sumsq"])
        value = None
        if n:
            value = {"mean": s / n,
                     "stddev": math.sqrt(max(ss - s * s / n, 0.0) / (n - 1)) if n > 1 else None,
                     "min": _extreme(env, p, "min"), "max": _extreme(env, p, "max")}[check.stat]  # type: ignore[index]
    label = f"p{_num(100 * check.quantile)}" if check.stat == "quantile" else check.stat  # type: ignore[operator]
    if value is None:
        return _result(check, Status.FAIL, None, f"no {check.column} values{_w(check)} in range")
    return _result(check, _judge(check, value, None), round(value, 4),
                   f"{label} of {check.column} = {value:.4g} over {_int(n)} values{_w(check)}")


def _extreme(env: Env, p: Plan, role: str) -> float | None:
    vals = [r.get(p.roles[role]) for d, r in env.frames[MAIN].items() if env.start <= d <= env.end]
    vals = [float(v) for v in vals if v is not None]
    return (min if role == "min" else max)(vals) if vals else None


def quantile_from_rows(rows: list[dict[str, Any]], q: float) -> tuple[float | None, int]:
    """Interpolate between the ranks floor/ceil(1 + q*(n-1)) returned by compile.quantile_sql."""
    if not rows:
        return None, 0
    n = int(rows[0]["n"])
    pos = 1 + q * (n - 1)
    by_rank = {int(r["rn"]): float(r["v"]) for r in rows}
    lo, hi = by_rank[math.floor(pos)], by_rank[math.ceil(pos)]
    return lo + (pos - math.floor(pos)) * (hi - lo), n


def metric(check: Check, p: Plan, env: Env, a: dt.date, b: dt.date) -> float | None:
    """The regression metric over [a, b]: coverage %, rows or distinct values per active date, or the mean."""
    m = check.metric
    if m == "coverage":
        base = env.total(MAIN, p.roles["base"], a, b)
        return 100.0 * env.total(MAIN, p.roles["ok"], a, b) / base if base else None
    if m == "mean":
        n = env.total(MAIN, p.roles["n"], a, b)
        return env.total(MAIN, p.roles["sum"], a, b) / n if n else None
    counts = env.per_date(MAIN, p.roles["count"], a, b)
    active = [v for v in counts.values() if v > 0]
    return sum(active) / len(active) if active else None


def _regression(check: Check, p: Plan, env: Env) -> CheckResult:
    cmp = "<" if check.direction == "down" else ">"
    threshold = f"fail {cmp} {_num(check.regression)}% of baseline, warn {cmp} {_num(check.degradation)}%"  # type: ignore[arg-type]
    what = f"{check.metric}" + (f" of {check.column}" if check.column else "")
    base_range = env.baselines.get(check.name)
    if isinstance(base_range, str) or base_range is None:
        return _result(check, Status.NO_BASELINE, None, base_range or "no baseline period", threshold)
    a, b = base_range
    current = metric(check, p, env, env.start, env.end)
    base = metric(check, p, env, a, b)
    if current is None:
        return _result(check, Status.FAIL, None, f"no rows{_w(check)} in {env.start}..{env.end}", threshold)
    if not base:
        return _result(check, Status.NO_BASELINE, None,
                       f"baseline {a}..{b} has no {'rows' if base is None else 'non-zero ' + what}{_w(check)}; "
                       f"nothing to compare {what} = {current:.4g} with", threshold)
    ratio = 100.0 * current / base
    beyond = (lambda cut: ratio < cut) if check.direction == "down" else (lambda cut: ratio > cut)
    status = Status.FAIL if beyond(check.regression) else Status.WARN if beyond(check.degradation) else Status.PASS
    return _result(check, status, round(ratio, 3),
                   f"{what} = {current:.4g} vs {base:.4g} in baseline {a}..{b} ({ratio:.1f}% of baseline)", threshold)


def _temporal(check: Check, p: Plan, env: Env) -> CheckResult:
    series = temporal_series(check, p, env)
    flagged: list[dt.date] = []
    seen: list[float] = []
    judged = 0
    for d in sorted(series):
        v = series[d]
        window = seen[-check.window:]
        if env.start <= d <= env.end and len(window) >= 2:
            judged += 1
            med = statistics.median(window)
            if med > 0 and v < med * check.drop_below / 100.0:
                flagged.append(d)
        seen.append(v)
    pct = 100.0 * len(flagged) / judged if judged else 0.0
    status = _judge(check, len(flagged), pct)
    what = f"{check.metric}" + (f" of {check.column}" if check.metric == "coverage" else "")
    evidence = (f"{what} below {_num(check.drop_below)}% of the {check.window}-date rolling median on "
                f"{format_ranges(flagged)}" if flagged else f"no sudden drops of {what} in {judged} dates")
    trend = trend_percent({d: v for d, v in series.items() if env.start <= d <= env.end})
    if trend is not None:
        evidence += f"; trend {trend:+.1f}% over the range"
        if check.trend_min is not None and trend < check.trend_min:
            status = Status.FAIL
            evidence += f" (below {_num(check.trend_min)}%)"
    threshold = check.threshold.describe() + (f"; trend >= {_num(check.trend_min)}%" if check.trend_min is not None else "")
    return _result(check, status, len(flagged), evidence, threshold, bad_dates=flagged)


def temporal_series(check: Check, p: Plan, env: Env) -> dict[dt.date, float]:
    """Per-date metric over every scanned date up to the range end (baseline dates warm the window up)."""
    out: dict[dt.date, float] = {}
    for d, r in env.frames[MAIN].items():
        if d > env.end:
            continue
        if check.metric == "coverage":
            base = _f(r.get(p.roles["base"]))
            if base:
                out[d] = 100.0 * _f(r.get(p.roles["ok"])) / base
        else:
            n = _f(r.get(p.roles["count"]))
            if n:
                out[d] = n
    return out


def trend_percent(series: dict[dt.date, float]) -> float | None:
    """Least-squares line through the series: its change from first to last date, as % of the mean."""
    if len(series) < 3:
        return None
    first = min(series)
    xs = [(d - first).days for d in series]
    ys = list(series.values())
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    if var == 0 or my == 0:
        return None
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var
    return 100.0 * slope * (max(xs) - min(xs)) / my


def _consistency(check: Check, p: Plan, env: Env) -> CheckResult:
    if check.grouped:
        rows = env.own.get(check.name, [])
        base = sum(_f(r["groups"]) for r in rows)
        bad = sum(_f(r["bad"]) for r in rows)
        bad_dates = [_date(r[c.DATE]) for r in rows if _f(r["bad"])]
        unit = f"groups ({', '.join(check.group_by)})"
    else:
        base, bad = env.total(MAIN, p.roles["base"]), env.total(MAIN, p.roles["bad"])
        bad_dates = [d for d, v in env.per_date(MAIN, p.roles["bad"]).items() if v]
        unit = "rows"
    pct = 100.0 * bad / base if base else 0.0
    expected = (f"{check.compare_to.expression} in {check.compare_to.table}" if check.compare_to
                else check.expected_expr or _num(check.expected_value))  # type: ignore[arg-type]
    tol = f" ± {_num(check.tolerance)}" if check.tolerance else ""
    evidence = f"{_int(bad)} of {_int(base)} {unit}{_w(check)} with {check.expression} != {expected}{tol}"
    if bad_dates:
        evidence += f", on {format_ranges(bad_dates)}"
    return _result(check, _judge(check, bad, pct), _int(bad), evidence, bad_dates=bad_dates)


def _unique(check: Check, p: Plan, env: Env) -> CheckResult:
    rows = env.per_date(p.scans["rows"], p.roles["rows"])
    keys = env.per_date(p.scans["keys"], p.roles["keys"])
    extra = {d: n - keys.get(d, 0) for d, n in rows.items() if n - keys.get(d, 0) > 0}
    base, bad = sum(rows.values()), sum(extra.values())
    pct = 100.0 * bad / base if base else 0.0
    where = f" (where {check.compare_to.where})" if check.compare_to and check.compare_to.where else _w(check)
    table = f" of {check.compare_to.table}" if check.compare_to else ""
    evidence = (f"{_int(bad)} of {_int(base)} rows{table}{where} repeat a key ({', '.join(check.columns)}) "
                f"already held that date")
    if extra:
        evidence += f", on {format_ranges(sorted(extra))}"
    return _result(check, _judge(check, bad, pct), _int(bad), evidence, bad_dates=extra)


def duplicate_keys_text(check: Check, rows: list[dict[str, Any]]) -> str:
    """`game_id=0022400123 team_id=1610612747 ×2, ...`: the duplicated keys a failing unique check names."""
    names = [" ".join(f"{k}={r.get(k)}" for k in check.columns) + f" ×{_int(_f(r.get('copies')))}" for r in rows]
    more = f" (the first {len(rows)})" if len(rows) >= check.examples else ""
    return f"; duplicated keys{more}: {', '.join(names)}" if names else ""


def _custom(check: Check, p: Plan, env: Env) -> CheckResult:
    rows = env.own.get(check.name, [])
    if check.returns == "rows":
        n = _f(rows[0]["n"]) if rows else 0
        sample = f" (sample {_num(check.sample_percent)}%)" if check.sample_percent < 100 and not env.full else ""
        return _result(check, _judge(check, n, None), _int(n), f"{_int(n)} failing rows{sample}")
    if not rows or not rows[0]:
        return _result(check, Status.ERROR, None, "the query returned no rows; expected one number")
    value = next(iter(rows[0].values()))
    if value is None:
        return _result(check, Status.FAIL, None, "the query returned NULL")
    try:
        value = float(value)
    except (TypeError, ValueError):
        return _result(check, Status.ERROR, None, f"the query returned {value!r}; expected a number")
    return _result(check, _judge(check, value, None), value, f"query returned {value:g}")


EVALUATORS: dict[str, Callable[[Check, Plan, Env], CheckResult]] = {
    "coverage": _coverage, "row_count": _count, "distinct_count": _count, "completeness": _completeness,
    "range": _range, "outliers": _range, "statistics": _statistics, "regression": _regression,
    "temporal": _temporal, "consistency": _consistency, "custom_sql": _custom, "unique": _unique,
}


# --- small helpers ------------------------------------------------------------------------------------
def _f(v: Any) -> float:
    return float(v) if v is not None else 0.0


def _int(v: float) -> int:
    return int(round(v))


def _w(check: Check) -> str:
    return f" (where {check.where})" if check.where else ""


def _date(v: Any) -> dt.date:
    if isinstance(v, dt.datetime):
        return v.date()
    return v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v)[:10])
