"""BigQuery through google-cloud-bigquery: the production warehouse (and the emulator in tests).

SQL arrives in BigQuery standard SQL already, so translation only maps/prefixes dataset names. Values go
in as typed query parameters. Transient API errors (429/500/503) are retried with exponential backoff.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re
import time
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal
from typing import Any, Iterable, Iterator, Mapping, Sequence

import requests

from google.api_core import exceptions as gexc
from google.api_core.retry import Retry, if_exception_type
from google.cloud import bigquery

from ..errors import ColumnNotFound, TableNotFound, UsageError, WarehouseError
from .base import Column, DryRun, PerThread, QueryStats, Statement, check_table
from .sql import digest, real_dataset, translate

log = logging.getLogger(__name__)

TRANSIENT = (gexc.TooManyRequests, gexc.InternalServerError, gexc.ServiceUnavailable)
_PARAM = re.compile(r"@(\w+)")
# Real BigQuery says "Unrecognized name: x"; the emulator passes DuckDB's binder message through.
_NO_COLUMN = re.compile(r"Unrecognized name|Name \S+ not found inside|Column \S+ is not present in table|"
                        r"Referenced column .* not found|does not have a column with name", re.IGNORECASE)
# A load job into a missing table: real BigQuery answers 404; the emulator 400 with DuckDB's catalog error.
_NO_TABLE = re.compile(r"Table with name .* does not exist|Not found: (Table|Dataset)", re.IGNORECASE)


def make_retry(initial: float = 1.0, maximum: float = 32.0, timeout: float = 300.0) -> Retry:
    """Exponential backoff (x2, from `initial` up to `maximum` seconds) on 429/500/503, for `timeout` seconds."""
    return Retry(predicate=if_exception_type(*TRANSIENT), initial=initial, maximum=maximum, multiplier=2.0,
                 timeout=timeout)


def query_parameter(name: str, value: Any) -> bigquery.ScalarQueryParameter | bigquery.ArrayQueryParameter:
    """A typed BigQuery parameter for a Python value (order matters: bool is an int, datetime is a date)."""
    if isinstance(value, (list, tuple)):
        kinds = {_scalar_type(name, v) for v in value if v is not None}
        if len(kinds) > 1:
            raise UsageError(f"query parameter @{name}: array mixes types {', '.join(sorted(kinds))}")
        # An empty array has no element type to infer; STRING is as good as any (it matches no row).
        return bigquery.ArrayQueryParameter(name, kinds.pop() if kinds else "STRING", list(value))
    return bigquery.ScalarQueryParameter(name, _scalar_type(name, value), value)


def _scalar_type(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "BOOL"
    if isinstance(value, int):
        return "INT64"
    if isinstance(value, float):
        return "FLOAT64"
    if isinstance(value, Decimal):
        return "NUMERIC"
    if isinstance(value, str):
        return "STRING"
    if isinstance(value, dt.datetime):
        return "TIMESTAMP"
    if isinstance(value, dt.date):
        return "DATE"
    if value is None:
        raise UsageError(f"query parameter @{name} is None: its BigQuery type cannot be inferred; "
                         "write NULL (or CAST(NULL AS <type>)) in the SQL instead")
    raise UsageError(f"query parameter @{name}: unsupported type {type(value).__name__}")


def _json_value(v: Any) -> Any:
    if isinstance(v, dt.date):  # and datetime: ISO 8601 is what a JSON load expects for DATE and TIMESTAMP
        return v.isoformat()
    if isinstance(v, Decimal):
        return str(v)
    return v


def _map_error(e: gexc.GoogleAPICallError, sql: str | None = None) -> WarehouseError:
    msg = " ".join((e.message or str(e)).split("\n")[0].split())
    where = f" [query {digest(sql)}]" if sql else ""
    if isinstance(e, gexc.NotFound) or _NO_TABLE.search(e.message or ""):
        return TableNotFound(msg + where)
    if isinstance(e, gexc.BadRequest) and _NO_COLUMN.search(e.message or ""):
        return ColumnNotFound(msg + where)
    return WarehouseError(f"{e.code} {msg}{where}" if e.code else msg + where)


@contextmanager
def _errors(sql: str | None = None) -> Iterator[None]:
    """API errors → the library's error types (one line each); a connection failure is a WarehouseError too."""
    try:
        yield
    except gexc.GoogleAPICallError as e:
        raise _map_error(e, sql) from None
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as e:
        raise WarehouseError(f"cannot reach BigQuery: {type(e).__name__}: {str(e).splitlines()[0]}") from None


class BigQueryWarehouse:
    dialect = "bigquery"
    last_stats = PerThread()  # QueryStats of the statement this thread ran last

    def __init__(self, project: str | None = None, location: str | None = None, endpoint: str | None = None,
                 datasets: Mapping[str, str] | None = None, dataset_prefix: str = "",
                 retry: Retry | None = None) -> None:
        from google.auth.credentials import AnonymousCredentials
        from google.auth.exceptions import DefaultCredentialsError

        if endpoint is not None and not endpoint.startswith(("http://", "https://")):
            raise UsageError(f"bigquery endpoint {endpoint!r} must start with http:// or https://")
        # Anonymous credentials only for an emulator; real BigQuery uses Application Default Credentials.
        try:
            self._client = bigquery.Client(
                project=project, location=location,
                credentials=AnonymousCredentials() if endpoint else None,
                client_options={"api_endpoint": endpoint} if endpoint else None)
        except DefaultCredentialsError as e:
            raise WarehouseError(f"no Google credentials for BigQuery ({str(e).splitlines()[0]}); run "
                                 "`gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS") \
                from None
        except OSError as e:  # the client raises OSError when no project can be determined
            raise WarehouseError(f"BigQuery project not set: {str(e).splitlines()[0]}") from None
        self.project = self._client.project
        self.location = location
        self._datasets = tuple(sorted((datasets or {}).items()))
        self._prefix = dataset_prefix
        self._retry = retry or make_retry()

    # -- naming -----------------------------------------------------------------------------------------

    def _sql(self, sql: str) -> str:
        return translate(sql, "bigquery", self._datasets, self._prefix)

    def _ref(self, table: str) -> str:
        """`dataset.table` or `project.dataset.table` → fully qualified real table id."""
        parts = check_table(table).split(".")
        project = parts[0] if len(parts) == 3 else self.project
        return f"{project}.{real_dataset(parts[-2], self._datasets, self._prefix)}.{parts[-1]}"

    # -- queries ----------------------------------------------------------------------------------------

    def _config(self, text: str, params: Mapping[str, Any] | None, **kw: Any) -> bigquery.QueryJobConfig:
        used = set(_PARAM.findall(text))
        return bigquery.QueryJobConfig(
            query_parameters=[query_parameter(k, v) for k, v in (params or {}).items() if k in used], **kw)

    def _run(self, sql: str, text: str, config: bigquery.QueryJobConfig) -> tuple[bigquery.QueryJob, list[dict]]:
        t0 = time.perf_counter()

        def attempt() -> tuple[bigquery.QueryJob, list[dict]]:
            # `retry` covers each API call; a job that itself failed transiently is re-run whole (a new job; a
            # failed script has rolled its transaction back). job_retry=None because the client's own job
            # retry also retries connection errors for 10 minutes, which turns a wrong endpoint into a hang.
            job = self._client.query(text, job_config=config, retry=self._retry, job_retry=None)
            return job, [dict(r.items()) for r in job.result(retry=self._retry, job_retry=None)]

        with _errors(sql):
            job, rows = self._retry(attempt)()
        self.last_stats = QueryStats(digest(sql), time.perf_counter() - t0, len(rows), job.job_id,
                                     job.total_bytes_processed)
        log.info("bigquery job %s query %s %.3fs rows=%d bytes=%s", job.job_id, self.last_stats.digest,
                 self.last_stats.seconds, len(rows), job.total_bytes_processed)
        return job, rows

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        text = self._sql(sql)
        return self._run(sql, text, self._config(text, params))[1]

    def execute(self, statements: Sequence[Statement], params: Mapping[str, Any] | None = None) -> int:
        """DML statements as ONE job: a single statement as is, several as a script in a transaction (BigQuery
        rolls it back when any statement fails). DDL does not belong here: BigQuery refuses it in transactions."""
        texts: list[str] = []
        merged: dict[str, Any] = dict(params or {})
        for st in statements:
            sql, own = (st, {}) if isinstance(st, str) else (st[0], dict(st[1]))
            for k, v in own.items():
                # One script job has one parameter namespace, so a name cannot mean two values.
                if k in merged and merged[k] != v:
                    raise UsageError(f"execute(): parameter @{k} is given two different values")
                merged[k] = v
            texts.append(self._sql(sql).rstrip().rstrip(";"))
        if not texts:
            return 0
        original = "\n".join(s if isinstance(s, str) else s[0] for s in statements)
        if len(texts) == 1:  # one DML statement is atomic on its own
            text = texts[0]
        else:
            text = "BEGIN TRANSACTION;\n" + ";\n".join(texts) + ";\nCOMMIT TRANSACTION;"
        job, _ = self._run(original, text, self._config(text, merged))
        affected = self._affected(job)
        if self.last_stats is not None:
            self.last_stats = replace(self.last_stats, rows=affected)
        return affected

    def _affected(self, job: bigquery.QueryJob) -> int:
        if job.statement_type != "SCRIPT":
            return int(job.num_dml_affected_rows or 0)
        # Real BigQuery reports a script's DML counts on its child jobs (one per statement).
        with _errors():
            children = list(self._client.list_jobs(parent_job=job.job_id, retry=self._retry))
        if children:
            return sum(int(getattr(c, "num_dml_affected_rows", None) or 0) for c in children)
        return int(job.num_dml_affected_rows or 0)

    def dry_run(self, sql: str, params: Mapping[str, Any] | None = None) -> DryRun:
        text = self._sql(sql)
        with _errors(sql):
            job = self._client.query(text, job_config=self._config(text, params, dry_run=True,
                                                                  use_query_cache=False),
                                     retry=self._retry, job_retry=None)
        return DryRun(sql=text, bytes_estimate=job.total_bytes_processed)

    # -- tables -----------------------------------------------------------------------------------------

    def load_rows(self, table: str, rows: Iterable[Mapping[str, Any]], columns: Sequence[Column]) -> int:
        names = [c.name for c in columns]
        lines = [json.dumps({n: _json_value(r.get(n)) for n in names}) for r in rows]
        if not lines:
            return 0
        # A load job (not streaming inserts): streamed rows sit in a buffer that DML cannot touch for up to
        # 90 minutes, which would break delete+insert re-runs. No `size` is passed, so the client uses a
        # resumable upload; the emulator rejects the small multipart uploads (see notes).
        config = bigquery.LoadJobConfig(source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
                                        write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
                                        create_disposition=bigquery.CreateDisposition.CREATE_NEVER,
                                        schema=[bigquery.SchemaField(c.name, c.type) for c in columns])
        t0 = time.perf_counter()
        with _errors():
            job = self._client.load_table_from_file(io.BytesIO(("\n".join(lines) + "\n").encode()),
                                                    self._ref(table), job_config=config)
            job.result(retry=self._retry)
        log.info("bigquery job %s load %s rows=%d %.3fs", job.job_id, table, len(lines), time.perf_counter() - t0)
        return len(lines)

    def create_table(self, table: str, columns: Sequence[Column], *, replace: bool = False) -> None:
        ref = self._ref(table)
        schema = [bigquery.SchemaField(c.name, c.type, mode="NULLABLE" if c.nullable else "REQUIRED")
                  for c in columns]
        with _errors():
            dataset = bigquery.Dataset(ref.rpartition(".")[0])
            if self.location:  # an explicit null location is rejected by the emulator
                dataset.location = self.location
            self._client.create_dataset(dataset, exists_ok=True, retry=self._retry)
            if replace:
                self._client.delete_table(ref, not_found_ok=True, retry=self._retry)
            self._client.create_table(bigquery.Table(ref, schema=schema), exists_ok=not replace, retry=self._retry)

    def drop_table(self, table: str) -> None:
        with _errors():
            self._client.delete_table(self._ref(table), not_found_ok=True, retry=self._retry)

    def _get_table(self, table: str) -> bigquery.Table:
        with _errors():
            return self._client.get_table(self._ref(table), retry=self._retry)

    def table_exists(self, table: str) -> bool:
        try:
            self._get_table(table)
        except TableNotFound:
            return False
        return True

    def columns(self, table: str) -> list[str]:
        return [f.name for f in self._get_table(table).schema]

    def drop_datasets(self) -> None:
        """Drop every dataset under this warehouse's prefix (tests isolate themselves with a prefix)."""
        if not self._prefix:
            raise UsageError("drop_datasets() needs a dataset_prefix: it would drop every dataset")
        for ds in self._client.list_datasets(retry=self._retry):
            if ds.dataset_id.startswith(self._prefix):
                self._client.delete_dataset(ds.reference, delete_contents=True, not_found_ok=True,
                                            retry=self._retry)

    def close(self) -> None:
        self._client.close()
