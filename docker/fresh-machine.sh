#!/bin/bash
# fresh-machine.sh — `make test-fresh`: the README's first commands on a
# never-touched Debian 12, every time.
#
# A container from the project's own Debian 12 minbase image
# (docker/base-image.sh: mmdebstrap, nothing pulled) gets a copy of the
# committed tree (`git archive HEAD`: what a clone holds, nothing this
# machine built or installed), installs `make` and nothing else, then:
#   1. runs `make run` in ONE invocation (it installs its own packages),
#   2. fetches /user_lookup?uid=1 through it and expects the admin branch,
#   3. stops it with Ctrl-C (SIGINT to its process group) and expects it to
#      say "stopped", exit (0, or 130 as make does after a Ctrl-C) within 30 s
#      and answer no more,
#   4. runs `make test-unit`.
# Any failure fails the script (exit 1) with the container's log tail.
#
# The container has its own network namespace (slirp4netns): apt reaches
# the Debian mirror, and the ports make run binds are the container's own.
# It reuses the base image between runs on one machine, never this
# machine's installed packages.  Uncommitted changes are NOT tested: commit
# first (the script says so when the tree is dirty).
#
# Environment: CONTAINERS_CONF (set by the Makefile), BRAID_BASE_IMAGE,
# FRESH_TIMEOUT (seconds for the whole run inside, default 1500).
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=${BRAID_BASE_IMAGE:-localhost/debian-base:12}
TIMEOUT=${FRESH_TIMEOUT:-1500}
say() { echo "fresh: $*"; }

t0=$SECONDS
BRAID_BASE_IMAGE=$BASE docker/base-image.sh
git rev-parse --verify -q HEAD >/dev/null || { say "not a git checkout with a commit"; exit 1; }
[ -z "$(git status --porcelain --untracked-files=no)" ] ||
    say "the work tree has uncommitted changes: they are not tested (git archive HEAD is)"
say "testing $(git rev-parse --short HEAD) in a fresh $BASE container"

# What runs inside: a plain Debian 12 with this tree in /src and nothing else.
inside=$(cat <<'INSIDE'
set -uo pipefail
step() { echo "fresh: [$((SECONDS))s] $*"; }
fail() { echo "fresh: FAILED: $*"; [ -f /tmp/run.log ] && { echo "---- make run's output (tail):"; tail -40 /tmp/run.log; }; exit 1; }
export DEBIAN_FRONTEND=noninteractive
mkdir -p /src && cd /src && tar -x || fail "cannot unpack the tree"
step "apt-get install make (the only package a newcomer installs)"
apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends make >/dev/null || fail "apt-get install make"
for p in gcc pkg-config libjson-c-dev nginx; do
    ! dpkg-query -W -f='${Status}' $p 2>/dev/null | grep -q 'ok installed' || fail "$p is installed before make run: not a fresh machine"
done
step "make run (one invocation)"
# Job control on: the background job gets a process group of its own and
# keeps SIGINT (a script's async commands otherwise start with SIGINT
# ignored, and an ignored signal cannot be trapped: Ctrl-C would not reach
# make run the way it does from a terminal).
set -m
make run > /tmp/run.log 2>&1 < /dev/null &
run_pid=$!
set +m
body=
for _ in $(seq 1 900); do
    kill -0 $run_pid 2>/dev/null || { wait $run_pid; fail "make run exited (status $?) before it served"; }
    if command -v curl >/dev/null && grep -q 'curl ' /tmp/run.log; then
        port=$(grep -o 'http://127.0.0.1:[0-9]*/user_lookup' /tmp/run.log | head -1 | sed 's|.*:\([0-9]*\)/.*|\1|')
        if [ -n "$port" ] && body=$(curl -fsS --max-time 10 "http://127.0.0.1:$port/user_lookup?uid=1"); then break; fi
    fi
    sleep 1
done
[ -n "$body" ] || fail "no answer from /user_lookup?uid=1 through make run"
step "GET /user_lookup?uid=1 -> $body"
case $body in *'"role":"admin"'*) ;; *) fail "expected the admin branch (\"role\":\"admin\") in $body";; esac
step "Ctrl-C to make run"
kill -INT -- -$run_pid
for _ in $(seq 1 60); do kill -0 $run_pid 2>/dev/null || break; sleep 0.5; done
kill -0 $run_pid 2>/dev/null && fail "make run still running 30 s after Ctrl-C"
wait $run_pid; rc=$?
# 130 = 128 + SIGINT: make itself dies of the Ctrl-C once its recipe ends, as in a terminal.
[ $rc = 0 ] || [ $rc = 130 ] || fail "make run exited with status $rc after Ctrl-C"
grep -q 'stopped' /tmp/run.log || fail "make run did not say it stopped"
! curl -fsS --max-time 2 "http://127.0.0.1:$port/user_lookup?uid=1" >/dev/null 2>&1 || fail "still serving after Ctrl-C"
step "make test-unit"
make test-unit > /tmp/unit.log 2>&1 || { tail -60 /tmp/unit.log; fail "make test-unit"; }
grep -E '^unit: ' /tmp/unit.log
step "passed"
INSIDE
)

name=braid-fresh-$$
trap 'podman rm -f "$name" >/dev/null 2>&1 || true' EXIT
# The one thing of this machine the container gets: where the network's
# TLS proxy needs an extra CA for npm (NODE_EXTRA_CA_CERTS here), that file,
# read-only, for node to trust — the network's setting, like the apt mirror,
# not a package.  A newcomer's machine behind no such proxy needs nothing.
ca=()
host_ca=${NODE_EXTRA_CA_CERTS:-}
# (No variable, but local CAs added to the system's store: that store.)
[ -z "$host_ca" ] && ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1 && host_ca=/etc/ssl/certs/ca-certificates.crt
if [ -n "$host_ca" ] && [ -f "$host_ca" ]; then
    ca=(--volume "$host_ca:/run/braid-host-ca.crt:ro" --env NODE_EXTRA_CA_CERTS=/run/braid-host-ca.crt)
fi
git archive --format=tar HEAD |
    timeout "$TIMEOUT" podman run --rm -i --pull=never --network slirp4netns "${ca[@]}" \
        --name "$name" "$BASE" bash -c "$inside" && rc=0 || rc=$?
[ $rc = 124 ] && say "FAILED: timed out after $TIMEOUT s"
[ $rc = 0 ] && say "passed in $((SECONDS - t0)) s" || { say "FAILED (status $rc) after $((SECONDS - t0)) s"; exit 1; }
