"""The run report as Markdown: a ticket, short whatever happened (report.html has everything)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..dates import format_ranges
from .cards import figure_verdict
from .view import RunView, fmt_duration, fmt_value


def render_markdown(rep: RunView, max_checks: int = 8) -> str:
    """A ticket: at most ~40 lines and 4,000 characters however many checks failed (report.html has all)."""
    lines = [f"## Backfill run `{rep.run_id}` — **{rep.status.upper()}**", "",
             f"Pipeline `{rep.pipeline}` on `{rep.warehouse}`; started {rep.started_at}, "
             f"{'ended ' + rep.ended_at if rep.ended_at else 'still running'} ({fmt_duration(rep.duration_seconds)})"
             + (f"; exit code {rep.exit_code}" if rep.exit_code is not None else "") + ".", ""]
    if rep.message:
        lines += [_short(rep.message, 300), ""]
    lines += ["| phase | status | days ok / failed / skipped | records | duration | rate | retries | gate |",
              "|---|---|---|---|---|---|---|---|"]
    for p in rep.phases:
        days = "—" if p.ok is None else f"{p.ok:,} / {p.failed or 0:,} / {p.skipped or 0:,}"
        if p.total:
            days += f" of {p.total:,}"
        gates = ", ".join(f"{g.suite} {g.status.upper()}" for g in p.gates) or "—"
        status = p.status + (" (exit code unknown: adopted)" if p.exit_note.startswith("exit code unknown") else "")
        lines.append(f"| {p.name} | {status} | {days} | {fmt_value(p.records) if p.records is not None else '—'} | "
                     f"{fmt_duration(p.duration_seconds)} | {_rate(p.rate)} | {p.retries} | {gates} |")
    problems = [(p.name, g, line) for p in rep.phases for g in p.gates for line in g.failing]
    if problems:
        lines += ["", "**Gate problems**", ""]
        for name, g, line in problems[:max_checks]:
            lines.append(_short(f"- `{name}` {g.kind} `{g.suite}`: {line}", 200))
        if len(problems) > max_checks:
            lines.append(f"- … and {len(problems) - max_checks} more (see report.html)")
    # a warning-level column (e.g. shot zones, present for ~45% of games) dips below its overall threshold on
    # many single dates by nature: the ticket lists critical columns; the HTML charts show them all
    gaps = [s for s in rep.coverage if s.severity == "critical" and s.low_dates]
    missing = {(s.phase, s.suite): s.missing for s in rep.coverage if s.missing}
    if gaps or missing:
        lines += ["", "**Coverage gaps**", ""]
        for (phase, suite), dates in list(missing.items())[:2]:
            lines.append(f"- `{suite}`: no rows on {len(dates)} expected dates: {format_ranges(dates, limit=4)}")
        for s in gaps[:4]:
            lines.append(f"- `{s.suite}.{s.column}` < {s.threshold:g}%: {format_ranges(s.low_dates, limit=4)}")
        more = max(0, len(missing) - 2) + max(0, len(gaps) - 4)
        if more:
            lines.append(f"- … and {more} more (see report.html)")
    if rep.repairs:
        lines += ["", "**Repairs**", ""]
        for r in rep.repairs[-4:]:
            after = "?" if r.after is None else f"{r.after}"
            steps = ", ".join(f"{s.phase} ({s.dates} dates)" for s in r.steps) or "nothing"
            lines.append(_short(f"- `{r.phase}` round {r.round}: **{r.status}**, failing dates {r.before} -> {after} "
                                f"({r.before_ranges}); re-ran {steps}", 300))
            lines += [_short(f"  - source gap {g}", 200) for g in r.gaps]
        if len(rep.repairs) > 4:
            lines.append(f"- … and {len(rep.repairs) - 4} earlier rounds (see report.html)")
    for p in rep.phases:
        lines += _card_lines(p.name, p.card, p.card_error)
    if rep.next_command:
        lines += ["", f"Next: `{rep.next_command}`"]
    if rep.runbook:
        lines += ["", "Runbook: " + ", ".join(rep.runbook)]
    lines += ["", f"Full report: `{Path(rep.run_dir) / 'report.html'}`"]
    return "\n".join(lines) + "\n"


def _card_lines(phase: str, card: dict[str, Any] | None, error: str | None, max_rows: int = 12,
                max_items: int = 10) -> list[str]:
    """A phase's card in a few lines: key figures, its tables, bars and series as one line each, scatters as a
    count (report.html draws them all)."""
    if error:
        return ["", f"_{phase}: the card could not be read: {_cell(error)}_"]
    if not card:
        return []
    out = ["", f"**{_cell(card['title'])}** (`{phase}`)" + (f" — {_cell(card['subtitle'])}" if card["subtitle"] else ""),
           ""]
    for f in card["figures"]:
        verdict = figure_verdict(f)
        target = f" ({verdict} {f['target_label'] or 'target'} {fmt_value(f['target'])})" if verdict else ""
        out.append(f"- {_cell(f['label'])}: **{fmt_value(f['value'])}**{target}")
    for t in card["tables"]:
        out += ["", f"{_cell(t['title'])}:", "", "| " + " | ".join(map(_cell, t["columns"])) + " |",
                "|" + "---|" * len(t["columns"])]
        out += ["| " + " | ".join("—" if c is None else _cell(fmt_value(c)) for c in r) + " |"
                for r in t["rows"][:max_rows]]
        if len(t["rows"]) > max_rows:
            out.append(f"| … {len(t['rows']) - max_rows} more rows (see report.html) |")
        if t["note"]:
            out += ["", _cell(t["note"])]
    compact = [(b["title"], b["items"]) for b in card["bars"]] + [(s["title"], s["points"]) for s in card["series"]]
    if compact:
        out.append("")
    for title, items in compact:
        shown = ", ".join(f"{_cell(k)} {fmt_value(v)}" for k, v in items[:max_items])
        more = f", … {len(items) - max_items} more" if len(items) > max_items else ""
        out.append(f"- {_cell(title)}: {shown}{more}")
    for sc in card["scatter"]:
        out.append(f"- {_cell(sc['title'])}: {len(sc['points'])} points (chart in report.html)")
    return out


def _cell(text: Any) -> str:
    # a card's text goes into table cells and emphasis: a pipe or a newline would break the Markdown
    return str(text).replace("|", "\\|").replace("\n", " ")


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 2].rstrip() + " …"


def _rate(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.2f} d/min"
