#!/bin/bash
# build-image.sh — `make image`: the Braid image built with podman, without a
# Docker daemon and without pulling anything from a registry.
#
#   1. the base: a Debian 12 minbase root file system made by mmdebstrap from
#      the Debian mirror this machine's apt is configured with, imported as
#      localhost/debian-base:12 (kept: skipped when that image exists; the
#      tarball is reused when it exists);
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
TAR=${BRAID_BASE_TAR:-build/image/debian-base-12.tar}

log() { echo "image: $*"; }

# The mirror lines for bookworm, bookworm-updates and bookworm-security, as
# apt on this machine knows them (deb822 or one-line sources alike).
mirror_lines() {
    if [ -n "${DEBIAN_MIRROR:-}" ]; then
        echo "deb $DEBIAN_MIRROR bookworm main"
        echo "deb $DEBIAN_MIRROR bookworm-updates main"
        return
    fi
    local lines
    lines=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 'Identifier: Packages' 'Origin: Debian' 2>/dev/null |
            awk '$2 ~ /^bookworm(-updates|-security)?$/ { print "deb " $1 " " $2 " main" }' | sort -u)
    if [ -z "$lines" ]; then
        # No apt lists yet (apt-get update not run): read the sources files.
        lines=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
            awk '/^deb /   { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) break;
                             if ($(i+1) ~ /^bookworm/) print "deb " $i " " $(i+1) " main" }
                 /^URIs:/  { uri = $2 }
                 /^Suites:/ { for (i = 2; i <= NF; i++) if ($i ~ /^bookworm(-updates|-security)?$/) print "deb " uri " " $i " main" }' |
            grep -E 'debian(-security)?/? ' | sort -u)
    fi
    [ -n "$lines" ] || lines="deb http://deb.debian.org/debian bookworm main"
    echo "$lines"
}

t0=$SECONDS
if podman image exists "$BASE"; then
    log "base $BASE exists (podman rmi $BASE to make it anew)"
else
    if [ ! -s "$TAR" ]; then
        mkdir -p "$(dirname "$TAR")"
        mapfile -t mirrors < <(mirror_lines)
        part=${TAR%.tar}.part.tar       # mmdebstrap picks the output format by the name's ending
        log "mmdebstrap minbase bookworm from: ${mirrors[*]}"
        # Like debian:12-slim: merged /usr without the usrmerge package (and
        # its perl), no manuals, docs (copyrights kept) or translations; the
        # path-excludes stay in the image's dpkg.cfg.d for what it installs.
        if ! mmdebstrap --variant=minbase --components=main \
                --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
                --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
                --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
                --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
                bookworm "$part" "${mirrors[@]}" > "$TAR.log" 2>&1; then
            tail -30 "$TAR.log"; rm -f "$part"
            log "mmdebstrap failed (the whole log: $TAR.log)"; exit 1
        fi
        mv "$part" "$TAR"
        log "base tarball $TAR made in $((SECONDS - t0)) s"
    else
        log "reusing base tarball $TAR"
    fi
    podman import --quiet --change 'CMD ["/bin/bash"]' "$TAR" "$BASE" >/dev/null
    log "imported $BASE"
fi

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
