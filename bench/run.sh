#!/bin/bash
# bench/run.sh — `braid serve` throughput on the seed workflow, through nginx,
# beside a libfcgi "hello JSON" ceiling behind the same nginx (make bench-http).
#
# Figures, not a test.  In one run, on this machine:
#   hello       build/bench/hello_fcgi (bench/hello_fcgi.c), N processes
#   braid warm  `braid serve` on a copy of examples/seed, N workers, the
#               Python functions in their default (warm) isolation
#   braid call  the same with functions/<name>.json {"isolation": "call"}
# each behind the same nginx (one server, docker/nginx/braid_fastcgi.conf,
# fastcgi_pass to the same unix socket path) and measured with wrk at
# every concurrency (default 16 and 64) for BENCH_SECONDS each (default
# 10), after a 2 s warm-up: requests/s, p50 and p99 latency (wrk
# --latency), non-2xx answers, the ratio to hello at the same concurrency,
# PSS per worker (/proc/PID/smaps_rollup; braid's worker pids from the
# admin /status), and the time from starting the server to the first 200
# through nginx.  The requests alternate uid=1 and uid=2 (both branches).
#
# The seed copies read their users from their own copy of the seed's SQLite
# database (examples/seed/data/users.db, made by `make build`): the SQL API
# runs inline in the worker, nothing else is started besides nginx.
#
# Settings (environment): BENCH_SECONDS (10), BENCH_WORKERS (braid workers =
# hello processes; default 4 per CPU), BENCH_CONCURRENCY ("16 64"), BENCH_THREADS
# (wrk threads, 2), BENCH_NGINX_WORKERS (front nginx worker_processes, 1).

set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B="$ROOT/build/bench-http"
BRAID="$ROOT/braid"
HELLO="$ROOT/build/bench/hello_fcgi"
SECS=${BENCH_SECONDS:-10}
WORKERS=${BENCH_WORKERS:-$(( $(nproc) * 4 ))}
CONCURRENCY=${BENCH_CONCURRENCY:-16 64}
THREADS=${BENCH_THREADS:-2}
NGINX_WORKERS=${BENCH_NGINX_WORKERS:-1}

die() { echo "bench-http: $*" >&2; exit 1; }
for t in "$BRAID" "$HELLO"; do [ -x "$t" ] || die "$t is missing (make build build/bench/hello_fcgi)"; done
for c in nginx wrk curl; do command -v $c >/dev/null || die "$c is not installed (make deps)"; done
[[ "$SECS" =~ ^[0-9]+$ ]] && [ "$SECS" -ge 1 ] || die "BENCH_SECONDS must be a whole number of seconds"

free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

rm -rf "$B"
mkdir -p "$B/nginx/tmp"
SOCK="$B/app.sock"
PORT=$(free_port)
ADMIN_PORT=$(free_port)
NGINX_USER=
[ "$(id -u)" = 0 ] && NGINX_USER="user root;"

PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    PIDS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the seed copies, nginx ------------------------------------------

[ -f "$ROOT/examples/seed/data/users.db" ] || die "examples/seed/data/users.db is missing (make build)"

for iso in warm call; do
    d="$B/seed-$iso"
    mkdir -p "$d"
    cp -r "$ROOT/examples/seed/workflows" "$ROOT/examples/seed/functions" "$ROOT/examples/seed/apis" \
          "$ROOT/examples/seed/datasources" "$d/"
    mkdir -p "$d/data" && cp "$ROOT/examples/seed/data/users.db" "$d/data/"
    if [ "$iso" = call ]; then
        for f in "$d"/functions/*.py; do echo '{"isolation": "call"}' > "${f%.py}.json"; done
    fi
done

cat > "$B/nginx/nginx.conf" <<EOF
$NGINX_USER
worker_processes $NGINX_WORKERS;
worker_rlimit_nofile 4096;
error_log $B/nginx/error.log warn;
events { worker_connections 2048; }
http {
    access_log off;
    client_body_temp_path $B/nginx/tmp;
    proxy_temp_path $B/nginx/tmp;
    fastcgi_temp_path $B/nginx/tmp;
    uwsgi_temp_path $B/nginx/tmp;
    scgi_temp_path $B/nginx/tmp;
    server {
        listen 127.0.0.1:$PORT backlog=1024;
        location / {
            include $ROOT/docker/nginx/braid_fastcgi.conf;
            fastcgi_pass unix:$SOCK;
        }
    }
}
EOF
nginx -p "$B/nginx" -c "$B/nginx/nginx.conf" -g "daemon off; pid $B/nginx/nginx.pid;" </dev/null &
PIDS+=($!)

cat > "$B/paths.lua" <<'EOF'
-- both branches of the seed workflow, alternately (hello answers any path)
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, (n % 2 == 0) and "/user_lookup?uid=1" or "/user_lookup?uid=2")
end
EOF

URL="http://127.0.0.1:$PORT"
for _ in $(seq 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/")" = 502 ] && break
    sleep 0.1
done

# ---- measuring ------------------------------------------------------------------------

# to_ms VALUE: wrk's 1.23ms / 456.78us / 1.20s → milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN { u = v; sub(/^[0-9.]+/, "", u); n = v + 0;
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000;
        printf "%.2f", n }'
}

# pss_kb PID: the process's proportional set size in kB.
pss_kb() { awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
children() { ps -o pid= --ppid "$1"; }

declare -A RPS P50 P99 NON2XX ERRS START PSS

# measure NAME PID: start-up already timed; runs the warm-up and every
# concurrency; fills RPS[NAME,c] etc.
measure() {
    local name=$1 c out
    wrk -t"$THREADS" -c16 -d2s -s "$B/paths.lua" "$URL" >/dev/null 2>&1
    for c in $CONCURRENCY; do
        out="$B/wrk-$name-c$c.txt"
        wrk -t"$THREADS" -c"$c" -d"${SECS}s" --latency -s "$B/paths.lua" "$URL" > "$out" 2>&1
        RPS[$name,$c]=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
        P50[$name,$c]=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")
        P99[$name,$c]=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
        NON2XX[$name,$c]=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
        ERRS[$name,$c]=$(awk '/Socket errors:/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' "$out")
        printf '  %-11s c=%-3s %8s req/s  p50 %7s ms  p99 %7s ms  non-2xx %s  socket errors %s\n' \
            "$name" "$c" "${RPS[$name,$c]:-?}" "${P50[$name,$c]}" "${P99[$name,$c]}" \
            "${NON2XX[$name,$c]:-0}" "${ERRS[$name,$c]:-0}"
    done
}

# first_200 NAME PID T0: waits for the first 200 through nginx; START[NAME] = ms since T0.
first_200() {
    local name=$1 pid=$2 t0=$3 i
    for ((i = 0; i < 3000; i++)); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/user_lookup?uid=1")" = 200 ] && {
            START[$name]=$(( $(now_ms) - t0 )); return 0; }
        kill -0 "$pid" 2>/dev/null || die "$name exited while starting"
        sleep 0.005
    done
    die "$name gave no 200 within 15 s"
}

stop_server() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    rm -f "$SOCK"
}

echo "== bench-http: the seed workflow through nginx, beside a libfcgi hello ($(date -u +%Y-%m-%dT%H:%MZ))"
echo "   $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); ${WORKERS} braid workers = ${WORKERS} hello processes;" \
     "wrk -t$THREADS, ${SECS} s per run after a 2 s warm-up; nginx worker_processes $NGINX_WORKERS"

# hello
t0=$(now_ms)
"$HELLO" "$SOCK" "$WORKERS" </dev/null &
pid=$!
first_200 hello "$pid" "$t0"
measure hello
tot=0; n=0
for c in $(children "$pid"); do tot=$((tot + $(pss_kb "$c"))); n=$((n + 1)); done
PSS[hello]="$(( n ? tot / n : 0 )) kB per process ($n processes)"
stop_server "$pid"

# braid, warm and per-call isolation
for iso in warm call; do
    name="braid-$iso"
    t0=$(now_ms)
    "$BRAID" serve "$B/seed-$iso" --listen "unix:$SOCK" --workers "$WORKERS" \
        --admin "127.0.0.1:$ADMIN_PORT" --log-file "$B/braid-$iso.log" </dev/null 2>"$B/braid-$iso.stderr" &
    pid=$!
    first_200 "$name" "$pid" "$t0"
    measure "$name"
    # PSS: each worker alone, and with its sandbox processes (the zygote and
    # the Python processes are the worker's children).
    wtot=0; stot=0; n=0; nsbx=0
    for w in $(curl -s "http://127.0.0.1:$ADMIN_PORT/status" | /usr/bin/python3 -c \
            'import json, sys; print(" ".join(str(w["pid"]) for w in json.load(sys.stdin)["workers"]))'); do
        wtot=$((wtot + $(pss_kb "$w"))); n=$((n + 1))
        for c in $(children "$w"); do stot=$((stot + $(pss_kb "$c"))); nsbx=$((nsbx + 1)); done
    done
    PSS[$name]="$(( n ? wtot / n : 0 )) kB per worker; with its sandbox processes $(( n ? (wtot + stot) / n : 0 )) kB ($n workers, $nsbx sandbox processes; master $(pss_kb "$pid") kB)"
    stop_server "$pid"
done

echo
echo "   target        c     req/s    p50 ms    p99 ms   × hello"
for name in hello braid-warm braid-call; do
    for c in $CONCURRENCY; do
        h=${RPS[hello,$c]:-0}
        r=${RPS[$name,$c]:-0}
        ratio=$(awk -v a="$r" -v b="$h" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
        printf '   %-11s %3s  %8s  %8s  %8s  %8s\n' "$name" "$c" "$r" "${P50[$name,$c]}" "${P99[$name,$c]}" "$ratio"
    done
done
echo
for name in hello braid-warm braid-call; do
    printf '   start-up to first 200  %-11s %5s ms\n' "$name" "${START[$name]}"
done
for name in hello braid-warm braid-call; do
    printf '   PSS  %-11s %s\n' "$name" "${PSS[$name]}"
done
echo "   load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
