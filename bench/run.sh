#!/bin/bash
# bench/run.sh — `braid serve` throughput on the seed workflow, through nginx,
# between a libfcgi "hello JSON" ceiling and a hand-written C floor behind
# the same nginx (make bench-http; issue 14).
#
# Figures, not a test.  In one invocation, on this machine, four contenders,
# each with the same number of FastCGI processes (BENCH_WORKERS, 2):
#   hello       build/bench/hello_fcgi (bench/hello_fcgi.c): the ceiling
#   floor       build/bench/floor_fcgi (bench/floor_fcgi.c): the seed workflow
#               hand-written in C — SQLite lookup, switch, the seed's Python
#               functions embedded in the process (no sandbox), json-c; the
#               same answer bytes as braid
#   braid-warm  `braid serve` on a copy of examples/seed, the Python functions
#               in their default (warm) isolation
#   braid-call  the same with functions/<name>.json {"isolation": "call"}
# each behind the same nginx (one server for the whole run,
# docker/nginx/braid_fastcgi.conf, fastcgi_pass to the same unix socket
# path), started afresh for each round, warmed up with 2 s of wrk, then
# measured with wrk -tBENCH_THREADS at every concurrency for BENCH_SECONDS.
# BENCH_ROUNDS rounds; every even round runs the contenders in the reverse
# order, so that a drift of the machine's load does not favour one.  The
# requests alternate uid=1 and uid=2 (both branches of the switch).
#
# The workflow is the seed as it is today: a SQL API over SQLite (the
# seed's data/users.db, copied) → switch on user_id → Python function →
# END; the floor does the same SQLite lookup.  BENCH_SHAPE=http makes the
# first node an HTTP API instead, as in the issue's original figures: the
# seed's apis/get_user.json becomes GET http://127.0.0.1:PORT/users/{id},
# served as static JSON files (the users of the seed's database) by a second
# server of the same nginx, and the floor fetches the same URL with libcurl
# on a kept connection (FLOOR_API_URL).  The backend's CPU is nginx's.  braid runs with its default --max-requests (0: workers are
# never recycled) unless BENCH_MAX_REQUESTS is set; the accounting below
# survives a recycled worker either way (the master's cutime holds the
# workers it reaped, PSS roles are read at sampling time).
#
# The table, one row per contender × round × concurrency:
#   req/s, × hello  wrk's Requests/sec; its ratio to hello's in the same
#                   round at the same concurrency
#   p50, p99        wrk --latency, ms
#   app µs/req      CPU of the contender's whole process tree (master and
#                   every descendant: workers, zygotes, sandboxed processes),
#                   utime+stime+cutime+cstime from /proc/PID/stat (cutime and
#                   cstime hold the children that exited and were reaped
#                   during the run, e.g. per-call sandboxed processes)
#                   before and after the run, per completed request
#   other %CPU      the machine's busy time during the run (/proc/stat:
#                   user+nice+system+irq+softirq+steal) minus the app's,
#                   nginx's (its process tree), wrk's (bash `time`) and this
#                   script's own (/proc/$$/stat; the process snapshots are
#                   taken just outside the window), as % of one CPU: the
#                   other load of the machine.  A noise indicator: when it is
#                   high the row's figures are suspect.  /proc/stat counts in
#                   ticks, the processes' times are exact: a few % either way
#                   (below 0 too) is the accounting's own error.
#   (top)           the process outside the run whose CPU time (with the
#                   children it reaped) grew the most, % of one CPU: a hint
#                   at who the other load is (bench/lib.sh bench_top_other)
#   bad             non-2xx answers / socket errors
# The progress lines (one per run) add nginx's and wrk's µs per request.
# Then: start-up (starting the server → first 200 through nginx) of every
# round, and PSS (/proc/PID/smaps_rollup) per process role — master, each
# worker, zygote (comm braid-zygote), sandboxed processes (comm
# braid-sandbox; count × mean) — idle (1 s after the first 200) and after
# load (after its last run), both of the contender's last round.  For hello
# and floor, "master" is the forking parent, "worker" each child.
#
# Settings (environment): BENCH_WORKERS (2), BENCH_THREADS (wrk threads, 1),
# BENCH_SECONDS (8), BENCH_CONCURRENCY ("16 64"), BENCH_ROUNDS (2),
# BENCH_ONLY (a subset of "hello floor braid-warm braid-call", for quick
# checks), BENCH_MAX_REQUESTS (braid's --max-requests; unset: its default),
# BENCH_NGINX_WORKERS (the front nginx's worker_processes, 1), BENCH_SHAPE
# (sql or http, sql).

set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_NAME=bench-http
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

B="$ROOT/build/bench-http"
BRAID="$ROOT/braid"
HELLO="$ROOT/build/bench/hello_fcgi"
FLOOR="$ROOT/build/bench/floor_fcgi"
SECS=${BENCH_SECONDS:-8}
WORKERS=${BENCH_WORKERS:-2}
CONCURRENCY=${BENCH_CONCURRENCY:-16 64}
THREADS=${BENCH_THREADS:-1}
ROUNDS=${BENCH_ROUNDS:-2}
NGINX_WORKERS=${BENCH_NGINX_WORKERS:-1}
ALL="hello floor braid-warm braid-call"
ONLY=${BENCH_ONLY:-$ALL}
MAXREQ=${BENCH_MAX_REQUESTS:-}
SHAPE=${BENCH_SHAPE:-sql}
[ "$SHAPE" = sql ] || [ "$SHAPE" = http ] || bench_die "BENCH_SHAPE must be sql or http"

for t in "$BRAID" "$HELLO" "$FLOOR"; do
    [ -x "$t" ] || bench_die "$t is missing (make build build/bench/hello_fcgi build/bench/floor_fcgi)"
done
for c in nginx wrk curl; do command -v $c >/dev/null || bench_die "$c is not installed (make deps)"; done
for v in SECONDS:SECS WORKERS:WORKERS THREADS:THREADS ROUNDS:ROUNDS; do
    var=${v#*:}
    val=${!var}
    if ! [[ "$val" =~ ^[0-9]+$ ]] || [ "$val" -lt 1 ]; then
        bench_die "BENCH_${v%:*} must be a whole number ≥ 1"
    fi
done
[ -z "$MAXREQ" ] || [[ "$MAXREQ" =~ ^[0-9]+$ ]] || bench_die "BENCH_MAX_REQUESTS must be a whole number"
CONTENDERS=()
for n in $ALL; do [[ " $ONLY " == *" $n "* ]] && CONTENDERS+=("$n"); done
for n in $ONLY; do [[ " $ALL " == *" $n "* ]] || bench_die "BENCH_ONLY: unknown contender '$n' (of: $ALL)"; done
[ ${#CONTENDERS[@]} -gt 0 ] || bench_die "BENCH_ONLY names no contender"

rm -rf "$B"
mkdir -p "$B"
SOCK="$B/app.sock"
PORT=$(bench_free_port)
URL="http://127.0.0.1:$PORT"
BACKEND_PORT=
[ "$SHAPE" = http ] && BACKEND_PORT=$(bench_free_port)

PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do bench_stop "$p"; done
    PIDS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the seed copies, nginx ------------------------------------------

[ -f "$ROOT/examples/seed/data/users.db" ] || bench_die "examples/seed/data/users.db is missing (make build)"

for iso in warm call; do
    d="$B/seed-$iso"
    mkdir -p "$d/data"
    cp -r "$ROOT/examples/seed/workflows" "$ROOT/examples/seed/functions" "$ROOT/examples/seed/apis" \
          "$ROOT/examples/seed/datasources" "$d/"
    cp "$ROOT/examples/seed/data/users.db" "$d/data/"
    if [ "$iso" = call ]; then
        for f in "$d"/functions/*.py; do echo '{"isolation": "call"}' > "${f%.py}.json"; done
    fi
    if [ "$SHAPE" = http ]; then
        rm -rf "$d/datasources"
        cat > "$d/apis/get_user.json" <<EOF
{"url": "http://127.0.0.1:$BACKEND_PORT/users/{id}", "method": "GET",
 "params": {"id": {"in": "path", "type": "int", "required": true}}, "timeout_ms": 1000}
EOF
    fi
done
if [ "$SHAPE" = http ]; then
    # One file per user of the seed's database, as the SQL API answers it.
    mkdir -p "$B/backend/users"
    /usr/bin/python3 - "$ROOT/examples/seed/data/users.db" "$B/backend/users" <<'EOF' ||
import json, sqlite3, sys
for uid, name in sqlite3.connect(sys.argv[1]).execute("SELECT id, name FROM users"):
    with open("%s/%d" % (sys.argv[2], uid), "w") as f:
        json.dump({"data": [{"id": uid, "name": name}]}, f)
EOF
        bench_die "cannot write the backend's users"
    export FLOOR_API_URL="http://127.0.0.1:$BACKEND_PORT/users/"
fi

bench_write_nginx "$B/nginx" "$PORT" "$SOCK" "$NGINX_WORKERS" "$BACKEND_PORT" "$B/backend"
bench_nginx "$B/nginx" </dev/null &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
bench_write_paths "$B/paths.lua"

for _ in $(seq 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/")" = 502 ] && break
    kill -0 "$NGINX_PID" 2>/dev/null || bench_die "nginx did not start ($B/nginx/error.log)"
    sleep 0.1
done

# ---- measuring ------------------------------------------------------------------------

TIMEFORMAT='%3U %3S'

declare -A RPS P50 P99 APP OTHER TOP BAD START PSSI PSSL

# run_wrk NAME ROUND C PID: one measured run; fills RPS[NAME,ROUND,C] etc.
# and prints a progress line.
run_wrk() {
    local name=$1 r=$2 c=$3 pid=$4 k="$1,$2,$3" out="$B/wrk-$1-r$2-c$3.txt"
    local s0 s1 b0 b1 t0 t1 snap0 snap1 a0 a1 n0 n1 reqs wrk_s nginx_us wrk_us top
    # The process snapshots (forks: cat, awk) just outside the window of
    # the machine's figures, which holds wrk and nothing else that forks.
    snap0=$(bench_procs); a0=$(bench_tree_ticks "$snap0" "$pid"); n0=$(bench_tree_ticks "$snap0" "$NGINX_PID")
    bench_self_ticks s0; bench_busy_ticks b0; bench_ms t0
    { time wrk -t"$THREADS" -c"$c" -d"${SECS}s" --latency -s "$B/paths.lua" "$URL" > "$out" 2>&1; } 2> "$out.time"
    bench_ms t1; bench_busy_ticks b1; bench_self_ticks s1
    snap1=$(bench_procs); a1=$(bench_tree_ticks "$snap1" "$pid"); n1=$(bench_tree_ticks "$snap1" "$NGINX_PID")
    kill -0 "$pid" 2>/dev/null || bench_die "$name exited during the run (see $B)"
    reqs=$(bench_wrk_field "$out" requests)
    wrk_s=$(awk '{ print $1 + $2 }' "$out.time")
    RPS[$k]=$(bench_wrk_field "$out" rps)
    P50[$k]=$(bench_wrk_field "$out" p50)
    P99[$k]=$(bench_wrk_field "$out" p99)
    BAD[$k]="$(bench_wrk_field "$out" non2xx)/$(bench_wrk_field "$out" errors)"
    top=$(bench_top_other "$snap0" "$snap1" $$ $((t1 - t0)))
    TOP[$k]="${top:0:12}"
    TOP[$k]="${TOP[$k]% *} ${top##* }%"
    # µs per request of the app, nginx and wrk; the rest of the busy time as % of one CPU.
    read -r "APP[$k]" nginx_us wrk_us "OTHER[$k]" < <(awk -v tick="$BENCH_TICK" -v n="$reqs" \
        -v app=$((a1 - a0)) -v ngx=$((n1 - n0)) -v wrk="$wrk_s" -v busy=$((b1 - b0)) \
        -v self=$((s1 - s0)) -v ms=$((t1 - t0)) 'BEGIN {
        n = n > 0 ? n : 1; wt = wrk * tick; mine = self - wt; if (mine < 0) mine = 0
        printf "%.0f %.0f %.0f %.1f\n", app / tick * 1e6 / n, ngx / tick * 1e6 / n, wrk * 1e6 / n,
               (busy - app - ngx - wt - mine) / tick / (ms / 1000) * 100 }')
    printf '  r%s %-10s c=%-3s %6s req/s  p50 %6s ms  µs/req: app %5s nginx %3s wrk %3s  other %5s%%\n' \
        "$r" "$name" "$c" "${RPS[$k]:-?}" "${P50[$k]}" "${APP[$k]}" "$nginx_us" "$wrk_us" "${OTHER[$k]}"
}

# first_200 NAME PID T0: waits for the first 200 through nginx; prints the ms since T0.
first_200() {
    local name=$1 pid=$2 t0=$3 i
    for ((i = 0; i < 3000; i++)); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/user_lookup?uid=1")" = 200 ] && {
            echo $(( $(bench_now_ms) - t0 )); return 0; }
        kill -0 "$pid" 2>/dev/null || { echo "$name exited while starting" >&2; return 1; }
        sleep 0.005
    done
    echo "$name gave no 200 within 15 s" >&2
    return 1
}

# start NAME: starts the contender on $SOCK in the background (its pid in $!).
start() {
    case $1 in
    hello) "$HELLO" "$SOCK" "$WORKERS" </dev/null 2>"$B/hello.stderr" & ;;
    floor) "$FLOOR" "$SOCK" "$B/seed-warm" "$WORKERS" </dev/null 2>"$B/floor.stderr" & ;;
    braid-*)
        local iso=${1#braid-}
        "$BRAID" serve "$B/seed-$iso" --listen "unix:$SOCK" --workers "$WORKERS" \
            ${MAXREQ:+--max-requests "$MAXREQ"} --log-file "$B/braid-$iso.log" \
            </dev/null 2>"$B/braid-$iso.stderr" & ;;
    esac
}

# contender NAME ROUND: start, first 200, idle PSS, warm-up, every
# concurrency, PSS after load, stop.
contender() {
    local name=$1 r=$2 pid t0 c ms
    t0=$(bench_now_ms)
    start "$name"
    pid=$!
    PIDS+=("$pid")
    ms=$(first_200 "$name" "$pid" "$t0") || bench_die "$name did not start (see $B/*.stderr)"
    START[$name,$r]=$ms
    sleep 1
    PSSI[$name]=$(bench_pss_line "$(bench_procs)" "$pid")
    wrk -t"$THREADS" -c16 -d2s -s "$B/paths.lua" "$URL" >/dev/null 2>&1
    for c in $CONCURRENCY; do run_wrk "$name" "$r" "$c" "$pid"; done
    PSSL[$name]=$(bench_pss_line "$(bench_procs)" "$pid")
    bench_stop "$pid"
    unset 'PIDS[${#PIDS[@]}-1]'
    rm -f "$SOCK"
}

if [ "$SHAPE" = http ]; then first="HTTP API"; else first="SQLite"; fi
echo "== bench-http: the seed workflow ($first → switch → Python), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "   $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start;" \
     "${CONTENDERS[*]}"
echo "   $WORKERS FastCGI processes each, behind one nginx (worker_processes $NGINX_WORKERS);" \
     "braid --max-requests ${MAXREQ:-default (0)}"
echo "   wrk -t$THREADS, c = $CONCURRENCY, $SECS s per run after 2 s of warm-up; $ROUNDS rounds," \
     "the even ones reversed"

for ((r = 1; r <= ROUNDS; r++)); do
    order=("${CONTENDERS[@]}")
    if ((r % 2 == 0)); then
        order=()
        for ((i = ${#CONTENDERS[@]} - 1; i >= 0; i--)); do order+=("${CONTENDERS[i]}"); done
    fi
    for name in "${order[@]}"; do contender "$name" "$r"; done
done

# ---- the table ------------------------------------------------------------------------

echo
# (the headings hold multi-byte characters: written out, not printf-padded)
echo "   contender  r   c    req/s × hello   p50 ms   p99 ms  app µs  other  (top)             bad"
echo "                                                         /req   %CPU  %CPU              non2xx/sock"
for name in "${CONTENDERS[@]}"; do
    for ((r = 1; r <= ROUNDS; r++)); do
        for c in $CONCURRENCY; do
            k="$name,$r,$c"
            ratio=$(awk -v a="${RPS[$k]:-0}" -v b="${RPS[hello,$r,$c]:-0}" \
                'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
            printf '   %-10s %1s %3s %8s %7s %8s %8s %7s %6s %-17s %s\n' "$name" "$r" "$c" \
                "${RPS[$k]:-?}" "$ratio" "${P50[$k]}" "${P99[$k]}" "${APP[$k]}" "${OTHER[$k]}" \
                "${TOP[$k]}" "${BAD[$k]}"
        done
    done
done
echo
for name in "${CONTENDERS[@]}"; do
    line=
    for ((r = 1; r <= ROUNDS; r++)); do line+="${line:+ / }${START[$name,$r]}"; done
    printf '   start-up to first 200  %-11s %s ms (round 1 / 2 ...)\n' "$name" "$line"
done
echo "   PSS kB (the last round's processes), idle then after load:"
for name in "${CONTENDERS[@]}"; do
    printf '   %-11s idle  %s\n' "$name" "${PSSI[$name]}"
    printf '   %-11s load  %s\n' '' "${PSSL[$name]}"
done
echo "   load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
