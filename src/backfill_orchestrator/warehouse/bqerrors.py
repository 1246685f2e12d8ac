"""BigQuery's errors: which are worth another attempt, the bounded retry loop, and the one line each becomes.

Transient (retried with exponential backoff and jitter, within `RetryPolicy`'s attempts and deadline):
HTTP 429/500/502/503/504, the reasons rateLimitExceeded, backendError, internalError (and their job* forms),
a connection dropped mid-request, and the concurrent-update abort ("Transaction is aborted due to concurrent
update against table ...", "Could not serialize access to table ... due to concurrent update"): BigQuery cancels
a transaction that mutates a table another transaction or DML statement is mutating, and re-running ours is
safe because every write is idempotent per date. Not retried: quotaExceeded (a daily quota does not come back
within minutes), every other 4xx, and a refused connection (nothing listens there: a wrong endpoint).
After the budget the error is one line naming the reason, the HTTP status, the job id and the attempts.
"""
from __future__ import annotations

import os
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable, TypeVar

import requests
from google.api_core import exceptions as gexc

from ..errors import ColumnNotFound, TableNotFound, WarehouseError
from .sql import digest

T = TypeVar("T")

TRANSIENT_STATUS = (gexc.TooManyRequests, gexc.InternalServerError, gexc.BadGateway, gexc.ServiceUnavailable,
                    gexc.GatewayTimeout)
TRANSIENT_REASONS = frozenset({"rateLimitExceeded", "backendError", "internalError", "jobRateLimitExceeded",
                               "jobBackendError", "jobInternalError", "badGateway"})
CONCURRENT_UPDATE = "concurrentUpdate"  # our name for the abort; BigQuery reports it as a 400 (invalidQuery)
CONNECTION_DROPPED = "connectionDropped"
# a connection that failed or was cut mid-answer (ChunkedEncodingError: the body stopped short)
_CONNECTION_ERRORS = (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                      requests.exceptions.ChunkedEncodingError, ConnectionError)
_CONCURRENT = re.compile(r"aborted due to concurrent update|could not serialize access to table .* concurrent update",
                         re.IGNORECASE)
# Real BigQuery says "Unrecognized name: x"; the emulator passes DuckDB's binder message through.
_NO_COLUMN = re.compile(r"Unrecognized name|Name \S+ not found inside|Column \S+ is not present in table|"
                        r"Referenced column .* not found|does not have a column with name", re.IGNORECASE)
# A load job into a missing table: real BigQuery answers 404; the emulator 400 with DuckDB's catalog error.
_NO_TABLE = re.compile(r"Table with name .* does not exist|Not found: (Table|Dataset)", re.IGNORECASE)


def _env_number(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, "") or default)
    except ValueError:
        return default


@dataclass(frozen=True)
class RetryPolicy:
    """At most `attempts` tries and `timeout` seconds; waits initial, 2x, 4x ... up to `maximum`, each drawn
    uniformly from [wait/2, wait] so that workers that failed together do not retry together."""

    initial: float = 1.0
    maximum: float = 32.0
    timeout: float = 300.0
    attempts: int = 8

    @classmethod
    def from_env(cls) -> RetryPolicy:
        """The defaults, or BACKFILL_BQ_RETRY_{ATTEMPTS,INITIAL,MAXIMUM,TIMEOUT} (jobs run as subprocesses, so
        the environment is how a test or an operator changes the budget of every job of a run)."""
        return cls(initial=_env_number("BACKFILL_BQ_RETRY_INITIAL", cls.initial),
                   maximum=_env_number("BACKFILL_BQ_RETRY_MAXIMUM", cls.maximum),
                   timeout=_env_number("BACKFILL_BQ_RETRY_TIMEOUT", cls.timeout),
                   attempts=max(1, int(_env_number("BACKFILL_BQ_RETRY_ATTEMPTS", cls.attempts))))

    def wait(self, retry_number: int) -> float:
        ceiling = min(self.maximum, self.initial * 2 ** retry_number)
        return random.uniform(ceiling / 2, ceiling)


def make_retry(initial: float = 1.0, maximum: float = 32.0, timeout: float = 300.0, attempts: int = 8) -> RetryPolicy:
    return RetryPolicy(initial, maximum, timeout, attempts)


def _reasons(e: BaseException) -> list[str]:
    return [str(x.get("reason")) for x in (getattr(e, "errors", None) or []) if isinstance(x, dict) and x.get("reason")]


def _refused(e: BaseException) -> bool:
    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, ConnectionRefusedError) or "Connection refused" in str(cur) \
                or "Name or service not known" in str(cur) or "NameResolutionError" in type(cur).__name__:
            return True
        nxt = cur.__cause__ or cur.__context__
        cur = nxt if nxt is not None else next((a for a in getattr(cur, "args", ()) if isinstance(a, BaseException)),
                                               None)
    return False


def retry_reason(e: BaseException) -> str | None:
    """The reason `e` is worth another attempt, or None when it is not."""
    if isinstance(e, gexc.GoogleAPICallError):
        message = e.message or str(e)
        if _CONCURRENT.search(message):
            return CONCURRENT_UPDATE
        reasons = _reasons(e)
        transient = [r for r in reasons if r in TRANSIENT_REASONS]
        if transient:
            return transient[0]
        if "quotaExceeded" in reasons:
            return None
        if isinstance(e, TRANSIENT_STATUS):
            return reasons[0] if reasons else f"http{e.code}"
        return None
    if isinstance(e, _CONNECTION_ERRORS):
        return None if _refused(e) else CONNECTION_DROPPED
    return None


class RetryCounter:
    """Retries per reason, shared by a warehouse's threads (the job's PROGRESS/COMPLETE lines print them)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, reason: str) -> None:
        with self._lock:
            self._counts[reason] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


def call_with_retries(fn: Callable[[], T], policy: RetryPolicy, counter: RetryCounter | None = None, *,
                      sql: str | None = None, job_id: Callable[[], str | None] = lambda: None,
                      sleep: Callable[[float], None] = time.sleep) -> T:
    """`fn()` until it succeeds, fails for good, or the budget is spent; the last error becomes one line."""
    t0 = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn()
        except Exception as e:  # noqa: BLE001 - classified below; what is not ours to map is re-raised as is
            reason = retry_reason(e)
            wait = policy.wait(attempt - 1) if reason else 0.0
            spent = reason is not None and (attempt >= policy.attempts
                                            or time.monotonic() - t0 + wait > policy.timeout)
            if reason is None or spent:
                mapped = map_error(e, sql, job_id(), attempt if spent else None)
                if mapped is None:
                    raise
                raise mapped from None
            if counter is not None:
                counter.add(reason)
            sleep(wait)


_HTTP_PREFIX = re.compile(r"^(GET|POST|PUT|PATCH|DELETE) \S+: ")  # the client's "POST <url>: " before the message
_HOST = re.compile(r"host='([^']+)', port=(\d+)")


def _one_line(text: str) -> str:
    return _HTTP_PREFIX.sub("", " ".join((text or "").split("\n")[0].split()))


def _connection_text(e: BaseException) -> str:
    """requests' nested reprs, reduced to where and what: `127.0.0.1:9050: connection refused`."""
    m = _HOST.search(str(e))
    where = f"{m.group(1)}:{m.group(2)}: " if m else ""
    if _refused(e):
        return where + "connection refused"
    inner = re.search(r"(RemoteDisconnected|ConnectionResetError|ConnectionAbortedError|ReadTimeout|"
                      r"ConnectTimeout|IncompleteRead)\(['\"]?([^'\")]*)", str(e))
    return where + (f"{inner.group(1)}: {inner.group(2)}".rstrip(": ") if inner else _one_line(str(e)))


def map_error(e: BaseException, sql: str | None = None, job_id: str | None = None,
              attempts: int | None = None) -> WarehouseError | None:
    """An API or connection error → the library's error type, one line: reason, status, job, attempts."""
    where = f" [query {digest(sql)}]" if sql else ""
    job = f" job {job_id}" if job_id else ""
    tries = f" after {attempts} attempts" if attempts else ""
    if isinstance(e, gexc.GoogleAPICallError):
        msg = _one_line(e.message or str(e))
        if isinstance(e, gexc.NotFound) or _NO_TABLE.search(e.message or ""):
            return TableNotFound(msg + where)
        if isinstance(e, gexc.BadRequest) and _NO_COLUMN.search(e.message or ""):
            return ColumnNotFound(msg + where)
        reason = retry_reason(e) or next(iter(_reasons(e)), None)
        head = " ".join(x for x in (f"BigQuery {reason}" if reason else "BigQuery", f"(HTTP {e.code})"
                                    if e.code else "") if x)
        return WarehouseError(f"{head}{job}{tries}: {msg}{where}")
    if isinstance(e, _CONNECTION_ERRORS):
        what = "BigQuery connection dropped" if retry_reason(e) else "cannot reach BigQuery"
        return WarehouseError(f"{what}{job}{tries}: {_connection_text(e)}{where}")
    return None
