"""User mistakes on every command: ONE line on stderr naming the argument/file (and line/key), exit 2, no
traceback, nothing written. `backfill` commands run in-process (CliRunner); the jobs as real subprocesses;
Ctrl-C as a real SIGINT to a real `backfill` process."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner

from backfill_orchestrator.cli import cli
from backfill_orchestrator.state import RunState, open_state

ROOT = Path(__file__).resolve().parents[1]
PHASES = ["team_offense_game_summary", "player_game_summary", "player_composite_factors"]
RUN = "20260101T000000Z-nogates"
UNREADABLE = "docs/runbook.md#state-unreadable"
# NUL bytes and invalid UTF-8: binary by any rule
BINARY = bytes(range(256)) * 4


def _config(tmp: Path, name: str, suites: str, calendar: str, duckdb: str) -> Path:
    text = (ROOT / "config" / "pipeline.yaml").read_text()
    text = text.replace("suites: [config/suites]", f"suites: [{suites}]")
    text = text.replace("calendar: config/seasons.yaml", f"calendar: {calendar}")
    text = text.replace("${BACKFILL_DUCKDB:-data/nba.duckdb}", duckdb)
    path = tmp / "cfg" / name
    path.write_text(text)
    return path


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Mistake material: binary/empty files, a directory, bad configs, broken run directories, one good run."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BACKFILL_LOGS_DIR", raising=False)
    (tmp_path / "bin.dat").write_bytes(BINARY)
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "emptydir").mkdir()
    (tmp_path / "notduck.duckdb").write_text("not duckdb\n")
    (tmp_path / "badcp.json").write_text('{"job": "player_game_summary", "done": ["2024-1')
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "badyaml.yaml").write_text("pipeline: x\n  bad: [\n")
    (tmp_path / "cfg" / "bell.yaml").write_text("pipeline: x\nphases: [\x07]\n")
    suites, cal = ROOT / "config" / "suites", ROOT / "config" / "seasons.yaml"
    _config(tmp_path, "good.yaml", str(suites), str(cal), str(tmp_path / "wh.duckdb"))
    _config(tmp_path, "nosuites.yaml", "nosuch/suites", str(cal), str(tmp_path / "wh.duckdb"))
    _config(tmp_path, "nocal.yaml", str(suites), "nosuch/seasons.yaml", str(tmp_path / "wh.duckdb"))
    _config(tmp_path, "notduck.yaml", str(suites), str(cal), str(tmp_path / "notduck.duckdb"))
    runs = tmp_path / "logs" / "runs"
    for name in ("nostate", "corrupt", "emptystate"):
        (runs / name).mkdir(parents=True)
    (runs / "corrupt" / "state.sqlite").write_text("not a database at all\n")
    (runs / "emptystate" / "state.sqlite").write_bytes(b"")
    RunState.create(runs / RUN, RUN, "nba-backfill", str(tmp_path / "cfg" / "good.yaml"), "duckdb:wh",
                    PHASES).close()
    return tmp_path


def _files(root: Path) -> dict[str, bytes]:
    """Every file's content (SQLite's transient -wal/-shm left out: a reader opens and removes them)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and not p.name.endswith(("-wal", "-shm"))}


def _one_line_error(stderr: str, fragment: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert fragment in lines[0], lines[0]
    return lines[0]


L = ["--logs-dir", "logs"]
VAL = ["--suite", "player_game_summary", "--suites", str(ROOT / "config" / "suites")]

CASES = [
    # config check / plan / run: the config file
    ("config-missing", ["config", "check", "nope.yaml"], "nope.yaml: file not found"),
    ("config-directory", ["config", "check", "emptydir"], "'emptydir' is a directory"),
    ("config-empty", ["config", "check", "empty.txt"], "empty.txt:1: the file is empty"),
    ("config-binary", ["config", "check", "bin.dat"], "bin.dat: cannot read"),
    ("config-bad-yaml", ["config", "check", "cfg/badyaml.yaml"], "cfg/badyaml.yaml:2: YAML syntax error"),
    ("config-missing-suites", ["config", "check", "cfg/nosuites.yaml"], "suites[0]: no such file or directory"),
    ("config-missing-calendar", ["config", "check", "cfg/nocal.yaml"], "calendar: file not found"),
    ("plan-binary", ["plan", "bin.dat"], "bin.dat: cannot read"),
    ("plan-missing-calendar", ["plan", "cfg/nocal.yaml"], "calendar: file not found"),
    ("run-directory", ["run", "emptydir"], "'emptydir' is a directory"),
    ("run-bad-yaml", ["run", "cfg/badyaml.yaml"], "cfg/badyaml.yaml:2:"),
    ("plan-control-character", ["plan", "cfg/bell.yaml"], "cfg/bell.yaml:2: not YAML: character #x0007"),
    ("run-missing-suites", ["run", "cfg/nosuites.yaml"], "suites[0]: no such file or directory"),
    # --adopt garbage: refused before the plan is printed or a run directory exists
    ("adopt-x", ["run", "cfg/good.yaml", "--adopt", "x"], "--adopt 'x': expected PHASE=PID"),
    ("adopt-a=b", ["run", "cfg/good.yaml", "--adopt", "a=b"], "--adopt 'a=b': expected PHASE=PID"),
    ("adopt-notapid", ["run", "cfg/good.yaml", "--adopt", "player_game_summary=notapid"], "expected PHASE=PID"),
    ("adopt-no-such-pid", ["run", "cfg/good.yaml", "--adopt", "player_game_summary=99999999"],
     "--adopt player_game_summary=99999999: cannot adopt PID 99999999: no such process"),
    ("adopt-unknown-phase", ["run", "cfg/good.yaml", "--adopt", "nosuch=1"], "no phase named 'nosuch'"),
    ("run-only-unknown", ["run", "cfg/good.yaml", "--only", "nosuch"], "no phase named 'nosuch'"),
    # RUN arguments
    *[(f"{cmd}-unknown-run", [cmd, "nosuchrun", *L], "no run 'nosuchrun'")
      for cmd in ("resume", "status", "stop", "report", "metrics", "logs")],
    ("restart-unknown-run", ["restart", "player_game_summary", "--run", "nosuchrun", *L], "no run 'nosuchrun'"),
    ("restart-bad-date", ["restart", "player_game_summary", "--run", RUN, "--from", "2024-02-30", *L],
     "--from: expected a date like 2024-10-22, got '2024-02-30'"),
    ("restart-unknown-phase", ["restart", "nosuch", "--run", RUN, *L], "no phase named 'nosuch'"),
    ("logs-unknown-phase", ["logs", RUN, "nosuch", *L], f"run {RUN} has no phase 'nosuch'"),
    ("logs-no-log-yet", ["logs", RUN, "player_game_summary", *L], "player_game_summary.log: no log yet"),
    ("logs-dir-missing", ["logs", "--logs-dir", "nosuchlogs"], "no runs under nosuchlogs/runs"),
    ("status-logs-dir-missing", ["status", "--logs-dir", "nosuchlogs"], "no runs under nosuchlogs/runs"),
    ("logs-dir-is-a-file", ["logs", "--logs-dir", "empty.txt"], "'--logs-dir': Directory 'empty.txt' is a file"),
    ("status-events-negative", ["status", RUN, *L, "--events", "-1"], "'--events': -1 is not in the range"),
    ("stop-grace-negative", ["stop", RUN, *L, "--grace", "-5"], "'--grace': -5.0 is not in the range"),
    ("report-out-under-a-file", ["report", RUN, *L, "--out", "empty.txt/r.html"],
     "empty.txt/r.html: cannot write the report: a parent is not a directory"),
    ("report-out-directory", ["report", RUN, *L, "--out", "emptydir"], "'emptydir' is a directory"),
    ("metrics-out-under-a-file", ["metrics", RUN, *L, "--out", "empty.txt/m.prom"],
     "empty.txt/m.prom: cannot write metrics: a parent is not a directory"),
    # validate
    ("validate-bad-date", ["validate", *VAL, "--start-date", "2024-02-30", "--end-date", "2024-03-01",
                           "--warehouse", "notduck.duckdb"], "--start-date: expected a date"),
    ("validate-reversed", ["validate", *VAL, "--start-date", "2024-03-01", "--end-date", "2024-02-01",
                           "--warehouse", "notduck.duckdb"], "--end-date: end date 2024-02-01 is before start date 2024-03-01"),
    ("validate-baseline-reversed", ["validate", *VAL, "--start-date", "2024-02-01", "--end-date", "2024-02-02",
                                    "--baseline-start", "2023-03-01", "--baseline-end", "2023-02-01",
                                    "--warehouse", "notduck.duckdb"], "--baseline-end: end date 2023-02-01 is before"),
    ("validate-not-duckdb", ["validate", *VAL, "--start-date", "2024-02-01", "--end-date", "2024-02-02",
                             "--warehouse", "notduck.duckdb"], "--warehouse notduck.duckdb: cannot open DuckDB database notduck.duckdb"),
    ("validate-config-not-duckdb", ["validate", *VAL, "--start-date", "2024-02-01", "--end-date", "2024-02-02",
                                    "--config", "cfg/notduck.yaml"], "cfg/notduck.yaml: warehouse "),
    ("validate-duckdb-missing-dir", ["validate", *VAL, "--start-date", "2024-02-01", "--end-date", "2024-02-02",
                                     "--warehouse", "nodir/x.duckdb"], "--warehouse: no such DuckDB file"),
    ("validate-calendar-missing", ["validate", *VAL, "--start-date", "2024-02-01", "--end-date", "2024-02-02",
                                   "--warehouse", "notduck.duckdb", "--calendar", "nosuch.yaml"],
     "nosuch.yaml: file not found"),
    # progress
    ("progress-missing", ["progress", "nope.log"], "nope.log: no such log file"),
    ("progress-directory", ["progress", "emptydir"], "'emptydir' is a directory"),
    ("progress-binary", ["progress", "bin.dat"], "bin.dat: not a text log"),
    ("progress-unknown-format", ["progress", "empty.txt", "--format", "nosuch"], "unknown progress format 'nosuch'"),
    # dates
    ("dates-bad-date", ["dates", "--start", "2024-02-30", "--end", "2024-03-01"], "--start: expected a date"),
    ("dates-reversed", ["dates", "--start", "2024-03-01", "--end", "2024-02-01"],
     "end date 2024-02-01 is before start date 2024-03-01"),
    ("dates-calendar-missing", ["dates", "--start", "2024-02-01", "--end", "2024-03-01", "--calendar", "nope.yaml"],
     "--calendar: file not found: nope.yaml"),
    ("dates-calendar-binary", ["dates", "--start", "2024-02-01", "--end", "2024-03-01", "--calendar", "bin.dat"],
     "bin.dat: cannot read"),
    ("dates-out-under-a-file", ["dates", "--start", "2024-02-01", "--end", "2024-03-01", "--out", "empty.txt/d"],
     "--out empty.txt/d: cannot write the date list: a parent is not a directory"),
    ("unknown-option", ["status", "--bogus"], "No such option '--bogus'"),
]
# a RUN whose state.sqlite is missing, corrupt or empty: every command that reads a run
STATE_CASES = [(f"{cmd}-{run}", argv(run), "run state unreadable")
               for run in ("nostate", "corrupt", "emptystate")
               for cmd, argv in [("resume", lambda r: ["resume", r, *L]), ("status", lambda r: ["status", r, *L]),
                                 ("stop", lambda r: ["stop", r, *L]), ("report", lambda r: ["report", r, *L]),
                                 ("metrics", lambda r: ["metrics", r, *L]), ("logs", lambda r: ["logs", r, *L]),
                                 ("restart", lambda r: ["restart", "player_game_summary", "--run", r, *L])]]


@pytest.mark.parametrize("argv, fragment", [c[1:] for c in CASES + STATE_CASES],
                         ids=[c[0] for c in CASES + STATE_CASES])
def test_backfill_mistake(scratch: Path, argv: list[str], fragment: str) -> None:
    before = _files(scratch)
    r = CliRunner().invoke(cli, argv)
    assert "Traceback" not in r.output and (r.exception is None or isinstance(r.exception, SystemExit)), r.output
    assert r.exit_code == 2, r.output
    line = _one_line_error(r.stderr, fragment)
    if fragment == "run state unreadable":
        assert line.endswith(UNREADABLE), line
    assert _files(scratch) == before  # nothing written: no run dir, report, metrics, date list, state change
    assert sorted(p.name for p in (scratch / "logs" / "runs").iterdir()) == sorted(
        ["nostate", "corrupt", "emptystate", RUN])


def test_reading_an_empty_state_file_leaves_it_empty(scratch: Path) -> None:
    # SQLite would make a database of it (WAL mode writes a header): a reader must not change what it reads
    CliRunner().invoke(cli, ["status", "emptystate", *L])
    CliRunner().invoke(cli, ["run", "cfg/good.yaml", "--adopt", "x"])  # reads the latest runs for its plan
    assert (scratch / "logs" / "runs" / "emptystate" / "state.sqlite").read_bytes() == b""


@pytest.mark.parametrize("fmt, marker", [("md", "| player_game_summary | pending |"), ("html", "<!DOCTYPE html>"),
                                         ("json", '"run_id": "20260101T000000Z-nogates"')])
def test_report_of_a_run_without_gates(scratch: Path, fmt: str, marker: str) -> None:
    r = CliRunner().invoke(cli, ["report", RUN, *L, "--format", fmt])
    assert r.exit_code == 0 and marker in r.stdout and r.stderr == "", r.output


def test_a_job_refusing_its_arguments_fails_the_phase_at_once_in_its_own_words(scratch: Path) -> None:
    # exit 2 before any date = the same command would fail the same way: no retries, the job's line in the message
    r = CliRunner().invoke(cli, ["run", "cfg/notduck.yaml"])
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    run_dir = next(d for d in (scratch / "logs" / "runs").iterdir() if d.name not in (
        "nostate", "corrupt", "emptystate", RUN))
    with open_state(run_dir) as st:
        first = st.phase(PHASES[0])
    assert first.status == "failed" and first.attempt == 1, first
    assert "refused its arguments (exit 2, no date done): error: --warehouse" in first.message
    assert "not a DuckDB database" in first.message


# ------------------------------------------------------------------------------------------------ the jobs
JOB_CASES = [
    ("bad-date", ["--start-date", "2024-02-30", "--end-date", "2024-03-01"], "--start-date: expected a date"),
    ("reversed", ["--start-date", "2024-03-01", "--end-date", "2024-02-01"], "is before start date"),
    ("dates-file-missing", ["--dates-file", "nope.txt"], "nope.txt: cannot read date list"),
    ("dates-file-binary", ["--dates-file", "bin.dat"], "bin.dat: not a text date list"),
    ("dates-file-empty", ["--dates-file", "empty.txt"], "empty.txt: no dates in the file"),
    ("dates-file-directory", ["--dates-file", "emptydir"], "emptydir: cannot read date list"),
    ("workers-0", ["--dates", "2024-02-01", "--workers", "0"], "argument --workers: expected a positive integer"),
    ("batch-days-negative", ["--dates", "2024-02-01", "--batch-days", "-1"], "argument --batch-days"),
    ("bigquery-no-project", ["--dates", "2024-02-01", "--warehouse", "bigquery://"], "--warehouse 'bigquery://'"),
    ("bigquery-unknown-param", ["--dates", "2024-02-01", "--warehouse", "bigquery://p?foo=1"],
     "unknown parameter 'foo'"),
    ("bigquery-bad-endpoint", ["--dates", "2024-02-01", "--warehouse",
                               "bigquery://p?endpoint=http://127.0.0.1:notaport"], "endpoint 'http://127.0.0.1:notaport'"),
    ("duckdb-missing-dir", ["--dates", "2024-02-01", "--warehouse", "nodir/x.duckdb"],
     "--warehouse nodir/x.duckdb: no such DuckDB file"),
    ("duckdb-not-a-database", ["--dates", "2024-02-01", "--warehouse", "notduck.duckdb"],
     "--warehouse notduck.duckdb: not a DuckDB database"),
    ("duckdb-directory", ["--dates", "2024-02-01", "--warehouse", "emptydir"], "--warehouse emptydir: is a directory"),
    ("checkpoint-corrupt", ["--dates", "2024-02-01", "--warehouse", "notduck.duckdb", "--checkpoint", "badcp.json"],
     "badcp.json: unreadable checkpoint (JSONDecodeError"),
    ("checkpoint-directory", ["--dates", "2024-02-01", "--checkpoint", "emptydir"], "emptydir: unreadable checkpoint"),
]


def _job(scratch: Path, module: str, *args: str) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", module, *args]
    if module != "nba_pipeline.sample_data" and "--warehouse" not in args:
        argv += ["--warehouse", "notduck.duckdb"]
    if module != "nba_pipeline.sample_data" and "--checkpoint" not in args:
        argv += ["--checkpoint", "cp.json"]
    return subprocess.run(argv, cwd=scratch, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args, fragment", [c[1:] for c in JOB_CASES], ids=[c[0] for c in JOB_CASES])
def test_job_mistake(scratch: Path, args: list[str], fragment: str) -> None:
    before = _files(scratch)
    p = _job(scratch, "nba_pipeline.player_game_summary", *args)
    assert p.returncode == 2 and "Traceback" not in p.stderr and p.stdout == "", p.stderr
    _one_line_error(p.stderr, fragment)
    assert _files(scratch) == before  # no checkpoint, no new database, no date file


@pytest.mark.parametrize("module", ["nba_pipeline.team_offense", "nba_pipeline.player_composite_factors"])
@pytest.mark.parametrize("args, fragment", [c[1:] for c in JOB_CASES if c[0] in ("bad-date", "duckdb-missing-dir")],
                         ids=["bad-date", "duckdb-missing-dir"])
def test_other_jobs_share_the_rules(scratch: Path, module: str, args: list[str], fragment: str) -> None:
    p = _job(scratch, module, *args)
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    _one_line_error(p.stderr, fragment)
    assert not (scratch / "nodir").exists() and not (scratch / "cp.json").exists()


@pytest.mark.parametrize("args, fragment", [
    (["--out", "s.duckdb", "--start", "2024-02-30"], "--start: expected a date"),
    (["--out", "s.duckdb", "--start", "2024-03-01", "--end", "2024-02-01"], "--end 2024-02-01 is before --start"),
    (["--out", "s.duckdb", "--seasons", "nosuch.yaml"], "nosuch.yaml: file not found"),
    (["--out", "s.duckdb", "--seasons", "bin.dat"], "bin.dat: cannot read"),
    (["--out", "notduck.duckdb"], "--out notduck.duckdb: not a DuckDB database"),
    (["--out", "emptydir"], "--out emptydir: is a directory"),
    (["--warehouse", "bigquery://?x"], "--warehouse 'bigquery://?x'"),
    (["--out", "s.duckdb", "--null-column", "garbage"], "--null-column 'garbage'"),
], ids=["bad-date", "reversed", "seasons-missing", "seasons-binary", "not-duckdb", "directory", "bigquery-url",
        "null-column"])
def test_sample_data_mistake(scratch: Path, args: list[str], fragment: str) -> None:
    before = _files(scratch)
    p = _job(scratch, "nba_pipeline.sample_data", *args)
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    _one_line_error(p.stderr, fragment)
    assert _files(scratch) == before  # in particular no empty s.duckdb left behind


# ------------------------------------------------------------------------------------------------ Ctrl-C
def _interrupt_after(argv: list[str], cwd: Path, marker: str) -> tuple[int, str, str]:
    """Start `argv`, wait (with a deadline) until stdout shows `marker`, send SIGINT, collect the rest."""
    p = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout is not None
    os.set_blocking(p.stdout.fileno(), False)
    seen, deadline = b"", time.monotonic() + 30
    while marker.encode() not in seen:
        assert time.monotonic() < deadline and p.poll() is None, (seen, p.poll())
        try:
            seen += os.read(p.stdout.fileno(), 65536)
        except BlockingIOError:
            time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    return p.returncode, (seen + (out or b"")).decode(), err.decode()


BACKFILL = str(Path(sys.executable).parent / "backfill")


def test_ctrl_c_during_logs_follow_exits_130_quietly(scratch: Path) -> None:
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])  # "the orchestrator"
    try:
        with open_state(scratch / "logs" / "runs" / RUN) as st:
            st.update_run(pid=alive.pid, create_time=psutil.Process(alive.pid).create_time())
        (scratch / "logs" / "runs" / RUN / "orchestrator.log").write_text("line one\n")
        code, out, err = _interrupt_after([BACKFILL, "logs", RUN, "-f", *L], scratch, "line one")
    finally:
        alive.kill()
        alive.wait()
    assert code == 130 and err == "" and out == "line one\n", (code, out, err)


def test_ctrl_c_during_progress_follow_exits_130_quietly(scratch: Path) -> None:
    (scratch / "p.log").write_text("[jobkit] START job=x dates=3 workers=1 pid=1\n")
    code, out, err = _interrupt_after([BACKFILL, "progress", "-f", "--every", "0.1", "p.log"], scratch, "p ")
    assert code == 130 and err == "" and "Traceback" not in out, (code, out, err)
    assert "progress:  0/3 days" in out  # the summary so far, then leave


def test_binary_date_list_and_non_duckdb_file_are_one_line_errors(tmp_path):
    from backfill_orchestrator.dates import read_date_file
    from backfill_orchestrator.errors import UsageError, WarehouseError
    from backfill_orchestrator.warehouse.duckdb import DuckDBWarehouse

    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01\xff\xfe" * 8)
    with pytest.raises(UsageError, match=r"junk\.bin: not a text date list"):
        read_date_file(junk)
    with pytest.raises(WarehouseError, match=r"^cannot open DuckDB database .*junk\.bin: ") as err:
        DuckDBWarehouse(junk)
    assert "\n" not in str(err.value)
