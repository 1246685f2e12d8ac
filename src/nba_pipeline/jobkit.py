"""The per-date job runner every NBA phase job shares: date selection, workers, checkpoint, progress lines.

A job is a `Processor` (what to do for ONE date) plus `main(processor)` (everything else). The progress lines
on stdout are a contract with the orchestrator's parser; docs/jobkit.md describes them, the arguments and the
exit codes. Informational messages go to stderr so stdout carries only `[jobkit] ` lines.
"""
from __future__ import annotations

import abc
import argparse
import datetime as dt
import os
import shlex
import signal
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from backfill_orchestrator.dates import date_range, format_ranges, parse_date, read_date_file, write_date_file
from backfill_orchestrator.errors import EXIT_FAILED, EXIT_OK, BackfillError, UsageError
from backfill_orchestrator.warehouse import Warehouse

from .checkpoint import Checkpoint

PREFIX = "[jobkit] "
DEFAULT_WAREHOUSE = "data/nba.duckdb"
CHECKPOINT_DIR = Path("logs") / "checkpoints"
RETRY_INLINE_MAX = 30  # more failed dates than this: the RETRY command reads them from a file


@dataclass
class DateResult:
    status: str  # ok | skipped | failed
    records: int = 0
    reason: str | None = None  # why skipped
    error: str | None = None  # why failed: "ErrorClass: first line of message"
    seconds: float = 0.0


@dataclass
class JobContext:
    wh: Warehouse | None
    dry_run: bool
    args: argparse.Namespace
    state: dict[str, Any] = field(default_factory=dict)  # what prepare() computed for process()
    _writers: dict[str, threading.Lock] = field(default_factory=dict, repr=False)
    _writers_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # --dry-run: the bytes the warehouse's dry runs reported (None once one of them could not say)
    estimate_bytes: int | None = 0

    def add_estimate(self, n: int | None) -> None:
        with self._writers_lock:
            self.estimate_bytes = None if n is None or self.estimate_bytes is None else self.estimate_bytes + n

    @contextmanager
    def writer(self, table: str) -> Iterator[None]:
        """Hold `table`'s writer lock: on BigQuery, a transaction that mutates a table is aborted when another
        one mutates it at the same time, so this job's workers write one table one at a time (their reads and
        the other tables' writes still overlap). DuckDB runs disjoint per-date writes concurrently: no lock."""
        if self.wh is None or self.wh.dialect != "bigquery":
            yield
            return
        with self._writers_lock:
            lock = self._writers.setdefault(table, threading.Lock())
        with lock:
            yield


class Processor(abc.ABC):
    """One phase job. Subclasses set `name`/`module` and implement `process`; `prepare` runs once first."""

    name = "job"
    module = "nba_pipeline.jobkit"
    needs_warehouse = True

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Job-specific options."""

    def extra_argv(self, args: argparse.Namespace) -> list[str]:
        """Job-specific options to repeat in the RETRY command."""
        return []

    def prepare(self, ctx: JobContext, dates: Sequence[dt.date]) -> None:
        """Create target tables (never in dry-run), look up what can be looked up once for all dates."""

    @abc.abstractmethod
    def process(self, ctx: JobContext, d: dt.date) -> DateResult:
        """Write one date (idempotently) and say what happened."""

    def batch_key(self, ctx: JobContext, d: dt.date) -> Any:
        """Dates with different keys never share a batch (e.g. composite factors: season and bootstrap)."""
        return None

    def process_batch(self, ctx: JobContext, dates: Sequence[dt.date]) -> dict[dt.date, DateResult]:
        """Consecutive calendar dates in one unit of work (one transaction for SQL processors). Raising
        makes the kit fall back to `process` date by date, so one bad date fails alone."""
        return {d: _run_one(self, ctx, d, None) for d in dates}


@dataclass
class RunSummary:
    job: str
    days: int
    ok: int = 0
    failed: list[dt.date] = field(default_factory=list)
    skipped: int = 0
    records: int = 0
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def done(self) -> int:
        return self.ok + len(self.failed) + self.skipped

    @property
    def status(self) -> str:
        return "interrupted" if self.interrupted else "failed" if self.failed else "ok"


def _error_text(e: BaseException) -> str:
    msg = (str(e).splitlines() or [""])[0].replace('"', "'")
    return f"{type(e).__name__}: {msg}"


def _run_one(processor: Processor, ctx: JobContext, d: dt.date, fatal: BaseException | None) -> DateResult:
    t0 = time.perf_counter()
    if fatal is not None:  # prepare() failed: every date fails with its reason, nothing is attempted
        return DateResult("failed", error=_error_text(fatal))
    try:
        r = processor.process(ctx, d)
    except Exception as e:  # noqa: BLE001 - one date's failure is recorded and the job goes on to the next
        r = DateResult("failed", error=_error_text(e))
    r.seconds = time.perf_counter() - t0
    return r


def _take_batch(processor: Processor, ctx: JobContext, dates: Sequence[dt.date], i: int, size: int,
                fatal: BaseException | None) -> list[dt.date]:
    """The run of consecutive calendar dates with the same batch key starting at dates[i], at most `size` long."""
    batch = [dates[i]]
    key = processor.batch_key(ctx, dates[i]) if fatal is None and size > 1 else None
    for d in dates[i + 1:i + size]:
        if d - batch[-1] != dt.timedelta(days=1) or processor.batch_key(ctx, d) != key:
            break
        batch.append(d)
    return batch


AUTO = "auto"


@dataclass
class BatchSizer:
    """`--batch-days auto`: each batch sized from the seconds per date the last finished batch took, so that it
    takes about `target` seconds. A fixed size is wrong for every job but one: per-statement cost is ~5 ms on
    DuckDB and seconds on BigQuery, and a job reading a season of history pays it once per batch. The target
    bounds what a kill -9 can lose and how long progress is silent. The tail is not split to keep every worker
    busy: a history job pays its history once per batch, and DuckDB serialises the writes anyway."""
    target: float = 5.0
    first: int = 7  # before anything is measured
    most: int = 366  # a season's history job never crosses a season anyway (its batch key)
    per_date: float | None = None

    def size(self) -> int:
        if self.per_date is None:
            return self.first
        return max(1, min(self.most, int(self.target / max(self.per_date, 1e-6))))

    def observe(self, results: Sequence[tuple[dt.date, DateResult]]) -> None:
        self.per_date = sum(r.seconds for _, r in results) / len(results)


def _run_batch(processor: Processor, ctx: JobContext, batch: list[dt.date],
               fatal: BaseException | None) -> list[tuple[dt.date, DateResult]]:
    if len(batch) == 1 or fatal is not None:
        return [(d, _run_one(processor, ctx, d, fatal)) for d in batch]
    t0 = time.perf_counter()
    try:
        results = processor.process_batch(ctx, batch)
    except Exception:  # noqa: BLE001 - isolate the failing date: redo the batch one date at a time
        return [(d, _run_one(processor, ctx, d, None)) for d in batch]
    share = (time.perf_counter() - t0) / len(batch)
    for r in results.values():
        r.seconds = r.seconds or share
    return [(d, results[d]) for d in batch]


def run_dates(processor: Processor, ctx: JobContext, dates: Sequence[dt.date], workers: int = 1,
              on_result: Callable[[dt.date, DateResult], None] | None = None,
              stop: threading.Event | None = None, batch_days: int | str = 1,
              on_batch: Callable[[], None] | None = None) -> RunSummary:
    """Process `dates` with `workers` threads, `batch_days` consecutive dates per unit of work (`"auto"`: sized
    by a BatchSizer). `on_result` runs in the calling thread, one date at a time, in date order within a batch;
    `on_batch` after each batch's dates. Setting `stop` lets in-flight batches finish and starts no new one."""
    t0 = time.perf_counter()
    summary = RunSummary(processor.name, len(dates))
    fatal: BaseException | None = None
    try:
        processor.prepare(ctx, dates)
    except Exception as e:  # noqa: BLE001 - reported per date below, so checkpoint and RETRY stay truthful
        fatal = e
    sizer = BatchSizer() if batch_days == AUTO else None
    nxt = 0  # dates[nxt:] are not started yet
    running: dict[Future, list[dt.date]] = {}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=processor.name) as pool:
        while nxt < len(dates) or running:
            while nxt < len(dates) and len(running) < workers and not (stop and stop.is_set()):
                size = sizer.size() if sizer else int(batch_days)
                batch = _take_batch(processor, ctx, dates, nxt, size, fatal)
                nxt += len(batch)
                running[pool.submit(_run_batch, processor, ctx, batch, fatal)] = batch
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in sorted(finished, key=lambda f: running[f][0]):
                running.pop(fut)
                results = fut.result()
                if sizer:
                    sizer.observe(results)
                for d, r in results:
                    if r.status == "ok":
                        summary.ok += 1
                    elif r.status == "skipped":
                        summary.skipped += 1
                    else:
                        summary.failed.append(d)
                    summary.records += r.records
                    if on_result:
                        on_result(d, r)
                if on_batch:
                    on_batch()
    summary.interrupted = nxt < len(dates)
    summary.seconds = time.perf_counter() - t0
    return summary


# ---------------------------------------------------------------------------------------------- command line

class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line and exit 2, instead of argparse's usage block
        raise UsageError(message)


def checked_arg(convert: Callable[[str], Any], ok: Callable[[Any], bool], expected: str) -> Callable[[str], Any]:
    """An argparse `type=` that converts and checks, with one message for both ways to be wrong."""
    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value
    return parse


_positive = checked_arg(int, lambda n: n >= 1, "a positive integer")
_batch_days = checked_arg(lambda t: t if t == AUTO else int(t), lambda n: n == AUTO or n >= 1,
                          "a positive integer or 'auto'")


def build_parser(processor: Processor) -> argparse.ArgumentParser:
    p = _Parser(prog=f"python -m {processor.module}",
                description=f"Run the {processor.name} job for a set of dates (see docs/jobkit.md).")
    p.add_argument("--start-date", help="first date (with --end-date), inclusive")
    p.add_argument("--end-date", help="last date, inclusive")
    p.add_argument("--dates-file", help="file with one ISO date per line (# comments allowed)")
    p.add_argument("--dates", help="comma-separated dates, e.g. 2024-10-22,2024-10-23")
    p.add_argument("--workers", type=_positive, default=1, help="dates processed in parallel (default 1)")
    p.add_argument("--no-resume", action="store_true", help="ignore the checkpoint and run every selected date")
    p.add_argument("--retry-failed", action="store_true", help="run only the dates the checkpoint lists as failed")
    p.add_argument("--dry-run", action="store_true", help="validate and count, write nothing (no checkpoint)")
    p.add_argument("--warehouse", default=DEFAULT_WAREHOUSE,
                   help="DuckDB file path, or bigquery://PROJECT?location=..&endpoint=..&prefix=..")
    p.add_argument("--checkpoint", help="checkpoint file (default logs/checkpoints/<job>-<warehouse hash>.json)")
    p.add_argument("--batch-days", type=_batch_days, default=1,
                   help="consecutive dates written in one transaction (default 1: strictly per date); 'auto': "
                        "each batch sized to take about 5 s, from what the last one took")
    p.add_argument("--progress-every", type=_positive, default=10, help="PROGRESS line every N dates (default 10)")
    processor.add_arguments(p)
    return p


def select_dates(args: argparse.Namespace) -> list[dt.date] | None:
    """The dates the arguments name, sorted and unique; None when none are named (allowed with --retry-failed)."""
    given = [n for n, v in (("--start-date/--end-date", args.start_date or args.end_date),
                            ("--dates-file", args.dates_file), ("--dates", args.dates)) if v]
    if len(given) > 1:
        raise UsageError(f"choose one way to name dates, got {' and '.join(given)}")
    if args.start_date or args.end_date:
        if not (args.start_date and args.end_date):
            raise UsageError("--start-date and --end-date go together")
        return date_range(parse_date(args.start_date, "--start-date"), parse_date(args.end_date, "--end-date"))
    if args.dates_file:
        out = read_date_file(args.dates_file)  # its errors name the file (and line)
        if not out:
            raise UsageError(f"{args.dates_file}: no dates in the file")
        return out
    if args.dates:
        parts = [x for x in args.dates.split(",") if x.strip()]
        if not parts:
            raise UsageError("--dates: no dates given")
        return sorted({parse_date(x, "--dates") for x in parts})
    if not args.retry_failed:
        raise UsageError("name the dates: --start-date and --end-date, --dates-file or --dates")
    return None


def default_checkpoint(job: str, warehouse: str) -> Path:
    # one checkpoint per job AND warehouse, so a run against another database never resumes from this one
    import hashlib  # here: a job given --checkpoint (every orchestrated one) never loads OpenSSL for it

    tag = hashlib.sha1(warehouse.encode()).hexdigest()[:8]
    return CHECKPOINT_DIR / f"{job}-{tag}.json"


class _Printer:
    """Formats and prints the progress lines; keeps the counters PROGRESS needs."""

    def __init__(self, job: str, total: int, every: int, wh: Warehouse | None = None) -> None:
        self.job, self.total, self.every = job, total, every
        self.wh = wh
        self.t0 = time.monotonic()
        self.counts = {"ok": 0, "failed": 0, "skipped": 0}
        self.records = 0

    @staticmethod
    def emit(text: str) -> None:
        sys.stdout.write(PREFIX + text + "\n")
        sys.stdout.flush()

    def date(self, d: dt.date, r: DateResult) -> None:
        self.counts[r.status] += 1
        self.records += r.records
        extra = f' reason="{r.reason}"' if r.status == "skipped" and r.reason else ""
        extra += f' error="{r.error}"' if r.status == "failed" else ""
        self.emit(f"DATE {d} {r.status} records={r.records} seconds={r.seconds:.2f}{extra}")
        if self.done % self.every == 0 and self.done < self.total:
            self.progress()

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    def progress(self) -> None:
        elapsed = time.monotonic() - self.t0
        rate = self.done / (elapsed / 60) if elapsed > 0 else 0.0
        if self.done and rate > 0:
            eta_at = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=(self.total - self.done) / rate)
            eta = eta_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        else:
            eta = "unknown"
        c = self.counts
        self.emit(f"PROGRESS {self.done}/{self.total} days ok={c['ok']} failed={c['failed']} "
                  f"skipped={c['skipped']} records={self.records} rate={rate:.2f}/min eta={eta}{self.retried()}")

    def retried(self) -> str:
        """` retries=N conflicts=M` once the warehouse absorbed transient errors (conflicts: concurrent-update
        aborts, i.e. another writer on our table), else nothing: the line stays as it always was."""
        counter = getattr(self.wh, "retries", None)
        counts = counter.snapshot() if counter is not None else {}
        total = sum(counts.values())
        return f" retries={total} conflicts={counts.get('concurrentUpdate', 0)}" if total else ""


def _retry_command(processor: Processor, args: argparse.Namespace, checkpoint: Path, failed: list[dt.date]) -> str:
    from .whurl import canonical

    argv = [sys.executable, "-m", processor.module, "--warehouse", canonical(args.warehouse),
            "--checkpoint", str(checkpoint.resolve()), "--workers", str(args.workers)]
    # a retry goes date by date so that the date that fails is named alone
    if len(failed) <= RETRY_INLINE_MAX or args.dry_run:
        argv += ["--dates", ",".join(d.isoformat() for d in failed)]
    else:
        path = checkpoint.with_name(checkpoint.stem + ".failed-dates.txt").resolve()
        write_date_file(path, failed)
        argv += ["--dates-file", str(path)]
    if args.dry_run:
        argv.append("--dry-run")
    return shlex.join(argv + processor.extra_argv(args))


def main(processor: Processor, argv: Sequence[str] | None = None) -> int:
    """Run a job from the command line; returns the exit code (0 ok, 1 a date failed or interrupted, 2 usage)."""
    try:
        args = build_parser(processor).parse_args(argv)
        if args.retry_failed and args.no_resume:
            raise UsageError("--retry-failed and --no-resume contradict each other")
        selected = select_dates(args)
        from .whurl import canonical, open_url

        cp_path = Path(args.checkpoint) if args.checkpoint else default_checkpoint(processor.name,
                                                                                   canonical(args.warehouse))
        cp = Checkpoint(cp_path, processor.name) if args.no_resume else Checkpoint.load(cp_path, processor.name)
        if args.retry_failed:
            if not cp_path.exists():
                raise UsageError(f"--retry-failed: no checkpoint at {cp_path}")
            wanted = None if selected is None else set(selected)
            dates = sorted(d for d in cp.failed if wanted is None or d in wanted)
        else:
            finished = cp.done | cp.skipped
            dates = [d for d in selected if d not in finished]
            if len(dates) < len(selected):
                print(f"resume: {len(selected) - len(dates)} of {len(selected)} dates already done or skipped "
                      f"in {cp_path}", file=sys.stderr)
        wh = open_url(args.warehouse) if processor.needs_warehouse else None
    except BackfillError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    try:
        return _run(processor, args, wh, cp, dates)
    finally:
        if wh is not None:
            wh.close()


def _run(processor: Processor, args: argparse.Namespace, wh: Warehouse | None, cp: Checkpoint,
         dates: list[dt.date]) -> int:
    ctx = JobContext(wh, args.dry_run, args)
    out = _Printer(processor.name, len(dates), args.progress_every, wh)
    stop = threading.Event()
    failed: list[dt.date] = []
    t0 = time.perf_counter()

    def finish(interrupted: bool) -> int:
        if not args.dry_run and (dates or args.no_resume):
            cp.save()
        out.progress()
        if failed:
            out.emit(f"FAILED {format_ranges(failed, limit=len(failed))}")
            out.emit(f"RETRY {_retry_command(processor, args, cp.path, sorted(failed))}")
        c = out.counts
        if args.dry_run:  # what the writes would scan, by the warehouse's own dry runs (docs/bigquery.md)
            est = ctx.estimate_bytes
            out.emit(f"ESTIMATE bytes={'unknown' if est is None else est}")
        status = "interrupted" if interrupted else "failed" if failed else "ok"
        out.emit(f"COMPLETE status={status} days={len(dates)} ok={c['ok']} failed={c['failed']} "
                 f"skipped={c['skipped']} records={out.records} seconds={time.perf_counter() - t0:.1f}{out.retried()}")
        return EXIT_FAILED if interrupted or failed else EXIT_OK

    def on_signal(signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        if not stop.is_set():
            stop.set()
            print(f"{name}: finishing the dates in flight, then stopping (again to stop now)", file=sys.stderr)
            return
        # second signal: give up the dates in flight (their transactions never commit) and leave now
        code = finish(interrupted=True)
        os._exit(code)

    unprinted: list[tuple[dt.date, DateResult]] = []

    def on_result(d: dt.date, r: DateResult) -> None:
        if r.status == "failed":
            failed.append(d)
        if not args.dry_run:
            cp.record(d, r.status)
        unprinted.append((d, r))

    def on_batch() -> None:
        # the checkpoint follows every committed unit (a date, or --batch-days dates) and is saved BEFORE
        # the DATE lines: a date reported on stdout is never lost, even to kill -9
        if not args.dry_run:
            cp.save()
        while unprinted:
            out.date(*unprinted.pop(0))

    labels = getattr(wh, "labels", None)
    if isinstance(labels, dict) and dates:  # BigQuery: every job of this run is attributable (docs/bigquery.md)
        from backfill_orchestrator.warehouse.bigquery import job_labels

        labels.update(job_labels({"job": processor.name, "phase": labels.get("phase") or processor.name,
                                  "first_date": min(dates).isoformat(), "last_date": max(dates).isoformat()}))
    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        out.emit(f"START job={processor.name} dates={len(dates)} workers={args.workers} pid={os.getpid()}")
        summary = run_dates(processor, ctx, dates, args.workers, on_result, stop, args.batch_days, on_batch)
        return finish(summary.interrupted)
    finally:
        for s, h in old.items():
            signal.signal(s, h)


class NoopProcessor(Processor):
    """Does nothing per date: measures the kit's own overhead (bench/bench_jobs.py)."""

    name = "noop"
    module = "nba_pipeline.jobkit"
    needs_warehouse = False

    def process(self, ctx: JobContext, d: dt.date) -> DateResult:
        return DateResult("ok")


if __name__ == "__main__":
    sys.exit(main(NoopProcessor()))
