#!/usr/bin/env bash
# Runs the Pirus compose stack (deploy/compose.yml): server, PostgreSQL, nginx.
#   deploy/pirus-stack.sh init      makes $PIRUS_HOME's directories and secrets (idempotent)
#   deploy/pirus-stack.sh build     builds the three images from $BASE_IMAGE
#   deploy/pirus-stack.sh up -d     (any docker-compose command) after `init`
# Variables (defaults): PIRUS_HOME (/srv/pirus), PIRUS_DB (postgres; `sqlite` keeps the
# server on SQLite in its data directory), PIRUS_TAG (latest), BASE_IMAGE
# (debian:bookworm-slim; an image named pirus-base/... is made locally with
# scripts/make-debian-base.sh), PIRUS_PROJECT (pirus, the compose project name), and the
# ports of deploy/compose.yml. Needs root (directory owners, the Docker socket).
set -euo pipefail

DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$DEPLOY_DIR")"
export PIRUS_HOME="${PIRUS_HOME:-/srv/pirus}"
export PIRUS_TAG="${PIRUS_TAG:-latest}"
export BASE_IMAGE="${BASE_IMAGE:-debian:bookworm-slim}"
export PIRUS_PG_PORT="${PIRUS_PG_PORT:-5432}"
PIRUS_DB="${PIRUS_DB:-postgres}"
PIRUS_PROJECT="${PIRUS_PROJECT:-pirus}"
DOCKER_SOCKET="${DOCKER_SOCKET:-/var/run/docker.sock}"

# uids of the images' service users (deploy/docker/*/Dockerfile).
PIRUS_UID=10001
POSTGRES_UID=10002

log() { printf '[pirus-stack] %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

init() {
  [[ "$PIRUS_HOME" == /* ]] || die "PIRUS_HOME must be an absolute path, got '$PIRUS_HOME'"
  case "$PIRUS_DB" in postgres | sqlite) ;; *) die "PIRUS_DB must be postgres or sqlite" ;; esac
  install -d -m 0755 "$PIRUS_HOME" "$PIRUS_HOME/logs" "$PIRUS_HOME/tls"
  install -d -m 0700 "$PIRUS_HOME/secrets" "$PIRUS_HOME/tls/generated"
  install -d -m 0755 "$PIRUS_HOME/tls/provided"
  install -d -m 0700 -o "$POSTGRES_UID" -g "$POSTGRES_UID" "$PIRUS_HOME/postgres"
  install -d -m 0750 -o "$PIRUS_UID" -g "$PIRUS_UID" "$PIRUS_HOME/data"
  install -d -m 0755 -o "$PIRUS_UID" -g "$PIRUS_UID" "$PIRUS_HOME/logs/pirus"
  install -d -m 0755 "$PIRUS_HOME/logs/nginx"
  local pw_file="$PIRUS_HOME/secrets/postgres-password"
  if [[ ! -s "$pw_file" ]]; then
    # Hex: safe in a URL without escaping.
    (umask 077 && od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$pw_file")
    log "made a database password in $pw_file"
  fi
  chown "$POSTGRES_UID:$POSTGRES_UID" "$pw_file"
  chmod 0400 "$pw_file"
  local url=""
  if [[ "$PIRUS_DB" == postgres ]]; then
    url="postgresql://pirus:$(cat "$pw_file")@127.0.0.1:$PIRUS_PG_PORT/pirus"
  fi
  (umask 077 && printf 'PIRUS_DATABASE_URL=%s\n' "$url" >"$PIRUS_HOME/secrets/pirus.env")
}

image_build() {  # image_build TAG CONTEXT DOCKERFILE [build args...]
  local tag=$1 context=$2 dockerfile=$3 t0
  shift 3
  t0=$(date +%s)
  log "building $tag from $BASE_IMAGE"
  DOCKER_BUILDKIT=0 docker build -q --network host -f "$dockerfile" \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" "$@" -t "$tag" "$context" >/dev/null
  log "built $tag ($(($(date +%s) - t0)) s)"
}

build() {
  if [[ "$BASE_IMAGE" == pirus-base/* ]]; then
    "$ROOT/scripts/make-debian-base.sh" "$BASE_IMAGE"
  fi
  image_build "pirus/postgres:$PIRUS_TAG" "$DEPLOY_DIR/docker/postgres" \
    "$DEPLOY_DIR/docker/postgres/Dockerfile"
  image_build "pirus/nginx:$PIRUS_TAG" "$DEPLOY_DIR/docker/nginx" \
    "$DEPLOY_DIR/docker/nginx/Dockerfile"
  image_build "pirus/server:$PIRUS_TAG" "$ROOT" "$DEPLOY_DIR/docker/Dockerfile" \
    --build-arg "PIRUS_IMAGE=pirus/server:$PIRUS_TAG" --build-arg "BUILD_JOBS=$(nproc)"
}

[[ -S "$DOCKER_SOCKET" ]] || die "no Docker socket at $DOCKER_SOCKET"
DOCKER_GID="$(stat -c %g "$DOCKER_SOCKET")"
export DOCKER_GID

case "${1:-}" in
  init) init ;;
  build) build ;;
  "") sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
  *)
    init
    exec docker-compose -p "$PIRUS_PROJECT" -f "$DEPLOY_DIR/compose.yml" "$@"
    ;;
esac
