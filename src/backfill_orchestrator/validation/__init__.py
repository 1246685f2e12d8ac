"""Validation: YAML suites of checks, compiled into a few SQL scans, returning PASS/WARN/FAIL gates with evidence.

Library API (used by the orchestrator's gates and by `backfill validate`):
    suites = load_suites([Path("config/suites")])
    result = run_suite(wh, suites["player_game_summary"], start, end, calendar=calendar)
    result.gate_status, result.exit_code, result.checks[i].evidence
"""
from __future__ import annotations

from .results import CheckResult, Status, SuiteResult, gate_status
from .run import baseline_range, run_suite
from .suite import CHECK_TYPES, Check, Suite, load_suite, load_suites

__all__ = ["CHECK_TYPES", "Check", "CheckResult", "Status", "Suite", "SuiteResult", "baseline_range", "gate_status",
           "load_suite", "load_suites", "run_suite"]
