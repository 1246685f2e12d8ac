"""A phase's log under the hands of logrotate and people, followed by the orchestrator's own code (process.launch,
progress.follow, LogFollower, the jobkit parser) while a real writer process writes it. (Single-file cases - a
truncation, a rename, invalid UTF-8, a partial last line, a huge backlog - are in tests/test_progress.py.)

The writer stops at a gate between its two halves, so every rotation happens at a known point: counts are exact."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from backfill_orchestrator import process
from backfill_orchestrator.progress import LogFollower, follow, read_into
from backfill_orchestrator.progress_formats import parser_for
from orch_harness import wait_for

from conftest import JOBS

ROOT = Path(__file__).resolve().parents[2]
DAYS = 10


def _dates(tmp_path: Path) -> Path:
    p = tmp_path / "dates"
    p.write_text("".join(f"2024-10-{d}\n" for d in range(22, 22 + DAYS)))
    return p


def _rotate(mode: str, log: Path) -> None:
    if mode == "copytruncate":  # logrotate's copytruncate: copy, then truncate in place (the writer keeps its fd)
        shutil.copy(log, log.with_suffix(".log.1"))
        os.truncate(log, 0)
    elif mode == "rename":  # logrotate's default: rename; the writer keeps writing to the renamed file
        log.rename(log.with_suffix(".log.1"))
    elif mode == "delete":  # `rm` by a person: the writer keeps writing to the unlinked file
        log.unlink()
    elif mode == "garbage":  # a library dumps invalid UTF-8 and a half line into the log
        with open(log, "ab") as f:
            f.write(b"\xff\xfe binary \xc3\x28 noise\n[jobkit] DATE 2024-10-2")


@pytest.mark.parametrize("mode", ["copytruncate", "rename", "delete", "garbage"])
def test_a_log_rotated_mid_phase_is_followed_to_the_end_with_exact_counts(tmp_path: Path, mode: str) -> None:
    log, gate = tmp_path / "phase.log", tmp_path / "gate"
    handle = process.launch([sys.executable, str(JOBS / "gated_job.py"), "--dates-file", str(_dates(tmp_path)),
                             "--gate", str(gate), "--before", "5"], log)
    parser = parser_for("jobkit")
    with LogFollower(log) as follower:
        wait_for(lambda: read_into(follower, parser) is not None and parser.snapshot().done >= 5,
                 what="the first half read")
        _rotate(mode, log)
        # a poll between the rotation and the writer's next lines (in a real run: the orchestrator polls every
        # second). copytruncate is lossy by nature when more than the old size is written again within one poll:
        # logrotate's own manual says so; this test pins the behaviour where it is exact
        read_into(follower, parser)
        gate.touch()
        result = follow(handle, follower, parser, poll=0.05)
    p = result.progress
    assert result.exit is not None and result.exit.returncode == 0
    assert (p.done, p.ok, p.failed, p.completed, p.complete_status) == (DAYS, DAYS, 0, True, "ok")


def test_the_log_follow_bench_counts_exactly_at_50k_lines_per_second_in_small(tmp_path: Path) -> None:
    """bench/bench_log_follow.py at CI size (the 1 GB figure is in docs/reliability.md): every line written is
    read, every date counted once, and the follower's memory does not grow with the log."""
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_log_follow.py"), "--size", "8M", "--rate",
                        "50000", "--poll", "0.2", "--json"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["counts_exact"] and out["completed"] and out["exit"] == "exit 0", out
    assert out["lines_read"] == out["lines_written"] > 80_000, out
    assert out["peak_rss_mb"] < 100, out
