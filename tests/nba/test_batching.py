"""Batching never changes a table: every SQL job writes the same rows, bit for bit (processed_at aside), one
date per transaction, a fixed 31 days, or `--batch-days auto`; and the auto sizer's rule."""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from backfill_orchestrator.dates import date_range
from backfill_orchestrator.warehouse.duckdb import DuckDBWarehouse
from nba_pipeline.jobkit import AUTO, BatchSizer, DateResult, JobContext, build_parser, run_dates
from nba_pipeline.player_composite_factors import PlayerCompositeFactors
from nba_pipeline.player_game_summary import PlayerGameSummary
from nba_pipeline.sample_data import write_sample
from nba_pipeline.team_factors import TeamFactors
from nba_pipeline.team_offense import TeamOffense

# playoffs end, the off-season, a season start with its bootstrap days, then three months: a player's season
# frame grows past the 16 rows where a window's sums start to be taken from pre-added blocks
START, END = dt.date(2024, 5, 20), dt.date(2025, 1, 31)


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("batching") / "raw.duckdb"
    wh = DuckDBWarehouse(path)
    write_sample(wh, START, END)
    wh.close()
    return path


def _build(raw: Path, path: Path, batch_days: int | str) -> dict[str, list[tuple]]:
    shutil.copy(raw, path)
    wh = DuckDBWarehouse(path)
    tables = {}
    try:
        for proc in (TeamOffense(), TeamFactors(), PlayerGameSummary(), PlayerCompositeFactors()):
            args = build_parser(proc).parse_args(["--dates", str(START)])
            summary = run_dates(proc, JobContext(wh, False, args), date_range(START, END), 2,
                                batch_days=batch_days)
            assert summary.status == "ok" and summary.ok > 0
            tables[proc.table] = wh._con.execute(  # noqa: SLF001 - a test reads the file as it is
                f"SELECT * EXCLUDE (processed_at) FROM {proc.table} ORDER BY ALL").fetchall()
    finally:
        wh.close()
    return tables


def test_every_batching_writes_identical_tables(raw, tmp_path) -> None:
    one = _build(raw, tmp_path / "one.duckdb", 1)
    assert len(one["nba_precompute.player_composite_factors"]) > 10_000
    for batch in (31, AUTO):
        got = _build(raw, tmp_path / f"b{batch}.duckdb", batch)
        for table, rows in one.items():
            assert got[table] == rows, f"{table} differs with --batch-days {batch}"


def _results(n: int, seconds: float) -> list[tuple[dt.date, DateResult]]:
    return [(START + dt.timedelta(days=i), DateResult("ok", seconds=seconds)) for i in range(n)]


def test_auto_sizer_fits_the_target_from_the_last_batch() -> None:
    s = BatchSizer(target=5.0, first=7, most=366)
    assert s.size() == 7  # nothing measured yet
    s.observe(_results(7, 0.5))  # 0.5 s a date: 10 dates take 5 s
    assert s.size() == 10
    s.observe(_results(10, 0.01))  # the last batch is what counts (history jobs get dearer along a season)
    assert s.size() == 366
    s.observe(_results(3, 60.0))  # a date slower than the target: one date per transaction, never zero
    assert s.size() == 1


def test_auto_batches_stop_at_the_batch_key(raw, tmp_path) -> None:
    """A composite batch never spans two seasons or the bootstrap edge, however large auto makes it."""
    shutil.copy(raw, tmp_path / "w.duckdb")
    wh = DuckDBWarehouse(tmp_path / "w.duckdb")
    try:
        for proc in (TeamOffense(), PlayerGameSummary()):
            run_dates(proc, JobContext(wh, False, build_parser(proc).parse_args(["--dates", str(START)])),
                      date_range(START, END), batch_days=AUTO)
        proc = PlayerCompositeFactors()
        batches: list[list[dt.date]] = []
        real = proc.process_batch
        proc.process_batch = lambda ctx, ds: batches.append(list(ds)) or real(ctx, ds)  # type: ignore[method-assign]
        ctx = JobContext(wh, False, build_parser(proc).parse_args(["--dates", str(START)]))
        run_dates(proc, ctx, date_range(START, END), batch_days=AUTO)
    finally:
        wh.close()
    assert batches and max(len(b) for b in batches) > 31
    for b in batches:
        assert len({proc.batch_key(ctx, d) for d in b}) == 1
