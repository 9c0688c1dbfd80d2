#!/bin/bash
# Picks the TLS certificate: $PIRUS_TLS_DIR/tls.crt and tls.key when provided (mounted);
# otherwise a self-signed one, made on first start in $PIRUS_TLS_GENERATED_DIR (a host
# directory, so it survives the container and clients can trust it with --ca-cert). Then
# writes the nginx configuration from the template and runs nginx in the foreground.
set -euo pipefail

log() { echo "nginx-entrypoint: $*" >&2; }

if [[ -s "$PIRUS_TLS_DIR/tls.crt" && -s "$PIRUS_TLS_DIR/tls.key" ]]; then
  cert="$PIRUS_TLS_DIR/tls.crt"
  key="$PIRUS_TLS_DIR/tls.key"
  log "using the provided certificate $cert"
else
  cert="$PIRUS_TLS_GENERATED_DIR/tls.crt"
  key="$PIRUS_TLS_GENERATED_DIR/tls.key"
  if [[ ! -s "$cert" || ! -s "$key" ]]; then
    san="DNS:localhost,IP:127.0.0.1,IP:::1"
    [[ "$PIRUS_SERVER_NAME" != localhost ]] && san="DNS:$PIRUS_SERVER_NAME,$san"
    log "no certificate in $PIRUS_TLS_DIR: making a self-signed one for $san"
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 825 \
      -subj "/CN=$PIRUS_SERVER_NAME" -addext "subjectAltName=$san" \
      -keyout "$key.tmp" -out "$cert.tmp" 2>/dev/null
    mv "$key.tmp" "$key"
    mv "$cert.tmp" "$cert"
    chmod 0644 "$cert"
  fi
fi

# Only our placeholders are replaced: nginx's own $variables stay as they are.
sed -e "s|@BIND@|$PIRUS_BIND|g" -e "s|@HTTP_PORT@|$PIRUS_HTTP_PORT|g" \
  -e "s|@HTTPS_PORT@|$PIRUS_HTTPS_PORT|g" -e "s|@UPSTREAM@|$PIRUS_UPSTREAM|g" \
  -e "s|@SERVER_NAME@|$PIRUS_SERVER_NAME|g" -e "s|@CERT@|$cert|g" -e "s|@KEY@|$key|g" \
  /etc/nginx/pirus.conf.template >/etc/nginx/nginx.conf
nginx -t -q
log "https://$PIRUS_BIND:$PIRUS_HTTPS_PORT -> http://$PIRUS_UPSTREAM"
exec nginx -g 'daemon off;'
