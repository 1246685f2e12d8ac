"""BigQuery through google-cloud-bigquery: the production warehouse (and the emulator in tests).

SQL arrives in BigQuery standard SQL already, so translation only maps/prefixes dataset names. Values go
in as typed query parameters. Transient errors are retried by ONE bounded policy (bqerrors.py: which errors,
how long, the one line an exhausted retry becomes); every job carries labels for cost attribution.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import re
import time
import uuid
from dataclasses import replace
from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping, Sequence, TypeVar
from urllib.parse import urlsplit

from google.cloud import bigquery

from ..errors import TableNotFound, UsageError, WarehouseError
from .base import Column, DryRun, PerThread, QueryStats, Statement, check_table
from .bqerrors import RetryCounter, RetryPolicy, call_with_retries, make_retry
from .sql import digest, real_dataset, translate

log = logging.getLogger(__name__)

T = TypeVar("T")
_PARAM = re.compile(r"@(\w+)")
_LABEL_BAD = re.compile(r"[^a-z0-9_-]")
__all__ = ["BigQueryWarehouse", "make_retry", "query_parameter", "job_labels"]


def job_labels(values: Mapping[str, Any]) -> dict[str, str]:
    """BigQuery labels from free text: keys and values lower-case [a-z0-9_-], at most 63 characters; empty
    values dropped. They make a job attributable in INFORMATION_SCHEMA.JOBS (docs/bigquery.md)."""
    out: dict[str, str] = {}
    for k, v in values.items():
        if v is None or str(v) == "":
            continue
        key = _LABEL_BAD.sub("_", str(k).lower())[:63]
        out[key] = _LABEL_BAD.sub("_", str(v).lower())[:63]
    return out


def _env_labels() -> dict[str, str]:
    # the orchestrator names the run and the phase in every phase's environment
    return job_labels({"pipeline": os.environ.get("BACKFILL_PIPELINE"), "run_id": os.environ.get("BACKFILL_RUN_ID"),
                       "phase": os.environ.get("BACKFILL_PHASE")})
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


class BigQueryWarehouse:
    dialect = "bigquery"
    last_stats = PerThread()  # QueryStats of the statement this thread ran last

    def __init__(self, project: str | None = None, location: str | None = None, endpoint: str | None = None,
                 datasets: Mapping[str, str] | None = None, dataset_prefix: str = "",
                 retry: RetryPolicy | None = None) -> None:
        from google.auth.credentials import AnonymousCredentials
        from google.auth.exceptions import DefaultCredentialsError

        if endpoint is not None and not endpoint.startswith(("http://", "https://")):
            raise UsageError(f"bigquery endpoint {endpoint!r} must start with http:// or https://")
        # Anonymous credentials only for an emulator; real BigQuery (also when named by its own endpoint, as
        # config/pipeline.bigquery.yaml does by default) uses Application Default Credentials.
        emulator = endpoint is not None and not (urlsplit(endpoint).hostname or "").endswith(".googleapis.com")
        try:
            self._client = bigquery.Client(
                project=project, location=location,
                credentials=AnonymousCredentials() if emulator else None,
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
        self._retry = retry or RetryPolicy.from_env()
        self.retries = RetryCounter()  # transient errors absorbed, per reason (jobs print them)
        self.labels: dict[str, str] = _env_labels()  # on every job; a job adds its own (job_labels)

    # -- naming -----------------------------------------------------------------------------------------

    def _sql(self, sql: str) -> str:
        return translate(sql, "bigquery", self._datasets, self._prefix)

    def _ref(self, table: str) -> str:
        """`dataset.table` or `project.dataset.table` → fully qualified real table id."""
        parts = check_table(table).split(".")
        project = parts[0] if len(parts) == 3 else self.project
        return f"{project}.{real_dataset(parts[-2], self._datasets, self._prefix)}.{parts[-1]}"

    def _call(self, fn: Callable[[], T], sql: str | None = None, job_id: Callable[[], str | None] = lambda: None) -> T:
        """One API call or job under the retry policy. The client's own retries are off (retry=None) on every
        call so that one policy, with one budget and one count, decides."""
        return call_with_retries(fn, self._retry, self.retries, sql=sql, job_id=job_id)

    # -- queries ----------------------------------------------------------------------------------------

    def _config(self, text: str, params: Mapping[str, Any] | None, **kw: Any) -> bigquery.QueryJobConfig:
        used = set(_PARAM.findall(text))
        return bigquery.QueryJobConfig(
            query_parameters=[query_parameter(k, v) for k, v in (params or {}).items() if k in used],
            labels=dict(self.labels), **kw)

    def _run(self, sql: str, text: str, config: bigquery.QueryJobConfig) -> tuple[bigquery.QueryJob, list[dict]]:
        t0 = time.perf_counter()
        current: list[str] = []

        def attempt() -> tuple[bigquery.QueryJob, list[dict]]:
            # A new job id per attempt, chosen here so that an error can name the job even when jobs.insert
            # itself failed. A job that failed transiently is re-run whole: a failed script rolled back.
            current[:] = [f"backfill_{uuid.uuid4().hex}"]
            job = self._client.query(text, job_config=config, job_id=current[0], retry=None, job_retry=None)
            return job, [dict(r.items()) for r in job.result(retry=None, job_retry=None)]

        job, rows = self._call(attempt, sql, lambda: current[0] if current else None)
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
        children = self._call(lambda: list(self._client.list_jobs(parent_job=job.job_id, retry=None)),
                              job_id=lambda: job.job_id)
        if children:
            return sum(int(getattr(c, "num_dml_affected_rows", None) or 0) for c in children)
        return int(job.num_dml_affected_rows or 0)

    def dry_run(self, sql: str, params: Mapping[str, Any] | None = None) -> DryRun:
        text = self._sql(sql)
        config = self._config(text, params, dry_run=True, use_query_cache=False)
        job = self._call(lambda: self._client.query(text, job_config=config, retry=None, job_retry=None), sql)
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
                                        schema=[bigquery.SchemaField(c.name, c.type) for c in columns],
                                        labels=dict(self.labels))
        data = ("\n".join(lines) + "\n").encode()
        t0 = time.perf_counter()
        current: list[str] = []

        def attempt() -> bigquery.LoadJob:
            current[:] = [f"backfill_{uuid.uuid4().hex}"]
            job = self._client.load_table_from_file(io.BytesIO(data), self._ref(table), job_id=current[0],
                                                    job_config=config)
            job.result(retry=None)
            return job

        job = self._call(attempt, job_id=lambda: current[0] if current else None)
        log.info("bigquery job %s load %s rows=%d %.3fs", job.job_id, table, len(lines), time.perf_counter() - t0)
        return len(lines)

    def create_table(self, table: str, columns: Sequence[Column], *, replace: bool = False,
                     partition_by: str | None = None, cluster_by: Sequence[str] = ()) -> None:
        """`partition_by`: a DATE column, DAY partitions (a per-date DELETE or SELECT that filters on it reads
        only its partitions); `cluster_by`: up to four columns the rows are sorted by inside a partition."""
        ref = self._ref(table)
        schema = [bigquery.SchemaField(c.name, c.type, mode="NULLABLE" if c.nullable else "REQUIRED")
                  for c in columns]
        t = bigquery.Table(ref, schema=schema)
        if partition_by:
            t.time_partitioning = bigquery.TimePartitioning(type_=bigquery.TimePartitioningType.DAY,
                                                            field=partition_by)
        if cluster_by:
            t.clustering_fields = list(cluster_by)
        dataset = bigquery.Dataset(ref.rpartition(".")[0])
        if self.location:  # an explicit null location is rejected by the emulator
            dataset.location = self.location
        self._call(lambda: self._client.create_dataset(dataset, exists_ok=True, retry=None))
        if replace:
            self._call(lambda: self._client.delete_table(ref, not_found_ok=True, retry=None))
        # exists_ok on a retry too: a create whose answer was lost may have happened
        self._call(lambda: self._client.create_table(t, exists_ok=True, retry=None))

    def drop_table(self, table: str) -> None:
        ref = self._ref(table)
        self._call(lambda: self._client.delete_table(ref, not_found_ok=True, retry=None))

    def get_table(self, table: str) -> bigquery.Table:
        """The client's table resource (schema, time_partitioning, clustering_fields, num_bytes...)."""
        ref = self._ref(table)
        return self._call(lambda: self._client.get_table(ref, retry=None))

    def table_exists(self, table: str) -> bool:
        try:
            self.get_table(table)
        except TableNotFound:
            return False
        return True

    def columns(self, table: str) -> list[str]:
        return [f.name for f in self.get_table(table).schema]

    def drop_datasets(self) -> None:
        """Drop every dataset under this warehouse's prefix (tests isolate themselves with a prefix)."""
        if not self._prefix:
            raise UsageError("drop_datasets() needs a dataset_prefix: it would drop every dataset")
        for ds in self._call(lambda: list(self._client.list_datasets(retry=None))):
            if ds.dataset_id.startswith(self._prefix):
                self._call(lambda ds=ds: self._client.delete_dataset(ds.reference, delete_contents=True,
                                                                     not_found_ok=True, retry=None))

    def close(self) -> None:
        self._client.close()
