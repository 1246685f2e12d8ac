"""One run view: status (--json), the reports and the metrics show the same figures, and no secret reaches any
of them, nor orchestrator.log."""
from __future__ import annotations

import json
from html import escape
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from runfixture import RUN_ID, T0
from test_rep_metrics import get, parse_prometheus

from backfill_orchestrator.cli import cli
from backfill_orchestrator.reporting.report import write_reports
from backfill_orchestrator.state import open_state

P1, P2, P3 = "team_offense_game_summary", "player_game_summary", "player_composite_factors"


def _outputs(run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[dict, dict, str, str, dict]:
    """status --json, report.json, report.md, report.html and the metrics of one run, through the CLI."""
    monkeypatch.chdir(run_dir)  # so that the run's relative config_path is looked up where it cannot exist
    runner = CliRunner()
    logs = str(run_dir.parent.parent)
    r = runner.invoke(cli, ["status", RUN_ID, "--logs-dir", logs, "--json"])
    assert r.exit_code == 0, r.output
    status = json.loads(r.output)
    r = runner.invoke(cli, ["report", RUN_ID, "--logs-dir", logs])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["metrics", RUN_ID, "--logs-dir", logs])
    assert r.exit_code == 0, r.output
    metrics = parse_prometheus(r.output)
    return (status, json.loads((run_dir / "report.json").read_text()), (run_dir / "report.md").read_text(),
            (run_dir / "report.html").read_text(), metrics)


@pytest.fixture
def regated_run(demo_run: Path) -> Path:
    """The demo run with a newer result of player_game_summary's post gate (a warning): the latest one counts."""
    from runfixture import _check, _suite_result

    with open_state(demo_run) as st:
        st.add_gate(P2, "post", P2, "critical", 3, "warn",
                    _suite_result(P2, "nba_analytics.player_game_summary", "warn",
                                  [_check("usage_rate_coverage", "warn", 94.1, ">= 95%", "2024-12-25 below",
                                          column="usage_rate", severity="warning")], {}))
    return demo_run


def test_latest_gate_per_suite_agrees(regated_run: Path, monkeypatch):
    status, report, md, html, metrics = _outputs(regated_run, monkeypatch)
    s_gates = [(g["kind"], g["suite"], g["status"]) for g in status["phases"][1]["gates"]]
    r_gates = [(g["kind"], g["suite"], g["status"]) for g in report["phases"][1]["gates"]]
    assert s_gates == r_gates == [("post", P2, "warn")]
    assert report["phases"][1]["gates"][0]["earlier"] == 1
    assert get(metrics, "backfill_gate_status", phase=P2, suite=P2, kind="post", status="warn") == 1
    assert get(metrics, "backfill_gate_status", phase=P2, suite=P2, kind="post", status="fail") == 0
    assert f"{P2} WARN" in md


def test_failed_check_line_agrees(demo_run: Path, monkeypatch):
    status, report, md, html, _ = _outputs(demo_run, monkeypatch)
    line = "usage_rate_coverage [FAIL, critical]: 62.3 vs >= 95% — 2024-11-02..2025-06-30 (241 dates) below"
    assert status["phases"][1]["gates"][0]["failing"] == [line]
    assert line in md and escape(line) in html
    r = CliRunner().invoke(cli, ["status", RUN_ID, "--logs-dir", str(demo_run.parent.parent)])
    assert f"        {line}" in r.output.splitlines()


def test_a_gate_that_could_not_run_says_why_in_status_and_report(demo_run: Path, monkeypatch):
    with open_state(demo_run) as st:
        st.add_gate(P3, "preflight", "pcf_inputs", "critical", 1, "error", {"error": "warehouse unreachable: boom"})
    status, report, md, html, metrics = _outputs(demo_run, monkeypatch)
    assert status["phases"][2]["gates"][0]["failing"] == ["ERROR warehouse unreachable: boom"]
    assert report["phases"][2]["gates"][0]["error"] == "warehouse unreachable: boom"
    assert "warehouse unreachable: boom" in html
    assert get(metrics, "backfill_gate_status", phase=P3, kind="preflight", status="error") == 1


def test_total_dates_retries_and_durations_agree(demo_run: Path, monkeypatch):
    with open_state(demo_run) as st:  # a retry of 2 dates: the attempt's dates differ from the phase's
        st.update_phase(P2, dates_count=2, total_dates=1537)
    status, report, md, _, metrics = _outputs(demo_run, monkeypatch)
    for i, name in enumerate((P1, P2, P3)):
        s, r = status["phases"][i], report["phases"][i]
        assert s["total_dates"] == r["total"], name
        assert s["retries"] == r["retries"] == get(metrics, "backfill_phase_retries", phase=name), name
        assert s["duration_seconds"] == r["duration_seconds"], name
        if s["total_dates"] is not None:
            assert get(metrics, "backfill_phase_days_total", phase=name) == s["total_dates"], name
    assert [p["total_dates"] for p in status["phases"]] == [1537, 1537, None]
    assert [p["retries"] for p in status["phases"]] == [0, 1, 0]
    assert "1,075 / 2 / 460 of 1,537" in md
    assert status["phases"][0]["duration_seconds"] == 3000.0 and status["phases"][2]["duration_seconds"] is None
    assert status["duration_seconds"] == report["duration_seconds"] == 3 * 3600 + 60
    assert (get(metrics, "backfill_run_end_timestamp_seconds") - get(metrics, "backfill_run_start_timestamp_seconds")
            == status["duration_seconds"])
    assert get(metrics, "backfill_run_start_timestamp_seconds") == T0.timestamp()


# --- secrets --------------------------------------------------------------------------------------------------
ENV_TOKEN = "s3cr3t-API-T0KEN-4242"
HOOK_TOKEN = "H00K-t0ken-ZZ9"
_JOB = ("import os, sys; print('FATAL: auth refused for', os.environ['API_TOKEN'], 'posting to', "
        "os.environ['HOOK'], flush=True); sys.exit(1)")


def test_secrets_of_the_config_never_reach_status_log_or_reports(tmp_path: Path, monkeypatch):
    """A job's fatal line quotes its env token and a webhook URL: the orchestrator puts that line in the phase's
    message, its events and orchestrator.log; none of them may show either secret."""
    import socket

    with socket.socket() as s:  # a port nobody listens on: the notifier fails, and logs that it did
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    hook = f"json://127.0.0.1:{port}/hook/{HOOK_TOKEN}"
    cfg = {"pipeline": "t", "warehouse": {"duckdb": {"path": "wh.duckdb"}}, "logs_dir": "logs",
           "polling": {"interval": "0.2s", "progress_every": "0.5s"},
           "notifications": [{"url": hook, "name": "oncall"}],
           "phases": [{"name": "a", "command": ["{python}", "-c", _JOB], "dates": {"start": "2024-10-22",
                                                                                    "end": "2024-10-23"},
                       "retries": 0, "env": {"API_TOKEN": ENV_TOKEN, "HOOK": hook}}]}
    config = tmp_path / "pipeline.yaml"
    config.write_text(json.dumps(cfg))
    backfill = Path(sys.executable).parent / "backfill"
    run = subprocess.run([str(backfill), "run", config.name], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 1, run.stdout + run.stderr
    run_dir = (tmp_path / "logs" / "latest").resolve()
    with open_state(run_dir) as st:
        stored = st.phase("a").message
        assert "fatal error in the log" in stored and ENV_TOKEN not in stored  # stored masked ...
        # ... and the readers mask on their own too: a state written before messages were stored masked
        st.update_phase("a", message=stored + f" (token {ENV_TOKEN})")
        assert ENV_TOKEN in st.phase("a").message
    monkeypatch.chdir(run_dir)  # status from elsewhere: the config is found where the run was started
    status = CliRunner().invoke(cli, ["status", "--logs-dir", str(tmp_path / "logs"), "--json"])
    assert status.exit_code == 0, status.output
    assert json.loads(status.output)["phases"][0]["status"] == "failed"
    texts = {"status --json": status.output, "orchestrator.log": (run_dir / "orchestrator.log").read_text()}
    texts.update({p.name: p.read_text() for p in write_reports(run_dir)})
    assert "fatal error in the log" in texts["orchestrator.log"] and "notify" in texts["orchestrator.log"]
    for where, text in texts.items():
        assert ENV_TOKEN not in text and HOOK_TOKEN not in text, where
        assert "***" in text or where == "report.md", where
