"""What a plan would cost on BigQuery, before it runs: per phase and per gate, the bytes BigQuery's dry runs
report and their on-demand price.

- A phase: its command run with `--dry-run` over the dates it would do, for phases that declare the jobkit
  contract (`progress_format: jobkit`: `--dry-run` writes nothing and ends with `[jobkit] ESTIMATE bytes=N`,
  docs/jobkit.md). Any other command is never started by a plan: its cost is unknown.
- A gate: its suite compiled over the phase's dates and dry-run query by query (validation's dry run).
- The price: bytes / 2^40 x the on-demand price per TiB (default BigQuery's list price, `--price-per-tib` or
  BACKFILL_BQ_PRICE_PER_TIB). The emulator reports 0 bytes for everything: said so, never priced as free.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .commands import fill_command
from .dates import write_date_file
from .errors import BackfillError, UsageError

if TYPE_CHECKING:
    from .config import Phase, PipelineConfig
    from .dates import Calendar
    from .validation import Suite
    from .warehouse.base import Warehouse

LIST_PRICE_PER_TIB = 6.25  # USD, on-demand queries (BigQuery pricing page); a price is only as true as this figure
ESTIMATE_TIMEOUT = 600.0  # seconds for one phase's dry run
_ESTIMATE = re.compile(r"^\[jobkit\] ESTIMATE bytes=(\d+|unknown)\s*$", re.MULTILINE)
_GATE_BYTES = re.compile(r"^-- estimated bytes processed: ([\d,]+)$", re.MULTILINE)
_GATE_FAILED = re.compile(r"^-- dry run failed: (.*)$", re.MULTILINE)


def price_per_tib(given: float | None = None) -> float:
    if given is not None:
        if given < 0:
            raise UsageError(f"--price-per-tib: expected a price >= 0, got {given}")
        return given
    text = os.environ.get("BACKFILL_BQ_PRICE_PER_TIB", "")
    try:
        return float(text) if text else LIST_PRICE_PER_TIB
    except ValueError:
        raise UsageError(f"BACKFILL_BQ_PRICE_PER_TIB: expected a number, got {text!r}") from None


@dataclass
class Estimate:
    what: str  # "job", or "<preflight|post> gate <suite>"
    bytes: int | None  # None: unknown (see note)
    note: str = ""


@dataclass
class PhaseCost:
    estimates: list[Estimate] = field(default_factory=list)

    @property
    def known_bytes(self) -> int:
        return sum(e.bytes for e in self.estimates if e.bytes is not None)


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:,.0f} B" if unit == "B" else f"{n:,.2f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def format_price(n_bytes: int, per_tib: float) -> str:
    usd = n_bytes / 2**40 * per_tib
    return "$0.00" if usd == 0 else "<$0.01" if usd < 0.005 else f"${usd:,.2f}"


def describe(e: Estimate, per_tib: float) -> str:
    if e.bytes is None:
        return f"{e.what}: unknown ({e.note})"
    return f"{e.what}: {format_bytes(e.bytes)} ≈ {format_price(e.bytes, per_tib)}"


def is_emulator(config: PipelineConfig) -> bool:
    w = config.warehouse
    return bool(w.endpoint) and not (urlsplit(w.endpoint or "").hostname or "").endswith(".googleapis.com")


def phase_cost(config: PipelineConfig, phase: Phase, to_do: list[dt.date], requested: list[dt.date],
               suites: dict[str, Suite], calendar: Calendar | None, wh: Warehouse | None) -> PhaseCost:
    emulator = is_emulator(config)
    out = PhaseCost([_job_estimate(config, phase, to_do, emulator)])
    for kind, gates in (("preflight", phase.preflight), ("post", phase.post)):
        for g in gates:
            out.estimates.append(_gate_estimate(f"{kind} gate {g.suite}", suites.get(g.suite), g.table, requested,
                                                calendar, wh, emulator))
    return out


def _zero(e: Estimate, emulator: bool) -> Estimate:
    if e.bytes == 0 and emulator:
        return Estimate(e.what, None, "emulator reports 0")
    return e


def _job_estimate(config: PipelineConfig, phase: Phase, to_do: list[dt.date], emulator: bool) -> Estimate:
    if not to_do:
        return Estimate("job", 0, "nothing to do")
    if phase.progress_format != "jobkit":
        return Estimate("job", None, "only a phase with `progress_format: jobkit` is asked for a dry run")
    with tempfile.TemporaryDirectory(prefix="backfill-plan-") as tmp:
        run_dir = Path(tmp)
        dates_file = run_dir / "dates.txt"
        write_date_file(dates_file, to_do)
        argv = fill_command(config, phase, run_dir, to_do, dates_file, run_dir / "checkpoint.json") + ["--dry-run"]
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=ESTIMATE_TIMEOUT,
                               env={**os.environ, **phase.env}, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as e:
            return Estimate("job", None, f"its dry run did not finish: {type(e).__name__}")
    m = _ESTIMATE.search(p.stdout)
    if m is None:
        last = (p.stderr.strip().splitlines() or p.stdout.strip().splitlines() or [f"exit {p.returncode}"])[-1]
        return Estimate("job", None, f"its dry run gave no estimate: {last[:200]}")
    if m.group(1) == "unknown" or p.returncode != 0:
        failed = [ln for ln in p.stdout.splitlines() if " failed " in ln and ln.startswith("[jobkit] DATE ")]
        why = failed[0].split('error="', 1)[-1].rstrip('"') if failed else "the warehouse gave no estimate"
        return Estimate("job", None, f"dry run of some dates failed: {why[:200]}")
    return _zero(Estimate("job", int(m.group(1))), emulator)


def _gate_estimate(what: str, suite: Suite | None, table: str | None, requested: list[dt.date],
                   calendar: Calendar | None, wh: Warehouse | None, emulator: bool) -> Estimate:
    if suite is None:
        return Estimate(what, None, "suite not found")
    if wh is None or not requested:
        return Estimate(what, None, "warehouse not looked at" if wh is None else "no dates")
    from .validation import run_suite

    try:
        if not wh.table_exists(table or suite.table):
            return Estimate(what, None, f"{table or suite.table} does not exist yet")
        res = run_suite(wh, replace(suite, table=table) if table else suite, requested[0], requested[-1],
                        calendar=calendar, dry_run=True)
    except BackfillError as e:
        return Estimate(what, None, str(e)[:200])
    text = "\n".join(res.dry_run_sql or [])
    failed = _GATE_FAILED.search(text)
    if failed:
        return Estimate(what, None, f"a dry run failed: {failed.group(1)[:200]}")
    found = _GATE_BYTES.findall(text)
    if not found:
        return Estimate(what, None, "the warehouse gives no estimate")
    return _zero(Estimate(what, sum(int(x.replace(",", "")) for x in found)), emulator)
