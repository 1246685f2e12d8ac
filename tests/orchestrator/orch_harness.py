"""Harness for the orchestrator tests: a DuckDB warehouse with one small table, tiny suites, a config writer, and
the real `backfill` CLI run as a subprocess (so signals, kill -9, locks and process groups are real).

Synchronisation is by polling state/log conditions with deadlines (`wait_for`), never by fixed sleeps."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import duckdb
import psutil

from backfill_orchestrator.state import open_state

ROOT = Path(__file__).resolve().parents[2]
FAKES = ROOT / "tests" / "fakes"
JOBS = Path(__file__).resolve().parent / "jobs"
BACKFILL = Path(sys.executable).parent / "backfill"
START, END = "2024-10-22", "2024-10-31"  # 10 dates

SUITES = {
    # v is filled on every row: passes
    "items": [{"name": "v_coverage", "type": "coverage", "column": "v", "severity": "critical", "min": "90%"}],
    # w is NULL on every row: a critical failure ...
    "items_bad": [{"name": "w_coverage", "type": "coverage", "column": "w", "severity": "critical", "min": "90%"}],
    # ... or, as a warning check, a warning
    "items_warn": [{"name": "w_coverage", "type": "coverage", "column": "w", "severity": "warning", "min": "90%"},
                   {"name": "v_coverage", "type": "coverage", "column": "v", "severity": "critical", "min": "90%"}],
}


def wait_for(cond: Callable[[], object], timeout: float = 20.0, what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def job(script: str, *args: str) -> list[str]:
    """A phase command running one of the fakes (or our own jobs) on the orchestrator's dates file."""
    path = FAKES / script if (FAKES / script).exists() else JOBS / script
    return ["{python}", str(path), "--dates-file", "{dates_file}", *args]


@dataclass
class Result:
    code: int
    out: str
    err: str


class Harness:
    def __init__(self, root: Path):
        self.root = root
        self.logs = root / "logs"
        con = duckdb.connect(str(root / "wh.duckdb"))
        con.execute("CREATE SCHEMA demo; CREATE TABLE demo.items (d DATE, v BIGINT, w BIGINT)")
        con.execute(f"INSERT INTO demo.items SELECT DATE '{START}' + i::INTEGER, i, NULL FROM range(10) t(i)")
        con.close()
        (root / "suites").mkdir()
        for name, checks in SUITES.items():
            (root / "suites" / f"{name}.yaml").write_text(json.dumps(
                {"suite": name, "table": "demo.items", "date_column": "d", "checks": checks}))

    def config(self, phases: list[dict], name: str = "pipeline.yaml", **top: object) -> Path:
        for p in phases:
            p.setdefault("dates", {"start": START, "end": END})
        cfg = {"pipeline": "t", "warehouse": {"duckdb": {"path": "wh.duckdb"}}, "suites": ["suites"],
               "logs_dir": "logs", "polling": {"interval": "0.2s", "progress_every": "0.5s"}, "phases": phases, **top}
        path = self.root / name
        path.write_text(json.dumps(cfg))  # JSON is YAML
        return path

    def env(self) -> dict[str, str]:
        return {**os.environ, "BACKFILL_LOGS_DIR": str(self.logs)}

    def cli(self, *args: str, timeout: float = 60.0) -> Result:
        p = subprocess.run([str(BACKFILL), *args], cwd=self.root, capture_output=True, text=True, timeout=timeout,
                           env=self.env())
        return Result(p.returncode, p.stdout, p.stderr)

    def start(self, *args: str) -> subprocess.Popen:
        """`backfill ...` in the background (its own session, like a nohup launch)."""
        return subprocess.Popen([str(BACKFILL), *args], cwd=self.root, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=self.env(), start_new_session=True)

    def run_dir(self) -> Path:
        return wait_for(lambda: (self.logs / "latest").resolve() if (self.logs / "latest" / "state.sqlite").exists()
                        else None, what="a run directory")

    def phase(self, name: str, run_dir: Path | None = None):
        with open_state(run_dir or self.run_dir()) as st:
            return st.phase(name)

    def run_record(self, run_dir: Path | None = None):
        with open_state(run_dir or self.run_dir()) as st:
            return st.run()

    def events(self, run_dir: Path | None = None, kind: str | None = None):
        with open_state(run_dir or self.run_dir()) as st:
            return [e for e in st.events() if kind is None or e.kind == kind]

    def log_lines(self, path: str | Path, prefix: str) -> int:
        p = Path(path)
        return sum(1 for line in p.read_text(errors="replace").splitlines() if line.startswith(prefix)) \
            if p.exists() else 0


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def running(h: "Harness", phase: str, min_dates: int = 1):
    """Wait until `phase` runs with a recorded PID and has logged at least `min_dates` dates."""
    def ready():
        try:
            rec = h.phase(phase)
        except Exception:  # the state may not have the phase row yet
            return None
        if rec.status == "running" and rec.pid and h.log_lines(rec.log_path, "[jobkit] DATE") >= min_dates:
            return rec
        return None
    return wait_for(ready, what=f"phase {phase} running")


def set_state(run_dir: Path, *statements: tuple[str, tuple]) -> None:
    """Put a run's state where a crash at a given moment would have left it."""
    con = sqlite3.connect(str(run_dir / "state.sqlite"))
    with con:
        for sql, args in statements:
            con.execute(sql, args)
    con.close()


def dead_pid() -> int:
    """A PID that was just used and has ended (a dead orchestrator's)."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid
