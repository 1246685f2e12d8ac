"""Textfile metrics written, then parsed back with a strict parser of the Prometheus text format."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from runfixture import RUN_ID, T0, iso

from backfill_orchestrator.cli import cli
from backfill_orchestrator.reporting.metrics import write_metrics
from backfill_orchestrator.state import RunState

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)')
_SAMPLE = re.compile(rf"^({_NAME})(?:\{{(.*)\}})? (\S+)(?: (-?\d+))?$")


def parse_prometheus(text: str) -> dict[tuple[str, frozenset], float]:
    """Strict: every line is a HELP/TYPE comment or a sample; a TYPE precedes a metric's samples; each metric's
    samples are contiguous; no duplicate series."""
    assert text.endswith("\n")
    samples: dict[tuple[str, frozenset], float] = {}
    typed: set[str] = set()
    seen_done: set[str] = set()
    current = None
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("# HELP "):
            assert re.match(rf"^# HELP {_NAME} .+$", line), (n, line)
            continue
        if line.startswith("# TYPE "):
            m = re.match(rf"^# TYPE ({_NAME}) (gauge|counter|untyped|histogram|summary)$", line)
            assert m, (n, line)
            assert m.group(1) not in typed, f"line {n}: second TYPE for {m.group(1)}"
            typed.add(m.group(1))
            continue
        m = _SAMPLE.match(line)
        assert m, f"line {n}: not a sample: {line!r}"
        name, labels_text, value = m.group(1), m.group(2) or "", m.group(3)
        assert name in typed, f"line {n}: {name} has no TYPE before it"
        if name != current:
            assert name not in seen_done, f"line {n}: samples of {name} are not contiguous"
            if current:
                seen_done.add(current)
            current = name
        labels, pos = {}, 0
        while pos < len(labels_text):
            lm = _LABEL.match(labels_text, pos)
            assert lm, f"line {n}: bad labels {labels_text!r}"
            labels[lm.group(1)] = re.sub(r"\\(.)", lambda e: {"n": "\n"}.get(e.group(1), e.group(1)), lm.group(2))
            pos = lm.end()
        key = (name, frozenset(labels.items()))
        assert key not in samples, f"line {n}: duplicate series"
        samples[key] = float(value)
    return samples


def get(samples, name: str, **labels: str) -> float:
    hits = [v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls]
    assert len(hits) == 1, (name, labels, hits)
    return hits[0]


def test_metrics_of_a_finished_run_parse_back(demo_run: Path, tmp_path: Path):
    out = tmp_path / "textfile" / "backfill.prom"
    write_metrics(demo_run, out)
    assert not [p for p in out.parent.iterdir() if p.name != "backfill.prom"]  # no temp file left behind
    s = parse_prometheus(out.read_text())
    assert get(s, "backfill_run_status", status="failed") == 1
    assert get(s, "backfill_run_status", status="passed") == 0
    assert get(s, "backfill_run_exit_code") == 1
    assert get(s, "backfill_run_start_timestamp_seconds") == T0.timestamp()
    p1, p2 = "team_offense_game_summary", "player_game_summary"
    assert get(s, "backfill_phase_status", phase=p1, status="passed") == 1
    assert get(s, "backfill_phase_progress_ratio", phase=p1) == 1.0
    assert get(s, "backfill_phase_days_total", phase=p1) == 1537
    assert get(s, "backfill_phase_days", phase=p2, result="failed") == 2
    assert get(s, "backfill_phase_records", phase=p2) == 384250
    assert get(s, "backfill_phase_rate_days_per_minute", phase=p2) == pytest.approx(1537 / 129)
    assert get(s, "backfill_phase_retries", phase=p2) == 1
    assert get(s, "backfill_gate_status", phase=p2, suite=p2, kind="post", status="fail") == 1
    assert get(s, "backfill_gate_status", phase=p1, suite=p1, kind="post", status="pass") == 1
    assert get(s, "backfill_gate_checks", phase=p2, suite=p2, kind="post", status="fail") == 1
    assert get(s, "backfill_phase_last_success_timestamp_seconds", phase=p1) > T0.timestamp()
    assert get(s, "backfill_run_orchestrator_alive") == 0
    assert not [k for k in s if k[0] == "backfill_last_success_timestamp_seconds"]  # no run succeeded yet


def test_running_run_eta_and_last_success_from_an_earlier_run(demo_run: Path, tmp_path: Path):
    runs = demo_run.parent
    ok = RunState.create(runs / "20260101T000000Z-good", "20260101T000000Z-good", "nba-backfill", "c.yaml", "w", ["a"])
    ok.update_run(status="passed", ended_at="2026-01-01T02:00:00Z", exit_code=0)
    ok.close()
    live = RunState.create(runs / "20260104T000000Z-live", "20260104T000000Z-live", "nba-backfill", "c.yaml", "w",
                           ['weird "phase"\\x'])
    live.update_run(pid=os.getpid(), create_time=__import__("psutil").Process().create_time())
    live.update_phase('weird "phase"\\x', status="running", started_at=iso(T0), dates_count=100)
    live.add_progress('weird "phase"\\x', 1, done=40, total=100, ok=39, failed=1, skipped=0, records=4000, rate=2.5,
                      eta="2026-01-04T01:00:00Z")
    live.close()
    r = CliRunner().invoke(cli, ["metrics", "20260104T000000Z-live", "--logs-dir", str(runs.parent)])
    assert r.exit_code == 0, r.output
    s = parse_prometheus(r.output)
    phase = 'weird "phase"\\x'
    assert get(s, "backfill_phase_progress_ratio", phase=phase) == 0.4
    assert get(s, "backfill_phase_eta_timestamp_seconds", phase=phase) == 1767488400
    assert get(s, "backfill_run_orchestrator_alive") == 1
    assert get(s, "backfill_last_success_timestamp_seconds") == 1767232800  # 2026-01-01T02:00:00Z
    assert RUN_ID  # the demo run is still there and is not the one described
    assert not [k for k in s if ("run_id", RUN_ID) in k[1]]
