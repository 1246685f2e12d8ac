"""Secrets given through `${VAR}` never appear in any artefact of a run: orchestrator.log, the state, status --json,
the reports, the metrics, what the notification receiver got, what the run printed. A phase that fails and quotes
its token in its fatal line is the hard case: the run relays that line. (The job's own log is the job's: it holds
what the job printed, and `backfill logs RUN b` shows it as it is.)"""
from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path
from typing import Iterator

import pytest

from orch_harness import Harness, job

from conftest import JOBS

NOTIFY_TOKEN = "nt0k3n-5ecret-7a9c1e"
API_TOKEN = "ap1-t0ken-5ecret-3f2b8d"


class _Receiver(http.server.BaseHTTPRequestHandler):
    bodies: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        n = int(self.headers.get("Content-Length") or 0)
        # the message only: the request line and headers carry the target's own URL credentials, by design
        _Receiver.bodies.append(self.rfile.read(n).decode("utf-8", "replace"))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[int]:
    _Receiver.bodies = []
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def test_no_secret_from_the_environment_reaches_any_artefact(h: Harness, tmp_path: Path, receiver: int,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACKFILL_TEST_NOTIFY_TOKEN", NOTIFY_TOKEN)
    monkeypatch.setenv("BACKFILL_TEST_API_TOKEN", API_TOKEN)
    cfg = h.config(
        [{"name": "a", "command": job("jobkit_fake.py"), "post": "items", "env": {"API_TOKEN": "${BACKFILL_TEST_API_TOKEN}"}},
         # b fails at once, quoting the token it was given in its own fatal line
         {"name": "b", "depends_on": ["a"], "env": {"API_TOKEN": "${BACKFILL_TEST_API_TOKEN}"},
          "command": ["{python}", str(JOBS / "leaky_job.py")], "retries": 0}],
        notifications=[{"name": "hook", "url": f"json://ops:${{BACKFILL_TEST_NOTIFY_TOKEN}}@127.0.0.1:{receiver}"
                                                "/hooks/${BACKFILL_TEST_NOTIFY_TOKEN}"}])
    r = h.cli("run", str(cfg))
    assert r.code == 1, r.err + r.out  # b failed, as planned
    run_dir = h.run_dir()
    assert "token" in (run_dir / "b.log").read_text()  # the job did print its secret (its own log is its own)
    outputs = {"run stdout": r.out, "run stderr": r.err}
    for argv in (["status"], ["status", "--json"], ["metrics"], ["report", "--format", "json"], ["logs"]):
        res = h.cli(*argv)
        outputs[" ".join(argv)] = res.out + res.err
    assert h.cli("metrics", "--out", str(tmp_path / "m.prom")).code == 0
    # the state too: the phase's and the run's messages repeat the job's fatal line, stored masked
    artefacts = {p.name: p.read_bytes().decode("utf-8", "replace") for p in run_dir.iterdir()
                 if p.is_file() and p.name != "b.log"}
    artefacts["metrics file"] = (tmp_path / "m.prom").read_text()
    notified = "\n".join(_Receiver.bodies)
    assert notified  # the receiver got messages (the phase failure at least) ...
    found = {name: text for name, text in {**outputs, **artefacts, "notifications": notified}.items()
             if NOTIFY_TOKEN in text or API_TOKEN in text}
    assert not found, {k: v[:300] for k, v in found.items()}
    assert {"orchestrator.log", "report.html", "report.md", "report.json", "state.sqlite"} <= set(artefacts)
