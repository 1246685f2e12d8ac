"""Run a suite over a date range: bind, compile to few queries, run them, evaluate, fetch examples of failures.

The per-date parts (the scans of each table, the key counts of unique checks, grouped consistency) run as ONE
fused statement. If it fails, each part runs alone, so that a part that cannot run makes only the checks that
need it ERROR (with that part's own error), exactly as if nothing had been fused.
"""
from __future__ import annotations

import datetime as dt
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from ..dates import Calendar
from ..errors import BackfillError, UsageError
from ..warehouse.base import QueryStats, Warehouse
from . import checks as ev
from . import compile as c
from .bind import bind
from .results import CheckResult, Status, SuiteResult
from .suite import Baseline, Check, Suite

log = logging.getLogger("backfill_orchestrator.validation")


@dataclass
class Query:
    label: str
    sql: str
    params: dict[str, Any]
    checks: list[str] = field(default_factory=list)  # names of the checks that need its result
    key: str = ""  # scan key (per-date scans) or check name (a check's own query)
    columns: list[str] = field(default_factory=list)  # a per-date part's columns; the first one says "date here"
    parts: list["Query"] = field(default_factory=list)  # a fused statement's parts (each runnable alone)
    unordered: str = ""  # a per-date part's SQL without ORDER BY: what the fused statement is made of
    split: Callable[[], list["Query"]] | None = None  # a scan part as one query per check that uses it


GROUPED = "grouped:"  # key prefix of a grouped consistency part (its rows go to env.own, not env.frames)


def run_suite(wh: Warehouse, suite: Suite, start: dt.date, end: dt.date, *,
              baseline: tuple[dt.date, dt.date] | None = None, calendar: Calendar | None = None,
              full: bool = False, dry_run: bool = False, strict: bool = False) -> SuiteResult:
    """Validate `suite.table` over [start, end]. `baseline` overrides every regression check's baseline period;
    `full` runs sampled checks on all rows; `strict` raises the first suite mistake (a column not in the
    table) as a ConfigError instead of reporting the check as ERROR."""
    if end < start:
        raise UsageError(f"end date {end} is before start date {start}")
    if baseline is not None and baseline[1] < baseline[0]:
        raise UsageError(f"baseline end {baseline[1]} is before baseline start {baseline[0]}")
    binding = bind(wh, suite)
    if binding.suite_error is not None:
        raise binding.suite_error
    if strict and binding.config_errors:
        raise next(iter(binding.config_errors.values()))
    errors: dict[str, str] = {**binding.table_errors, **{k: str(v) for k, v in binding.config_errors.items()}}
    live = [ch for ch in suite.checks if ch.name not in errors]

    baselines = {ch.name: baseline_range(ch.baseline or suite.baseline, start, end, calendar, baseline)
                 for ch in live if ch.type == "regression"}
    scans: dict[str, Any] = {ev.MAIN: c.Scan(suite.table, suite.date_column, param="scan_")}
    plans = {ch.name: ev.plan(ch, suite, scans) for ch in live}
    queries = _queries(suite, live, plans, scans, start, end, baselines, full)

    if dry_run:
        return SuiteResult(suite.name, suite.table, start, end, Status.PASS, [],
                           dry_run_sql=[_dry(wh, q) for q in queries])

    env = ev.Env(suite, start, end, {k: {} for k in scans}, calendar,
                 {k: v for k, v in baselines.items()}, full=full)
    stats = []
    done = _run_all(wh, queries)
    # A failed statement is narrowed down until only the checks that cannot run fail: the fused statement runs
    # as its parts, a scan part as one query per check (its own aggregates only).
    while failed := [q for q, outcome, _ in done if isinstance(outcome, BackfillError) and (q.parts or q.split)]:
        log.info("validate %s: %s failed; running it in pieces", suite.name, ", ".join(q.label for q in failed))
        gone = {id(q) for q in failed}
        done = [d for d in done if id(d[0]) not in gone] + _run_all(wh, [p for q in failed for p in q.parts or q.split()])
    for q, outcome, stat in done:
        if isinstance(outcome, BackfillError):
            for name in q.checks:
                errors.setdefault(name, f"{q.label} failed: {outcome}")
            log.warning("validate %s: %s failed: %s", suite.name, q.label, outcome)
            continue
        stats.append(_log(suite, q, stat))
        for part in q.parts or [q]:
            _keep(env, part, outcome)

    results: list[CheckResult] = []
    for ch in suite.checks:
        if ch.name in errors:
            results.append(CheckResult(ch.name, ch.type, ch.severity, Status.ERROR, None,
                                       ch.threshold.describe(), errors[ch.name], [], ch.column))
            continue
        r = ev.evaluate(ch, plans[ch.name], env)
        if r.status in (Status.FAIL, Status.WARN) and ch.examples:
            r.examples = _examples(wh, suite, ch, plans[ch.name], start, end, full, stats)
            if ch.type == "unique":  # a duplicate is named in the evidence itself, not only in the examples
                r.evidence += ev.duplicate_keys_text(ch, r.examples)
        results.append(r)
    result = SuiteResult(suite.name, suite.table, start, end, Status.PASS, results, _series(suite, plans, env),
                         stats, baseline=next((b for b in baselines.values() if isinstance(b, tuple)), None))
    result.status = result.gate_status
    return result


def baseline_range(spec: Baseline, start: dt.date, end: dt.date, calendar: Calendar | None,
                   override: tuple[dt.date, dt.date] | None = None) -> tuple[dt.date, dt.date] | str:
    """The baseline period, or the reason there is none (shown as the NO_BASELINE evidence)."""
    if override is not None:
        return override
    if spec.kind == "previous_days":
        return start - dt.timedelta(days=spec.days), start - dt.timedelta(days=1)
    if calendar is None:
        return _shift_year(start), _shift_year(end)
    season = calendar.season_of(start)
    if season is None:
        return f"{start} is not inside a season of the calendar, so there is no same period last season"
    i = calendar.seasons.index(season)
    if i == 0:
        return f"{season.name} is the first season of the calendar; no previous season to compare with"
    shift = season.start - calendar.seasons[i - 1].start
    return start - shift, end - shift


def _shift_year(d: dt.date) -> dt.date:
    try:
        return d.replace(year=d.year - 1)
    except ValueError:  # 29 February
        return d.replace(year=d.year - 1, day=28)


def _keep(env: ev.Env, part: Query, rows: list[dict[str, Any]]) -> None:
    """A per-date part's rows (alone, or within a fused statement's rows: the dates where its first column is
    not NULL) into what evaluation reads; a check's own query's rows as they are."""
    if not part.columns:
        env.own[part.key] = rows
        return
    present = part.columns[0]
    if part.key.startswith(GROUPED):
        groups, bad = part.columns
        env.own[part.key[len(GROUPED):]] = [{c.DATE: r[c.DATE], "groups": r[groups], "bad": r[bad]}
                                            for r in rows if r[present] is not None]
    elif not (frame := env.frames.get(part.key)):
        env.frames[part.key] = {ev._date(r[c.DATE]): r for r in rows if r[present] is not None}
    else:  # one check's piece of a scan that had to be split: its columns join the others'
        for r in rows:
            if r[present] is not None:
                d = ev._date(r[c.DATE])
                frame[d] = {**frame[d], **r} if d in frame else r


def _queries(suite: Suite, live: list[Check], plans: dict[str, ev.Plan], scans: dict[str, Any],
             start: dt.date, end: dt.date, baselines: dict[str, tuple[dt.date, dt.date] | str],
             full: bool) -> list[Query]:
    parts: list[Query] = []
    users: dict[str, list[str]] = {k: [] for k in scans}
    for ch in live:
        for key in set(plans[ch.name].scans.values()):
            users[key].append(ch.name)
    ranges = c.merge_ranges([(start, end)] + [b for b in baselines.values() if isinstance(b, tuple)])
    for key, scan in scans.items():
        if users[key]:
            on = ranges if key == ev.MAIN else [(start, end)]
            part = _part(f"scan {scan.table}", key, scan.sql, on, scan.columns(), users[key])
            if isinstance(scan, c.Scan) and len(users[key]) > 1:
                part.split = lambda key=key, scan=scan, on=on: [_piece(scan, key, plans[n], on, n) for n in users[key]]
            parts.append(part)
    window = {"start": start, "end": end}
    own: list[Query] = []
    for i, ch in enumerate(live):
        if ch.grouped:
            prefix = f"g{i}_"
            parts.append(_part(f"check {ch.name}", GROUPED + ch.name,
                               lambda _, ordered: (c.grouped_consistency_sql(suite, ch, prefix, ordered=ordered)[0],
                                                   window),
                               None, [f"{prefix}groups", f"{prefix}bad"], [ch.name]))
        elif ch.type == "statistics" and ch.stat == "quantile":
            own.append(Query(f"check {ch.name}", c.quantile_sql(suite, ch), {**window, "q": ch.quantile},
                             [ch.name], ch.name))
        elif ch.type == "custom_sql":
            sql = ch.sql if ch.returns == "value" else f"SELECT COUNT(*) AS n FROM ({ch.sql}) AS failing"
            own.append(Query(f"check {ch.name}", sql, _custom_params(ch, start, end, full), [ch.name], ch.name))
    return _fused(parts) + own


def _part(label: str, key: str, sql: Callable[..., tuple[str, dict[str, Any]]], ranges: Any, columns: list[str],
          checks: list[str]) -> Query:
    """A per-date part, runnable alone (ordered by date); its unordered form is kept for fusion."""
    text, params = sql(ranges, ordered=True)
    return Query(label, text, params, list(checks), key, list(columns), unordered=sql(ranges, ordered=False)[0])


def _piece(scan: c.Scan, key: str, plan: ev.Plan, ranges: list[tuple[dt.date, dt.date]], check: str) -> Query:
    """One check's aggregates of `scan` alone (same aliases), for when the whole scan cannot run."""
    mine = {plan.roles[role] for role, k in plan.scans.items() if k == key}
    piece = c.Scan(scan.table, scan.date_column, scan.prefix, scan.param,
                   {a: e for a, e in scan.aggs.items() if a in mine})
    return _part(f"scan {scan.table}", key, piece.sql, ranges, piece.columns(), [check])


def _fused(parts: list[Query]) -> list[Query]:
    """The per-date parts as one statement (a single part: itself). Parts whose parameters of the same name
    disagree are not fused (the compiler never makes such parts; this keeps it true if that ever changes)."""
    if len(parts) <= 1:
        return parts
    params: dict[str, Any] = {}
    for p in parts:
        for k, v in c.used_params(p.sql, p.params).items():
            if params.setdefault(k, v) != v:
                return parts
    sql = c.fuse([(p.unordered, p.columns) for p in parts])
    tables = list(dict.fromkeys(p.label.split(" ", 1)[1] for p in parts if p.label.startswith("scan ")))
    label = f"scan {', '.join(tables)}" + (f" (+{len(parts) - len(tables)} more)" if len(parts) > len(tables) else "")
    return [Query(label, sql, params, [n for p in parts for n in p.checks], "", [], parts)]


def _custom_params(ch: Check, start: dt.date, end: dt.date, full: bool) -> dict[str, Any]:
    return {"start": start, "end": end, "sample_percent": 100.0 if full else ch.sample_percent}


def _examples(wh: Warehouse, suite: Suite, ch: Check, p: ev.Plan, start: dt.date, end: dt.date, full: bool,
              stats: list) -> list[dict[str, Any]]:
    if ch.grouped:
        sql, params = c.grouped_examples_sql(suite, ch, ch.examples), {"start": start, "end": end}
    elif p.bad_rows:
        sql, params = c.failing_rows_sql(suite, ch, p.bad_rows, ch.examples), {"start": start, "end": end}
    elif ch.type == "unique":
        sql, params = c.duplicate_keys_sql(suite, ch, ch.examples), {"start": start, "end": end}
    elif ch.type == "custom_sql" and ch.returns == "rows":
        sql, params = f"SELECT * FROM ({ch.sql}) AS failing LIMIT {int(ch.examples)}", _custom_params(ch, start, end, full)
    else:
        return []
    q = Query(f"examples {ch.name}", sql, params)
    try:
        rows = wh.query(sql, c.used_params(sql, params))
    except BackfillError as e:
        log.warning("validate %s: %s failed: %s", suite.name, q.label, e)
        return []
    stats.append(_log(suite, q, wh.last_stats))
    return rows


def _series(suite: Suite, plans: dict[str, ev.Plan], env: ev.Env) -> dict[str, list[tuple[dt.date, float | None]]]:
    """Per-date coverage % of every column with a coverage check (for the report's charts)."""
    out: dict[str, list[tuple[dt.date, float | None]]] = {}
    for ch in suite.checks:
        if ch.type == "coverage" and ch.name in plans and env.frames.get(ev.MAIN) is not None and ch.column not in out:
            out[ch.column] = list(ev.coverage_series(env, plans[ch.name]).items())  # type: ignore[index]
    return out


def _run_all(wh: Warehouse, queries: list[Query]) -> list[tuple[Query, Any, QueryStats | None]]:
    """Run the suite's few queries at the same time (DuckDB cursors per thread; BigQuery jobs in parallel):
    the gate then costs about its slowest query, not their sum. Results come back in query order."""
    def one(q: Query) -> tuple[Query, Any, QueryStats | None]:
        try:
            rows = wh.query(q.sql, c.used_params(q.sql, q.params))
        except BackfillError as e:
            return q, e, None
        return q, rows, wh.last_stats  # per thread: this query's own figures

    if len(queries) <= 1:
        return [one(q) for q in queries]
    with ThreadPoolExecutor(max_workers=min(len(queries), 4), thread_name_prefix="validate") as pool:
        return list(pool.map(one, queries))


def _log(suite: Suite, q: Query, s: QueryStats | None):  # type: ignore[no-untyped-def]
    log.info("validate %s: %s digest=%s %.3fs rows=%s job=%s bytes=%s", suite.name, q.label,
             getattr(s, "digest", "?"), getattr(s, "seconds", 0.0), getattr(s, "rows", "?"),
             getattr(s, "job_id", None) or "-", getattr(s, "bytes_processed", None))
    return s


def _dry(wh: Warehouse, q: Query) -> str:
    params = c.used_params(q.sql, q.params)
    head = f"-- {q.label}" + (f"  params: {', '.join(f'{k}={v}' for k, v in params.items())}" if params else "")
    try:
        d = wh.dry_run(q.sql, params)
    except BackfillError as e:
        return f"{head}\n-- dry run failed: {e}\n{q.sql};"
    est = f"\n-- estimated bytes processed: {d.bytes_estimate:,}" if d.bytes_estimate is not None else ""
    return f"{head}{est}\n{d.sql};"
