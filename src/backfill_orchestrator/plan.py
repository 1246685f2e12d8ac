"""The plan before a run: per phase, requested dates × its checkpoint × what the warehouse already holds.

    plan = make_plan(config)            # reads checkpoints, queries the warehouse, the latest runs' rates
    print(plan.text()); dumps(plan)     # `backfill plan`, and `backfill run` prints it first

- requested: the phase's `dates:` resolved with the calendar.
- checkpoint (the job kit's JSON: {"job", "done": [...], "failed": [...], "skipped": [...]}): done and skipped
  dates are not run again; failed ones are ("failed before").
- warehouse: the distinct dates present in the table of the phase's post gate (the suite's table, or the
  gate's `table:`), over the requested range. Dates the checkpoint calls done but the warehouse does not hold
  are flagged: the job would skip them, yet their data is missing (run with the job's --no-resume).
- ETA: dates to do / the rate measured for the phase in the newest earlier run of this pipeline that has one.
A warehouse that cannot be reached leaves the warehouse columns unknown (with the reason): a plan is advice.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .clock import hm_duration, iso_utc, parse_iso
from .commands import checkpoint_path
from .config import Phase, PipelineConfig
from .dates import CHECKPOINT_READ_ERRORS, CHECKPOINT_STATUSES, format_ranges, read_checkpoint_file
from .errors import BackfillError, TableNotFound
from .events import runbook_ref
from .plan_cost import PhaseCost, describe, format_bytes, format_price, phase_cost, price_per_tib
from .redact import redact_text
from .runmodel import Reason
from .state import RunState, list_runs, open_state
from .warehouse.base import Warehouse

if TYPE_CHECKING:
    from .dates import Calendar
    from .validation import Suite


@dataclass
class PhasePlan:
    name: str
    requested: int
    first: dt.date | None
    last: dt.date | None
    checkpoint: str
    checkpoint_found: bool
    done: int  # done per the checkpoint (requested dates only)
    skipped: int  # skipped per the checkpoint (e.g. no games)
    failed_before: int
    to_do: int  # what the job will run: requested - done - skipped
    table: str | None  # the warehouse table looked at
    in_warehouse: int | None  # requested dates with rows in the table (None: not known)
    to_do_in_warehouse: int | None  # of the dates to do, how many already have rows (rewritten, idempotently)
    done_missing_in_warehouse: int | None  # checkpoint says done, the table has no rows: suspicious
    rate: float | None  # dates per minute measured before
    rate_from: str | None  # run id the rate comes from
    eta_seconds: float | None
    to_do_ranges: str = ""
    failed_ranges: str = ""
    missing_ranges: str = ""
    notes: list[str] = field(default_factory=list)
    cost: PhaseCost | None = None  # BigQuery, `backfill plan` only: dry-run bytes of the job and of each gate


@dataclass
class Plan:
    config: str
    pipeline: str
    warehouse: str
    phases: list[PhasePlan]
    generated_at: str
    warehouse_note: str | None = None  # why the warehouse was not looked at, said once for every phase
    price_per_tib: float | None = None  # set when the plan carries costs

    @property
    def to_do(self) -> int:
        return sum(p.to_do for p in self.phases)

    @property
    def eta_seconds(self) -> float | None:
        etas = [p.eta_seconds for p in self.phases if p.to_do]
        return None if not etas or any(e is None for e in etas) else sum(etas)  # type: ignore[misc]

    def text(self) -> str:
        lines = [f"plan for {self.pipeline} ({self.config}) on {self.warehouse}:"]
        if self.warehouse_note:
            lines.append(f"  {redact_text(self.warehouse_note)}")
        for p in self.phases:
            span = f"{p.first}..{p.last}" if p.first else "no dates"
            lines.append(f"  {p.name}: {p.requested:,} dates requested ({span})")
            cp = "" if p.checkpoint_found else " (no checkpoint yet)"
            lines.append(f"      checkpoint{cp}: done {p.done:,}, skipped {p.skipped:,}, failed before "
                         f"{p.failed_before:,}" + (f" [{p.failed_ranges}]" if p.failed_ranges else ""))
            if p.in_warehouse is not None:
                lines.append(f"      warehouse {p.table}: holds {p.in_warehouse:,} of the requested dates")
            lines.append(f"      to do: {p.to_do:,}" + (f" [{p.to_do_ranges}]" if p.to_do_ranges else "")
                         + (f"; {p.to_do_in_warehouse:,} of them already have rows (rewritten)"
                            if p.to_do_in_warehouse else ""))
            if p.done_missing_in_warehouse:
                lines.append(f"      WARNING: {p.done_missing_in_warehouse:,} dates done per the checkpoint have no rows "
                             f"in {p.table} [{p.missing_ranges}]: the job will not redo them unless run without "
                             "its checkpoint (--no-resume)")
            if not p.to_do:
                eta = "nothing to do"
            elif p.rate and p.eta_seconds is not None:
                eta = f"ETA {hm_duration(p.eta_seconds)} at {p.rate:.2f} dates/min (measured in run {p.rate_from})"
            else:
                eta = "ETA unknown (no earlier run measured this phase)"
            lines.append(f"      {eta}")
            lines.extend(f"      note: {redact_text(n)}" for n in p.notes)
            if p.cost is not None and self.price_per_tib is not None:
                lines.append(f"      cost (BigQuery dry runs; on demand at ${self.price_per_tib:g}/TiB):")
                lines.extend(f"          {redact_text(describe(e, self.price_per_tib))}" for e in p.cost.estimates)
        total = self.eta_seconds
        lines.append(f"total to do: {self.to_do:,} phase-dates; ETA "
                     + (hm_duration(total) if total is not None else "unknown"))
        if self.price_per_tib is not None:
            costs = [p.cost for p in self.phases if p.cost is not None]
            known = sum(c.known_bytes for c in costs)
            unknown = sum(1 for c in costs for e in c.estimates if e.bytes is None)
            lines.append(f"total cost: {format_bytes(known)} ≈ {format_price(known, self.price_per_tib)}"
                         + (f" (and {unknown} estimates unknown)" if unknown else ""))
        return "\n".join(lines)


def read_checkpoint(path: Path) -> tuple[dict[str, set[dt.date]], str | None]:
    """The job kit's checkpoint sets; (empty sets, note) when the file is missing or unreadable."""
    empty: dict[str, set[dt.date]] = {s: set() for s in CHECKPOINT_STATUSES}
    if not path.is_file():
        return empty, None
    try:
        return read_checkpoint_file(path)[1], None
    except CHECKPOINT_READ_ERRORS as e:
        return empty, f"checkpoint {path} unreadable ({type(e).__name__}: {e}); treated as empty"


def _rate_history(config: PipelineConfig, run_state: RunState | str | Path | None) -> dict[str, tuple[float, str]]:
    """phase -> (dates per minute, run id), from the given run or else the newest runs of this pipeline."""
    states: list[RunState | Path] = []
    if isinstance(run_state, RunState):
        states = [run_state]
    elif run_state is not None:
        states = [Path(run_state)]
    else:
        states = [Path(r.run_dir) for r in list_runs(config.logs_dir) if r.pipeline == config.pipeline]
    out: dict[str, tuple[float, str]] = {}
    for s in states[:20]:
        try:
            st = s if isinstance(s, RunState) else open_state(s)
        except BackfillError:
            continue
        try:
            run_id = st.run().id
            for p in st.phases():
                if p.name in out:
                    continue
                rate = _measured_rate(st, p.name, p.started_at, p.ended_at)
                if rate:
                    out[p.name] = (rate, run_id)
        finally:
            if st is not run_state:
                st.close()
    return out


def _measured_rate(st: RunState, phase: str, started: str | None, ended: str | None) -> float | None:
    last = st.last_progress(phase)
    if last is None:
        return None
    if last.rate:
        return float(last.rate)
    t0, t1 = parse_iso(started), parse_iso(ended) or parse_iso(last.at)
    if last.done and t0 and t1 and t1 > t0:
        return last.done / ((t1 - t0).total_seconds() / 60.0)
    return None


def _phase_table(phase: Phase, suites: dict[str, Suite]) -> tuple[str, str] | None:
    for g in phase.post:
        suite = suites.get(g.suite)
        if suite is not None:
            return (g.table or suite.table, suite.date_column)
    return None


def _held_dates(wh: Warehouse, table: str, column: str, first: dt.date, last: dt.date) -> set[dt.date]:
    rows = wh.query(f"SELECT DISTINCT {column} AS d FROM {table} WHERE {column} BETWEEN @first AND @last",
                    {"first": first, "last": last})
    out = set()
    for r in rows:
        v = r["d"]
        out.add(v.date() if isinstance(v, dt.datetime) else (v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v))))
    return out


def _open_wh(config: PipelineConfig) -> Warehouse | None:
    from .warehouse import open_warehouse

    w = config.warehouse
    if w.kind == "duckdb":
        from .warehouse.duckdb import DuckDBWarehouse

        if w.path != ":memory:" and not Path(w.path).is_file():
            return None  # never create a database file just to plan
        # read-only: planning must not take DuckDB's write lock from a job that is running
        return DuckDBWarehouse(w.path, datasets=w.datasets, read_only=True, dataset_prefix=w.dataset_prefix)
    if w.kind == "bigquery":
        from dataclasses import replace

        from .warehouse.bigquery import BigQueryWarehouse
        from .warehouse.bqerrors import RetryPolicy

        # a plan is advice, asked for at a terminal: a failing endpoint gets 3 attempts, not a job's budget
        policy = RetryPolicy.from_env()
        return BigQueryWarehouse(project=w.project, location=w.location, endpoint=w.endpoint, datasets=w.datasets,
                                 dataset_prefix=w.dataset_prefix,
                                 retry=replace(policy, attempts=min(policy.attempts, 3),
                                               timeout=min(policy.timeout, 30.0)))
    return open_warehouse(w)


def make_plan(config: PipelineConfig, run_state: RunState | str | Path | None = None, *, wh: Warehouse | None = None,
              run_dir: Path | None = None, cost: bool = False, price: float | None = None,
              suites: dict[str, Suite] | None = None) -> Plan:
    """The plan of `config`. `run_state`: the run whose rates give the ETA (default: the newest runs of this
    pipeline). `wh`: an open warehouse to use (default: open the config's). `suites`: the config's suites, when
    the caller has loaded them already (default: load them). `run_dir`: for checkpoint paths
    that name {run_dir} (default: the latest run's directory). `cost`: on BigQuery, also dry-run each phase's
    job and gates (plan_cost.py) and price them at `price` per TiB (default: the list price)."""
    per_tib = price_per_tib(price) if cost and config.warehouse.kind == "bigquery" else None
    calendar = config.calendar()
    suites = _load_suites(config) if suites is None else suites
    rates = _rate_history(config, run_state)
    if run_dir is None:
        runs = [r for r in list_runs(config.logs_dir) if r.pipeline == config.pipeline]
        run_dir = Path(runs[0].run_dir) if runs else config.logs_dir / "runs" / "<next-run>"
    own_wh = wh is None
    wh_state = _WarehouseState()
    if own_wh:
        try:
            wh = _open_wh(config)
            if wh is None:
                wh_state = _WarehouseState(f"warehouse {config.warehouse.path} does not exist yet: it holds nothing",
                                           missing=True)
        except Exception as e:  # a plan is advice: show what is known and say why the rest is not
            wh, wh_state = None, _WarehouseState(redact_text(f"warehouse unreachable ({type(e).__name__}: {e}); "
                                                             f"{runbook_ref(Reason.WAREHOUSE_UNREACHABLE)}"),
                                                 once=True)
    phases = []
    try:
        for phase in config.phases:
            cp_path = checkpoint_path(config, phase, run_dir)
            phases.append(_plan_phase(config, phase, calendar, suites, rates, wh, wh_state, cp_path))
            if per_tib is not None and not wh_state.once:
                requested = phase.dates.resolve(calendar)
                phases[-1].cost = phase_cost(config, phase, _to_do(requested, cp_path), requested, suites, calendar,
                                             wh)
    finally:
        if own_wh and wh is not None:
            wh.close()
    return Plan(str(config.path), config.pipeline, config.warehouse_label(), phases, iso_utc(),
                wh_state.note if wh_state.once else None, per_tib)


def _to_do(requested: list[dt.date], cp_path: Path) -> list[dt.date]:
    cp, _ = read_checkpoint(cp_path)
    finished = cp["done"] | cp["skipped"]
    return [d for d in requested if d not in finished]


@dataclass
class _WarehouseState:
    """Why the warehouse was not looked at (note), and whether that is because it does not exist yet."""
    note: str | None = None
    missing: bool = False  # a DuckDB file not created yet: it holds no date (rather than: unknown)
    # unreachable or failing: said once for the whole plan, and not asked again for every phase (each ask
    # would spend the warehouse's whole retry budget)
    once: bool = False


def _load_suites(config: PipelineConfig) -> dict[str, Suite]:
    if not config.suites_paths:
        return {}
    from .validation.suite import load_suites

    return load_suites(list(config.suites_paths))


def _plan_phase(config: PipelineConfig, phase: Phase, calendar: Calendar | None, suites: dict[str, Suite],
                rates: dict[str, tuple[float, str]], wh: Warehouse | None, wh_state: _WarehouseState, cp_path: Path) -> PhasePlan:
    requested = phase.dates.resolve(calendar)
    req = set(requested)
    cp, cp_note = read_checkpoint(cp_path)
    done, skipped, failed = cp["done"] & req, cp["skipped"] & req, cp["failed"] & req
    to_do = sorted(req - done - skipped)
    notes = [n for n in (cp_note,) if n]
    table_col = _phase_table(phase, suites)
    held: set[dt.date] | None = None
    if table_col is None:
        notes.append("no post gate with a known suite: what the warehouse holds is not looked at")
    elif wh_state.once:
        pass
    elif wh_state.note and wh is None:
        notes.append(wh_state.note)
        held = set() if wh_state.missing else None
    elif requested:
        try:
            held = _held_dates(wh, table_col[0], table_col[1], requested[0], requested[-1]) & req
        except TableNotFound:
            held = set()
            notes.append(f"table {table_col[0]} does not exist yet")
        except BackfillError as e:
            wh_state.note = redact_text(f"warehouse unreachable (a query failed: {e}); "
                                        f"{runbook_ref(Reason.WAREHOUSE_UNREACHABLE)}")
            wh_state.once = True
    rate, rate_from = rates.get(phase.name, (None, None))
    missing = sorted(done - held) if held is not None else []
    return PhasePlan(
        name=phase.name, requested=len(requested), first=requested[0] if requested else None,
        last=requested[-1] if requested else None, checkpoint=str(cp_path), checkpoint_found=cp_path.is_file(),
        done=len(done), skipped=len(skipped), failed_before=len(failed), to_do=len(to_do),
        table=table_col[0] if table_col else None, in_warehouse=len(held) if held is not None else None,
        to_do_in_warehouse=len(held & set(to_do)) if held is not None else None,
        done_missing_in_warehouse=len(missing) if held is not None else None,
        rate=rate, rate_from=rate_from, eta_seconds=(len(to_do) / rate * 60.0) if rate else (0.0 if not to_do else None),
        to_do_ranges=format_ranges(to_do, limit=4), failed_ranges=format_ranges(failed, limit=4),
        missing_ranges=format_ranges(missing, limit=4), notes=notes)
