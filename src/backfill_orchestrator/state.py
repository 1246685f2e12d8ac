"""Durable run state and event journal: one SQLite file (WAL) per run, logs/runs/<run-id>/state.sqlite.

The run state is the source of truth for what the orchestrator did. Every transition is written here BEFORE
it is acted on (a phase is marked `running` with its command before the process starts; its PID and create
time are written the moment it exists), so that after a crash (even `kill -9`) `backfill resume` knows what
may still be running and what ended unwatched.

Read API (for `backfill status`, the report, the dashboards):

    st = open_state(run_dir)                 # RunState; StateError (one line + runbook) when unreadable
    st.run() -> RunRecord                    # id, pipeline, config_path, warehouse, status, started/ended, exit code
    st.phases() -> list[PhaseRecord]         # in pipeline order; st.phase(name) -> PhaseRecord
    st.events(limit=None, phase=None) -> list[EventRecord]       # oldest first (the last `limit` when given)
    st.progress_history(phase) -> list[ProgressRecord]           # snapshots, oldest first
    st.gate_results(phase=None) -> list[GateRecord]              # .result is the SuiteResult as JSON (a dict)
    st.repairs(phase=None) -> list[RepairRecord]                 # gate-driven repair rounds, oldest first
    st.close()
    list_runs(logs_dir) -> list[RunRecord]   # newest first (unreadable run dirs are left out)
    latest_run(logs_dir) -> Path | None      # the run dir logs/latest points at (or the newest one)
    resolve_run_dir(logs_dir, run) -> Path   # RUN argument: a run id, a run dir path, or None = latest

Statuses, event kinds and reasons are runmodel's enums; a record's `reason` (runmodel.Reason) stands beside its
human `message`, and decisions read the reason only.

Errors: a file that is missing, not SQLite, corrupt or of an unknown schema is a StateError (one line + runbook);
any other sqlite3 error (a misspelled column, a constraint) is a programming error and raises as itself.
Schema v1 files (before reasons; with the dead columns log_offset/is_child) are migrated to v2, and v2 files
(before repair rounds) to v3, when opened.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .clock import iso_utc
from .errors import EXIT_USAGE, BackfillError, UsageError
from .events import Event, runbook_ref
from .render import to_jsonable
from .runmodel import PHASE_TERMINAL, EventKind, PhaseStatus, Reason, RunStatus

STATE_FILE = "state.sqlite"
SCHEMA_VERSION = 3
_SQLITE_MAGIC = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database file

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS run (
    id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, config_path TEXT NOT NULL, warehouse TEXT NOT NULL,
    status TEXT NOT NULL, started_at TEXT NOT NULL, ended_at TEXT, exit_code INTEGER, message TEXT,
    pid INTEGER, create_time REAL, host TEXT, options TEXT NOT NULL DEFAULT '{}',
    stop_requested INTEGER NOT NULL DEFAULT 0, reason TEXT);
CREATE TABLE IF NOT EXISTS phases (
    name TEXT PRIMARY KEY, position INTEGER NOT NULL, status TEXT NOT NULL, attempt INTEGER NOT NULL DEFAULT 0,
    tries INTEGER NOT NULL DEFAULT 0, pid INTEGER, create_time REAL, cmdline TEXT,
    log_path TEXT, log_inode INTEGER, attempt_log_start INTEGER,
    dates_file TEXT, dates_count INTEGER, total_dates INTEGER, started_at TEXT, ended_at TEXT, exit_code INTEGER,
    exit_known INTEGER, message TEXT, retry_at TEXT, rerun INTEGER NOT NULL DEFAULT 0, restart_from TEXT,
    updated_at TEXT, reason TEXT, restart_to TEXT);
CREATE TABLE IF NOT EXISTS progress (
    id INTEGER PRIMARY KEY AUTOINCREMENT, phase TEXT NOT NULL, at TEXT NOT NULL, attempt INTEGER,
    done INTEGER, total INTEGER, ok INTEGER, failed INTEGER, skipped INTEGER, records INTEGER,
    rate REAL, eta TEXT, cpu REAL, rss INTEGER, line TEXT);
CREATE TABLE IF NOT EXISTS gates (
    id INTEGER PRIMARY KEY AUTOINCREMENT, phase TEXT NOT NULL, kind TEXT NOT NULL, suite TEXT NOT NULL,
    severity TEXT NOT NULL, attempt INTEGER, status TEXT NOT NULL, at TEXT NOT NULL, result TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, kind TEXT NOT NULL, phase TEXT, message TEXT NOT NULL,
    body TEXT NOT NULL, reason TEXT);
CREATE INDEX IF NOT EXISTS progress_phase ON progress (phase, id);
CREATE INDEX IF NOT EXISTS gates_phase ON gates (phase, id);
""" + """
CREATE TABLE IF NOT EXISTS repairs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, phase TEXT NOT NULL, session INTEGER NOT NULL, round INTEGER NOT NULL,
    status TEXT NOT NULL, started_at TEXT NOT NULL, ended_at TEXT, before TEXT NOT NULL, checks TEXT NOT NULL,
    steps TEXT NOT NULL DEFAULT '[]', gaps TEXT NOT NULL DEFAULT '{}', after TEXT, gate_status TEXT, message TEXT,
    reason TEXT);
"""

# v1 -> v2: a reason beside each message; the dead columns go. v1 runs had no reasons, so the few that decisions
# read back on resume (a skip that blocks dependents, ...) are recovered once, here, from v1's fixed wording.
_MIGRATE_V1 = """
ALTER TABLE run ADD COLUMN reason TEXT;
ALTER TABLE phases ADD COLUMN reason TEXT;
ALTER TABLE events ADD COLUMN reason TEXT;
ALTER TABLE phases DROP COLUMN is_child;
ALTER TABLE phases DROP COLUMN log_offset;
ALTER TABLE phases DROP COLUMN regate;
ALTER TABLE phases ADD COLUMN rerun INTEGER NOT NULL DEFAULT 0;
UPDATE phases SET reason = CASE
    WHEN status = 'skipped' AND message LIKE 'not started:%on_warn: stop' THEN 'on_warn_stop'
    WHEN status = 'skipped' AND message LIKE 'not started:%' THEN 'not_started'
    WHEN status = 'skipped' AND message LIKE 'not selected%' THEN 'not_selected'
    WHEN status = 'skipped' AND message LIKE 'no dates%' THEN 'no_dates'
    WHEN status = 'failed' AND message LIKE 'pre-flight gate failed%' THEN 'preflight_failed'
    WHEN status = 'failed' AND message LIKE 'gate failed%' THEN 'gate_failed'
    WHEN status = 'failed' AND message LIKE '%(stalled%' THEN 'stalled'
    WHEN status = 'failed' AND message LIKE '%(timed out%' THEN 'timed_out'
    WHEN status = 'failed' THEN 'phase_crashed'
    WHEN status = 'stopped' AND message LIKE 'stopped by `backfill stop`%' THEN 'stopped_by_operator'
    WHEN status = 'stopped' THEN 'interrupted'
    END;
UPDATE events SET reason = json_extract(body, '$.runbook');
UPDATE meta SET value = '2' WHERE key = 'schema_version';
"""
# v2 -> v3: gate-driven repair rounds (one row per round) and restarts bounded at both ends
_MIGRATE_V2 = """
CREATE TABLE repairs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, phase TEXT NOT NULL, session INTEGER NOT NULL, round INTEGER NOT NULL,
    status TEXT NOT NULL, started_at TEXT NOT NULL, ended_at TEXT, before TEXT NOT NULL, checks TEXT NOT NULL,
    steps TEXT NOT NULL DEFAULT '[]', gaps TEXT NOT NULL DEFAULT '{}', after TEXT, gate_status TEXT, message TEXT,
    reason TEXT);
ALTER TABLE phases ADD COLUMN restart_to TEXT;
UPDATE meta SET value = '3' WHERE key = 'schema_version';
"""
# sqlite3 errors that mean the file cannot be used as a run state (primary result codes): anything else - a
# misspelled column, a constraint - is a bug in the caller and must surface as one
# BUSY/LOCKED (another process, past the busy timeout), IOERR, CORRUPT, FULL, CANTOPEN, NOTADB
_UNREADABLE_CODES = {5, 6, 10, 11, 13, 14, 26}


class StateError(BackfillError):
    """state.sqlite is missing, unreadable or not a run state: the RUN given cannot be used (exit 2)."""

    exit_code = EXIT_USAGE


def now_iso() -> str:
    return iso_utc()


@dataclass(frozen=True)
class RunRecord:
    id: str
    pipeline: str
    config_path: str
    warehouse: str
    status: RunStatus
    started_at: str
    ended_at: str | None
    exit_code: int | None
    message: str | None
    pid: int | None  # the orchestrator process driving the run (last one)
    create_time: float | None
    host: str | None
    options: dict[str, Any]
    stop_requested: bool
    reason: Reason | None = None
    run_dir: str = ""


@dataclass(frozen=True)
class PhaseRecord:
    name: str
    position: int
    status: PhaseStatus
    attempt: int  # attempts launched in this run, ever (names the dates files)
    tries: int  # attempts since the last (re)start: what the retry budget counts
    pid: int | None
    create_time: float | None
    cmdline: list[str] | None
    log_path: str | None
    log_inode: int | None
    attempt_log_start: int | None  # where the current attempt's output starts in the log
    dates_file: str | None
    dates_count: int | None
    total_dates: int | None
    started_at: str | None
    ended_at: str | None
    exit_code: int | None
    exit_known: bool | None  # False for adopted processes: the report says "exit code unknown"
    message: str | None
    retry_at: str | None
    rerun: int  # explicit re-runs of this phase in this run (`restart`): each one gets a fresh checkpoint
    restart_from: str | None
    updated_at: str | None
    reason: Reason | None = None  # why it ended the way it did (or was skipped)
    restart_to: str | None = None  # a restart bounded at both ends (`restart --to`, or a dependent's reach)

    @property
    def terminal(self) -> bool:
        return self.status in PHASE_TERMINAL


@dataclass(frozen=True)
class ProgressRecord:
    phase: str
    at: str
    attempt: int | None
    done: int | None
    total: int | None
    ok: int | None
    failed: int | None
    skipped: int | None
    records: int | None
    rate: float | None  # days per minute
    eta: str | None
    cpu: float | None  # CPU percent of one core, the phase's process and its descendants summed
    rss: int | None  # bytes, the same processes summed
    line: str | None  # the plain progress line as logged


@dataclass(frozen=True)
class GateRecord:
    phase: str
    kind: str  # preflight | post
    suite: str
    severity: str
    attempt: int | None
    status: str  # pass | warn | fail | error
    at: str
    result: dict[str, Any] = field(default_factory=dict)  # render.to_jsonable(SuiteResult)


@dataclass(frozen=True)
class EventRecord:
    id: int
    at: str
    kind: EventKind | str  # a str only for a kind this version does not know
    phase: str | None
    message: str
    body: dict[str, Any]  # the whole Event as JSON (gate lines, log path, next command, runbook, data)
    reason: Reason | None = None


@dataclass(frozen=True)
class RepairStep:
    """One phase re-run by a repair round: which dates and why. `rerun` is the phase's re-run number the step
    launches (written before the launch, so that a resumed orchestrator tells "not started" from "done")."""
    phase: str
    dates: list[str]  # ISO dates
    why: str
    rerun: int | None = None
    status: str = "pending"  # pending | started | done | failed


@dataclass(frozen=True)
class RepairRecord:
    """One repair round of one phase's failed gate (repair.py)."""
    id: int
    phase: str
    session: int  # the run's repair of the phase (1: during the run; +1 per `backfill repair`)
    round: int  # 1..max_rounds within the session
    status: str  # planned | running | gated | passed | warned | not_converged | exhausted | source_gap | failed
    started_at: str
    ended_at: str | None
    before: list[str]  # the failing dates the round set out to repair
    checks: list[str]  # the failing critical checks (gate lines)
    steps: list[RepairStep]
    gaps: dict[str, list[str]]  # source table -> dates it lacks (a source gap)
    after: list[str] | None  # failing dates once the phase was gated again
    gate_status: str | None  # pass | warn | fail of that gate
    message: str | None
    reason: Reason | None = None

    @property
    def open(self) -> bool:
        return self.status in ("planned", "running", "gated")


_REPAIR_COLS = [f.name for f in fields(RepairRecord)]
_PHASE_COLS = [f.name for f in fields(PhaseRecord)]
_RUN_COLS = [f.name for f in fields(RunRecord) if f.name != "run_dir"]


def _unreadable(path: Path, why: str) -> StateError:
    run = path.parent.name
    if "locked" in why:  # another process holds the file: nothing is wrong with it
        fix = f"; another process holds it (`fuser -v {path}` names it): once it lets go, backfill resume {run}"
    elif "full" in why:  # the transaction that did not fit was rolled back: the state is as it was before it
        fix = f"; nothing was lost: free disk space, then backfill resume {run}"
    elif "no such file" in why:
        fix = ""
    else:
        fix = "; a new run redoes only what is missing: backfill plan, then backfill run"
    return StateError(f"{path}: run state unreadable: {why}{fix}; {runbook_ref(Reason.STATE_UNREADABLE)}")


def _is_unreadable(e: sqlite3.Error) -> bool:
    code = getattr(e, "sqlite_errorcode", None)
    return code is not None and (code & 0xFF) in _UNREADABLE_CODES


class RunState:
    """One run's state file. Writers: the orchestrator (and `stop`/`restart`); readers: anyone."""

    def __init__(self, path: Path, conn: sqlite3.Connection):
        self.path = path
        self.run_dir = path.parent
        self._db = conn
        # the driving orchestrator masks the config's secrets in every message it stores (a failing job may quote
        # its token in the fatal line the phase's message repeats)
        self.mask: Callable[[str], str] | None = None

    # --- creation / opening --------------------------------------------------------------------------------
    @classmethod
    def create(cls, run_dir: Path, run_id: str, pipeline: str, config_path: str, warehouse: str,
               phases: Iterable[str], options: dict[str, Any] | None = None) -> RunState:
        run_dir.mkdir(parents=True, exist_ok=True)
        path = run_dir / STATE_FILE
        st = cls(path, _connect(path))
        with st._db:
            st._db.executescript(_SCHEMA)
            st._db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            st._db.execute("INSERT INTO run (id, pipeline, config_path, warehouse, status, started_at, options) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?)", (run_id, pipeline, config_path, warehouse,
                                                            RunStatus.RUNNING, now_iso(), json.dumps(options or {})))
            for i, name in enumerate(phases):
                st._db.execute("INSERT INTO phases (name, position, status, updated_at) VALUES (?, ?, ?, ?)",
                               (name, i, PhaseStatus.PENDING, now_iso()))
        return st

    # --- run ---------------------------------------------------------------------------------------------------
    def run(self) -> RunRecord:
        row = self._one(f"SELECT {', '.join(_RUN_COLS)} FROM run")
        if row is None:
            raise _unreadable(self.path, "no run row")
        d = dict(zip(_RUN_COLS, row))
        d["options"] = json.loads(d["options"] or "{}")
        d["stop_requested"] = bool(d["stop_requested"])
        d["status"] = RunStatus.parse(d["status"])
        d["reason"] = Reason.parse(d["reason"]) if d["reason"] else None
        return RunRecord(**d, run_dir=str(self.run_dir))

    def update_run(self, **values: Any) -> None:
        if self.mask is not None and values.get("message"):
            values["message"] = self.mask(values["message"])
        if "status" in values:
            values["status"] = RunStatus.parse(values["status"])
        if values.get("reason") is not None:
            values["reason"] = Reason.parse(values["reason"])
        if "options" in values:
            values["options"] = json.dumps(values["options"])
        self._update("run", values, "1=1", ())

    def request_stop(self, grace: float | None = None) -> None:
        """Ask the driving orchestrator to stop; `grace` (TERM -> KILL seconds) travels with the request."""
        if grace is None:
            self.update_run(stop_requested=1)
        else:
            self.update_run(stop_requested=1, options={**self.run().options, "stop_grace": grace})

    def stop_requested(self) -> bool:
        row = self._one("SELECT stop_requested FROM run")
        return bool(row and row[0])

    # --- phases -----------------------------------------------------------------------------------------------
    def phases(self) -> list[PhaseRecord]:
        rows = self._all(f"SELECT {', '.join(_PHASE_COLS)} FROM phases ORDER BY position")
        return [_phase(r) for r in rows]

    def phase(self, name: str) -> PhaseRecord:
        row = self._one(f"SELECT {', '.join(_PHASE_COLS)} FROM phases WHERE name = ?", (name,))
        if row is None:
            names = ", ".join(p.name for p in self.phases())
            raise UsageError(f"run {self.run().id} has no phase {name!r} (phases: {names})")
        return _phase(row)

    def update_phase(self, name: str, **values: Any) -> PhaseRecord:
        """Write a phase transition (committed before returning: the caller acts on it only afterwards)."""
        if self.mask is not None and values.get("message"):
            values["message"] = self.mask(values["message"])
        if "status" in values:
            values["status"] = PhaseStatus.parse(values["status"])
        if values.get("reason") is not None:
            values["reason"] = Reason.parse(values["reason"])
        if "cmdline" in values and values["cmdline"] is not None:
            values["cmdline"] = json.dumps(list(values["cmdline"]))
        values["updated_at"] = now_iso()
        self._update("phases", values, "name = ?", (name,))
        return self.phase(name)

    # --- journal ---------------------------------------------------------------------------------------------
    def add_event(self, event: Event) -> int:
        body = json.dumps(to_jsonable(event), ensure_ascii=False)
        at = iso_utc(event.at)
        with self._tx():
            cur = self._db.execute("INSERT INTO events (at, kind, phase, message, body, reason) "
                                   "VALUES (?, ?, ?, ?, ?, ?)",
                                   (at, EventKind.parse(event.kind), event.phase, event.message, body, event.reason))
        return int(cur.lastrowid or 0)

    def events(self, limit: int | None = None, phase: str | None = None) -> list[EventRecord]:
        where, args = ("WHERE phase = ?", (phase,)) if phase else ("", ())
        sql = f"SELECT id, at, kind, phase, message, body, reason FROM events {where} ORDER BY id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        rows = self._all(sql, args)
        return [EventRecord(r[0], r[1], _kind(r[2]), r[3], r[4], json.loads(r[5]), _reason(r[6]))
                for r in reversed(rows)]

    def add_progress(self, phase: str, attempt: int | None, *, done: int | None, total: int | None,
                     ok: int | None, failed: int | None, skipped: int | None, records: int | None,
                     rate: float | None, eta: str | None, cpu: float | None = None, rss: int | None = None,
                     line: str | None = None) -> None:
        with self._tx():
            self._db.execute("INSERT INTO progress (phase, at, attempt, done, total, ok, failed, skipped, records, "
                             "rate, eta, cpu, rss, line) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                             (phase, now_iso(), attempt, done, total, ok, failed, skipped, records, rate, eta,
                              cpu, rss, line))

    def progress_history(self, phase: str) -> list[ProgressRecord]:
        rows = self._all("SELECT phase, at, attempt, done, total, ok, failed, skipped, records, rate, eta, cpu, rss, "
                         "line FROM progress WHERE phase = ? ORDER BY id", (phase,))
        return [ProgressRecord(*r) for r in rows]

    def last_progress(self, phase: str) -> ProgressRecord | None:
        row = self._one("SELECT phase, at, attempt, done, total, ok, failed, skipped, records, rate, eta, cpu, rss, "
                        "line FROM progress WHERE phase = ? ORDER BY id DESC LIMIT 1", (phase,))
        return ProgressRecord(*row) if row else None

    def add_gate(self, phase: str, kind: str, suite: str, severity: str, attempt: int | None, status: str,
                 result: Any) -> None:
        with self._tx():
            self._db.execute("INSERT INTO gates (phase, kind, suite, severity, attempt, status, at, result) "
                             "VALUES (?,?,?,?,?,?,?,?)",
                             (phase, kind, suite, severity, attempt, status, now_iso(),
                              json.dumps(to_jsonable(result), ensure_ascii=False)))

    def gate_results(self, phase: str | None = None) -> list[GateRecord]:
        where, args = ("WHERE phase = ?", (phase,)) if phase else ("", ())
        rows = self._all(f"SELECT phase, kind, suite, severity, attempt, status, at, result FROM gates {where} "
                         "ORDER BY id", args)
        return [GateRecord(*r[:7], result=json.loads(r[7])) for r in rows]

    # --- repair rounds ---------------------------------------------------------------------------------------
    def add_repair(self, phase: str, session: int, round: int, before: list[str], checks: list[str]) -> RepairRecord:
        with self._tx():
            cur = self._db.execute("INSERT INTO repairs (phase, session, round, status, started_at, before, checks) "
                                   "VALUES (?, ?, ?, 'planned', ?, ?, ?)",
                                   (phase, session, round, now_iso(), json.dumps(before), json.dumps(checks)))
        return self.repair(int(cur.lastrowid or 0))

    def update_repair(self, repair_id: int, **values: Any) -> RepairRecord:
        if self.mask is not None and values.get("message"):
            values["message"] = self.mask(values["message"])
        for key in ("before", "checks", "after", "gaps"):
            if key in values and values[key] is not None:
                values[key] = json.dumps(values[key])
        if "steps" in values:
            values["steps"] = json.dumps([to_jsonable(s) for s in values["steps"]])
        if values.get("reason") is not None:
            values["reason"] = Reason.parse(values["reason"])
        self._update("repairs", values, "id = ?", (repair_id,))
        return self.repair(repair_id)

    def repair(self, repair_id: int) -> RepairRecord:
        row = self._one(f"SELECT {', '.join(_REPAIR_COLS)} FROM repairs WHERE id = ?", (repair_id,))
        if row is None:
            raise _unreadable(self.path, f"no repair round {repair_id}")
        return _repair(row)

    def repairs(self, phase: str | None = None) -> list[RepairRecord]:
        where, args = ("WHERE phase = ?", (phase,)) if phase else ("", ())
        return [_repair(r) for r in self._all(f"SELECT {', '.join(_REPAIR_COLS)} FROM repairs {where} ORDER BY id",
                                              args)]

    def open_repair(self, phase: str) -> RepairRecord | None:
        """The phase's repair round in progress, if any (the newest round, when it is not finished)."""
        rounds = self.repairs(phase)
        return rounds[-1] if rounds and rounds[-1].open else None

    def repairing_step(self, phase: str) -> RepairRecord | None:
        """The open repair round that has `phase` as a step it started (the phase then re-runs for that round)."""
        for r in self.repairs():
            if r.open and any(s.phase == phase and s.status == "started" for s in r.steps):
                return r
        return None

    def schema_version(self) -> int | None:
        return _schema_version(self._db)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> RunState:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- helpers ---------------------------------------------------------------------------------------------
    def _update(self, table: str, values: dict[str, Any], where: str, args: tuple) -> None:
        if not values:
            return
        cols = ", ".join(f"{k} = ?" for k in values)
        # a phase's status or a repair round's status/steps: the transitions the crash matrix stops at
        with self._tx(transition=table == "phases" and "status" in values
                      or table == "repairs" and ("status" in values or "steps" in values)):
            self._db.execute(f"UPDATE {table} SET {cols} WHERE {where}", (*values.values(), *args))

    @contextlib.contextmanager
    def _tx(self, transition: bool = False) -> Iterator[None]:
        """The write helper: one committed transaction; a file that cannot take it (corrupt, locked, disk full:
        rolled back, nothing half-written) -> StateError."""
        try:
            with self._db:
                yield
        except sqlite3.DatabaseError as e:
            raise self._translate(e) from None
        if transition and _CRASH_AT:
            _crash_after_transition()

    def _one(self, sql: str, args: tuple = ()) -> tuple | None:
        try:
            return self._db.execute(sql, args).fetchone()
        except sqlite3.DatabaseError as e:
            raise self._translate(e)

    def _all(self, sql: str, args: tuple = ()) -> list[tuple]:
        try:
            return self._db.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as e:
            raise self._translate(e)

    def _translate(self, e: sqlite3.DatabaseError) -> Exception:
        """Corruption -> the one-line StateError; anything else is the caller's bug and stays itself."""
        return _unreadable(self.path, str(e)) if _is_unreadable(e) else e


# Test hook (the crash matrix, tests/reliability): SIGKILL this process right after its k-th committed phase
# transition, where a real crash leaves the state. Read once; unset = off, as in every real run.
_CRASH_AT = int(os.environ.get("BACKFILL_TEST_CRASH_AT_TRANSITION") or 0)
_transitions = 0


def _crash_after_transition() -> None:
    global _transitions
    _transitions += 1
    if _transitions == _CRASH_AT:
        os.kill(os.getpid(), signal.SIGKILL)


def _phase(row: tuple) -> PhaseRecord:
    d = dict(zip(_PHASE_COLS, row))
    d["status"] = PhaseStatus.parse(d["status"])
    d["reason"] = _reason(d["reason"])
    d["cmdline"] = json.loads(d["cmdline"]) if d["cmdline"] else None
    d["exit_known"] = None if d["exit_known"] is None else bool(d["exit_known"])
    return PhaseRecord(**d)


def _repair(row: tuple) -> RepairRecord:
    d = dict(zip(_REPAIR_COLS, row))
    for key in ("before", "checks", "after"):
        d[key] = json.loads(d[key]) if d[key] is not None else None
    d["gaps"] = json.loads(d["gaps"] or "{}")
    d["steps"] = [RepairStep(**s) for s in json.loads(d["steps"] or "[]")]
    d["reason"] = _reason(d["reason"])
    return RepairRecord(**d)


def _reason(value: str | None) -> Reason | None:
    return Reason.parse(value) if value else None


def _kind(value: str) -> EventKind | str:
    try:
        return EventKind(value)
    except ValueError:  # written by a newer version: shown as it is
        return value


def _connect(path: Path) -> sqlite3.Connection:
    # autocommit off + explicit `with conn:` blocks = one transaction per transition; a generous busy timeout
    # because `backfill stop` / `restart` may write while the orchestrator does
    conn = sqlite3.connect(str(path), timeout=30.0, isolation_level="DEFERRED", check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def open_state(run_dir: str | Path) -> RunState:
    """Open an existing run's state. StateError (one line, runbook anchor) when missing or corrupt."""
    path = Path(run_dir) / STATE_FILE
    if not path.is_file():
        raise _unreadable(path, "no such file (is this a run directory?)")
    # look before connecting: SQLite would turn an empty file into a database (WAL mode writes a header),
    # and a reader must never change what it was asked to read
    try:
        with path.open("rb") as f:
            header = f.read(len(_SQLITE_MAGIC))
    except OSError as e:
        raise _unreadable(path, e.strerror or str(e)) from None
    if header != _SQLITE_MAGIC:
        raise _unreadable(path, "empty file" if not header else "not an SQLite database")
    try:
        conn = _connect(path)
        version = _schema_version(conn)
        if version == 1:
            version = _migrate(conn, 1, _MIGRATE_V1)
        if version == 2:
            version = _migrate(conn, 2, _MIGRATE_V2)
    except sqlite3.DatabaseError as e:
        # opening: an unknown table or a locked file is as unusable as a corrupt one for the RUN given
        raise _unreadable(path, str(e)) from None
    if version != SCHEMA_VERSION:
        conn.close()
        raise _unreadable(path, f"unknown schema version {version}")
    return RunState(path, conn)


def _schema_version(conn: sqlite3.Connection) -> int | None:
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else None


def _migrate(conn: sqlite3.Connection, version: int, script: str) -> int | None:
    """vN -> vN+1 in one transaction; a second opener waiting on the write lock then finds vN+1 and does nothing."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if _schema_version(conn) == version:
            for stmt in filter(str.strip, script.split(";")):
                conn.execute(stmt)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return _schema_version(conn)


# --- run directories ---------------------------------------------------------------------------------------
def runs_dir(logs_dir: str | Path) -> Path:
    return Path(logs_dir) / "runs"


def list_runs(logs_dir: str | Path) -> list[RunRecord]:
    """Every readable run under logs/runs, newest first."""
    out = []
    base = runs_dir(logs_dir)
    for d in sorted(base.iterdir(), reverse=True) if base.is_dir() else []:
        if (d / STATE_FILE).is_file():
            try:
                with open_state(d) as st:
                    out.append(st.run())
            except StateError:
                continue
    return out


def latest_run(logs_dir: str | Path) -> Path | None:
    link = Path(logs_dir) / "latest"
    if link.is_dir() and (link / STATE_FILE).is_file():
        return link.resolve()
    base = runs_dir(logs_dir)
    dirs = sorted((d for d in base.iterdir() if (d / STATE_FILE).is_file()), reverse=True) if base.is_dir() else []
    return dirs[0] if dirs else None


def resolve_run_dir(logs_dir: str | Path, run: str | None) -> Path:
    """A RUN argument -> its run directory: None or `latest` = the latest run, a run id, or a run directory path."""
    if run is None or run == "latest":
        found = latest_run(logs_dir)
        if found is None:
            raise UsageError(f"no runs under {runs_dir(logs_dir)} (start one with `backfill run`)")
        return found
    p = Path(run)
    if (p / STATE_FILE).is_file():
        return p.resolve()
    candidate = runs_dir(logs_dir) / run
    if (candidate / STATE_FILE).is_file():
        return candidate.resolve()
    if p.is_dir() or candidate.is_dir():
        target = p if p.is_dir() else candidate
        raise _unreadable(target / STATE_FILE, "no such file (is this a run directory?)")
    raise UsageError(f"no run {run!r}: not a run directory and not under {runs_dir(logs_dir)}")


def update_latest_link(logs_dir: str | Path, run_dir: Path) -> None:
    """logs/latest -> runs/<id> (relative, replaced atomically)."""
    link = Path(logs_dir) / "latest"
    tmp = link.with_name(f".latest.{os.getpid()}")
    try:
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(os.path.relpath(run_dir, link.parent))
        tmp.replace(link)
    except OSError:
        tmp.unlink(missing_ok=True)
