"""backfill-orchestrator: run a multi-phase warehouse backfill unattended and gate every phase on its data."""

__version__ = "0.1.0"
