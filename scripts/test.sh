#!/usr/bin/env bash
# The whole test suite, in one command:
#   scripts/setup.sh (packages, dockerd, base images), a clang-format check, a Debug build
#   with AddressSanitizer + UndefinedBehaviorSanitizer in build/asan, then every ctest test.
#
#   scripts/test.sh           everything (unit, integration and API tests)
#   scripts/test.sh --unit    only the unit tests (ctest -L unit): the quick loop
#
# Ends with a line "tests: N passed, N failed" and a table of the time each stage took.
# Exits non-zero when any stage fails, and when ctest found no test at all.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

label=""
for arg in "$@"; do
  case "$arg" in
    --unit) label=unit ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $arg" ;;
  esac
done

cd "$PIRUS_ROOT"
BUILD_DIR="$PIRUS_ROOT/build/asan"
export CCACHE_DIR="${CCACHE_DIR:-${HOME:-/root}/.cache/ccache}"
# Also in force while building: gtest_discover_tests runs the test binaries then.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

failed=()       # names of the stages that failed
summary=""      # the "tests: N passed, N failed" line, once ctest ran
t_start=$(now)

finish() {
  local rc=$?
  stage_report
  [[ -n "$summary" ]] && echo "$summary"
  if ((${#failed[@]} > 0)); then
    echo "FAILED: ${failed[*]} ($(elapsed "$t_start")s)"
    ((rc != 0)) || rc=1
  elif ((rc != 0)); then
    echo "FAILED (exit $rc, $(elapsed "$t_start")s)"
  else
    echo "OK ($(elapsed "$t_start")s)"
  fi
  exit "$rc"
}
trap finish EXIT

# fail_stage: records the current stage as failed; the caller decides whether to go on.
fail_stage() {
  failed+=("$PIRUS_STAGE_CURRENT")
  stage_end FAILED
}

# --- setup -------------------------------------------------------------------------------
stage_begin setup
if ! "$PIRUS_ROOT/scripts/setup.sh"; then
  fail_stage
  exit 1
fi

# --- format: reported, but the build and tests still run so one CI run tells everything --
stage_begin format
if command -v clang-format >/dev/null 2>&1; then
  mapfile -d '' sources < <(find src tests bench -type f \( -name '*.cpp' -o -name '*.hpp' \) \
    -print0 2>/dev/null | sort -z)
  bad=()
  for f in "${sources[@]}"; do
    clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
  done
  if ((${#bad[@]} > 0)); then
    log "clang-format: ${#bad[@]} of ${#sources[@]} files are not formatted (fix: clang-format -i FILE):"
    printf '  %s\n' "${bad[@]}"
    log "to fix them all: find src tests bench -name '*.cpp' -o -name '*.hpp' | xargs clang-format -i"
    fail_stage
  else
    log "clang-format: ${#sources[@]} files formatted"
  fi
else
  log "clang-format not installed: check skipped"
fi

# --- configure ---------------------------------------------------------------------------
stage_begin configure
# -O1 keeps sanitizer runs fast (CMakeLists.txt silences GCC 12's false
# -Wmismatched-new-delete on Asio coroutine frames, which appears with optimisation).
mkdir -p "$BUILD_DIR"
if ! cmake -S "$PIRUS_ROOT" -B "$BUILD_DIR" -G Ninja \
  -DCMAKE_BUILD_TYPE=Debug \
  -DPIRUS_SANITIZE=ON \
  -DCMAKE_CXX_FLAGS_DEBUG="-g -O1" \
  -DCMAKE_C_FLAGS_DEBUG="-g -O1" >"$BUILD_DIR/configure.log" 2>&1; then
  cat "$BUILD_DIR/configure.log"
  fail_stage
  exit 1
fi
tail -n 3 "$BUILD_DIR/configure.log"

# --- build -------------------------------------------------------------------------------
stage_begin build
if command -v ccache >/dev/null; then ccache -z >/dev/null 2>&1 || true; fi
if ! ninja -C "$BUILD_DIR" -j2; then
  fail_stage
  exit 1
fi
if command -v ccache >/dev/null; then
  ccache -s 2>/dev/null | grep -iE '^ *(hits|misses|cache hit|cache miss)' | sed 's/^ */  ccache: /' || true
fi

# --- tests -------------------------------------------------------------------------------
stage_begin tests
ctest_args=(--test-dir "$BUILD_DIR" --output-on-failure -j2 --timeout 600 --no-tests=error)
[[ -n "$label" ]] && ctest_args+=(-L "$label")
ctest_log="$BUILD_DIR/ctest.log"
set +e
ctest "${ctest_args[@]}" 2>&1 | tee "$ctest_log"
ctest_rc=${PIPESTATUS[0]}
set -e
# "100% tests passed, 0 tests failed out of 42"
read -r total nfail < <(sed -nE 's/.*tests passed, ([0-9]+) tests? failed out of ([0-9]+).*/\2 \1/p' \
  "$ctest_log" | tail -n 1) || true
if [[ -n "${total:-}" ]]; then
  summary="tests: $((total - nfail)) passed, $nfail failed"
fi
if ((ctest_rc != 0)) || [[ -z "${total:-}" ]] || ((total == 0)); then
  [[ -z "${total:-}" || "${total:-0}" -eq 0 ]] && log "ctest ran no test: that is a failure"
  fail_stage
  exit 1
fi
stage_end
