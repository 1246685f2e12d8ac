"""The run state and the run's files when the disk or another process gets in the way: state.sqlite truncated or
locked by another process, the disk full while the state, orchestrator.log or a report is written.

Every case ends in one line naming the file and the command that recovers, never a traceback and never a silent
restart from scratch; a full disk is a real one (a small tmpfs mounted for the test: CI runs as root)."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from backfill_orchestrator.runlog import RunLog
from orch_harness import Harness, alive, job, running, wait_for

from conftest import JOBS

SMALL_FS = "2m"


def _mount_tmpfs(path: Path, size: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True,
                       text=True)
    if r.returncode != 0:  # CI runs as root on this kind of machine: a failure here is a broken setup, not a skip
        pytest.fail(f"cannot mount a {size} tmpfs at {path} (root needed for the disk-full tests): {r.stderr.strip()}")


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A small, real filesystem (tmpfs) that a test can fill up."""
    path = tmp_path / "small"
    _mount_tmpfs(path, SMALL_FS)
    yield path
    subprocess.run(["umount", "-l", str(path)], check=False)  # lazy: a process a failed test left may hold it


def fill(fs: Path) -> Path:
    """Fill `fs` to the last byte; the filler file (delete it to give the space back)."""
    filler = fs / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 16, 512, 1):
            try:
                while True:
                    os.write(fd, b"x" * size)
            except OSError as e:
                assert e.errno == 28, e  # ENOSPC
    finally:
        os.close(fd)
    return filler


def _gated(gate: Path, counter: Path) -> list[str]:
    return ["{python}", str(JOBS / "gated_job.py"), "--dates-file", "{dates_file}", "--gate", str(gate),
            "--counter", str(counter)]


def _one_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def _snapshot(run_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run_dir.iterdir()) if p.is_file()}


# --- truncated / locked -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("keep", [100, 4096, 0.5, -4096], ids=["header", "first-page", "half", "last-page-cut"])
def test_a_truncated_state_is_one_line_with_the_command_that_recovers(h: Harness, keep: float) -> None:
    cfg = h.config([{"name": "a", "command": job("jobkit_fake.py"), "post": "items"}])
    assert h.cli("run", str(cfg)).code == 0
    run_dir = h.run_dir()
    state = run_dir / "state.sqlite"
    size = state.stat().st_size
    with open(state, "r+b") as f:
        f.truncate(int(size * keep) if isinstance(keep, float) else keep if keep > 0 else size + keep)
    before, runs = _snapshot(run_dir), sorted((h.logs / "runs").iterdir())
    for argv in (["resume"], ["status"], ["status", "--json"], ["report"], ["stop"]):
        r = h.cli(*argv)
        assert r.code == 2, (argv, r.err + r.out)
        line = _one_line(r.err)
        assert str(state) in line and "backfill plan, then backfill run" in line, line
        assert line.endswith("see docs/runbook.md#state-unreadable"), line
    assert _snapshot(run_dir) == before  # nothing read was changed ...
    assert sorted((h.logs / "runs").iterdir()) == runs  # ... and nothing started again from scratch


LOCKER = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN EXCLUSIVE")  # a writer that holds on (a sqlite3 shell left open in a transaction)
con.execute("UPDATE run SET message = message")
print("locked", flush=True)
sys.stdin.read()  # until the test closes our stdin
"""


def test_a_state_locked_by_another_process_is_one_line_then_resume_works(h: Harness, tmp_path: Path) -> None:
    gate, counter = tmp_path / "gate", tmp_path / "launches"
    cfg = h.config([{"name": "a", "command": _gated(gate, counter), "post": "items"}])
    orch = h.start("run", str(cfg))
    a = running(h, "a", min_dates=2)
    orch.kill()  # kill -9: the run is left `running`, for resume
    orch.wait(10)
    run_dir = h.run_dir()
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(run_dir / "state.sqlite")], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout.readline() == "locked\n"
        r = h.cli("resume", timeout=120)  # refused after the state's busy timeout (30 s): no sleep of ours
        assert r.code == 2, r.err + r.out
        line = _one_line(r.err)
        assert "database is locked" in line and f"fuser -v {run_dir / 'state.sqlite'}" in line, line
        assert f"backfill resume {run_dir.name}" in line, line
        assert h.cli("status").code == 0  # readers are not blocked by a writer (WAL)
    finally:
        locker.stdin.close()
        locker.wait(10)
    assert alive(a.pid) and h.phase("a").status == "running"
    gate.touch()
    r = h.cli("resume")
    assert r.code == 0, r.err + r.out
    assert h.phase("a").status == "passed" and counter.read_text().split() == [str(a.pid)]


# --- disk full ------------------------------------------------------------------------------------------------
def test_disk_full_under_a_run_is_one_line_then_resume_finishes_it(h: Harness, tmp_path: Path, small_fs: Path) -> None:
    """The logs directory (state, orchestrator.log, phase logs, lock, checkpoints) on a disk that fills up."""
    gate, counter_a, counter_b = tmp_path / "gate", tmp_path / "a-launches", tmp_path / "b-launches"
    cfg = h.config([{"name": "a", "command": _gated(gate, counter_a), "post": "items"},
                    {"name": "b", "depends_on": ["a"], "command": _gated(gate, counter_b), "post": "items"}],
                   logs_dir=str(small_fs))
    h.logs = small_fs  # where the harness looks for runs
    orch = h.start("run", str(cfg))
    a = running(h, "a", min_dates=2)
    filler = fill(small_fs)
    gate.touch()  # phase a goes on; its next progress snapshot does not fit
    _, err = orch.communicate(timeout=120)
    assert orch.returncode == 2, err
    run_dir = h.run_dir()
    line = _one_line(err)
    assert "database or disk is full" in line and f"free disk space, then backfill resume {run_dir.name}" in line
    con = sqlite3.connect(run_dir / "state.sqlite")
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)  # consistent: the failed write rolled back
    con.close()
    assert h.phase("a", run_dir).status == "running" and h.phase("b", run_dir).status == "pending"
    filler.unlink()  # space is back
    r = h.cli("resume")
    assert r.code == 0, r.err + r.out
    assert [h.phase(n, run_dir).status for n in ("a", "b")] == ["passed", "passed"]
    assert counter_a.read_text().split() == [str(a.pid)] and len(counter_b.read_text().split()) == 1


def test_orchestrator_log_on_a_full_disk_loses_lines_counted_never_the_run(small_fs: Path) -> None:
    log = RunLog(small_fs / "orchestrator.log")
    log.line("before")
    filler = fill(small_fs)
    for i in range(3):  # lines longer than a page: each needs a block the disk no longer has
        log.line(f"while full {i} " + "x" * 5000)  # no exception: the log is not the run's state
    filler.unlink()
    log.line("after")
    log.close()
    lines = (small_fs / "orchestrator.log").read_text().splitlines()
    assert lines[0].endswith(" before")
    assert lines[-2].endswith("warning: 3 line(s) of this log were lost (OSError: No space left on device)")
    assert lines[-1].endswith(" after")
    # a line cut by the full disk is ended, never glued to the next one
    assert all(ln[:4].isdigit() for ln in lines), lines


def test_orchestrator_log_deleted_or_rotated_mid_run_is_recreated(tmp_path: Path) -> None:
    path = tmp_path / "orchestrator.log"
    log = RunLog(path)
    log.line("one")
    path.unlink()  # deleted by hand
    log.line("two")
    assert path.read_text().splitlines()[-1].endswith(" two")
    path.rename(tmp_path / "orchestrator.log.1")  # logrotate without copytruncate
    log.line("three")
    log.close()
    assert path.read_text().splitlines()[-1].endswith(" three")
    assert (tmp_path / "orchestrator.log.1").read_text().splitlines()[-1].endswith(" two")


@pytest.mark.parametrize("cmd, what", [("report", "the report"), ("metrics", "metrics")])
def test_a_report_on_a_full_disk_is_one_line_and_leaves_no_half_file(h: Harness, small_fs: Path, cmd: str,
                                                                     what: str) -> None:
    cfg = h.config([{"name": "a", "command": job("jobkit_fake.py"), "post": "items"}])
    assert h.cli("run", str(cfg)).code == 0
    filler = fill(small_fs)
    out = small_fs / "out.file"
    r = h.cli(cmd, "--out", str(out))
    assert r.code == 2, r.err + r.out
    line = _one_line(r.err)
    assert f"{out}: cannot write {what}: No space left on device" in line, line
    assert sorted(p.name for p in small_fs.iterdir()) == ["filler"]  # no half-written report, no temp file
    filler.unlink()
    assert h.cli(cmd, "--out", str(out)).code == 0 and out.stat().st_size > 0
