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
