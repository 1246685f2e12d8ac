# shellcheck shell=bash
# Shared helpers for scripts/*.sh. Source it from the repository root; it only defines functions.
#   ensure_venv         .venv       = the project + its dev and ml extras  (reinstalled only when pyproject.toml changes)
#   ensure_bqemu_venv   .venv-bqemu = the BigQuery emulator, in its own venv (it pins an older duckdb)
#   ensure_chromium     Debian's chromium, for the test that renders the run report headless
#   ensure_shellcheck   Debian's shellcheck, for the lint of scripts/*.sh and .ci/run that scripts/test.sh runs
#   start_bqemu DIR     the BigQuery emulator on a free loopback port: sets EMU_PID and BQEMU_ENDPOINT
#   stop_pid_group PID  TERM the process group PID leads, KILL it after a grace period
# A venv is rebuilt from scratch when its interpreter no longer runs (e.g. the repository moved).

# bqemulator is pinned because scripts/bqemu.py patches its internals; duckdb and the spatial extension
# wheel must match exactly (the extension is loaded from that wheel instead of downloaded).
BQEMU_REQUIREMENTS=("bqemulator==1.4.0" "numpy" "duckdb==1.5.5" "duckdb-extension-spatial==1.5.5")

say() { printf '%s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# Seconds since the epoch with microseconds (bash 5), for timings.
now() { printf '%s' "${EPOCHREALTIME:-$(date +%s.%N)}"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

find_python() {
  local c
  for c in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    if [[ -z $c ]] || ! command -v "$c" >/dev/null 2>&1; then
      continue
    fi
    if "$c" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      printf '%s' "$c"
      return 0
    fi
  done
  die "Python >= 3.11 not found (set PYTHON=/path/to/python3.11)"
}

# _ensure_env DIR STAMP_TEXT PIP_ARGS...: (re)create DIR when needed, pip install when STAMP_TEXT changed.
_ensure_env() {
  local dir=$1 want=$2
  shift 2
  local stamp="$dir/.installed-stamp"
  if [[ -x $dir/bin/python ]] && ! "$dir/bin/python" -c '' 2>/dev/null; then
    say "$dir: interpreter does not run any more; recreating"
    rm -rf "$dir"
  fi
  if [[ -f $stamp && $(<"$stamp") == "$want" ]]; then
    return 0
  fi
  if [[ ! -x $dir/bin/python ]]; then
    say "$dir: creating virtual environment"
    "$(find_python)" -m venv "$dir" || die "could not create $dir"
  fi
  say "$dir: installing $*"
  "$dir/bin/python" -m pip install --disable-pip-version-check -q "$@" || die "pip install into $dir failed"
  printf '%s' "$want" >"$stamp"
}

ensure_venv() {
  local want
  want="pyproject $(sha256sum pyproject.toml | cut -d' ' -f1)"
  _ensure_env .venv "$want" -e ".[dev,ml]"
  # An editable install has no bytecode, and this environment sets PYTHONDONTWRITEBYTECODE: without this every
  # `backfill` and job process would compile the sources again (~0.1 s each). Only changed files are compiled.
  PYTHONDONTWRITEBYTECODE='' .venv/bin/python -m compileall -q src >/dev/null
}

ensure_bqemu_venv() {
  _ensure_env .venv-bqemu "${BQEMU_REQUIREMENTS[*]}" "${BQEMU_REQUIREMENTS[@]}"
}

ensure_chromium() {
  command -v chromium >/dev/null 2>&1 && return 0
  say "installing chromium (Debian package) for the report rendering test"
  _apt_install chromium fonts-dejavu-core || die "could not install chromium with apt-get"
}

ensure_shellcheck() {
  command -v shellcheck >/dev/null 2>&1 && return 0
  say "installing shellcheck (Debian package) for the scripts' lint"
  _apt_install shellcheck || die "could not install shellcheck with apt-get"
}

# _apt_install PACKAGE...: Debian packages, without recommends (as root, or through sudo).
_apt_install() {
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo=sudo
  if ! $sudo apt-get update -qq >/dev/null; then
    return 1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# http_ok URL: true when URL answers 2xx within a second.
http_ok() {
  if command -v curl >/dev/null 2>&1; then
    curl -sf -o /dev/null --max-time 1 "$1"
  else
    .venv/bin/python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$1" \
      >/dev/null 2>&1
  fi
}

# _alive PID: the process exists and is not a zombie waiting to be reaped.
_alive() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ -n $state && $state != Z* ]]
}

# start_bqemu DIR: the BigQuery emulator on a free 127.0.0.1 port (log, port file and uploads in DIR), in its own
# process group (set -m: stopped as a whole, and a Ctrl-C meant for the foreground command does not reach it
# first). Sets EMU_PID at once, so the caller's EXIT trap stops it even when the start fails, and BQEMU_ENDPOINT
# once /readyz answers; dies with the log's tail if it exits or is not ready within $BACKFILL_BQEMU_START_DEADLINE
# seconds (default 60).
start_bqemu() {
  local dir=$1 wait_s=${BACKFILL_BQEMU_START_DEADLINE:-60} deadline
  mkdir -p "$dir"
  rm -f "$dir/bqemu.port"
  set -m
  .venv-bqemu/bin/python scripts/bqemu.py --port-file "$dir/bqemu.port" --staging-dir "$dir/uploads" \
    >"$dir/bqemu.log" 2>&1 &
  EMU_PID=$!
  set +m
  deadline=$(awk -v t="$(now)" -v g="$wait_s" 'BEGIN { printf "%.3f", t + g }')
  while :; do
    if ! _alive "$EMU_PID"; then
      tail -n 20 "$dir/bqemu.log" >&2 || true
      die "the BigQuery emulator exited during start (log: $dir/bqemu.log)"
    fi
    if [[ -s $dir/bqemu.port ]]; then
      BQEMU_ENDPOINT="http://127.0.0.1:$(<"$dir/bqemu.port")"
      http_ok "$BQEMU_ENDPOINT/readyz" && return 0
    fi
    if awk -v t="$(now)" -v d="$deadline" 'BEGIN { exit !(t > d) }'; then
      tail -n 20 "$dir/bqemu.log" >&2 || true
      die "the BigQuery emulator was not ready within ${wait_s}s (log: $dir/bqemu.log)"
    fi
    sleep 0.05
  done
}

# stop_pid_group PID [GRACE_SECONDS]: TERM the group led by PID, wait up to GRACE, then KILL it.
stop_pid_group() {
  local pid=$1 grace=${2:-10} deadline
  [[ -n $pid ]] || return 0
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || return 0
  deadline=$(awk -v t="$(now)" -v g="$grace" 'BEGIN { printf "%.3f", t + g }')
  while _alive "$pid"; do
    if awk -v t="$(now)" -v d="$deadline" 'BEGIN { exit !(t > d) }'; then
      say "process group $pid did not stop within ${grace}s of SIGTERM; sending SIGKILL"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  wait "$pid" 2>/dev/null || true
}

# The end of both demos (demo.sh, demo-bigquery.sh): check CONFIG, run it, print the model's figures and where to
# look; returns the run's exit code (call as `demo_run CONFIG || status=$?`).
demo_run() {
  local config=$1 status=0
  .venv/bin/backfill config check "$config" || return $?
  .venv/bin/backfill run "$config" || status=$?
  echo
  # the model's figures against both baselines and the users' 4.27 (nothing to print when training never ran)
  .venv/bin/python -m nba_pipeline.ml_card models --run-id "$(basename "$(readlink -f logs/latest)")" || true
  echo
  echo "run directory: $(readlink -f logs/latest)"
  echo "report:        logs/latest/report.html  (and report.md)"
  echo "exit code:     $status  (0 passed, 1 a gate or phase failed, 3 passed with warnings)"
  return "$status"
}
