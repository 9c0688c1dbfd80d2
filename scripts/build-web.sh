#!/usr/bin/env bash
# Installs the web dashboard (web/app, plain ES modules: no bundler, see docs/architecture.md)
# into the build directory, with a gzip sibling of each text asset so `pirus server` can
# send compressed bytes without compressing on the fly.
#   build-web.sh SOURCE_DIR DEST_DIR
set -euo pipefail
src=$1
dst=$2
tmp="$dst.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
cp -R "$src/." "$tmp/"
find "$tmp" -type f \( -name '*.html' -o -name '*.js' -o -name '*.css' -o -name '*.svg' \
  -o -name '*.json' \) -exec gzip -9 -k -n {} +
rm -rf "$dst"
mv "$tmp" "$dst"
