#!/bin/bash
# run-local.sh — `make run`: the seed example served through nginx, on this machine.
#
# The seed example reads its users from a SQLite data source
# (examples/seed/data/users.db, which `make build` makes from users.sql), so
# nothing else needs to run.  Starts, in order, and in the foreground:
#   1. `braid serve examples/seed` on the unix socket build/run/braid.sock,
#      with its admin endpoint on 127.0.0.1:$RUN_ADMIN_PORT (default 9100);
#   2. nginx on 127.0.0.1:$RUN_PORT (default 8080), configured from
#      docker/nginx/braid_fastcgi.conf (copied into build/run/nginx/).
# Then prints the curl lines to try and shows braid's JSON log lines.
# Ctrl-C (SIGINT) or SIGTERM stops what it started: nginx finishes what it
# is answering, braid drains; nothing is left.
#
# Ports: when RUN_PORT / RUN_ADMIN_PORT are not given and the default is
# taken, a free port is used instead (and printed); a port given explicitly
# that is taken is an error (exit 1).  Run from the repository root:
#   make run                      # or: make run RUN_PORT=8090 RUN_ADMIN_PORT=9190
#
# Every server runs in a process group of its own, so that a Ctrl-C reaches
# this script only and each server gets exactly one stop signal from it,
# in order (a second stop signal would make braid stop at once, not drain).

set -u
set -m   # job control: each background server gets its own process group

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN="$ROOT/build/run"
BRAID="$ROOT/braid"
SEED="$ROOT/examples/seed"
DEFAULT_PORT=8080
DEFAULT_ADMIN_PORT=9100

say() { printf 'make run: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

[ -x "$BRAID" ] || die "$BRAID is missing: run 'make build' first"
[ -f "$SEED/data/users.db" ] || die "$SEED/data/users.db is missing: run 'make build' first (it makes it from users.sql)"
command -v nginx >/dev/null || die "nginx is not installed: run 'make deps' first"
command -v curl >/dev/null || die "curl is not installed: run 'make deps' first"

# port_free PORT: true when 127.0.0.1:PORT can be bound now.
port_free() {
    /usr/bin/python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
EOF
}

# free_port: a port the kernel says is free now.
free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# choose_port NAME GIVEN DEFAULT: prints the port to use.
choose_port() {
    local name=$1 given=$2 default=$3
    if [ -n "$given" ]; then
        [[ "$given" =~ ^[0-9]+$ ]] && [ "$given" -ge 1 ] && [ "$given" -le 65535 ] \
            || die "$name=$given is not a port number"
        port_free "$given" || die "127.0.0.1:$given ($name) is already in use; choose another: make run $name=PORT"
        echo "$given"
    elif port_free "$default"; then
        echo "$default"
    else
        local p
        p=$(free_port) || die "cannot find a free port"
        say "127.0.0.1:$default is busy; using 127.0.0.1:$p instead (set $name to choose)"
        echo "$p"
    fi
}

PORT=$(choose_port RUN_PORT "${RUN_PORT:-}" "$DEFAULT_PORT") || exit 1
ADMIN_PORT=$(choose_port RUN_ADMIN_PORT "${RUN_ADMIN_PORT:-}" "$DEFAULT_ADMIN_PORT") || exit 1
[ "$PORT" != "$ADMIN_PORT" ] || die "RUN_PORT and RUN_ADMIN_PORT must differ"

mkdir -p "$RUN/nginx/tmp"
# nginx's worker processes drop to `nobody` when started by root; the
# checkout (and the socket in build/run) may not be reachable by nobody.
NGINX_USER=
[ "$(id -u)" = 0 ] && NGINX_USER="user root;"

BRAID_PID= NGINX_PID=
STOPPING=

# stop_and_wait PID SIGNAL SECONDS WHAT: signals PID, waits up to SECONDS
# for it to exit, then SIGKILLs its process group.
stop_and_wait() {
    local pid=$1 sig=$2 secs=$3 what=$4 i
    [ -n "$pid" ] || return 0
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    kill "-$sig" "$pid" 2>/dev/null
    for ((i = 0; i < secs * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "$what did not stop within ${secs}s: killing it"
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    return 0
}

cleanup() {
    [ -n "$STOPPING" ] && return
    STOPPING=1
    trap '' INT TERM HUP
    say "stopping"
    # The front first (no new requests; SIGQUIT: finish the ones in hand)
    # and braid at the same time (SIGTERM: drain).
    [ -n "$NGINX_PID" ] && kill -QUIT "$NGINX_PID" 2>/dev/null
    stop_and_wait "$BRAID_PID" TERM 40 "braid"
    stop_and_wait "$NGINX_PID" QUIT 10 "nginx"
    say "stopped"
}
trap 'cleanup; exit 0' INT TERM HUP
trap 'cleanup' EXIT

# tcp_open PORT: true when something accepts connections on 127.0.0.1:PORT.
tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_until SECONDS PID WHAT CMD...: runs CMD until it succeeds; fails if
# PID exits first or the time is up.
wait_until() {
    local secs=$1 pid=$2 what=$3 i
    shift 3
    for ((i = 0; i < secs * 10; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        kill -0 "$pid" 2>/dev/null || die "$what exited while starting"
        sleep 0.1
    done
    die "$what did not start within ${secs}s"
}

# ---- 1. braid serve -------------------------------------------------------------

"$BRAID" serve "$SEED" --listen "unix:$RUN/braid.sock" --admin "127.0.0.1:$ADMIN_PORT" </dev/null &
BRAID_PID=$!
wait_until 20 "$BRAID_PID" "braid serve" curl -sf "http://127.0.0.1:$ADMIN_PORT/healthz"

# ---- 2. nginx in front ------------------------------------------------------------

cp "$ROOT/docker/nginx/braid_fastcgi.conf" "$RUN/nginx/braid_fastcgi.conf"
cat > "$RUN/nginx/nginx.conf" <<EOF
# Generated by docker/run-local.sh (make run); edits are overwritten.
$NGINX_USER
worker_processes 1;
error_log $RUN/nginx/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $RUN/nginx/tmp;
    proxy_temp_path $RUN/nginx/tmp;
    fastcgi_temp_path $RUN/nginx/tmp;
    uwsgi_temp_path $RUN/nginx/tmp;
    scgi_temp_path $RUN/nginx/tmp;
    server {
        listen 127.0.0.1:$PORT;
        location / {
            include $RUN/nginx/braid_fastcgi.conf;
            fastcgi_pass unix:$RUN/braid.sock;
        }
    }
}
EOF
nginx -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf" -g "daemon off; pid $RUN/nginx/nginx.pid;" </dev/null &
NGINX_PID=$!
wait_until 10 "$NGINX_PID" "nginx" tcp_open "$PORT"

# ---- what to try ----------------------------------------------------------------------

U="http://127.0.0.1:$PORT"
A="http://127.0.0.1:$ADMIN_PORT"
cat <<EOF

Braid is serving examples/seed at $U   (Ctrl-C stops everything)

  curl '$U/user_lookup?uid=1'        # the admin branch
  curl '$U/user_lookup?uid=2'        # the user branch
  curl -X POST -H 'Content-Type: application/json' -d '{"uid": 3}' $U/user_lookup
  curl -i '$U/user_lookup?uid=abc'   # a 400: uid must be an int
  curl $A/healthz
  curl $A/status
  curl $A/metrics

  data:         examples/seed/data/users.db (SQLite, made by make build from users.sql)
  braid:        ./braid serve examples/seed --listen unix:build/run/braid.sock --admin 127.0.0.1:$ADMIN_PORT
  nginx:        build/run/nginx/nginx.conf (errors in build/run/nginx/error.log)

braid's log, one JSON line per request:
EOF

# ---- foreground until a signal, or until a server dies -----------------------------

while :; do
    wait -n
    # wait -n also returns when a trapped signal arrives (the trap exits).
    for p in $BRAID_PID $NGINX_PID; do
        if ! kill -0 "$p" 2>/dev/null; then
            case $p in
                "$BRAID_PID") what="braid serve" ;;
                *) what="nginx" ;;
            esac
            say "$what (pid $p) exited unexpectedly; stopping the rest"
            exit 1
        fi
    done
done
