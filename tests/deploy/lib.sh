# shellcheck shell=bash
# Helpers shared by the deployment tests (tests/deploy/*_test.sh): assertions, waiting, and
# the demo's steps (install the example pipeline, upload its test data, run a job) through
# the `pirus` CLI. Source it after setting PIRUS (the CLI binary) and WORK (a temp dir).

DEPLOY_TEST_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/lib.sh
source "$DEPLOY_TEST_SRC/scripts/lib.sh"

fail() {
  printf '[%s] FAIL: %s\n' "$PIRUS_LOG_TAG" "$*" >&2
  exit 1
}
pass() { printf '[%s] ok: %s\n' "$PIRUS_LOG_TAG" "$*"; }

# wait_for SECONDS DESCRIPTION COMMAND...: runs COMMAND every 0.2 s until it succeeds.
wait_for() {
  local seconds=$1 what=$2
  shift 2
  local deadline=$(($(date +%s) + seconds))
  until "$@" >/dev/null 2>&1; do
    (($(date +%s) < deadline)) || fail "timed out after ${seconds}s waiting for $what"
    sleep 0.2
  done
}

# cli ARGS...: the pirus CLI with the test's server options (PIRUS_URL, PIRUS_CA_CERT).
cli() { "$PIRUS" "$@"; }

# A zip of the example pipeline (without its test data), made once per WORK.
example_package() {
  local zip="$WORK/seqstats.zip"
  if [[ ! -s "$zip" ]]; then
    (cd "$DEPLOY_TEST_SRC/examples/pipelines/seqstats" && zip -qr "$zip" . -x 'test-data/*')
  fi
  echo "$zip"
}

# install_example: installs seqstats unless it is there; prints nothing.
install_example() {
  if ! cli --json pipeline list | grep -q '"name":"seqstats"'; then
    cli pipeline install "$(example_package)" >/dev/null || fail "pipeline install failed"
  fi
}

# upload_inputs: uploads the example's two test files; prints their ids, one per line.
upload_inputs() {
  local f out
  for f in sample1.fa sample2.fq; do
    out=$(cli --json file upload "$DEPLOY_TEST_SRC/examples/pipelines/seqstats/test-data/$f") ||
      fail "upload of $f failed"
    grep -o '"id":[0-9]*' <<<"$out" | head -n 1 | cut -d: -f2
  done
}

# run_job NAME DELAY_MS IDS...: starts a seqstats job on the inputs; prints its id.
run_job() {
  local name=$1 delay=$2
  shift 2
  local args=() id
  for id in "$@"; do args+=(--input "$id"); done
  cli job run seqstats "${args[@]}" --name "$name" --param delay_ms="$delay" ||
    fail "job run failed"
}

# job_field ID FIELD: a top-level string or number field of the job's JSON.
job_field() {
  cli --json job show "$1" | sed -n "s/.*\"$2\":\"\{0,1\}\([^\",}]*\).*/\1/p" | head -n 1
}

# check_outputs JOB DIR: downloads the job's outputs into DIR and checks the report.
check_outputs() {
  local job=$1 dir=$2
  mkdir -p "$dir"
  cli job outputs "$job" -d "$dir" >/dev/null || fail "job outputs $job failed"
  [[ -s "$dir/report.txt" ]] || fail "job $job: no report.txt among its outputs"
  grep -q 'sample1.fa' "$dir/report.txt" || fail "job $job: report.txt does not name sample1.fa"
}
