"""A custom progress format says what it counts (`unit`): the training phase counts boosting rounds, and its
progress line and status say "rounds", not "days"."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from backfill_orchestrator.config import load_config
from backfill_orchestrator.errors import ConfigError
from backfill_orchestrator.progress import format_progress_line
from backfill_orchestrator.progress_formats import parser_for

REPO = Path(__file__).resolve().parents[1]
NOW = dt.datetime(2026, 1, 3, 14, 35, tzinfo=dt.timezone.utc)


def _line(fmt_name: str, formats: dict, lines: list[str]) -> str:
    parser = parser_for(fmt_name, formats)
    for ln in lines:
        parser.feed(ln, NOW)
    return format_progress_line("train", parser.snapshot(NOW), NOW)


def test_the_training_format_of_the_default_pipeline_counts_rounds(monkeypatch) -> None:
    monkeypatch.chdir(REPO)
    cfg = load_config(REPO / "config" / "pipeline.yaml")
    line = _line("xgboost-rounds", cfg.formats, ["[train] ROUND 40/500 val_mae=4.21 best=4.20@38 eta=unknown"])
    assert "40/500 rounds (8.0%)" in line and "days" not in line and "rounds/min" in line, line


def test_without_a_unit_a_custom_format_counts_days() -> None:
    line = _line("mine", {"mine": {"progress": r"^step (?P<done>\d+)/(?P<total>\d+)"}}, ["step 3/10"])
    assert "3/10 days (30.0%)" in line and "d/min" in line, line


def test_a_unit_that_is_not_a_word_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text("""pipeline: p
warehouse: {duckdb: {path: w.duckdb}}
formats:
  mine:
    progress: '^step (?P<done>\\d+)'
    unit: "12 rounds!"
phases:
  - {name: a, command: [x], dates: {start: 2024-01-01, end: 2024-01-02}}
""")
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path / "p.yaml")
    assert "p.yaml:6: formats.mine.unit: expected a plural noun such as 'days' or 'rounds'" in str(e.value)
