"""Print the figures of the latest trained model (its _metadata.json), for scripts and people.

    python -m nba_pipeline.ml_card [MODELS_DIR]      (default models/)

Exit 0 with a few lines; 1 when the directory holds no model metadata.
"""
from __future__ import annotations

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
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0] if args else "models")
    metas = sorted(folder.glob("*_metadata.json"), key=lambda p: p.stat().st_mtime)
    if not metas:
        print(f"error: no *_metadata.json in {folder}", file=sys.stderr)
        return 1
    print("\n".join(card(json.loads(metas[-1].read_text()))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
