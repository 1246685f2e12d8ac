"""Issue 13 item 4: `backfill plan` prices each phase's job and each gate from BigQuery's dry runs (the proxy
answers them with realistic totalBytesProcessed; the emulator itself reports 0, which the plan says rather than
calling it free), and every job carries labels that attribute it to its pipeline, run, phase and dates."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from backfill_orchestrator.cli import cli
from backfill_orchestrator.plan_cost import format_bytes, format_price
from backfill_orchestrator.warehouse import WarehouseSettings
from backfill_orchestrator.warehouse.bigquery import BigQueryWarehouse
from nba_pipeline.sample_data import write_sample

from bqhelp import D, url_of
from bqproxy import BQProxy
from nba_jobhelp import run_job

ROOT = Path(__file__).resolve().parents[2]
TIB = 2**40


def _config(tmp_path: Path, s: WarehouseSettings) -> Path:
    cfg = tmp_path / "pipeline.yaml"
    cfg.write_text(f"""pipeline: cost-test
warehouse: {{bigquery: {{project: {s.project}, endpoint: '{s.endpoint}', dataset_prefix: {s.dataset_prefix}}}}}
calendar: '{ROOT / "config" / "seasons.yaml"}'
suites: ['{ROOT / "config" / "suites"}']
logs_dir: '{tmp_path / "logs"}'
phases:
  - name: team_offense_game_summary
    progress_format: jobkit
    command: ["{{python}}", -m, nba_pipeline.team_offense, --dates-file, "{{dates_file}}", --batch-days, "5",
              --checkpoint, "{{checkpoint}}", --warehouse, "{{warehouse}}"]
    dates: {{start: 2024-11-01, end: 2024-11-10}}
    checkpoint: '{tmp_path / "cp" / "team_offense.json"}'
    post: team_offense_game_summary
  - name: legacy
    command: ["{{python}}", -m, some.legacy.job]
    dates: {{start: 2024-11-01, end: 2024-11-10}}
    checkpoint: '{tmp_path / "cp" / "legacy.json"}'
""")
    return cfg


@pytest.fixture
def built(direct: BigQueryWarehouse, proxied_settings: WarehouseSettings, tmp_path: Path) -> Path:
    """Raw data and the derived table for 10 days (so the gate's queries have a table to dry-run)."""
    write_sample(direct, D(2024, 11, 1), D(2024, 11, 10))
    run = run_job("team_offense", "--start-date", "2024-11-01", "--end-date", "2024-11-10",
                  "--warehouse", url_of(proxied_settings), "--checkpoint", str(tmp_path / "built.json"))
    assert run.code == 0, run.stderr
    return _config(tmp_path, proxied_settings)


def test_plan_prices_jobs_and_gates_from_dry_runs(built: Path, proxy: BQProxy) -> None:
    proxy.dry_run_bytes = lambda query: 2 * TIB  # every dry-run query "scans" 2 TiB
    r = CliRunner().invoke(cli, ["plan", str(built)])
    assert r.exit_code == 0, r.output
    text = r.output
    dry_runs = sum(1 for q in proxy.requests if q.is_insert and q.dry_run)
    # the job: 10 dates in batches of 5 = 2 SELECT dry runs; the gate: its suite's statements (its per-date parts
    # are one statement)
    assert "      cost (BigQuery dry runs; on demand at $6.25/TiB):\n          job: 4.00 TiB ≈ $25.00\n" in text
    gate = dry_runs - 2
    assert gate >= 1
    assert f"          post gate team_offense_game_summary: {2 * gate:.2f} TiB ≈ ${12.5 * gate:,.2f}\n" in text
    assert "job: unknown (only a phase with `progress_format: jobkit` is asked for a dry run)" in text
    assert f"total cost: {2 * dry_runs:.2f} TiB ≈ ${12.5 * dry_runs:,.2f} (and 1 estimates unknown)" in text

    again = CliRunner().invoke(cli, ["plan", str(built), "--price-per-tib", "5", "--json"])
    assert again.exit_code == 0, again.output
    plan = json.loads(again.output)
    assert plan["price_per_tib"] == 5.0
    assert plan["phases"][0]["cost"]["estimates"][0] == {"what": "job", "bytes": 4 * TIB, "note": ""}


def test_the_emulators_zero_is_unknown_not_free(built: Path, proxy: BQProxy) -> None:
    r = CliRunner().invoke(cli, ["plan", str(built)])
    assert r.exit_code == 0, r.output
    assert "          job: unknown (emulator reports 0)\n" in r.output
    assert "          post gate team_offense_game_summary: unknown (emulator reports 0)\n" in r.output
    assert "total cost: 0 B ≈ $0.00 (and 3 estimates unknown)" in r.output


def test_a_gate_on_a_table_not_built_yet_is_unknown_naming_it(direct: BigQueryWarehouse, proxy: BQProxy,
                                                              proxied_settings: WarehouseSettings,
                                                              tmp_path: Path) -> None:
    write_sample(direct, D(2024, 11, 1), D(2024, 11, 10))
    proxy.dry_run_bytes = lambda query: 3 * 2**30
    r = CliRunner().invoke(cli, ["plan", str(_config(tmp_path, proxied_settings))])
    assert r.exit_code == 0, r.output
    assert "          job: 6.00 GiB ≈ $0.04\n" in r.output
    assert ("          post gate team_offense_game_summary: unknown (nba_analytics.team_offense_game_summary "
            "does not exist yet)\n") in r.output


def test_price_formatting() -> None:
    assert format_bytes(0) == "0 B" and format_bytes(1536) == "1.50 KiB" and format_bytes(3 * 2**30) == "3.00 GiB"
    assert format_price(TIB, 6.25) == "$6.25" and format_price(10 * 2**20, 6.25) == "<$0.01"
    assert format_price(0, 6.25) == "$0.00"


def test_every_job_carries_its_labels(direct: BigQueryWarehouse, proxy: BQProxy,
                                      proxied_settings: WarehouseSettings, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    write_sample(direct, D(2024, 11, 1), D(2024, 11, 4))
    for k, v in {"BACKFILL_PIPELINE": "nba-backfill", "BACKFILL_RUN_ID": "20261130T014705Z-a060",
                 "BACKFILL_PHASE": "team_offense_game_summary"}.items():
        monkeypatch.setenv(k, v)
    run = run_job("team_offense", "--start-date", "2024-11-01", "--end-date", "2024-11-04", "--workers", "2",
                  "--warehouse", url_of(proxied_settings), "--checkpoint", str(tmp_path / "cp.json"))
    assert run.code == 0, run.stderr
    jobs = [q for q in proxy.requests if q.is_insert]
    assert len(jobs) >= 4
    want = {"pipeline": "nba-backfill", "run_id": "20261130t014705z-a060", "phase": "team_offense_game_summary",
            "job": "team_offense_game_summary", "first_date": "2024-11-01", "last_date": "2024-11-04"}
    for q in jobs:
        assert q.json["configuration"].get("labels") == want, q.query[:80]
