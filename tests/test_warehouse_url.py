"""The one-string warehouse URL: the orchestrator formats it, the jobs parse it, nothing is lost on the way."""
from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from backfill_orchestrator.cli import cli
from backfill_orchestrator.errors import UsageError
from backfill_orchestrator.state import open_state
from backfill_orchestrator.warehouse import WarehouseSettings
from backfill_orchestrator.warehouse.url import format_warehouse_url, parse_warehouse_url

REPO = Path(__file__).resolve().parents[1]
ODD = " ?&#%=+:;@,'\"é~!$()[]{}\\|*^`<>"
NAMES = ["nba_raw", "nba_analytics", "nba_precompute", "raw_v2", "an_v2", "_x", "A9", "d"]


def _odd_path(rng: random.Random) -> str:
    # normalised already ('.'/'..' parts would be resolved away), as a formatted path always is
    parts = [rng.choice("abxyz") + "".join(rng.choice("abxyz_-." + ODD) for _ in range(rng.randint(0, 8)))
             for _ in range(rng.randint(1, 4))]
    return "/" + "/".join(parts) + rng.choice(["", ".duckdb", "?", "#"])


def _settings(rng: random.Random) -> WarehouseSettings:
    datasets = {rng.choice(NAMES): rng.choice(NAMES) for _ in range(rng.randint(0, 3))}
    prefix = rng.choice(["", "", "dev_", "t0123456789_", "_"])
    if rng.random() < 0.5:
        return WarehouseSettings(kind="duckdb", path=rng.choice([_odd_path(rng), ":memory:", "/data/nba.duckdb"]),
                                 datasets=datasets, dataset_prefix=prefix)
    endpoint = rng.choice([None, "http://127.0.0.1:9050", "https://bq.example:8443/base/", "http://h/?a=b&c=d#f"])
    return WarehouseSettings(kind="bigquery", project=rng.choice(["my-project-123", "test-project", "p"]),
                             location=rng.choice([None, "US", "europe-west1"]), endpoint=endpoint,
                             datasets=datasets, dataset_prefix=prefix)


def test_format_then_parse_gives_the_same_settings_for_both_kinds() -> None:
    rng = random.Random(20261129)
    kinds = {"duckdb": 0, "bigquery": 0, "mapped": 0, "plain": 0}
    for _ in range(2000):
        s = _settings(rng)
        text = format_warehouse_url(s)
        assert "\n" not in text
        back = parse_warehouse_url(text)
        assert back == s, (s, text, back)
        assert format_warehouse_url(back) == text  # canonical: formatting is a fixed point
        kinds[s.kind] += 1
        kinds["mapped" if s.datasets else "plain"] += 1
    assert min(kinds.values()) > 300, kinds  # every shape was exercised, not only one


def test_a_duckdb_file_without_mappings_stays_a_plain_absolute_path(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert format_warehouse_url(WarehouseSettings(kind="duckdb", path="data/nba.duckdb")) == str(
        tmp_path / "data" / "nba.duckdb")
    mapped = format_warehouse_url(WarehouseSettings(kind="duckdb", path="w h.duckdb", datasets={"nba_raw": "raw_v2"}))
    assert mapped == f"duckdb://{tmp_path}/w%20h.duckdb?dataset.nba_raw=raw_v2"
    # a plain path is taken literally, even with URL-looking characters in it
    assert parse_warehouse_url("odd?dataset.x=y#z").path == "odd?dataset.x=y#z"
    assert parse_warehouse_url("duckdb://rel/w.duckdb").path == "rel/w.duckdb"


def test_the_bigquery_form_is_the_one_the_jobs_always_accepted() -> None:
    s = WarehouseSettings(kind="bigquery", project="test-project", location="US", endpoint="http://127.0.0.1:9050",
                          datasets={"nba_raw": "raw_v2"}, dataset_prefix="dev_")
    assert format_warehouse_url(s) == ("bigquery://test-project?location=US&endpoint=http://127.0.0.1:9050"
                                       "&prefix=dev_&dataset.nba_raw=raw_v2")


@pytest.mark.parametrize("text, fragment", [
    ("", "empty path"),
    ("bigquery://", "expected bigquery://PROJECT"),
    ("bigquery://p/extra", "expected bigquery://PROJECT"),
    ("bigquery://p?foo=1", "unknown parameter 'foo'"),
    ("bigquery://p?location", "malformed parameters"),
    ("bigquery://p?location=US&location=EU", "parameter 'location' given twice"),
    ("bigquery://p?endpoint=ftp://x", "endpoint 'ftp://x' is not an http(s)://HOST[:PORT] URL"),
    ("bigquery://p?endpoint=http://127.0.0.1:notaport", "endpoint 'http://127.0.0.1:notaport'"),
    ("bigquery://p?dataset.nba_raw=raw-v2", "invalid dataset name 'raw-v2'"),
    ("bigquery://p?dataset.=x", "invalid dataset name ''"),
    ("bigquery://p?prefix=1x", "invalid dataset prefix '1x'"),
    ("duckdb://", "expected duckdb://PATH"),
    ("duckdb://?dataset.a=b", "expected duckdb://PATH"),
    ("duckdb:///w.duckdb?location=US", "unknown parameter 'location' (expected prefix, dataset.<name>)"),
    ("duckdb:///w.duckdb?dataset.a=b&&x", "malformed parameters"),
    ("postgres://host/db", "expected a DuckDB file path, duckdb://PATH or bigquery://PROJECT"),
])
def test_a_malformed_url_is_one_line_naming_it(text: str, fragment: str) -> None:
    with pytest.raises(UsageError) as e:
        parse_warehouse_url(text, what="--warehouse")
    msg = str(e.value)
    assert msg.startswith(f"--warehouse {text!r}: ") and fragment in msg and "\n" not in msg, msg


# ------------------------------------------------------------------------------------------------ end to end
START, END = "2024-01-05", "2024-01-12"


def test_a_pipeline_with_mapped_duckdb_datasets_writes_and_gates_the_mapped_ones(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BACKFILL_LOGS_DIR", raising=False)
    db = tmp_path / "wh.duckdb"
    mapping = {"nba_raw": "raw_v2", "nba_analytics": "an_v2"}
    raw_url = format_warehouse_url(WarehouseSettings(kind="duckdb", path=str(db), datasets={"nba_raw": "raw_v2"}))
    subprocess.run([sys.executable, "-m", "nba_pipeline.sample_data", "--warehouse", raw_url, "--start", START,
                    "--end", END, "--seasons", str(REPO / "config" / "seasons.yaml")],
                   check=True, capture_output=True, timeout=300)
    (tmp_path / "p.yaml").write_text(f"""
pipeline: mapped
warehouse:
  duckdb: {{path: {db}, datasets: {{nba_raw: raw_v2, nba_analytics: an_v2}}}}
calendar: {REPO / 'config' / 'seasons.yaml'}
suites: [{REPO / 'config' / 'suites'}]
defaults: {{workers: 1, retries: 0}}
polling: {{interval: 0.1s}}
phases:
  - name: team_offense_game_summary
    command: ["{{python}}", -m, nba_pipeline.team_offense, --dates-file, "{{dates_file}}", --workers, "{{workers}}",
              --checkpoint, "{{checkpoint}}", --warehouse, "{{warehouse}}"]
    dates: {{start: {START}, end: {END}}}
    post: team_offense_game_summary
""")
    r = CliRunner().invoke(cli, ["run", "p.yaml"])
    assert r.exit_code == 0, r.output
    run_dir = next((tmp_path / "logs" / "runs").iterdir())
    with open_state(run_dir) as st:
        phase = st.phase("team_offense_game_summary")
        gates = st.gate_results("team_offense_game_summary")
    assert phase.status == "passed", phase
    # the job was handed the mapping, and the gate that read the mapped datasets passed
    assert phase.cmdline and f"duckdb://{db}?dataset.nba_analytics=an_v2&dataset.nba_raw=raw_v2" in phase.cmdline
    assert [(g.kind, g.status) for g in gates] == [("post", "pass")], gates
    con = duckdb.connect(str(db), read_only=True)
    try:
        schemas = {s for (s,) in con.execute("SELECT schema_name FROM duckdb_tables()").fetchall()}
        written = con.execute("SELECT count(*) FROM an_v2.team_offense_game_summary").fetchone()[0]
    finally:
        con.close()
    assert {"raw_v2", "an_v2"} <= schemas and not schemas & set(mapping), schemas
    assert written > 0
