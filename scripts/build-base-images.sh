#!/usr/bin/env bash
# Builds the local base images that pipeline Dockerfiles use FROM (no registry is reachable
# from our machines). Idempotent: an image that exists is left alone unless --force.
#   pirus-base/busybox:1   busybox-static in an empty image, with /bin, /tmp and a nobody user
set -euo pipefail

force=0
[[ "${1:-}" == "--force" ]] && force=1

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

build_busybox() {
  local tag=pirus-base/busybox:1
  if [[ $force -eq 0 ]] && image_exists "$tag"; then
    echo "base image $tag: present"
    return
  fi
  local ctx
  ctx=$(mktemp -d)
  trap 'rm -rf "$ctx"' RETURN
  cp /bin/busybox "$ctx/busybox"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n' >"$ctx/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$ctx/group"
  cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
COPY passwd group /etc/
RUN mkdir -p /tmp && chmod 1777 /tmp
ENV PATH=/bin
CMD ["/bin/sh"]
DOCKERFILE
  docker build -q -t "$tag" "$ctx" >/dev/null
  echo "base image $tag: built"
}

build_busybox
