"""`backfill progress LOGFILE`: the standalone log reader, on logs written by the real fake jobs."""
from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from backfill_orchestrator.cli import cli

FAKES = Path(__file__).parent / "fakes"
PY = sys.executable
BACKFILL = str(Path(sys.executable).parent / "backfill")


def run_fake(tmp_path: Path, fake: str, *args: str) -> Path:
    log = tmp_path / f"{fake}.log"
    with open(log, "ab") as out:
        subprocess.run([PY, str(FAKES / f"{fake}.py"), *args], stdout=out, stderr=subprocess.STDOUT, check=False)
    return log


def invoke(*args: str):
    return CliRunner().invoke(cli, ["progress", *args])


@pytest.mark.parametrize("fake,fmt", [("legacy_sequential", "legacy-sequential"),
                                      ("legacy_parallel", "legacy-parallel"), ("jobkit_fake", "jobkit")])
def test_summary_of_each_format_with_failed_dates(tmp_path, fake, fmt):
    log = run_fake(tmp_path, fake, "--days", "25", "--fail", "2024-10-24", "--fail", "2024-10-25",
                   "--fail", "2024-11-01", "--records", "2345")
    r = invoke(str(log))
    assert r.exit_code == 1, r.output
    assert f"format:    {fmt}\n" in r.output
    assert "status:    failed\n" in r.output
    assert "progress:  25/25 days (100.0%)  ok=22 failed=3 skipped=0\n" in r.output
    assert f"records:   {22 * 2345:,}\n" in r.output
    assert "failed:    2024-10-24..2024-10-25 (2 dates), 2024-11-01\n" in r.output


def test_clean_log_exits_0_and_forced_format(tmp_path):
    log = run_fake(tmp_path, "legacy_parallel", "--days", "12")
    r = invoke("--format", "legacy-parallel", str(log))
    assert r.exit_code == 0 and "status:    ok\n" in r.output and "failed:" not in r.output


def test_json_output(tmp_path):
    log = run_fake(tmp_path, "jobkit_fake", "--days", "6", "--fail", "2024-10-23", "--skip", "2024-10-24")
    r = invoke("--json", str(log))
    assert r.exit_code == 1
    data = json.loads(r.output)
    assert data["log"] == str(log) and data["status"] == "failed" and data["format"] == "jobkit"
    assert (data["total"], data["done"], data["ok"], data["failed"], data["skipped"]) == (6, 6, 4, 1, 1)
    assert data["failed_dates"] == ["2024-10-23"] and data["percent"] == 100.0
    assert data["retry_command"].endswith("--dates 2024-10-23")


def test_crashed_and_incomplete_legacy_logs(tmp_path):
    log = run_fake(tmp_path, "legacy_sequential", "--days", "20", "--crash-after", "12")
    r = invoke(str(log))
    assert r.exit_code == 1
    assert "status:    fatal  Traceback (most recent call last): ... RuntimeError: connection reset by peer" in r.output
    assert "progress:  12/20 days (60.0%)" in r.output
    log = run_fake(tmp_path, "legacy_parallel", "--days", "20", "--no-summary", "--no-newline-at-end")
    r = invoke(str(log))
    assert r.exit_code == 0
    assert "status:    incomplete  (no completion block" in r.output and "progress:  20/20 days" in r.output


def test_custom_format_from_the_pipeline_config(tmp_path):
    cfg = tmp_path / "pipeline.yaml"
    cfg.write_text("pipeline: t\n"
                   "warehouse: {duckdb: {path: w.duckdb}}\n"
                   "formats:\n"
                   "  mine:\n"
                   "    progress: 'done (?P<done>[\\d,]+) of (?P<total>[\\d,]+)'\n"
                   "    date_failed: 'FAIL (?P<date>\\d{4}-\\d\\d-\\d\\d)'\n"
                   "phases:\n"
                   "  - name: a\n"
                   "    command: [echo, '{start}']\n"
                   "    dates: {start: 2024-10-01, end: 2024-10-03}\n")
    log = tmp_path / "custom.log"
    log.write_text("done 1 of 3\nFAIL 2024-10-02\ndone 2 of 3\n")
    r = invoke("--config", str(cfg), "--format", "mine", str(log))
    assert r.exit_code == 1 and "format:    mine\n" in r.output and "progress:  2/3 days" in r.output
    assert "failed:    2024-10-02" in r.output
    r = invoke("--config", str(cfg), str(log))  # auto-detected among the custom formats too
    assert "format:    mine\n" in r.output


def test_bad_arguments_exit_2_with_one_line(tmp_path):
    r = invoke(str(tmp_path / "missing.log"))
    assert r.exit_code == 2 and r.output.strip() == f"error: {tmp_path / 'missing.log'}: no such log file"
    log = tmp_path / "x.log"
    log.write_text("[jobkit] START job=x dates=1 workers=1 pid=1\n")
    r = invoke("--format", "legacy", str(log))
    assert r.exit_code == 2 and r.output.strip().startswith("error: unknown progress format 'legacy' (known: auto,")
    bad = tmp_path / "bad.yaml"
    bad.write_text("pipeline: t\nformats: {mine: {progress: '(unclosed'}}\n")
    r = invoke("--config", str(bad), str(log))
    assert r.exit_code == 2 and r.output.startswith("error: ") and "Traceback" not in r.output


def test_follow_prints_lines_until_the_completion_marker(tmp_path):
    # The job's lines reach the followed log in two parts, the second only once the reader has printed the
    # first: the order of events, not the speed of the machine, decides what the reader sees.
    whole = run_fake(tmp_path, "jobkit_fake", "--days", "30", "--sleep", "0").read_bytes().splitlines(keepends=True)
    log = tmp_path / "growing.log"
    cut = [i for i, line in enumerate(whole) if line.startswith(b"[jobkit] DATE ")][9] + 1  # up to the 10th date
    log.write_bytes(b"".join(whole[:cut]))
    reader = subprocess.Popen([BACKFILL, "progress", "-f", "--every", "0.2", str(log)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
    try:
        seen = _read_until(reader, re.compile(rb" phase=growing 10/30 days .* records=12,340 "))
        with open(log, "ab") as out:
            out.write(b"".join(whole[cut:]))
        rest, _ = reader.communicate(timeout=60)
    finally:
        if reader.poll() is None:
            reader.kill()
    assert reader.returncode == 0
    output = (seen + rest).decode()
    lines = [line for line in output.splitlines() if " phase=growing " in line]
    assert " 10/30 days " in lines[0] and "complete=" not in lines[0]  # progress while the job ran
    assert lines[-1].endswith("complete=ok") and " 30/30 days (100.0%) ok=30 failed=0 records=37,020 " in lines[-1]
    assert "status:    ok" in output


def _read_until(proc: subprocess.Popen, pattern: re.Pattern[bytes], timeout: float = 60.0) -> bytes:
    """What `proc` printed up to the first line matching `pattern` (the timeout only guards a broken reader)."""
    out, deadline = b"", time.monotonic() + timeout
    while not pattern.search(out):
        assert time.monotonic() < deadline and proc.poll() is None, out
        if select.select([proc.stdout], [], [], 1.0)[0]:
            out += os.read(proc.stdout.fileno(), 65536)
    return out
