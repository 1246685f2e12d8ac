"""Phase cards: a job's own figures in the run report (cards.py). A card file beside the run's state is drawn in
HTML (inline SVG, escaped), Markdown (tables and one-line series) and JSON (as read); a broken card is one line in
the report, never a failed report; `{card}` fills in the path the report reads."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from backfill_orchestrator.config import load_config
from backfill_orchestrator.commands import fill_command
from backfill_orchestrator.reporting.cards import (MAX_SCATTER, SCHEMA, CardError, card_path, read_card,
                                                   validate_card)
from backfill_orchestrator.reporting.report import write_reports
from backfill_orchestrator.reporting.view import build_view

ROOT = Path(__file__).resolve().parents[2]
PHASE = "team_offense_game_summary"  # the fixture's first phase (passed)
EVIL = "<b>pace & space</b>"


def _card() -> dict:
    return {
        "schema": SCHEMA, "title": "Model card: points", "subtitle": f"run r1 {EVIL}",
        "figures": [{"label": "test MAE", "value": 4.61, "target": 4.27, "target_label": "users' target",
                     "lower_is_better": True},
                    {"label": "improvement vs rules, %", "value": 5.2, "target": 3, "lower_is_better": False}],
        "tables": [{"title": "MAE (points)", "columns": ["split / model", "rows", "MAE"],
                    "rows": [["train", 1200, 4.1], ["test", 300, 4.61], ["rules | baseline", 300, 4.9],
                             ["users' target", None, 4.27]]}],
        "bars": [{"title": "Feature importance (gain)", "items": [["points_avg_last_10", 812.5], [EVIL, 40.0]]}],
        "series": [{"title": "Test MAE per month", "points": [["2025-10", 4.8], ["2025-11", 4.5], ["2025-12", 4.6]],
                    "target": 4.27, "target_label": "users' target"}],
        "scatter": [{"title": "Predicted vs actual", "x_label": "actual", "y_label": "predicted",
                     "points": [[float(i % 40), float(i % 40) * 0.9 + 1] for i in range(120)], "diagonal": True}],
    }


def test_a_card_is_drawn_in_every_report(demo_run: Path):
    card_path(demo_run, PHASE).write_text(json.dumps(_card()))
    html_path, md_path, json_path = write_reports(demo_run)
    html = html_path.read_text()
    assert "<b>pace" not in html and "&lt;b&gt;pace &amp; space&lt;/b&gt;" in html
    assert html.count("<svg class='chart card-bars'") == 1 and html.count("<svg class='chart card-line-chart'") == 1
    assert html.count("<svg class='chart card-scatter'") == 1
    assert html.count("class='card-dot'") == 120 and html.count("class='card-bar'") == 2
    assert len(re.findall(r"class='card-point'", html)) == 3 and "class='card-target'" in html
    assert "class='fig misses'" in html and "class='fig meets'" in html  # 4.61 > 4.27 misses; 5.2% >= 3 meets
    assert "<td>rules | baseline</td>" in html and "<td class='num'>1,200</td>" in html
    assert html.count("<svg") == 5 + 3  # the run's own charts and the card's three

    md = md_path.read_text()
    assert "**Model card: points** (`team_offense_game_summary`)" in md
    assert "- test MAE: **4.61** (misses users' target 4.27)" in md
    assert "| split / model | rows | MAE |" in md and "| rules \\| baseline | 300 | 4.9 |" in md
    assert "| users' target | — | 4.27 |" in md
    assert "- Test MAE per month: 2025-10 4.8, 2025-11 4.5, 2025-12 4.6" in md
    assert "- Predicted vs actual: 120 points (chart in report.html)" in md

    data = json.loads(json_path.read_text())
    assert data["phases"][0]["card"] == validate_card(_card()) and data["phases"][0]["card_error"] is None
    assert data["phases"][1]["card"] is None  # no file, no card


@pytest.mark.parametrize("text, why", [
    ("{not json", "not JSON (line 1"),
    (json.dumps({**_card(), "schema": "other/2"}), "schema: expected 'backfill.card/1'"),
    (json.dumps({**_card(), "scatter": [{"title": "t", "points": [[1, 2]] * (MAX_SCATTER + 1)}]}),
     f"scatter[0].points: {MAX_SCATTER + 1} entries, at most {MAX_SCATTER}"),
    (json.dumps({**_card(), "figures": [{"label": "x", "value": "4.2"}]}), "figures[0].value: expected a number"),
])
def test_a_broken_card_is_one_line_in_the_report(demo_run: Path, text: str, why: str):
    card_path(demo_run, PHASE).write_text(text)
    html_path, md_path, json_path = write_reports(demo_run)
    expected = f"{PHASE}: the card could not be read: {PHASE}.card.json: {why}"
    for path in (html_path, md_path):
        hits = [ln for ln in path.read_text().splitlines() if "the card could not be read" in ln]
        assert len(hits) == 1 and expected.replace("'", "&#39;" if path is html_path else "'") in hits[0], hits
    assert "<svg class='chart card-" not in html_path.read_text()
    phase = json.loads(json_path.read_text())["phases"][0]
    assert phase["card"] is None and why in phase["card_error"]


def test_schema_errors_name_the_place():
    with pytest.raises(CardError, match=r"^bars\[0\]\.items\[1\]: expected a pair \[x, y\]$"):
        validate_card({"schema": SCHEMA, "title": "t", "bars": [{"title": "b", "items": [["a", 1], ["b"]]}]})
    with pytest.raises(CardError, match=r"^card: unknown key 'chart'"):
        validate_card({"schema": SCHEMA, "title": "t", "chart": []})
    with pytest.raises(CardError, match=r"^tables\[0\]\.rows\[0\]: expected a list of 2 cells$"):
        validate_card({"schema": SCHEMA, "title": "t", "tables": [{"title": "x", "columns": ["a", "b"],
                                                                  "rows": [[1]]}]})
    with pytest.raises(CardError, match=r"^series\[0\]\.points\[0\]\[1\]: expected a number$"):
        validate_card({"schema": SCHEMA, "title": "t", "series": [{"title": "s", "points": [["m", float("nan")]]}]})
    minimal = validate_card({"schema": SCHEMA, "title": "t"})
    assert minimal["figures"] == minimal["tables"] == minimal["scatter"] == []


def test_no_file_is_no_card(tmp_path: Path):
    assert read_card(tmp_path / "x.card.json") == (None, None)


def test_the_card_placeholder_is_where_the_report_reads(tmp_path: Path):
    config = load_config(ROOT / "config" / "pipeline.yaml")
    phase = config.phase("train_points_model")
    run_dir = tmp_path / "run"
    argv = fill_command(config, phase, run_dir, [], run_dir / "d.dates", run_dir / "c.json")
    assert argv[argv.index("--card") + 1] == str(card_path(run_dir, "train_points_model"))
    assert card_path(run_dir, "train_points_model") == run_dir / "train_points_model.card.json"
