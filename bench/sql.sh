#!/bin/bash
# sql.sh — `make bench-sql`: µs per SQL node for SQLite, PostgreSQL and
# MariaDB point lookups beside the same query by hand (bench/bench_sql.c).
# Starts a throwaway PostgreSQL 15 and MariaDB in a temporary folder (unix
# sockets only, nothing listens on a port), runs the bench, stops them.
# Needs `make deps-db` (postgresql, mariadb-server).  BENCH_RUNS (default
# 20000) sets the runs per figure.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN="$ROOT/build/bench/bench_sql"
RUNS=${BENCH_RUNS:-20000}
[ -x "$BIN" ] || { echo "bench-sql: $BIN is missing (make build/bench/bench_sql)" >&2; exit 1; }
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$PGBIN" ] && command -v mariadbd >/dev/null || { echo "bench-sql: run 'make deps-db' first" >&2; exit 1; }

TMP=$(mktemp -d /tmp/braid-bench-db.XXXXXX)
chmod 755 "$TMP"
cleanup() {
    [ -f "$TMP/pg/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$TMP/pg" -m fast stop >/dev/null 2>&1
    [ -n "${MYPID:-}" ] && kill "$MYPID" 2>/dev/null && wait "$MYPID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
# PostgreSQL refuses to run as root.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

mkdir -p "$TMP/pg" "$TMP/pgsock" "$TMP/my"
[ "$(id -u)" = 0 ] && chown postgres "$TMP/pg" "$TMP/pgsock"
as_pg "$PGBIN/initdb" -D "$TMP/pg" -A trust -U bench >/dev/null || exit 1
as_pg "$PGBIN/pg_ctl" -D "$TMP/pg" -w -l "$TMP/pgsock/pg.log" \
    -o "-k $TMP/pgsock -c listen_addresses='' -c fsync=off" start >/dev/null || { cat "$TMP/pgsock/pg.log"; exit 1; }

mariadb-install-db --no-defaults --datadir="$TMP/my" --user="$(id -un)" --auth-root-authentication-method=normal \
    >"$TMP/my-install.log" 2>&1 || { cat "$TMP/my-install.log"; exit 1; }
mariadbd --no-defaults --datadir="$TMP/my" --socket="$TMP/my.sock" --skip-networking --user="$(id -un)" \
    --pid-file="$TMP/my.pid" --log-error="$TMP/my.err" &
MYPID=$!
for _ in $(seq 100); do [ -S "$TMP/my.sock" ] && break; sleep 0.1; done
mariadb --no-defaults -S "$TMP/my.sock" -u root -e \
    "CREATE DATABASE bench; CREATE USER bench@localhost IDENTIFIED BY 'bench-pw'; GRANT ALL ON bench.* TO bench@localhost;" \
    || { cat "$TMP/my.err"; exit 1; }

BENCH_PG_DSN="host=$TMP/pgsock user=bench dbname=postgres" \
BENCH_MYSQL_SOCKET="$TMP/my.sock" BENCH_MYSQL_USER=bench BENCH_MYSQL_PASSWORD=bench-pw BENCH_MYSQL_DATABASE=bench \
    "$BIN" "$RUNS"
