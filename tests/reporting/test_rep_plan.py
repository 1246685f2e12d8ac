"""The plan against a half-done warehouse (DuckDB and BigQuery through the emulator), a checkpoint and an earlier
run's measured rate."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from click.testing import CliRunner

from backfill_orchestrator.cli import cli
from backfill_orchestrator.config import load_config
from backfill_orchestrator.dates import date_range
from backfill_orchestrator.plan import make_plan
from backfill_orchestrator.render import dumps
from backfill_orchestrator.state import RunState
from backfill_orchestrator.warehouse import Column, WarehouseSettings

START, END = dt.date(2024, 1, 1), dt.date(2024, 1, 30)
DATES = date_range(START, END)
SUITE = """suite: plan_events
table: plan_ds.events
date_column: game_date
checks:
  - {name: value_coverage, type: coverage, column: v, min: 95%}
"""


def _config(tmp_path: Path, settings: WarehouseSettings) -> Path:
    if settings.kind == "duckdb":
        wh = f"warehouse: {{duckdb: {{path: '{settings.path}'}}}}"
    else:
        wh = (f"warehouse: {{bigquery: {{project: {settings.project}, endpoint: '{settings.endpoint}', "
              f"dataset_prefix: {settings.dataset_prefix}}}}}")
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "plan_events.yaml").write_text(SUITE)
    cfg = tmp_path / "pipeline.yaml"
    cfg.write_text(f"""pipeline: plan-test
{wh}
suites: ['{tmp_path / "suites"}']
logs_dir: '{tmp_path / "logs"}'
phases:
  - name: events
    command: ["{{python}}", -m, some.job, --dates-file, "{{dates_file}}", --checkpoint, "{{checkpoint}}"]
    dates: {{start: {START}, end: {END}}}
    checkpoint: '{tmp_path / "cp" / "events.json"}'
    post: plan_events
  - name: later
    depends_on: [events]
    command: ["{{python}}", -m, other.job]
    dates: {{start: {START}, end: {END}}}
    checkpoint: '{tmp_path / "cp" / "later.json"}'
    post: {{suite: plan_events, table: plan_ds.later}}
""")
    return cfg


def test_plan_against_a_half_done_warehouse(tmp_path: Path, wh_settings: WarehouseSettings, open_wh):
    w = open_wh()
    w.create_table("plan_ds.events", [Column("game_date", "DATE"), Column("v", "INT64")])
    held = DATES[:8] + DATES[14:20]  # 14 dates hold rows
    w.load_rows("plan_ds.events", [{"game_date": d, "v": 1} for d in held for _ in range(2)],
                [Column("game_date", "DATE"), Column("v", "INT64")])
    if w.dialect == "duckdb":
        w.close()  # the plan opens the file read-only itself
    cp = tmp_path / "cp" / "events.json"
    cp.parent.mkdir()
    cp.write_text(json.dumps({"version": 1, "job": "events", "done": [str(d) for d in DATES[:10]],
                              "failed": [str(DATES[10]), str(DATES[11])],
                              "skipped": [str(d) for d in DATES[12:14]] + ["2023-12-31"]}))
    # an earlier run measured 2 dates/min for `events`
    old = RunState.create(tmp_path / "logs" / "runs" / "20240201T000000Z-old", "20240201T000000Z-old",
                          "plan-test", "pipeline.yaml", "w", ["events", "later"])
    old.update_phase("events", status="passed", started_at="2024-02-01T00:00:00Z", ended_at="2024-02-01T00:15:00Z")
    old.add_progress("events", 1, done=30, total=30, ok=30, failed=0, skipped=0, records=60, rate=2.0, eta=None)
    old.update_run(status="passed")
    old.close()

    config = load_config(_config(tmp_path, wh_settings))
    plan = make_plan(config)
    ev, later = plan.phases
    assert (ev.requested, ev.done, ev.skipped, ev.failed_before) == (30, 10, 2, 2)
    assert ev.to_do == 18  # 30 - 10 done - 2 skipped (the failed ones are redone)
    assert ev.in_warehouse == 14
    assert ev.done_missing_in_warehouse == 2  # DATES[8], DATES[9]: done per checkpoint, no rows
    assert ev.missing_ranges == "2024-01-09..2024-01-10 (2 dates)"
    assert ev.to_do_in_warehouse == 6  # DATES[14:20]
    assert ev.failed_ranges == "2024-01-11..2024-01-12 (2 dates)"
    assert ev.rate == 2.0 and ev.rate_from == "20240201T000000Z-old"
    assert ev.eta_seconds == 18 / 2.0 * 60
    assert later.to_do == 30 and not later.checkpoint_found
    assert later.in_warehouse == 0 and "table plan_ds.later does not exist yet" in later.notes
    assert later.eta_seconds is None
    text = plan.text()
    assert "to do: 18" in text and "WARNING: 2 dates done per the checkpoint have no rows" in text
    assert "ETA 9m00s at 2.00 dates/min (measured in run 20240201T000000Z-old)" in text
    assert "total to do: 48 phase-dates; ETA unknown" in text
    assert json.loads(dumps(plan))["phases"][0]["to_do"] == 18

    r = CliRunner().invoke(cli, ["plan", str(tmp_path / "pipeline.yaml"), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["phases"][0]["in_warehouse"] == 14


def test_plan_when_the_warehouse_does_not_exist_yet(tmp_path: Path):
    settings = WarehouseSettings(kind="duckdb", path=str(tmp_path / "nothing-yet.duckdb"))
    plan = make_plan(load_config(_config(tmp_path, settings)))
    assert not Path(settings.path).exists()  # planning never creates the database
    assert plan.phases[0].to_do == 30 and plan.phases[0].in_warehouse == 0
    assert "does not exist yet" in plan.phases[0].notes[0]


def test_plan_bad_config_is_one_line_exit_2(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("pipeline: x\nphases: []\n")
    r = CliRunner().invoke(cli, ["plan", str(bad)])
    assert r.exit_code == 2 and r.output.startswith(f"error: {bad}:2") and "Traceback" not in r.output
