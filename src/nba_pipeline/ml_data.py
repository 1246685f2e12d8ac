"""The training data of the points model: the feature list, the ONE query that reads a window, the split by date,
and the two baselines scored on the same rows. No xgboost here (ml_training.py trains), so this part is cheap
to import and to test.

Training rows: player-games of the window where the player PLAYED (minutes > 0), the target (points) is known,
and he has at least MIN_PRIOR_GAMES played games earlier in the season (every window feature is defined from
then on; the users required the last-5/last-10 averages). Features are read as stored: NULL stays missing
(xgboost learns a default direction per split for missing values); nothing is imputed for the model.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

from .tables import COMPOSITE, PLAYER_GAME, TEAM_FACTORS

MIN_PRIOR_GAMES = 3
SPLIT = (0.70, 0.15, 0.15)

# (feature, the table column it is read from); the order is the model's column order
PLAYER_FEATURES = ("points_avg_last_5", "points_avg_last_10", "points_avg_season", "points_std_last_10",
                   "minutes_avg_last_5", "minutes_avg_last_10", "usage_avg_last_5", "usage_avg_last_10",
                   "usage_spike", "paint_rate_last_10", "mid_range_rate_last_10", "three_pt_rate_last_10",
                   "assisted_rate_last_10", "rest_days", "back_to_back", "is_home", "games_prior")
TEAM_FEATURES = ("opponent_def_rating_last_15", "opponent_pace_last_15", "team_pace_last_10",
                 "team_off_rating_last_10")
FEATURES = PLAYER_FEATURES + TEAM_FEATURES
TARGET = "points"


def training_sql() -> str:
    """All rows of the window in one statement (BigQuery SQL; @start, @end, @min_prior)."""
    player = ", ".join(f"c.{f}" for f in PLAYER_FEATURES)
    team = ", ".join(f"t.{f}" for f in TEAM_FEATURES)
    team_max = ", ".join(f"MAX({f}) AS {f}" for f in TEAM_FEATURES)
    return f"""
SELECT c.game_date, c.game_id, c.player_id, g.points AS {TARGET}, {player}, {team}
FROM {COMPOSITE} AS c
JOIN (
  -- one row per player-game even if a game was loaded twice
  SELECT game_id, player_id, MAX(points) AS points, MAX(minutes_played) AS minutes_played
  FROM {PLAYER_GAME} WHERE game_date BETWEEN @start AND @end GROUP BY game_id, player_id
) AS g ON g.game_id = c.game_id AND g.player_id = c.player_id
LEFT JOIN (
  SELECT game_id, team_id, {team_max}
  FROM {TEAM_FACTORS} WHERE game_date BETWEEN @start AND @end GROUP BY game_id, team_id
) AS t ON t.game_id = c.game_id AND t.team_id = c.team_id
WHERE c.game_date BETWEEN @start AND @end AND g.minutes_played > 0 AND g.points IS NOT NULL
  AND c.games_prior >= @min_prior
ORDER BY c.game_date, c.game_id, c.player_id
"""


@dataclass
class Split:
    name: str
    dates: list[dt.date] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def date_range(self) -> list[str]:
        return [self.dates[0].isoformat(), self.dates[-1].isoformat()] if self.dates else []


def split_by_date(rows: Sequence[dict[str, Any]], fractions: tuple[float, float, float] = SPLIT) -> list[Split]:
    """Chronological 70/15/15 of the ROWS, cut only between dates: a date goes to train while the rows before
    it are < 70% of all rows, then to validation while < 85%, then to test. A date never straddles two splits."""
    per_date: dict[dt.date, list[dict[str, Any]]] = {}
    for r in rows:
        per_date.setdefault(r["game_date"], []).append(r)
    total = len(rows)
    cuts = (fractions[0] * total, (fractions[0] + fractions[1]) * total)
    out = [Split("train"), Split("val"), Split("test")]
    before = 0
    for d in sorted(per_date):
        i = 0 if before < cuts[0] else 1 if before < cuts[1] else 2
        out[i].dates.append(d)
        out[i].rows.extend(per_date[d])
        before += len(per_date[d])
    return out


def matrix(rows: Sequence[dict[str, Any]]) -> tuple[list[list[float]], list[float]]:
    """Feature rows (NULL -> NaN, the value xgboost treats as missing; booleans -> 0/1) and the target."""
    def num(v: Any) -> float:
        return math.nan if v is None else float(v)

    return [[num(r[f]) for f in FEATURES] for r in rows], [float(r[TARGET]) for r in rows]


def missing_counts(rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """NULLs per feature in the rows the model sees (passed to xgboost as missing, not imputed)."""
    return {f: n for f in FEATURES if (n := sum(1 for r in rows if r[f] is None))}


def mae(pred: Sequence[float], actual: Sequence[float]) -> float:
    return sum(abs(p - a) for p, a in zip(pred, actual)) / len(actual) if actual else math.nan


# ------------------------------------------------------------------------------------------------ baselines

MOVING_AVERAGE = ("points_avg_last_10: the mean of the player's last 10 played games of the season before the game "
                  "(fewer when he has played fewer)")

RULES = ("0.5 * points_avg_last_5 + 0.3 * points_avg_last_10 + 0.2 * points_avg_season, times "
         "(opponent_def_rating_last_15 / mean opponent defensive rating of the TRAIN rows) [opponent], times "
         "((team_pace_last_10 + opponent_pace_last_15) / 2 / mean of that over the TRAIN rows) [pace], "
         "times 0.97 on a back-to-back and 1.01 with 2+ days of rest [rest], times 1.01 at home and 0.99 away "
         "[home]; a factor whose inputs are NULL is 1 (counted as a fallback). Fixed weights, nothing fitted "
         "but the two league means")


@dataclass
class RulesModel:
    """The hand-written baseline, in the spirit of the users' rules model (docs/training.md)."""

    mean_def: float
    mean_pace: float
    fallbacks: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_train(cls, rows: Sequence[dict[str, Any]]) -> "RulesModel":
        defs = [r["opponent_def_rating_last_15"] for r in rows if r["opponent_def_rating_last_15"] is not None]
        paces = [_game_pace(r) for r in rows if _game_pace(r) is not None]
        return cls(sum(defs) / len(defs) if defs else math.nan, sum(paces) / len(paces) if paces else math.nan)

    def _fallback(self, what: str) -> float:
        self.fallbacks[what] = self.fallbacks.get(what, 0) + 1
        return 1.0

    def predict(self, r: dict[str, Any]) -> float:
        parts = [(0.5, r["points_avg_last_5"]), (0.3, r["points_avg_last_10"]), (0.2, r["points_avg_season"])]
        known = [(w, v) for w, v in parts if v is not None]
        if not known:
            self._fallback("no_points_average")
            return 0.0
        base = sum(w * v for w, v in known) / sum(w for w, _ in known)
        d = r["opponent_def_rating_last_15"]
        opp = d / self.mean_def if d is not None and self.mean_def == self.mean_def else self._fallback("opponent")
        p = _game_pace(r)
        pace = p / self.mean_pace if p is not None and self.mean_pace == self.mean_pace else self._fallback("pace")
        if r["back_to_back"] is None and r["rest_days"] is None:
            rest = self._fallback("rest")
        else:
            rest = 0.97 if r["back_to_back"] else 1.01 if (r["rest_days"] or 0) >= 2 else 1.0
        home = self._fallback("home") if r["is_home"] is None else 1.01 if r["is_home"] else 0.99
        return base * opp * pace * rest * home


def _game_pace(r: dict[str, Any]) -> float | None:
    a, b = r["team_pace_last_10"], r["opponent_pace_last_15"]
    return None if a is None or b is None else (a + b) / 2


def moving_average(r: dict[str, Any]) -> float:
    return float(r["points_avg_last_10"])  # defined on every training row (games_prior >= MIN_PRIOR_GAMES)
