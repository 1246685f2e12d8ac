#!/usr/bin/env bash
# The main job: the full default pipeline (config/pipeline.yaml) on the embedded DuckDB warehouse, from
# freshly generated sample data, to a final report.
#   scripts/demo.sh               clean data: every gate passes, exit 0
#   scripts/demo.sh --inject-gap  team box scores missing for 2024-11-02..2025-01-15: the player_game_summary
#                                 gate fails naming those dates, phase 3 never starts, exit 1
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

faults=()
case "${1:-}" in
  "") ;;
  --inject-gap) faults=(--drop-team-box 2024-11-02..2025-01-15) ;;
  -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
  *) echo "error: unknown argument '$1' (expected --inject-gap)" >&2; exit 2 ;;
esac

ensure_venv
export BACKFILL_DUCKDB=data/nba.duckdb
# A demo starts from nothing: new warehouse file, no checkpoints from an earlier demo.
rm -f "$BACKFILL_DUCKDB" "$BACKFILL_DUCKDB.wal"
rm -rf logs/checkpoints/nba-backfill
.venv/bin/python -m nba_pipeline.sample_data --out "$BACKFILL_DUCKDB" "${faults[@]}"
.venv/bin/backfill config check config/pipeline.yaml
set +e
.venv/bin/backfill run config/pipeline.yaml
status=$?
set -e
echo
echo "run directory: $(readlink -f logs/latest)"
echo "report:        logs/latest/report.html  (and report.md)"
echo "exit code:     $status  (0 passed, 1 a gate or phase failed, 3 passed with warnings)"
exit $status
