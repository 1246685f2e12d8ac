"""The training phase end to end on a small window (a real subprocess, real xgboost, DuckDB), its artefacts
recomputed from the warehouse, the split by date, and the readiness / quality gates on DuckDB and BigQuery:
an opponent-defense gap FAILs readiness naming the feature and its dates; the quality suite reads the run's
row of nba_ml.training_runs."""
from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from backfill_orchestrator.config import load_config
from backfill_orchestrator.dates import load_calendar
from backfill_orchestrator.progress_formats import parser_for
from backfill_orchestrator.reporting.cards import read_card, validate_card
from backfill_orchestrator.validation import Status, load_suites, run_suite
from backfill_orchestrator.warehouse import Warehouse
from backfill_orchestrator.warehouse.duckdb import DuckDBWarehouse
from nba_pipeline import ml_data
from nba_pipeline.build import build_all
from nba_pipeline.ml_training import RUNS, Hyper, train
from nba_pipeline.sample_data import write_sample
from nba_pipeline.team_factors import TeamFactors

from nba_jobhelp import ROOT, run_job

D = dt.date
DATA = (D(2024, 10, 22), D(2024, 12, 20))
WINDOW = (D(2024, 11, 5), D(2024, 12, 20))  # season start + 14 days (the bootstrap rule) .. end of the data
GAP = (D(2024, 11, 20), D(2024, 11, 27))
SMALL = ["--n-estimators", "25", "--max-depth", "4", "--early-stopping-rounds", "5", "--progress-every", "5"]


def _build(wh: Warehouse, gap: tuple[dt.date, dt.date] | None = None) -> None:
    write_sample(wh, *DATA)
    build_all(wh, *DATA, mode="range")
    TeamFactors(gap=gap).write_range(wh, *DATA)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("train") / "w.duckdb"
    wh = DuckDBWarehouse(path)
    _build(wh)
    wh.close()
    return path


def _train(warehouse: Path, models: Path, *extra: str):
    return run_job("ml_training", "--start-date", str(WINDOW[0]), "--end-date", str(WINDOW[1]),
                   "--warehouse", str(warehouse), "--models-dir", str(models), *SMALL, *extra)


def test_split_by_date_never_straddles_and_is_chronological() -> None:
    rows = [{"game_date": D(2024, 11, 1) + dt.timedelta(days=i // 7), "i": i} for i in range(100)]
    tr, va, te = ml_data.split_by_date(rows)
    assert len(tr.rows) + len(va.rows) + len(te.rows) == 100
    assert tr.dates[-1] < va.dates[0] and va.dates[-1] < te.dates[0]  # disjoint, in order
    for s in (tr, va, te):
        assert {r["game_date"] for r in s.rows} == set(s.dates)
    # 7 rows a date: a date joins train while the rows before it are < 70, val while < 85 (whole dates only)
    assert (len(tr.rows), len(va.rows), len(te.rows)) == (70, 21, 9)


def test_training_end_to_end_artefacts_match_the_warehouse(warehouse: Path, tmp_path: Path) -> None:
    import numpy as np
    import xgboost

    models = tmp_path / "models"
    run = _train(warehouse, models, "--run-id", "run-a")
    assert run.code == 0, run.stderr
    assert all(ln.startswith("[train] ") for ln in run.lines)
    assert run.lines[0].startswith("[train] START run_id=run-a ") and run.lines[-1].startswith("[train] COMPLETE status=ok")
    # the pipeline's own progress format follows it: rounds done/total, ETA, completion
    cfg = load_config(ROOT / "config" / "pipeline.yaml")
    parser = parser_for(cfg.phase("train_points_model").progress_format, cfg.formats)
    now = dt.datetime.now(dt.timezone.utc)
    for ln in run.lines[:4]:
        parser.feed(ln, now)
    mid = parser.snapshot(now)
    assert mid.total == 25 and 0 < mid.done < 25 and mid.eta is not None
    for ln in run.lines[4:]:
        parser.feed(ln, now)
    end = parser.snapshot(now)
    assert end.completed and end.complete_status == "ok" and end.done == end.total

    meta_files = sorted(models.glob("points_xgb_20241220_metadata.json"))
    assert [p.name for p in models.iterdir() if not p.name.startswith(".")] == \
        sorted(["points_xgb_20241220.json", "points_xgb_20241220_metadata.json"])
    meta = json.loads(meta_files[0].read_text())
    for key in ("train_mae", "val_mae", "test_mae", "baseline_mae", "moving_average_mae", "improvement_pct",
                "features", "feature_importance", "train_dates", "val_dates", "test_dates", "rows",
                "hyperparameters", "trees", "seconds", "run_id", "baselines", "imputed_values"):
        assert key in meta, key
    assert meta["features"] == list(ml_data.FEATURES) and len(meta["features"]) == 21
    assert meta["hyperparameters"]["max_depth"] == 4 and meta["hyperparameters"]["subsample"] == 0.8
    assert meta["train_dates"][1] < meta["val_dates"][0] and meta["val_dates"][1] < meta["test_dates"][0]
    assert meta["imputed_values"] == 0 and "how" in meta["baselines"]["rules"]

    # recompute from the warehouse: the same rows, the same split, the saved booster's MAE, the moving average
    wh = DuckDBWarehouse(warehouse)
    rows = wh.query(ml_data.training_sql(), {"start": WINDOW[0], "end": WINDOW[1], "min_prior": 3})
    runs = wh.query(f"SELECT * FROM {RUNS}")
    wh.close()
    tr, va, te = ml_data.split_by_date(rows)
    assert meta["rows"] == {"train": len(tr.rows), "val": len(va.rows), "test": len(te.rows)}
    assert meta["test_dates"] == [te.dates[0].isoformat(), te.dates[-1].isoformat()]
    booster = xgboost.Booster(model_file=str(models / "points_xgb_20241220.json"))
    assert booster.num_boosted_rounds() == meta["trees"]
    x, y = ml_data.matrix(te.rows)
    pred = booster.predict(xgboost.DMatrix(np.asarray(x, dtype=np.float32), feature_names=list(ml_data.FEATURES),
                                           missing=np.nan))
    assert float(np.mean(np.abs(pred - np.asarray(y)))) == pytest.approx(meta["test_mae"], abs=1e-3)
    ma = sum(abs(r["points_avg_last_10"] - r["points"]) for r in te.rows) / len(te.rows)
    assert meta["moving_average_mae"] == pytest.approx(ma, abs=1e-3)
    assert meta["improvement_pct"] == pytest.approx(
        100 * (meta["baseline_mae"] - meta["test_mae"]) / meta["baseline_mae"], abs=0.02)

    # one warehouse row, the same figures; a re-run of the same run id replaces it
    assert len(runs) == 1 and runs[0]["run_id"] == "run-a"
    assert runs[0]["test_mae"] == pytest.approx(meta["test_mae"]) and runs[0]["rows_test"] == len(te.rows)
    assert runs[0]["top_features"].split(",") == list(meta["feature_importance"])[:10]
    card_file = tmp_path / "run" / "train_points_model.card.json"  # what the orchestrator's {card} names
    again = _train(warehouse, models, "--run-id", "run-a", "--card", str(card_file))
    assert again.code == 0, again.stderr
    meta = json.loads(meta_files[0].read_text())
    # the model card passes the report's own schema check and carries the figures of the metadata
    card, error = read_card(card_file)
    assert error is None and card is not None
    assert card == validate_card(json.loads(card_file.read_text()))
    mae = {r[0]: r[2] for r in card["tables"][0]["rows"]}
    assert (mae["train"], mae["val"], mae["test"]) == (meta["train_mae"], meta["val_mae"], meta["test_mae"])
    assert mae["rules baseline (test rows)"] == meta["baseline_mae"]
    assert mae["moving average (test rows)"] == meta["moving_average_mae"] and 4.27 in mae.values()
    assert card["bars"][0]["items"][0] == [*next(iter(meta["feature_importance"].items()))]
    assert card["series"][0]["points"] == [[m, v["mae"]] for m, v in meta["test_mae_by_month"].items()]
    assert len(card["series"][0]["points"]) >= 1 and card["series"][0]["target"] == 4.27
    assert card["scatter"][0]["points"] == meta["test_predictions_sample"]
    assert 0 < len(card["scatter"][0]["points"]) <= 300
    wh = DuckDBWarehouse(warehouse)
    assert wh.query(f"SELECT COUNT(*) AS n FROM {RUNS} WHERE run_id = 'run-a'")[0]["n"] == 1
    wh.close()
    card = run_job("ml_card", str(models))
    assert card.code == 0 and f"test {meta['test_mae']}" in "\n".join(card.lines)
    assert f"rules baseline {meta['baseline_mae']}" in "\n".join(card.lines)


def test_window_too_short_fails_and_writes_nothing(warehouse: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    run = run_job("ml_training", "--dates", "2024-11-05,2024-11-06", "--warehouse", str(warehouse),
                  "--models-dir", str(models), *SMALL)
    assert run.code == 1
    assert re.match(r'^\[train\] COMPLETE status=failed error=".*split is empty', run.lines[-1]), run.lines
    assert not models.exists() or not any(models.iterdir())


@pytest.mark.parametrize("args, needle", [
    (["--learning-rate", "0"], "--learning-rate"),
    (["--objective", "reg:nope"], "--objective"),
    (["--start-date", "2024-11-05"], "--end-date"),
])
def test_usage_errors_are_one_line_exit_2(warehouse: Path, args: list[str], needle: str) -> None:
    base = [] if "--start-date" in args else ["--dates", "2024-11-05"]
    run = run_job("ml_training", *base, *args, "--warehouse", str(warehouse))
    assert run.code == 2 and run.stderr.count("\n") == 1 and needle in run.stderr, run.stderr
    assert run.lines == []


def _checks(wh: Warehouse, suite: str, window: tuple[dt.date, dt.date] = WINDOW) -> dict:
    suites = load_suites([ROOT / "config" / "suites"])
    res = run_suite(wh, suites[suite], *window, calendar=load_calendar(ROOT / "config" / "seasons.yaml"),
                    strict=True)
    return {c.name: c for c in res.checks} | {"_gate": res.gate_status}


def test_readiness_fails_on_feature_gap_and_quality_reads_the_run(wh: Warehouse, tmp_path: Path) -> None:
    _build(wh, gap=GAP)
    team = _checks(wh, "training_readiness_team")
    gap = team["opponent_def_rating_last_15_coverage"]
    assert team["_gate"] is Status.FAIL and gap.status is Status.FAIL and gap.observed < 95
    assert "2024-11-20..2024-11-27" in gap.evidence, gap.evidence
    assert team["opponent_pace_last_15_coverage"].status is Status.PASS  # only the named feature is missing
    player = _checks(wh, "training_readiness")
    assert {n: c.status for n, c in player.items() if n.endswith("_coverage") and c.status is not Status.PASS} == {}
    assert player["target_present"].status is Status.PASS and player["no_constant_feature"].status is Status.PASS
    rows = wh.query(ml_data.training_sql(), {"start": WINDOW[0], "end": WINDOW[1], "min_prior": 3})
    # the gate's SQL split and the trainer's split agree on the smallest split
    assert player["smallest_split_rows"].observed == min(len(s.rows) for s in ml_data.split_by_date(rows))

    meta = train(wh, *WINDOW, hyper=Hyper(max_depth=3, n_estimators=15, early_stopping_rounds=5),
                 models_dir=tmp_path, name="m", run_id="r1")
    train(wh, *WINDOW, hyper=Hyper(max_depth=3, n_estimators=15, early_stopping_rounds=5),
          models_dir=tmp_path, name="m", run_id="r1")
    assert wh.query(f"SELECT COUNT(*) AS n FROM {RUNS}")[0]["n"] == 1
    q = _checks(wh, "training_quality")
    assert q["test_mae_at_most_max"].observed == pytest.approx(meta["test_mae"])
    assert q["improvement_vs_rules_baseline"].observed == pytest.approx(meta["improvement_pct"])
    assert q["improvement_vs_rules_baseline"].status is (Status.PASS if meta["improvement_pct"] >= 3 else Status.FAIL)
    assert q["val_test_mae_ratio"].observed == pytest.approx(max(meta["val_mae"], meta["test_mae"])
                                                             / min(meta["val_mae"], meta["test_mae"]), rel=1e-4)
    usage_top = any(f.startswith("usage_") for f in list(meta["feature_importance"])[:10])
    assert q["usage_feature_in_top_10"].status is (Status.PASS if usage_top else Status.FAIL)
