#!/usr/bin/env bash
# Host-path mapping (server.host_data_dir) against the real dockerd, without an image:
# the server runs in a private mount namespace where its data_dir INSIDE is a bind mount of
# the host directory OUTSIDE. dockerd lives in the host namespace, where INSIDE is an empty
# directory: a job can only see its inputs if every bind source was mapped to OUTSIDE.
#   1. mapping: data_dir=INSIDE, host_data_dir=OUTSIDE: a job completes with its outputs, and
#      its container's mounts are under OUTSIDE;
#   2. refusal: host_data_dir=WRONG (an existing, unrelated directory): the server exits
#      non-zero naming both paths; the same without host_data_dir (the common mistake).
# Usage: host_paths_test.sh PIRUS_BINARY
set -euo pipefail
PIRUS_LOG_TAG=host_paths_test
PIRUS="$(realpath "${1:?usage: host_paths_test.sh PIRUS_BINARY}")"
WORK=$(mktemp -d /tmp/pirus-hostpaths-XXXXXX)
# shellcheck source=tests/deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v unshare >/dev/null || fail "unshare (util-linux) is missing"
docker info >/dev/null 2>&1 || fail "dockerd is not running (scripts/setup.sh starts it)"

OUTSIDE="$WORK/outside"
INSIDE="$WORK/inside"
WRONG="$WORK/wrong"
mkdir -p "$OUTSIDE" "$INSIDE" "$WRONG"
server_pid=""
instance=""

cleanup() {
  local rc=$?
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [[ -n "$instance" ]]; then
    docker ps -aq --filter "label=pirus.instance=$instance" | xargs -r docker rm -f >/dev/null 2>&1 || true
    docker image ls -q --filter "reference=pirus-${instance:0:8}-pipeline-*" |
      xargs -r docker rmi -f >/dev/null 2>&1 || true
  fi
  if ((rc != 0)); then
    echo "---- server log ----" >&2
    cat "$WORK"/server*.log >&2 2>/dev/null || true
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT

# start_server LOG HOST_DATA_DIR: the server in its own mount namespace (INSIDE = OUTSIDE).
start_server() {
  local log=$1 host_dir=$2 set=()
  [[ -n "$host_dir" ]] && set=(--set "server.host_data_dir=$host_dir")
  # shellcheck disable=SC2016  # expanded by the inner bash
  unshare -m --propagation private bash -c 'mount --bind "$1" "$2" && shift 2 && exec "$@"' _ \
    "$OUTSIDE" "$INSIDE" "$PIRUS" server --data-dir "$INSIDE" --listen 127.0.0.1:0 \
    "${set[@]}" >"$log" 2>&1 &
  server_pid=$!
}

# --- 1. mapping ----------------------------------------------------------------------------
t0=$(now)
start_server "$WORK/server.log" "$OUTSIDE"
port=""
for _ in $(seq 1 150); do
  port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$WORK/server.log" | head -n 1)
  [[ -n "$port" ]] && grep -q 'the engine sees the data directory' "$WORK/server.log" && break
  kill -0 "$server_pid" 2>/dev/null || fail "the server exited: $(cat "$WORK/server.log")"
  sleep 0.2
done
grep -q "the engine sees the data directory at $OUTSIDE" "$WORK/server.log" ||
  fail "the probe did not pass"
export PIRUS_URL="http://127.0.0.1:$port"
[[ -z "$(ls -A "$INSIDE")" ]] || fail "INSIDE is not empty on the host: the namespace leaked"
instance=$(sqlite3 "$OUTSIDE/pirus.db" "select value from meta where key='instance_id'")

install_example
mapfile -t inputs < <(upload_inputs)
job=$(run_job mapped 3000 "${inputs[@]}")
cname="pirus-${instance:0:8}-job-$job"
wait_for 60 "the container of job $job" docker inspect "$cname"
mounts=$(docker inspect -f '{{range .Mounts}}{{.Source}}:{{.Destination}} {{end}}' "$cname")
for m in $mounts; do
  [[ "$m" == "$OUTSIDE/"* ]] || fail "job $job mount $m is not under the host path $OUTSIDE"
done
grep -q "$OUTSIDE/jobs/$job/inputs:/pipeline/inputs" <<<"$mounts" ||
  fail "job $job: no inputs mount from $OUTSIDE/jobs/$job/inputs ($mounts)"
pass "job container mounts are host paths: $mounts"
cli job wait "$job" >/dev/null || fail "job $job did not succeed: $(cli job show "$job")"
check_outputs "$job" "$WORK/out"
[[ -s "$OUTSIDE/jobs/$job/outputs/report.txt" ]] || fail "no report.txt under $OUTSIDE"
pass "mapping: job $job done with its outputs ($(elapsed "$t0")s)"
kill -TERM "$server_pid"
wait "$server_pid" || fail "the server did not stop cleanly"
server_pid=""

# --- 2. refusal ----------------------------------------------------------------------------
# expect_refusal LOG HOST_DATA_DIR EXPECTED_HOST_PATH
expect_refusal() {
  local log=$1 host_dir=$2 expected=$3 rc=0
  start_server "$log" "$host_dir"
  local deadline=$(($(date +%s) + 60))
  while kill -0 "$server_pid" 2>/dev/null; do
    (($(date +%s) < deadline)) || fail "the server kept running with host_data_dir=$host_dir"
    sleep 0.2
  done
  wait "$server_pid" || rc=$?
  server_pid=""
  ((rc != 0)) || fail "the server exited 0 with a wrong mapping"
  grep -q "refusing to start" "$log" || fail "no refusal message in $log"
  grep -q "$INSIDE/tmp/host-path-probe-" "$log" || fail "the message does not name $INSIDE"
  grep -q "$expected/tmp/host-path-probe-" "$log" || fail "the message does not name $expected"
  pass "refusal (host_data_dir=${host_dir:-unset}): exit $rc, $(grep -o 'refusing to start.*' "$log" | cut -c1-160)..."
}
t0=$(now)
expect_refusal "$WORK/server-wrong.log" "$WRONG" "$WRONG"
expect_refusal "$WORK/server-unset.log" "" "$INSIDE"
[[ -z "$(docker ps -aq --filter "label=pirus.probe=$instance")" ]] || fail "a probe container was left"
pass "refusals ($(elapsed "$t0")s)"
echo "host_paths_test: all passed"
