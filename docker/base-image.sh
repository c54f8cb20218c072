#!/bin/bash
# base-image.sh — the project's own Debian 12 base image, made without a
# registry: a minbase root file system built by mmdebstrap from the Debian
# mirror this machine's apt is configured with, imported into podman as
# localhost/debian-base:12.  Used by `make image` (build-image.sh) and by
# `make test-fresh` (fresh-machine.sh).  Kept between runs: skipped when the
# image exists; the tarball is reused when it exists.
#
# Environment: CONTAINERS_CONF (the Makefile points it at docker/containers.conf),
# BRAID_BASE_IMAGE (localhost/debian-base:12), BRAID_BASE_TAR
# (build/image/debian-base-12.tar), DEBIAN_MIRROR (override the mirror: a
# URI such as http://deb.debian.org/debian).
set -euo pipefail
cd "$(dirname "$0")/.."

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
