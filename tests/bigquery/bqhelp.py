"""Helpers of the BigQuery-as-production tests (importable from the tests here, unlike conftest)."""
from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from backfill_orchestrator.warehouse import WarehouseSettings

# the job-running helpers of the NBA tests, shared rather than copied
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "nba"))

D = dt.date
FAST_RETRY = {"BACKFILL_BQ_RETRY_INITIAL": "0.01", "BACKFILL_BQ_RETRY_MAXIMUM": "0.05",
              "BACKFILL_BQ_RETRY_ATTEMPTS": "4", "BACKFILL_BQ_RETRY_TIMEOUT": "20"}


def url_of(s: WarehouseSettings) -> str:
    """The --warehouse argument of a job for these settings."""
    return f"bigquery://{s.project}?endpoint={s.endpoint}&prefix={s.dataset_prefix}"
