"""Phase job: train the points model (XGBoost) on a window of dates and record how good it is.

    python -m nba_pipeline.ml_training --start-date 2021-11-02 --end-date 2026-01-02 --warehouse data/nba.duckdb
        [--models-dir models] [--name points_xgb] [--run-id ID] [--card PATH] [--max-depth 8 ...]

One step, not per date: reads the window in ONE query (ml_data.training_sql), splits it chronologically by
date 70/15/15, trains with early stopping on the validation MAE, scores the model and two baselines on the SAME
test rows, then writes models/<name>_<YYYYMMDD>.json (the booster) and <name>_<YYYYMMDD>_metadata.json (each
whole or not at all: temp file + rename), and the same figures as one row of nba_ml.training_runs (DELETE the
run's row + INSERT in one transaction); with --card, the model card for the run report (the orchestrator's
`{card}`, docs/cards.md), written the same way. A killed training leaves nothing half-written; re-running it is the
resume. docs/training.md describes features, split, baselines, gates and artefacts.

stdout (the pipeline's `xgboost-rounds` progress format follows it; everything else goes to stderr):
    [train] START run_id=R dates=2021-11-02..2026-01-02 rows=131234 features=21
    [train] SPLIT train=91800 val=19700 test=19734 train_dates=2021-11-02..2024-10-30 ...
    [train] ROUND 40/500 val_mae=4.9123 best=4.9101@38 elapsed=6.1s eta=70s
    [train] COMPLETE status=ok trees=161 train_mae=4.41 val_mae=4.83 test_mae=4.86 baseline_mae=5.02 ...
Exit 0 trained and recorded; 1 failed (a COMPLETE status=failed line says why); 2 usage error.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from backfill_orchestrator.errors import EXIT_FAILED, EXIT_OK, BackfillError, UsageError
from backfill_orchestrator.warehouse import Column, Warehouse

from . import ml_card, ml_data
from .jobkit import DEFAULT_WAREHOUSE, _Parser, checked_arg, select_dates

PREFIX = "[train] "
RUNS = "nba_ml.training_runs"
DEFAULT_NAME = "points_xgb"

RUNS_COLUMNS = tuple(Column(n, t) for n, t in (
    ("run_id", "STRING"), ("model_name", "STRING"), ("trained_at", "TIMESTAMP"), ("window_start", "DATE"),
    ("window_end", "DATE"), ("train_start", "DATE"), ("train_end", "DATE"), ("val_start", "DATE"),
    ("val_end", "DATE"), ("test_start", "DATE"), ("test_end", "DATE"), ("rows_train", "INT64"),
    ("rows_val", "INT64"), ("rows_test", "INT64"), ("train_mae", "FLOAT64"), ("val_mae", "FLOAT64"),
    ("test_mae", "FLOAT64"), ("baseline_mae", "FLOAT64"), ("moving_average_mae", "FLOAT64"),
    ("improvement_pct", "FLOAT64"), ("trees", "INT64"), ("max_trees", "INT64"), ("seconds", "FLOAT64"),
    ("features", "STRING"), ("top_features", "STRING"), ("feature_importance", "STRING"),
    ("hyperparameters", "STRING"), ("missing_values", "INT64"), ("imputed_values", "INT64"),
    ("model_path", "STRING"), ("metadata_path", "STRING")))


@dataclass(frozen=True)
class Hyper:
    max_depth: int = 8
    learning_rate: float = 0.05
    n_estimators: int = 500
    min_child_weight: float = 3
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    early_stopping_rounds: int = 20
    seed: int = 42
    nthread: int = 2
    objective: str = "reg:squarederror"

    def params(self) -> dict[str, Any]:
        return {"objective": self.objective, "eval_metric": "mae", "tree_method": "hist",
                "max_depth": self.max_depth, "eta": self.learning_rate, "min_child_weight": self.min_child_weight,
                "subsample": self.subsample, "colsample_bytree": self.colsample_bytree, "seed": self.seed,
                "nthread": self.nthread}


def emit(text: str) -> None:
    sys.stdout.write(PREFIX + text + "\n")
    sys.stdout.flush()


def _atomic_write(path: Path, data: bytes) -> None:
    """Whole or nothing: a temp file beside the target, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


class _Progress:
    """An xgboost callback printing a ROUND line every `every` rounds (and the first): rounds done/total,
    the current and best validation MAE, elapsed seconds and the ETA if every remaining round is run."""

    def __init__(self, total: int, every: int) -> None:
        import xgboost

        class Callback(xgboost.callback.TrainingCallback):
            def after_iteration(_cb, model: Any, epoch: int, evals_log: dict) -> bool:  # noqa: N805
                self.after(epoch, evals_log)
                return False

        self.callback = Callback()
        self.total, self.every = total, every
        self.t0 = time.perf_counter()
        self.best = (float("inf"), 0)
        self.last = 0

    def after(self, epoch: int, evals_log: dict) -> None:
        done = epoch + 1
        val = evals_log["val"]["mae"][-1]
        if val < self.best[0]:
            self.best = (val, done)
        if done == 1 or done % self.every == 0:
            self.line(done, self.total, val)

    def line(self, done: int, total: int, val: float, note: str = "") -> None:
        elapsed = time.perf_counter() - self.t0
        eta = f"{elapsed / done * (total - done):.0f}s" if done else "unknown"
        self.last = done
        emit(f"ROUND {done}/{total} val_mae={val:.4f} best={self.best[0]:.4f}@{self.best[1]} "
             f"elapsed={elapsed:.1f}s eta={eta}{note}")


def train(wh: Warehouse, start: dt.date, end: dt.date, *, hyper: Hyper, models_dir: Path, name: str,
          run_id: str, min_prior: int = ml_data.MIN_PRIOR_GAMES, progress_every: int = 10,
          card: Path | None = None) -> dict[str, Any]:
    """Everything but the command line; returns the metadata written. Raises BackfillError on bad input."""
    import numpy as np
    import xgboost

    t0 = time.perf_counter()
    rows = wh.query(ml_data.training_sql(), {"start": start, "end": end, "min_prior": min_prior})
    emit(f"START run_id={run_id} dates={start}..{end} rows={len(rows)} features={len(ml_data.FEATURES)}")
    splits = ml_data.split_by_date(rows)
    empty = [s.name for s in splits if not s.rows]
    if empty:
        raise BackfillError(f"{start}..{end}: {len(rows)} training rows on "
                            f"{len({r['game_date'] for r in rows})} dates; the {'/'.join(empty)} split is empty "
                            "(the window is too short)")
    tr, va, te = splits
    emit("SPLIT " + " ".join(f"{s.name}={len(s.rows)}" for s in splits) + " "
         + " ".join(f"{s.name}_dates={s.date_range[0]}..{s.date_range[1]}" for s in splits))
    data = {}
    for s in splits:
        x, y = ml_data.matrix(s.rows)
        data[s.name] = (np.asarray(x, dtype=np.float32), np.asarray(y, dtype=np.float32))
    dm = {k: xgboost.DMatrix(x, label=y, feature_names=list(ml_data.FEATURES), missing=np.nan)
          for k, (x, y) in data.items()}
    prog = _Progress(hyper.n_estimators, progress_every)
    booster = xgboost.train(hyper.params(), dm["train"], num_boost_round=hyper.n_estimators,
                            evals=[(dm["val"], "val")], early_stopping_rounds=hyper.early_stopping_rounds,
                            callbacks=[prog.callback], verbose_eval=False)
    trees = booster.best_iteration + 1
    model = booster[:trees]  # keep only the rounds up to the best one: the saved file predicts what was scored
    rounds_run = booster.num_boosted_rounds()
    note = f" early_stop={rounds_run}" if rounds_run < hyper.n_estimators else ""
    prog.line(trees, trees, prog.best[0], note)

    def mae(split: str) -> float:
        return float(np.mean(np.abs(model.predict(dm[split]) - data[split][1])))

    pred_test = model.predict(dm["test"])
    rules = ml_data.RulesModel.from_train(tr.rows)
    baseline = ml_data.mae([rules.predict(r) for r in te.rows], data["test"][1].tolist())
    moving = ml_data.mae([ml_data.moving_average(r) for r in te.rows], data["test"][1].tolist())
    test_mae = float(np.mean(np.abs(pred_test - data["test"][1])))
    gain = model.get_score(importance_type="gain")
    importance = {f: round(gain.get(f, 0.0), 4) for f in ml_data.FEATURES}
    ranked = sorted(importance, key=lambda f: -importance[f])
    missing = {k: ml_data.missing_counts(s.rows) for k, s in zip(("train", "val", "test"), splits)}
    stamp = end.strftime("%Y%m%d")
    model_path = models_dir / f"{name}_{stamp}.json"
    meta_path = models_dir / f"{name}_{stamp}_metadata.json"
    meta = {
        "run_id": run_id, "model_name": name,
        "trained_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "window": [start.isoformat(), end.isoformat()],
        "train_mae": round(mae("train"), 4), "val_mae": round(mae("val"), 4), "test_mae": round(test_mae, 4),
        "baseline_mae": round(baseline, 4), "moving_average_mae": round(moving, 4),
        "improvement_pct": round(100 * (baseline - test_mae) / baseline, 2),
        "improvement_vs_moving_average_pct": round(100 * (moving - test_mae) / moving, 2),
        "features": list(ml_data.FEATURES), "target": ml_data.TARGET,
        "feature_importance": {f: importance[f] for f in ranked}, "importance_type": "gain",
        "train_dates": tr.date_range, "val_dates": va.date_range, "test_dates": te.date_range,
        "rows": {"train": len(tr.rows), "val": len(va.rows), "test": len(te.rows)},
        "split": "chronological by date, 70/15/15 of the rows, cut only between dates",
        "row_filter": f"played (minutes > 0), points not NULL, games_prior >= {min_prior}",
        "hyperparameters": {**hyper.__dict__, "eval_metric": "mae"},
        "trees": trees, "rounds_run": rounds_run,
        "missing_values": missing, "imputed_values": 0,
        "missing_handling": "NULL features are passed to xgboost as missing (NaN): nothing is imputed",
        "baselines": {"rules": {"mae": round(baseline, 4), "how": ml_data.RULES,
                                "fallbacks": dict(rules.fallbacks)},
                      "moving_average": {"mae": round(moving, 4), "how": ml_data.MOVING_AVERAGE}},
        "test_mae_by_month": _by_month(te.rows, pred_test),
        "test_predictions_sample": _sample(te.rows, pred_test),
        "model_path": str(model_path), "metadata_path": str(meta_path),
        "xgboost_version": xgboost.__version__,
    }
    meta["seconds"] = round(time.perf_counter() - t0, 2)
    _atomic_write(model_path, bytes(model.save_raw("json")))
    _atomic_write(meta_path, (json.dumps(meta, indent=2) + "\n").encode())
    if card is not None:
        _atomic_write(card, (json.dumps(ml_card.phase_card(meta), indent=1) + "\n").encode())
    record_run(wh, meta, splits)
    return meta


def _by_month(rows: Sequence[dict[str, Any]], pred: Any) -> dict[str, dict[str, float]]:
    acc: dict[str, list[float]] = {}
    for r, p in zip(rows, pred):
        acc.setdefault(r["game_date"].strftime("%Y-%m"), []).append(abs(float(p) - r[ml_data.TARGET]))
    return {m: {"mae": round(sum(v) / len(v), 4), "rows": len(v)} for m, v in sorted(acc.items())}


def _sample(rows: Sequence[dict[str, Any]], pred: Any, n: int = 300) -> list[list[float]]:
    """[actual, predicted] of every k-th test row (deterministic), for a predicted-vs-actual chart."""
    step = max(1, len(rows) // n)
    return [[float(rows[i][ml_data.TARGET]), round(float(pred[i]), 2)] for i in range(0, len(rows), step)][:n]


def record_run(wh: Warehouse, meta: dict[str, Any], splits: Sequence[ml_data.Split]) -> None:
    """The metadata as ONE row of nba_ml.training_runs (a re-run of the same run id replaces it)."""
    wh.create_table(RUNS, RUNS_COLUMNS)
    d = dt.date.fromisoformat
    row: dict[str, Any] = {
        "run_id": meta["run_id"], "model_name": meta["model_name"],
        "trained_at": dt.datetime.fromisoformat(meta["trained_at"]),
        "window_start": d(meta["window"][0]), "window_end": d(meta["window"][1]),
        **{f"{s.name}_start": s.dates[0] for s in splits}, **{f"{s.name}_end": s.dates[-1] for s in splits},
        **{f"rows_{s.name}": len(s.rows) for s in splits},
        **{k: float(meta[k]) for k in ("train_mae", "val_mae", "test_mae", "baseline_mae", "moving_average_mae",
                                       "improvement_pct", "seconds")},
        "trees": meta["trees"], "max_trees": meta["hyperparameters"]["n_estimators"],
        "features": ",".join(meta["features"]),
        "top_features": ",".join(list(meta["feature_importance"])[:10]),
        "feature_importance": json.dumps(meta["feature_importance"]),
        "hyperparameters": json.dumps(meta["hyperparameters"], sort_keys=True),
        "missing_values": sum(sum(v.values()) for v in meta["missing_values"].values()),
        "imputed_values": meta["imputed_values"],
        "model_path": meta["model_path"], "metadata_path": meta["metadata_path"],
    }
    cols = [c.name for c in RUNS_COLUMNS]
    wh.execute([(f"DELETE FROM {RUNS} WHERE run_id = @run_id", {"run_id": row["run_id"]}),
                (f"INSERT INTO {RUNS} ({', '.join(cols)}) VALUES ({', '.join('@' + c for c in cols)})", row)])


# ---------------------------------------------------------------------------------------------- command line

_positive_int = checked_arg(int, lambda n: n >= 1, "a positive integer")
_fraction = checked_arg(float, lambda x: 0 < x <= 1, "a number in (0, 1]")
_non_negative = checked_arg(float, lambda x: x >= 0, "a number >= 0")


def build_parser() -> argparse.ArgumentParser:
    h = Hyper()
    p = _Parser(prog="python -m nba_pipeline.ml_training",
                description="Train the points model on a window of dates (see docs/training.md).")
    p.add_argument("--start-date", help="first date of the training window (with --end-date), inclusive")
    p.add_argument("--end-date", help="last date, inclusive")
    p.add_argument("--dates-file", help="file of ISO dates; the window is its first..last date")
    p.add_argument("--dates", help="comma-separated dates; the window is their first..last date")
    p.add_argument("--warehouse", default=DEFAULT_WAREHOUSE, help="DuckDB file path or bigquery:// URL")
    p.add_argument("--models-dir", default="models", help="where the model and its metadata go (default models)")
    p.add_argument("--name", default=DEFAULT_NAME, help=f"model name, file prefix (default {DEFAULT_NAME})")
    p.add_argument("--run-id", default=os.environ.get("BACKFILL_RUN_ID") or None,
                   help="run id recorded with the model (default $BACKFILL_RUN_ID, else a UTC timestamp)")
    p.add_argument("--card", help="also write the model card for the run report here (the orchestrator's {card})")
    p.add_argument("--min-prior-games", type=int, default=ml_data.MIN_PRIOR_GAMES,
                   help=f"rows need this many played games earlier in the season (default {ml_data.MIN_PRIOR_GAMES})")
    p.add_argument("--max-depth", type=_positive_int, default=h.max_depth)
    p.add_argument("--learning-rate", type=_fraction, default=h.learning_rate)
    p.add_argument("--n-estimators", type=_positive_int, default=h.n_estimators, help="maximum trees (rounds)")
    p.add_argument("--min-child-weight", type=_non_negative, default=h.min_child_weight)
    p.add_argument("--subsample", type=_fraction, default=h.subsample)
    p.add_argument("--colsample-bytree", type=_fraction, default=h.colsample_bytree)
    p.add_argument("--early-stopping-rounds", type=_positive_int, default=h.early_stopping_rounds,
                   help="stop when the validation MAE has not improved for this many rounds")
    p.add_argument("--seed", type=int, default=h.seed)
    p.add_argument("--nthread", type=_positive_int, default=h.nthread)
    p.add_argument("--objective", default=h.objective,
                   choices=("reg:squarederror", "reg:absoluteerror", "reg:pseudohubererror"),
                   help=f"training loss (default {h.objective}, the users'; the early-stopping metric is MAE)")
    p.add_argument("--progress-every", type=_positive_int, default=10, help="a ROUND line every N rounds")
    # accepted so the orchestrator can pass its usual arguments; one step has no per-date checkpoint
    p.add_argument("--checkpoint", help=argparse.SUPPRESS)
    p.add_argument("--workers", help=argparse.SUPPRESS)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        args.retry_failed = False
        dates = select_dates(args)
        assert dates is not None
        if args.min_prior_games < 1:
            raise UsageError("--min-prior-games: expected at least 1")
        hyper = Hyper(args.max_depth, args.learning_rate, args.n_estimators, args.min_child_weight, args.subsample,
                      args.colsample_bytree, args.early_stopping_rounds, args.seed, args.nthread, args.objective)
        run_id = args.run_id or dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        from .whurl import open_url

        wh = open_url(args.warehouse)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except BackfillError as e:
        print(f"error: {e}", file=sys.stderr)
        emit(f'COMPLETE status=failed error="{str(e).splitlines()[0]}"')
        return EXIT_FAILED
    try:
        meta = train(wh, dates[0], dates[-1], hyper=hyper, models_dir=Path(args.models_dir), name=args.name,
                     run_id=run_id, min_prior=args.min_prior_games, progress_every=args.progress_every,
                     card=Path(args.card) if args.card else None)
    except Exception as e:  # noqa: BLE001 - one line for the orchestrator's log, the exit code says failed
        msg = (str(e).splitlines() or [""])[0].replace('"', "'")
        print(f"error: {type(e).__name__}: {msg}", file=sys.stderr)
        emit(f'COMPLETE status=failed error="{type(e).__name__}: {msg}"')
        return EXIT_FAILED
    finally:
        wh.close()
    emit(f"COMPLETE status=ok trees={meta['trees']} train_mae={meta['train_mae']} val_mae={meta['val_mae']} "
         f"test_mae={meta['test_mae']} baseline_mae={meta['baseline_mae']} "
         f"moving_average_mae={meta['moving_average_mae']} improvement_pct={meta['improvement_pct']} "
         f"seconds={meta['seconds']} model={meta['model_path']}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
