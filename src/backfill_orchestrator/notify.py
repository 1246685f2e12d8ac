"""Events -> notifications through apprise URLs (Slack, e-mail, Discord, Teams, JSON webhooks, ...).

A notification must never stop or slow a run: `Notifier.notify` only puts the event on a queue; one
background thread sends it to every target whose `events` list names the event's kind. Each attempt runs
with socket timeouts and is itself bounded by a join deadline (a hung plugin is abandoned, not waited on);
a failed attempt is retried a little with backoff, and the whole send of one event to one target is bounded
by `timeout * attempts` plus the backoff. Failures are logged, redacted, and never raised.

Every message carries run id, phase, progress/ETA, the gate summary (failed checks with their evidence),
the log path, the next command and, for failures, the runbook anchor as its last line.
"""
from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from .clock import hm_duration, iso_utc, utcnow
from .config import Notification
from .events import ANCHORS, RUNBOOK, Event
from .redact import redact_text, redact_url
from .runmodel import NOTIFIABLE, PHASE_ACTIVE, PHASE_SUCCEEDED, EventKind, PhaseStatus, Reason, RunStatus

_FAILURE_KINDS = {EventKind.PHASE_FAILED, EventKind.STALLED, EventKind.SOURCE_GAP}
_WARNING_KINDS = {EventKind.PHASE_WARNED, EventKind.RETRYING, EventKind.REPAIR_STARTED}
_SUCCESS_KINDS = {EventKind.PHASE_PASSED}
_STOP = object()


@dataclass
class SendResult:
    """One event sent (or not) to one target; kept so that reports and tests can see what happened."""

    target: str  # name, or the redacted URL
    kind: str
    ok: bool
    attempts: int
    seconds: float
    error: str | None = None


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    level: str  # info | success | warning | failure (apprise NotifyType values)


def format_message(event: Event) -> Message:
    """Title + plain-text body of one notification; failures end with their runbook anchor."""
    phase = f" {event.phase}" if event.phase else ""
    title = f"[backfill] {event.kind.replace('_', ' ')}{phase} (run {event.run_id})"
    lines = [event.message, "", f"Run: {event.run_id}"]
    if event.phase:
        lines.append(f"Phase: {event.phase}")
    if event.progress:
        lines.append(f"Progress: {event.progress}")
    if event.gate:
        lines.append("Gate:")
        lines.extend(f"  - {g}" for g in event.gate)
    digest = event.data.get("phases")
    if isinstance(digest, list) and digest:  # the heartbeat: every phase's state, so silence is not the news
        lines.append("Phases:")
        lines.extend(f"  - {d}" for d in digest)
    if event.log_path:
        lines.append(f"Log: {event.log_path}")
    if event.next_command:
        lines.append(f"Next: {event.next_command}")
    lines.append(f"At: {iso_utc(event.at)}")
    if event.runbook:
        anchor = ANCHORS.get(event.runbook, event.runbook)
        lines.append(f"Runbook: {RUNBOOK}#{anchor}")
    return Message(title, "\n".join(lines), _level(event))


def _level(event: Event) -> str:
    finished = event.kind == EventKind.RUN_FINISHED
    status = str(event.data.get("status", ""))
    if event.kind == EventKind.REPAIR_FINISHED:  # a round that repaired is good news; any other ending is not
        return "success" if status in ("passed", "warned") else "warning"
    if event.kind in _FAILURE_KINDS or event.runbook or (finished and status == RunStatus.FAILED):
        return "failure"
    if event.kind in _WARNING_KINDS or (finished and status == RunStatus.WARNED):
        return "warning"
    if event.kind in _SUCCESS_KINDS or (finished and status == RunStatus.PASSED):
        return "success"
    return "info"


class Heartbeat:
    """`due()` turns true every `every` seconds: the orchestrator sends a digest so that silence is noticed."""

    def __init__(self, every: float | None, start: float | None = None) -> None:
        self.every = every
        self._last = time.monotonic() if start is None else start

    def due(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        if not self.every or now - self._last < self.every:
            return False
        self._last = now
        return True


def heartbeat_event(run_id: str, started_at: dt.datetime, phases: Sequence[tuple[str, str, str | None]], *,
                    log_path: str | None = None, next_command: str | None = None,
                    now: dt.datetime | None = None) -> Event:
    """A digest of a long run: `phases` = (name, state, progress line or None) in order.

    The message names the running phase and its progress so that a reader knows, at a glance, that the
    run is alive and how far it is."""
    now = now or utcnow()
    elapsed = hm_duration(max(0.0, (now - started_at).total_seconds()))
    running = [p for p in phases if p[1] in PHASE_ACTIVE]
    current = running[0] if running else None
    done = sum(1 for p in phases if p[1] in PHASE_SUCCEEDED or p[1] == PhaseStatus.SKIPPED)
    head = f"run {run_id} alive for {elapsed}: {done}/{len(phases)} phases done"
    if current:
        head += f"; {current[0]} {current[1]}" + (f" — {current[2]}" if current[2] else "")
    digest = [f"{name}: {state}" + (f" ({prog})" if prog else "") for name, state, prog in phases]
    return Event(kind=EventKind.HEARTBEAT, run_id=run_id, message=head, phase=current[0] if current else None, at=now,
                 progress=current[2] if current else None, log_path=log_path,
                 next_command=next_command or f"backfill status {run_id}",
                 data={"phases": digest, "elapsed_seconds": (now - started_at).total_seconds()})


class _RedactApprise(logging.Filter):
    """apprise's own log lines may name a URL with its token; mask them like ours."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = set(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            record.msg = redact_text(record.getMessage(), self.secrets)
            record.args = ()
        except Exception:  # a filter must never break logging; the record is dropped rather than leaked
            return False
        return True


class Notifier:
    """Send events to the configured targets in the background. Thread-safe `notify`; `close` drains."""

    def __init__(self, notifications: Sequence[Notification], log: logging.Logger, timeout: float = 10.0,
                 attempts: int = 3, backoff: float = 0.5) -> None:
        self.log = log
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.results: list[SendResult] = []
        self._secrets = [n.url for n in notifications if n.url]
        self._targets = [n for n in notifications if n.enabled]
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        for i, n in enumerate(notifications):
            if not n.enabled:
                log.warning("notification target %s is disabled (its url is empty); it will not be sent to",
                            n.name or f"#{i + 1}")
        if self._targets:
            _install_apprise_filter(self._secrets)

    @property
    def targets(self) -> list[str]:
        return [self._label(n) for n in self._targets]

    def _label(self, n: Notification) -> str:
        return f"{n.name} ({redact_url(n.url)})" if n.name else redact_url(n.url)

    def notify(self, event: Event) -> None:
        """Queue the event for every target that wants its kind; returns at once."""
        if event.kind not in NOTIFIABLE:
            return
        wanted = [n for n in self._targets if event.kind in n.events]
        if not wanted:
            return
        with self._lock:
            if self._closed:
                self.log.warning("notifier closed; %s not sent", event.kind)
                return
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="backfill-notifier", daemon=True)
                self._thread.start()
            self._queue.put((event, wanted))

    def close(self, timeout: float | None = 30.0) -> bool:
        """Send what is queued, then stop. True when everything queued was attempted within `timeout`."""
        with self._lock:
            self._closed = True
            thread = self._thread
            if thread is not None:
                self._queue.put(_STOP)
        if thread is None:
            return True
        thread.join(timeout)
        if thread.is_alive():
            self.log.warning("notifications still being sent after %.0fs; not waiting for them (%s)",
                             timeout or 0, _runbook())
            return False
        return True

    # -- the background thread --------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            event, targets = item
            message = format_message(event)
            for target in targets:
                try:
                    self.results.append(self._send(target, event.kind, message))
                except Exception as e:  # never let one bad target kill the thread (and so every later send)
                    self.log.warning("notify failed: %s", redact_text(f"{type(e).__name__}: {e}", self._secrets))

    def _send(self, target: Notification, kind: str, message: Message) -> SendResult:
        label = self._label(target)
        started = time.monotonic()
        deadline = started + self.timeout * self.attempts
        error = "not attempted"
        attempt = 0
        for attempt in range(1, self.attempts + 1):
            budget = min(self.timeout, deadline - time.monotonic())
            if budget <= 0:
                break
            ok, error = _attempt(target.url, message, budget)
            if ok:
                self.log.info("notified %s: %s", label, kind)
                return SendResult(label, kind, True, attempt, time.monotonic() - started)
            self.log.warning("%s", redact_text(f"notify failed: {label} event {kind} attempt {attempt}/"
                                               f"{self.attempts}: {error}", self._secrets))
            pause = self.backoff * (2 ** (attempt - 1))
            if attempt < self.attempts and time.monotonic() + pause < deadline:
                time.sleep(pause)  # backoff between retries, in the notifier thread only
        seconds = time.monotonic() - started
        self.log.warning("%s", redact_text(f"notify gave up: {label} event {kind} after {attempt} attempt(s) "
                                           f"in {seconds:.1f}s; the run continues ({_runbook()})", self._secrets))
        return SendResult(label, kind, False, attempt, seconds, redact_text(error, self._secrets))


def _runbook() -> str:
    return f"see {RUNBOOK}#{ANCHORS[Reason.NOTIFY_FAILED]}"


def _attempt(url: str, message: Message, budget: float) -> tuple[bool, str]:
    """One delivery in a helper thread joined with `budget`: a plugin that hangs past its socket timeouts
    is abandoned (daemon thread) rather than holding up the notifier."""
    outcome: dict[str, Any] = {"ok": False, "error": f"no answer within {budget:.1f}s"}

    def work() -> None:
        try:
            outcome["ok"], outcome["error"] = _deliver(url, message, budget)
        except Exception as e:
            outcome["ok"], outcome["error"] = False, f"{type(e).__name__}: {e}"

    t = threading.Thread(target=work, name="backfill-notify-send", daemon=True)
    t.start()
    t.join(budget + 0.5)
    if t.is_alive():
        return False, f"no answer within {budget:.1f}s"
    return bool(outcome["ok"]), str(outcome["error"] or "")


def _deliver(url: str, message: Message, budget: float) -> tuple[bool, str | None]:
    import apprise  # imported lazily: only runs that notify pay for it

    asset = apprise.AppriseAsset(storage_mode="memory")  # no apprise state written under $HOME
    plugin = apprise.Apprise.instantiate(url, asset=asset)
    if plugin is None:
        return False, "apprise does not accept this URL (unknown scheme or bad parameters)"
    # Bound every socket operation by what is left of this attempt.
    for attr in ("socket_connect_timeout", "socket_read_timeout"):
        if hasattr(plugin, attr):
            setattr(plugin, attr, max(0.1, min(float(getattr(plugin, attr) or budget), budget)))
    ap = apprise.Apprise(asset=asset)
    ap.add(plugin)
    result = ap.notify(body=message.body, title=message.title, notify_type=message.level)
    if result:
        return True, None
    return False, _reason(result)


def _reason(result: Any) -> str:
    logs = getattr(result, "logs", None)
    if callable(logs):
        try:
            msgs = [e.message for e in logs() if getattr(e, "level", "") in ("WARNING", "ERROR", "CRITICAL")]
        except Exception:  # older apprise results have no logs; the generic reason is enough
            msgs = []
        if msgs:
            return "; ".join(dict.fromkeys(msgs))[:500]
    return "delivery failed"


# Loggers that name a target's URL or its path (urllib3 logs `"POST /hooks/TOKEN HTTP/1.1"` at debug level). A
# logger's filters apply only to records created on that very logger, so each one is named here.
_LIBRARY_LOGGERS = ("apprise", "urllib3.connectionpool", "requests")


def _install_apprise_filter(secrets: Sequence[str]) -> None:
    for name in _LIBRARY_LOGGERS:
        alog = logging.getLogger(name)
        for f in alog.filters:
            if isinstance(f, _RedactApprise):
                f.secrets.update(secrets)
                break
        else:
            alog.addFilter(_RedactApprise(secrets))
