"""Benchmark: the validation gates of a pipeline's `backfill run`, in process, on a warehouse it has built.

    .venv/bin/python bench/bench_gates.py CONFIG [--repeat 5] [--phases N]

Runs every preflight and post gate of the config's first N phases (default: all) over each phase's dates, exactly
as the orchestrator does (gates.evaluate_gates: one warehouse opened per gate run, the suites over min..max of the
phase's dates), and prints per gate run its checks, statements and median seconds, then the total. The warehouse
must hold the phases' output already (e.g. after `backfill run CONFIG`). Not a test: nothing here asserts.
"""
from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter

from backfill_orchestrator.commands import phase_dates
from backfill_orchestrator.config import load_config, load_gate_suites
from backfill_orchestrator.gates import evaluate_gates


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--phases", type=int, default=None)
    a = ap.parse_args()
    config = load_config(a.config)
    calendar = config.calendar()
    suites = load_gate_suites(config)
    runs = [(ph, kind, gates, phase_dates(ph, calendar))  # type: ignore[arg-type]
            for ph in config.phases[:a.phases] for kind, gates in (("preflight", ph.preflight), ("post", ph.post))
            if gates]
    times: dict[str, list[float]] = {}
    info: dict[str, tuple[int, int, Counter]] = {}
    for _ in range(a.repeat):
        for ph, kind, gates, dates in runs:
            results: list = []
            t0 = time.perf_counter()
            evaluate_gates(config, calendar, suites, gates, dates, lambda g, s, r: results.append(r))
            label = f"{ph.name} {kind}"
            times.setdefault(label, []).append(time.perf_counter() - t0)
            ok = [r for r in results if not isinstance(r, dict)]
            info[label] = (sum(len(r.checks) for r in ok), sum(len(r.queries) for r in ok),
                           Counter(c.status.value for r in ok for c in r.checks))
    total = 0.0
    for label, ts in times.items():
        med = statistics.median(ts)
        total += med
        checks, statements, statuses = info[label]
        print(f"{label:45s} {med:6.3f}s  checks {checks:3d}  statements {statements:2d}  {dict(statuses)}")
    print(f"{'all gate runs (sum of medians)':45s} {total:6.3f}s  checks {sum(i[0] for i in info.values()):3d}  "
          f"statements {sum(i[1] for i in info.values()):2d}")


if __name__ == "__main__":
    main()
