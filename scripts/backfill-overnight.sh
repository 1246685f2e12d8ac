#!/usr/bin/env bash
# Start `backfill run [args]` detached (nohup, own session), the way the overnight backfill is launched by hand,
# and print where to look. Safe to close the terminal afterwards: the orchestrator ignores SIGHUP and its phases
# run in their own sessions.
#
#   scripts/backfill-overnight.sh [config/pipeline.yaml] [--adopt PHASE=PID[:LOG]] [--only PHASE] ...
#
# Environment: BACKFILL (the backfill command; default: the project's .venv/bin/backfill, else `backfill` on PATH),
# BACKFILL_LOGS_DIR (default logs). Writes <logs>/overnight.pid and <logs>/overnight.out (the console output).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
backfill="${BACKFILL:-}"
if [[ -z "$backfill" ]]; then
  if [[ -x "$here/.venv/bin/backfill" ]]; then backfill="$here/.venv/bin/backfill"; else backfill="backfill"; fi
fi
logs="${BACKFILL_LOGS_DIR:-logs}"
mkdir -p "$logs"
pidfile="$logs/overnight.pid"
out="$logs/overnight.out"

# alive = exists and is not a zombie waiting for its parent to reap it
alive() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null) && [[ -n $st && $st != Z* ]]; }
if [[ -f "$pidfile" ]] && alive "$(cat "$pidfile")"; then
  echo "error: a backfill started by this script is still running (PID $(cat "$pidfile"), $pidfile);" \
       "see: $backfill status" >&2
  exit 2
fi

# refuse bad arguments now, while someone is watching, instead of in the detached process
if ! "$backfill" run --dry-run "$@" > /dev/null; then
  exit 2
fi

previous="$(readlink "$logs/latest" 2>/dev/null || true)"
nohup setsid "$backfill" run "$@" > "$out" 2>&1 < /dev/null &
pid=$!
echo "$pid" > "$pidfile"

# wait (briefly) for the run directory, so that the exact log path can be printed
run_dir=""
for _ in $(seq 1 100); do
  now="$(readlink "$logs/latest" 2>/dev/null || true)"
  if [[ -n "$now" && "$now" != "$previous" ]]; then run_dir="$logs/$now"; break; fi
  if ! kill -0 "$pid" 2>/dev/null; then break; fi
  sleep 0.1
done

echo "backfill started in the background: PID $pid (pid file $pidfile)"
if [[ -n "$run_dir" ]]; then
  echo "run directory: $run_dir"
  echo "follow it:     tail -f $run_dir/orchestrator.log"
else
  echo "console output: $out (the run directory is not there yet; or the run ended at once - read it)"
  echo "follow it:     tail -f $logs/latest/orchestrator.log"
fi
echo "status:        $backfill status"
echo "stop it:       $backfill stop"
