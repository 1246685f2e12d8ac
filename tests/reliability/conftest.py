"""Fixtures of the reliability suite: the orchestrator tests' Harness (real `backfill` subprocesses, a DuckDB
warehouse, tiny suites) and cleanup of whatever a failed test left running."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import psutil
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "orchestrator"))

from orch_harness import Harness, alive  # noqa: E402

from backfill_orchestrator.state import open_state  # noqa: E402

JOBS = Path(__file__).resolve().parent / "jobs"


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    harness = Harness(tmp_path)
    yield harness
    # leave nothing running: kill the process groups of the PIDs this test's runs recorded (and nothing else)
    runs = harness.logs / "runs"
    for d in runs.iterdir() if runs.is_dir() else []:
        try:
            with open_state(d) as st:
                pids = [p.pid for p in st.phases() if p.pid] + [st.run().pid]
        except Exception:  # an unreadable state is what some tests make
            continue
        for pid in pids:
            if pid and pid != os.getpid() and alive(pid):
                try:
                    if str(tmp_path) in " ".join(psutil.Process(pid).cmdline()) or "backfill" in " ".join(
                            psutil.Process(pid).cmdline()):
                        os.killpg(os.getpgid(pid), 9)
                except (psutil.Error, OSError):
                    pass
