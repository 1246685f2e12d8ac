"""The NBA analytics backfill jobs that the default pipeline runs: sample raw data, a per-date job kit, and
three processors (team offense, player game summary, player composite factors).

Uses only `backfill_orchestrator.warehouse`, `.dates` and `.errors`; the orchestrator itself never imports
this package, and this package never imports the orchestrator.
"""
from pathlib import Path

# config/seasons.yaml of the checkout (src layout: src/nba_pipeline -> repo root)
DEFAULT_SEASONS = Path(__file__).resolve().parents[2] / "config" / "seasons.yaml"
