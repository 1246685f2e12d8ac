#!/usr/bin/env bash
# The main job: the full default pipeline (config/pipeline.yaml) on the embedded DuckDB warehouse, from
# freshly generated sample data, to a final report.
#   scripts/demo.sh                       clean data: every data gate passes and the model is trained; exit 0,
#                                         or 3 when the model is accepted but under the users' "production
#                                         ready" bar (3% better than the rules baseline): it prints its figures
#   scripts/demo.sh --inject-gap          team box scores missing for 2024-11-02..2025-01-15: the
#                                         player_game_summary gate fails naming those dates, later phases
#                                         never start, exit 1
#   scripts/demo.sh --inject-feature-gap  opponent-defense factors missing for ~20% of the training window (the
#                                         users' real failure): the training readiness gate fails naming the
#                                         feature and the dates, training never starts, exit 1
#   scripts/demo.sh --bigquery            the same pipeline on BigQuery: the local emulator through the real client
#                                         (config/pipeline.bigquery.yaml; scripts/demo-bigquery.sh), exit as above
#   scripts/demo.sh --inject-race         raw team box scores of 2024-12-02..2024-12-15 land only after the team
#                                         job ran (the users' race): the player_game_summary gate fails on those
#                                         dates, a repair re-runs them upstream first (team, its dependents, then
#                                         players), the gates pass and the run goes on; it ends like the clean
#                                         demo, and the report shows the repair
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

faults=()
unset BACKFILL_INJECT_FEATURE_GAP BACKFILL_INJECT_RACE
case "${1:-}" in
  "") ;;
  --inject-gap) faults=(--drop-team-box 2024-11-02..2025-01-15) ;;
  # read by the team_offense job (its documented fault flag --late-raw, via pipeline.yaml)
  --inject-race) export BACKFILL_INJECT_RACE=2024-12-02..2024-12-15 ;;
  --bigquery) exec scripts/demo-bigquery.sh ;;
  # read by the team_defense_factors job (its documented fault flag --null-opponent-defense, via pipeline.yaml)
  --inject-feature-gap) export BACKFILL_INJECT_FEATURE_GAP=2024-11-05..2025-04-13 ;;
  -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
  *) echo "error: unknown argument '$1' (expected --inject-gap, --inject-feature-gap, --inject-race or --bigquery)" >&2
     exit 2 ;;
esac

ensure_venv
export BACKFILL_DUCKDB=data/nba.duckdb
# A demo starts from nothing: new warehouse file, no checkpoints from an earlier demo.
rm -f "$BACKFILL_DUCKDB" "$BACKFILL_DUCKDB.wal"
rm -rf logs/checkpoints/nba-backfill
.venv/bin/python -m nba_pipeline.sample_data --out "$BACKFILL_DUCKDB" "${faults[@]}"
status=0
demo_run config/pipeline.yaml || status=$?
exit "$status"
