"""docs/metrics.md and the column descriptions in tables.py must not fall behind the derived schemas."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from nba_pipeline.player_composite_factors import BOOTSTRAP_DAYS
from nba_pipeline.tables import DERIVED, DESCRIPTIONS, column_names

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def _section(table: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    head = f"## `{table}`"
    assert head in text, f"docs/metrics.md has no section {head}"
    return text.split(head, 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize("table", sorted(DERIVED))
def test_every_derived_column_is_described_and_documented(table: str) -> None:
    assert list(DESCRIPTIONS[table]) == column_names(table)  # same columns, schema order
    assert all(DESCRIPTIONS[table].values())
    rows = [ln for ln in _section(table).splitlines() if ln.startswith("| `")]
    documented = {c for ln in rows for c in re.findall(r"`([a-z0-9_]+)`", ln.split("|")[1])}
    missing = [c for c in column_names(table) if c not in documented]
    assert not missing, f"docs/metrics.md, {table}: no table row for {missing}"


def test_played_games_rule_is_in_every_window_description() -> None:
    windows = [c for c in column_names("nba_precompute.player_composite_factors")
               if "_last_" in c or c in ("games_prior", "rest_days", "back_to_back")]
    assert len(windows) == 14  # + the model features' std and shot-zone rates (docs/training.md)
    for c in windows:
        assert "PLAYED" in DESCRIPTIONS["nba_precompute.player_composite_factors"][c], c


def test_bootstrap_rule_is_stated_with_its_formula() -> None:
    text = " ".join(DOC.read_text(encoding="utf-8").split())
    assert f"The first factor date of a season is its start + {BOOTSTRAP_DAYS} days." in text
    # the sample data's modelled effects and their sizes close the document (docs/sample-data.md has the rest)
    tail = text[text.index("## Sample data: effects and sizes"):]
    assert "[docs/sample-data.md](sample-data.md)" in tail and "Effects a points model can learn" in tail
