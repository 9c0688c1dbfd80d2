#!/bin/bash
# Entry point of the Pirus server image.
#   server [ARGS]   runs `pirus server`; its log also goes to $PIRUS_SERVER_LOG_FILE, rotated
#                   by the server (server.log_file; a host directory in the compose stack, so
#                   it outlives the container)
#   health          asks the server on $PIRUS_SERVER_LISTEN for /api/v1/health (HEALTHCHECK)
#   anything else   runs `pirus ...` (the CLI)
set -euo pipefail

case "${1:-server}" in
  server)
    shift || true
    exec pirus server "$@"
    ;;
  health)
    listen="${PIRUS_SERVER_LISTEN:-127.0.0.1:8080}"
    host="${listen%:*}"
    port="${listen##*:}"
    [[ "$host" == "0.0.0.0" || -z "$host" ]] && host=127.0.0.1
    exec pirus --server "http://$host:$port" health
    ;;
  *)
    exec pirus "$@"
    ;;
esac
