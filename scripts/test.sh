#!/usr/bin/env bash
# Run the tests: both virtual environments up to date, the BigQuery emulator on 127.0.0.1 (a free port),
# pytest with any arguments given, the emulator stopped by its PID whatever happens; exits with pytest's status.
#   scripts/test.sh                                     shellcheck of the scripts, then the whole suite (CI: .ci/run)
#   scripts/test.sh tests/test_warehouse_contract.py -x  any pytest arguments
# Emulator log, port and BigQuery test count: logs/test/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

run_dir=logs/test
EMU_PID=""
PYTEST_PID=""

# shellcheck disable=SC2317  # reached through the EXIT trap, which shellcheck does not follow
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n $PYTEST_PID ]] && _alive "$PYTEST_PID"; then
    kill -TERM "$PYTEST_PID" 2>/dev/null || true
    wait "$PYTEST_PID" 2>/dev/null || true
  fi
  if [[ -n $EMU_PID ]]; then
    stop_pid_group "$EMU_PID"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

t_setup=$(now)
ensure_venv
ensure_bqemu_venv
ensure_chromium
whole_suite=true  # no test path or selection among the arguments (options such as -q -x only)
for arg in "$@"; do
  [[ $arg == -* ]] || whole_suite=false
done
if [[ $whole_suite == true ]]; then
  # the whole suite (what CI runs) starts with the scripts' lint: a finding fails the run
  ensure_shellcheck
  shellcheck -x scripts/*.sh .ci/run || die "shellcheck found problems in scripts/*.sh or .ci/run"
fi
say "test.sh: environments ready in $(elapsed "$t_setup")s"

mkdir -p "$run_dir"
rm -f "$run_dir/bigquery-tests.txt"
t_emu=$(now)
start_bqemu "$run_dir"
echo "$EMU_PID" >"$run_dir/bqemu.pid"
endpoint=$BQEMU_ENDPOINT
say "test.sh: BigQuery emulator ready at $endpoint (pid $EMU_PID) in $(elapsed "$t_emu")s"

export BACKFILL_TEST_BQ_ENDPOINT=$endpoint
export BACKFILL_TEST_BQ_REPORT=$run_dir/bigquery-tests.txt
t_tests=$(now)
# pytest runs in the background and is waited for, so a TERM sent to this script is acted on at once.
.venv/bin/pytest "$@" &
PYTEST_PID=$!
set +e
wait "$PYTEST_PID"
status=$?
set -e
PYTEST_PID=""
say "test.sh: pytest finished with status $status in $(elapsed "$t_tests")s"
if [[ -s $BACKFILL_TEST_BQ_REPORT ]]; then
  say "test.sh: $(<"$BACKFILL_TEST_BQ_REPORT")"
else
  say "test.sh: BigQuery-backend tests: none ran"
fi
if [[ ${CI:-} == true && $# -eq 0 && $status -eq 0 ]] && ! grep -qE ': [1-9][0-9]* ran' "$BACKFILL_TEST_BQ_REPORT" 2>/dev/null; then
  say "test.sh: CI ran the whole suite but no BigQuery-backend test ran; failing"
  status=1
fi
exit "$status"
