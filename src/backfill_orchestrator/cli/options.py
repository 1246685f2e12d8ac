"""Options shared by the commands that work on an existing run."""
from __future__ import annotations

import click

DEFAULT_CONFIG = "config/pipeline.yaml"

logs_dir_option = click.option("--logs-dir", default="logs", envvar="BACKFILL_LOGS_DIR", show_default=True,
                               type=click.Path(file_okay=False),
                               help="Where runs live (logs/runs/<run-id>); RUN defaults to logs/latest.")
