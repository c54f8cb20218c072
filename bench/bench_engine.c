/* bench_engine.c — what the orchestration itself costs (issue 4's figures).
 *
 *  1. µs of engine CPU per node: a chain of 50 switch nodes whose
 *     conditions read JSONPath and ${START...} references and whose result
 *     is a template, run many times in one process; beside it the same run
 *     of an empty workflow (START → END), so the per-node figure excludes
 *     the fixed cost of a run.
 *  2. CPU µs of this process per run of the seed workflow
 *     (examples/seed: its SQLite users, real sandbox): the Python
 *     functions run in other processes, so CLOCK_PROCESS_CPUTIME_ID counts
 *     the engine, SQLite and the pipe I/O only.  Beside it, a baseline
 *     doing the unavoidable part by hand in the same run: the same
 *     prepared SQLite lookup, one call of the same function in the same
 *     sandbox.
 *
 * Usage: build/bench/bench_engine [RUNS]   (make build first: the seed's database)
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "exec.h"
#include "fnrunner.h"
#include "sandbox.h"
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

static void put(const char *dir, const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    mkdir(path, 0700);
    *slash = '/';
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0) {
        perror(path);
        exit(1);
    }
    fclose(f);
}

/* A chain START → S1 → … → Sn → END of switches: each evaluates a
 * condition over the previous output and a ${START...} reference (false)
 * and takes its default to the next node; END's result is a template. */
static char *chain_workflow(int n)
{
    size_t cap = (size_t)n * 256 + 512, len = 0;
    char *s = malloc(cap);
    if (!s)
        exit(1);
    len += (size_t)snprintf(s + len, cap - len, "{\"timeout_ms\": 60000, \"nodes\":[");
    for (int i = 1; i <= n; i++) {
        char next[16];
        snprintf(next, sizeof next, i < n ? "S%d" : "END", i + 1);
        len += (size_t)snprintf(s + len, cap - len,
                                "%s{\"id\":\"S%d\",\"type\":\"switch\",\"branches\":[{\"when\":"
                                "\"$.user.id == ${START.never} && $.items[0] > 3\",\"next\":\"%s\"}],"
                                "\"default\":\"%s\"}",
                                i > 1 ? "," : "", i, next, next);
    }
    if (n == 0)
        len += (size_t)snprintf(s + len, cap - len, "],\"edges\":[[\"START\",\"END\"]]");
    else
        len += (size_t)snprintf(s + len, cap - len, "],\"edges\":[[\"START\",\"S1\"]]");
    snprintf(s + len, cap - len,
             ",\"result\":{\"id\":\"${START.user.id}\",\"first\":\"$.items[0]\",\"msg\":\"user ${START.user.name}\"}}");
    return s;
}

static struct brd_service *load(const char *dir, const struct brd_fn_runner *runner)
{
    struct brd_diags d = {0};
    struct brd_service *s = NULL;
    if (brd_service_load(dir, runner, &s, &d) != 0) {
        for (size_t i = 0; i < d.count; i++)
            fprintf(stderr, "%s\n", d.msgs[i]);
        exit(1);
    }
    brd_diags_free(&d);
    return s;
}

static double run_many(struct brd_engine *e, const struct brd_service *s, const char *wf,
                       const char *input, int runs)
{
    struct brd_error err;
    struct json_object *in = NULL;
    if (brd_json_parse(input, strlen(input), &in, &err) != 0)
        exit(1);
    const struct brd_workflow *w = brd_service_workflow(s, wf);
    struct brd_run_opts opts = {"bench", false};
    double t0 = cpu_us();
    for (int i = 0; i < runs; i++) {
        struct brd_run_result res;
        if (brd_engine_run(e, s, w, in, &opts, &res) != 0) {
            fprintf(stderr, "run failed: %s\n", res.err.msg);
            exit(1);
        }
        brd_run_result_clear(&res);
    }
    double t = cpu_us() - t0;
    json_object_put(in);
    return t / runs;
}

static void bench_chain(int runs)
{
    char dir[] = "/tmp/braid-bench-XXXXXX";
    if (!mkdtemp(dir))
        exit(1);
    char *c50 = chain_workflow(50), *c0 = chain_workflow(0);
    put(dir, "workflows/chain50.json", c50);
    put(dir, "workflows/empty.json", c0);
    free(c50);
    free(c0);
    struct brd_fn_runner none = {NULL, NULL};
    struct brd_service *s = load(dir, &none);
    struct brd_engine *e = NULL;
    struct brd_error err;
    if (brd_engine_new(&e, &err) != 0)
        exit(1);
    const char *input = "{\"user\":{\"id\":7,\"name\":\"ada\"},\"items\":[1,2,3],\"never\":-1}";
    run_many(e, s, "chain50", input, runs / 10); /* warm up */
    double empty = run_many(e, s, "empty", input, runs);
    double chain = run_many(e, s, "chain50", input, runs);
    printf("chain of 50 switch nodes:   %8.2f us CPU per run   (%d runs)\n", chain, runs);
    printf("  empty workflow baseline:  %8.2f us CPU per run   (START -> END, same input)\n", empty);
    printf("  engine CPU per node:      %8.3f us               (target <= 5 us)\n", (chain - empty) / 50);
    brd_engine_free(e);
    brd_service_free(s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

/* The seed flow by hand: look the user up, build the event, call the function. */
static double baseline_seed(struct brd_sandbox_pool *pool, const struct brd_pyfn *fn, int runs)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_open_v2("examples/seed/data/users.db", &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT id, name FROM users WHERE id = ?", -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "baseline: %s\n", db ? sqlite3_errmsg(db) : "cannot open the seed's database");
        exit(1);
    }
    double t0 = cpu_us();
    for (int i = 0; i < runs; i++) {
        struct brd_error err;
        char event[256];
        sqlite3_bind_int64(st, 1, 2 + i % 3);
        if (sqlite3_step(st) != SQLITE_ROW)
            exit(1);
        snprintf(event, sizeof event, "{\"user_id\":%lld,\"name\":\"%s\"}",
                 (long long)sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1));
        sqlite3_reset(st);
        struct brd_sandbox_context ctx = {"bench", "user_lookup", "PYTHON1", 0};
        struct brd_sandbox_call *call = NULL;
        if (brd_sandbox_call_start(pool, fn, event, strlen(event), &ctx, &call, &err) != 0)
            exit(1);
        brd_sandbox_call_wait(call);
        struct brd_sandbox_result res;
        memset(&res, 0, sizeof res);
        if (brd_sandbox_call_collect(call, &res) != 0)
            exit(1);
        brd_sandbox_result_free(&res);
        brd_sandbox_call_free(call);
    }
    double t = cpu_us() - t0;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return t / runs;
}

static void bench_seed(int runs)
{
    struct brd_error err;
    struct brd_fn_runner runner;
    if (brd_fnrunner_init(&runner, &err) != 0) {
        fprintf(stderr, "sandbox: %s\n", err.msg);
        return;
    }
    struct brd_service *s = load("examples/seed", &runner);
    struct brd_engine *e = NULL;
    if (brd_engine_new(&e, &err) != 0)
        exit(1);
    /* Does the seed run (its database built)? */
    struct json_object *probe = NULL;
    brd_json_parse("{\"uid\":2}", 9, &probe, &err);
    struct brd_run_result res;
    struct brd_run_opts opts = {"bench", false};
    if (brd_engine_run(e, s, brd_service_workflow(s, "user_lookup"), probe, &opts, &res) != 0) {
        printf("seed workflow: skipped (%s) — run `make build` first\n", res.err.msg);
        json_object_put(probe);
        brd_run_result_clear(&res);
        brd_engine_free(e);
        brd_service_free(s);
        brd_fnrunner_shutdown();
        return;
    }
    brd_run_result_clear(&res);
    json_object_put(probe);
    double w0 = wall_us();
    double seed = run_many(e, s, "user_lookup", "{\"uid\":2}", runs);
    double wall = (wall_us() - w0) / runs;

    struct brd_sandbox_pool *pool = NULL;
    struct brd_pyfn *fn = NULL;
    if (brd_sandbox_pool_new(&pool, &err) != 0 ||
        brd_pyfn_load("examples/seed", "regular_user", &fn, &err) != 0) {
        fprintf(stderr, "baseline: %s\n", err.msg);
        exit(1);
    }
    baseline_seed(pool, fn, runs / 10);
    double w1 = wall_us();
    double base = baseline_seed(pool, fn, runs);
    double bwall = (wall_us() - w1) / runs;
    brd_sandbox_pool_free(pool);
    brd_pyfn_free(fn);
    printf("seed workflow (uid 2):      %8.2f us CPU per run in this process, %8.1f us wall (%d runs)\n",
           seed, wall, runs);
    printf("  by-hand baseline:         %8.2f us CPU per run, %8.1f us wall (SQLite lookup + sandbox call)\n",
           base, bwall);
    printf("  orchestration overhead:   %8.2f us CPU per run   (target <= 30 us)\n", seed - base);
    brd_engine_free(e);
    brd_service_free(s);
    brd_fnrunner_shutdown();
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 20000;
    if (runs < 100)
        runs = 100;
    bench_chain(runs);
    bench_seed(runs / 10);
    return 0;
}
