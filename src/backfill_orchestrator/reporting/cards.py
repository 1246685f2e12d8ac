"""Phase cards: a small JSON document a phase's job may write to `{card}` (= `<run_dir>/<phase>.card.json`) to put
its own figures into the run report (a model's errors, a table of counts, a chart). The orchestrator knows nothing
of what they mean: it validates the generic schema below (docs/cards.md) and the renderers draw it.

    {"schema": "backfill.card/1", "title": "...", "subtitle": "...",
     "figures": [{"label": "test MAE", "value": 4.31, "target": 4.27, "lower_is_better": true, "note": "..."}],
     "tables":  [{"title": "...", "columns": ["split", "MAE"], "rows": [["test", 4.31]]}],
     "bars":    [{"title": "...", "items": [["label", 12.5], ...]}],
     "series":  [{"title": "...", "points": [["2025-11", 4.4], ...], "target": 4.27}],
     "scatter": [{"title": "...", "x_label": "actual", "y_label": "predicted", "points": [[31, 27.4], ...],
                  "diagonal": true}]}

Everything but `schema` and `title` is optional. A card that cannot be read or does not follow the schema is never
an error of the run: the report says in one line why the card is not shown.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

SCHEMA = "backfill.card/1"
CARD_SUFFIX = ".card.json"
MAX_BYTES = 1_000_000
MAX_TEXT = 200  # characters of any label, title or cell
MAX_ITEMS = 60  # figures, bars of a chart, points of a series
MAX_ROWS = 100  # rows of a table
MAX_COLUMNS = 12
MAX_SCATTER = 300  # points of a scatter: the job samples
MAX_BLOCKS = 8  # tables, bar charts, series or scatters of each kind
KEYS = {"schema", "title", "subtitle", "figures", "tables", "bars", "series", "scatter"}


class CardError(ValueError):
    """The card does not follow the schema; the message names where (`figures[2].value: expected a number`)."""


def card_path(run_dir: str | Path, phase: str) -> Path:
    """The `{card}` placeholder of a phase: where its job may write its card, and where the report reads it."""
    return Path(run_dir) / f"{phase}{CARD_SUFFIX}"


def read_card(path: str | Path) -> tuple[dict[str, Any] | None, str | None]:
    """(card, None) when the file holds a valid card; (None, why) when it cannot be used; (None, None) when there
    is no file (a phase without a card)."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_BYTES:
            return None, f"{path.name}: larger than {MAX_BYTES:,} bytes"
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, None
    except (OSError, UnicodeDecodeError) as e:
        return None, f"{path.name}: cannot be read ({e.__class__.__name__})"
    except json.JSONDecodeError as e:
        return None, f"{path.name}: not JSON (line {e.lineno}: {e.msg})"
    try:
        return validate_card(data), None
    except CardError as e:
        return None, f"{path.name}: {e}"


def validate_card(data: Any) -> dict[str, Any]:
    """The card as the renderers use it (every optional list present) or CardError naming the first problem."""
    card = _obj(data, "card", KEYS)
    if card.get("schema") != SCHEMA:
        raise CardError(f"schema: expected {SCHEMA!r}, got {card.get('schema')!r}")
    out: dict[str, Any] = {"schema": SCHEMA, "title": _text(card.get("title"), "title"),
                           "subtitle": _opt_text(card.get("subtitle"), "subtitle")}
    out["figures"] = [_figure(f, f"figures[{i}]") for i, f in enumerate(_list(card, "figures", MAX_ITEMS))]
    out["tables"] = [_table(t, f"tables[{i}]") for i, t in enumerate(_list(card, "tables", MAX_BLOCKS))]
    out["bars"] = [_bars(b, f"bars[{i}]") for i, b in enumerate(_list(card, "bars", MAX_BLOCKS))]
    out["series"] = [_series(s, f"series[{i}]") for i, s in enumerate(_list(card, "series", MAX_BLOCKS))]
    out["scatter"] = [_scatter(s, f"scatter[{i}]") for i, s in enumerate(_list(card, "scatter", MAX_BLOCKS))]
    return out


def figure_verdict(figure: dict[str, Any]) -> str | None:
    """"meets" or "misses" its target (None without one), for every renderer alike."""
    if figure.get("target") is None:
        return None
    value, target = figure["value"], figure["target"]
    return "meets" if (value <= target if figure["lower_is_better"] else value >= target) else "misses"


def _obj(v: Any, where: str, keys: set[str]) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise CardError(f"{where}: expected an object")
    unknown = sorted(set(v) - keys)
    if unknown:
        raise CardError(f"{where}: unknown key {unknown[0]!r}; known: {', '.join(sorted(keys))}")
    return v


def _list(obj: dict[str, Any], key: str, limit: int, where: str | None = None) -> list[Any]:
    v = obj.get(key, [])
    where = where or key
    if not isinstance(v, list):
        raise CardError(f"{where}: expected a list")
    if len(v) > limit:
        raise CardError(f"{where}: {len(v)} entries, at most {limit}")
    return v


def _text(v: Any, where: str) -> str:
    if not isinstance(v, str) or not v.strip():
        raise CardError(f"{where}: expected a non-empty string")
    if len(v) > MAX_TEXT:
        raise CardError(f"{where}: longer than {MAX_TEXT} characters")
    return v


def _opt_text(v: Any, where: str) -> str | None:
    return None if v is None else _text(v, where)


def _num(v: Any, where: str) -> float | int:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise CardError(f"{where}: expected a number")
    return v


def _opt_num(v: Any, where: str) -> float | int | None:
    return None if v is None else _num(v, where)


def _cell(v: Any, where: str) -> Any:
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return _num(v, where)
    return _text(v, where) if v != "" else v


def _figure(v: Any, where: str) -> dict[str, Any]:
    f = _obj(v, where, {"label", "value", "target", "target_label", "lower_is_better", "note"})
    lower = f.get("lower_is_better", True)
    if not isinstance(lower, bool):
        raise CardError(f"{where}.lower_is_better: expected true or false")
    return {"label": _text(f.get("label"), f"{where}.label"), "value": _num(f.get("value"), f"{where}.value"),
            "target": _opt_num(f.get("target"), f"{where}.target"),
            "target_label": _opt_text(f.get("target_label"), f"{where}.target_label"),
            "lower_is_better": lower, "note": _opt_text(f.get("note"), f"{where}.note")}


def _table(v: Any, where: str) -> dict[str, Any]:
    t = _obj(v, where, {"title", "columns", "rows", "note"})
    columns = [_text(c, f"{where}.columns[{i}]")
               for i, c in enumerate(_list(t, "columns", MAX_COLUMNS, f"{where}.columns"))]
    if not columns:
        raise CardError(f"{where}.columns: expected at least one column")
    rows = []
    for i, r in enumerate(_list(t, "rows", MAX_ROWS, f"{where}.rows")):
        if not isinstance(r, list) or len(r) != len(columns):
            raise CardError(f"{where}.rows[{i}]: expected a list of {len(columns)} cells")
        rows.append([_cell(c, f"{where}.rows[{i}][{j}]") for j, c in enumerate(r)])
    return {"title": _text(t.get("title"), f"{where}.title"), "columns": columns, "rows": rows,
            "note": _opt_text(t.get("note"), f"{where}.note")}


def _pairs(obj: dict[str, Any], key: str, where: str, limit: int, x_text: bool) -> list[list[Any]]:
    """[[label or number, number], ...]: bars and series take a text x, a scatter a number."""
    out = []
    for i, p in enumerate(_list(obj, key, limit, where)):
        if not isinstance(p, list) or len(p) != 2:
            raise CardError(f"{where}[{i}]: expected a pair [x, y]")
        x = _text(p[0], f"{where}[{i}][0]") if x_text else _num(p[0], f"{where}[{i}][0]")
        out.append([x, _num(p[1], f"{where}[{i}][1]")])
    return out


def _bars(v: Any, where: str) -> dict[str, Any]:
    b = _obj(v, where, {"title", "items", "note"})
    return {"title": _text(b.get("title"), f"{where}.title"),
            "items": _pairs(b, "items", f"{where}.items", MAX_ITEMS, True),
            "note": _opt_text(b.get("note"), f"{where}.note")}


def _series(v: Any, where: str) -> dict[str, Any]:
    s = _obj(v, where, {"title", "points", "target", "target_label", "y_label", "note"})
    return {"title": _text(s.get("title"), f"{where}.title"),
            "points": _pairs(s, "points", f"{where}.points", MAX_ITEMS, True),
            "target": _opt_num(s.get("target"), f"{where}.target"),
            "target_label": _opt_text(s.get("target_label"), f"{where}.target_label"),
            "y_label": _opt_text(s.get("y_label"), f"{where}.y_label"),
            "note": _opt_text(s.get("note"), f"{where}.note")}


def _scatter(v: Any, where: str) -> dict[str, Any]:
    s = _obj(v, where, {"title", "points", "x_label", "y_label", "diagonal", "note"})
    diagonal = s.get("diagonal", False)
    if not isinstance(diagonal, bool):
        raise CardError(f"{where}.diagonal: expected true or false")
    return {"title": _text(s.get("title"), f"{where}.title"),
            "points": _pairs(s, "points", f"{where}.points", MAX_SCATTER, False),
            "x_label": _opt_text(s.get("x_label"), f"{where}.x_label"),
            "y_label": _opt_text(s.get("y_label"), f"{where}.y_label"), "diagonal": diagonal,
            "note": _opt_text(s.get("note"), f"{where}.note")}
