"""Issue 13 item 2: the derived tables are DAY-partitioned on game_date and clustered by their natural keys on
BigQuery (read back from the emulator's table metadata), and every statement the four jobs send that reads or
deletes a derived table filters on game_date (recorded by the proxy, parsed with sqlglot). Pruning and bytes
themselves are real only on BigQuery (docs/bigquery.md)."""
from __future__ import annotations

import re
from pathlib import Path

import sqlglot
from sqlglot import exp

from backfill_orchestrator.warehouse import WarehouseSettings
from backfill_orchestrator.warehouse.bigquery import BigQueryWarehouse
from nba_pipeline.sample_data import write_sample
from nba_pipeline.tables import CLUSTERING, DERIVED, PARTITION_COLUMN, TEAM_OFFENSE, create_derived

from bqhelp import D, url_of
from bqproxy import BQProxy
from nba_jobhelp import run_job

JOBS = ("team_offense", "player_game_summary", "team_factors", "player_composite_factors")


def _unfiltered(sql: str, partitioned: set[str]) -> list[str]:
    """References to a partitioned table in a SELECT or DELETE whose WHERE does not name the partition column
    (an INSERT's target needs no filter)."""
    bad = []
    for text in re.sub(r"--[^\n]*", "", sql).split(";\n"):
        text = text.strip()
        if not text or text.upper().startswith(("BEGIN", "COMMIT")):
            continue
        for stmt in sqlglot.parse(text, read="bigquery"):
            for t in stmt.find_all(exp.Table):
                name = f"{t.db}.{t.name}".split("_", 1)[-1] if t.db else t.name  # drop the test's prefix
                if name not in partitioned or isinstance(t.parent, (exp.Insert, exp.Schema)):
                    continue
                scope = t.find_ancestor(exp.Select, exp.Delete)
                where = scope.args.get("where") if scope is not None else None
                if where is None or PARTITION_COLUMN not in {c.name for c in where.find_all(exp.Column)}:
                    bad.append(f"{name} in: {text[:200]}")
    return bad


def test_derived_tables_are_partitioned_clustered_and_filtered(direct: BigQueryWarehouse, proxy: BQProxy,
                                                               proxied_settings: WarehouseSettings,
                                                               tmp_path: Path) -> None:
    write_sample(direct, D(2024, 10, 22), D(2024, 11, 12))
    for job in JOBS:
        run = run_job(job, "--start-date", "2024-11-05", "--end-date", "2024-11-12", "--batch-days", "3",
                      "--warehouse", url_of(proxied_settings), "--checkpoint", str(tmp_path / f"{job}.json"))
        assert run.code == 0, run.stderr + "\n".join(run.lines)
        assert "warning:" not in run.stderr
    for table in DERIVED:
        t = direct.get_table(table)
        assert t.time_partitioning is not None and t.time_partitioning.type_ == "DAY", table
        assert t.time_partitioning.field == PARTITION_COLUMN, table
        assert tuple(t.clustering_fields or ()) == CLUSTERING[table], table
    queries = [r.query for r in proxy.requests if r.query]
    assert len(queries) > 20
    assert [b for q in queries for b in _unfiltered(q, set(DERIVED))] == []


def test_the_filter_check_finds_an_unfiltered_read() -> None:
    partitioned = {TEAM_OFFENSE}
    assert _unfiltered(f"SELECT COUNT(*) AS n FROM t1_{TEAM_OFFENSE}", partitioned)
    assert _unfiltered(f"DELETE FROM t1_{TEAM_OFFENSE} WHERE team_id = 'x'", partitioned)
    assert not _unfiltered(f"DELETE FROM t1_{TEAM_OFFENSE} WHERE game_date BETWEEN @a AND @b", partitioned)


def test_an_unpartitioned_existing_table_is_named_in_a_warning(direct: BigQueryWarehouse) -> None:
    direct.create_table(TEAM_OFFENSE, DERIVED[TEAM_OFFENSE])  # as an earlier version created it
    warning = create_derived(direct, TEAM_OFFENSE)
    assert warning and warning.startswith(f"{TEAM_OFFENSE} exists without DAY partitioning on game_date")
