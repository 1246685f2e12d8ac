"""A loopback HTTP proxy in front of the BigQuery emulator: the named fake for what the emulator cannot show.

    with BQProxy(upstream="http://127.0.0.1:9050") as proxy:       # proxy.url is the endpoint to give the client
        proxy.fail(dml_insert, status=429, reason="rateLimitExceeded", times=2)   # BigQuery's error JSON
        proxy.fail(dml_insert, drop=True)                                       # connection closed, no answer
        proxy.fail(select_insert, truncate=True)                                # answer cut off mid-body
        proxy.fail(dml_insert, job_error="Transaction is aborted due to concurrent update against table x")
        proxy.dry_run_bytes = lambda query: 3 * 2**40                           # realistic dry-run estimates
        ... run jobs against proxy.url ...
        proxy.mutations()   # [Mutation(table, job_id, start, end)]: when each table-mutating query job ran

Everything else is forwarded unchanged. A mutating job's interval runs from its jobs.insert request arriving
here to the first answer that says it is DONE (the insert's own answer, jobs.get or getQueryResults), so it
is never shorter than the job really was. Errors are shaped as BigQuery's REST API shapes them:
{"error": {"code", "message", "status", "errors": [{"reason", "message", "domain"}]}}; a `job_error` is a
job that was accepted and then failed (status.errorResult), as BigQuery reports a concurrent-update abort.
"""
from __future__ import annotations

import http.client
import http.server
import json
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

_DML = re.compile(r"\b(?:DELETE\s+FROM|INSERT\s+INTO|UPDATE|MERGE\s+(?:INTO\s+)?)\s*`?([\w.-]+)`?", re.IGNORECASE)
_STATUS_NAME = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED",
                500: "INTERNAL", 503: "UNAVAILABLE"}
_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "proxy-connection"}


@dataclass
class Request:
    method: str
    path: str
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        try:
            v = json.loads(self.body or b"{}")
        except ValueError:
            return {}
        return v if isinstance(v, dict) else {}

    @property
    def query(self) -> str:
        """The SQL of a jobs.insert query job ('' for any other request)."""
        return str(self.json.get("configuration", {}).get("query", {}).get("query", "")) if self.is_insert else ""

    @property
    def is_insert(self) -> bool:
        return self.method == "POST" and bool(re.search(r"/projects/[^/]+/jobs/?(\?|$)", self.path)) \
            and "/upload/" not in self.path

    @property
    def dry_run(self) -> bool:
        return bool(self.json.get("configuration", {}).get("dryRun"))

    @property
    def job_id(self) -> str | None:
        return self.json.get("jobReference", {}).get("jobId") if self.is_insert else None

    @property
    def mutated_tables(self) -> list[str]:
        if self.dry_run:
            return []
        return sorted({".".join(m.group(1).split(".")[-2:]) for m in _DML.finditer(self.query)})


def dml_insert(req: Request) -> bool:
    """The jobs.insert of a query that mutates a table (DELETE/INSERT/UPDATE/MERGE), not a dry run."""
    return bool(req.mutated_tables)


def select_insert(req: Request) -> bool:
    """The jobs.insert of a read-only query (a gate's, a plan's)."""
    return req.is_insert and not req.dry_run and not req.mutated_tables and bool(req.query)


def any_request(req: Request) -> bool:
    return True


@dataclass
class Fault:
    match: Callable[[Request], bool]
    times: int
    status: int = 500
    reason: str = "backendError"
    message: str = ""
    drop: bool = False
    truncate: bool = False  # forward, then cut the answer off halfway through its body
    job_error: str | None = None
    hits: int = 0


@dataclass
class Mutation:
    tables: list[str]
    job_id: str
    start: float
    end: float | None = None


class BQProxy:
    def __init__(self, upstream: str) -> None:
        u = urlsplit(upstream)
        self._up = (u.hostname or "127.0.0.1", u.port or 80)
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._mutations: dict[str, Mutation] = {}
        self.requests: list[Request] = []
        self.injected: list[tuple[str, str | None]] = []  # (what, job id) per fault answered
        self.dry_run_bytes: Callable[[str], int] | None = None
        self.mutation_delay = 0.0  # seconds added before a mutating job's insert is forwarded: widens windows
        # a negative control: mutating inserts wait here (after their start is recorded) until N have arrived
        self.mutation_barrier: threading.Barrier | None = None
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                proxy._serve(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle  # noqa: N815 - http.server's naming

            def log_message(self, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- control --------------------------------------------------------------------------------------------

    def __enter__(self) -> BQProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail(self, match: Callable[[Request], bool], *, times: int = 1, status: int = 500,
             reason: str = "backendError", message: str = "", drop: bool = False, truncate: bool = False,
             job_error: str | None = None) -> Fault:
        f = Fault(match, times, status, reason, message or f"Injected {reason}", drop, truncate, job_error)
        with self._lock:
            self._faults.append(f)
        return f

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def mutations(self) -> list[Mutation]:
        with self._lock:
            return sorted((m for m in self._mutations.values()), key=lambda m: m.start)

    # -- serving --------------------------------------------------------------------------------------------

    def _fault_for(self, req: Request) -> Fault | None:
        with self._lock:
            for f in self._faults:
                if f.hits < f.times and f.match(req):
                    f.hits += 1
                    self.injected.append(("drop" if f.drop else "truncate" if f.truncate else f.reason, req.job_id))
                    return f
        return None

    def _serve(self, h: http.server.BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        req = Request(h.command, h.path, h.rfile.read(length) if length else b"")
        with self._lock:
            self.requests.append(req)
        fault = self._fault_for(req)
        if fault is not None and fault.drop:
            h.close_connection = True  # no answer at all: the client sees the connection dropped
            return
        if fault is not None and fault.job_error is not None and req.is_insert:
            self._send(h, 200, self._failed_job(req, fault))
            return
        if fault is not None and fault.truncate:
            status, _, data = self._forward(req, h)
            h.send_response(status)
            h.send_header("Content-Type", "application/json; charset=UTF-8")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data[: len(data) // 2])
            h.close_connection = True
            return
        if fault is not None:
            body = {"error": {"code": fault.status, "message": fault.message,
                              "status": _STATUS_NAME.get(fault.status, "UNKNOWN"),
                              "errors": [{"message": fault.message, "domain": "global", "reason": fault.reason}]}}
            self._send(h, fault.status, body)
            return
        tables = req.mutated_tables
        if tables and req.job_id:
            if self.mutation_delay:
                time.sleep(self.mutation_delay)  # the fake's latency, not a synchronisation
            with self._lock:
                self._mutations[req.job_id] = Mutation(tables, req.job_id, time.monotonic())
            if self.mutation_barrier is not None:
                self.mutation_barrier.wait()
        status, headers, data = self._forward(req, h)
        data = self._observe(req, status, data)
        h.send_response(status)
        for k, v in headers:
            if k.lower() not in _HOP:
                h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _forward(self, req: Request, h: http.server.BaseHTTPRequestHandler) -> tuple[int, list, bytes]:
        conn = http.client.HTTPConnection(*self._up, timeout=120)
        try:
            headers = {k: v for k, v in h.headers.items() if k.lower() not in _HOP}
            conn.request(req.method, req.path, body=req.body or None, headers=headers)
            r = conn.getresponse()
            return r.status, r.getheaders(), r.read()
        finally:
            conn.close()

    def _observe(self, req: Request, status: int, data: bytes) -> bytes:
        """Close the interval of a job that is DONE; rewrite a dry run's byte estimate when asked to."""
        try:
            body = json.loads(data or b"{}")
        except ValueError:
            return data
        if not isinstance(body, dict):
            return data
        job_id = body.get("jobReference", {}).get("jobId")
        done = body.get("status", {}).get("state") == "DONE" or body.get("jobComplete") is True
        if job_id and done:
            with self._lock:
                m = self._mutations.get(job_id)
                if m is not None and m.end is None:
                    m.end = time.monotonic()
        if req.is_insert and req.dry_run and self.dry_run_bytes is not None and status == 200:
            n = str(int(self.dry_run_bytes(req.query)))
            stats = body.setdefault("statistics", {})
            stats["totalBytesProcessed"] = n
            stats.setdefault("query", {})["totalBytesProcessed"] = n
            return json.dumps(body).encode()
        return data

    @staticmethod
    def _failed_job(req: Request, fault: Fault) -> dict[str, Any]:
        err = {"reason": fault.reason if fault.reason != "backendError" else "invalidQuery",
               "message": fault.job_error, "location": "query"}
        body = req.json
        return {"kind": "bigquery#job", "id": f"{body.get('jobReference', {}).get('projectId')}:{req.job_id}",
                "jobReference": body.get("jobReference", {}), "configuration": body.get("configuration", {}),
                "status": {"state": "DONE", "errorResult": err, "errors": [err]},
                "statistics": {"creationTime": str(int(time.time() * 1000))}}

    @staticmethod
    def _send(h: http.server.BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json; charset=UTF-8")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)
