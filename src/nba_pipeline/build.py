"""Build the three derived NBA tables in-process, in dependency order (for tests and demos).

`build_all(wh, start, end)` runs each processor date by date, exactly as the phase jobs do;
`mode="range"` writes each table with one set-based statement over the range instead (the benchmark's floor).
"""
from __future__ import annotations

import argparse
import datetime as dt
from dataclasses import dataclass

from backfill_orchestrator.dates import date_range
from backfill_orchestrator.errors import WarehouseError
from backfill_orchestrator.warehouse import Warehouse

from . import DEFAULT_SEASONS
from .jobkit import DateResult, JobContext, RunSummary, run_dates
from .player_composite_factors import BOOTSTRAP_DAYS, PlayerCompositeFactors
from .player_game_summary import PlayerGameSummary
from .sqljob import SqlDateProcessor
from .team_offense import TeamOffense


def processors() -> list[SqlDateProcessor]:
    return [TeamOffense(), PlayerGameSummary(), PlayerCompositeFactors()]


@dataclass
class BuildResult:
    phase: str
    records: int
    seconds: float
    summary: RunSummary | None = None  # per-date mode only


def build_all(wh: Warehouse, start: dt.date, end: dt.date, *, workers: int = 1, mode: str = "per_date",
              seasons: str = str(DEFAULT_SEASONS)) -> list[BuildResult]:
    """Run team_offense, player_game_summary and player_composite_factors over [start, end].
    Raises WarehouseError naming the first failed date (a half-built chain is no use to a caller)."""
    import time

    out = []
    for proc in processors():
        t0 = time.perf_counter()
        ctx = JobContext(wh, False, argparse.Namespace(seasons=seasons, bootstrap_days=BOOTSTRAP_DAYS))
        if mode == "range":
            out.append(BuildResult(proc.name, proc.write_range(wh, start, end, ctx), time.perf_counter() - t0))
            continue
        errors: list[str] = []

        def note(d: dt.date, r: DateResult) -> None:
            if r.status == "failed":
                errors.append(f"{d}: {r.error}")

        s = run_dates(proc, ctx, date_range(start, end), workers, note)
        if errors:
            raise WarehouseError(f"{proc.name}: {len(errors)} dates failed, first {errors[0]}")
        out.append(BuildResult(proc.name, s.records, s.seconds, s))
    return out
