"""The config model: a good config resolves; every malformed one gives ONE exact line naming file:line:key, exit 2."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from backfill_orchestrator.cli import cli
from backfill_orchestrator.config import load_config
from backfill_orchestrator.errors import ConfigError

GOOD = """\
pipeline: demo
warehouse:
  duckdb:
    path: ${DEMO_DB:-data/demo.duckdb}
calendar: CALENDAR
suites: [SUITES]
defaults:
  workers: 2
  timeout: 5h
phases:
  - name: first
    command: ["{python}", -m, job, --dates-file, "{dates_file}"]
    dates: {start: 2024-10-22, end: 2024-10-31}
  - name: second
    depends_on: [first]
    command: [job2, "{start}", "{end}"]
    dates: {start: 2024-10-22, end: 2024-11-30, skip_first_days: 14}
    timeout: 30m
    post: {suite: second_suite, severity: warning}
notifications:
  - url: ${HOOK_URL:-}
    events: [phase_failed]
"""


@pytest.fixture
def calendar(tmp_path: Path) -> Path:
    p = tmp_path / "seasons.yaml"
    p.write_text("seasons:\n  - {name: 2024-25, start: 2024-10-22, regular_season_end: 2025-04-13, "
                 "playoffs_end: 2025-06-22}\n")
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "second.yaml").write_text("suite: second_suite\ntable: shop.orders\ndate_column: order_date\n"
                                        "checks:\n  - {name: amount_present, type: coverage, column: amount, min: 99%}\n")
    return p


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "pipeline.yaml"
    p.write_text(textwrap.dedent(text))
    return p


def test_good_config_resolves(tmp_path, calendar):
    cfg = load_config(write(tmp_path, GOOD.replace("CALENDAR", str(calendar)).replace("SUITES", str(calendar.parent / "suites"))), env={"DEMO_DB": "x.duckdb"})
    assert cfg.warehouse.kind == "duckdb" and cfg.warehouse.path == "x.duckdb"
    assert [p.name for p in cfg.phases] == ["first", "second"]
    first, second = cfg.phases
    assert first.workers == 2 and first.timeout == 5 * 3600 and second.timeout == 30 * 60
    assert len(first.dates.resolve(cfg.calendar())) == 10
    # 2024-10-22 + 14 days = 2024-11-05 is the first kept date
    kept = second.dates.resolve(cfg.calendar())
    assert kept[0].isoformat() == "2024-11-05" and len(kept) == 26
    assert second.post[0].suite == "second_suite" and second.post[0].severity == "warning"
    assert cfg.notifications[0].enabled is False


def test_env_default_used_when_unset(tmp_path, calendar):
    cfg = load_config(write(tmp_path, GOOD.replace("CALENDAR", str(calendar)).replace("SUITES", str(calendar.parent / "suites"))), env={})
    assert cfg.warehouse.path == "data/demo.duckdb"


def test_phases_ordered_by_dependencies(tmp_path):
    cfg = load_config(write(tmp_path, """\
        pipeline: p
        phases:
          - {name: b, command: [x], dates: {start: 2024-01-01, end: 2024-01-01}, depends_on: [a]}
          - {name: a, command: [x], dates: {start: 2024-01-01, end: 2024-01-01}}
        """))
    assert [p.name for p in cfg.phases] == ["a", "b"]


PHASE = "command: [x]\n    dates: {start: 2024-01-01, end: 2024-01-02}"

BAD = [
    ("unknown key with hint",
     "pipeline: p\nphases:\n  - name: a\n    command: [x]\n    dates: {start: 2024-01-01, end: 2024-01-02}\n    timout: 5h\n",
     "{f}:6: phases[0].timout: unknown key (did you mean 'timeout'?)"),
    ("bad duration",
     "pipeline: p\nphases:\n  - name: a\n    command: [x]\n    dates: {start: 2024-01-01, end: 2024-01-02}\n    timeout: soon\n",
     "{f}:6: phases[0].timeout: expected a duration like '5h' or '30m', got 'soon'"),
    ("wrong type workers",
     "pipeline: p\nphases:\n  - name: a\n    command: [x]\n    dates: {start: 2024-01-01, end: 2024-01-02}\n    workers: many\n",
     "{f}:6: phases[0].workers: expected an integer, got 'many'"),
    ("missing required command",
     "pipeline: p\nphases:\n  - name: a\n    dates: {start: 2024-01-01, end: 2024-01-02}\n",
     "{f}:3: phases[0].command: missing required key"),
    ("missing top-level phases",
     "pipeline: p\n",
     "{f}:1: phases: missing required key"),
    ("invalid date",
     "pipeline: p\nphases:\n  - name: a\n    command: [x]\n    dates: {start: 2024-02-30, end: 2024-03-02}\n",
     "{f}:5: phases[0].dates.start: expected a date like 2024-10-22, got '2024-02-30'"),
    ("reversed dates",
     "pipeline: p\nphases:\n  - name: a\n    command: [x]\n    dates: {start: 2024-03-01, end: 2024-02-01}\n",
     "{f}:5: phases[0].dates.end: end date 2024-02-01 is before start date 2024-03-01"),
    ("duplicate phase",
     "pipeline: p\nphases:\n  - name: a\n    " + PHASE + "\n  - name: a\n    " + PHASE + "\n",
     "{f}:6: phases[1].name: duplicate phase name 'a' (first defined on line 3)"),
    ("unknown depends_on",
     "pipeline: p\nphases:\n  - name: alpha\n    " + PHASE + "\n  - name: b\n    " + PHASE
     + "\n    depends_on: [alpah]\n",
     "{f}:9: phases[1].depends_on[0]: unknown phase 'alpah' (did you mean 'alpha'?)"),
    ("cyclic depends_on",
     "pipeline: p\nphases:\n  - name: a\n    " + PHASE + "\n    depends_on: [b]\n  - name: b\n    " + PHASE
     + "\n    depends_on: [a]\n",
     "{f}:10: phases[1].depends_on: dependency cycle: a -> b -> a"),
    ("undefined env var",
     "pipeline: p\nnotifications:\n  - url: ${NOPE_HOOK}\nphases:\n  - name: a\n    " + PHASE + "\n",
     "{f}:3: notifications[0].url: environment variable NOPE_HOOK is not set (use ${NOPE_HOOK:-default} for a default)"),
    ("yaml syntax error",
     "pipeline: p\nphases:\n  - name: a\n    command: [x\n",
     "{f}:5: YAML syntax error: expected ',' or ']', but got '<stream end>'"),
    ("command not a list",
     "pipeline: p\nphases:\n  - name: a\n    command: run it\n    dates: {start: 2024-01-01, end: 2024-01-02}\n",
     "{f}:4: phases[0].command: expected the command as a list of arguments, e.g. [python, -m, my_job, --date, '{start}']"),
    ("unknown placeholder",
     "pipeline: p\nphases:\n  - name: a\n    command: [x, '{stat}']\n    dates: {start: 2024-01-01, end: 2024-01-02}\n",
     "{f}:4: phases[0].command[1]: unknown placeholder {stat}; known: {python}, {start}, {end}, {dates_file}, "
     "{dates}, {checkpoint}, {workers}, {warehouse}, {run_dir}, {phase}, {card}"),
    ("bad on_warn choice",
     "pipeline: p\nphases:\n  - name: a\n    " + PHASE + "\n    on_warn: stpo\n",
     "{f}:6: phases[0].on_warn: expected one of continue, stop, got 'stpo' (did you mean 'stop'?)"),
    ("bad gate identifier",
     "pipeline: p\nphases:\n  - name: a\n    " + PHASE + "\n    post: {suite: 'x; drop'}\n",
     "{f}:6: phases[0].post.suite: invalid suite name 'x; drop': expected name made of [A-Za-z_][A-Za-z0-9_]*"),
    ("bigquery project id",
     "pipeline: p\nwarehouse:\n  bigquery:\n    project: My Project\nphases:\n  - name: a\n    " + PHASE + "\n",
     "{f}:4: warehouse.bigquery.project: expected a BigQuery project id like 'my-project-123', got 'My Project'"),
    ("season rule without calendar",
     "pipeline: p\nphases:\n  - name: a\n    command: [x]\n    dates: {start: 2024-01-01, end: 2024-01-02, skip_first_days: 14}\n",
     "{f}:3: calendar: phase 'a' uses a season rule (`dates` or `history: season`) but the config has no `calendar:`"),
    ("bad history",
     "pipeline: p\nphases:\n  - name: a\n    " + PHASE + "\n    history: forever\n",
     "{f}:6: phases[0].history: expected none, season, all or a number of days like '30d', got 'forever'"),
    ("history season without calendar",
     "pipeline: p\nphases:\n  - name: a\n    " + PHASE + "\n    history: season\n",
     "{f}:3: calendar: phase 'a' uses a season rule (`dates` or `history: season`) but the config has no `calendar:`"),
    ("repair without max_rounds",
     "pipeline: p\nphases:\n  - name: a\n    " + PHASE + "\n    repair: {rounds: 2}\n",
     "{f}:6: phases[0].repair.rounds: unknown key (did you mean 'max_rounds'?)"),
    ("negative repair rounds",
     "pipeline: p\ndefaults: {repair: {max_rounds: -1}}\nphases:\n  - name: a\n    " + PHASE + "\n",
     "{f}:2: defaults.repair.max_rounds: expected an integer >= 0, got -1"),
    ("source refill placeholder",
     "pipeline: p\nsources:\n  raw.t: {expected_from: raw.s, refill: 'load {day}'}\nphases:\n  - name: a\n    "
     + PHASE + "\n",
     "{f}:3: sources.raw.t.refill: unknown placeholder {day}; known: {start}, {end}, {dates}"),
    ("source table name",
     "pipeline: p\nsources:\n  'raw.t; drop': {expected_from: raw.s}\nphases:\n  - name: a\n    " + PHASE + "\n",
     "{f}:3: sources.raw.t; drop: invalid table name 'raw.t; drop': expected dataset.table or "
     "project.dataset.table made of [A-Za-z_][A-Za-z0-9_]*"),
    ("empty file",
     "",
     "{f}:1: the file is empty; expected a mapping with `pipeline`, `warehouse` and `phases`"),
]


@pytest.mark.parametrize("text,expected", [(t, e) for _, t, e in BAD], ids=[n for n, _, _ in BAD])
def test_malformed_config_one_exact_line(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert str(err.value) == expected.replace("{f}", str(path))


@pytest.mark.parametrize("text,expected", [(t, e) for _, t, e in BAD[:12]], ids=[n for n, _, _ in BAD[:12]])
def test_cli_config_check_exit_2_one_line(tmp_path, text, expected, monkeypatch):
    monkeypatch.delenv("NOPE_HOOK", raising=False)
    path = write(tmp_path, text)
    result = CliRunner().invoke(cli, ["config", "check", str(path)])
    assert result.exit_code == 2
    assert result.output == "error: " + expected.replace("{f}", str(path)) + "\n"
    assert "Traceback" not in result.output


def test_cli_config_check_prints_plan(tmp_path, calendar):
    path = write(tmp_path, GOOD.replace("CALENDAR", str(calendar)).replace("SUITES", str(calendar.parent / "suites")))
    result = CliRunner().invoke(cli, ["config", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert "1. first: 10 dates 2024-10-22..2024-10-31" in result.output
    assert "2. second after first: 26 dates 2024-11-05..2024-11-30" in result.output
    assert "post gate: second_suite (warning)" in result.output
    assert "disabled (empty url)" in result.output


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.yaml: file not found$"):
        load_config(tmp_path / "nope.yaml")


def test_gate_naming_an_unknown_suite_is_refused_at_its_line(tmp_path):
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "orders.yaml").write_text(
        "suite: orders_daily\ntable: shop.orders\ndate_column: order_date\n"
        "checks:\n  - {name: amount_present, type: coverage, column: amount, min: 99%}\n")
    path = write(tmp_path, f"""\
        pipeline: p
        suites: [{suites}]
        phases:
          - name: a
            command: [x]
            dates: {{start: 2024-01-01, end: 2024-01-02}}
            post: {{suite: orders_dayly}}
        """)
    result = CliRunner().invoke(cli, ["config", "check", str(path)])
    assert result.exit_code == 2
    assert result.output == (f"error: {path}:7: phases[0].post: no validation suite named 'orders_dayly' in "
                             f"{suites} (did you mean 'orders_daily'?)\n")
    fixed = path.read_text().replace("orders_dayly", "orders_daily")
    path.write_text(fixed)
    assert CliRunner().invoke(cli, ["config", "check", str(path)]).exit_code == 0
