"""SuiteResults -> console (rich table on a TTY, plain aligned lines otherwise), JSON, Markdown, JUnit XML."""
from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

from ..render import to_jsonable
from .results import CheckResult, Status, SuiteResult

_MARK = {Status.PASS: "PASS", Status.WARN: "WARN", Status.FAIL: "FAIL", Status.ERROR: "ERROR",
         Status.NO_BASELINE: "NO_BASELINE"}
_STYLE = {Status.PASS: "green", Status.WARN: "yellow", Status.FAIL: "bold red", Status.ERROR: "bold red",
          Status.NO_BASELINE: "yellow"}


def observed_text(c: CheckResult) -> str:
    v = c.observed
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1e6 else f"{v:,.0f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def headline(r: SuiteResult) -> str:
    counts = ", ".join(f"{n} {k}" for k, n in r.counts().items() if n)
    secs = sum(q.seconds for q in r.queries)
    return (f"{r.suite}: {r.table} {r.start}..{r.end}: {_MARK[r.gate_status]} ({counts or 'no checks'}; "
            f"{_queries(r)}, {secs:.2f}s)")


def _queries(r: SuiteResult) -> str:
    return f"{len(r.queries)} quer{'y' if len(r.queries) == 1 else 'ies'}"


def plain(results: list[SuiteResult]) -> str:
    """Aligned lines without colour: what `nohup` logs and pipes get."""
    out = []
    for r in results:
        out.append(headline(r))
        rows = [(_MARK[c.status], c.severity, c.name, c.type, observed_text(c), c.threshold, c.evidence)
                for c in r.checks]
        widths = [max((len(row[i]) for row in rows), default=0) for i in range(6)]
        for row in rows:
            out.append("  " + "  ".join(v.ljust(w) for v, w in zip(row[:6], widths)) + "  " + row[6])
            for ex in _examples(r, row[2]):
                out.append(f"      e.g. {_example_text(ex)}")
    return "\n".join(out)


def _examples(r: SuiteResult, name: str) -> list[dict[str, Any]]:
    return next((c.examples for c in r.checks if c.name == name), [])


def _example_text(ex: dict[str, Any]) -> str:
    return " ".join(f"{k}={_cell(v)}" for k, v in ex.items())


def _cell(v: Any) -> str:
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    if isinstance(v, float):
        return f"{v:g}"
    return "NULL" if v is None else str(v)


def rich_text(results: list[SuiteResult], width: int = 160) -> str:
    """The same content as a rich table per suite (rendered to a string, for a terminal)."""
    from rich.console import Console
    from rich.table import Table

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=width)
    for r in results:
        table = Table(title=headline(r), title_justify="left", show_lines=False)
        for col in ("status", "severity", "check", "type", "observed", "threshold", "evidence"):
            table.add_column(col, overflow="fold", no_wrap=col != "evidence")
        for c in r.checks:
            ev = c.evidence + "".join(f"\n  e.g. {_example_text(ex)}" for ex in c.examples)
            table.add_row(f"[{_STYLE[c.status]}]{_MARK[c.status]}[/]", c.severity, c.name, c.type,
                          observed_text(c), c.threshold, ev)
        console.print(table)
    return buf.getvalue()


def as_json(results: list[SuiteResult]) -> str:
    docs = []
    for r in results:
        d = to_jsonable(r)
        d["gate_status"] = r.gate_status.value
        d["exit_code"] = r.exit_code
        docs.append(d)
    return json.dumps({"suites": docs, "gate_status": overall(results).value}, indent=2, ensure_ascii=False)


def overall(results: list[SuiteResult]) -> Status:
    statuses = {r.gate_status for r in results}
    return Status.FAIL if Status.FAIL in statuses else Status.WARN if Status.WARN in statuses else Status.PASS


def markdown(results: list[SuiteResult]) -> str:
    out = ["# Validation report", ""]
    for r in results:
        out += [f"## {r.suite}: **{_MARK[r.gate_status]}**", "",
                f"Table `{r.table}`, dates {r.start}..{r.end}"
                + (f", baseline {r.baseline[0]}..{r.baseline[1]}" if r.baseline else "")
                + f"; {_queries(r)} in {sum(q.seconds for q in r.queries):.2f}s.", "",
                "| status | severity | check | type | observed | threshold | evidence |",
                "|---|---|---|---|---|---|---|"]
        for c in r.checks:
            out.append("| " + " | ".join(_md(x) for x in (_MARK[c.status], c.severity, c.name, c.type,
                                                            observed_text(c), c.threshold, c.evidence)) + " |")
        for c in r.checks:
            if c.examples:
                cols = list(c.examples[0])
                out += ["", f"Examples for `{c.name}`:", "", "| " + " | ".join(cols) + " |",
                        "|" + "---|" * len(cols)]
                out += ["| " + " | ".join(_md(_cell(ex.get(k))) for k in cols) + " |" for ex in c.examples]
        out.append("")
    return "\n".join(out)


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def junit(results: list[SuiteResult]) -> str:
    """JUnit XML: one testsuite per suite, one testcase per check. FAIL -> failure, ERROR -> error,
    NO_BASELINE -> skipped (with the reason); WARN passes with the evidence in system-out."""
    import xml.etree.ElementTree as ET  # here, not at the top: only --junit needs it (part of the cold start)

    root = ET.Element("testsuites", name="backfill validate")
    for r in results:
        counts = r.counts()
        ts = ET.SubElement(root, "testsuite", name=r.suite, tests=str(len(r.checks)),
                           failures=str(counts["fail"]), errors=str(counts["error"]),
                           skipped=str(counts["no_baseline"]), time=f"{sum(q.seconds for q in r.queries):.3f}")
        ET.SubElement(ts, "properties").extend([
            ET.Element("property", name="table", value=r.table),
            ET.Element("property", name="dates", value=f"{r.start}..{r.end}"),
            ET.Element("property", name="gate_status", value=r.gate_status.value)])
        for c in r.checks:
            tc = ET.SubElement(ts, "testcase", classname=f"{r.suite}.{c.type}", name=c.name)
            msg = f"[{c.severity}] observed {observed_text(c)}, required {c.threshold}: {c.evidence}"
            if c.status is Status.FAIL:
                ET.SubElement(tc, "failure", message=msg, type=c.severity).text = _examples_text(c)
            elif c.status is Status.ERROR:
                ET.SubElement(tc, "error", message=msg, type=c.severity)
            elif c.status is Status.NO_BASELINE:
                ET.SubElement(tc, "skipped", message=msg)
            elif c.status is Status.WARN:
                ET.SubElement(tc, "system-out").text = "WARN " + msg
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _examples_text(c: CheckResult) -> str:
    return "\n".join(_example_text(ex) for ex in c.examples)


def dry_run_text(results: list[SuiteResult]) -> str:
    out = []
    for r in results:
        out.append(f"-- suite {r.suite}: {r.table} {r.start}..{r.end}: {len(r.dry_run_sql)} statements")
        out += [s + "\n" for s in r.dry_run_sql]
    return "\n".join(out)
