"""Redaction of secrets in log lines and reports: URL forms apprise accepts, and the pieces of a configured URL
that libraries log without the URL around them."""
from __future__ import annotations

import logging
import socket

import pytest

from backfill_orchestrator.config import Notification
from backfill_orchestrator.events import Event
from backfill_orchestrator.notify import Notifier
from backfill_orchestrator.redact import redact_text, redact_url


@pytest.mark.parametrize("text, secret, kept", [
    ("tgram://123456789:AAHsecretTOKEN/12345", "AAHsecretTOKEN", "tgram://***"),
    ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ", "TIiajkdnlazkcOXrIdevi7FQ", "slack://***"),
    ("see https://hooks.slack.com/services/T1/B1/SeCrEtXyZ now", "SeCrEtXyZ", "https://hooks.slack.com/***"),
    ("discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js", "JHMHI8qBe7bk2ZwO5U711o3dV_js", "discord://***"),
    ("mailto://user:Pw-s3cret@smtp.example.com?to=a@b.c", "Pw-s3cret", "mailto://smtp.example.com/***"),
    ("mailto:user:Pw-s3cret@example.com", "Pw-s3cret", "mailto:***"),
    ("json://127.0.0.1:8080?token=Qs3cretQ", "Qs3cretQ", "json://127.0.0.1:8080/***"),
    ("GET https://api.example.com/x?token=abc123&y=2", "abc123", "https://api.example.com/***"),
    ("https://user:hunter2@[::1]:8443/h", "hunter2", "https://[::1]:8443/***"),
])
def test_urls_lose_their_credentials(text: str, secret: str, kept: str):
    out = redact_text(text)
    assert secret not in out and kept in out, out


def test_parts_of_a_configured_url_are_masked_where_a_library_logs_them_alone():
    secrets = ["json://127.0.0.1:5555/hooks/T0KEN-s3cr3t-abc123",
               "https://discord.com/api/webhooks/4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js",
               "mailto://oncall:PWsecret@smtp.example.com"]
    line = ('127.0.0.1:5555 "POST /hooks/T0KEN-s3cr3t-abc123 HTTP/1.1" 200; Max retries exceeded with url: '
            '/api/webhooks/4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js; login PWsecret refused')
    out = redact_text(line, secrets)
    for s in ("T0KEN-s3cr3t-abc123", "JHMHI8qBe7bk2ZwO5U711o3dV_js", "4174216298", "PWsecret"):
        assert s not in out, out
    assert "POST" in out and "Max retries exceeded" in out  # the line still says what happened
    assert redact_url("tgram://123456789:AAHsecretTOKEN/12345") == "tgram://***"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_log_line_at_any_level_names_the_token(caplog):
    """apprise logs the requests exception (`... with url: /hook/TOKEN`) at debug level, urllib3 the request line."""
    token = "T0KEN-d3bug-xyz987"
    caplog.set_level(logging.DEBUG)
    n = Notifier([Notification(f"json://127.0.0.1:{_free_port()}/hook/{token}", name="down"),
                  Notification(f"tgram://123456789:AAH{token}/12345", name="tg")],
                 logging.getLogger("test.notify.debug"), timeout=1, attempts=1)
    n.notify(Event("phase_failed", "r1", "failed", phase="p"))
    assert n.close(timeout=20)
    assert "Max retries exceeded" in caplog.text or "Connection" in caplog.text  # the debug lines were captured
    assert token not in caplog.text
    assert all(token not in (r.error or "") and token not in r.target for r in n.results)


def test_secret_values_of_a_config_are_credentials_not_every_setting():
    from backfill_orchestrator.redact import secret_values

    got = secret_values(["json://127.0.0.1:9/hook/abc123", ""],
                        [{"API_TOKEN": "t0k3n-value", "DB_PASSWORD": "hunter22", "PYTHONUNBUFFERED": "1",
                          "MODE": "fast-mode", "UPSTREAM": "https://u:p@api.example.com/x", "KEY": "ab"}])
    assert got == sorted(["json://127.0.0.1:9/hook/abc123", "t0k3n-value", "hunter22",
                          "https://u:p@api.example.com/x"])
    assert redact_text("MODE fast-mode with t0k3n-value", got) == "MODE fast-mode with ***"
