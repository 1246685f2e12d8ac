#!/usr/bin/env bash
# Write the reproducible NBA sample warehouse (raw tables) used by the default pipeline.
# Usage: scripts/sample-data.sh [--out data/nba.duckdb] [more nba_pipeline.sample_data options]
set -euo pipefail
cd "$(dirname "$0")/.."
args=("$@")
[[ " ${args[*]-} " == *" --out "* || " ${args[*]-} " == *" --warehouse "* ]] || args=(--out data/nba.duckdb "${args[@]}")
exec .venv/bin/python -m nba_pipeline.sample_data "${args[@]}"
