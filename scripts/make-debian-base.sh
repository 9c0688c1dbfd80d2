#!/usr/bin/env bash
# Makes the local Debian base image pirus-base/debian:bookworm that the deployment images
# (deploy/docker/) are built FROM when no registry is reachable: debootstrap --variant=minbase
# from the mirror this machine's apt already uses, then `docker import`. The image gets the
# host's Debian apt sources, so `apt-get install` inside `docker build --network host` reaches
# the same mirror. Cached: does nothing when the image exists (--force rebuilds it).
#   scripts/make-debian-base.sh [--force] [IMAGE]      (default IMAGE pirus-base/debian:bookworm)
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

force=0
if [[ "${1:-}" == "--force" ]]; then
  force=1
  shift
fi
IMAGE="${1:-pirus-base/debian:bookworm}"
SUITE=bookworm

if ((force == 0)) && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  log "base image $IMAGE: present"
  exit 0
fi
command -v debootstrap >/dev/null || die "debootstrap is missing (scripts/setup.sh installs it)"

# The apt source files that name the Debian archive (deb822 *.sources or one-line *.list);
# third-party repositories need keys the base does not have, so they stay out.
mapfile -t source_files < <(grep -lsE '^[^#]*(deb\.debian\.org|/debian/?( |$))' \
  /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list || true)
((${#source_files[@]} > 0)) || die "no Debian apt source found in /etc/apt/sources.list*"
# The first non-security Debian URI is the mirror to bootstrap from.
mirror=$(sed -nE 's/^[[:space:]]*URIs:[[:space:]]*(\S+).*/\1/p; s/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?(\S+).*/\2/p' \
  "${source_files[@]}" | grep -v -- '-security' | head -n 1)
[[ -n "$mirror" ]] || die "cannot find the Debian mirror in ${source_files[*]}"

t0=$(now)
root=$(mktemp -d /tmp/pirus-debian-base-XXXXXX)
cleanup() { rm -rf "$root"; }
trap cleanup EXIT

log "debootstrap --variant=minbase $SUITE from $mirror (a few minutes)"
if ! debootstrap --variant=minbase "$SUITE" "$root" "$mirror" >"$root.log" 2>&1; then
  tail -n 30 "$root.log" >&2
  rm -f "$root.log"
  die "debootstrap failed"
fi
rm -f "$root.log"

# Same apt sources as the host; debootstrap's own one-line list would duplicate them.
rm -f "$root/etc/apt/sources.list"
for f in "${source_files[@]}"; do
  case "$f" in
    /etc/apt/sources.list) cp "$f" "$root/etc/apt/sources.list" ;;
    *) cp "$f" "$root/etc/apt/sources.list.d/" ;;
  esac
done
# Small images: no documentation, no caches left behind by apt.
cat >"$root/etc/dpkg/dpkg.cfg.d/01-pirus-nodoc" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
CFG
cat >"$root/etc/apt/apt.conf.d/01-pirus-slim" <<'CFG'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
CFG
rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"* "$root/tmp/"*

tar --numeric-owner -C "$root" -c . |
  docker import --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' - "$IMAGE" >/dev/null
log "base image $IMAGE: built ($(elapsed "$t0")s, $(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{ printf "%d MB", $1 / 1e6 }'))"
