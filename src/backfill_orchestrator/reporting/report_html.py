"""RunReport -> one self-contained HTML page: inline CSS and inline SVG charts, no script, nothing remote."""
from __future__ import annotations

import datetime as dt
from html import escape

from .charts import STATUS_COLORS, coverage_strips_svg, coverage_svg, progress_svg, timeline_svg
from ..clock import parse_iso
from ..dates import format_ranges
from .view import GateView as GateReport, PhaseView as PhaseReport, RunView as RunReport, fmt_duration, fmt_value

_CSS = """
body{font-family:'DejaVu Sans',Arial,sans-serif;margin:24px;color:#222;max-width:980px}
h1{font-size:22px;margin:0 0 6px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:14px;margin:18px 0 6px}
.badge{display:inline-block;padding:2px 10px;border-radius:10px;color:#fff;font-weight:bold;font-size:13px}
.meta{color:#555;font-size:13px;line-height:1.6}
table{border-collapse:collapse;font-size:12.5px;width:100%}th,td{border:1px solid #ddd;padding:4px 6px;
text-align:left;vertical-align:top}th{background:#f3f3f3}td.num{text-align:right;white-space:nowrap}
.callout{border-left:5px solid #d62728;background:#fdf0f0;padding:8px 12px;margin:12px 0;font-size:13px}
.callout.warned{border-color:#e69b00;background:#fff7e6}.callout.ok{border-color:#2e9e44;background:#eef8f0}
code{background:#f2f2f2;padding:1px 4px;border-radius:3px;font-size:12px;word-break:break-all}
.st-pass,.st-passed{color:#2e9e44;font-weight:bold}.st-warn,.st-warned{color:#b87800;font-weight:bold}
.st-fail,.st-failed,.st-error{color:#d62728;font-weight:bold}.small{font-size:12px;color:#555}
svg.chart{display:block;margin:6px 0 14px}
"""


def _badge(status: str) -> str:
    color = STATUS_COLORS.get(status, "#888")
    return f"<span class='badge' style='background:{color}'>{escape(status.upper())}</span>"


def _st(status: str) -> str:
    return f"<span class='st-{escape(status)}'>{escape(status.upper())}</span>"


def _num(v: int | None) -> str:
    return "—" if v is None else f"{v:,}"


def render_html(rep: RunReport) -> str:
    now = parse_iso(rep.generated_at) or dt.datetime.now(dt.timezone.utc)
    t0 = parse_iso(rep.started_at) or now
    t1 = parse_iso(rep.ended_at) or now
    if t1 <= t0:
        t1 = t0 + dt.timedelta(seconds=1)
    out = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
           f"<title>Backfill run {escape(rep.run_id)} — {escape(rep.status)}</title>",
           f"<style>{_CSS}</style></head><body>",
           f"<h1>Backfill run <code>{escape(rep.run_id)}</code> {_badge(rep.status)}</h1>",
           "<div class='meta'>"
           f"pipeline <b>{escape(rep.pipeline)}</b> · warehouse <code>{escape(rep.warehouse)}</code> · "
           f"config <code>{escape(rep.config_path)}</code><br>"
           f"started {escape(rep.started_at)} · "
           f"{'ended ' + escape(rep.ended_at) if rep.ended_at else 'still running'} · "
           f"duration {fmt_duration(rep.duration_seconds)}"
           + (f" · exit code {rep.exit_code}" if rep.exit_code is not None else "") + "</div>"]
    out.append(_callout(rep))
    out.append("<h2>Timeline</h2>")
    rows = [(p.name, parse_iso(p.started_at), parse_iso(p.ended_at), p.status) for p in rep.phases]
    out.append(timeline_svg(rows, t0, t1))
    out.append("<h2>Phases</h2>")
    out.append(_phase_table(rep.phases))
    out.append("<h2>Coverage of gated columns per date</h2>")
    if rep.coverage:
        out.append("<p class='small'>One strip per gated column across the whole range. "
                   "<span style='background:#4c8fcf;color:#fff'>&nbsp;Blue&nbsp;</span>: at or above the check's "
                   "threshold. <span style='background:#d62728;color:#fff'>&nbsp;Red&nbsp;</span>: below it, or no "
                   "rows on a date that should have rows. <span style='background:#e4e4e4'>&nbsp;Grey&nbsp;</span>: "
                   "no rows (none expected). Columns with a gap are drawn in detail below their gate.</p>")
        groups: dict[tuple[str, str, str], list] = {}
        for s in rep.coverage:
            groups.setdefault((s.phase, s.kind, s.suite), []).append(s)
        for (phase, kind, suite), series in groups.items():
            first = series[0]
            rows = [(s.column, s.points, s.threshold) for s in series]
            out.append(coverage_strips_svg(f"{phase} · {kind} gate {suite}  ({first.start}..{first.end})", rows,
                                           first.start, first.end, first.missing))
            if first.missing:
                out.append(f"<p class='small st-fail'>no rows on {len(first.missing)} expected dates: "
                           f"{escape(format_ranges(first.missing, limit=6))}</p>")
            detail = [s for s in series if s.low_dates] or (series[:1] if first.missing else [])
            for s in series:
                if s in detail:
                    title = f"{s.phase} · {s.suite}.{s.column}: % of rows with a value  ({s.start}..{s.end})"
                    out.append(coverage_svg(title, s.points, s.start, s.end, s.threshold, s.missing))
                if s.low_dates:
                    out.append(f"<p class='small st-fail'>{escape(s.column)} below {s.threshold:g}%: "
                               f"{escape(format_ranges(s.low_dates, limit=6))}</p>")
    else:
        out.append("<p class='small'>No gate produced per-date coverage in this run.</p>")
    out.append("<h2>Progress over time</h2>")
    series = {}
    for p in rep.phases:
        pts = [(t, v) for t, v in ((parse_iso(a), v) for a, v in p.progress) if t]
        start = parse_iso(p.started_at)
        if start and (not pts or pts[0][0] > start):
            pts.insert(0, (start, 0.0))
        series[p.name] = pts
    out.append(progress_svg(series, t0, t1))
    out.append("<h2>Gates</h2>")
    for p in rep.phases:
        for g in p.gates:
            out.append(_gate_html(p, g))
    if not any(p.gates for p in rep.phases):
        out.append("<p class='small'>No gate ran.</p>")
    out.append("<h2>Events</h2><table><tr><th>at (UTC)</th><th>event</th><th>phase</th><th>message</th></tr>")
    for e in rep.shown_events():
        out.append(f"<tr><td class='num'>{escape(e.at)}</td><td>{escape(e.kind)}</td>"
                   f"<td>{escape(e.phase or '')}</td><td>{escape(e.message)}</td></tr>")
    out.append("</table>")
    out.append(f"<p class='small'>Generated {escape(rep.generated_at)} from "
               f"<code>{escape(rep.run_dir)}/state.sqlite</code>. Runbook: <code>docs/runbook.md</code>.</p>")
    out.append("</body></html>")
    return "\n".join(out)


def _callout(rep: RunReport) -> str:
    cls = {"failed": "", "warned": "warned", "passed": "ok"}.get(rep.status, "warned")
    parts = []
    if rep.message:
        parts.append(f"<div><b>{escape(rep.message)}</b></div>")
    problems = [(p, g, c) for p in rep.phases for g in p.gates for c in g.problems if c.status != "no_baseline"]
    for p, g, c in problems[:6]:
        text = c.text()
        parts.append(f"<div>{escape(p.name)} · {escape(g.suite)}: "
                     f"{escape(text if len(text) < 400 else text[:400] + ' …')}</div>")
    if len(problems) > 6:
        parts.append(f"<div>… and {len(problems) - 6} more (see Gates below)</div>")
    if rep.next_command:
        parts.append(f"<div>Next: <code>{escape(rep.next_command)}</code></div>")
    if rep.runbook:
        parts.append("<div>Runbook: " + ", ".join(f"<code>{escape(a)}</code>" for a in rep.runbook) + "</div>")
    return f"<div class='callout {cls}'>" + "".join(parts) + "</div>" if parts else ""


def _phase_table(phases: list[PhaseReport]) -> str:
    rows = ["<table><tr><th>phase</th><th>status</th><th>duration</th><th>days</th><th>ok</th><th>failed</th>"
            "<th>skipped</th><th>records</th><th>rate</th><th>retries</th><th>gates</th></tr>"]
    for p in phases:
        gates = "<br>".join(f"{_st(g.status)} {escape(g.kind)}" for g in p.gates) or "—"
        days = "—" if p.total is None else (f"{p.done or 0:,}/{p.total:,}")
        rate = "—" if p.rate is None else f"{p.rate:.2f}/min"
        notes = [escape(p.exit_note) + (f", pid {p.pid}" if p.pid else "")]
        if p.log_path:
            notes.append(f"log <code>{escape(p.log_path)}</code>")
        if p.runbook:
            notes.append(" ".join(f"<code>{escape(a)}</code>" for a in p.runbook))
        rows.append(f"<tr><td><b>{escape(p.name)}</b><div class='small'>{'<br>'.join(notes)}</div></td>"
                    f"<td>{_st(p.status)}</td><td class='num'>{fmt_duration(p.duration_seconds)}</td>"
                    f"<td class='num'>{days}</td><td class='num'>{_num(p.ok)}</td>"
                    f"<td class='num'>{_num(p.failed)}</td><td class='num'>{_num(p.skipped)}</td>"
                    f"<td class='num'>{_num(p.records)}</td><td class='num'>{rate}</td>"
                    f"<td class='num'>{p.retries}</td><td>{gates}</td></tr>")
    rows.append("</table>")
    return "".join(rows)


def _gate_html(p: PhaseReport, g: GateReport) -> str:
    head = (f"<h3>{escape(p.name)} — {escape(g.kind)} gate <code>{escape(g.suite)}</code> {_st(g.status)}</h3>"
            f"<div class='small'>table <code>{escape(g.table or '?')}</code>, dates {escape(g.start or '?')}.."
            f"{escape(g.end or '?')}, severity {escape(g.severity)}, at {escape(g.at)}"
            + (f", {g.earlier} earlier result(s) of this gate in this run" if g.earlier else "") + "</div>")
    rows = ["<table><tr><th>check</th><th>status</th><th>severity</th><th>observed</th><th>threshold</th>"
            "<th>evidence</th></tr>"]
    order = {"error": 0, "fail": 1, "warn": 2, "no_baseline": 3, "pass": 4}
    for c in sorted(g.checks, key=lambda c: order.get(c.status, 5)):
        rows.append(f"<tr><td>{escape(c.name)}</td><td>{_st(c.status)}</td><td>{escape(c.severity)}</td>"
                    f"<td class='num'>{escape(fmt_value(c.observed))}</td><td>{escape(c.threshold)}</td>"
                    f"<td>{escape(c.evidence)}</td></tr>")
    rows.append("</table>")
    if g.error:
        rows.append(f"<p class='small st-error'>ERROR {escape(g.error)}</p>")
    if g.status in ("fail", "error"):
        rows.append("<p class='small'>see <code>docs/runbook.md#gate-failed</code></p>")
    return head + "".join(rows)
