"""A processor whose work for a date range is one set-based BigQuery-SQL SELECT into one table.

Per date the range is just that date: DELETE the date's rows and INSERT ... SELECT them again in ONE
transaction, so re-running any date leaves exactly one copy of its rows. The same SELECT over a whole
range is the "floor" the benchmark compares against (`write_range`).
"""
from __future__ import annotations

import datetime as dt
import sys
from typing import Any, Sequence

from backfill_orchestrator.dates import date_range
from backfill_orchestrator.warehouse import Warehouse

from .jobkit import DateResult, JobContext, Processor
from .tables import KEYS, SCHEDULE, column_names, create_derived

_GAMES_SQL = (f"SELECT game_date, COUNT(*) AS n FROM {SCHEDULE} WHERE game_date BETWEEN @lo AND @hi "
              "GROUP BY game_date")


class SqlDateProcessor(Processor):
    table = ""  # target, e.g. nba_analytics.player_game_summary
    select_sql = ""  # BigQuery SQL producing the target's columns for game_date BETWEEN @start AND @end
    source_table = ""  # the SELECT yields one row per natural key of this table (so records are known upfront)

    def params(self, ctx: JobContext | None, start: dt.date, end: dt.date) -> dict[str, Any]:
        return {"start": start, "end": end}

    def skip_reason(self, ctx: JobContext, d: dt.date) -> str | None:
        return None if d in ctx.state["games"] else "no games"

    def statements(self, params: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        cols = ", ".join(column_names(self.table))
        return [(f"DELETE FROM {self.table} WHERE game_date BETWEEN @start AND @end", params),
                (f"INSERT INTO {self.table} ({cols})\n{self.select_sql}", params)]

    def prepare(self, ctx: JobContext, dates: Sequence[dt.date]) -> None:
        wh = ctx.wh
        assert wh is not None
        if not ctx.dry_run:
            warning = create_derived(wh, self.table)
            if warning:
                print(f"warning: {warning}", file=sys.stderr)
        ctx.state["games"] = set()
        ctx.state["existing"] = {}
        ctx.state["expected"] = {}
        if not dates:
            return
        lo, hi = min(dates), max(dates)
        # look-ups done once for all dates: which have games, how many rows each already has in the target
        # (execute() returns deleted + inserted) and how many it will get (one per source row)
        ctx.state["games"] = {r["game_date"] for r in wh.query(_GAMES_SQL, {"lo": lo, "hi": hi})}
        ctx.state["expected"] = self._counts(wh, self.source_table, lo, hi, KEYS[self.source_table])
        if wh.table_exists(self.table):
            ctx.state["existing"] = self._counts(wh, self.table, lo, hi)

    @staticmethod
    def _counts(wh: Warehouse, table: str, lo: dt.date, hi: dt.date,
                keys: tuple[str, ...] = ()) -> dict[dt.date, int]:
        """Rows per date, or distinct `keys` per date (a raw row loaded twice yields one target row)."""
        src = f"(SELECT DISTINCT game_date, {', '.join(keys)} FROM {table} WHERE game_date BETWEEN @lo AND @hi) AS k" \
            if keys else f"{table} WHERE game_date BETWEEN @lo AND @hi"
        rows = wh.query(f"SELECT game_date, COUNT(*) AS n FROM {src} GROUP BY game_date", {"lo": lo, "hi": hi})
        return {r["game_date"]: int(r["n"]) for r in rows}

    def process(self, ctx: JobContext, d: dt.date) -> DateResult:
        return self.process_batch(ctx, [d])[d]

    def process_batch(self, ctx: JobContext, dates: Sequence[dt.date]) -> dict[dt.date, DateResult]:
        """Consecutive dates in one transaction (a single date by default): the SELECT runs once over
        [first, last] of the dates to write; dates in between are skipped ones (no games), so the range
        holds nothing else. Records per date are known from prepare() and checked against the row count."""
        wh = ctx.wh
        assert wh is not None
        results: dict[dt.date, DateResult] = {}
        write = []
        for d in dates:
            reason = self.skip_reason(ctx, d)
            if reason:
                results[d] = DateResult("skipped", reason=reason)
            else:
                write.append(d)
        if write:
            params = self.params(ctx, write[0], write[-1])
            expected = {d: ctx.state["expected"].get(d, 0) for d in write}
            if ctx.dry_run:  # validate the SQL against the warehouse; write nothing
                ctx.add_estimate(wh.dry_run(self.select_sql, params).bytes_estimate)
            else:
                # per batch: look up the batch's own dates, not every date of the run (O(n^2) over a backfill)
                existing = sum(ctx.state["existing"].get(d, 0) for d in date_range(write[0], write[-1]))
                with ctx.writer(self.table):
                    inserted = wh.execute(self.statements(params)) - existing
                if inserted != sum(expected.values()):  # the source changed since prepare(): count for real
                    expected = {d: 0 for d in write} | self._counts(wh, self.table, write[0], write[-1])
            for d in write:
                results[d] = DateResult("ok", records=expected[d])
        return results

    def write_range(self, wh: Warehouse, start: dt.date, end: dt.date, ctx: JobContext | None = None) -> int:
        """The whole range in one DELETE + one INSERT ... SELECT (one transaction). Returns rows inserted."""
        create_derived(wh, self.table)
        before = wh.query(f"SELECT COUNT(*) AS n FROM {self.table} WHERE game_date BETWEEN @start AND @end",
                          {"start": start, "end": end})[0]["n"]
        return wh.execute(self.statements(self.params(ctx, start, end))) - int(before)
