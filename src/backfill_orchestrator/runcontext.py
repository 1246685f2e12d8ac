"""What a phase runner and the gates may use of the run they belong to: ids, paths, config, state, outputs and
the way to journal an event. The orchestrator builds one per run and owns everything in it.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .config import PipelineConfig
from .dates import Calendar
from .events import Event
from .notify import Heartbeat, heartbeat_event
from .runlog import Console, RunLog
from .runmodel import EventKind
from .state import RunState


@dataclass
class RunContext:
    run_id: str
    run_dir: Path
    config: PipelineConfig
    calendar: Calendar
    state: RunState
    emit: Callable[[Event], Event]  # journal, log, notify (in that order)
    heartbeat: Heartbeat
    stop_grace: float  # TERM -> KILL when the orchestrator stops a phase
    stop_phases_on_exit: bool
    log: RunLog | None = None
    console: Console | None = None
    interrupt: str | None = None  # the signal's name once SIGTERM/SIGINT arrived: record and leave

    def event(self, kind: EventKind, message: str, phase: str | None = None, **kw: Any) -> Event:
        return self.emit(Event(kind=kind, run_id=self.run_id, message=message, phase=phase, **kw))

    def send_heartbeat(self, phase: str, line: str) -> None:
        """A digest of every phase, so that a long quiet night still says it is alive."""
        phases = [(p.name, p.status, line if p.name == phase else None) for p in self.state.phases()]
        started = dt.datetime.fromisoformat(self.state.run().started_at)
        self.emit(heartbeat_event(self.run_id, started, phases, log_path=str(self.run_dir / "orchestrator.log")))
