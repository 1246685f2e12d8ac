"""Hostile configuration: hypothesis mutates the real default pipeline (config/pipeline.yaml) and a real validation
suite, and `backfill config check` (which loads the pipeline and every suite its gates name) must either accept the
file or refuse it with exit 2 and ONE line naming the file and the line: never a traceback, never a hang.

Two kinds of mutation: structural (any value at any key path replaced by a hostile value - wrong types, huge or
non-finite numbers, unicode, control characters, `${VAR}`, SQL-looking text - or a key removed or added) and
textual (a value's YAML text replaced by raw YAML no dumper writes: deep nesting, anchors and alias bombs, recursive
aliases, duplicate keys, tags, non-scalar keys). Examples are derandomized: CI runs the same ones every time.
"""
from __future__ import annotations

import copy
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from backfill_orchestrator.cli import cli

ROOT = Path(__file__).resolve().parents[2]
PIPELINE_TEXT = (ROOT / "config" / "pipeline.yaml").read_text()
SUITE_FILE = "player_game_summary.yaml"
SUITE_TEXT = (ROOT / "config" / "suites" / SUITE_FILE).read_text()
EXAMPLES = 150  # per test; the four tests: 600 examples

# no shrinking: a failing example is printed as it was drawn (shrinking a 5,000-deep nesting takes minutes)
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, print_blob=True,
                    phases=(Phase.explicit, Phase.generate),
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])

# --- hostile values ------------------------------------------------------------------------------------------
SQLISH = ["points; DROP TABLE x", "`points`", "points`; DROP TABLE x; --", "'", '"', "x'); DROP TABLE x; --",
          "${UNSET_SECRET}", "${HOME}", "${X:-}", "{python}", "{nope}", "*alias", "&anchor", "!!python/object:os.system",
          "~", "null", "yes", "0x1F", "1e400", "-.inf", ".nan", "2024-02-30", "9999-12-31", "0001-01-01", "5h", "-5m",
          "99999999999999999999d", "1e308s", "", " ", "\t", "\u202eevil", "\ufeffbom", "ünïcødé_ñame", "名前", "🏀",
          "a" * 5000, "NUL\x00byte", "\x1b[31mred", "line\nbreak", "%", "100%", "1000%", "-1%", "nan%"]
scalars = st.one_of(
    st.sampled_from(SQLISH), st.sampled_from(SQLISH), st.sampled_from(SQLISH),  # the known-nasty, most often
    st.integers(min_value=-(10 ** 30), max_value=10 ** 30),
    st.sampled_from([0, -1, 1, 2 ** 63, -(2 ** 63) - 1, 10 ** 4000]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.dates(),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                      max_leaves=12)

# raw YAML a dumper never writes
LAUGHS = "&l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"
BOMB = "{" + ", ".join(f"k{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 9)) + "}"
RAW = ["[" * 5000 + "]" * 5000, "{a: " * 2000 + "1" + "}" * 2000, "&r [*r]", "&m {a: *m}", f"[{LAUGHS}, {BOMB}]",
       "*undefined", "{a: 1, a: 2}", "[a, b]: c", "{? [a, b] : c}", "!!python/object/apply:os.system [echo]",
       "!!binary aGVsbG8=", "!!timestamp 2024-01-01", "!!float nan", "!!int 10000000000000000000000",
       "!!set {a, b}", "!!omap [a: 1]", "|\n  block\n  text", ">-\n  folded", "'unterminated", "\"bad \\q escape\"",
       "[unclosed", "{unclosed: 1", "- - - x", "@reserved", "`reserved", "? complex", "<<: *nope", "%TAG ! x",
       "\t tab", "!custom tag", "--- x", "... x"]
raws = st.one_of(st.sampled_from(RAW), st.integers(1, 3000).map(lambda n: "[" * n + "x" + "]" * n),
                 st.sampled_from(SQLISH).map(lambda t: yaml.safe_dump(t, width=1000).removesuffix("\n...\n").strip()))


# --- mutation helpers ---------------------------------------------------------------------------------------
def _paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


def _mutate(doc: Any, path: tuple, action: str, value: Any) -> Any:
    doc = copy.deepcopy(doc)
    if not path:
        return value
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    last = path[-1]
    if action == "delete":
        del parent[last]
    elif action == "add" and isinstance(parent, dict):
        parent[f"unknown_{len(parent)}"] = value
    else:
        parent[last] = value
    return doc


def _dump(doc: Any) -> str:
    try:
        return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=1000)
    except (yaml.YAMLError, RecursionError):  # a value the dumper refuses: the textual mutations cover it
        return yaml.safe_dump(repr(doc)[:100])


def _raw_mutation(text: str, line_no: int, raw: str) -> str:
    """Replace the value after `key:` on one line (or the item after `- `) by `raw`."""
    lines = text.splitlines()
    candidates = [i for i, ln in enumerate(lines) if re.match(r"^\s*(- )?[A-Za-z_]+:\s*\S", ln)
                  or re.match(r"^\s*- \S", ln)]
    i = candidates[line_no % len(candidates)]
    m = re.match(r"^(\s*(?:- )?(?:[A-Za-z_]+:)?\s*)", lines[i])
    lines[i] = m.group(1) + raw.replace("\n", "\n" + " " * (len(m.group(1)) + 2))
    return "\n".join(lines) + "\n"


# --- the workspace: the real config with its calendar; the suites it names ------------------------------------
# Pure-Python YAML costs ~15 ms per real suite: the pipeline's tests get a small stand-in per suite (its real name,
# table and date column, one check), the suite's tests a one-phase pipeline gated by the mutated suite alone.
SUITE_PIPELINE = """pipeline: fuzz
warehouse: {duckdb: {path: wh.duckdb}}
suites: [fuzz_suites]
phases:
  - name: a
    command: ["{python}", -c, pass, "{dates_file}"]
    dates: {start: 2024-10-22, end: 2024-10-31}
    post: player_game_summary
"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("hostile")
    (ws / "config" / "suites").mkdir(parents=True)
    (ws / "fuzz_suites").mkdir()
    shutil.copy(ROOT / "config" / "seasons.yaml", ws / "config" / "seasons.yaml")
    for real in sorted((ROOT / "config" / "suites").glob("*.yaml")):
        doc = yaml.safe_load(real.read_text())
        stub = {k: doc[k] for k in ("suite", "table", "date_column")}
        stub["checks"] = [{"name": "rows", "type": "row_count", "min": 1}]
        (ws / "config" / "suites" / real.name).write_text(yaml.safe_dump(stub))
    return ws


def _check(ws: Path, pipeline: str | None = None, suite: str | None = None) -> int:
    """`backfill config check` on the text given (the real pipeline, or the suite's one-phase pipeline with the
    suite): accepted (exit 0), or exit 2 and one line naming file:line."""
    if suite is None:
        (ws / "config" / "pipeline.yaml").write_text(pipeline, encoding="utf-8")
        argv = ["config", "check", "config/pipeline.yaml"]
    else:
        (ws / "fuzz_suites" / SUITE_FILE).write_text(suite, encoding="utf-8")
        (ws / "suite_pipeline.yaml").write_text(SUITE_PIPELINE)
        argv = ["config", "check", "suite_pipeline.yaml"]
    cwd = os.getcwd()
    os.chdir(ws)  # the config's relative paths (calendar, suites) start here
    try:
        r = CliRunner().invoke(cli, argv, env={"BACKFILL_DUCKDB": None, "BACKFILL_NOTIFY_URL": None})
    finally:
        os.chdir(cwd)
    shown = f"\n--- file ---\n{(pipeline or suite or '')[:3000]}\n--- output ---\n{r.output}"
    assert r.exception is None or isinstance(r.exception, SystemExit), \
        f"{type(r.exception).__name__}: {r.exception}{shown}"
    assert r.exit_code in (0, 2), shown
    if r.exit_code == 2:
        lines = r.stderr.splitlines()
        assert len(lines) == 1, shown
        assert re.match(r"^error: (config/pipeline|suite_pipeline|fuzz_suites/[a-z_]+)\.yaml:\d+: ", lines[0]), shown
    return r.exit_code


@SETTINGS
@given(data=st.data())
def test_a_mutated_pipeline_is_accepted_or_one_line_with_its_line(workspace: Path, data: st.DataObject) -> None:
    doc = yaml.safe_load(PIPELINE_TEXT)
    path = data.draw(st.sampled_from(_paths(doc)), label="path")
    action = data.draw(st.sampled_from(["replace", "replace", "delete", "add"]) if path else st.just("replace"))
    value = data.draw(values, label="value")
    _check(workspace, _dump(_mutate(doc, path, action, value)))


@SETTINGS
@given(data=st.data())
def test_a_mutated_suite_is_accepted_or_one_line_with_its_line(workspace: Path, data: st.DataObject) -> None:
    doc = yaml.safe_load(SUITE_TEXT)
    path = data.draw(st.sampled_from(_paths(doc)), label="path")
    action = data.draw(st.sampled_from(["replace", "replace", "delete", "add"]) if path else st.just("replace"))
    value = data.draw(values, label="value")
    _check(workspace, suite=_dump(_mutate(doc, path, action, value)))


@SETTINGS
@given(line=st.integers(0, 10_000), raw=raws)
def test_raw_yaml_in_the_pipeline_is_accepted_or_one_line_with_its_line(workspace: Path, line: int,
                                                                        raw: str) -> None:
    _check(workspace, _raw_mutation(PIPELINE_TEXT, line, raw))


@SETTINGS
@given(line=st.integers(0, 10_000), raw=raws)
def test_raw_yaml_in_a_suite_is_accepted_or_one_line_with_its_line(workspace: Path, line: int, raw: str) -> None:
    _check(workspace, suite=_raw_mutation(SUITE_TEXT, line, raw))


def test_the_bases_are_accepted(workspace: Path) -> None:
    """The mutations start from files that pass: every refusal above is the mutation's doing."""
    assert _check(workspace, PIPELINE_TEXT) == 0
    assert _check(workspace, suite=SUITE_TEXT) == 0
