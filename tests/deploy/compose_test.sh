#!/usr/bin/env bash
# End-to-end test of the compose deployment (deploy/compose.yml) on the real dockerd:
#   build     the three images, FROM the locally made Debian base (cached; the server
#             image's compile stage is cached by Docker while src/ is unchanged)
#   up        the stack on high loopback ports, in a temporary PIRUS_HOME
#   tls       HTTP redirects to HTTPS; the CLI refuses the self-signed certificate unless
#             given it with --ca-cert
#   job       through nginx over HTTPS with the host-built CLI: install the example
#             pipeline, upload its inputs, run a job, download its outputs
#   host      a job container runs on the host's dockerd with host paths as bind sources
#   restart   `docker-compose restart pirus` while a job runs: the job still completes
#   down-up   `down` then `up`: pipelines, files, finished jobs and logs are all there
# Everything is torn down on exit, even on failure. Stage timings are printed at the end.
# Usage: compose_test.sh PIRUS_BINARY
# Environment: PIRUS_DEPLOY_DB (postgres or sqlite; default: postgres when this pirus has
#   the PostgreSQL store, i.e. a `pirus db` command, else sqlite),
#   PIRUS_DEPLOY_BASE (pirus-base/debian:bookworm), PIRUS_DEPLOY_TAG (test),
#   PIRUS_DEPLOY_KEEP=1 keeps the stack and PIRUS_HOME for a look after a failure.
set -euo pipefail
PIRUS_LOG_TAG=compose_test
PIRUS="$(realpath "${1:?usage: compose_test.sh PIRUS_BINARY}")"
WORK=$(mktemp -d /tmp/pirus-compose-test-XXXXXX)
# shellcheck source=tests/deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
STACK="$DEPLOY_TEST_SRC/deploy/pirus-stack.sh"

# PostgreSQL when this pirus has the PostgreSQL store (it comes with `pirus db`), else SQLite.
if [[ -z "${PIRUS_DEPLOY_DB:-}" ]]; then
  PIRUS_DEPLOY_DB=sqlite
  "$PIRUS" db --help 2>/dev/null | grep -q '^Usage: .* db ' && PIRUS_DEPLOY_DB=postgres
fi
export PIRUS_DB="$PIRUS_DEPLOY_DB"
export BASE_IMAGE="${PIRUS_DEPLOY_BASE:-pirus-base/debian:bookworm}"
export PIRUS_TAG="${PIRUS_DEPLOY_TAG:-test}"
export PIRUS_HOME="$WORK/home"
export PIRUS_PROJECT="pirustest$$"

# Four free loopback ports in a row, high up.
port_in_use() { ss -Htln "sport = :$1" | grep -q .; }
for _ in $(seq 1 50); do
  base=$((20000 + RANDOM % 30000))
  port_in_use "$base" || port_in_use $((base + 1)) || port_in_use $((base + 2)) ||
    port_in_use $((base + 3)) || break
done
export PIRUS_BIND=127.0.0.1 PIRUS_HTTP_PORT=$base PIRUS_HTTPS_PORT=$((base + 1))
export PIRUS_PORT=$((base + 2)) PIRUS_PG_PORT=$((base + 3))
export PIRUS_URL="https://127.0.0.1:$PIRUS_HTTPS_PORT"
CA="$PIRUS_HOME/tls/generated/tls.crt"

compose() { "$STACK" "$@"; }
instance=""  # the first 8 characters of the server's instance id

cleanup() {
  local rc=$?
  stage_report || true
  if ((rc != 0)); then
    log "FAILED (exit $rc); the stack's logs:"
    compose logs --no-color --tail=60 2>&1 | tail -n 150 >&2 || true
  fi
  if [[ "${PIRUS_DEPLOY_KEEP:-0}" == 1 ]]; then
    log "kept: PIRUS_HOME=$PIRUS_HOME, project $PIRUS_PROJECT (deploy/pirus-stack.sh down)"
    exit "$rc"
  fi
  compose down --remove-orphans -t 20 >/dev/null 2>&1 || true
  if [[ -n "$instance" ]]; then
    docker ps -aq --filter "name=pirus-$instance-" | xargs -r docker rm -f >/dev/null 2>&1 || true
    docker image ls -q --filter "reference=pirus-$instance-pipeline-*" |
      xargs -r docker rmi -f >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT

wait_healthy() {
  wait_for 120 "the server through nginx" cli --ca-cert "$CA" health
}

stage_begin build
docker info >/dev/null 2>&1 || fail "dockerd is not running (scripts/setup.sh starts it)"
compose build
docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E "^pirus/(server|postgres|nginx):$PIRUS_TAG " |
  sed "s/^/[$PIRUS_LOG_TAG] image /"

stage_begin up
compose up -d
wait_for 60 "nginx's certificate" test -s "$CA"
export PIRUS_CA_CERT="$CA"
wait_healthy
pass "stack up: $(cli health | tr -s ' \n' ' ')"
if [[ "$PIRUS_DB" == postgres ]]; then
  expected_db="database postgresql://pirus:\*\*\*@127.0.0.1:$PIRUS_PG_PORT/pirus"
else
  expected_db="database sqlite://$PIRUS_HOME/data/pirus.db"
fi
grep -q "$expected_db" "$PIRUS_HOME/logs/pirus/pirus.log" ||
  fail "the server does not use the $PIRUS_DB database ($expected_db): $(grep -m1 listening "$PIRUS_HOME/logs/pirus/pirus.log")"
pass "the server uses $PIRUS_DB"

stage_begin tls
redirect=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' \
  "http://127.0.0.1:$PIRUS_HTTP_PORT/api/v1/health?x=1")
[[ "$redirect" == "301 https://127.0.0.1:$PIRUS_HTTPS_PORT/api/v1/health?x=1" ]] ||
  fail "HTTP does not redirect to HTTPS: $redirect"
if env -u PIRUS_CA_CERT "$PIRUS" health >/dev/null 2>"$WORK/notrust.err"; then
  fail "the CLI accepted a self-signed certificate it was not given"
fi
grep -qi 'certificate' "$WORK/notrust.err" || fail "unexpected error without --ca-cert: $(cat "$WORK/notrust.err")"
env -u PIRUS_CA_CERT "$PIRUS" --insecure health >/dev/null || fail "--insecure did not connect"
pass "HTTP redirects to HTTPS; the certificate is verified (--ca-cert), --insecure is explicit"

# The dashboard through nginx: its page, and a gzip-encoded asset.
page=$(curl -s --cacert "$CA" "$PIRUS_URL/jobs") || fail "no answer for the dashboard page"
grep -q '<title>Pirus</title>' <<<"$page" || fail "the dashboard page is not served: $(head -c 300 <<<"$page")"
encoding=$(curl -s --cacert "$CA" -H 'Accept-Encoding: gzip' -o /dev/null -D - "$PIRUS_URL/app.js" |
  tr -d '\r' | awk -F': ' 'tolower($1) == "content-encoding" { print $2 }')
[[ "$encoding" == gzip ]] || fail "the dashboard's app.js is not sent gzip-encoded through nginx ($encoding)"
pass "the web dashboard is served through nginx"

stage_begin job
install_example
# pirus-<instance[0:8]>-pipeline-<id>: what the teardown removes.
instance=$(cli --json pipeline list | grep -o '"image":"pirus-[0-9a-f]*-' | head -n 1 | cut -d- -f2)
mapfile -t inputs < <(upload_inputs)
((${#inputs[@]} == 2)) || fail "expected two uploaded files, got: ${inputs[*]}"
# Push events through nginx: an SSE stream open while the job runs sees it finish.
curl -sN --cacert "$CA" -H 'Accept: text/event-stream' \
  "$PIRUS_URL/api/v1/events?kinds=job_updated" >"$WORK/sse.txt" 2>/dev/null &
sse_pid=$!
sleep 0.5
job1=$(run_job first 0 "${inputs[@]}")
cli job wait "$job1" >/dev/null || fail "job $job1 failed: $(cli job show "$job1")"
check_outputs "$job1" "$WORK/out1"
pass "job $job1 done through nginx; report.txt downloaded"
sleep 0.5
kill "$sse_pid" 2>/dev/null || true
wait "$sse_pid" 2>/dev/null || true
grep -q '"status":"done"' "$WORK/sse.txt" || fail "no job_updated event (done) over SSE through nginx: $(head -c 600 "$WORK/sse.txt")"
pass "SSE through nginx: $(grep -c '^data:' "$WORK/sse.txt") events"
# A WebSocket handshake through nginx (HTTP/1.1 Upgrade), and the server's first message.
curl -s --http1.1 --max-time 3 --cacert "$CA" -D "$WORK/ws.headers" -o "$WORK/ws.body" \
  -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
  -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' "$PIRUS_URL/api/v1/events?kinds=job_updated" || true
head -n 1 "$WORK/ws.headers" | grep -q ' 101' || fail "no WebSocket upgrade through nginx: $(head -n 1 "$WORK/ws.headers")"
grep -qa '"type":"subscribed"' "$WORK/ws.body" || fail "no 'subscribed' message over the WebSocket"
pass "WebSocket through nginx: 101 and the subscribed message"
# A resumable upload larger than nginx's default body limit and than one TUS chunk.
head -c $((40 << 20)) /dev/urandom >"$WORK/big.bin"
big=$(cli --json file upload --sha256 "$WORK/big.bin") || fail "the 40 MiB upload failed"
grep -q '"size":41943040' <<<"$big" || fail "the 40 MiB upload has the wrong size: $big"
pass "40 MiB TUS upload through nginx, checked by the server"

stage_begin host
server_container=$(docker ps -q --filter "label=com.docker.compose.project=$PIRUS_PROJECT" \
  --filter "label=com.docker.compose.service=pirus" | head -n 1)
[[ -n "$server_container" ]] || fail "no pirus container"
# The image's HEALTHCHECK (pirus health) has run by now.
health_of() { docker inspect -f '{{.State.Health.Status}}' "$1"; }
is_healthy() { [[ "$(health_of "$1")" == healthy ]]; }
wait_for 40 "the server container's HEALTHCHECK" is_healthy "$server_container"
pass "server container ${server_container:0:12}: $(health_of "$server_container") (HEALTHCHECK)"
job2=$(run_job long 6000 "${inputs[@]}")
wait_for 60 "the container of job $job2" \
  sh -c "docker ps -q --filter label=pirus.job=$job2 | grep -q ."
jc=$(docker ps -q --filter "label=pirus.job=$job2" | head -n 1)
mounts=$(docker inspect -f '{{range .Mounts}}{{.Source}} {{end}}' "$jc")
for m in $mounts; do
  [[ "$m" == "$PIRUS_HOME/data/"* ]] || fail "job $job2 mount source $m is not a host path under $PIRUS_HOME/data"
  [[ -d "$m" ]] || fail "job $job2 mount source $m does not exist on the host"
done
network=$(docker inspect -f '{{.HostConfig.NetworkMode}}' "$jc")
[[ "$network" == none ]] || fail "job $job2 is on network $network, not none"
pass "job $job2 runs on the host's dockerd, next to the server container ${server_container:0:12}; mounts: $mounts"

stage_begin restart
compose restart -t 20 pirus
wait_healthy
status=$(cli --json job show "$job2" | grep -o '"status":"[a-z]*"' | head -n 1)
log "job $job2 after the restart: $status"
cli job wait "$job2" >/dev/null || fail "job $job2 did not complete after the restart: $(cli job show "$job2")"
check_outputs "$job2" "$WORK/out2"
pass "job $job2 survived 'docker-compose restart pirus' and completed"

stage_begin down-up
compose down -t 20
[[ -z "$(docker ps -aq --filter "label=com.docker.compose.project=$PIRUS_PROJECT")" ]] ||
  fail "containers left after down"
compose up -d
wait_healthy
cli --json pipeline list | grep -q '"name":"seqstats"' || fail "the pipeline is gone after down/up"
files=$(cli --json file list)
for f in sample1.fa sample2.fq big.bin; do
  grep -q "\"$f\"" <<<"$files" || fail "uploaded file $f is gone after down/up"
done
for j in "$job1" "$job2"; do
  cli --json job show "$j" | grep -q '"status":"done"' || fail "job $j is not done after down/up"
  [[ -n "$(cli job logs "$j")" ]] || fail "job $j has no log after down/up"
  check_outputs "$j" "$WORK/after-$j"
done
[[ -s "$PIRUS_HOME/logs/pirus/pirus.log" ]] || fail "no server log in $PIRUS_HOME/logs/pirus"
[[ -s "$PIRUS_HOME/logs/nginx/access.log" ]] || fail "no nginx access log in $PIRUS_HOME/logs/nginx"
grep -q 'signal 15: shutting down' "$PIRUS_HOME/logs/pirus/pirus.log" ||
  fail "the server log does not show the clean stops"
pass "after down/up: pipeline, files, jobs $job1 and $job2 (status, logs, outputs), server and nginx logs"
stage_end
log "all passed"
