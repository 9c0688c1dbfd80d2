# shellcheck shell=bash disable=SC2034  # variables are for the scripts that source this
# Shared helpers for the scripts in this folder: logging, timing of stages, repo paths.
# Source it (`source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"`); it defines functions and
# variables only and runs nothing.

# The repository root, whatever the caller's cwd.
PIRUS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Prefix for log lines: the name of the script that sourced this file.
PIRUS_LOG_TAG="${PIRUS_LOG_TAG:-$(basename "${BASH_SOURCE[1]:-$0}" .sh)}"

log() { printf '[%s] %s\n' "$PIRUS_LOG_TAG" "$*"; }
warn() { printf '[%s] warning: %s\n' "$PIRUS_LOG_TAG" "$*" >&2; }
die() {
  printf '[%s] error: %s\n' "$PIRUS_LOG_TAG" "$*" >&2
  exit 1
}

# Seconds since the epoch with milliseconds, e.g. 1764009303.120.
now() { date +%s.%3N; }

# elapsed START [END]: seconds between two `now` values, one decimal.
elapsed() { awk -v a="$1" -v b="${2:-$(now)}" 'BEGIN { printf "%.1f", b - a }'; }

# Stage timing. `stage_begin NAME` starts a stage (ending the previous one, if any),
# `stage_end [STATUS]` ends the current one with STATUS (ok by default); `stage_report`
# prints the table. Stages that were never ended show as "unfinished".
PIRUS_STAGE_NAMES=()
PIRUS_STAGE_SECONDS=()
PIRUS_STAGE_STATUS=()
PIRUS_STAGE_CURRENT=""
PIRUS_STAGE_START=""

stage_begin() {
  [[ -n "$PIRUS_STAGE_CURRENT" ]] && stage_end
  PIRUS_STAGE_CURRENT="$1"
  PIRUS_STAGE_START="$(now)"
  log "== $1"
}

stage_end() {
  [[ -z "$PIRUS_STAGE_CURRENT" ]] && return 0
  PIRUS_STAGE_NAMES+=("$PIRUS_STAGE_CURRENT")
  PIRUS_STAGE_SECONDS+=("$(elapsed "$PIRUS_STAGE_START")")
  PIRUS_STAGE_STATUS+=("${1:-ok}")
  PIRUS_STAGE_CURRENT=""
}

stage_report() {
  [[ -n "$PIRUS_STAGE_CURRENT" ]] && stage_end unfinished
  local i total=0
  printf '\n%-12s %8s  %s\n' stage seconds status
  for i in "${!PIRUS_STAGE_NAMES[@]}"; do
    printf '%-12s %8s  %s\n' "${PIRUS_STAGE_NAMES[$i]}" "${PIRUS_STAGE_SECONDS[$i]}" \
      "${PIRUS_STAGE_STATUS[$i]}"
    total=$(awk -v a="$total" -v b="${PIRUS_STAGE_SECONDS[$i]}" 'BEGIN { print a + b }')
  done
  printf '%-12s %8.1f\n' total "$total"
}

# run_as_root CMD...: runs CMD directly as root, through sudo otherwise.
run_as_root() {
  if [[ $EUID -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root for: $*"
  fi
}
