"""Issue 13 item 3: BigQuery's real error responses, injected by the proxy in front of the emulator. Transient
ones are retried and the work succeeds; after the budget (or at once for what is not transient) the date fails
with one line naming the reason and the job id; a gate whose query fails reports ERROR, never PASS; `backfill
plan` and `backfill validate` against an unreachable or failing endpoint say so in one line."""
from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from backfill_orchestrator.cli import cli
from backfill_orchestrator.errors import WarehouseError
from backfill_orchestrator.validation import load_suites, run_suite
from backfill_orchestrator.validation.results import Status
from backfill_orchestrator.warehouse import Column, WarehouseSettings
from backfill_orchestrator.warehouse.bigquery import BigQueryWarehouse
from nba_pipeline.sample_data import write_sample

from bqhelp import D, url_of
from bqproxy import BQProxy, any_request, dml_insert, select_insert
from nba_jobhelp import check_format, run_job

CONCURRENT = "Transaction is aborted due to concurrent update against table test-project.ds.t"


@pytest.mark.parametrize("status, reason, message, cut", [
    (429, "rateLimitExceeded", "Exceeded rate limits: too many api requests per user per method", ""),
    (403, "rateLimitExceeded", "Exceeded rate limits: too many table update operations for this table", ""),
    (500, "backendError", "An internal error occurred and the request could not be completed.", ""),
    (503, "backendError", "The service is currently unavailable.", ""),
    (400, "invalidQuery", CONCURRENT, ""),
    (0, "drop", "", "drop"),
    (0, "truncate", "", "truncate"),
], ids=["429", "403-rate", "500", "503", "400-concurrent", "dropped", "cut-mid-answer"])
def test_transient_errors_are_retried_and_the_query_succeeds(proxy: BQProxy, via_proxy: BigQueryWarehouse,
                                                             status: int, reason: str, message: str,
                                                             cut: str) -> None:
    proxy.fail(select_insert, times=2, status=status, reason=reason, message=message, drop=cut == "drop",
               truncate=cut == "truncate")
    assert via_proxy.query("SELECT 1 AS x") == [{"x": 1}]
    assert len(proxy.injected) == 2
    counts = via_proxy.retries.snapshot()
    assert sum(counts.values()) == 2
    if "concurrent" in message:
        assert counts == {"concurrentUpdate": 2}


def test_quota_exceeded_fails_at_once_naming_reason_and_job(proxy: BQProxy, via_proxy: BigQueryWarehouse) -> None:
    proxy.fail(select_insert, times=5, status=403, reason="quotaExceeded",
               message="Quota exceeded: Your project exceeded quota for free query bytes scanned.")
    with pytest.raises(WarehouseError) as e:
        via_proxy.query("SELECT 1 AS x")
    text = str(e.value)
    assert "\n" not in text
    job = re.search(r"job (backfill_[0-9a-f]+)", text)
    assert job and text.startswith("BigQuery quotaExceeded (HTTP 403) job ")
    assert proxy.injected == [("quotaExceeded", job.group(1))]  # one attempt, and it names that job


def test_job_date_fails_after_the_budget_with_one_line(direct: BigQueryWarehouse, proxy: BQProxy,
                                                       proxied_settings: WarehouseSettings, fast_retry,
                                                       tmp_path: Path) -> None:
    write_sample(direct, D(2024, 11, 1), D(2024, 11, 6))
    proxy.fail(dml_insert, times=1000, status=429, reason="rateLimitExceeded",
               message="Exceeded rate limits: too many concurrent queries for this project_and_region.")
    run = run_job("team_offense", "--dates", "2024-11-05", "--warehouse", url_of(proxied_settings),
                  "--checkpoint", str(tmp_path / "cp.json"))
    check_format(run)
    assert run.code == 1
    [line] = [ln for ln in run.kind("DATE") if " failed " in ln]
    last_job = proxy.injected[-1][1]
    assert (f'error="WarehouseError: BigQuery rateLimitExceeded (HTTP 429) job {last_job} after 4 attempts: '
            "Exceeded rate limits") in line
    assert len(proxy.injected) == 4
    assert run.complete.endswith(" retries=3 conflicts=0")
    assert "Traceback" not in run.stderr


SUITE = """suite: err_events
table: err_ds.events
date_column: game_date
checks:
  - {name: rows_present, type: row_count, min: 1}
  - {name: value_coverage, type: coverage, column: v, min: 95%}
"""


def _events(direct: BigQueryWarehouse, tmp_path: Path) -> Path:
    cols = [Column("game_date", "DATE"), Column("v", "INT64")]
    direct.create_table("err_ds.events", cols)
    direct.load_rows("err_ds.events", [{"game_date": D(2024, 1, 1), "v": 1}], cols)
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "err_events.yaml").write_text(SUITE)
    return tmp_path / "suites"


def _config(tmp_path: Path, s: WarehouseSettings) -> Path:
    cfg = tmp_path / "pipeline.yaml"
    cfg.write_text(f"""pipeline: err-test
warehouse: {{bigquery: {{project: {s.project}, endpoint: '{s.endpoint}', dataset_prefix: {s.dataset_prefix}}}}}
suites: ['{tmp_path / "suites"}']
logs_dir: '{tmp_path / "logs"}'
phases:
  - name: events
    command: ["{{python}}", -m, some.job, --dates-file, "{{dates_file}}"]
    dates: {{start: 2024-01-01, end: 2024-01-31}}
    checkpoint: '{tmp_path / "cp" / "events.json"}'
    post: err_events
  - name: later
    depends_on: [events]
    command: ["{{python}}", -m, other.job]
    dates: {{start: 2024-01-01, end: 2024-01-31}}
    checkpoint: '{tmp_path / "cp" / "later.json"}'
    post: err_events
""")
    return cfg


def test_gate_whose_query_fails_reports_error_never_pass(direct: BigQueryWarehouse, proxy: BQProxy,
                                                         via_proxy: BigQueryWarehouse, tmp_path: Path) -> None:
    suites = load_suites([_events(direct, tmp_path)])
    assert run_suite(via_proxy, suites["err_events"], D(2024, 1, 1), D(2024, 1, 1)).status == Status.PASS
    proxy.fail(select_insert, times=1000, status=500, reason="backendError", message="Backend error.")
    result = run_suite(via_proxy, suites["err_events"], D(2024, 1, 1), D(2024, 1, 1))
    assert result.status != Status.PASS
    assert {r.status for r in result.checks} == {Status.ERROR}
    assert all("backendError (HTTP 500) job backfill_" in r.evidence for r in result.checks)


def test_validate_cli_on_a_failing_endpoint_exits_1_naming_the_error(direct: BigQueryWarehouse, proxy: BQProxy,
                                                                    proxied_settings: WarehouseSettings,
                                                                    fast_retry, tmp_path: Path) -> None:
    _events(direct, tmp_path)
    proxy.fail(select_insert, times=1000, status=503, reason="backendError", message="Service unavailable.")
    r = CliRunner().invoke(cli, ["validate", "--config", str(_config(tmp_path, proxied_settings)), "--suite",
                                 "err_events", "--start-date", "2024-01-01", "--end-date", "2024-01-01"])
    assert r.exit_code == 1, r.output
    assert "ERROR" in r.output and "PASS" not in r.output
    assert "Traceback" not in r.output


def _closed_port() -> int:
    with socket.socket() as s:  # free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(params=["unreachable", "failing"])
def bad_settings(request: pytest.FixtureRequest, proxied_settings: WarehouseSettings,
                 proxy: BQProxy) -> WarehouseSettings:
    if request.param == "unreachable":
        return WarehouseSettings(kind="bigquery", project="test-project",
                                 endpoint=f"http://127.0.0.1:{_closed_port()}", dataset_prefix="nowhere_")
    proxy.fail(any_request, times=10_000, status=503, reason="backendError", message="Service unavailable.")
    return proxied_settings


def test_validate_against_an_unreachable_or_failing_endpoint_is_one_line(bad_settings: WarehouseSettings,
                                                                         fast_retry, tmp_path: Path) -> None:
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "err_events.yaml").write_text(SUITE)
    r = CliRunner().invoke(cli, ["validate", "--config", str(_config(tmp_path, bad_settings)), "--suite",
                                 "err_events", "--start-date", "2024-01-01", "--end-date", "2024-01-01"])
    assert r.exit_code == 1, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.output
    assert re.search(r"cannot reach BigQuery|backendError \(HTTP 503\)", lines[0]), lines[0]


def test_plan_against_an_unreachable_or_failing_endpoint_says_it_once(bad_settings: WarehouseSettings,
                                                                      fast_retry, tmp_path: Path) -> None:
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "err_events.yaml").write_text(SUITE)
    r = CliRunner().invoke(cli, ["plan", str(_config(tmp_path, bad_settings))])
    assert r.exit_code == 0, r.output
    said = [ln for ln in r.output.splitlines() if "warehouse unreachable" in ln]
    assert len(said) == 1, r.output
    assert re.search(r"cannot reach BigQuery|backendError \(HTTP 503\)", said[0]), said[0]
    assert "Traceback" not in r.output
