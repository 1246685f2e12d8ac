"""What a gate-driven repair round re-runs, as plain functions (no I/O): how far a phase's history reaches, which
tables the phases write, which sources a phase reads, and the plan a round follows.

A phase whose rows for date D read earlier dates (rolling windows, a model over every date) is stale on every
later date whose window reaches a repaired date, not only on the repaired dates. `reach` says which.
"""
from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

from .config import History, PipelineConfig, Source
from .dates import Calendar, format_ranges

if TYPE_CHECKING:
    from .validation import Suite


def reach(phase_dates: Sequence[dt.date], repaired: Iterable[dt.date], history: History,
          calendar: Calendar | None) -> list[dt.date]:
    """The dates of a phase made stale when its upstream re-ran `repaired`: the same dates (history none), those
    up to N days later, the rest of each touched season, or every date (a model trained on all of them). A date
    outside every season of the calendar reaches to the end, since no season end bounds it."""
    rep = sorted(set(repaired))
    if not rep:
        return []
    if history.kind == "all":
        return list(phase_dates)
    if history.kind == "none":
        wanted = set(rep)
        return [d for d in phase_dates if d in wanted]
    out = []
    for d in phase_dates:
        i = bisect.bisect_right(rep, d)  # rep[:i] are the repaired dates on or before d
        if i == 0:
            continue
        if history.kind == "days":
            if (d - rep[i - 1]).days <= history.days:
                out.append(d)
            continue
        season = calendar.season_of(d) if calendar else None
        first_in_season = next((r for r in rep[:i] if season is not None and season.contains(r)), None)
        unbounded = any(calendar is None or calendar.season_of(r) is None for r in rep[:i])
        if first_in_season is not None or unbounded:
            out.append(d)
    return out


def restart_until(to: dt.date, history: History, calendar: Calendar | None) -> dt.date | None:
    """The last date a dependent re-runs when its upstream restarts up to `to` (None: to the end of its dates)."""
    if history.kind == "none":
        return to
    if history.kind == "days":
        return to + dt.timedelta(days=history.days)
    if history.kind == "season" and calendar is not None:
        season = calendar.season_of(to)
        return season.playoffs_end if season is not None else None
    return None


def upstream(config: PipelineConfig, name: str) -> list[str]:
    """Every phase `name` depends on, transitively, in pipeline order."""
    found: set[str] = set()
    todo = list(config.phase(name).depends_on)
    while todo:
        d = todo.pop()
        if d not in found:
            found.add(d)
            todo.extend(config.phase(d).depends_on)
    return [p.name for p in config.phases if p.name in found]


def downstream(config: PipelineConfig, names: Iterable[str]) -> list[str]:
    """Every phase that depends on one of `names`, transitively, in pipeline order (`names` excluded)."""
    start = set(names)
    found: set[str] = set()
    for p in config.phases:  # pipeline order is topological: a dependency is seen before its dependents
        if p.name not in start and any(d in start or d in found for d in p.depends_on):
            found.add(p.name)
    return [p.name for p in config.phases if p.name in found]


def tables_read(suite: Suite) -> set[str]:
    """The tables a suite compares its table with (its inputs, as far as the gate knows them)."""
    return {c.compare_to.table for c in suite.checks if c.compare_to is not None and c.compare_to.table}


def relevant_sources(config: PipelineConfig, suites: Mapping[str, Suite], name: str) -> list[Source]:
    """The declared sources (with `expected_from`) that the gates of `name` or of its upstream phases compare
    against: where a gap in the raw input shows first."""
    names = [*upstream(config, name), name]
    referenced: set[str] = set()
    for n in names:
        for g in (*config.phase(n).preflight, *config.phase(n).post):
            if g.suite in suites:
                referenced |= tables_read(suites[g.suite]) | {suites[g.suite].table}
    return [s for s in config.sources if s.expected_from and s.table in referenced]


def refill_hint(source: Source, dates: Sequence[dt.date]) -> str:
    if not source.refill or not dates:
        return ""
    return (source.refill.replace("{start}", str(min(dates))).replace("{end}", str(max(dates)))
            .replace("{dates}", ",".join(str(d) for d in sorted(dates))))


@dataclass(frozen=True)
class PlannedStep:
    phase: str
    dates: tuple[dt.date, ...]
    why: str


@dataclass(frozen=True)
class RepairPlan:
    """One round: the failing dates of `target`'s gate, the source gaps among them, what re-runs and why."""
    target: str
    round: int
    max_rounds: int
    failing: tuple[dt.date, ...]
    checks: tuple[str, ...]  # the failing critical checks
    gaps: Mapping[str, tuple[dt.date, ...]] = field(default_factory=dict)  # source table -> dates it lacks
    hints: Mapping[str, str] = field(default_factory=dict)  # source table -> refill command
    probes: tuple[str, ...] = ()  # what each upstream gate said on the failing dates
    steps: tuple[PlannedStep, ...] = ()

    @property
    def gap_dates(self) -> set[dt.date]:
        return {d for ds in self.gaps.values() for d in ds}

    def text(self) -> str:
        lines = [f"repair plan for {self.target} (round {self.round} of {self.max_rounds}): its gate fails on "
                 f"{len(self.failing)} dates ({format_ranges(self.failing, limit=6)})"]
        lines += [f"  failing: {c}" for c in self.checks[:6]]
        lines += [f"  upstream: {p}" for p in self.probes]
        for table, dates in self.gaps.items():
            lines.append(f"  source gap: {table} has no rows on {len(dates)} dates ({format_ranges(dates, limit=6)})"
                         " where it is expected; a re-run cannot fix that")
            if self.hints.get(table):
                lines.append(f"    refill: {self.hints[table]}")
        if self.steps:
            lines.append("  re-runs, in order:")
            lines += [f"    {i}. {s.phase}: {len(s.dates)} dates ({format_ranges(s.dates, limit=4)}) — {s.why}"
                      for i, s in enumerate(self.steps, 1)]
        else:
            lines.append("  re-runs: nothing")
        return "\n".join(lines)


def plan_steps(config: PipelineConfig, calendar: Calendar | None, target: str, todo: Sequence[dt.date],
               bad_upstream: Mapping[str, Sequence[dt.date]], already_ran: set[str],
               dates_of: Mapping[str, Sequence[dt.date]]) -> list[PlannedStep]:
    """The re-runs of one round, in pipeline order (upstream first):
    - each upstream phase whose own gate fails on the target's failing dates: those dates;
    - each phase that reads a repaired upstream and has already run (the target included): the dates its history
      makes stale (`reach`);
    - the target: its failing dates (less the source gaps), plus what the upstream repairs made stale."""
    dates: dict[str, set[dt.date]] = {}
    why: dict[str, list[str]] = {}
    for u, bad in bad_upstream.items():
        dates.setdefault(u, set()).update(bad)
        why.setdefault(u, []).append(f"its gate fails there too ({len(bad)} of the dates)")
    for u, bad in bad_upstream.items():
        for d in downstream(config, [u]):
            if d != target and d not in already_ran:
                continue  # not run yet in this run: it runs on every date when its turn comes
            ph = config.phase(d)
            stale = reach(dates_of[d], bad, ph.history, calendar)
            if stale:
                dates.setdefault(d, set()).update(stale)
                extent = "" if ph.history.kind == "none" else f", history {ph.history.describe()}"
                why.setdefault(d, []).append(f"reads {u}'s repaired dates{extent}")
    if todo:
        dates.setdefault(target, set()).update(todo)
        why.setdefault(target, []).append("its own failing dates")
    return [PlannedStep(p.name, tuple(sorted(dates[p.name])), "; ".join(why[p.name]))
            for p in config.phases if dates.get(p.name)]
