"""Start the BigQuery emulator (bqemulator) on 127.0.0.1, offline, and report the port it bound.

Run with the emulator's own interpreter:  .venv-bqemu/bin/python scripts/bqemu.py --port-file FILE

Why a launcher instead of `bqemulator start`:
- At boot the emulator runs `INSTALL spatial`, which downloads from extensions.duckdb.org (no internet
  here) and caches under $HOME/.duckdb. We LOAD the extension file shipped in the pinned
  `duckdb-extension-spatial` wheel instead: nothing is downloaded and nothing is written to $HOME.
  If that file is missing, GEOGRAPHY is unsupported but the emulator still starts (nothing here needs it).
- The avro extension download is switched off (BQEMU_ENABLE_FORMAT_EXTENSIONS=false).
- Two gaps of bqemulator 1.4 against real BigQuery are closed by small patches (see _script_fidelity):
  named query parameters are not bound inside multi-statement scripts ("Values were not provided for
  the following prepared statement parameters"), and a script job reports no DML row count (real
  BigQuery reports it on the script's child jobs, which the emulator does not create). The warehouse's
  execute() runs DELETE+INSERT as one parameterised script in a transaction, so without these patches
  the emulator could not run the production code path at all. bqemulator is pinned (scripts/lib.sh)
  because the patches touch its internals; an unexpected version fails loudly here.
- REST and gRPC bind port 0 (a free port); the real REST port is printed as `port=N` and written
  atomically to --port-file, so callers never race on a guessed port.
Stops cleanly on SIGTERM/SIGINT.
"""
from __future__ import annotations

import argparse
import asyncio
import contextvars
import logging
import os
import signal
import sys
from pathlib import Path

os.environ["BQEMU_ENABLE_FORMAT_EXTENSIONS"] = "false"

import bqemulator  # noqa: E402
from bqemulator.config import LogLevel, PersistenceMode, Settings  # noqa: E402
from bqemulator.server import EmulatorServer  # noqa: E402
from bqemulator.storage.engine import DuckDBEngine  # noqa: E402

log = logging.getLogger("bqemu")


def _bundled_spatial() -> Path | None:
    """The spatial extension file inside the duckdb-extension-spatial wheel, for this duckdb version."""
    try:
        import duckdb
        import duckdb_extension_spatial
    except ImportError:
        return None
    base = Path(duckdb_extension_spatial.__file__).parent / "extensions"
    exact = base / f"v{duckdb.__version__}" / "spatial.duckdb_extension"
    return exact if exact.is_file() else None


def _load_spatial_offline(self: DuckDBEngine) -> None:
    path = _bundled_spatial()
    if path is None:
        log.warning("spatial extension not bundled for this duckdb; GEOGRAPHY unsupported")
        return
    try:
        self.connection.execute(f"LOAD '{path}'")
    except Exception as e:  # the extension is optional here; start without GEOGRAPHY rather than not at all
        log.warning("could not load %s (%s); GEOGRAPHY unsupported", path, str(e).splitlines()[0])


DuckDBEngine._load_spatial = _load_spatial_offline  # type: ignore[method-assign]

PATCHED_VERSION = "1.4.0"
_script_params: contextvars.ContextVar[list | None] = contextvars.ContextVar("script_params", default=None)
_script_dml: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("script_dml", default=None)
_DML = ("INSERT", "UPDATE", "DELETE", "MERGE")


def _script_fidelity() -> None:
    """Bind a script job's named parameters in its statements; report its DML row count."""
    if bqemulator.__version__ != PATCHED_VERSION:
        raise SystemExit(f"bqemu.py patches bqemulator {PATCHED_VERSION}, found {bqemulator.__version__}: "
                         "re-check the patches before changing the pin in scripts/lib.sh")
    from bqemulator.jobs import executor
    from bqemulator.scripting import interpreter

    run_body = executor._run_query_body
    finalize = executor._finalize_statement_result
    bind = interpreter.bind_parameters
    run_query = interpreter.ScriptInterpreter._run_query

    async def _run_query_body(**kw):  # type: ignore[no-untyped-def]
        # Set per job, in the job's own task context; the finalize step below runs in the same context.
        _script_params.set(kw["query_params"] if kw["is_scripted"] else None)
        _script_dml.set([] if kw["is_scripted"] else None)
        return await run_body(**kw)

    def _bind(sql, query_parameters=None):  # type: ignore[no-untyped-def]
        return bind(sql, query_parameters if query_parameters is not None else _script_params.get())

    async def _run_script_query(self, bq_sql):  # type: ignore[no-untyped-def]
        table = await run_query(self, bq_sql)
        counts = _script_dml.get()
        if counts is not None and bq_sql.lstrip().upper().startswith(_DML):
            counts.append(executor._extract_dml_affected_rows(table))
        return table

    def _finalize(arrow_table, statement_type, **kw):  # type: ignore[no-untyped-def]
        table, affected, schema = finalize(arrow_table, statement_type, **kw)
        counts = _script_dml.get()
        if affected is None and counts:
            affected = sum(counts)
        return table, affected, schema

    executor._run_query_body = _run_query_body
    executor._finalize_statement_result = _finalize
    interpreter.bind_parameters = _bind
    interpreter.ScriptInterpreter._run_query = _run_script_query


_script_fidelity()


async def _serve(settings: Settings, port_file: Path | None) -> None:
    server = EmulatorServer(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    try:
        if port_file is not None:
            tmp = port_file.with_name(port_file.name + ".tmp")
            tmp.write_text(f"{server.rest_port}\n")
            tmp.replace(port_file)
        print(f"port={server.rest_port} grpc_port={server.grpc_port} pid={os.getpid()}", flush=True)
        await stop.wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port-file", type=Path, help="write the REST port here once it accepts connections")
    ap.add_argument("--project", default="test-project")
    ap.add_argument("--staging-dir", type=Path, help="upload staging directory (default: system tempdir)")
    ap.add_argument("--log-level", default="warning", choices=[lv.value for lv in LogLevel])
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="bqemu: %(message)s", stream=sys.stderr)
    settings = Settings(rest_host="127.0.0.1", rest_port=0, grpc_host="127.0.0.1", grpc_port=0,
                        persistence_mode=PersistenceMode.EPHEMERAL, default_project_id=args.project,
                        log_level=LogLevel(args.log_level), upload_staging_dir=args.staging_dir,
                        enable_format_extensions=False)
    asyncio.run(_serve(settings, args.port_file))
    return 0


if __name__ == "__main__":
    sys.exit(main())
