"""RunView -> one self-contained HTML page, from templates/report.html.j2 (jinja2, autoescaped): inline CSS and
inline SVG charts, no script, nothing remote.

This module prepares what the template cannot (times parsed for the charts, the coverage groups, check order);
every value from the run is escaped by the template, the charts are escaped by charts.py and passed as Markup.
"""
from __future__ import annotations

import datetime as dt
from functools import lru_cache

from markupsafe import Markup

from ..clock import parse_iso
from ..dates import format_ranges
from ..runmodel import RunStatus
from .cards import figure_verdict
from .charts import (STATUS_COLORS, bars_svg, coverage_strips_svg, coverage_svg, line_svg, progress_svg,
                     scatter_svg, timeline_svg)
from .view import CheckStatus as Status, CoverageSeries, RunView, fmt_duration, fmt_value

_CHECK_ORDER = {Status.ERROR: 0, Status.FAIL: 1, Status.WARN: 2, Status.NO_BASELINE: 3, Status.PASS: 4}
_GATE_FAILED = frozenset({Status.FAIL, Status.ERROR})  # the gate section points at the runbook
_CALLOUT_CLASS = {RunStatus.FAILED: "", RunStatus.WARNED: "warned", RunStatus.PASSED: "ok"}
CALLOUT_PROBLEMS = 6


@lru_cache(maxsize=1)
def _environment() -> "Environment":
    # imported here: the orchestrator imports this module at start and draws a report only at the end (~0.05 s)
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(loader=PackageLoader("backfill_orchestrator.reporting", "templates"),
                      autoescape=select_autoescape(["j2", "html"], default_for_string=True, default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(duration=fmt_duration, value=fmt_value, num=lambda v: "—" if v is None else f"{v:,}")
    return env


def render_html(view: RunView) -> str:
    now = parse_iso(view.generated_at) or dt.datetime.now(dt.timezone.utc)
    t0 = parse_iso(view.started_at) or now
    t1 = parse_iso(view.ended_at) or now
    if t1 <= t0:
        t1 = t0 + dt.timedelta(seconds=1)
    rows = [(p.name, parse_iso(p.started_at), parse_iso(p.ended_at), p.status) for p in view.phases]
    gates = [(p, g, sorted(g.checks, key=lambda c: _CHECK_ORDER.get(c.status, 5))) for p in view.phases
             for g in p.gates]
    return _environment().get_template("report.html.j2").render(
        run=view, badge_color=STATUS_COLORS.get(view.status, "#888"), callout=_callout(view),
        timeline=Markup(timeline_svg(rows, t0, t1)), coverage=_coverage(view.coverage),
        progress=Markup(progress_svg(_progress_series(view), t0, t1)), gates=gates,
        shown_events=view.shown_events(), gate_failed=_GATE_FAILED, cards=_cards(view))


def _cards(view: RunView) -> list[dict]:
    """Each phase's card with its charts drawn, or the one line saying why its card is not shown."""
    out = []
    for p in view.phases:
        if p.card_error:
            out.append({"phase": p.name, "error": p.card_error})
        if not p.card:
            continue
        c = p.card
        charts = [Markup(bars_svg(b["title"], b["items"])) for b in c["bars"]]
        charts += [Markup(line_svg(s["title"], s["points"], s["target"], s["target_label"], s["y_label"]))
                   for s in c["series"]]
        scatters = [Markup(scatter_svg(s["title"], s["points"], s["x_label"], s["y_label"], s["diagonal"]))
                    for s in c["scatter"]]
        notes = [b["note"] for b in (*c["bars"], *c["series"], *c["scatter"]) if b.get("note")]
        out.append({"phase": p.name, "error": None, "card": c, "charts": charts, "scatters": scatters,
                    "notes": notes, "figures": [(f, figure_verdict(f)) for f in c["figures"]]})
    return out


def _callout(view: RunView) -> dict:
    problems = [(p.name, g.suite, c.text()) for p in view.phases for g in p.gates for c in g.problems
                if c.status != Status.NO_BASELINE]
    problems += [(p.name, g.suite, f"ERROR {g.error}") for p in view.phases for g in p.gates if g.error]
    shown = [(phase, suite, text if len(text) < 400 else text[:400] + " …")
             for phase, suite, text in problems[:CALLOUT_PROBLEMS]]
    return {"cls": _CALLOUT_CLASS.get(view.status, "warned"), "problems": shown,
            "more": max(0, len(problems) - CALLOUT_PROBLEMS),
            "shown": bool(view.message or problems or view.next_command or view.runbook)}


def _coverage(coverage: list[CoverageSeries]) -> list[dict]:
    """One group per gate: its strips chart, its missing dates, and the detail of each column with a gap."""
    groups: dict[tuple[str, str, str], list[CoverageSeries]] = {}
    for s in coverage:
        groups.setdefault((s.phase, s.kind, s.suite), []).append(s)
    out = []
    for (phase, kind, suite), series in groups.items():
        first = series[0]
        strips = coverage_strips_svg(f"{phase} · {kind} gate {suite}  ({first.start}..{first.end})",
                                     [(s.column, s.points, s.threshold) for s in series], first.start, first.end,
                                     first.missing)
        detail = [s for s in series if s.low_dates] or (series[:1] if first.missing else [])
        details = []
        for s in series:
            chart = None
            if s in detail:
                title = f"{s.phase} · {s.suite}.{s.column}: % of rows with a value  ({s.start}..{s.end})"
                chart = Markup(coverage_svg(title, s.points, s.start, s.end, s.threshold, s.missing))
            low = (f"{s.column} below {s.threshold:g}%: {format_ranges(s.low_dates, limit=6)}"
                   if s.low_dates else None)
            if chart or low:
                details.append((chart, low))
        out.append({"strips": Markup(strips), "missing_count": len(first.missing),
                    "missing": format_ranges(first.missing, limit=6) if first.missing else "", "details": details})
    return out


def _progress_series(view: RunView) -> dict[str, list[tuple[dt.datetime, float]]]:
    series = {}
    for p in view.phases:
        pts = [(t, v) for t, v in ((parse_iso(a), v) for a, v in p.progress) if t]
        start = parse_iso(p.started_at)
        if start and (not pts or pts[0][0] > start):
            pts.insert(0, (start, 0.0))
        series[p.name] = pts
    return series
