"""Notifications through real receivers: an HTTP server (apprise json://) and an SMTP server (aiosmtpd, mailto://),
one receiver that is down (closed port) and one that accepts but never answers."""
from __future__ import annotations

import datetime as dt
import email
import json
import logging
import socket
import threading
import time
from email import policy
from typing import Iterator

import pytest
from aiosmtpd.controller import Controller

from backfill_orchestrator.config import Notification
from backfill_orchestrator.events import Event, runbook_ref
from backfill_orchestrator.notify import Heartbeat, Notifier, format_message, heartbeat_event

SECRET = "T0KEN-s3cr3t-abc123"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(cond, deadline: float = 10.0) -> bool:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)  # polling a condition with a deadline
    return cond()


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Controller, _Mailbox]]:
    box = _Mailbox()
    ctl = Controller(box, hostname="127.0.0.1", port=_free_port())
    ctl.start()
    yield ctl, box
    ctl.stop()


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts connections and never answers: a hung webhook."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    conns: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.1)
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join()
    for c in conns:
        c.close()
    srv.close()


def _failed_event(kind: str = "phase_failed") -> Event:
    return Event(kind, "20260103T010000Z-ab12",
                 f"player_game_summary gate FAILED: usage_rate_coverage 62.3% vs >= 95%; {runbook_ref('gate_failed')}",
                 phase="player_game_summary",
                 progress="1537/1537 days (100.0%) ok=1075 failed=2 records=384,250 rate=11.9 d/min eta=unknown",
                 gate=["usage_rate_coverage: 62.3 vs >= 95% — 2024-11-02..2025-06-30 (241 dates) below"],
                 log_path="logs/runs/20260103T010000Z-ab12/player_game_summary.log",
                 next_command="backfill restart player_game_summary --from 2024-11-02", runbook="gate_failed")


def test_json_webhook_receives_everything_a_person_needs(http_receiver, caplog):
    port = http_receiver.server_address[1]
    url = f"json://127.0.0.1:{port}/hooks/{SECRET}"
    log = logging.getLogger("test.notify.json")
    caplog.set_level(logging.INFO)
    n = Notifier([Notification(url, name="chat")], log, timeout=5, attempts=2)
    n.notify(_failed_event())
    assert n.close(timeout=15)
    assert len(http_receiver.received) == 1
    path, payload = http_receiver.received[0]
    assert path == f"/hooks/{SECRET}"
    assert payload["type"] == "failure"
    body = payload["message"]
    for needle in ("20260103T010000Z-ab12", "Phase: player_game_summary", "Progress: 1537/1537 days",
                   "usage_rate_coverage: 62.3 vs >= 95% — 2024-11-02..2025-06-30 (241 dates) below",
                   "Log: logs/runs/20260103T010000Z-ab12/player_game_summary.log",
                   "Next: backfill restart player_game_summary --from 2024-11-02"):
        assert needle in body, needle
    assert body.splitlines()[-1] == "Runbook: docs/runbook.md#gate-failed"
    assert "phase failed player_game_summary" in payload["title"]
    assert n.results[0].ok and n.results[0].attempts == 1
    assert SECRET not in caplog.text


def test_per_target_event_filter_and_disabled_target_logged_once(http_receiver, caplog):
    port = http_receiver.server_address[1]
    caplog.set_level(logging.INFO)
    log = logging.getLogger("test.notify.filter")
    n = Notifier([Notification(f"json://127.0.0.1:{port}/failures", events=("phase_failed",), name="pager"),
                  Notification(f"json://127.0.0.1:{port}/all", name="chat"),
                  Notification("", name="disabled-one")], log, timeout=5)
    n.notify(Event("phase_passed", "r1", "team_offense_game_summary passed", phase="team_offense_game_summary"))
    n.notify(_failed_event())
    n.notify(Event("progress", "r1", "internal events are never sent"))
    n.notify(_failed_event("phase_failed"))
    assert n.close(timeout=15)
    paths = sorted(p for p, _ in http_receiver.received)
    assert paths == ["/all", "/all", "/all", "/failures", "/failures"]
    disabled = [r for r in caplog.records if "disabled" in r.getMessage()]
    assert len(disabled) == 1 and "disabled-one" in disabled[0].getMessage()


def test_email_through_a_real_smtp_server(smtp_server):
    ctl, box = smtp_server
    url = (f"mailto://example.com?smtp=127.0.0.1&port={ctl.port}&mode=insecure"
           "&from=backfill@example.com&to=oncall@example.com")
    n = Notifier([Notification(url, name="mail")], logging.getLogger("test.notify.mail"), timeout=5)
    n.notify(_failed_event())
    assert n.close(timeout=15)
    assert len(box.messages) == 1
    msg = box.messages[0]
    assert msg["To"] == "oncall@example.com"
    assert "phase failed player_game_summary" in msg["Subject"]
    text = msg.get_body(preferencelist=("plain",)).get_content()
    assert "Next: backfill restart player_game_summary --from 2024-11-02" in text
    assert "docs/runbook.md#gate-failed" in text


def test_receiver_down_does_not_slow_the_caller_and_is_logged_redacted(caplog):
    port = _free_port()  # nothing listens there
    url = f"json://admin:pw-{SECRET}@127.0.0.1:{port}/hook/{SECRET}"
    caplog.set_level(logging.INFO)
    n = Notifier([Notification(url, name="down")], logging.getLogger("test.notify.down"), timeout=2, attempts=3,
                 backoff=0.05)
    t0 = time.monotonic()
    for _ in range(5):
        n.notify(_failed_event())
    caller = time.monotonic() - t0
    assert caller < 0.05, f"notify() blocked the caller for {caller:.3f}s"
    t1 = time.monotonic()
    assert n.close(timeout=30)
    drained = time.monotonic() - t1
    assert drained < 10, drained
    assert len(n.results) == 5 and not any(r.ok for r in n.results)
    assert all(r.attempts == 3 for r in n.results)
    text = caplog.text
    assert "notify failed" in text and "notify gave up" in text
    assert "docs/runbook.md#notify-failed" in text
    assert f"json://127.0.0.1:{port}/***" in text
    assert SECRET not in text and "admin" not in text


def test_a_receiver_that_never_answers_is_abandoned_within_the_bound(silent_server, caplog):
    caplog.set_level(logging.INFO)
    n = Notifier([Notification(f"json://127.0.0.1:{silent_server}/hook")], logging.getLogger("test.notify.hang"),
                 timeout=1.0, attempts=2, backoff=0.05)
    t0 = time.monotonic()
    n.notify(_failed_event())
    assert time.monotonic() - t0 < 0.05
    assert n.close(timeout=20)
    took = time.monotonic() - t0
    # two attempts bounded by 1 s each (+ join slack and backoff); never apprise's 4 s defaults or more
    assert took < 4.5, took
    assert n.results and not n.results[0].ok


def test_close_with_nothing_sent_and_notify_after_close(caplog):
    caplog.set_level(logging.INFO)
    n = Notifier([Notification("json://127.0.0.1:9/x")], logging.getLogger("test.notify.closed"))
    assert n.close(timeout=1)
    n.notify(_failed_event())
    assert "notifier closed" in caplog.text


def test_heartbeat_digest_and_schedule():
    started = dt.datetime(2026, 1, 3, 1, 0, tzinfo=dt.timezone.utc)
    ev = heartbeat_event("r9", started, [("a", "passed", None), ("b", "running", "612/1537 days (39.8%)"),
                                         ("c", "pending", None)],
                         log_path="logs/runs/r9/orchestrator.log", now=started + dt.timedelta(hours=4, minutes=5))
    assert ev.kind == "heartbeat" and ev.phase == "b"
    assert "alive for 4h05m" in ev.message and "1/3 phases done" in ev.message and "612/1537" in ev.message
    msg = format_message(ev)
    assert "Next: backfill status r9" in msg.body and msg.level == "info"
    hb = Heartbeat(3600, start=0.0)
    assert not hb.due(now=3599.0)
    assert hb.due(now=3600.0)
    assert not hb.due(now=3601.0)
    assert hb.due(now=7200.0)
    assert not Heartbeat(None, start=0.0).due(now=1e9)


def test_heartbeat_message_carries_the_whole_digest():
    started = dt.datetime(2026, 1, 3, 1, 0, tzinfo=dt.timezone.utc)
    ev = heartbeat_event("r9", started, [("a", "passed", None), ("b", "running", "612/1537 days (39.8%)"),
                                         ("c", "pending", None)], now=started + dt.timedelta(hours=4))
    body = format_message(ev).body
    for line in ("a: passed", "b: running (612/1537 days (39.8%))", "c: pending"):
        assert f"  - {line}" in body, body
    assert "Run: r9" in body and "Phase: b" in body and "Progress: 612/1537" in body
