"""A documented fault for the demo's race (`scripts/demo.sh --inject-race`): raw team box scores that land late.

The users' real failure: player_game_summary ran while team data was still arriving, wrote usage_rate NULL for
weeks, and nothing re-ran those weeks. `team_offense --late-raw D1..D2` plays that race deterministically:

- the team job's first run with the flag finds those dates' raw rows still in the loader's staging table
  (it moves them to `nba_raw.team_box_scores_loading`, playing a loader mid-load), so it writes no team rows
  for them; its gate compares with the raw table as it is then, and passes (only the schedule checks warn);
- the next phase job to start (team_defense_factors, player_game_summary) finds the load finished: the rows land
  in `nba_raw.team_box_scores`. player_game_summary then computes usage_rate NULL on those dates and its gate
  fails naming them; a repair re-runs them in the team job first (its gate now fails there too), then in the
  player job;
- `nba_raw.late_raw_fault` records that the fault fired, so a second run of the team job (the repair) reads
  every row: the fault fires once per warehouse.
"""
from __future__ import annotations

import datetime as dt
import sys

from backfill_orchestrator.warehouse import Warehouse

from .tables import RAW, TEAM_BOX

STAGING = "nba_raw.team_box_scores_loading"
MARKER = "nba_raw.late_raw_fault"


def stage(wh: Warehouse, first: dt.date, last: dt.date) -> int:
    """Move TEAM_BOX rows of first..last to the staging table, once; the number of rows moved."""
    if wh.table_exists(MARKER):
        return 0
    wh.create_table(STAGING, RAW[TEAM_BOX], replace=True)
    cols = ", ".join(c.name for c in RAW[TEAM_BOX])
    params = {"first": first, "last": last}
    where = "game_date BETWEEN @first AND @last"
    moved = wh.execute([(f"INSERT INTO {STAGING} ({cols}) SELECT {cols} FROM {TEAM_BOX} WHERE {where}", params),
                        (f"DELETE FROM {TEAM_BOX} WHERE {where}", params)]) // 2
    wh.execute([(f"CREATE TABLE {MARKER} AS SELECT @first AS first_date, @last AS last_date", params)])
    print(f"FAULT INJECTED: raw team box scores of {first}..{last} still loading ({moved} rows in {STAGING})",
          file=sys.stderr)
    return moved


def land(wh: Warehouse) -> int:
    """The load finishes: staged rows move into TEAM_BOX (the staging table goes); the number of rows landed."""
    if not wh.table_exists(STAGING):
        return 0
    cols = ", ".join(c.name for c in RAW[TEAM_BOX])
    landed = wh.execute([(f"INSERT INTO {TEAM_BOX} ({cols}) SELECT {cols} FROM {STAGING}", {})])
    wh.drop_table(STAGING)
    print(f"late raw data landed: {landed} team box score rows", file=sys.stderr)
    return landed
