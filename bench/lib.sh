# bench/lib.sh — what bench/run.sh and bench/leak.sh share (sourced, not run):
# free ports, the front nginx's configuration, wrk's latencies in ms, and
# the /proc readings — a process tree's CPU (utime+stime+cutime+cstime of
# the root and every descendant: cutime/cstime hold the children that
# exited and were reaped, e.g. per-call sandboxed processes and recycled
# workers), the machine's busy CPU time, PSS/RSS and the role of each
# process (master, worker, zygote, sandbox).
#
# Needs ROOT (the checkout) set by the sourcing script.
# shellcheck shell=bash

# shellcheck disable=SC2034  # used by the sourcing scripts
BENCH_TICK=$(getconf CLK_TCK)

bench_die() { echo "${BENCH_NAME:-bench}: $*" >&2; exit 1; }

bench_free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

bench_now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# bench_ms VAR: VAR = the time in ms (CLOCK_REALTIME), without forking.
bench_ms() { local t=${EPOCHREALTIME/[.,]/}; printf -v "$1" '%d' $(( t / 1000 )); }

# bench_write_nginx DIR PORT SOCKET WORKERS: DIR/nginx.conf, one server on
# 127.0.0.1:PORT passing everything to the unix SOCKET with the shipped
# docker/nginx/braid_fastcgi.conf.  Start it with bench_nginx.
bench_write_nginx() {
    local d=$1 port=$2 sock=$3 workers=$4 backend_port=${5:-} backend_dir=${6:-} user="" backend=""
    [ "$(id -u)" = 0 ] && user="user root;"
    # The HTTP shape's backend (bench/run.sh BENCH_SHAPE=http): static JSON
    # files, on kept connections, from the same nginx.
    [ -n "$backend_port" ] && backend="
    server {
        listen 127.0.0.1:$backend_port backlog=1024;
        keepalive_requests 1000000;
        location /users/ { default_type application/json; alias $backend_dir/users/; }
    }"
    mkdir -p "$d/tmp"
    cat > "$d/nginx.conf" <<EOF
$user
worker_processes $workers;
worker_rlimit_nofile 4096;
error_log $d/error.log warn;
events { worker_connections 2048; }
http {
    access_log off;
    client_body_temp_path $d/tmp;
    proxy_temp_path $d/tmp;
    fastcgi_temp_path $d/tmp;
    uwsgi_temp_path $d/tmp;
    scgi_temp_path $d/tmp;
    server {
        listen 127.0.0.1:$port backlog=1024;
        location / {
            include $ROOT/docker/nginx/braid_fastcgi.conf;
            fastcgi_pass unix:$sock;
        }
    }$backend
}
EOF
}

# bench_nginx DIR: runs DIR/nginx.conf in the foreground, as this process
# (exec): `bench_nginx DIR </dev/null &` makes $! nginx's master.
bench_nginx() { exec nginx -p "$1" -c "$1/nginx.conf" -g "daemon off; pid $1/nginx.pid;"; }

# bench_write_paths FILE: the wrk script — both branches of the seed
# workflow, alternately (hello answers any path).
bench_write_paths() {
    cat > "$1" <<'EOF'
-- both branches of the seed workflow, alternately (hello answers any path)
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, (n % 2 == 0) and "/user_lookup?uid=1" or "/user_lookup?uid=2")
end
EOF
}

# bench_to_ms VALUE: wrk's 1.23ms / 456.78us / 1.20s → milliseconds.
bench_to_ms() {
    awk -v v="$1" 'BEGIN { u = v; sub(/^[0-9.]+/, "", u); n = v + 0;
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000;
        printf "%.2f", n }'
}

# bench_wrk_field FILE WHAT: one figure of a wrk output — requests (completed),
# rps, p50, p99 (ms), non2xx, errors (socket errors of every kind).
bench_wrk_field() {
    case $2 in
    requests) awk '/ requests in / { print $1; f = 1 } END { if (!f) print 0 }' "$1" ;;
    rps) awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$1" ;;
    p50) bench_to_ms "$(awk '$1 == "50%" { print $2 }' "$1")" ;;
    p99) bench_to_ms "$(awk '$1 == "99%" { print $2 }' "$1")" ;;
    non2xx) awk '/Non-2xx or 3xx responses:/ { n = $NF } END { print n + 0 }' "$1" ;;
    errors) awk '/Socket errors:/ { gsub(/,/, ""); n = $4 + $6 + $8 + $10 } END { print n + 0 }' "$1" ;;
    esac
}

# ---- /proc ----------------------------------------------------------------

# bench_procs: one snapshot of every process, "PID PPID TICKS COMM START OWN"
# per line, TICKS = utime+stime+cutime+cstime (clock ticks), COMM with blanks
# as _, START its start time (ticks since boot: PID and START name a
# process), OWN = utime+stime (without the reaped children).
bench_procs() {
    cat /proc/[0-9]*/stat 2>/dev/null | awk '{
        l = $0; o = index(l, "("); match(l, /\)[^)]*$/); c = RSTART
        comm = substr(l, o + 1, c - o - 1); gsub(/[ \t]/, "_", comm)
        split(substr(l, c + 2), f, " ")
        print $1, f[2], f[12] + f[13] + f[14] + f[15], comm, f[20], f[12] + f[13] }'
}

# bench_tree SNAPSHOT ROOT: the lines of SNAPSHOT for ROOT and all its
# descendants, ROOT first (nothing when ROOT is gone).
bench_tree() {
    awk -v root="$2" '{ line[$1] = $0; kids[$2] = kids[$2] " " $1 }
        END { if (!(root in line)) exit
              n = 1; stack[1] = root
              while (n > 0) { p = stack[n--]; print line[p]
                              k = split(kids[p], a, " "); for (i = 1; i <= k; i++) stack[++n] = a[i] } }' <<<"$1"
}

# bench_tree_ticks SNAPSHOT ROOT: the CPU ticks of ROOT's tree.
bench_tree_ticks() { bench_tree "$1" "$2" | awk '{ t += $3 } END { print t + 0 }'; }

# bench_top_other SNAP0 SNAP1 ROOT MS: "COMM PCT" — the process outside
# ROOT's tree (ROOT: this script, whose tree holds nginx, the contender and
# wrk) whose CPU time grew the most between the two snapshots MS ms apart,
# in % of one CPU (at most 100 per CPU).  A hint at who the other load is:
# the growth includes the children it reaped (cutime), so a make or a test
# runner shows for its short-lived children — but also, whole, a child that
# lived longer than the window and was reaped in it.  A process new in SNAP1
# counts all its time; one that started and ended in between shows only
# through its parent.  "- 0" when none used any.
bench_top_other() {
    { echo "$1"; echo "--"; echo "$2"; } | awk -v root="$3" -v ms="$4" -v tick="$BENCH_TICK" -v cpus="$(nproc)" '
        $1 == "--" { part = 1; next }
        part == 0 { t0[$1] = $3; s0[$1] = $5; next }
        { t1[$1] = $3; s1[$1] = $5; c1[$1] = $4; kids[$2] = kids[$2] " " $1 }
        END { n = 1; st[1] = root
              while (n > 0) { p = st[n--]; ex[p] = 1
                              k = split(kids[p], a, " "); for (i = 1; i <= k; i++) st[++n] = a[i] }
              best = 0
              for (p in t1) {
                  if (p in ex) continue
                  d = (p in t0 && s0[p] == s1[p]) ? t1[p] - t0[p] : t1[p]
                  if (d > best) { best = d; name = c1[p] }
              }
              pct = best / tick / (ms / 1000) * 100; if (pct > 100 * cpus) pct = 100 * cpus
              if (best > 0) printf "%s %.0f\n", name, pct; else print "- 0" }'
}

# bench_busy_ticks VAR: VAR = the machine's busy time so far, in ticks
# (/proc/stat's cpu line: user+nice+system+irq+softirq+steal; guest is
# inside user), read without forking.
bench_busy_ticks() {
    local cpu user nice sys idle iowait irq softirq steal
    read -r cpu user nice sys idle iowait irq softirq steal _ < /proc/stat
    printf -v "$1" '%d' $(( user + nice + sys + irq + softirq + steal ))
}

# bench_self_ticks VAR: VAR = this shell's CPU ticks so far, its own and its
# reaped children's (utime+stime+cutime+cstime), read without forking.
bench_self_ticks() {
    local l f
    read -r l < "/proc/$$/stat"
    read -r -a f <<<"${l##*) }"
    printf -v "$1" '%d' $(( f[11] + f[12] + f[13] + f[14] ))
}

# bench_roles SNAPSHOT ROOT: "ROLE PID" for each process of ROOT's tree —
# master (ROOT), worker (ROOT's children; hello and floor's forked
# processes too), zygote (comm braid-zygote), sandbox (comm braid-sandbox),
# other.  Sorted by role then pid.
bench_roles() {
    bench_tree "$1" "$2" | awk -v root="$2" '{
        r = "other"
        if ($1 == root) r = "1master"; else if ($4 == "braid-zygote") r = "3zygote"
        else if ($4 == "braid-sandbox") r = "4sandbox"; else if ($2 == root) r = "2worker"
        print r, $1 }' | sort -k1,1 -k2,2n | sed 's/^[0-9]//'
}

# bench_kb PID Pss|Rss: the process's proportional / resident set size in
# kB; nothing when it is gone or a zombie (no memory left to read).
bench_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/smaps_rollup" 2>/dev/null; }

# bench_pss_line SNAPSHOT ROOT: "master 9316  worker 21044 20980  zygote ...
# (total 95000)" — each process's PSS in kB, by role; sandbox processes
# (more of them) as count × mean; processes that ended meanwhile left out.
bench_pss_line() {
    local role pid kb
    while read -r role pid; do
        kb=$(bench_kb "$pid" Pss)
        [ -n "$kb" ] && echo "$role $kb"   # a process that ended meanwhile: left out
    done < <(bench_roles "$1" "$2") | awk '
        { if ($1 != last) { order[++n] = $1; last = $1 }
          vals[$1] = vals[$1] " " $2; sum[$1] += $2; cnt[$1]++; total += $2 }
        END { for (i = 1; i <= n; i++) { r = order[i]
                  if (r == "sandbox" && cnt[r] > 2) printf "%s %d×%d  ", r, cnt[r], sum[r] / cnt[r]
                  else printf "%s%s  ", r, vals[r] }
              printf "(total %d)", total }'
}

# bench_stop PID: TERM, up to 10 s for it to end, then KILL; reaped.
bench_stop() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}
