#!/usr/bin/env bash
# The Pirus demo, end to end on the embedded defaults (SQLite, the host's Docker):
#   set up the machine, build `pirus`, start a server in a throw-away data directory,
#   install the example pipeline (seqstats), upload two sequence files, run a job, wait for
#   it with a progress bar, print its report, and shut the server down cleanly.
# Leaves nothing behind but the build and the base image (pass --keep to keep the data).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

keep=0
[[ "${1:-}" == "--keep" ]] && keep=1

cd "$PIRUS_ROOT"
BUILD_DIR="$PIRUS_ROOT/build/release"
export CCACHE_DIR="${CCACHE_DIR:-${HOME:-/root}/.cache/ccache}"

stage_begin setup
"$PIRUS_ROOT/scripts/setup.sh"

stage_begin build
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPIRUS_BUILD_TESTS=OFF -DPIRUS_BUILD_BENCH=OFF >/dev/null
ninja -C "$BUILD_DIR" -j2 pirus | tail -n 1
PIRUS="$BUILD_DIR/pirus"

stage_begin server
work=$(mktemp -d /tmp/pirus-demo-XXXXXX)
server_pid=""
cleanup() {
  local rc=$?
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [[ -n "${instance:-}" ]]; then
    docker image ls -q --filter "reference=pirus-${instance:0:8}-pipeline-*" |
      xargs -r docker rmi -f >/dev/null 2>&1 || true
  fi
  if ((rc != 0)); then
    log "demo failed (exit $rc); the end of the server log:"
    tail -n 30 "$work/server.log" 2>/dev/null || true
  fi
  if ((keep)); then log "data kept in $work"; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT

"$PIRUS" server --data-dir "$work/data" --listen 127.0.0.1:0 >"$work/server.log" 2>&1 &
server_pid=$!
port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/server.log" | head -n 1)
  [[ -n "$port" ]] && break
  kill -0 "$server_pid" 2>/dev/null || die "the server did not start: $(cat "$work/server.log")"
  sleep 0.1
done
[[ -n "$port" ]] || die "the server did not report its port"
export PIRUS_URL="http://127.0.0.1:$port"
instance=$(sqlite3 "$work/data/pirus.db" "select value from meta where key='instance_id'" 2>/dev/null || true)
log "server running at $PIRUS_URL (data in $work/data)"

stage_begin install
(cd examples/pipelines/seqstats && zip -qr "$work/seqstats.zip" . -x 'test-data/*')
"$PIRUS" pipeline install "$work/seqstats.zip"

stage_begin upload
"$PIRUS" file upload --sha256 examples/pipelines/seqstats/test-data/sample1.fa \
  examples/pipelines/seqstats/test-data/sample2.fq
inputs=$("$PIRUS" --json file list | grep -o '"id":[0-9]*' | sed 's/"id":/--input /' | tr '\n' ' ')

stage_begin job
# shellcheck disable=SC2086  # $inputs is a list of options
job=$("$PIRUS" job run seqstats $inputs --name "demo" \
  --param report_title="Pirus demo report" --param delay_ms=700)
"$PIRUS" job wait "$job"
"$PIRUS" job show "$job"

stage_begin output
mkdir -p "$work/outputs"
"$PIRUS" job outputs "$job" -d "$work/outputs" >/dev/null
echo
echo "----- report.txt (output of job $job) -----"
cat "$work/outputs/report.txt"
echo "-------------------------------------------"

stage_begin shutdown
kill -TERM "$server_pid"
wait "$server_pid"
server_pid=""
log "server stopped cleanly"
stage_end
stage_report
log "demo finished"
