"""Start the BigQuery emulator (bqemulator) on 127.0.0.1, offline, and report the port it bound.

Run with the emulator's own interpreter:  .venv-bqemu/bin/python scripts/bqemu.py --port-file FILE

Why a launcher instead of `bqemulator start`:
- At boot the emulator runs `INSTALL spatial`, which downloads from extensions.duckdb.org (no internet
  here) and caches under $HOME/.duckdb. We LOAD the extension file shipped in the pinned
  `duckdb-extension-spatial` wheel instead: nothing is downloaded and nothing is written to $HOME.
  If that file is missing, GEOGRAPHY is unsupported but the emulator still starts (nothing here needs it).
- The avro extension download is switched off (BQEMU_ENABLE_FORMAT_EXTENSIONS=false).
- REST and gRPC bind port 0 (a free port); the real REST port is printed as `port=N` and written
  atomically to --port-file, so callers never race on a guessed port.
Stops cleanly on SIGTERM/SIGINT.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

os.environ["BQEMU_ENABLE_FORMAT_EXTENSIONS"] = "false"

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
