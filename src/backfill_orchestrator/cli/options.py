"""What several commands share: the default pipeline config, and the --logs-dir option of the commands that work
on an existing run."""
from __future__ import annotations

import click

DEFAULT_CONFIG = "config/pipeline.yaml"  # relative to the working directory, like every path a user gives

logs_dir_option = click.option("--logs-dir", default="logs", envvar="BACKFILL_LOGS_DIR", show_default=True,
                               type=click.Path(file_okay=False),
                               help="Where runs live (logs/runs/<run-id>); RUN defaults to logs/latest.")
