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
    st.close()
    list_runs(logs_dir) -> list[RunRecord]   # newest first (unreadable run dirs are left out)
    latest_run(logs_dir) -> Path | None      # the run dir logs/latest points at (or the newest one)
    resolve_run_dir(logs_dir, run) -> Path   # RUN argument: a run id, a run dir path, or None = latest

Module-level aliases `events(st, limit)`, `progress_history(st, phase)`, `gate_results(st, phase)` exist for
callers that prefer functions.

Phase statuses: pending, preflight, running, validating, passed, warned, failed, stalled, retrying, skipped,
stopped. Run statuses: running, passed, warned, failed, stopped, interrupted (the orchestrator exited on a signal
with phases possibly still running: `backfill resume`).
"""
from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable

from .clock import iso_utc
from .errors import EXIT_USAGE, BackfillError, UsageError
from .events import Event, runbook_ref
from .render import to_jsonable

STATE_FILE = "state.sqlite"
PHASE_STATUSES = ("pending", "preflight", "running", "validating", "passed", "warned", "failed", "stalled",
                  "retrying", "skipped", "stopped")
TERMINAL = ("passed", "warned", "failed", "skipped", "stopped")
RUN_STATUSES = ("running", "passed", "warned", "failed", "stopped", "interrupted")
SCHEMA_VERSION = 1
_SQLITE_MAGIC = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database file

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS run (
    id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, config_path TEXT NOT NULL, warehouse TEXT NOT NULL,
    status TEXT NOT NULL, started_at TEXT NOT NULL, ended_at TEXT, exit_code INTEGER, message TEXT,
    pid INTEGER, create_time REAL, host TEXT, options TEXT NOT NULL DEFAULT '{}',
    stop_requested INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS phases (
    name TEXT PRIMARY KEY, position INTEGER NOT NULL, status TEXT NOT NULL, attempt INTEGER NOT NULL DEFAULT 0,
    tries INTEGER NOT NULL DEFAULT 0, pid INTEGER, create_time REAL, cmdline TEXT, is_child INTEGER,
    log_path TEXT, log_offset INTEGER, log_inode INTEGER, attempt_log_start INTEGER,
    dates_file TEXT, dates_count INTEGER, total_dates INTEGER, started_at TEXT, ended_at TEXT, exit_code INTEGER,
    exit_known INTEGER, message TEXT, retry_at TEXT, regate INTEGER NOT NULL DEFAULT 0, restart_from TEXT,
    updated_at TEXT);
CREATE TABLE IF NOT EXISTS progress (
    id INTEGER PRIMARY KEY AUTOINCREMENT, phase TEXT NOT NULL, at TEXT NOT NULL, attempt INTEGER,
    done INTEGER, total INTEGER, ok INTEGER, failed INTEGER, skipped INTEGER, records INTEGER,
    rate REAL, eta TEXT, cpu REAL, rss INTEGER, line TEXT);
CREATE TABLE IF NOT EXISTS gates (
    id INTEGER PRIMARY KEY AUTOINCREMENT, phase TEXT NOT NULL, kind TEXT NOT NULL, suite TEXT NOT NULL,
    severity TEXT NOT NULL, attempt INTEGER, status TEXT NOT NULL, at TEXT NOT NULL, result TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, kind TEXT NOT NULL, phase TEXT, message TEXT NOT NULL,
    body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS progress_phase ON progress (phase, id);
CREATE INDEX IF NOT EXISTS gates_phase ON gates (phase, id);
"""


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
    status: str
    started_at: str
    ended_at: str | None
    exit_code: int | None
    message: str | None
    pid: int | None  # the orchestrator process driving the run (last one)
    create_time: float | None
    host: str | None
    options: dict[str, Any]
    stop_requested: bool
    run_dir: str = ""


@dataclass(frozen=True)
class PhaseRecord:
    name: str
    position: int
    status: str
    attempt: int  # attempts launched in this run, ever (names the dates files)
    tries: int  # attempts since the last (re)start: what the retry budget counts
    pid: int | None
    create_time: float | None
    cmdline: list[str] | None
    is_child: bool | None
    log_path: str | None
    log_offset: int | None
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
    regate: bool  # after `restart` of an upstream phase: only re-run the gate
    restart_from: str | None
    updated_at: str | None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


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
    cpu: float | None
    rss: int | None
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
    kind: str
    phase: str | None
    message: str
    body: dict[str, Any]  # the whole Event as JSON (gate lines, log path, next command, runbook, data)


_PHASE_COLS = [f.name for f in fields(PhaseRecord)]
_RUN_COLS = [f.name for f in fields(RunRecord) if f.name != "run_dir"]


def _unreadable(path: Path, why: str) -> StateError:
    return StateError(f"{path}: run state unreadable: {why}; {runbook_ref('state_unreadable')}")


class RunState:
    """One run's state file. Writers: the orchestrator (and `stop`/`restart`); readers: anyone."""

    def __init__(self, path: Path, conn: sqlite3.Connection):
        self.path = path
        self.run_dir = path.parent
        self._db = conn

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
                           "VALUES (?, ?, ?, ?, 'running', ?, ?)",
                           (run_id, pipeline, config_path, warehouse, now_iso(), json.dumps(options or {})))
            for i, name in enumerate(phases):
                st._db.execute("INSERT INTO phases (name, position, status, updated_at) VALUES (?, ?, 'pending', ?)",
                               (name, i, now_iso()))
        return st

    # --- run ---------------------------------------------------------------------------------------------------
    def run(self) -> RunRecord:
        row = self._one(f"SELECT {', '.join(_RUN_COLS)} FROM run")
        if row is None:
            raise _unreadable(self.path, "no run row")
        d = dict(zip(_RUN_COLS, row))
        d["options"] = json.loads(d["options"] or "{}")
        d["stop_requested"] = bool(d["stop_requested"])
        return RunRecord(**d, run_dir=str(self.run_dir))

    def update_run(self, **values: Any) -> None:
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
        if "status" in values and values["status"] not in PHASE_STATUSES:
            raise ValueError(f"unknown phase status {values['status']!r}")
        if "cmdline" in values and values["cmdline"] is not None:
            values["cmdline"] = json.dumps(list(values["cmdline"]))
        values["updated_at"] = now_iso()
        self._update("phases", values, "name = ?", (name,))
        return self.phase(name)

    # --- journal ---------------------------------------------------------------------------------------------
    def add_event(self, event: Event) -> int:
        body = json.dumps(to_jsonable(event), ensure_ascii=False)
        at = iso_utc(event.at)
        with self._db:
            cur = self._db.execute("INSERT INTO events (at, kind, phase, message, body) VALUES (?, ?, ?, ?, ?)",
                                   (at, event.kind, event.phase, event.message, body))
        return int(cur.lastrowid or 0)

    def events(self, limit: int | None = None, phase: str | None = None) -> list[EventRecord]:
        where, args = ("WHERE phase = ?", (phase,)) if phase else ("", ())
        sql = f"SELECT id, at, kind, phase, message, body FROM events {where} ORDER BY id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        rows = self._all(sql, args)
        return [EventRecord(r[0], r[1], r[2], r[3], r[4], json.loads(r[5])) for r in reversed(rows)]

    def add_progress(self, phase: str, attempt: int | None, *, done: int | None, total: int | None,
                     ok: int | None, failed: int | None, skipped: int | None, records: int | None,
                     rate: float | None, eta: str | None, cpu: float | None = None, rss: int | None = None,
                     line: str | None = None) -> None:
        with self._db:
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
        with self._db:
            self._db.execute("INSERT INTO gates (phase, kind, suite, severity, attempt, status, at, result) "
                             "VALUES (?,?,?,?,?,?,?,?)",
                             (phase, kind, suite, severity, attempt, status, now_iso(),
                              json.dumps(to_jsonable(result), ensure_ascii=False)))

    def gate_results(self, phase: str | None = None) -> list[GateRecord]:
        where, args = ("WHERE phase = ?", (phase,)) if phase else ("", ())
        rows = self._all(f"SELECT phase, kind, suite, severity, attempt, status, at, result FROM gates {where} "
                         "ORDER BY id", args)
        return [GateRecord(*r[:7], result=json.loads(r[7])) for r in rows]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> RunState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- helpers ---------------------------------------------------------------------------------------------
    def _update(self, table: str, values: dict[str, Any], where: str, args: tuple) -> None:
        if not values:
            return
        cols = ", ".join(f"{k} = ?" for k in values)
        try:
            with self._db:
                self._db.execute(f"UPDATE {table} SET {cols} WHERE {where}", (*values.values(), *args))
        except sqlite3.DatabaseError as e:
            raise _unreadable(self.path, str(e)) from None

    def _one(self, sql: str, args: tuple = ()) -> tuple | None:
        try:
            return self._db.execute(sql, args).fetchone()
        except sqlite3.DatabaseError as e:
            raise _unreadable(self.path, str(e)) from None

    def _all(self, sql: str, args: tuple = ()) -> list[tuple]:
        try:
            return self._db.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as e:
            raise _unreadable(self.path, str(e)) from None


def _phase(row: tuple) -> PhaseRecord:
    d = dict(zip(_PHASE_COLS, row))
    d["cmdline"] = json.loads(d["cmdline"]) if d["cmdline"] else None
    d["is_child"] = None if d["is_child"] is None else bool(d["is_child"])
    d["exit_known"] = None if d["exit_known"] is None else bool(d["exit_known"])
    d["regate"] = bool(d["regate"])
    return PhaseRecord(**d)


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
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.DatabaseError as e:
        raise _unreadable(path, str(e)) from None
    if version is None or int(version[0]) != SCHEMA_VERSION:
        conn.close()
        raise _unreadable(path, f"unknown schema version {version[0] if version else None}")
    return RunState(path, conn)


def events(st: RunState, limit: int | None = None) -> list[EventRecord]:
    return st.events(limit)


def progress_history(st: RunState, phase: str) -> list[ProgressRecord]:
    return st.progress_history(phase)


def gate_results(st: RunState, phase: str | None = None) -> list[GateRecord]:
    return st.gate_results(phase)


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
