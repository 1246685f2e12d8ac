"""The repair rules as plain functions (repair_plan.py): how far a phase's history reaches, the steps of a round
(upstream first, dependents by reach, the target last), restart bounds, and the config's `sources` check."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from backfill_orchestrator.config import History, load_config, load_gate_suites
from backfill_orchestrator.dates import Calendar, Season, date_range
from backfill_orchestrator.errors import ConfigError
from backfill_orchestrator.repair_plan import downstream, plan_steps, reach, restart_until, upstream

D = dt.date
CAL = Calendar((Season("a", D(2024, 1, 1), D(2024, 1, 20), D(2024, 1, 31)),
                Season("b", D(2024, 3, 1), D(2024, 3, 20), D(2024, 3, 31))))
DATES = [d for d in date_range(D(2024, 1, 1), D(2024, 3, 31)) if CAL.in_season(d)]


def test_reach_of_each_history_kind() -> None:
    rep = [D(2024, 1, 10), D(2024, 1, 12)]
    assert reach(DATES, rep, History("none"), CAL) == rep
    assert reach(DATES, rep, History("days", 3), CAL) == [D(2024, 1, d) for d in (10, 11, 12, 13, 14, 15)]
    # season: from the first repaired date to the end of ITS season; the next season is untouched
    assert reach(DATES, rep, History("season"), CAL) == [D(2024, 1, d) for d in range(10, 32)]
    assert reach(DATES, rep, History("all"), CAL) == DATES
    assert reach(DATES, [], History("all"), CAL) == []
    # a repaired date in each season: the rest of both
    both = reach(DATES, [D(2024, 1, 30), D(2024, 3, 29)], History("season"), CAL)
    assert both == [D(2024, 1, 30), D(2024, 1, 31), D(2024, 3, 29), D(2024, 3, 30), D(2024, 3, 31)]
    # a date no season bounds (between seasons) reaches to the end: nothing says where its windows stop
    off = reach(DATES, [D(2024, 2, 15)], History("season"), CAL)
    assert off == [d for d in DATES if d >= D(2024, 3, 1)]


def test_restart_until_follows_history() -> None:
    to = D(2024, 1, 10)
    assert restart_until(to, History("none"), CAL) == to
    assert restart_until(to, History("days", 5), CAL) == D(2024, 1, 15)
    assert restart_until(to, History("season"), CAL) == D(2024, 1, 31)
    assert restart_until(to, History("all"), CAL) is None
    assert restart_until(D(2024, 2, 15), History("season"), CAL) is None


def _config(tmp_path: Path, extra: dict | None = None, sources: dict | None = None) -> Path:
    (tmp_path / "seasons.yaml").write_text("seasons:\n  - {name: a, start: 2024-01-01, regular_season_end: "
                                           "2024-01-20, playoffs_end: 2024-01-31}\n")
    phases = [{"name": "raw_to_a", "command": ["x"], "dates": {"start": "2024-01-01", "end": "2024-01-31"}},
              {"name": "b", "command": ["x"], "depends_on": ["raw_to_a"],
               "dates": {"start": "2024-01-01", "end": "2024-01-31"}, "history": "season"},
              {"name": "c", "command": ["x"], "depends_on": ["raw_to_a"],
               "dates": {"start": "2024-01-01", "end": "2024-01-31"}},
              {"name": "d", "command": ["x"], "depends_on": ["c", "b"],
               "dates": {"start": "2024-01-01", "end": "2024-01-31"}, "history": "all", **(extra or {})}]
    cfg = {"pipeline": "p", "calendar": str(tmp_path / "seasons.yaml"), "phases": phases}
    if sources:
        cfg["sources"] = sources
    path = tmp_path / "p.yaml"
    path.write_text(json.dumps(cfg))
    return path


def test_upstream_and_downstream_in_pipeline_order(tmp_path: Path) -> None:
    cfg = load_config(_config(tmp_path))
    assert upstream(cfg, "d") == ["raw_to_a", "b", "c"]
    assert downstream(cfg, ["raw_to_a"]) == ["b", "c", "d"]
    assert downstream(cfg, ["c"]) == ["d"]


def test_plan_steps_upstream_first_then_dependents_by_reach_then_the_target(tmp_path: Path) -> None:
    cfg = load_config(_config(tmp_path))
    dates = {p.name: date_range(D(2024, 1, 1), D(2024, 1, 31)) for p in cfg.phases}
    failing = [D(2024, 1, 10), D(2024, 1, 11)]
    # c's gate failed on two dates; its upstream raw_to_a fails on one of them
    steps = plan_steps(cfg, CAL, "c", failing, {"raw_to_a": [D(2024, 1, 10)]}, {"raw_to_a", "b", "d"}, dates)
    assert [(s.phase, len(s.dates)) for s in steps] == [("raw_to_a", 1), ("b", 22), ("c", 2), ("d", 31)]
    assert steps[0].why == "its gate fails there too (1 of the dates)"
    assert steps[1].dates[0] == D(2024, 1, 10) and steps[1].why.endswith("history season")
    assert steps[2].why == "reads raw_to_a's repaired dates; its own failing dates"
    # a dependent that has not run yet runs every date when its turn comes: no step for it now
    later = plan_steps(cfg, CAL, "c", failing, {"raw_to_a": [D(2024, 1, 10)]}, {"raw_to_a"}, dates)
    assert [s.phase for s in later] == ["raw_to_a", "c"]
    # nothing wrong upstream: the target alone
    alone = plan_steps(cfg, CAL, "c", failing, {}, {"raw_to_a", "b"}, dates)
    assert [(s.phase, list(s.dates)) for s in alone] == [("c", failing)]


def test_a_phase_table_declared_as_a_source_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "a.yaml").write_text(json.dumps(
        {"suite": "a", "table": "demo.a", "date_column": "d",
         "checks": [{"name": "n", "type": "row_count", "min": 1}]}))
    path = _config(tmp_path, sources={"demo.a": {"expected_from": "raw.schedule"}})
    data = json.loads(path.read_text())
    data["suites"] = [str(tmp_path / "suites")]
    data["phases"][0]["post"] = "a"
    path.write_text(json.dumps(data))
    cfg = load_config(path)
    with pytest.raises(ConfigError, match=r"sources.demo.a: phase raw_to_a writes this table; `sources` lists raw "
                                          "inputs no phase writes"):
        load_gate_suites(cfg)
