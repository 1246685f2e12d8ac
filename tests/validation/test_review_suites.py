"""Review findings on the default NBA suites (config/suites), on DuckDB and BigQuery."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from backfill_orchestrator.dates import load_calendar
from backfill_orchestrator.validation import Status, load_suites, run_suite
from nba_pipeline.build import build_all
from nba_pipeline.sample_data import Faults, write_sample

ROOT = Path(__file__).resolve().parents[2]
DATA = (dt.date(2024, 10, 22), dt.date(2024, 11, 20))
CHECKED = (dt.date(2024, 11, 10), dt.date(2024, 11, 20))


def test_game_loaded_twice_is_not_reported_as_look_ahead(wh):
    # a game loaded twice upstream counts once in the factors; the recomputation must count it once too
    write_sample(wh, *DATA, seed=7, faults=Faults(duplicate_game="2024-11-08"))
    build_all(wh, *DATA)
    suite = load_suites([ROOT / "config" / "suites"])["player_composite_factors"]
    result = run_suite(wh, suite, *CHECKED, calendar=load_calendar(ROOT / "config" / "seasons.yaml"), full=True)
    check = {c.name: c for c in result.checks}["no_look_ahead"]
    assert check.status is Status.PASS, (check.evidence, check.examples)
    assert "sample" not in check.evidence  # --full ran it on every date: the evidence must not say "sample 20%"
