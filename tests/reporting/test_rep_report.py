"""The run report from a recorded run: content, Markdown length, JSON, and the HTML drawn by headless Chromium."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from runfixture import RUN_ID
from pngread import longest_run, read_png

from backfill_orchestrator.reporting.charts import AREA_FILL, GAP_FILL
from backfill_orchestrator.cli import cli
from backfill_orchestrator.reporting.report import write_reports
from backfill_orchestrator.reporting.report_html import render_html
from backfill_orchestrator.reporting.report_md import render_markdown
from backfill_orchestrator.reporting.view import build_view as build_report


def _rgb(hex_color: str) -> tuple[int, int, int]:
    return tuple(int(hex_color[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def test_report_model_from_state(demo_run: Path):
    rep = build_report(demo_run)
    assert rep.run_id == RUN_ID and rep.status == "failed" and rep.exit_code == 1
    p1, p2, p3 = rep.phases
    assert (p1.status, p1.duration_seconds, p1.ok, p1.skipped, p1.records) == ("passed", 3000.0, 1075, 462, 30740)
    assert p1.exit_note == "exit code 0"
    assert p2.exit_note == "exit code unknown (adopted process)"
    assert p2.retries == 1 and p2.failed == 2
    assert p2.gates[0].status == "fail"
    assert [c.name for c in p2.gates[0].problems] == ["usage_rate_coverage"]
    assert p2.runbook == ["docs/runbook.md#gate-failed"]
    assert p3.status == "pending" and p3.exit_note == "not started" and p3.duration_seconds is None
    usage = next(s for s in rep.coverage if s.column == "usage_rate")
    assert usage.threshold == 95.0
    assert usage.low_dates[0].isoformat() == "2024-11-02" and len(usage.low_dates) == 233
    assert rep.next_command == "backfill restart player_game_summary --from 2024-11-02"


def test_markdown_fits_a_ticket(demo_run: Path):
    md = render_markdown(build_report(demo_run))
    lines = md.splitlines()
    assert len(lines) <= 40 and len(md) < 4000
    assert "**FAILED**" in lines[0]
    assert "| player_game_summary | failed (exit code unknown: adopted) | 1,075 / 2 / 460 of 1,537 |" in md
    assert "usage_rate_coverage [FAIL, critical]: 62.3 vs >= 95% — 2024-11-02..2025-06-30 (241 dates) below" in md
    assert "`player_game_summary.usage_rate` < 95%: 2024-11-02..2025-06-22 (233 dates)" in md
    assert "Next: `backfill restart player_game_summary --from 2024-11-02`" in md
    assert "docs/runbook.md#gate-failed" in md


def test_write_reports_and_cli(demo_run: Path):
    paths = write_reports(demo_run)
    assert [p.name for p in paths] == ["report.html", "report.md", "report.json"]
    data = json.loads((demo_run / "report.json").read_text())
    assert data["phases"][1]["exit_note"] == "exit code unknown (adopted process)"
    assert data["coverage"][0]["points"][0][0] == "2021-10-19"
    logs = demo_run.parent.parent
    runner = CliRunner()
    r = runner.invoke(cli, ["report", "--logs-dir", str(logs), "--format", "md"])
    assert r.exit_code == 0 and "**FAILED**" in r.output
    out = demo_run.parent / "copy.html"
    r = runner.invoke(cli, ["report", RUN_ID, "--logs-dir", str(logs), "--out", str(out)])
    assert r.exit_code == 0 and out.read_text().startswith("<!DOCTYPE html>")
    r = runner.invoke(cli, ["report", "no-such-run", "--logs-dir", str(logs)])
    assert r.exit_code == 2 and r.output.startswith("error: no run 'no-such-run'")
    broken = logs / "runs" / "broken"
    broken.mkdir()
    (broken / "state.sqlite").write_text("not a database")
    r = runner.invoke(cli, ["report", "broken", "--logs-dir", str(logs)])
    assert r.exit_code != 0 and "docs/runbook.md#state-unreadable" in r.output and "Traceback" not in r.output


def test_html_is_self_contained(demo_run: Path):
    html = render_html(build_report(demo_run))
    assert "<script" not in html.lower() and "<link" not in html.lower() and "url(" not in html
    refs = set(re.findall(r"(?:src|href)\s*=\s*['\"]([^'\"]+)", html))
    assert refs == set(), refs
    assert re.findall(r"https?://[^\s'\"<]+", html) == []
    # timeline, one strip chart per gate (2), the detail of the one column with a gap, progress
    assert html.count("<svg") == 5


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail("chromium is not installed: `apt-get install -y --no-install-recommends chromium` "
                    "(scripts/test.sh installs it)", pytrace=False)
    return exe


def _run_chromium(tmp_path: Path, url: str, *mode: str) -> subprocess.CompletedProcess:
    argv = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
            "--disable-default-apps", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'chromium-profile'}",
            "--window-size=1000,2600", *mode, url]
    return subprocess.run(argv, capture_output=True, timeout=120)


def _path_box(d: str) -> tuple[float, float]:
    nums = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", d)]
    xs, ys = nums[0::2], nums[1::2]
    return max(xs) - min(xs), max(ys) - min(ys)


def test_chromium_draws_the_charts(demo_run: Path, tmp_path: Path):
    write_reports(demo_run)
    url = (demo_run / "report.html").resolve().as_uri()
    dom = _run_chromium(tmp_path, url, "--dump-dom")
    assert dom.returncode == 0, dom.stderr.decode(errors="replace")[-2000:]
    text = dom.stdout.decode()
    # the DOM Chromium built holds the charts, with areas of real size
    coverage_paths = re.findall(r"<path class=\"coverage\" d=\"([^\"]+)\"", text)
    assert len(coverage_paths) == 5  # usage_rate in detail: one area per season with rows
    assert all(w > 0 for w, _ in map(_path_box, coverage_paths))
    assert max(h for _, h in map(_path_box, coverage_paths)) > 100
    gap_widths = [float(w) for w in re.findall(r"<rect class=\"gap\" x=\"[\d.]+\" y=\"\d+\" width=\"([\d.]+)\"", text)]
    assert gap_widths and max(gap_widths) > 100, gap_widths  # the months-long gap is a wide band
    strips = re.findall(r"<rect class=\"strip strip-(\w+)\" x=\"[\d.]+\" y=\"\d+\" width=\"([\d.]+)\"", text)
    assert {c for c, _ in strips} == {"ok", "low", "nodata"}
    assert [float(w) > 100 for c, w in strips if c == "low"] == [True]  # one wide red block in the strips
    progress = re.findall(r"<path class=\"progress\" data-phase=\"([^\"]+)\" d=\"([^\"]+)\"", text)
    assert {p for p, _ in progress} == {"team_offense_game_summary", "player_game_summary"}
    assert all(_path_box(d)[0] > 50 and _path_box(d)[1] > 50 for _, d in progress)
    assert text.count("class=\"phase-bar\"") == 2

    shot = tmp_path / "report.png"
    r = _run_chromium(tmp_path, url, f"--screenshot={shot}")
    assert r.returncode == 0 and shot.is_file(), r.stderr.decode(errors="replace")[-2000:]
    width, height, rows = read_png(shot.read_bytes())
    assert (width, height) == (1000, 2600)
    colors = {row[x:x + 3] for row in rows[::7] for x in range(0, len(row), 21)}
    assert len(colors) > 20, "the screenshot is (nearly) blank"
    # the gap band is painted: a horizontal run of its colour well over 100 px (233 of 1537 dates, ~874 px plot)
    assert max(longest_run(row, _rgb(GAP_FILL)) for row in rows) > 100
    # and the coverage areas are painted in their colour over most of a chart's width
    assert max(longest_run(row, _rgb(AREA_FILL)) for row in rows) > 100


def test_missing_dates_from_a_completeness_check_are_drawn_as_a_gap():
    import datetime as dt

    from backfill_orchestrator.reporting.charts import coverage_strips_svg
    from backfill_orchestrator.reporting.view import missing_dates as _missing_dates, parse_ranges

    result = {"checks": [{"type": "completeness", "status": "fail",
                          "evidence": "missing 27 of 914 expected dates (dates with rows in nba_raw.schedule "
                                      "since 2021-10-19): 2024-11-02..2024-11-27 (26 dates), 2024-12-25"}]}
    missing = _missing_dates(result)
    assert len(missing) == 27 and missing[0] == dt.date(2024, 11, 2) and missing[-1] == dt.date(2024, 12, 25)
    assert parse_ranges("2024-01-30..2024-02-01 (3 dates)") == [dt.date(2024, 1, 30), dt.date(2024, 1, 31),
                                                                dt.date(2024, 2, 1)]
    start, end = dt.date(2024, 10, 22), dt.date(2025, 1, 31)
    points = [(start + dt.timedelta(days=i), 100.0) for i in range((end - start).days + 1)
              if start + dt.timedelta(days=i) not in set(missing)]
    svg = coverage_strips_svg("t", [("points", points, 99.0)], start, end, missing)
    kinds = re.findall(r"class='strip strip-(\w+)'", svg)
    assert kinds.count("missing") == 2 and "nodata" not in kinds


def test_secrets_never_reach_a_report(demo_run: Path):
    from backfill_orchestrator.events import Event
    from backfill_orchestrator.state import open_state

    with open_state(demo_run) as st:
        st.add_event(Event("phase_failed", RUN_ID, "could not post to https://admin:hunter2@hooks.example.com/T0/B0/"
                           "XyZsecret?token=abc123", phase="player_game_summary"))
    for path in write_reports(demo_run):
        text = path.read_text()
        assert "hunter2" not in text and "XyZsecret" not in text and "abc123" not in text, path.name
        if path.suffix != ".md":  # the Markdown lists no events
            assert "https://hooks.example.com/***" in text, path.name


def test_markdown_of_a_failed_run_with_many_checks_still_fits_a_ticket(demo_run: Path):
    from runfixture import END, START, _check, _suite_result

    from backfill_orchestrator.dates import date_range, format_ranges
    from backfill_orchestrator.state import open_state

    days = date_range(START, END)
    evidence = "1,234 of 99,000 rows have x NULL; NULL on every row on " + format_ranges(days[::3])  # ~300 chars
    checks = [_check(f"col{i}_coverage", "fail", 12.5, ">= 95%", evidence, column=f"col{i}") for i in range(30)]
    series = {f"col{i}": [[str(d), 0.0 if i % 2 else 99.0] for d in days[::2]] for i in range(30)}
    with open_state(demo_run) as st:
        st.add_gate("player_game_summary", "post", "wide_suite", "critical", 3, "fail",
                    _suite_result("wide_suite", "nba_analytics.wide", "fail", checks, series))
    md = render_markdown(build_report(demo_run))
    lines = md.splitlines()
    assert len(lines) <= 40 and len(md) < 4000, (len(lines), len(md))
    assert max(map(len, lines)) <= 240
    assert "usage_rate_coverage [FAIL, critical]" in md and "col0_coverage [FAIL, critical]" in md
    assert "more (see report.html)" in md
    assert lines[-1].startswith("Full report:") and "docs/runbook.md#gate-failed" in md


def test_html_names_no_http_url_at_all_and_the_warehouse_endpoint_is_redacted(tmp_path: Path):
    import sqlite3

    from runfixture import write_demo_run

    run = write_demo_run(tmp_path / "logs" / "runs" / RUN_ID)
    html = render_html(build_report(run))
    assert re.findall(r"https?://", html) == []  # not even the SVG namespace: inline SVG in HTML needs none
    with sqlite3.connect(run / "state.sqlite") as db:
        db.execute("UPDATE run SET warehouse = ?, config_path = ?",
                   ("bigquery:proj:https://svc:s3cretpw@bq.example.com/v2?key=K3YK3Y:pfx",
                    "https://cfg.example.com/pipeline.yaml?token=T0KT0K"))
    for path in write_reports(run):
        text = path.read_text()
        for secret in ("s3cretpw", "K3YK3Y", "T0KT0K"):
            assert secret not in text, (path.name, secret)


def test_missing_dates_come_from_the_full_list_not_the_shortened_evidence():
    import datetime as dt

    from backfill_orchestrator.dates import format_ranges
    from backfill_orchestrator.reporting.view import missing_dates as _missing_dates

    # 14 separate one-day gaps: the evidence text names 10 ranges and "… and 4 more"
    missing = [dt.date(2024, 11, 2) + dt.timedelta(days=2 * i) for i in range(14)]
    evidence = f"missing 14 of 100 expected dates (dates with rows in x.y): {format_ranges(missing)}"
    assert "and 4 more" in evidence
    check = {"type": "completeness", "status": "fail", "evidence": evidence,
             "missing_dates": [d.isoformat() for d in missing]}
    assert _missing_dates({"checks": [check]}) == missing
    # a result stored before the field existed still yields what its evidence names
    old = {k: v for k, v in check.items() if k != "missing_dates"}
    assert _missing_dates({"checks": [old]}) == missing[:10]


def test_markup_in_a_phase_name_or_evidence_is_escaped(tmp_path: Path):
    from runfixture import _check, _suite_result

    from backfill_orchestrator.events import Event
    from backfill_orchestrator.state import RunState

    evil = "<script>alert(1)</script>"
    phase = f"p{evil}"
    st = RunState.create(tmp_path / "run", "r1", "t", "c.yaml", "duckdb:/w", [phase])
    st.update_phase(phase, status="failed", attempt=1, tries=1, started_at="2026-01-03T01:00:00Z",
                    ended_at="2026-01-03T01:10:00Z", message=f"gate failed: {evil}")
    st.add_gate(phase, "post", "s", "critical", 1, "fail",
                _suite_result("s", "d.t", "fail", [_check("c", "fail", 1.0, ">= 95%", f"bad rows {evil}",
                                                          column="x")],
                              {"x": [["2024-01-01", 1.0]]}))
    st.add_event(Event("phase_failed", "r1", f"failed {evil}", phase=phase))
    st.update_run(status="failed", ended_at="2026-01-03T01:11:00Z", exit_code=1, message=evil)
    st.close()
    html = render_html(build_report(tmp_path / "run"))
    assert "<script" not in html.lower()
    assert html.count("&lt;script&gt;") >= 5  # run message, phase table, gate heading, evidence, event
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
