#!/bin/bash
# bench/leak.sh — does `braid serve` grow under a long run? (make bench-leak)
#
# Figures, not assertions.  `braid serve` on a copy of examples/seed (the
# Python functions in their default, warm isolation), BENCH_WORKERS workers
# (2), --max-requests 0 (never recycled: the same processes all along),
# behind nginx as bench/run.sh sets it up, driven by wrk -t1
# -cBENCH_LEAK_CONCURRENCY (16) in chunks — the requests alternate uid=1
# and uid=2; each chunk's script ends wrk (a SIGINT to itself, which wrk
# takes as the end of its run) once the chunk's count of answers has
# arrived, as its -d takes whole seconds only (several thousand requests
# here) — until BENCH_LEAK_REQUESTS (100000) completed requests, counted
# from wrk's output (the few in flight when a chunk stops are not counted;
# a chunk overshoots its count by the answers of that moment).  After the first 10,000 (the warm-up) and then after
# every 20,000 it prints the total, and PSS and RSS (/proc/PID/smaps_rollup)
# of every process of braid's tree by role: master, each worker, zygote
# (comm braid-zygote), sandboxed processes (comm braid-sandbox).  At the
# end: the growth of each process from the first sample to the last, in kB
# and in kB per 10,000 requests (a process that is not in both samples is
# named, not measured).
#
# Exit status 0, unless braid or nginx failed to start or died, or an
# answer was not a 2xx (their count is printed; socket errors are printed
# too).
#
# Settings (environment): BENCH_LEAK_REQUESTS (100000), BENCH_WORKERS (2),
# BENCH_LEAK_CONCURRENCY (16).

set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_NAME=bench-leak
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

B="$ROOT/build/bench-leak"
BRAID="$ROOT/braid"
TOTAL=${BENCH_LEAK_REQUESTS:-100000}
WORKERS=${BENCH_WORKERS:-2}
CONC=${BENCH_LEAK_CONCURRENCY:-16}
WARM=10000
EVERY=20000

[ -x "$BRAID" ] || bench_die "$BRAID is missing (make build)"
for c in nginx wrk curl; do command -v $c >/dev/null || bench_die "$c is not installed (make deps)"; done
for v in TOTAL WORKERS CONC; do
    if ! [[ "${!v}" =~ ^[0-9]+$ ]] || [ "${!v}" -lt 1 ]; then
        bench_die "BENCH_LEAK_REQUESTS, BENCH_WORKERS and BENCH_LEAK_CONCURRENCY are whole numbers ≥ 1"
    fi
done
[ "$TOTAL" -gt "$WARM" ] || bench_die "BENCH_LEAK_REQUESTS must be more than the $WARM of the warm-up"
[ -f "$ROOT/examples/seed/data/users.db" ] || bench_die "examples/seed/data/users.db is missing (make build)"

rm -rf "$B"
mkdir -p "$B/seed/data"
SOCK="$B/app.sock"
PORT=$(bench_free_port)
URL="http://127.0.0.1:$PORT"

PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do bench_stop "$p"; done
    PIDS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cp -r "$ROOT/examples/seed/workflows" "$ROOT/examples/seed/functions" "$ROOT/examples/seed/apis" \
      "$ROOT/examples/seed/datasources" "$B/seed/"
cp "$ROOT/examples/seed/data/users.db" "$B/seed/data/"
bench_write_nginx "$B/nginx" "$PORT" "$SOCK" 1
# The chunk's script: both branches alternately; ends wrk after the number
# of answers given after `--` (LuaJIT's ffi: kill(getpid(), SIGINT)).
cat > "$B/chunk.lua" <<'LUA'
local ffi = require("ffi")
ffi.cdef[[ int kill(int pid, int sig); int getpid(void); ]]
local n, answers, limit, ended = 0, 0, 0, false
init = function(args) limit = tonumber(args[1]) end
request = function()
  n = n + 1
  return wrk.format(nil, (n % 2 == 0) and "/user_lookup?uid=1" or "/user_lookup?uid=2")
end
response = function(status, headers, body)
  answers = answers + 1
  if answers >= limit and not ended then
    ended = true
    ffi.C.kill(ffi.C.getpid(), 2)
  end
end
LUA
bench_nginx "$B/nginx" </dev/null &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
"$BRAID" serve "$B/seed" --listen "unix:$SOCK" --workers "$WORKERS" --max-requests 0 \
    --log-file "$B/braid.log" </dev/null 2>"$B/braid.stderr" &
BRAID_PID=$!
PIDS+=("$BRAID_PID")

up=0
for _ in $(seq 1500); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/user_lookup?uid=1")" = 200 ] && { up=1; break; }
    kill -0 "$BRAID_PID" 2>/dev/null || bench_die "braid serve exited while starting ($B/braid.stderr)"
    kill -0 "$NGINX_PID" 2>/dev/null || bench_die "nginx exited while starting ($B/nginx/error.log)"
    sleep 0.01
done
[ "$up" = 1 ] || bench_die "no 200 from braid serve through nginx within 15 s"

echo "== bench-leak: braid serve on the seed (warm isolation), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "   $WORKERS workers, --max-requests 0; wrk -t1 -c$CONC in chunks up to $TOTAL requests"
echo "   $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"

# sample N: PSS and RSS (kB) of every process of braid's tree after N
# requests, printed and kept in PSS[N,PID] and RSS[N,PID]; ROLE[PID] its role.
declare -A PSS RSS ROLE
SAMPLES=()
ORDER=()    # every pid seen, in the order of its first sample (by role)
sample() {
    local n=$1 role pid snap kb
    snap=$(bench_procs)
    SAMPLES+=("$n")
    echo "  after $n requests (non-2xx $NON2XX, socket errors $ERRS; $(( ($(bench_now_ms) - T0) / 1000 )) s):"
    while read -r role pid; do
        kb=$(bench_kb "$pid" Pss)
        [ -n "$kb" ] || continue   # ended meanwhile (a retired sandboxed process)
        PSS[$n,$pid]=$kb
        RSS[$n,$pid]=$(bench_kb "$pid" Rss)
        [ -n "${ROLE[$pid]:-}" ] || ORDER+=("$pid")
        ROLE[$pid]=$role
        printf '    %-8s pid %-7s PSS %7s kB   RSS %7s kB\n' "$role" "$pid" "${PSS[$n,$pid]}" "${RSS[$n,$pid]}"
    done < <(bench_roles "$snap" "$BRAID_PID")
}

done_n=0
NON2XX=0
ERRS=0
next=$WARM
T0=$(bench_now_ms)
while [ "$done_n" -lt "$TOTAL" ]; do
    target=$(( next < TOTAL ? next : TOTAL ))
    # A chunk: up to the next sample (at most 60 s: a stalled server ends it).
    out="$B/wrk.txt"
    wrk -t1 -c"$CONC" -d60s -s "$B/chunk.lua" "$URL" -- $((target - done_n)) > "$out" 2>&1
    kill -0 "$BRAID_PID" 2>/dev/null || bench_die "braid serve died (see $B/braid.stderr, $B/braid.log)"
    n=$(bench_wrk_field "$out" requests)
    [ "$n" -gt 0 ] || bench_die "wrk completed no request: $(tr '\n' ' ' < "$out")"
    done_n=$((done_n + n))
    NON2XX=$((NON2XX + $(bench_wrk_field "$out" non2xx)))
    ERRS=$((ERRS + $(bench_wrk_field "$out" errors)))
    if [ "$done_n" -ge "$target" ]; then
        sample "$done_n"
        next=$(( (done_n / EVERY + 1) * EVERY ))
    fi
done

first=${SAMPLES[0]}
last=${SAMPLES[${#SAMPLES[@]}-1]}
echo
echo "   growth from the first sample ($first requests) to the last ($last): $((last - first)) requests"
echo "   process           PSS first    last  growth  kB/10k   RSS first    last  growth  kB/10k"
# One row per process in both samples; one per role whose processes changed
# in between (warm sandboxed processes are replaced after max_calls, 1000
# calls by default: their role's sum instead); the whole tree's sum.
for n in "$first" "$last"; do
    for pid in "${ORDER[@]}"; do
        [ -n "${PSS[$n,$pid]:-}" ] && echo "$n ${ROLE[$pid]} $pid ${PSS[$n,$pid]} ${RSS[$n,$pid]}"
    done
done | awk -v first="$first" -v last="$last" '
    function row(name, p0, p1, r0, r1) {
        printf "   %-16s %9d %7d %7d %7.1f %11d %7d %7d %7.1f\n", name, p0, p1, p1 - p0,
               (p1 - p0) * 10000 / n, r0, r1, r1 - r0, (r1 - r0) * 10000 / n }
    BEGIN { n = last - first; n = n > 0 ? n : 1 }
    { k = $1 == first ? 0 : 1
      if (!($3 in role)) { order[++np] = $3; role[$3] = $2 }
      if (!seen[$2]++) rorder[++nr] = $2
      pss[k, $3] = $4; rss[k, $3] = $5; has[k, $3] = 1
      rp[k, $2] += $4; rr[k, $2] += $5; rc[k, $2]++; tp[k] += $4; tr[k] += $5 }
    END {
        for (i = 1; i <= np; i++) { p = order[i]
            if (has[0, p] && has[1, p]) row(role[p] " " p, pss[0, p], pss[1, p], rss[0, p], rss[1, p])
            else changed[role[p]] = 1 }
        for (i = 1; i <= nr; i++) { r = rorder[i]
            if (r in changed)
                row(sprintf("%s ×%d→%d", r, rc[0, r], rc[1, r]), rp[0, r], rp[1, r], rr[0, r], rr[1, r]) }
        row("all", tp[0], tp[1], tr[0], tr[1]) }'
echo "   non-2xx answers $NON2XX, socket errors $ERRS; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$NON2XX" = 0 ] || exit 1
