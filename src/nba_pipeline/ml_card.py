"""Print the figures of the latest trained model (its _metadata.json), for scripts and people.

    python -m nba_pipeline.ml_card [MODELS_DIR] [--run-id RUN]     (default models/, any run)

Exit 0 with a few lines; 1 when the directory holds no model metadata (of that run, with --run-id: a run whose
training never started must not show an older model's figures).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

USERS_TARGET = 4.27  # the users' rules model on real NBA data (docs/training.md)


def card(meta: dict) -> list[str]:
    rows = meta["rows"]
    top = ", ".join(list(meta["feature_importance"])[:5])
    return [
        f"model {meta['model_path']} (run {meta['run_id']}, {meta['trees']} trees, {meta['seconds']}s)",
        f"  rows train/val/test {rows['train']:,}/{rows['val']:,}/{rows['test']:,}; test dates "
        f"{meta['test_dates'][0]}..{meta['test_dates'][1]}",
        f"  MAE train {meta['train_mae']}  val {meta['val_mae']}  test {meta['test_mae']}",
        f"  test rows: rules baseline {meta['baseline_mae']}  moving average {meta['moving_average_mae']}  "
        f"users' target (real NBA data) {USERS_TARGET}",
        f"  improvement vs rules {meta['improvement_pct']}% (users' bar: 3%)  top features: {top}",
    ]


def phase_card(meta: dict) -> dict:
    """The model card for the run report, in the orchestrator's generic card schema (docs/cards.md): MAE per split
    against both baselines and the users' target, feature importance, MAE per test month, predicted vs actual."""
    test = meta["test_dates"]
    months = meta["test_mae_by_month"]
    mae_rows = [["train", meta["rows"]["train"], meta["train_mae"]], ["val", meta["rows"]["val"], meta["val_mae"]],
                ["test", meta["rows"]["test"], meta["test_mae"]],
                ["rules baseline (test rows)", meta["rows"]["test"], meta["baseline_mae"]],
                ["moving average (test rows)", meta["rows"]["test"], meta["moving_average_mae"]],
                ["users' target (real NBA data)", None, USERS_TARGET]]
    return {
        "schema": "backfill.card/1",
        "title": f"Model card: {meta['model_name']} ({meta['target']})",
        "subtitle": f"run {meta['run_id']}, {meta['trees']} trees, window {meta['window'][0]}..{meta['window'][1]}, "
                    f"test dates {test[0]}..{test[1]}",
        "figures": [
            {"label": "test MAE", "value": meta["test_mae"], "target": USERS_TARGET,
             "target_label": "users' target", "lower_is_better": True},
            {"label": "rules baseline MAE", "value": meta["baseline_mae"], "note": "same test rows"},
            {"label": "moving average MAE", "value": meta["moving_average_mae"], "note": "same test rows"},
            {"label": "improvement vs rules, %", "value": meta["improvement_pct"], "target": 3,
             "target_label": "users' bar", "lower_is_better": False},
        ],
        "tables": [{"title": "MAE (points)", "columns": ["split / model", "rows", "MAE"], "rows": mae_rows,
                    "note": "the 4.27 target is the users' rules model on real NBA data (docs/training.md)"}],
        "bars": [{"title": f"Feature importance ({meta['importance_type']}), top 15",
                  "items": [[f, v] for f, v in list(meta["feature_importance"].items())[:15]]}],
        "series": [{"title": "Test MAE per month", "y_label": "points",
                    "points": [[m, v["mae"]] for m, v in months.items()], "target": USERS_TARGET,
                    "target_label": "users' target"}],
        "scatter": [{"title": f"Predicted vs actual points ({len(meta['test_predictions_sample'])} test rows, "
                              "sampled)", "x_label": "actual points", "y_label": "predicted points",
                     "points": meta["test_predictions_sample"], "diagonal": True}],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m nba_pipeline.ml_card", description=__doc__.splitlines()[0])
    p.add_argument("models_dir", nargs="?", default="models")
    p.add_argument("--run-id", help="only a model trained by this run")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    folder = Path(args.models_dir)
    metas = [json.loads(m.read_text()) for m in sorted(folder.glob("*_metadata.json"), key=lambda m: m.stat().st_mtime)]
    metas = [m for m in metas if args.run_id is None or m.get("run_id") == args.run_id]
    if not metas:
        print(f"no model metadata in {folder}" + (f" from run {args.run_id}" if args.run_id else ""), file=sys.stderr)
        return 1
    print("\n".join(card(metas[-1])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
