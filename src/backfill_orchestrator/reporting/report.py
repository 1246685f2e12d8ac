"""The run report: what a run did, from its state.sqlite alone (the run view), as HTML, Markdown and JSON.

`write_reports(run_dir)` writes report.html (one self-contained file, inline SVG), report.md (short enough for a
ticket) and report.json into the run directory; `write_report(run_dir, out, fmt)` one of them anywhere.
The renderers (report_md, report_html) only know the view; this module picks between them.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from ..atomic import write_text_atomic
from ..render import dumps
from .report_html import render_html
from .report_md import render_markdown
from .view import RunView, build_view

REPORT_FILES = ("report.html", "report.md", "report.json")
REPORT_EXTENSIONS = {".html": "html", ".htm": "html", ".md": "md", ".json": "json"}


def render_json(view: RunView) -> str:
    """The view as JSON, with the events a report lists (view.shown_events), not the whole journal."""
    return dumps(dataclasses.replace(view, events=view.shown_events()))


def render(view: RunView, fmt: str) -> str:
    if fmt == "md":
        return render_markdown(view)
    if fmt == "json":
        return render_json(view)
    return render_html(view)


def write_report(run_dir: str | Path, out: str | Path, fmt: str | None = None) -> Path:
    """Write the report of `run_dir` to `out` (format `fmt`, else from the extension, else HTML) atomically."""
    path = Path(out)
    fmt = fmt or REPORT_EXTENSIONS.get(path.suffix.lower(), "html")
    write_text_atomic(path, render(build_view(run_dir), fmt), "the report")
    return path


def write_reports(run_dir: str | Path, now: dt.datetime | None = None) -> list[Path]:
    """Write report.html, report.md and report.json into the run directory (each atomically); their paths."""
    view = build_view(run_dir, now)
    out = []
    for name, fmt in zip(REPORT_FILES, ("html", "md", "json")):
        path = Path(run_dir) / name
        write_text_atomic(path, render(view, fmt), "the report")
        out.append(path)
    return out
