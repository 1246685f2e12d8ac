"""Reproducible raw NBA tables (dataset `nba_raw`) for a local or test warehouse, with optional faults.

    python -m nba_pipeline.sample_data --out data/nba.duckdb [--start 2021-10-19] [--end 2026-01-02]
        [--seed 7] [--drop-team-box D1..D2] [--duplicate-game GAME_ID|DATE] [--null-column TABLE.COLUMN:FRACTION]
        [--warehouse URL] [--seasons config/seasons.yaml] [--describe [--json]]

The tables are replaced as a whole. --describe then measures them back (box-score identities, schedule,
distributions, the effects a points model can learn; see docs/sample-data.md) and prints the figures, as JSON
with --json (stdout then holds only the JSON). DuckDB takes a bulk path (CSV staged next to the database file, then
read_csv); other warehouses get `load_rows`.
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from backfill_orchestrator.dates import load_calendar, parse_date
from backfill_orchestrator.errors import EXIT_OK, BackfillError, UsageError
from backfill_orchestrator.warehouse import Warehouse

from . import DEFAULT_SEASONS
from .sample_describe import describe
from .sample_gen import SeasonData, generate_season, make_rosters
from .tables import PLAYER_BOX, RAW, SCHEDULE, SHOT_ZONES, TEAM_BOX

DEFAULT_START = dt.date(2021, 10, 19)
DEFAULT_END = dt.date(2026, 1, 2)


@dataclass(frozen=True)
class Faults:
    drop_team_box: tuple[dt.date, dt.date] | None = None  # team box scores missing for these dates (inclusive)
    duplicate_game: str | None = None  # a game id, or an ISO date meaning that date's first game
    null_column: tuple[str, str, float] | None = None  # (table, column, fraction of rows set to NULL)


@dataclass
class SampleSummary:
    start: dt.date
    end: dt.date
    seed: int
    games: int
    game_dates: int
    team_rows: int
    player_rows: int
    zone_rows: int
    seconds: float
    faults: dict[str, str] = field(default_factory=dict)  # what was injected, in words


def generate(start: dt.date, end: dt.date, seed: int = 7, seasons_path: str | Path = DEFAULT_SEASONS) -> SeasonData:
    if end < start:
        raise UsageError(f"end date {end} is before start date {start}")
    calendar = load_calendar(seasons_path)
    rosters = make_rosters(calendar, seed)
    out = SeasonData()
    for s in calendar.seasons:
        if s.start <= end and start <= s.playoffs_end:
            part = generate_season(s, rosters[s.name], seed, start, end)
            out.games += part.games
            out.team_rows += part.team_rows
            out.player_rows += part.player_rows
            out.zone_rows += part.zone_rows
    return out


def _schedule_rows(data: SeasonData) -> list[tuple]:
    return [(g.game_id, g.game_date, g.season, g.home, g.away, g.overtime, g.game_type) for g in data.games]


def apply_faults(tables: dict[str, list[tuple]], faults: Faults, seed: int) -> dict[str, str]:
    """Mutate the row lists in place; return a description of what was done."""
    done: dict[str, str] = {}
    if faults.drop_team_box:
        d1, d2 = faults.drop_team_box
        before = len(tables[TEAM_BOX])
        tables[TEAM_BOX] = [r for r in tables[TEAM_BOX] if not d1 <= r[1] <= d2]
        done["drop_team_box"] = f"{d1}..{d2}: {before - len(tables[TEAM_BOX])} team rows dropped"
    if faults.duplicate_game:
        gid = faults.duplicate_game
        if len(gid) == 10 and gid[4] == "-":
            day = parse_date(gid, "--duplicate-game")
            ids = sorted(r[0] for r in tables[SCHEDULE] if r[1] == day)
            if not ids:
                raise UsageError(f"--duplicate-game {gid}: no game on that date in the generated range")
            gid = ids[0]
        if not any(r[0] == gid for r in tables[SCHEDULE]):
            raise UsageError(f"--duplicate-game {gid}: no such game in the generated range")
        for name, rows in tables.items():
            rows.extend([r for r in rows if r[0] == gid])
        done["duplicate_game"] = f"{gid} loaded twice in every raw table"
    if faults.null_column:
        table, column, fraction = faults.null_column
        idx = _null_target(table, column, fraction)
        rng = random.Random(f"{seed}:null")
        rows = tables[table]
        hit = 0
        for i, r in enumerate(rows):
            if rng.random() < fraction:
                rows[i] = r[:idx] + (None,) + r[idx + 1:]
                hit += 1
        done["null_column"] = f"{table}.{column}: {hit} of {len(rows)} rows set to NULL"
    return done


def _null_target(table: str, column: str, fraction: float) -> int:
    if table not in RAW:
        table_names = ", ".join(t.split(".")[1] for t in RAW)
        raise UsageError(f"--null-column: unknown table {table!r} (expected one of {table_names})")
    names = [c.name for c in RAW[table]]
    if column not in names:
        raise UsageError(f"--null-column: table {table} has no column {column!r}")
    if not 0 < fraction <= 1:
        raise UsageError(f"--null-column: fraction must be in (0, 1], got {fraction}")
    return names.index(column)


def write_sample(wh: Warehouse, start: dt.date = DEFAULT_START, end: dt.date = DEFAULT_END, seed: int = 7,
                 faults: Faults = Faults(), seasons_path: str | Path = DEFAULT_SEASONS) -> SampleSummary:
    """Generate and (re)write the four raw tables. Faults are checked before anything is written."""
    t0 = time.perf_counter()
    if faults.null_column:  # check names before generating, so a typo costs nothing
        table = faults.null_column[0]
        table = table if "." in table else f"nba_raw.{table}"
        faults = Faults(faults.drop_team_box, faults.duplicate_game, (table, *faults.null_column[1:]))
        _null_target(*faults.null_column)
    data = generate(start, end, seed, seasons_path)
    tables = {SCHEDULE: _schedule_rows(data), TEAM_BOX: data.team_rows, PLAYER_BOX: data.player_rows,
              SHOT_ZONES: data.zone_rows}
    injected = apply_faults(tables, faults, seed)
    for name, cols in RAW.items():
        wh.create_table(name, cols, replace=True)
    if wh.dialect == "duckdb":
        _bulk_duckdb(wh, tables)
    else:
        for name, rows in tables.items():
            names = [c.name for c in RAW[name]]
            wh.load_rows(name, (dict(zip(names, r)) for r in rows), RAW[name])
    return SampleSummary(start, end, seed, len(data.games), len({g.game_date for g in data.games}),
                         len(tables[TEAM_BOX]), len(tables[PLAYER_BOX]), len(tables[SHOT_ZONES]),
                         round(time.perf_counter() - t0, 2), injected)


def refill(wh: Warehouse, table: str, first: dt.date, last: dt.date, start: dt.date = DEFAULT_START,
           end: dt.date = DEFAULT_END, seed: int = 7, seasons_path: str | Path = DEFAULT_SEASONS) -> int:
    """The raw rows of `table` on first..last as the sample (same start, end and seed) has them, written again
    (deleted, then loaded): what a source refill does after a gap. Returns the rows loaded."""
    data = generate(start, end, seed, seasons_path)
    tables = {SCHEDULE: _schedule_rows(data), TEAM_BOX: data.team_rows, PLAYER_BOX: data.player_rows,
              SHOT_ZONES: data.zone_rows}
    if table not in tables:
        raise UsageError(f"--refill: unknown table {table!r} (one of: {', '.join(tables)})")
    names = [c.name for c in RAW[table]]
    at = names.index("game_date")
    rows = [r for r in tables[table] if first <= r[at] <= last]
    wh.execute([(f"DELETE FROM {table} WHERE game_date BETWEEN @first AND @last", {"first": first, "last": last})])
    return wh.load_rows(table, (dict(zip(names, r)) for r in rows), RAW[table])


def _bulk_duckdb(wh: Warehouse, tables: dict[str, list[tuple]]) -> None:
    # executemany is ~100x slower than DuckDB's CSV reader for 130k rows; stage next to the database file
    # (a scratch directory removed afterwards) and load all four tables in one transaction.
    path = getattr(wh, "path", ":memory:")
    base = Path(path).resolve().parent if path != ":memory:" else None
    stage = Path(tempfile.mkdtemp(prefix=".sample-", dir=base))
    try:
        statements = []
        for name, rows in tables.items():
            f = stage / f"{name.split('.')[1]}.csv"
            with f.open("w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                w.writerow([c.name for c in RAW[name]])
                w.writerows(_csv_row(r) for r in rows)
            statements.append((f"INSERT INTO {name} SELECT * FROM read_csv(@path, header = true, "
                               "all_varchar = true)", {"path": str(f)}))
        wh.execute(statements)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _csv_row(r: tuple) -> tuple:
    # booleans as true/false, NULL as the empty field (DuckDB reads '' as NULL)
    return tuple(("true" if v else "false") if isinstance(v, bool) else v for v in r)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse prints usage + two lines by default)
        raise UsageError(message)


def _date_pair(text: str, option: str = "--drop-team-box") -> tuple[dt.date, dt.date]:
    a, sep, b = text.partition("..")
    d1 = parse_date(a, option)
    d2 = parse_date(b, option) if sep else d1
    if d2 < d1:
        raise UsageError(f"{option} {text}: end before start")
    return d1, d2


def _null_spec(text: str) -> tuple[str, str, float]:
    target, sep, frac = text.rpartition(":")
    table, dot, column = target.rpartition(".")
    if not sep or not dot or not table:
        raise UsageError(f"--null-column {text!r}: expected TABLE.COLUMN:FRACTION, e.g. player_box_scores.minutes:0.1")
    try:
        return table, column, float(frac)
    except ValueError:
        raise UsageError(f"--null-column {text!r}: fraction {frac!r} is not a number") from None


def main(argv: Sequence[str] | None = None) -> int:
    p = _Parser(prog="python -m nba_pipeline.sample_data", description=__doc__.split("\n\n")[0])
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", help="DuckDB file to write (e.g. data/nba.duckdb)")
    where.add_argument("--warehouse", help="warehouse URL, e.g. bigquery://PROJECT?endpoint=...")
    p.add_argument("--start", default=str(DEFAULT_START))
    p.add_argument("--end", default=str(DEFAULT_END))
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--seasons", default=str(DEFAULT_SEASONS), help="season calendar YAML")
    p.add_argument("--drop-team-box", metavar="D1..D2", help="drop team box scores for these dates")
    p.add_argument("--duplicate-game", metavar="GAME_ID|DATE", help="load one game twice")
    p.add_argument("--null-column", metavar="TABLE.COLUMN:FRACTION", help="set a column NULL in a fraction of rows")
    p.add_argument("--refill", metavar="TABLE", help="write only TABLE's rows of --refill-dates again (a source "
                   "refill after a gap; same --start/--end/--seed as the sample)")
    p.add_argument("--refill-dates", metavar="D1..D2", help="with --refill: the dates to write again")
    p.add_argument("--describe", action="store_true",
                   help="after writing, measure identities, distributions and effects back from the tables")
    p.add_argument("--json", action="store_true", help="with --describe: print the figures as JSON only")
    try:
        a = p.parse_args(argv)
        from .whurl import open_url

        faults = Faults(_date_pair(a.drop_team_box) if a.drop_team_box else None, a.duplicate_game,
                        _null_spec(a.null_column) if a.null_column else None)
        start, end = parse_date(a.start, "--start"), parse_date(a.end, "--end")
        if end < start:
            raise UsageError(f"--end {end} is before --start {start}")
        if a.json and not a.describe:
            raise UsageError("--json needs --describe")
        if a.null_column:
            t, c, f = faults.null_column
            _null_target(t if "." in t else f"nba_raw.{t}", c, f)
        calendar = load_calendar(a.seasons)  # its errors first: a bad --seasons must not leave a new, empty database
        if bool(a.refill) != bool(a.refill_dates):
            raise UsageError("--refill and --refill-dates go together")
        if a.refill:
            first, last = _date_pair(a.refill_dates, "--refill-dates")
            wh = open_url(a.out or a.warehouse, option="--out" if a.out else "--warehouse")
            try:
                n = refill(wh, a.refill, first, last, start, end, a.seed, a.seasons)
            finally:
                wh.close()
            print(f"refilled {a.refill}: {n} rows on {first}..{last}")
            return EXIT_OK
        wh = open_url(a.out or a.warehouse, create=True, option="--out" if a.out else "--warehouse")
        try:
            s = write_sample(wh, start, end, a.seed, faults, a.seasons)
            described = describe(wh, calendar) if a.describe else None
        finally:
            wh.close()
    except BackfillError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    if described is not None and a.json:
        print(described.to_json())
        return EXIT_OK
    print(f"sample data: {s.start}..{s.end} seed={s.seed} games={s.games} game_dates={s.game_dates} "
          f"team_rows={s.team_rows} player_rows={s.player_rows} zone_rows={s.zone_rows} seconds={s.seconds}")
    for k, v in s.faults.items():
        print(f"fault {k}: {v}")
    if described is not None:
        print(described.render())
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
