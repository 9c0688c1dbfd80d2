#!/usr/bin/env bash
# Builds the server and the benchmarks (RelWithDebInfo, in build/bench) and runs them at full
# size, saving each output under $OUT (default /tmp/pirus-bench-results). Needs dockerd and the
# pirus-base/busybox:1 image (scripts/build-base-images.sh). Extra arguments go to
# bench_job_overhead, e.g. `bench/run-benchmarks.sh --jobs 10 --throughput-jobs 24` for a
# quick check.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
out="${OUT:-/tmp/pirus-bench-results}"
build="$root/build/bench"
mkdir -p "$build" "$out"

# -Wno-error=format-truncation: GCC 12 at -O2 flags a snprintf in src/model/model.cpp that
# Debug builds accept.
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS=-Wno-error=format-truncation >/dev/null
ninja -C "$build" -j2 pirus bench_job_overhead bench_memory

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); $(nproc) CPUs; load: $(cut -d' ' -f1-3 /proc/loadavg)"
  timeout 1800 "$build/bench/bench_job_overhead" "$@"
  echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
} 2>&1 | tee "$out/job_overhead-$stamp.txt"
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); load: $(cut -d' ' -f1-3 /proc/loadavg)"
  timeout 600 "$build/bench/bench_memory"
} 2>&1 | tee "$out/memory-$stamp.txt"
echo "results in $out"
