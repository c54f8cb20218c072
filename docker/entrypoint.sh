#!/bin/bash
# entrypoint.sh — PID 1 of the Braid image: starts `braid serve` and nginx in
# front of it, and turns one stop signal into an orderly stop of both.
#
#   (no argument), or flags       braid serve $BRAID_SERVICE_DIR [flags] + nginx
#   healthcheck                   exit 0 when the admin endpoint's /healthz says ok
#   anything else                 run as given (`braid check /srv/braid`, `bash`, ...)
#
# SIGTERM / SIGINT / SIGQUIT: nginx is told to stop gracefully (it closes its
# port and finishes the requests in flight, which braid keeps answering);
# when it has exited braid gets SIGTERM and drains.  A second stop signal
# stops both at once.  SIGHUP reloads both (braid validates the directory
# first), SIGUSR1 reopens braid's --log-file.  If either process dies, the
# other is stopped and the container exits non-zero, so that the
# orchestrator restarts it.  Why one container: docs/deploy.md.
#
# Everything is configured by the environment: braid reads its BRAID_* twins
# itself (docs/runtime.md); this script reads BRAID_SERVICE_DIR (/srv/braid),
# BRAID_HTTP_PORT (8080), BRAID_RUN_DIR (/tmp/braid: the socket, nginx's
# config, pid and temporary files) and BRAID_NGINX_WORKERS (1).
set -uo pipefail

: "${BRAID_SERVICE_DIR:=/srv/braid}"
: "${BRAID_HTTP_PORT:=8080}"
: "${BRAID_RUN_DIR:=/tmp/braid}"
: "${BRAID_NGINX_WORKERS:=1}"
: "${BRAID_ADMIN:=}"

say() { printf '{"event":"entrypoint","msg":"%s"}\n' "$*" >&2; }

healthcheck() {
    local admin=${BRAID_ADMIN} host port
    [ -n "$admin" ] || { echo "healthcheck: BRAID_ADMIN is not set" >&2; return 1; }
    port=${admin##*:}
    host=${admin%:*}
    case $host in
        0.0.0.0|'') host=127.0.0.1 ;;
        '[::]') host='[::1]' ;;
    esac
    exec curl -fsS -o /dev/null --max-time 2 "http://$host:$port/healthz"
}

case "${1:-}" in
    healthcheck) healthcheck ;;
    ''|-*) ;;                     # serve, with any flags given appended
    *) exec "$@" ;;
esac

# ---- serve --------------------------------------------------------------------

: "${BRAID_LISTEN:=unix:$BRAID_RUN_DIR/braid.sock}"
export BRAID_LISTEN
mkdir -p "$BRAID_RUN_DIR/nginx" || exit 1

# nginx's fastcgi_pass takes braid's --listen forms as they are
# (unix:/path, HOST:PORT, [::1]:PORT); only a wildcard address is not one
# to connect to.
pass=$BRAID_LISTEN
case $pass in
    0.0.0.0:*) pass=127.0.0.1:${pass#0.0.0.0:} ;;
    '[::]:'*) pass="[::1]:${pass#\[::\]:}" ;;
esac
sed -e "s|@RUN_DIR@|$BRAID_RUN_DIR|g" -e "s|@HTTP_PORT@|$BRAID_HTTP_PORT|g" \
    -e "s|@FASTCGI_PASS@|$pass|g" -e "s|@NGINX_WORKERS@|$BRAID_NGINX_WORKERS|g" \
    /etc/braid/nginx.conf.template > "$BRAID_RUN_DIR/nginx.conf" || exit 1

# A socket file left by an earlier run (an emptyDir outlives a restarted
# container): braid replaces it; wait for that new one, not the old.
sock= old_sock=
if [[ $BRAID_LISTEN == unix:* ]]; then
    sock=${BRAID_LISTEN#unix:}
    old_sock=$(stat -c '%i %Y' "$sock" 2>/dev/null)
fi

braid serve "$BRAID_SERVICE_DIR" "$@" &
braid_pid=$!

# Start nginx once braid listens, so that an open HTTP port means a served
# one (a directory that does not load makes braid exit 1 before that).
if [ -n "$sock" ]; then
    for _ in $(seq 300); do
        [ -S "$sock" ] && [ "$(stat -c '%i %Y' "$sock" 2>/dev/null)" != "$old_sock" ] && break
        kill -0 "$braid_pid" 2>/dev/null || break
        sleep 0.1
    done
fi
if ! kill -0 "$braid_pid" 2>/dev/null; then
    wait "$braid_pid"; status=$?
    say "braid serve exited with status $status before it listened"
    exit $(( status ? status : 1 ))
fi

nginx -e stderr -c "$BRAID_RUN_DIR/nginx.conf" -g 'daemon off;' &
nginx_pid=$!

stopping=0
on_stop() {
    if [ $stopping = 0 ]; then
        stopping=1
        say "stop: nginx finishes its requests, then braid drains"
        kill -QUIT "$nginx_pid" 2>/dev/null
    else
        say "second stop signal: stopping both now"
        kill -TERM "$nginx_pid" "$braid_pid" 2>/dev/null
    fi
}
trap on_stop TERM INT QUIT
trap 'kill -HUP "$braid_pid" "$nginx_pid" 2>/dev/null' HUP
trap 'kill -USR1 "$braid_pid" 2>/dev/null' USR1

braid_status= nginx_status=
while [ -z "$braid_status" ] || [ -z "$nginx_status" ]; do
    pids=()
    [ -z "$braid_status" ] && pids+=("$braid_pid")
    [ -z "$nginx_status" ] && pids+=("$nginx_pid")
    done_pid=
    wait -n -p done_pid "${pids[@]}"
    status=$?
    [ -n "${done_pid:-}" ] || continue      # a trapped signal woke us up (bash unsets done_pid)
    if [ "$done_pid" = "$nginx_pid" ]; then
        nginx_status=$status
        [ $stopping = 1 ] || say "nginx exited with status $status: stopping braid"
        [ -n "$braid_status" ] || kill -TERM "$braid_pid" 2>/dev/null
    else
        braid_status=$status
        [ $stopping = 1 ] || say "braid exited with status $status: stopping nginx"
        [ -n "$nginx_status" ] || kill -QUIT "$nginx_pid" 2>/dev/null
    fi
done

if [ $stopping = 1 ] && [ "$braid_status" = 0 ] && [ "$nginx_status" = 0 ]; then
    exit 0
fi
[ "$braid_status" != 0 ] && exit "$braid_status"
exit 1
