#!/bin/bash
# Makes the cluster on first start (initdb into $PGDATA, the role $POSTGRES_USER with the
# password in $POSTGRES_PASSWORD_FILE, the database $POSTGRES_DB owned by it), then runs
# postgres in the foreground on 127.0.0.1:$PGPORT. Later starts use the cluster as it is.
set -euo pipefail

log() { echo "postgres-entrypoint: $*" >&2; }

[[ -r "$POSTGRES_PASSWORD_FILE" ]] || {
  log "cannot read the password file $POSTGRES_PASSWORD_FILE"
  exit 1
}
if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
  log "initialising a new cluster in $PGDATA"
  # Superuser: the OS user only (peer over the socket); the application role logs in over
  # TCP with its password (scram-sha-256).
  initdb -D "$PGDATA" -U postgres -E UTF8 --locale=C.UTF-8 \
    --auth-local=peer --auth-host=scram-sha-256 >/dev/null
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -k /tmp" -w -s start
  psql -h /tmp -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
    -v user="$POSTGRES_USER" -v db="$POSTGRES_DB" -v pw="$(cat "$POSTGRES_PASSWORD_FILE")" <<'SQL'
CREATE ROLE :"user" LOGIN PASSWORD :'pw';
CREATE DATABASE :"db" OWNER :"user";
SQL
  pg_ctl -D "$PGDATA" -m fast -w -s stop
  log "cluster ready: database $POSTGRES_DB, role $POSTGRES_USER"
fi
exec postgres -D "$PGDATA" -c listen_addresses=127.0.0.1 -c port="$PGPORT" \
  -c unix_socket_directories=/tmp "$@"
