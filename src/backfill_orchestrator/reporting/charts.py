"""Inline SVG charts for the run report: no JavaScript, no CDN, nothing fetched when the report is opened.

- `coverage_svg`: per-date coverage of one gated column over a whole date range. Dates below the threshold
  are drawn as a red band over the full height (so a gap of months, where coverage is 0 and an area chart
  would draw nothing, is the first thing seen); dates without rows are a grey band.
- `progress_svg`: % of dates done over time, one line per phase.
- `timeline_svg`: one bar per phase from start to end, coloured by its final status.
- `bars_svg`, `line_svg`, `scatter_svg`: the charts of a phase's card (cards.py), whatever the job measures.
"""
from __future__ import annotations

import datetime as dt
import math
from html import escape
from itertools import groupby
from typing import Iterable, Sequence

from ..dates import compress_ranges
from ..runmodel import PhaseStatus, RunStatus

# every phase and run status has its colour (a test checks it): green good, amber warned, red failed, blue busy
STATUS_COLORS = {
    PhaseStatus.PASSED: "#2e9e44", PhaseStatus.WARNED: "#e69b00", PhaseStatus.FAILED: "#d62728",
    PhaseStatus.RUNNING: "#1f77b4", PhaseStatus.VALIDATING: "#1f77b4", PhaseStatus.PREFLIGHT: "#1f77b4",
    PhaseStatus.RETRYING: "#9467bd", PhaseStatus.STALLED: "#9467bd", PhaseStatus.REPAIRING: "#9467bd",
    PhaseStatus.PENDING: "#b0b0b0",
    PhaseStatus.SKIPPED: "#cfcfcf", PhaseStatus.STOPPED: "#6b6b6b", RunStatus.INTERRUPTED: "#6b6b6b",
}
PHASE_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")
GAP_FILL = "#f3b6b6"
STRIP_OK = "#4c8fcf"
STRIP_BAD = "#d62728"
NO_DATA_FILL = "#e4e4e4"
AREA_FILL = "#4c8fcf"
FONT = "font-family='DejaVu Sans, Arial, sans-serif' font-size='11'"


def _svg(width: int, height: int, body: list[str], label: str, cls: str) -> str:
    # no xmlns: inline SVG in HTML needs none, and the report then names no http(s) URL at all
    return (f"<svg class='{cls}' width='{width}' height='{height}' "
            f"viewBox='0 0 {width} {height}' role='img' aria-label='{escape(label, quote=True)}'>"
            f"<title>{escape(label)}</title>" + "".join(body) + "</svg>")


def _f(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".") if v != int(v) else str(int(v))


def date_ticks(start: dt.date, end: dt.date, max_ticks: int = 10) -> list[dt.date]:
    """Month starts inside [start, end], every k-th month so that at most `max_ticks` remain."""
    months = []
    d = dt.date(start.year, start.month, 1)
    while d <= end:
        if d >= start:
            months.append(d)
        d = dt.date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    for step in (1, 2, 3, 6, 12, 24):
        picked = [m for m in months if (m.year * 12 + m.month - 1) % step == 0]
        if len(picked) <= max_ticks:
            return picked
    return months[:: max(1, len(months) // max_ticks)]


def coverage_svg(title: str, points: Sequence[tuple[dt.date, float | None]], start: dt.date, end: dt.date,
                 threshold: float | None = None, missing: Iterable[dt.date] = (), width: int = 920,
                 height: int = 170) -> str:
    """Coverage % per date from start to end. `points` may miss dates (no rows that day) or hold None;
    `missing`: dates that should have rows and have none (from a completeness check) — drawn as a gap."""
    left, right, top, bottom = 44, 10, 22, 24
    pw, ph = width - left - right, height - top - bottom
    ndays = (end - start).days + 1
    day_w = pw / max(ndays, 1)
    values = {d: v for d, v in points if start <= d <= end}

    def x(d: dt.date) -> float:
        return left + (d - start).days * day_w

    def y(v: float) -> float:
        return top + ph - max(0.0, min(100.0, v)) / 100.0 * ph

    body = [f"<rect x='{left}' y='{top}' width='{_f(pw)}' height='{ph}' fill='#fafafa' stroke='#d0d0d0'/>"]
    expected = {d for d in missing if start <= d <= end}
    no_rows = [d for d in (start + dt.timedelta(days=i) for i in range(ndays))
               if values.get(d) is None and d not in expected]
    low = [d for d, v in values.items() if v is not None and threshold is not None and v < threshold]
    for cls, fill, dates, why in (("nodata", NO_DATA_FILL, no_rows, "no rows"),
                                  ("gap", GAP_FILL, sorted(expected), "no rows, expected"),
                                  ("gap", GAP_FILL, low, f"below {_f(threshold or 0)}%")):
        for a, b, n in compress_ranges(dates):
            w = max((b - a).days + 1, 1) * day_w
            tip = f"{a}..{b} ({n} dates): {why}" if n > 1 else f"{a}: {why}"
            body.append(f"<rect class='{cls}' x='{x(a):.2f}' y='{top}' width='{max(w, 1.0):.2f}' height='{ph}' "
                        f"fill='{fill}'><title>{escape(tip)}</title></rect>")
    # the coverage itself: one step-area path per run of consecutive dates with a value
    present = sorted(d for d, v in values.items() if v is not None)
    for a, b, _ in compress_ranges(present):
        parts = [f"M{x(a):.2f},{y(0):.2f}"]
        d = a
        while d <= b:
            xd, yv = x(d), y(values[d] or 0.0)
            parts.append(f"L{xd:.2f},{yv:.2f}L{xd + day_w:.2f},{yv:.2f}")
            d += dt.timedelta(days=1)
        parts.append(f"L{x(b) + day_w:.2f},{y(0):.2f}Z")
        body.append(f"<path class='coverage' d='{''.join(parts)}' fill='{AREA_FILL}' stroke='{AREA_FILL}' "
                    f"stroke-width='0.6'/>")
    if threshold is not None:
        body.append(f"<line class='threshold' x1='{left}' x2='{left + pw}' y1='{y(threshold):.2f}' "
                    f"y2='{y(threshold):.2f}' stroke='#d62728' stroke-dasharray='5,3' stroke-width='1.2'/>")
        ty = y(threshold) + 12 if threshold > 85 else y(threshold) - 3  # near the top: under the line
        body.append(f"<text x='{left + pw - 4}' y='{ty:.2f}' text-anchor='end' fill='#d62728' {FONT}>"
                    f"threshold {_f(threshold)}%</text>")
    for v in (0, 50, 100):
        body.append(f"<text x='{left - 6}' y='{y(v) + 4:.2f}' text-anchor='end' fill='#555' {FONT}>{v}%</text>")
        body.append(f"<line x1='{left - 3}' x2='{left}' y1='{y(v):.2f}' y2='{y(v):.2f}' stroke='#888'/>")
    for t in date_ticks(start, end):
        anchor = "end" if x(t) > left + pw - 25 else "middle"  # keep the last label inside the picture
        body.append(f"<line x1='{x(t):.2f}' x2='{x(t):.2f}' y1='{top + ph}' y2='{top + ph + 4}' stroke='#888'/>")
        body.append(f"<text x='{x(t):.2f}' y='{top + ph + 16}' text-anchor='{anchor}' fill='#555' {FONT}>"
                    f"{t.strftime('%Y-%m')}</text>")
    body.append(f"<text x='{left}' y='14' fill='#222' font-weight='bold' {FONT}>{escape(title)}</text>")
    if low or expected:
        parts = ([f"{len(low)} below threshold"] if low else []) + ([f"{len(expected)} missing"] if expected else [])
        body.append(f"<text x='{left + pw}' y='14' text-anchor='end' fill='#b01e1e' {FONT}>dates: "
                    f"{', '.join(parts)}</text>")
    return _svg(width, height, body, title, "chart coverage-chart")


def _time_axis(t0: dt.datetime, t1: dt.datetime, x, y0: float, body: list[str], n: int = 6) -> None:
    span = max((t1 - t0).total_seconds(), 1.0)
    fmt = "%H:%M:%S" if span <= 600 else ("%H:%M" if span <= 36 * 3600 else "%m-%d %H:%M")
    for i in range(n + 1):
        t = t0 + dt.timedelta(seconds=span * i / n)
        anchor = "start" if i == 0 else ("end" if i == n else "middle")
        body.append(f"<line x1='{x(t):.2f}' x2='{x(t):.2f}' y1='{y0}' y2='{y0 + 4}' stroke='#888'/>")
        body.append(f"<text x='{x(t):.2f}' y='{y0 + 16}' text-anchor='{anchor}' fill='#555' {FONT}>"
                    f"{t.strftime(fmt)}</text>")


def progress_svg(series: dict[str, list[tuple[dt.datetime, float]]], t0: dt.datetime, t1: dt.datetime,
                 width: int = 920, height: int = 240) -> str:
    """% of dates done against wall-clock time (UTC), one line per phase."""
    left, right, top, bottom = 44, 10, 22, 44
    pw, ph = width - left - right, height - top - bottom
    span = max((t1 - t0).total_seconds(), 1.0)

    def x(t: dt.datetime) -> float:
        return left + (t - t0).total_seconds() / span * pw

    def y(v: float) -> float:
        return top + ph - max(0.0, min(100.0, v)) / 100.0 * ph

    body = [f"<rect x='{left}' y='{top}' width='{pw}' height='{ph}' fill='#fafafa' stroke='#d0d0d0'/>"]
    for v in (0, 25, 50, 75, 100):
        body.append(f"<line x1='{left}' x2='{left + pw}' y1='{y(v):.2f}' y2='{y(v):.2f}' stroke='#ececec'/>")
        body.append(f"<text x='{left - 6}' y='{y(v) + 4:.2f}' text-anchor='end' fill='#555' {FONT}>{v}%</text>")
    legend_x = left + 6
    for i, (phase, pts) in enumerate(series.items()):
        color = PHASE_COLORS[i % len(PHASE_COLORS)]
        if pts:
            d = "".join(("M" if j == 0 else "L") + f"{x(t):.2f},{y(v):.2f}" for j, (t, v) in enumerate(pts))
            if len(pts) == 1:  # a single snapshot: a short tick so it is visible
                d += f"L{x(pts[0][0]) + 3:.2f},{y(pts[0][1]):.2f}"
            body.append(f"<path class='progress' data-phase='{escape(phase, quote=True)}' d='{d}' fill='none' "
                        f"stroke='{color}' stroke-width='2'/>")
        body.append(f"<rect x='{legend_x}' y='{height - 14}' width='10' height='10' fill='{color}'/>")
        body.append(f"<text x='{legend_x + 14}' y='{height - 5}' fill='#222' {FONT}>{escape(phase)}</text>")
        legend_x += 24 + 7 * len(phase)
    _time_axis(t0, t1, x, top + ph, body)
    body.append(f"<text x='{left}' y='14' fill='#222' font-weight='bold' {FONT}>Progress over time "
                f"(% of dates done, UTC)</text>")
    return _svg(width, height, body, "progress over time per phase", "chart progress-chart")


def timeline_svg(rows: Sequence[tuple[str, dt.datetime | None, dt.datetime | None, str]], t0: dt.datetime,
                 t1: dt.datetime, width: int = 920) -> str:
    """One bar per phase (name, started, ended or None = still running, status)."""
    left, right, top, row_h = 190, 10, 22, 22
    height = top + row_h * max(len(rows), 1) + 26
    pw = width - left - right
    span = max((t1 - t0).total_seconds(), 1.0)

    def x(t: dt.datetime) -> float:
        return left + max(0.0, min(span, (t - t0).total_seconds())) / span * pw

    body: list[str] = []
    for i, (name, start, end, status) in enumerate(rows):
        yy = top + i * row_h
        body.append(f"<text x='{left - 8}' y='{yy + 15}' text-anchor='end' fill='#222' {FONT}>{escape(name)}</text>")
        body.append(f"<rect x='{left}' y='{yy + 3}' width='{pw}' height='{row_h - 6}' fill='#f4f4f4'/>")
        if start is None:
            continue
        x0, x1 = x(start), x(end or t1)
        color = STATUS_COLORS.get(status, "#888")
        tip = f"{name}: {status}, {start:%Y-%m-%d %H:%M:%S} .. {f'{end:%H:%M:%S}' if end else 'now'}"
        body.append(f"<rect class='phase-bar' x='{x0:.2f}' y='{yy + 3}' width='{max(x1 - x0, 2.0):.2f}' "
                    f"height='{row_h - 6}' fill='{color}'><title>{escape(tip)}</title></rect>")
        body.append(f"<text x='{min(x1 + 4, left + pw - 40):.2f}' y='{yy + 15}' fill='#333' {FONT}>"
                    f"{escape(status)}</text>")
    _time_axis(t0, t1, x, top + row_h * max(len(rows), 1), body)
    body.append(f"<text x='{left}' y='14' fill='#222' font-weight='bold' {FONT}>Timeline (UTC)</text>")
    return _svg(width, height, body, "phase timeline", "chart timeline-chart")


_STRIP_FILL = {"ok": STRIP_OK, "low": STRIP_BAD, "missing": STRIP_BAD, "nodata": NO_DATA_FILL}
_STRIP_WHY = {"ok": "at or above threshold", "low": "below threshold", "missing": "no rows, expected",
              "nodata": "no rows"}


def coverage_strips_svg(title: str, rows: Sequence[tuple[str, Sequence[tuple[dt.date, float | None]], float | None]],
                        start: dt.date, end: dt.date, missing: Iterable[dt.date] = (), width: int = 920) -> str:
    """All gated columns of one gate at a glance: one strip per column across the whole date range.
    Blue: at or above the column's threshold; red: below it, or no rows on a date that should have rows;
    grey: no rows (nothing expected)."""
    left, right, top, row_h = 190, 10, 22, 16
    pw = width - left - right
    height = top + row_h * max(len(rows), 1) + 24
    ndays = (end - start).days + 1
    day_w = pw / max(ndays, 1)
    expected = {d for d in missing if start <= d <= end}

    def x(d: dt.date) -> float:
        return left + (d - start).days * day_w

    body: list[str] = []
    days = [start + dt.timedelta(days=k) for k in range(ndays)]  # once for all strips: a report has ~30 of them
    for i, (label, points, threshold) in enumerate(rows):
        yy = top + i * row_h
        values = {d: v for d, v in points if start <= d <= end}
        classes = [("missing" if d in expected else "nodata") if v is None
                   else ("low" if threshold is not None and v < threshold else "ok")
                   for d, v in zip(days, map(values.get, days))]
        label_html = escape(label)  # the rest of a tip is dates, digits and words: nothing to escape
        body.append(f"<text x='{left - 8}' y='{yy + 12}' text-anchor='end' fill='#222' {FONT}>{label_html}</text>")
        k = 0
        for cls, run in groupby(classes):
            n = len(list(run))
            a, b, k = days[k], days[k + n - 1], k + n
            fill, why = _STRIP_FILL[cls], _STRIP_WHY[cls]
            tip = f"{label_html} {a}..{b} ({n} dates): {why}" if n > 1 else f"{label_html} {a}: {why}"
            body.append(f"<rect class='strip strip-{cls}' x='{x(a):.2f}' y='{yy + 2}' width='{max(n * day_w, 1.0):.2f}' "
                        f"height='{row_h - 4}' fill='{fill}'><title>{tip}</title></rect>")
    for t in date_ticks(start, end):
        y0 = top + row_h * max(len(rows), 1)
        anchor = "end" if x(t) > left + pw - 25 else "middle"
        body.append(f"<line x1='{x(t):.2f}' x2='{x(t):.2f}' y1='{y0}' y2='{y0 + 4}' stroke='#888'/>")
        body.append(f"<text x='{x(t):.2f}' y='{y0 + 16}' text-anchor='{anchor}' fill='#555' {FONT}>"
                    f"{t.strftime('%Y-%m')}</text>")
    body.append(f"<text x='{left}' y='14' fill='#222' font-weight='bold' {FONT}>{escape(title)}</text>")
    return _svg(width, height, body, title, "chart strips-chart")


# --- phase cards (cards.py): generic charts of a job's own figures --------------------------------------------
CARD_COLOR = "#4c8fcf"
TARGET_COLOR = "#d62728"


def _nice_max(v: float) -> float:
    """A round axis end at or above v (1, 2, 2.5, 5 × 10^k)."""
    if v <= 0:
        return 1.0
    k = 10 ** math.floor(math.log10(v))
    return next(m * k for m in (1, 2, 2.5, 5, 10) if m * k >= v)


def _tick_count(lo: float, hi: float) -> int:
    """4 or 5 steps so that each is a round number: 0..50 by 10, 0..2 by 0.5, 0..2.5 by 0.5."""
    span = hi - lo
    if span <= 0:
        return 4
    lead = span / 10 ** math.floor(math.log10(span))
    return 4 if round(lead, 6) in (2.0, 4.0, 8.0) else 5


def _num_label(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 1000 else (f"{v:.3g}" if abs(v) < 10 else f"{v:,.1f}".rstrip("0").rstrip("."))


def bars_svg(title: str, items: Sequence[tuple[str, float]], width: int = 920) -> str:
    """Horizontal bars, label → value, in the given order (the job sorts)."""
    left, right, top, row_h = 230, 70, 22, 18
    pw = width - left - right
    height = top + row_h * max(len(items), 1) + 8
    hi = _nice_max(max((v for _, v in items), default=0.0))
    lo = min(0.0, min((v for _, v in items), default=0.0))
    span = hi - lo or 1.0

    def x(v: float) -> float:
        return left + (v - lo) / span * pw

    body = [f"<text x='{left}' y='14' fill='#222' font-weight='bold' {FONT}>{escape(title)}</text>"]
    for i, (label, v) in enumerate(items):
        yy = top + i * row_h
        x0, x1 = sorted((x(0.0), x(v)))
        body.append(f"<text x='{left - 8}' y='{yy + 12}' text-anchor='end' fill='#222' {FONT}>"
                    f"{escape(_clip(label, 34))}</text>")
        body.append(f"<rect class='card-bar' x='{x0:.2f}' y='{yy + 2}' width='{max(x1 - x0, 1.0):.2f}' "
                    f"height='{row_h - 4}' fill='{CARD_COLOR}'><title>{escape(f'{label}: {v:g}')}</title></rect>")
        body.append(f"<text x='{x1 + 4:.2f}' y='{yy + 12}' fill='#333' {FONT}>{_num_label(v)}</text>")
    return _svg(width, height, body, title, "chart card-bars")


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"


def _y_axis(lo: float, hi: float, y, left: int, pw: float, body: list[str]) -> None:
    n = _tick_count(lo, hi)
    for i in range(n + 1):
        v = lo + (hi - lo) * i / n
        body.append(f"<line x1='{left}' x2='{left + pw}' y1='{y(v):.2f}' y2='{y(v):.2f}' stroke='#ececec'/>")
        body.append(f"<text x='{left - 6}' y='{y(v) + 4:.2f}' text-anchor='end' fill='#555' {FONT}>"
                    f"{_num_label(v)}</text>")


def line_svg(title: str, points: Sequence[tuple[str, float]], target: float | None = None,
             target_label: str | None = None, y_label: str | None = None, width: int = 920,
             height: int = 220) -> str:
    """A value per labelled step (e.g. per month), with an optional target line; the y axis starts at 0."""
    left, right, top, bottom = 52, 14, 22, 30
    pw, ph = width - left - right, height - top - bottom
    values = [v for _, v in points] + ([target] if target is not None else [])
    lo, hi = min(0.0, min(values, default=0.0)), _nice_max(max(values, default=0.0) * 1.05)
    step = pw / max(len(points), 1)

    def x(i: int) -> float:
        return left + step * (i + 0.5)

    def y(v: float) -> float:
        return top + ph - (v - lo) / ((hi - lo) or 1.0) * ph

    body = [f"<rect x='{left}' y='{top}' width='{pw}' height='{ph}' fill='#fafafa' stroke='#d0d0d0'/>"]
    _y_axis(lo, hi, y, left, pw, body)
    if points:
        d = "".join(("M" if i == 0 else "L") + f"{x(i):.2f},{y(v):.2f}" for i, (_, v) in enumerate(points))
        body.append(f"<path class='card-line' d='{d}' fill='none' stroke='{CARD_COLOR}' stroke-width='2'/>")
    every = max(1, math.ceil(len(points) / 12))  # at most ~12 x labels
    for i, (label, v) in enumerate(points):
        body.append(f"<circle class='card-point' cx='{x(i):.2f}' cy='{y(v):.2f}' r='3' fill='{CARD_COLOR}'>"
                    f"<title>{escape(f'{label}: {v:g}')}</title></circle>")
        if i % every == 0:
            body.append(f"<text x='{x(i):.2f}' y='{top + ph + 16}' text-anchor='middle' fill='#555' {FONT}>"
                        f"{escape(_clip(label, 12))}</text>")
    if target is not None:
        body.append(f"<line class='card-target' x1='{left}' x2='{left + pw}' y1='{y(target):.2f}' "
                    f"y2='{y(target):.2f}' stroke='{TARGET_COLOR}' stroke-dasharray='5,3' stroke-width='1.2'/>")
        body.append(f"<text x='{left + pw - 4}' y='{y(target) - 4:.2f}' text-anchor='end' fill='{TARGET_COLOR}' "
                    f"{FONT}>{escape(target_label or 'target')} {_num_label(target)}</text>")
    head = title + (f" ({y_label})" if y_label else "")
    body.append(f"<text x='{left}' y='14' fill='#222' font-weight='bold' {FONT}>{escape(head)}</text>")
    return _svg(width, height, body, title, "chart card-line-chart")


def scatter_svg(title: str, points: Sequence[tuple[float, float]], x_label: str | None = None,
                y_label: str | None = None, diagonal: bool = False, size: int = 420) -> str:
    """Points (x, y) on equal axes from 0 (or the lowest value) to a round maximum; `diagonal`: the y = x line
    (predicted = actual)."""
    left, right, top, bottom = 52, 14, 22, 40
    pw = ph = size - left - right
    width, height = size, top + ph + bottom
    values = [v for p in points for v in p]
    lo, hi = min(0.0, min(values, default=0.0)), _nice_max(max(values, default=0.0))

    def sx(v: float) -> float:
        return left + (v - lo) / ((hi - lo) or 1.0) * pw

    def sy(v: float) -> float:
        return top + ph - (v - lo) / ((hi - lo) or 1.0) * ph

    body = [f"<rect x='{left}' y='{top}' width='{pw}' height='{ph}' fill='#fafafa' stroke='#d0d0d0'/>"]
    _y_axis(lo, hi, sy, left, pw, body)
    n = _tick_count(lo, hi)
    for i in range(n + 1):
        v = lo + (hi - lo) * i / n
        body.append(f"<text x='{sx(v):.2f}' y='{top + ph + 15}' text-anchor='middle' fill='#555' {FONT}>"
                    f"{_num_label(v)}</text>")
    if diagonal:
        body.append(f"<line class='card-diagonal' x1='{sx(lo):.2f}' y1='{sy(lo):.2f}' x2='{sx(hi):.2f}' "
                    f"y2='{sy(hi):.2f}' stroke='{TARGET_COLOR}' stroke-dasharray='5,3' stroke-width='1'/>")
    for px, py in points:
        body.append(f"<circle class='card-dot' cx='{sx(px):.2f}' cy='{sy(py):.2f}' r='2.2' fill='{CARD_COLOR}' "
                    f"fill-opacity='0.55'/>")
    if x_label:
        body.append(f"<text x='{left + pw / 2:.2f}' y='{top + ph + 32}' text-anchor='middle' fill='#333' {FONT}>"
                    f"{escape(x_label)}</text>")
    if y_label:
        body.append(f"<text x='12' y='{top + ph / 2:.2f}' text-anchor='middle' fill='#333' {FONT} "
                    f"transform='rotate(-90 12 {top + ph / 2:.2f})'>{escape(y_label)}</text>")
    body.append(f"<text x='{left}' y='14' fill='#222' font-weight='bold' {FONT}>{escape(title)}</text>")
    return _svg(width, height, body, title, "chart card-scatter")
