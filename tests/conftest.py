"""Shared fixtures: a warehouse per test on DuckDB and on BigQuery (the real client against the emulator).

The emulator is started once per session: scripts/test.sh starts it and exports BACKFILL_TEST_BQ_ENDPOINT;
without that variable (plain `pytest`) this file starts it through scripts/bqemu.py and stops it at the end.
If it cannot start, the BigQuery tests FAIL with the reason; they are never skipped.
"""
from __future__ import annotations

import http.server
import json
import os
import signal
import threading
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator

import pytest

from backfill_orchestrator.warehouse import Warehouse, WarehouseSettings, open_warehouse
from backfill_orchestrator.warehouse.duckdb import DuckDBWarehouse


# scripts/test.sh starts pytest as a background job of a non-interactive shell, which (POSIX) starts it with SIGINT
# ignored; an ignored signal is inherited across exec, so every `backfill` a test starts would ignore Ctrl-C too and
# the tests of Ctrl-C could never pass there. A person's terminal delivers SIGINT: give the tests the same.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session", autouse=True)
def _private_sql_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Tests (and the job processes they start, through the environment) keep translated SQL in their own
    cache, never in the user's ~/.cache."""
    old = os.environ.get("BACKFILL_CACHE_DIR")
    os.environ["BACKFILL_CACHE_DIR"] = str(tmp_path_factory.mktemp("sqlcache"))
    yield
    if old is None:
        os.environ.pop("BACKFILL_CACHE_DIR", None)
    else:
        os.environ["BACKFILL_CACHE_DIR"] = old

ROOT = Path(__file__).resolve().parent.parent
BQEMU_PYTHON = ROOT / ".venv-bqemu" / "bin" / "python"
BQ_PROJECT = "test-project"
START_DEADLINE = 60.0  # seconds; a cold start takes about 1-2 s


def _ready(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/readyz", timeout=1) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _start_emulator(workdir: Path) -> tuple[subprocess.Popen, str]:
    if not BQEMU_PYTHON.exists():
        pytest.fail(f"BigQuery emulator venv missing ({BQEMU_PYTHON}): run scripts/test.sh, which creates it, "
                    "or set BACKFILL_TEST_BQ_ENDPOINT", pytrace=False)
    port_file, log_file = workdir / "port", workdir / "bqemu.log"
    with open(log_file, "wb") as log:
        proc = subprocess.Popen(
            [str(BQEMU_PYTHON), str(ROOT / "scripts" / "bqemu.py"), "--port-file", str(port_file),
             "--project", BQ_PROJECT, "--staging-dir", str(workdir / "uploads")],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + START_DEADLINE
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_file.read_text(errors="replace").strip().splitlines()[-5:]
            pytest.fail(f"BigQuery emulator exited with status {proc.returncode} during start; log {log_file}:\n"
                        + "\n".join(tail), pytrace=False)
        if port_file.exists():
            endpoint = f"http://127.0.0.1:{port_file.read_text().strip()}"
            if _ready(endpoint):
                return proc, endpoint
        time.sleep(0.05)  # polling a condition with a deadline, not a sleep-for-sync
    _stop(proc)
    pytest.fail(f"BigQuery emulator not ready after {START_DEADLINE:.0f}s; log {log_file}", pytrace=False)


def _stop(proc: subprocess.Popen) -> None:
    for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="session")
def bq_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a running emulator: BACKFILL_TEST_BQ_ENDPOINT, or one started (and stopped) here."""
    given = os.environ.get("BACKFILL_TEST_BQ_ENDPOINT")
    if given:
        if not _ready(given):
            pytest.fail(f"BACKFILL_TEST_BQ_ENDPOINT={given} does not answer {given}/readyz", pytrace=False)
        yield given
        return
    proc, endpoint = _start_emulator(tmp_path_factory.mktemp("bqemu"))
    try:
        yield endpoint
    finally:
        _stop(proc)


@pytest.fixture
def bq_settings(bq_endpoint: str) -> WarehouseSettings:
    """Settings for the emulator, isolated from every other test by a unique dataset prefix."""
    return WarehouseSettings(kind="bigquery", project=BQ_PROJECT, endpoint=bq_endpoint,
                             dataset_prefix=f"t{uuid.uuid4().hex[:10]}_")


@pytest.fixture
def duck(tmp_path: Path) -> Iterator[DuckDBWarehouse]:
    w = DuckDBWarehouse(tmp_path / "warehouse.duckdb")
    yield w
    w.close()


@pytest.fixture(params=["duckdb", pytest.param("bigquery", marks=pytest.mark.bigquery)])
def wh_settings(request: pytest.FixtureRequest, tmp_path: Path) -> WarehouseSettings:
    """Settings of a fresh, empty warehouse of each kind."""
    if request.param == "duckdb":
        return WarehouseSettings(kind="duckdb", path=str(tmp_path / "warehouse.duckdb"))
    return request.getfixturevalue("bq_settings")


@pytest.fixture
def open_wh(wh_settings: WarehouseSettings) -> Iterator[Callable[..., Warehouse]]:
    """open_wh(**settings_changes) → a warehouse over the same storage; all are closed (and the test's
    BigQuery datasets dropped) at the end."""
    opened: list[Warehouse] = []

    def _open(**changes: object) -> Warehouse:
        opened.append(open_warehouse(replace(wh_settings, **changes)))
        return opened[-1]

    yield _open
    for w in opened:
        if w.dialect == "bigquery" and getattr(w, "_prefix", ""):
            w.drop_datasets()  # type: ignore[attr-defined]
        w.close()


@pytest.fixture
def wh(open_wh: Callable[..., Warehouse]) -> Warehouse:
    """A fresh Warehouse: DuckDB file under tmp_path, or BigQuery on the emulator under a unique prefix."""
    return open_wh()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Anything that reaches the emulator counts as a BigQuery-backend test, however it got there.
    for item in items:
        if "bq_endpoint" in getattr(item, "fixturenames", ()) and not item.get_closest_marker("bigquery"):
            callspec = getattr(item, "callspec", None)
            if callspec is None or callspec.params.get("wh_settings", "bigquery") == "bigquery":
                item.add_marker(pytest.mark.bigquery)


_bq_outcomes: dict[str, int] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "bigquery" not in report.keywords:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _bq_outcomes[report.outcome] = _bq_outcomes.get(report.outcome, 0) + 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    ran = sum(_bq_outcomes.values())
    detail = ", ".join(f"{n} {k}" for k, n in sorted(_bq_outcomes.items())) or "none"
    line = f"BigQuery-backend tests (marker 'bigquery', real client + emulator): {ran} ran ({detail})"
    terminalreporter.write_line(line)
    report = os.environ.get("BACKFILL_TEST_BQ_REPORT")
    if report:
        Path(report).write_text(line + "\n")



class _Receiver(http.server.BaseHTTPRequestHandler):
    """A webhook receiver on 127.0.0.1 (apprise json:// posts here): records (path, JSON body)."""
    received: list[tuple[str, dict]]

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((self.path, json.loads(body)))  # type: ignore[attr-defined]
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_receiver() -> Iterator[http.server.ThreadingHTTPServer]:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    srv.received = []  # type: ignore[attr-defined]
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()
