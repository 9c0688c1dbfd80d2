#!/usr/bin/env bash
# Makes this machine ready to build and test Pirus: Debian packages, a running Docker
# daemon (started by hand: systemd is not PID 1 here), and the local base images.
# Idempotent and quick (a few seconds) when everything is already there. Any cwd.
#
# Network rule (docs: shared environment notes): dockerd runs without its default bridge
# and without iptables/masquerading, so nothing ever gets a 172.17.x address.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libboost1.81-dev libsqlite3-dev sqlite3 libarchive-dev libcurl4-openssl-dev libssl-dev
  libspdlog-dev libfmt-dev libcli11-dev libgtest-dev googletest
  busybox-static zip unzip curl ca-certificates procps
  clang-format  # scripts/test.sh checks formatting with it
  libpq-dev     # the PostgreSQL store
  postgresql    # the PostgreSQL store's tests start throw-away clusters
  chromium      # the web dashboard e2e test (scripts/web-e2e.sh): headless Chromium
  docker-compose debootstrap  # the compose deployment (deploy/) and its local Debian base
)
# Node.js and npm run the web e2e test. The machine image may carry a newer Node.js of its
# own, npm included; Debian's packages only where there is none.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  PACKAGES+=(nodejs npm)
fi
# Installed with its recommends (cgroupfs-mount among them), as verified on these machines.
DOCKER_PACKAGES=(docker.io)

DOCKERD_LOG=${PIRUS_DOCKERD_LOG:-/var/log/dockerd.log}
DOCKERD_WAIT=${PIRUS_DOCKERD_WAIT:-60}

t0=$(now)
did=()

# --- packages ---------------------------------------------------------------------------
missing_packages() {
  # dpkg-query lists the packages it knows; anything not "installed" is missing.
  local installed
  installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "$@" 2>/dev/null |
    awk '$2 == "installed" { sub(/:.*/, "", $1); print $1 }') || true
  local p
  for p in "$@"; do
    grep -qxF "$p" <<<"$installed" || echo "$p"
  done
}

apt_install() {  # apt_install [apt-get options...] -- packages...
  run_as_root env DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 apt-get install -y -q \
    -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef \
    -o Dpkg::Options::=--force-confold "$@"
}

mapfile -t miss < <(missing_packages "${PACKAGES[@]}")
mapfile -t miss_docker < <(missing_packages "${DOCKER_PACKAGES[@]}")
if ((${#miss[@]} + ${#miss_docker[@]} > 0)); then
  all_missing="$(printf '%s\n' "${miss[@]}" "${miss_docker[@]}" | xargs)"
  log "missing packages: $all_missing"
  # Package scripts must not start services (docker.io's would start dockerd with its
  # default bridge): a policy-rc.d that says no, for the length of the install.
  policy=/usr/sbin/policy-rc.d
  made_policy=0
  if [[ ! -e $policy ]]; then
    run_as_root sh -c "printf '#!/bin/sh\nexit 101\n' >$policy && chmod 0755 $policy"
    made_policy=1
    trap '[[ $made_policy -eq 1 ]] && run_as_root rm -f "$policy"' EXIT
  fi
  log "apt-get update"
  run_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q \
    -o DPkg::Lock::Timeout=300 >/dev/null
  if ((${#miss[@]} > 0)); then
    apt_install --no-install-recommends "${miss[@]}"
  fi
  if ((${#miss_docker[@]} > 0)); then
    apt_install "${miss_docker[@]}"
  fi
  if [[ $made_policy -eq 1 ]]; then
    run_as_root rm -f "$policy"
    made_policy=0
  fi
  mapfile -t still < <(missing_packages "${PACKAGES[@]}" "${DOCKER_PACKAGES[@]}")
  ((${#still[@]} == 0)) || die "packages still missing after apt-get install: ${still[*]}"
  did+=("installed $all_missing")
else
  log "packages: all ${#PACKAGES[@]} + ${#DOCKER_PACKAGES[@]} present"
fi

# --- Docker daemon -----------------------------------------------------------------------
if docker info >/dev/null 2>&1; then
  log "dockerd: running"
else
  if pgrep -x dockerd >/dev/null; then
    log "dockerd: a process exists but does not answer yet; waiting for it"
  else
    # cgroup v1 hierarchies are normally mounted at boot; mount them if they are not.
    if ! grep -q ' /sys/fs/cgroup/' /proc/mounts && command -v cgroupfs-mount >/dev/null; then
      log "mounting cgroup hierarchies (cgroupfs-mount)"
      run_as_root cgroupfs-mount || warn "cgroupfs-mount failed"
    fi
    log "starting dockerd (--bridge=none --iptables=false --ip-masq=false), log: $DOCKERD_LOG"
    if [[ $EUID -eq 0 ]]; then
      setsid dockerd --bridge=none --iptables=false --ip-masq=false \
        >>"$DOCKERD_LOG" 2>&1 </dev/null &
      dockerd_pid=$!
    else
      run_as_root sh -c "setsid dockerd --bridge=none --iptables=false --ip-masq=false \
        >>'$DOCKERD_LOG' 2>&1 </dev/null &"
    fi
  fi
  dockerd_failed() {
    echo "---- tail of $DOCKERD_LOG ----" >&2
    tail -n 40 "$DOCKERD_LOG" >&2 || true
    die "$1"
  }
  waited=0
  until docker info >/dev/null 2>&1; do
    if [[ -n ${dockerd_pid:-} ]] && ! kill -0 "$dockerd_pid" 2>/dev/null; then
      dockerd_failed "dockerd exited during start-up"
    fi
    ((waited < DOCKERD_WAIT * 2)) || dockerd_failed "dockerd did not answer within ${DOCKERD_WAIT}s"
    sleep 0.5
    waited=$((waited + 1))
  done
  did+=("started dockerd")
  log "dockerd: up after $(awk -v w="$waited" 'BEGIN { print w / 2 }')s"
fi

# --- base images -------------------------------------------------------------------------
base_out=$("$PIRUS_ROOT/scripts/build-base-images.sh")
printf '%s\n' "$base_out" | sed "s/^/[$PIRUS_LOG_TAG] /"
grep -q ': built' <<<"$base_out" && did+=("built base images")

if ((${#did[@]} == 0)); then
  log "ready, nothing to do ($(elapsed "$t0")s)"
else
  log "ready: $(IFS=';'; echo "${did[*]}") ($(elapsed "$t0")s)"
fi
