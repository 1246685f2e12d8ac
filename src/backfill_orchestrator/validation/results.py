"""What a validation run returns: one CheckResult per check, one SuiteResult per suite and date range.

The gate rule lives here (`SuiteResult.gate_status`), so the CLI and the orchestrator's gates agree on it.
"""
from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import Any

from ..errors import EXIT_FAILED, EXIT_OK, EXIT_WARNED
from ..warehouse.base import QueryStats


class Status(str, enum.Enum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"
    NO_BASELINE = "no_baseline"

    def __str__(self) -> str:
        return self.value


@dataclass
class CheckResult:
    name: str
    type: str
    severity: str  # critical | warning
    status: Status
    observed: Any  # the measured value (a number, or None when it could not be measured)
    threshold: str  # human form of what was required, e.g. ">= 95%"
    evidence: str  # why: missing date ranges, failing dates, the error message, the baseline reason
    examples: list[dict[str, Any]] = field(default_factory=list)
    column: str | None = None
    if_no_baseline: str = "warn"  # how a NO_BASELINE result counts in the gate: warn | pass | fail
    missing_dates: list[dt.date] = field(default_factory=list)  # completeness: every missing date (the evidence
    #                                                             text shortens long lists; charts need them all)
    # The dates the check found bad, as data (what a repair re-runs): rows NULL/below the minimum (coverage), fewer
    # rows than upstream (counts), missing (completeness), out of range, sudden drops (temporal), inconsistent
    # groups, repeated keys. Empty for checks that are not date-shaped (statistics, regression, custom SQL) and
    # for a check that passed.
    failing_dates: list[dt.date] = field(default_factory=list)

    @property
    def blocking(self) -> bool:
        """True when this result makes the gate FAIL."""
        if self.status is Status.NO_BASELINE:
            return self.severity == "critical" and self.if_no_baseline == "fail"
        return self.severity == "critical" and self.status in (Status.FAIL, Status.ERROR)

    @property
    def counts_as_pass(self) -> bool:
        """PASS, or NO_BASELINE on a check that says an empty baseline is fine (it is still shown as such)."""
        return self.status is Status.PASS or (self.status is Status.NO_BASELINE and self.if_no_baseline == "pass")


@dataclass
class SuiteResult:
    suite: str
    table: str
    start: dt.date
    end: dt.date
    status: Status
    checks: list[CheckResult]
    series: dict[str, list[tuple[dt.date, float | None]]] = field(default_factory=dict)
    queries: list[QueryStats] = field(default_factory=list)
    dry_run_sql: list[str] = field(default_factory=list)
    baseline: tuple[dt.date, dt.date] | None = None

    @property
    def gate_status(self) -> Status:
        return gate_status(self.checks)

    @property
    def exit_code(self) -> int:
        return {Status.PASS: EXIT_OK, Status.WARN: EXIT_WARNED}.get(self.gate_status, EXIT_FAILED)

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in Status}
        for c in self.checks:
            out[c.status.value] += 1
        return out


def gate_status(checks: list[CheckResult]) -> Status:
    """FAIL if any critical check FAILed or ERRORed; WARN if anything else is not PASS; else PASS.
    A NO_BASELINE counts as its check's `if_no_baseline` says (default: a warning)."""
    if any(c.blocking for c in checks):
        return Status.FAIL
    if not all(c.counts_as_pass for c in checks):
        return Status.WARN
    return Status.PASS
