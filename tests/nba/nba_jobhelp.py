"""Helpers for the nba_pipeline tests: run a job as a real subprocess and read its progress lines."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence



from backfill_orchestrator.warehouse import Warehouse, WarehouseSettings

ROOT = Path(__file__).resolve().parents[2]

LINE = {
    "START": re.compile(r"^\[jobkit\] START job=\w+ dates=\d+ workers=\d+ pid=\d+$"),
    "DATE": re.compile(r'^\[jobkit\] DATE \d{4}-\d\d-\d\d (ok|skipped|failed) records=\d+ seconds=\d+\.\d\d'
                       r'( reason="[^"]*"| error="[^"]*")?$'),
    "PROGRESS": re.compile(r"^\[jobkit\] PROGRESS \d+/\d+ days ok=\d+ failed=\d+ skipped=\d+ records=\d+ "
                           r"rate=\d+\.\d\d/min eta=(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ|unknown)"
                           r"( retries=\d+ conflicts=\d+)?$"),
    "FAILED": re.compile(r"^\[jobkit\] FAILED .+$"),
    "ESTIMATE": re.compile(r"^\[jobkit\] ESTIMATE bytes=(\d+|unknown)$"),
    "RETRY": re.compile(r"^\[jobkit\] RETRY .+$"),
    "COMPLETE": re.compile(r"^\[jobkit\] COMPLETE status=(ok|failed|interrupted) days=\d+ ok=\d+ failed=\d+ "
                           r"skipped=\d+ records=\d+ seconds=\d+\.\d( retries=\d+ conflicts=\d+)?$"),
}


def job_argv(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", f"nba_pipeline.{module}", *args]


@dataclass
class JobRun:
    code: int
    lines: list[str]
    stderr: str

    def kind(self, kind: str) -> list[str]:
        return [ln for ln in self.lines if ln.startswith(f"[jobkit] {kind} ")]

    def dates(self, status: str | None = None) -> list[str]:
        return [ln.split()[2] for ln in self.kind("DATE") if status is None or ln.split()[3] == status]

    def field(self, line: str, key: str) -> str:
        return re.search(rf"\b{key}=(\S+)", line).group(1)

    @property
    def complete(self) -> str:
        return self.lines[-1]


def check_format(run: JobRun) -> None:
    """Every stdout line is a [jobkit] line in the documented format; START first, COMPLETE last."""
    assert run.lines, run.stderr
    assert LINE["START"].match(run.lines[0]), run.lines[0]
    assert LINE["COMPLETE"].match(run.lines[-1]), run.lines[-1]
    for ln in run.lines:
        kind = ln.split()[1]
        assert kind in LINE and LINE[kind].match(ln), ln


def run_job(module: str, *args: str, timeout: float = 300) -> JobRun:
    p = subprocess.run(job_argv(module, *args), capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    return JobRun(p.returncode, p.stdout.splitlines(), p.stderr)


def run_until(module: str, args: Sequence[str], n_dates: int, sig: int, timeout: float = 120) -> JobRun:
    """Start a job, read its stdout until `n_dates` DATE lines have appeared, send `sig`, collect the rest."""
    proc = subprocess.Popen(job_argv(module, *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT)
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    seen = 0
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        seen += line.startswith("[jobkit] DATE ")
        if seen >= n_dates:
            os.kill(proc.pid, sig)
            break
        assert time.monotonic() < deadline, "job too slow"
    rest, err = proc.communicate(timeout=timeout)
    lines += rest.splitlines()
    return JobRun(proc.returncode, lines, err)


def warehouse_url(settings: WarehouseSettings) -> str:
    """The --warehouse argument for a warehouse the `wh` fixture opened."""
    if settings.kind == "duckdb":
        return settings.path
    return f"bigquery://{settings.project}?endpoint={settings.endpoint}&prefix={settings.dataset_prefix}"


def table_rows(wh: Warehouse, table: str, where: str = "TRUE", params: dict | None = None) -> list[dict]:
    return wh.query(f"SELECT * FROM {table} WHERE {where}", params or {})


