#!/usr/bin/env python3
"""Benchmark: the orchestrator's cost of following a phase, and how fast it notices the phase's exit.

1. CPU: a follower process launches a fake jobkit phase writing ~1,000 lines/s and runs the real follow loop
   (process.launch + progress.follow, poll 1 s, auto-detected format, a progress line per 60 s) for --seconds.
   Its CPU (getrusage of the follower alone, the phase excluded) is compared with two baselines following the
   same file at the same time: `tail -f` and a bare Python loop that reads new bytes once per second.
   Target: < 2% of one core.
2. Exit notice: a phase writes 1,000 lines/s for 1 s, stamps its exit time and exits; the follower (poll 1 s, so
   a fixed sleep would show up as up to 1 s) records when `follow` noticed the exit and when it returned with the
   final progress. Both for a child (launch) and an adopted process (not our child). Target: < 1 s.

    .venv/bin/python bench/bench_follow.py [--seconds 20] [--runs 3] [--exit-runs 10] [--fake legacy-parallel]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
FAKES = ROOT / "tests" / "fakes"
PY = sys.executable
# argv of each fake phase job so that it writes ~1,000 lines/s for `seconds` (sequential: 2 lines per day)
WRITERS = {
    "jobkit": lambda s: [str(FAKES / "jobkit_fake.py"), "--days", str(int(s * 1000)), "--sleep", "0.001",
                         "--progress-every", "1000"],
    "legacy-parallel": lambda s: [str(FAKES / "legacy_parallel.py"), "--days", str(int(s * 1000)), "--sleep", "0.001",
                                  "--progress-every", "1000"],
    "legacy-sequential": lambda s: [str(FAKES / "legacy_sequential.py"), "--days", str(int(s * 500)),
                                    "--sleep", "0.002"],
}


# --- roles run in their own processes ---------------------------------------------------------------------------
def role_follower(log: Path, seconds: float, ready: Path, fake: str) -> None:
    from backfill_orchestrator.process import launch
    from backfill_orchestrator.progress import LogFollower, follow, format_progress_line, parser_for, utcnow

    handle = launch([PY, *WRITERS[fake](seconds)], log)
    ready.write_text(str(handle.pid))
    last = [time.monotonic()]

    def tick(progress, n):
        if time.monotonic() - last[0] >= 60:
            format_progress_line("bench", progress, utcnow())
            last[0] = time.monotonic()
        return None

    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    result = follow(handle, LogFollower(log), parser_for("auto"), on_tick=tick, poll=1.0)
    r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    print(json.dumps({"cpu_s": cpu, "wall_s": t1 - t0, "lines": result.progress.lines,
                      "done": result.progress.done, "format": result.progress.format}))


def role_bare(log: Path, stop_file: Path) -> None:
    """The cheapest possible follower: read new bytes once per second, count newlines."""
    while not log.exists():
        time.sleep(0.01)
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    lines = 0
    with open(log, "rb", buffering=0) as f:
        while not stop_file.exists():
            while data := f.read(1 << 20):
                lines += data.count(b"\n")
            time.sleep(1.0)
        while data := f.read(1 << 20):
            lines += data.count(b"\n")
    r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    print(json.dumps({"cpu_s": (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), "wall_s": t1 - t0,
                      "lines": lines}))


WRITER = """
import sys, time
n = int(sys.argv[1]); t0 = time.monotonic()
for i in range(n):
    sys.stdout.write(f"[jobkit] DATE 2024-10-22 ok records={i} seconds=0.01\\n"); sys.stdout.flush()
    d = t0 + (i + 1) / 1000 - time.monotonic()
    if d > 0: time.sleep(d)
sys.stdout.write(f"exit_at={time.time()!r}\\n"); sys.stdout.flush()
"""


def role_exit(log: Path, adopt_pid: int | None) -> None:
    from backfill_orchestrator.process import adopt, launch
    from backfill_orchestrator.progress import LogFollower, follow, parser_for

    handle = adopt(adopt_pid) if adopt_pid else launch([PY, "-c", WRITER, "1000"], log)
    result = follow(handle, LogFollower(log), parser_for("auto"), poll=1.0)
    returned = time.time()
    exit_at = float(log.read_text().rsplit("exit_at=", 1)[1])
    print(json.dumps({"noticed_s": result.exit.ended_at - exit_at, "returned_s": returned - exit_at,
                      "lines": result.progress.lines}))


# --- the driver -------------------------------------------------------------------------------------------------
def _self(*args: str) -> list[str]:
    return [PY, str(Path(__file__).resolve()), *args]


def _cpu(p: psutil.Process) -> float:
    t = p.cpu_times()
    return t.user + t.system


def cpu_run(work: Path, seconds: float, i: int, fake: str) -> dict:
    log, ready, stop_file = work / f"cpu{i}.log", work / f"cpu{i}.ready", work / f"cpu{i}.stop"
    follower = subprocess.Popen(_self("--role", "follower", "--log", str(log), "--seconds", str(seconds),
                                      "--ready", str(ready), "--fake", fake), stdout=subprocess.PIPE, text=True)
    while not ready.exists():
        time.sleep(0.01)
    bare = subprocess.Popen(_self("--role", "bare", "--log", str(log), "--stop-file", str(stop_file)),
                            stdout=subprocess.PIPE, text=True)
    tail = subprocess.Popen(["tail", "-n", "+1", "-f", str(log)], stdout=subprocess.DEVNULL)
    tail_p, t0 = psutil.Process(tail.pid), time.monotonic()
    tail_c0 = _cpu(tail_p)
    out, _ = follower.communicate()
    tail_cpu, tail_wall = _cpu(tail_p) - tail_c0, time.monotonic() - t0
    tail.terminate()
    tail.wait()
    stop_file.touch()
    bare_out, _ = bare.communicate()
    f, b = json.loads(out), json.loads(bare_out)
    return {"follower_pct": 100 * f["cpu_s"] / f["wall_s"], "tail_pct": 100 * tail_cpu / tail_wall,
            "bare_pct": 100 * b["cpu_s"] / b["wall_s"], "lines": f["lines"], "lines_per_s": f["lines"] / f["wall_s"],
            "format": f["format"]}


def exit_run(work: Path, i: int, adopted: bool) -> dict:
    log = work / f"exit{i}{'a' if adopted else 'c'}.log"
    args = ["--role", "exit", "--log", str(log)]
    if adopted:  # started by someone else: a detached process that is not the follower's child
        with open(log, "ab") as out:
            writer = subprocess.Popen([PY, "-c", WRITER, "1000"], stdout=out, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        args += ["--adopt", str(writer.pid)]
    out = subprocess.run(_self(*args), check=True, capture_output=True, text=True).stdout
    if adopted:
        writer.wait()
    return json.loads(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--exit-runs", type=int, default=10)
    ap.add_argument("--fake", choices=sorted(WRITERS), default="jobkit", help="the line format the phase writes")
    ap.add_argument("--work", default=str(ROOT / "bench" / "work"))
    ap.add_argument("--role", help=argparse.SUPPRESS)
    ap.add_argument("--log", help=argparse.SUPPRESS)
    ap.add_argument("--ready", help=argparse.SUPPRESS)
    ap.add_argument("--stop-file", help=argparse.SUPPRESS)
    ap.add_argument("--adopt", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.role == "follower":
        return role_follower(Path(a.log), a.seconds, Path(a.ready), a.fake)
    if a.role == "bare":
        return role_bare(Path(a.log), Path(a.stop_file))
    if a.role == "exit":
        return role_exit(Path(a.log), a.adopt)

    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    for old in work.iterdir():
        old.unlink()
    print(f"CPU while following a phase writing ~1,000 lines/s for {a.seconds:.0f} s, {a.runs} runs "
          f"({os.cpu_count()} cores):")
    cpu = []
    for i in range(max(a.runs, 1)):
        r = cpu_run(work, a.seconds, i, a.fake)
        cpu.append(r)
        print(f"  run {i + 1}: follower {r['follower_pct']:.2f}%  tail -f {r['tail_pct']:.2f}%  "
              f"bare read loop {r['bare_pct']:.2f}%  ({r['lines']} lines, {r['lines_per_s']:.0f}/s, {r['format']})")
    med = {k: statistics.median(r[k] for r in cpu) for k in ("follower_pct", "tail_pct", "bare_pct")}
    print(f"  median: follower {med['follower_pct']:.2f}% of one core (target < 2%), tail -f {med['tail_pct']:.2f}%, "
          f"bare loop {med['bare_pct']:.2f}%; ratio follower/tail -f = "
          f"{med['follower_pct'] / max(med['tail_pct'], 1e-9):.1f}x, follower/bare = "
          f"{med['follower_pct'] / max(med['bare_pct'], 1e-9):.1f}x")

    print(f"Exit notice (poll interval 1 s), {a.exit_runs} runs each:")
    for adopted in ((False, True) if a.exit_runs > 0 else ()):
        rs = [exit_run(work, i, adopted) for i in range(a.exit_runs)]
        noticed = [1000 * r["noticed_s"] for r in rs]
        returned = [1000 * r["returned_s"] for r in rs]
        print(f"  {'adopted (not our child)' if adopted else 'child (launched)      '}: exit noticed median "
              f"{statistics.median(noticed):.1f} ms (max {max(noticed):.1f}); follow() returned with final progress "
              f"median {statistics.median(returned):.1f} ms (max {max(returned):.1f}) (target < 1000 ms)")
    for old in work.iterdir():
        old.unlink()
    work.rmdir()


if __name__ == "__main__":
    main()
