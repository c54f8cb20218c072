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
# A network that reaches the npm registry only through a TLS-inspecting
# proxy gives this machine an extra CA (NODE_EXTRA_CA_CERTS, as npm and
# node read it here); the build stage's npm gets the same file, mounted
# for the RUN steps only (never in the image).  Elsewhere nothing is added.
ca=()
host_ca=${NODE_EXTRA_CA_CERTS:-}
# (No variable, but local CAs added to the system's store: that store.)
[ -z "$host_ca" ] && ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1 && host_ca=/etc/ssl/certs/ca-certificates.crt
if [ -n "$host_ca" ] && [ -f "$host_ca" ]; then
    ca=(--volume "$host_ca:/run/braid-host-ca.crt:ro" --build-arg NODE_EXTRA_CA_CERTS=/run/braid-host-ca.crt)
fi
t1=$SECONDS
old_id=$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
podman build --format docker --pull=never --network host \
    ${BRAID_BUILD_ISOLATION:+--isolation="$BRAID_BUILD_ISOLATION"} "${ca[@]}" \
    --build-arg "BASE_IMAGE=$BASE" -f docker/Containerfile -t "$IMAGE" .
# The image this one replaces, now untagged (the build cache stays).
new_id=$(podman image inspect --format '{{.Id}}' "$IMAGE")
if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then podman rmi "$old_id" >/dev/null 2>&1 || true; fi
log "built $IMAGE in $((SECONDS - t1)) s ($((SECONDS - t0)) s in all)"
podman image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' "$IMAGE" | sed 's/^/image: /'
