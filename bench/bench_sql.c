/* bench_sql.c — what a SQL node costs, per engine (issue 11's figures).
 *
 * For each data source type it can reach — SQLite always (a database made
 * here), PostgreSQL when BENCH_PG_DSN is set, MariaDB/MySQL when
 * BENCH_MYSQL_SOCKET (or BENCH_MYSQL_HOST + BENCH_MYSQL_PORT) with
 * BENCH_MYSQL_USER, BENCH_MYSQL_PASSWORD, BENCH_MYSQL_DATABASE are set —
 * it runs, in one process, many times:
 *   - START → SQL point lookup → END through the engine (brd_engine_run),
 *   - START → END (the fixed cost of a run, subtracted),
 *   - the same lookup by hand with the client library: one prepared
 *     statement executed, its row read into a json-c object.
 * and prints wall and CPU µs per lookup side by side.  bench/sql.sh starts
 * throwaway PostgreSQL and MariaDB servers and runs this.
 *
 * Usage: build/bench/bench_sql [RUNS]
 */
#include <libpq-fe.h>
#include <mysql.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "exec.h"
#include "fnrunner.h"
#include "service.h"

static double cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static double wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void die(const char *what, const char *why)
{
    fprintf(stderr, "bench_sql: %s: %s\n", what, why ? why : "failed");
    exit(1);
}

static void put(const char *dir, const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    mkdir(path, 0700);
    *slash = '/';
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0)
        die(path, "cannot write");
    fclose(f);
}

struct timing {
    double wall, cpu;   /* µs per run */
};

/* Runs workflow wf of s runs times with uid cycling over 1..5. */
static struct timing run_many(struct brd_engine *e, const struct brd_service *s, const char *wf, int runs)
{
    const struct brd_workflow *w = brd_service_workflow(s, wf);
    struct brd_run_opts opts = {"bench", false};
    struct json_object *in[5];
    for (int k = 0; k < 5; k++) {
        in[k] = json_object_new_object();
        if (!in[k] || brd_json_add(in[k], "uid", json_object_new_int(k + 1)) != 0)
            die("input", "out of memory");
    }
    double w0 = wall_us(), c0 = cpu_us();
    for (int i = 0; i < runs; i++) {
        struct brd_run_result res;
        if (brd_engine_run(e, s, w, in[i % 5], &opts, &res) != 0)
            die(wf, res.err.msg);
        brd_run_result_clear(&res);
    }
    struct timing t = {(wall_us() - w0) / runs, (cpu_us() - c0) / runs};
    for (int k = 0; k < 5; k++)
        json_object_put(in[k]);
    return t;
}

/* A by-hand lookup: fills the row object for uid; returns 0. */
typedef void (*lookup_fn)(void *h, int uid);

static struct timing hand_many(lookup_fn f, void *h, int runs)
{
    double w0 = wall_us(), c0 = cpu_us();
    for (int i = 0; i < runs; i++)
        f(h, 1 + i % 5);
    return (struct timing){(wall_us() - w0) / runs, (cpu_us() - c0) / runs};
}

static struct json_object *row3(long long id, const char *name, const char *role)
{
    struct json_object *o = json_object_new_object();
    if (!o || brd_json_add(o, "id", json_object_new_int64(id)) || brd_json_add(o, "name", json_object_new_string(name)) ||
        brd_json_add(o, "role", json_object_new_string(role)))
        die("row", "out of memory");
    return o;
}

/* ---- SQLite ------------------------------------------------------------------ */

static void sqlite_lookup(void *h, int uid)
{
    sqlite3_stmt *st = h;
    sqlite3_bind_int(st, 1, uid);
    if (sqlite3_step(st) != SQLITE_ROW)
        die("sqlite lookup", "no row");
    json_object_put(row3(sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
                         (const char *)sqlite3_column_text(st, 2)));
    sqlite3_reset(st);
}

/* ---- PostgreSQL -------------------------------------------------------------- */

static void pg_lookup(void *h, int uid)
{
    PGconn *c = h;
    char v[16];
    snprintf(v, sizeof v, "%d", uid);
    const char *vals[] = {v};
    PGresult *r = PQexecPrepared(c, "lookup", 1, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        die("pg lookup", PQerrorMessage(c));
    json_object_put(row3(atoll(PQgetvalue(r, 0, 0)), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2)));
    PQclear(r);
}

static void pg_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        die(sql, PQerrorMessage(c));
    PQclear(r);
}

/* ---- MariaDB / MySQL ----------------------------------------------------------- */

struct my {
    MYSQL_STMT *st;
    int uid;
    long long id;
    char name[64], role[64];
    unsigned long name_len, role_len;
};

static void my_lookup(void *h, int uid)
{
    struct my *m = h;
    m->uid = uid;
    if (mysql_stmt_execute(m->st) != 0 || mysql_stmt_store_result(m->st) != 0 || mysql_stmt_fetch(m->st) != 0)
        die("mysql lookup", mysql_stmt_error(m->st));
    m->name[m->name_len < sizeof m->name ? m->name_len : sizeof m->name - 1] = '\0';
    m->role[m->role_len < sizeof m->role ? m->role_len : sizeof m->role - 1] = '\0';
    json_object_put(row3(m->id, m->name, m->role));
    mysql_stmt_free_result(m->st);
}

/* ---- the bench ------------------------------------------------------------------- */

static const char *const USERS[][2] = {{"alice", "admin"}, {"bob", "user"}, {"carol", "user"},
                                       {"dave", "user"}, {"erin", "user"}};

static void report(const char *engine, struct timing node, struct timing empty, struct timing hand, int runs)
{
    printf("%-11s SQL node: %8.1f us wall %8.1f us CPU   by hand: %8.1f us wall %8.1f us CPU   "
           "(run %6.1f / empty run %5.1f us wall, %d runs)\n",
           engine, node.wall - empty.wall, node.cpu - empty.cpu, hand.wall, hand.cpu, node.wall, empty.wall,
           runs);
}

static void bench_engine(const char *engine, const char *datasource_json, lookup_fn f, void *h, int runs)
{
    char dir[] = "/tmp/braid-bench-sql-XXXXXX";
    if (!mkdtemp(dir))
        die("mkdtemp", "failed");
    put(dir, "datasources/db.json", datasource_json);
    put(dir, "apis/get_user.json",
        "{\"type\": \"sql\", \"datasource\": \"db\", \"sql\": \"SELECT id, name, role FROM bench_users "
        "WHERE id = :id\", \"params\": {\"id\": {\"type\": \"int\", \"required\": true}}, \"timeout_ms\": 2000}");
    put(dir, "workflows/lookup.json",
        "{\"params\": {\"uid\": {\"type\": \"int\", \"required\": true}}, \"nodes\": [{\"id\": \"API1\", "
        "\"type\": \"api\", \"api\": \"get_user\", \"params\": {\"id\": \"${START.uid}\"}}], "
        "\"edges\": [[\"START\", \"API1\"], [\"API1\", \"END\"]]}");
    put(dir, "workflows/empty.json", "{\"nodes\": [], \"edges\": [[\"START\", \"END\"]]}");
    struct brd_fn_runner none = {NULL, NULL};
    struct brd_diags d = {0};
    struct brd_service *s = NULL;
    if (brd_service_load(dir, &none, &s, &d) != 0) {
        for (size_t i = 0; i < d.count; i++)
            fprintf(stderr, "%s\n", d.msgs[i]);
        die(engine, "the bench service did not load");
    }
    brd_diags_free(&d);
    struct brd_engine *e = NULL;
    struct brd_error err;
    if (brd_engine_new(&e, &err) != 0)
        die("engine", err.msg);
    run_many(e, s, "lookup", runs / 10 + 1);   /* connect, prepare, warm up */
    hand_many(f, h, runs / 10 + 1);
    struct timing empty = run_many(e, s, "empty", runs);
    struct timing node = run_many(e, s, "lookup", runs);
    struct timing hand = hand_many(f, h, runs);
    report(engine, node, empty, hand, runs);
    brd_engine_free(e);
    brd_service_free(s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_sql: could not remove %s\n", dir);
}

static void bench_sqlite(int runs)
{
    char dir[] = "/tmp/braid-bench-sqlite-XXXXXX";
    if (!mkdtemp(dir))
        die("mkdtemp", "failed");
    char path[128];
    snprintf(path, sizeof path, "%s/users.db", dir);
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK)
        die(path, sqlite3_errmsg(db));
    if (sqlite3_exec(db, "CREATE TABLE bench_users(id INTEGER PRIMARY KEY, name TEXT, role TEXT)", NULL, NULL,
                     NULL) != SQLITE_OK)
        die("create", sqlite3_errmsg(db));
    for (int i = 0; i < 5; i++) {
        char *sql = sqlite3_mprintf("INSERT INTO bench_users VALUES (%d, %Q, %Q)", i + 1, USERS[i][0], USERS[i][1]);
        if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
            die("insert", sqlite3_errmsg(db));
        sqlite3_free(sql);
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT id, name, role FROM bench_users WHERE id = ?", -1, &st, NULL) != SQLITE_OK)
        die("prepare", sqlite3_errmsg(db));
    char ds[256];
    snprintf(ds, sizeof ds, "{\"type\": \"sqlite\", \"path\": \"%s\"}", path);
    bench_engine("sqlite", ds, sqlite_lookup, st, runs);
    sqlite3_finalize(st);
    sqlite3_close(db);
    unlink(path);
    rmdir(dir);
}

static void bench_pg(const char *dsn, int runs)
{
    PGconn *c = PQconnectdb(dsn);
    if (PQstatus(c) != CONNECTION_OK)
        die("postgresql", PQerrorMessage(c));
    pg_exec(c, "DROP TABLE IF EXISTS bench_users");
    pg_exec(c, "CREATE TABLE bench_users(id int PRIMARY KEY, name text, role text)");
    for (int i = 0; i < 5; i++) {
        char sql[160];
        snprintf(sql, sizeof sql, "INSERT INTO bench_users VALUES (%d, '%s', '%s')", i + 1, USERS[i][0], USERS[i][1]);
        pg_exec(c, sql);
    }
    PGresult *r = PQprepare(c, "lookup", "SELECT id, name, role FROM bench_users WHERE id = $1", 0, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        die("prepare", PQerrorMessage(c));
    PQclear(r);
    char ds[1024];
    snprintf(ds, sizeof ds, "{\"type\": \"postgresql\", \"dsn\": \"%s\"}", dsn);
    bench_engine("postgresql", ds, pg_lookup, c, runs);
    PQfinish(c);
}

static void bench_mysql(int runs)
{
    const char *sock = getenv("BENCH_MYSQL_SOCKET"), *host = getenv("BENCH_MYSQL_HOST");
    const char *user = getenv("BENCH_MYSQL_USER"), *pw = getenv("BENCH_MYSQL_PASSWORD");
    const char *dbname = getenv("BENCH_MYSQL_DATABASE"), *port = getenv("BENCH_MYSQL_PORT");
    MYSQL *c = mysql_init(NULL);
    if (!c || !mysql_real_connect(c, sock ? NULL : host, user, pw, dbname, port ? (unsigned)atoi(port) : 0, sock, 0))
        die("mysql", c ? mysql_error(c) : "out of memory");
    const char *setup[] = {"DROP TABLE IF EXISTS bench_users",
                           "CREATE TABLE bench_users(id INT PRIMARY KEY, name VARCHAR(40), role VARCHAR(40))",
                           "INSERT INTO bench_users VALUES (1,'alice','admin'),(2,'bob','user'),(3,'carol','user'),"
                           "(4,'dave','user'),(5,'erin','user')"};
    for (size_t i = 0; i < sizeof setup / sizeof *setup; i++)
        if (mysql_query(c, setup[i]) != 0)
            die(setup[i], mysql_error(c));
    struct my m = {0};
    const char *q = "SELECT id, name, role FROM bench_users WHERE id = ?";
    if (!(m.st = mysql_stmt_init(c)) || mysql_stmt_prepare(m.st, q, strlen(q)) != 0)
        die("prepare", mysql_error(c));
    MYSQL_BIND in = {0}, out[3];
    memset(out, 0, sizeof out);
    in.buffer_type = MYSQL_TYPE_LONG;
    in.buffer = &m.uid;
    out[0].buffer_type = MYSQL_TYPE_LONGLONG;
    out[0].buffer = &m.id;
    out[1].buffer_type = MYSQL_TYPE_STRING;
    out[1].buffer = m.name;
    out[1].buffer_length = sizeof m.name;
    out[1].length = &m.name_len;
    out[2].buffer_type = MYSQL_TYPE_STRING;
    out[2].buffer = m.role;
    out[2].buffer_length = sizeof m.role;
    out[2].length = &m.role_len;
    if (mysql_stmt_bind_param(m.st, &in) || mysql_stmt_bind_result(m.st, out))
        die("bind", mysql_stmt_error(m.st));
    char ds[1024];
    if (sock)
        snprintf(ds, sizeof ds, "{\"type\": \"mysql\", \"socket\": \"%s\", \"user\": \"%s\", \"password\": \"%s\", "
                 "\"database\": \"%s\"}", sock, user, pw ? pw : "", dbname);
    else
        snprintf(ds, sizeof ds, "{\"type\": \"mysql\", \"host\": \"%s\", \"port\": %s, \"user\": \"%s\", "
                 "\"password\": \"%s\", \"database\": \"%s\"}", host, port ? port : "3306", user, pw ? pw : "",
                 dbname);
    bench_engine("mariadb", ds, my_lookup, &m, runs);
    mysql_stmt_close(m.st);
    mysql_close(c);
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 20000;
    if (runs < 10)
        runs = 10;
    printf("µs per SQL point lookup (SELECT id, name, role ... WHERE id = :id), one process, one connection\n");
    bench_sqlite(runs);
    if (getenv("BENCH_PG_DSN"))
        bench_pg(getenv("BENCH_PG_DSN"), runs);
    else
        printf("postgresql  skipped (set BENCH_PG_DSN; bench/sql.sh starts a server)\n");
    if (getenv("BENCH_MYSQL_USER"))
        bench_mysql(runs);
    else
        printf("mariadb     skipped (set BENCH_MYSQL_*; bench/sql.sh starts a server)\n");
    return 0;
}
