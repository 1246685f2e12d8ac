"""Fixtures of the BigQuery-as-production tests: the proxy (bqproxy.py) in front of the emulator, a warehouse
through it, and a small month of sample data loaded once per test."""
from __future__ import annotations

from dataclasses import replace
from typing import Iterator

import pytest

from backfill_orchestrator.warehouse import WarehouseSettings
from backfill_orchestrator.warehouse.bigquery import BigQueryWarehouse, make_retry

from bqhelp import FAST_RETRY
from bqproxy import BQProxy


@pytest.fixture
def proxy(bq_endpoint: str) -> Iterator[BQProxy]:
    with BQProxy(bq_endpoint) as p:
        yield p


@pytest.fixture
def fast_retry(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A retry budget of 4 attempts and milliseconds of backoff, for this process and the jobs it starts."""
    for k, v in FAST_RETRY.items():
        monkeypatch.setenv(k, v)
    return FAST_RETRY


@pytest.fixture
def direct(bq_settings: WarehouseSettings) -> Iterator[BigQueryWarehouse]:
    """The test's warehouse straight on the emulator (its datasets dropped at the end)."""
    w = BigQueryWarehouse(project=bq_settings.project, endpoint=bq_settings.endpoint,
                          dataset_prefix=bq_settings.dataset_prefix)
    yield w
    w.drop_datasets()
    w.close()


@pytest.fixture
def proxied_settings(bq_settings: WarehouseSettings, proxy: BQProxy) -> WarehouseSettings:
    """The same datasets as `direct`, through the proxy."""
    return replace(bq_settings, endpoint=proxy.url)


@pytest.fixture
def via_proxy(proxied_settings: WarehouseSettings) -> Iterator[BigQueryWarehouse]:
    s = proxied_settings
    w = BigQueryWarehouse(project=s.project, endpoint=s.endpoint, dataset_prefix=s.dataset_prefix,
                          retry=make_retry(initial=0.01, maximum=0.05, timeout=20, attempts=4))
    yield w
    w.close()
