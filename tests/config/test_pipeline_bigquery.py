"""Issue 13 item 5: config/pipeline.bigquery.yaml is the default pipeline on BigQuery, its places from the
environment, and `backfill config check` accepts it (and says in one line what is missing)."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from backfill_orchestrator.cli import cli
from backfill_orchestrator.config import load_config

ROOT = Path(__file__).resolve().parents[2]
BQ_CONFIG = ROOT / "config" / "pipeline.bigquery.yaml"
ENV = {"BACKFILL_BQ_PROJECT": "analytics-prod-123", "BACKFILL_BQ_LOCATION": "EU",
       "BACKFILL_BQ_ANALYTICS_DATASET": "nba_analytics_v2"}


def test_config_check_accepts_the_bigquery_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the config's calendar and suites are relative to the project root
    r = CliRunner().invoke(cli, ["config", "check", str(BQ_CONFIG)], env=ENV)
    assert r.exit_code == 0, r.output
    assert "pipeline 'nba-backfill-bigquery' on bigquery project analytics-prod-123, 5 phases" in r.output


def test_its_places_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    w = load_config(BQ_CONFIG).warehouse
    assert (w.kind, w.project, w.location) == ("bigquery", "analytics-prod-123", "EU")
    assert w.endpoint == "https://bigquery.googleapis.com"  # real BigQuery unless told otherwise
    assert w.datasets == {"nba_raw": "nba_raw", "nba_analytics": "nba_analytics_v2",
                          "nba_precompute": "nba_precompute", "nba_ml": "nba_ml"}


def test_same_phases_and_gates_as_the_default_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    bq, duck = load_config(BQ_CONFIG), load_config(ROOT / "config" / "pipeline.yaml")

    def shape(cfg):  # what must not drift apart: phases, order, dependencies, dates, gates, repair, history
        return [(p.name, tuple(p.depends_on), [g.suite for g in p.preflight], [g.suite for g in p.post],
                 p.dates.resolve(cfg.calendar()), p.repair_rounds, p.history) for p in cfg.phases]

    assert shape(bq) == shape(duck)
    assert [s.table for s in bq.sources] == [s.table for s in duck.sources]


def test_a_missing_project_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("BACKFILL_BQ_PROJECT", raising=False)
    r = CliRunner().invoke(cli, ["config", "check", str(BQ_CONFIG)])
    assert r.exit_code == 2
    assert r.output.strip().splitlines() == [
        f"error: {BQ_CONFIG}:17: warehouse.bigquery.project: environment variable BACKFILL_BQ_PROJECT is not set "
        "(use ${BACKFILL_BQ_PROJECT:-default} for a default)"]
