"""config/pipeline.yaml -> typed, validated models. Every error is one line: `file:line: key.path: message`.

The shape (all keys documented in config/pipeline.yaml itself):
    pipeline: NAME
    warehouse: {duckdb: {path}} | {bigquery: {project, location, endpoint, datasets: {logical: real}}}
    calendar: config/seasons.yaml
    suites: [config/suites]                  # validation suite files or directories
    defaults: {workers, timeout, stall_after, retries, retry_backoff, on_warn, stop_on_stall}
    polling: {interval: 1s, progress_every: 60s}
    heartbeat_every: 4h
    formats: {NAME: {regexes...}}            # custom progress line formats
    notifications: [{url, events, name}]
    sources: {TABLE: {date_column, expected_from, refill}}   # raw inputs no phase writes (repair's source gaps)
    phases: [{name, command, log, checkpoint, dates, workers, timeout, stall_after, retries, retry_backoff,
              depends_on, preflight, post, on_warn, stop_on_stall, env, progress_format, repair, history}]
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from .dates import Calendar, date_range, load_calendar, read_date_file
from .errors import ConfigError, UsageError
from .runmodel import NOTIFIABLE
from .warehouse.base import WarehouseSettings, check_identifier, check_table
from .yamlsource import Node, load_yaml

PLACEHOLDERS = ("python", "start", "end", "dates_file", "dates", "checkpoint", "workers", "warehouse", "run_dir", "phase",
                "card")  # {card}: where the phase's job may write its card for the report (reporting/cards.py)
EVENTS = tuple(k.value for k in NOTIFIABLE)  # what `notifications[].events` may name
SEVERITIES = ("critical", "warning")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_PHASE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Gate:
    suite: str
    severity: str = "critical"  # a `warning` gate never blocks: its failures count as warnings
    table: str | None = None  # validate this table with the suite's checks instead of the suite's own table
    where: str = ""  # "file:line: key.path" of its definition, for messages


@dataclass(frozen=True)
class DateSpec:
    """Which dates a phase covers: a range, a list file, or a range filtered by the season calendar."""

    start: dt.date | None = None
    end: dt.date | None = None
    file: Path | None = None
    season_days_only: bool = False  # keep only dates inside a season of the calendar
    skip_first_days: int = 0  # bootstrap rule: drop the first N days of each season

    def resolve(self, calendar: Calendar | None) -> list[dt.date]:
        dates = read_date_file(self.file) if self.file else date_range(self.start, self.end)  # type: ignore[arg-type]
        if self.season_days_only or self.skip_first_days:
            if calendar is None:
                raise UsageError("dates: a calendar rule needs `calendar:` in the config")
            dates = [d for d in dates if calendar.bootstrap_ok(d, self.skip_first_days)]
        return dates


@dataclass(frozen=True)
class History:
    """How far back a phase's rows for date D read: its own earlier dates' inputs (rolling windows, a model over
    every date). A repaired upstream date makes this phase stale from that date to where the reach ends."""

    kind: str = "none"  # none: D reads D only | days: D reads D-N..D | season: D's season so far | all: every date
    days: int = 0

    def describe(self) -> str:
        return f"{self.days} days" if self.kind == "days" else self.kind


@dataclass(frozen=True)
class Source:
    """A raw input table no phase writes. With `expected_from`, a date that table has rows for and this one has
    none is a source gap: a repair cannot fix it (re-running a phase reads the same nothing); `refill` is the
    hint a person is given, with {start} {end} {dates} filled."""

    table: str
    date_column: str = "game_date"
    expected_from: str | None = None
    expected_date_column: str | None = None  # default: date_column
    refill: str = ""


@dataclass(frozen=True)
class Phase:
    name: str
    command: tuple[str, ...]
    dates: DateSpec
    log: str | None = None  # default: <run_dir>/<name>.log
    checkpoint: str | None = None  # default: <logs_dir>/checkpoints/<pipeline>/<name>.json
    workers: int = 1
    timeout: float | None = None
    stall_after: float | None = None  # None: max(10 min, 5x median seconds per date)
    retries: int = 0
    retry_backoff: float = 30.0
    depends_on: tuple[str, ...] = ()
    preflight: tuple[Gate, ...] = ()
    post: tuple[Gate, ...] = ()
    on_warn: str = "continue"  # continue | stop
    stop_on_stall: bool = True
    env: Mapping[str, str] = field(default_factory=dict)
    progress_format: str = "auto"
    repair_rounds: int = 0  # `repair: {max_rounds: N}`: gate-driven repair rounds before the phase fails
    history: History = History()
    line: int = 0  # where it is defined, for messages


@dataclass(frozen=True)
class Notification:
    url: str  # "" when its ${VAR:-} was empty: the target is shown as disabled, never silently dropped
    events: tuple[str, ...] = EVENTS
    name: str | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.url)


@dataclass(frozen=True)
class PipelineConfig:
    path: Path
    pipeline: str
    warehouse: WarehouseSettings
    phases: tuple[Phase, ...]
    calendar_path: Path | None = None
    suites_paths: tuple[Path, ...] = ()
    notifications: tuple[Notification, ...] = ()
    poll_interval: float = 1.0
    progress_every: float = 60.0
    heartbeat_every: float | None = None
    logs_dir: Path = Path("logs")
    formats: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    sources: tuple[Source, ...] = ()

    def phase(self, name: str) -> Phase:
        for p in self.phases:
            if p.name == name:
                return p
        raise UsageError(f"no phase named {name!r} in {self.path} (phases: {', '.join(p.name for p in self.phases)})")

    def calendar(self) -> Calendar | None:
        return load_calendar(self.calendar_path) if self.calendar_path else None

    def warehouse_label(self) -> str:
        """Identifies the warehouse for the run lock: two runs against one warehouse exclude each other."""
        w = self.warehouse
        if w.kind == "duckdb":
            return f"duckdb:{Path(w.path).resolve()}"
        return f"bigquery:{w.project}:{w.endpoint or ''}:{w.dataset_prefix}"


_TOP = {"pipeline", "warehouse", "calendar", "suites", "defaults", "polling", "heartbeat_every", "formats",
        "notifications", "phases", "logs_dir", "sources"}
_PHASE_KEYS = {"name", "command", "log", "checkpoint", "dates", "workers", "timeout", "stall_after", "retries",
               "retry_backoff", "depends_on", "preflight", "post", "on_warn", "stop_on_stall", "env",
               "progress_format", "repair", "history"}
_DEFAULT_KEYS = {"workers", "timeout", "stall_after", "retries", "retry_backoff", "on_warn", "stop_on_stall",
                 "repair"}
_HISTORY_DAYS = re.compile(r"^(\d+)\s*(?:d|days?)$")
_REFILL_PLACEHOLDERS = ("start", "end", "dates")
_FORMAT_KEYS = {"progress", "date_ok", "date_failed", "complete", "fatal", "total", "unit"}
_UNIT = re.compile(r"^[a-z][a-z_-]{0,19}$")  # what a custom format counts: days (default), rounds, files, ...


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> PipelineConfig:
    """Read and validate a pipeline config. Relative paths in it are relative to the working directory."""
    root = load_yaml(path, env)
    if root.is_null():
        raise root.error("the file is empty; expected a mapping with `pipeline`, `warehouse` and `phases`")
    top = root.keys(_TOP, {"pipeline", "phases"})
    name_node = top["pipeline"]
    pipeline = name_node.str()
    if not _PHASE_NAME.match(pipeline):
        raise name_node.error(f"expected a name of letters, digits, '_', '-', '.', got {pipeline!r}")
    defaults = _defaults(top["defaults"]) if "defaults" in top else {}
    formats = _formats(top["formats"]) if "formats" in top else {}
    phases = _phases(top["phases"], defaults, formats)
    poll, every = 1.0, 60.0
    if "polling" in top:
        pk = top["polling"].keys({"interval", "progress_every"})
        poll = pk["interval"].duration() if "interval" in pk else poll
        every = pk["progress_every"].duration() if "progress_every" in pk else every
    calendar_path = Path(top["calendar"].str()) if "calendar" in top else None
    if calendar_path is not None:
        if not calendar_path.is_file():
            raise top["calendar"].error(f"file not found: {calendar_path}")
        load_calendar(calendar_path)  # its own errors name its own file and line
    needs_calendar = [p for p in phases if p.dates.season_days_only or p.dates.skip_first_days
                      or p.history.kind == "season"]
    if needs_calendar and calendar_path is None:
        raise top["phases"].error(f"phase {needs_calendar[0].name!r} uses a season rule (`dates` or `history: "
                                  "season`) but the config has no `calendar:`", path="calendar")
    suites = tuple(Path(s) for s in top["suites"].str_list()) if "suites" in top else ()
    for node, p in zip(top["suites"].items() if "suites" in top else [], suites):
        if not p.exists():
            raise node.error(f"no such file or directory: {p}")
    return PipelineConfig(
        path=Path(path),
        pipeline=pipeline,
        warehouse=_warehouse(top["warehouse"]) if "warehouse" in top else WarehouseSettings(),
        phases=phases,
        calendar_path=calendar_path,
        suites_paths=suites,
        notifications=_notifications(top["notifications"]) if "notifications" in top else (),
        poll_interval=poll,
        progress_every=every,
        heartbeat_every=top["heartbeat_every"].duration() if "heartbeat_every" in top else None,
        logs_dir=Path(top["logs_dir"].str()) if "logs_dir" in top else Path("logs"),
        formats=formats,
        sources=_sources(top["sources"]) if "sources" in top else (),
    )


def load_gate_suites(config: PipelineConfig) -> dict[str, object]:
    """The validation suites the config's gates name, loaded from its `suites:` paths. A gate naming a suite
    that does not exist is a config error at its own line — found before any phase runs, not hours later."""
    gates = [g for p in config.phases for g in (*p.preflight, *p.post)]
    if not gates:
        return {}
    from .validation import load_suites  # heavy: only when there are gates to check

    suites = load_suites(list(config.suites_paths))
    for g in gates:
        if g.suite not in suites:
            import difflib
            hint = difflib.get_close_matches(g.suite, list(suites), n=1)
            where = ", ".join(map(str, config.suites_paths)) or "(the config has no `suites:`)"
            raise ConfigError(f"{g.where}: no validation suite named {g.suite!r} in {where}"
                              + (f" (did you mean {hint[0]!r}?)" if hint else ""))
    _check_sources(config, suites)
    return suites


def gate_tables(phase: Phase, suites: Mapping[str, object]) -> set[str]:
    """The tables a phase's post gates validate: the tables it writes."""
    return {g.table or getattr(suites[g.suite], "table") for g in phase.post if g.suite in suites}


def _check_sources(config: PipelineConfig, suites: Mapping[str, object]) -> None:
    """A source is a table no phase writes: declaring a phase's own table as a source is a config mistake (a
    repair would call its gaps unrepairable)."""
    written = {t: p.name for p in config.phases for t in gate_tables(p, suites)}
    for s in config.sources:
        if s.table in written:
            raise ConfigError(f"{config.path}: sources.{s.table}: phase {written[s.table]} writes this table; "
                              "`sources` lists raw inputs no phase writes")
        if s.expected_from == s.table:
            raise ConfigError(f"{config.path}: sources.{s.table}.expected_from: a table cannot be its own "
                              "expectation")


def _warehouse(node: Node) -> WarehouseSettings:
    m = node.keys({"duckdb", "bigquery"})
    if len(m) != 1:
        raise node.error("expected exactly one of `duckdb` or `bigquery`")
    if "duckdb" in m:
        d = m["duckdb"].keys({"path", "datasets"}, {"path"})
        return WarehouseSettings(kind="duckdb", path=d["path"].str(), datasets=_datasets(d.get("datasets")))
    b = m["bigquery"].keys({"project", "location", "endpoint", "datasets", "dataset_prefix"}, {"project"})
    project = b["project"].str()
    if not re.match(r"^[a-z][a-z0-9-]{4,61}[a-z0-9]$", project):
        raise b["project"].error(f"expected a BigQuery project id like 'my-project-123', got {project!r}")
    endpoint = b["endpoint"].str() if "endpoint" in b else None
    if endpoint is not None and not re.match(r"^https?://", endpoint):
        raise b["endpoint"].error(f"expected a URL starting with http:// or https://, got {endpoint!r}")
    prefix = b["dataset_prefix"].str() if "dataset_prefix" in b else ""
    if prefix:
        _ident(b["dataset_prefix"], prefix, "dataset prefix")
    return WarehouseSettings(kind="bigquery", project=project,
                             location=b["location"].str() if "location" in b else None,
                             endpoint=endpoint, datasets=_datasets(b.get("datasets")), dataset_prefix=prefix)


def _datasets(node: Node | None) -> dict[str, str]:
    if node is None:
        return {}
    out = {}
    for key, val in node.mapping().items():
        out[_ident(val, key, "dataset name")] = _ident(val, val.str(), "dataset name")
    return out


def _ident(node: Node, name: str, what: str) -> str:
    try:
        return check_identifier(name, what=what)
    except UsageError as e:
        raise node.error(str(e)) from None


def _defaults(node: Node) -> dict[str, Node]:
    return node.keys(_DEFAULT_KEYS)


def _formats(node: Node) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for name, fnode in node.mapping().items():
        if name in ("auto", "jobkit", "legacy-sequential", "legacy-parallel"):
            raise fnode.error(f"format name {name!r} is built in; choose another name")
        regexes = {}
        for key, rnode in fnode.keys(_FORMAT_KEYS, {"progress"}).items():
            text = rnode.str()
            if key == "unit":
                if not _UNIT.match(text):
                    raise rnode.error(f"expected a plural noun such as 'days' or 'rounds', got {text!r}")
                regexes[key] = text
                continue
            try:
                re.compile(text)
            except re.error as e:
                raise rnode.error(f"invalid regular expression: {e}") from None
            regexes[key] = text
        out[name] = regexes
    return out


def _phases(node: Node, defaults: dict[str, Node], formats: Mapping[str, object]) -> tuple[Phase, ...]:
    items = node.items()
    if not items:
        raise node.error("expected at least one phase")
    phases: list[Phase] = []
    seen: dict[str, int] = {}
    for item in items:
        m = item.keys(_PHASE_KEYS, {"name", "command", "dates"})
        name = m["name"].str()
        if not _PHASE_NAME.match(name):
            raise m["name"].error(f"expected a name of letters, digits, '_', '-', '.', got {name!r}")
        if name in seen:
            raise m["name"].error(f"duplicate phase name {name!r} (first defined on line {seen[name]})")
        seen[name] = item.line
        merged = {**defaults, **m}
        phases.append(Phase(
            name=name,
            command=_command(m["command"]),
            dates=_dates(m["dates"]),
            log=m["log"].str() if "log" in m else None,
            checkpoint=m["checkpoint"].str() if "checkpoint" in m else None,
            workers=merged["workers"].int(minimum=1) if "workers" in merged else 1,
            timeout=merged["timeout"].duration() if "timeout" in merged else None,
            stall_after=merged["stall_after"].duration() if "stall_after" in merged else None,
            retries=merged["retries"].int(minimum=0) if "retries" in merged else 0,
            retry_backoff=merged["retry_backoff"].duration() if "retry_backoff" in merged else 30.0,
            depends_on=tuple(m["depends_on"].str_list()) if "depends_on" in m else (),
            preflight=_gates(m["preflight"]) if "preflight" in m else (),
            post=_gates(m["post"]) if "post" in m else (),
            on_warn=merged["on_warn"].choice(("continue", "stop")) if "on_warn" in merged else "continue",
            stop_on_stall=merged["stop_on_stall"].bool() if "stop_on_stall" in merged else True,
            env={k: v.str() for k, v in m["env"].mapping().items()} if "env" in m else {},
            progress_format=_progress_format(m["progress_format"], formats) if "progress_format" in m else "auto",
            repair_rounds=_repair(merged["repair"]) if "repair" in merged else 0,
            history=_history(m["history"]) if "history" in m else History(),
            line=item.line,
        ))
    by_name = {p.name: (p, item) for p, item in zip(phases, items)}
    for p, item in by_name.values():
        for i, dep in enumerate(p.depends_on):
            dep_node = item.mapping()["depends_on"].items()[i]
            if dep not in by_name:
                import difflib
                hint = difflib.get_close_matches(dep, list(by_name), n=1)
                raise dep_node.error(f"unknown phase {dep!r}{' (did you mean ' + repr(hint[0]) + '?)' if hint else ''}")
            if dep == p.name:
                raise dep_node.error("a phase cannot depend on itself")
    _check_cycles(phases, {p.name: item for p, item in zip(phases, items)})
    return tuple(_topological(phases))


def _command(node: Node) -> tuple[str, ...]:
    if not node.is_list():
        raise node.error("expected the command as a list of arguments, e.g. [python, -m, my_job, --date, '{start}']")
    argv = tuple(n.str() for n in node.items())
    if not argv:
        raise node.error("expected a non-empty list of arguments")
    for i, arg in enumerate(argv):
        for ph in _PLACEHOLDER.findall(arg):
            if ph not in PLACEHOLDERS:
                raise node.items()[i].error(f"unknown placeholder {{{ph}}}; known: "
                                            + ", ".join("{" + p + "}" for p in PLACEHOLDERS))
    return argv


def _dates(node: Node) -> DateSpec:
    m = node.keys({"start", "end", "file", "season_days_only", "skip_first_days"})
    if "file" in m:
        if "start" in m or "end" in m:
            raise node.error("give either `file` or `start`/`end`, not both")
        path = Path(m["file"].str())
        if not path.is_file():
            raise m["file"].error(f"date list file not found: {path}")
        try:
            read_date_file(path)
        except UsageError as e:
            raise m["file"].error(str(e)) from None
        spec = DateSpec(file=path)
    else:
        for key in ("start", "end"):
            if key not in m:
                raise node.error("missing required key (or give `file`)", path=f"{node.path}.{key}")
        start, end = m["start"].date(), m["end"].date()
        if end < start:
            raise m["end"].error(f"end date {end} is before start date {start}")
        spec = DateSpec(start=start, end=end)
    skip = m["skip_first_days"].int(minimum=0) if "skip_first_days" in m else 0
    season_only = m["season_days_only"].bool() if "season_days_only" in m else False
    return DateSpec(spec.start, spec.end, spec.file, season_only, skip)


def _gates(node: Node) -> tuple[Gate, ...]:
    items = node.items() if node.is_list() else [node]
    gates = []
    for g in items:
        where = f"{g.file}:{g.line}: {g.path}"
        if not g.is_map():
            gates.append(Gate(suite=_ident(g, g.str(), "suite name"), where=where))
            continue
        m = g.keys({"suite", "severity", "table"}, {"suite"})
        table = m["table"].str() if "table" in m else None
        if table is not None:
            try:
                check_table(table)
            except UsageError as e:
                raise m["table"].error(str(e)) from None
        gates.append(Gate(suite=_ident(m["suite"], m["suite"].str(), "suite name"),
                          severity=m["severity"].choice(SEVERITIES) if "severity" in m else "critical",
                          table=table, where=where))
    return tuple(gates)


def _repair(node: Node) -> int:
    m = node.keys({"max_rounds"}, {"max_rounds"})
    return m["max_rounds"].int(minimum=0)


def _history(node: Node) -> History:
    text = node.str().strip().lower()
    if text in ("none", "season", "all"):
        return History(text)
    m = _HISTORY_DAYS.match(text)
    if not m:
        raise node.error(f"expected none, season, all or a number of days like '30d', got {node.str()!r}")
    return History("days", int(m.group(1)))


def _sources(node: Node) -> tuple[Source, ...]:
    out = []
    for table, snode in node.mapping().items():
        try:
            check_table(table)
        except UsageError as e:
            raise snode.error(str(e)) from None
        m = snode.keys({"date_column", "expected_from", "expected_date_column", "refill"})
        expected = m["expected_from"].str() if "expected_from" in m else None
        if expected is not None:
            try:
                check_table(expected)
            except UsageError as e:
                raise m["expected_from"].error(str(e)) from None
        refill = m["refill"].str() if "refill" in m else ""
        for ph in _PLACEHOLDER.findall(refill):
            if ph not in _REFILL_PLACEHOLDERS:
                raise m["refill"].error(f"unknown placeholder {{{ph}}}; known: {{start}}, {{end}}, {{dates}}")
        out.append(Source(table, _ident(m["date_column"], m["date_column"].str(), "column name")
                          if "date_column" in m else "game_date", expected,
                          _ident(m["expected_date_column"], m["expected_date_column"].str(), "column name")
                          if "expected_date_column" in m else None, refill))
    return tuple(out)


def _progress_format(node: Node, formats: Mapping[str, object]) -> str:
    return node.choice(("auto", "jobkit", "legacy-sequential", "legacy-parallel", *formats))


def _notifications(node: Node) -> tuple[Notification, ...]:
    out = []
    for item in node.items():
        m = item.keys({"url", "events", "name"}, {"url"})
        url = m["url"].str() if not m["url"].is_null() else ""
        if url and "://" not in url:
            raise m["url"].error("expected an apprise URL like json://host/path or mailto://user@host "
                                 "(the value is not shown: it may hold a secret)")
        events = tuple(e.choice(EVENTS) for e in m["events"].items()) if "events" in m else EVENTS
        out.append(Notification(url=url, events=events, name=m["name"].str() if "name" in m else None))
    return tuple(out)


def _check_cycles(phases: list[Phase], nodes: dict[str, Node]) -> None:
    deps = {p.name: p.depends_on for p in phases}
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for dep in deps[name]:
            if state.get(dep) == 1:
                cycle = trail[trail.index(dep):] + [dep] if dep in trail else [name, dep]
                raise nodes[name].mapping()["depends_on"].error("dependency cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep, trail + [dep])
        state[name] = 2

    for p in phases:
        if p.name not in state:
            visit(p.name, [p.name])


def _topological(phases: list[Phase]) -> list[Phase]:
    """Phases in an order where each comes after what it depends on; file order among equals."""
    done: set[str] = set()
    out: list[Phase] = []
    pending = list(phases)
    while pending:
        for p in pending:
            if all(d in done for d in p.depends_on):
                out.append(p)
                done.add(p.name)
                pending.remove(p)
                break
    return out
