#!/usr/bin/env bash
# The web dashboard's end-to-end test (web/e2e/e2e.mjs) in headless Chromium against a real
# `pirus server` and dockerd. Installs its npm packages (playwright-core, axe-core) into the
# build directory with `npm ci`, only when package-lock.json changed.
#   web-e2e.sh BUILD_DIR      (BUILD_DIR holds the pirus binary and web/)
# Screenshots go to BUILD_DIR/web-screenshots; the measured figures are printed (MEASURE).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build=$(cd "${1:?usage: web-e2e.sh BUILD_DIR}" && pwd)
[[ -x "$build/pirus" ]] || die "no pirus binary in $build"
command -v node >/dev/null || die "node is not installed: run scripts/setup.sh"
[[ -x /usr/bin/chromium ]] || die "chromium is not installed: run scripts/setup.sh"

e2e="$build/web-e2e"
mkdir -p "$e2e"
cp "$PIRUS_ROOT/web/e2e/package.json" "$PIRUS_ROOT/web/e2e/package-lock.json" \
  "$PIRUS_ROOT/web/e2e/e2e.mjs" "$e2e/"
if ! cmp -s "$e2e/package-lock.json" "$e2e/node_modules/.installed-lock" 2>/dev/null; then
  log "npm ci (playwright-core, axe-core) into $e2e"
  (cd "$e2e" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$e2e/package-lock.json" "$e2e/node_modules/.installed-lock"
fi
exec node "$e2e/e2e.mjs" --pirus "$build/pirus" --source "$PIRUS_ROOT" --out "$build/web-screenshots"
