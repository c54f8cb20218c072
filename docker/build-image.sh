#!/bin/bash
# build-image.sh — `make image`: the Braid image built with podman, without a
# Docker daemon and without pulling anything from a registry.
#
#   1. the base (docker/base-image.sh): a Debian 12 minbase root file system
#      made by mmdebstrap from the Debian mirror this machine's apt is
#      configured with, imported as localhost/debian-base:12 (kept between
#      runs);
#   2. `podman build` of docker/Containerfile with BASE_IMAGE set to it,
#      tagged localhost/braid:latest.
#
# Environment: CONTAINERS_CONF (the Makefile points it at docker/containers.conf),
# BRAID_IMAGE (localhost/braid:latest), BRAID_BASE_IMAGE
# (localhost/debian-base:12), BRAID_BASE_TAR (build/image/debian-base-12.tar),
# DEBIAN_MIRROR (override the mirror: a URI such as http://deb.debian.org/debian).
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${BRAID_IMAGE:-localhost/braid:latest}
BASE=${BRAID_BASE_IMAGE:-localhost/debian-base:12}

log() { echo "image: $*"; }

t0=$SECONDS
BRAID_BASE_IMAGE=$BASE docker/base-image.sh

# --format docker keeps HEALTHCHECK (OCI image configs have no such field).
# --pull=never: the base is local, and nothing is fetched from a registry.
# --network host: the RUN steps reach the Debian mirror directly (no bridge).
# BRAID_BUILD_ISOLATION=chroot builds without runc, should the default fail.
t1=$SECONDS
old_id=$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
podman build --format docker --pull=never --network host \
    ${BRAID_BUILD_ISOLATION:+--isolation="$BRAID_BUILD_ISOLATION"} \
    --build-arg "BASE_IMAGE=$BASE" -f docker/Containerfile -t "$IMAGE" .
# The image this one replaces, now untagged (the build cache stays).
new_id=$(podman image inspect --format '{{.Id}}' "$IMAGE")
if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then podman rmi "$old_id" >/dev/null 2>&1 || true; fi
log "built $IMAGE in $((SECONDS - t1)) s ($((SECONDS - t0)) s in all)"
podman image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' "$IMAGE" | sed 's/^/image: /'
