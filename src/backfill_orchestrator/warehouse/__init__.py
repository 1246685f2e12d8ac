"""Warehouse layer: one interface (base.Warehouse), DuckDB embedded by default, BigQuery in production."""
from __future__ import annotations

from .base import Column, DryRun, QueryStats, Warehouse, WarehouseSettings, check_identifier, check_table


def open_warehouse(settings: WarehouseSettings) -> Warehouse:
    """Open the warehouse the settings name. Imports the BigQuery client only when it is used."""
    if settings.kind == "duckdb":
        from .duckdb import DuckDBWarehouse

        return DuckDBWarehouse(settings.path, datasets=settings.datasets, dataset_prefix=settings.dataset_prefix)
    if settings.kind == "bigquery":
        from .bigquery import BigQueryWarehouse

        return BigQueryWarehouse(project=settings.project, location=settings.location,
                                 endpoint=settings.endpoint, datasets=settings.datasets,
                                 dataset_prefix=settings.dataset_prefix)
    raise ValueError(f"unknown warehouse kind {settings.kind!r}")


__all__ = ["Column", "DryRun", "QueryStats", "Warehouse", "WarehouseSettings", "check_identifier", "check_table",
           "open_warehouse"]
