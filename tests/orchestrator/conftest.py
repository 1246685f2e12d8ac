"""The `h` fixture: a fresh Harness (warehouse, suites, config writer, CLI runner) per test; cleans up after."""
from __future__ import annotations

import os
from pathlib import Path

import psutil
import pytest

from backfill_orchestrator.state import open_state
from orch_harness import Harness, alive

@pytest.fixture
def h(tmp_path: Path) -> Harness:
    harness = Harness(tmp_path)
    yield harness
    # leave nothing running: kill whatever phase processes a failed test left behind (by recorded PID only)
    runs = harness.logs / "runs"
    for d in runs.iterdir() if runs.is_dir() else []:
        try:
            with open_state(d) as st:
                pids = [p.pid for p in st.phases() if p.pid] + [st.run().pid]
        except Exception:
            continue
        for pid in pids:
            if pid and pid != os.getpid() and alive(pid):
                try:
                    proc = psutil.Process(pid)
                    if str(tmp_path) in " ".join(proc.cmdline()) or "fakes" in " ".join(proc.cmdline()) \
                            or "backfill" in " ".join(proc.cmdline()):
                        os.killpg(os.getpgid(pid), 9)
                except (psutil.Error, OSError):
                    pass
