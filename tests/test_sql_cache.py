"""The on-disk SQL cache: a fresh process reuses translations and suite facts without importing sqlglot;
every input is part of the key; a corrupt, unwritable or disabled cache only means the work is done again."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from backfill_orchestrator.errors import UsageError
from backfill_orchestrator.validation import load_suite
from backfill_orchestrator.warehouse import sql as S

ROOT = Path(__file__).resolve().parents[1]
MAP = (("nba", "nba_dev"),)
SCAN = ("SELECT game_date AS d, COUNTIF(points IS NOT NULL) AS a0, DATE_ADD(game_date, INTERVAL 1 DAY) AS nxt, "
        "EXTRACT(DAYOFWEEK FROM game_date) AS dow FROM nba.player_game_summary "
        "WHERE game_date BETWEEN @start AND @end GROUP BY d ORDER BY d")


def _clear_memory() -> None:
    for f in (S._translate, S.expression_info, S.select_error):
        f.cache_clear()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private cache directory for this test, and empty in-memory caches before and after it."""
    monkeypatch.setenv(S.CACHE_ENV, str(tmp_path / "cache"))
    _clear_memory()
    yield tmp_path / "cache" / "sql"
    _clear_memory()


def _entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.txt")) if folder.is_dir() else []


def _fresh(code: str, cache_root: Path) -> dict:
    """Run `code` in a new interpreter using the cache; it prints JSON, plus whether sqlglot got imported."""
    env = {**os.environ, S.CACHE_ENV: str(cache_root)}
    wrapped = f"import json, sys\n{code}\nout['sqlglot_imported'] = 'sqlglot' in sys.modules\nprint(json.dumps(out))"
    r = subprocess.run([sys.executable, "-c", wrapped], capture_output=True, text=True, env=env, cwd=ROOT,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_a_new_process_reuses_the_translation_without_importing_sqlglot(cache: Path) -> None:
    text = S.translate(SCAN, "duckdb", MAP, "p_")
    assert len(_entries(cache)) == 1
    code = (f"from backfill_orchestrator.warehouse.sql import translate\n"
            f"out = {{'sql': translate({SCAN!r}, 'duckdb', {MAP!r}, 'p_')}}")
    out = _fresh(code, cache.parent)
    assert out == {"sql": text, "sqlglot_imported": False}


def test_a_cold_process_with_an_empty_cache_translates_and_fills_it(cache: Path) -> None:
    code = (f"from backfill_orchestrator.warehouse.sql import translate\n"
            f"out = {{'sql': translate({SCAN!r}, 'duckdb')}}")
    out = _fresh(code, cache.parent)
    assert out["sqlglot_imported"] is True and len(_entries(cache)) == 1
    assert out["sql"] == S._translate_now(SCAN, "duckdb", (), "")


def test_every_input_is_part_of_the_key(cache: Path) -> None:
    variants = [(SCAN, "duckdb", (), ""), (SCAN, "duckdb", MAP, ""), (SCAN, "duckdb", MAP, "p_"),
                (SCAN, "bigquery", MAP, "p_"), (SCAN, "duckdb", (("nba", "other"),), ""),
                (SCAN.replace("a0", "a1"), "duckdb", (), "")]
    first = [S.translate(*v) for v in variants]
    assert len(_entries(cache)) == len(variants)
    _clear_memory()
    again = [S.translate(*v) for v in variants]  # now from disk
    assert again == first == [S._translate_now(*v) for v in variants]
    assert len(set(first)) == len(variants)


def test_translations_from_disk_keep_the_rewrites(cache: Path) -> None:
    S.translate(SCAN, "duckdb", MAP)
    _clear_memory()
    out = S.translate(SCAN, "duckdb", MAP)
    assert "COUNT_IF(" in out and "CAST(game_date + INTERVAL '1' DAY AS DATE)" in out and "+ 1)" in out
    assert "nba_dev.player_game_summary" in out and "$start" in out


def test_a_corrupt_entry_is_a_miss_and_is_rewritten(cache: Path) -> None:
    good = S.translate(SCAN, "duckdb")
    [entry] = _entries(cache)
    for damage in (b"", b"garbage", entry.read_bytes()[:-10], entry.read_bytes().replace(b"COUNT_IF", b"COUNT_XX"),
                   b"\xff\xfe\n\xff"):
        entry.write_bytes(damage)
        _clear_memory()
        assert S.translate(SCAN, "duckdb") == good
        assert S._read(entry) == good  # rewritten whole


def test_an_unwritable_cache_falls_back_to_translating(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    monkeypatch.setenv(S.CACHE_ENV, str(blocker))
    _clear_memory()
    try:
        assert S.translate(SCAN, "duckdb") == S._translate_now(SCAN, "duckdb", (), "")
        assert S.expression_info("SUM(points)") is not None
    finally:
        _clear_memory()
    assert blocker.read_text() == "a file where the cache directory should be"
    assert [p.name for p in tmp_path.iterdir()] == ["not-a-dir"]  # no temporary files left behind


def test_off_keeps_everything_in_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(S.CACHE_ENV, "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    _clear_memory()
    try:
        assert S.cache_dir() is None
        S.translate(SCAN, "duckdb")
    finally:
        _clear_memory()
    assert list(tmp_path.iterdir()) == []


def test_default_location_is_under_xdg_cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(S.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert S.cache_dir() == tmp_path / "xdg" / "backfill-orchestrator" / "sql"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert S.cache_dir() == tmp_path / "home" / ".cache" / "backfill-orchestrator" / "sql"


def test_parse_errors_are_not_cached(cache: Path) -> None:
    for _ in range(2):
        _clear_memory()
        with pytest.raises(UsageError, match="does not parse as BigQuery SQL"):
            S.translate("SELECT FROM WHERE (", "duckdb")
    assert _entries(cache) == []


@pytest.mark.parametrize("text", ["SUM(points) / NULLIF(COUNT(*), 0)", "points IS NOT NULL AND minutes > 0",
                                  "(SELECT 1)", "not ( valid", "a, b", "COUNTIF(x > 1) + y"])
def test_expression_facts_from_disk_equal_fresh_ones(cache: Path, text: str) -> None:
    fresh = S.expression_info(text)
    _clear_memory()
    assert S.expression_info(text) == fresh
    tree = S.parse_one_expression(text)
    assert (fresh is None) == (tree is None)


@pytest.mark.parametrize("sql", ["SELECT 1", "SELECT FROM WHERE (", "DELETE FROM a.b WHERE TRUE",
                                 "SELECT 1; SELECT 2", "SELECT a FROM x.y UNION ALL SELECT a FROM x.z"])
def test_select_errors_from_disk_equal_fresh_ones(cache: Path, sql: str) -> None:
    fresh = S._select_problem(sql)
    assert S.select_error(sql) == fresh
    _clear_memory()
    assert S.select_error(sql) == fresh


def test_loading_a_suite_again_needs_no_sqlglot(cache: Path) -> None:
    path = ROOT / "config" / "suites" / "player_game_summary.yaml"
    suite = load_suite(path)
    code = (f"from backfill_orchestrator.validation import load_suite\n"
            f"s = load_suite({str(path)!r})\n"
            f"out = {{'checks': [repr(c) for c in s.checks]}}")
    out = _fresh(code, cache.parent)
    assert out == {"checks": [repr(c) for c in suite.checks], "sqlglot_imported": False}


def test_pruning_keeps_the_newest_half(tmp_path: Path) -> None:
    for i in range(10):
        p = tmp_path / f"{i:02d}.txt"
        p.write_text(str(i))
        os.utime(p, (1_000_000 + i, 1_000_000 + i))
    S._prune(tmp_path, keep=6)
    assert [p.name for p in _entries(tmp_path)] == [f"{i:02d}.txt" for i in range(5, 10)]
    S._prune(tmp_path, keep=6)  # under the limit: nothing removed
    assert len(_entries(tmp_path)) == 5
