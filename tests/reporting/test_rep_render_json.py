"""render.dumps is a faster path to exactly what `json.dumps(to_jsonable(x), indent=2, ensure_ascii=False)` writes
(report.json, every --json): the same bytes for any value the results hold, and the same TypeError for a value
JSON cannot hold."""
from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import math
from collections import OrderedDict
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backfill_orchestrator.render import dumps, to_jsonable
from backfill_orchestrator.reporting.report import render_json
from backfill_orchestrator.reporting.view import build_view
from backfill_orchestrator.runmodel import PhaseStatus


class Color(enum.Enum):
    RED = "red"
    ONE = 1


class Big(int):
    pass


@dataclasses.dataclass
class Point:
    day: dt.date
    value: float | None
    _private: int = 0


@dataclasses.dataclass
class Empty:
    pass


def _reference(obj: object) -> str:
    return json.dumps(to_jsonable(obj), indent=2, ensure_ascii=False)


leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(), st.floats(allow_nan=True, allow_infinity=True),
    st.dates(), st.datetimes(), st.sampled_from([*Color, *PhaseStatus]), st.builds(Big, st.integers()),
    st.builds(Path, st.text(min_size=1)), st.builds(Point, st.dates(), st.one_of(st.none(), st.floats())),
    st.just(Empty()))
values = st.recursive(leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.tuples(inner, inner), st.frozensets(st.integers(), max_size=4),
    st.dictionaries(st.one_of(st.text(), st.integers(), st.sampled_from(list(Color))), inner, max_size=4),
    st.builds(lambda d: OrderedDict(d), st.dictionaries(st.text(), inner, max_size=3))), max_leaves=30)


@settings(max_examples=400, deadline=None)
@given(values)
def test_dumps_writes_the_bytes_json_dumps_writes(value):
    assert dumps(value) == _reference(value)


def test_dumps_of_the_corner_cases():
    for value in ([], {}, [[]], {"a": {}}, Empty(), [math.nan, math.inf, -math.inf], "é\n\"\\", {1: None}, {1: "a", "1": "b"},
                  {"s": {3, 1, 2}}, (dt.date(2024, 1, 2), 99.5)):
        assert dumps(value) == _reference(value), value


def test_dumps_refuses_what_json_refuses():
    with pytest.raises(TypeError, match="not JSON serializable"):
        dumps({"x": [object()]})


def test_a_recorded_runs_report_json_is_unchanged(demo_run: Path):
    view = build_view(demo_run)
    shown = dataclasses.replace(view, events=view.shown_events())
    assert render_json(view) == _reference(shown)
    assert json.loads(render_json(view))["run_id"] == view.run_id
