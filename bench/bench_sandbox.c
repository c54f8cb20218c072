/* bench_sandbox.c — µs per call of a trivial Python handler: warm sandboxed
 * process, fresh process per call, and in-process without any sandbox (the
 * baseline), plus a plain fork+exit+wait for scale and the PSS of a warm
 * sandboxed process; last, the served per-call path: bench/percall (the
 * service bench/percall.py serves through nginx) run by the engine through
 * the worker's function runner, with the worker's seccomp filter on, i.e.
 * `braid serve` without FastCGI.  CPU figures count the sandboxed
 * processes and the zygote too.  `make bench` runs it (from the repository's
 * root); BENCH_N scales the counts. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exec.h"
#include "fnrunner.h"
#include "sandbox.h"
#include "service.h"
#include "worker_seccomp.h"

static const char handler_src[] =
    "def handler(event, context):\n"
    "    return {'ok': True, 'node': context['node']}\n";

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, int64_t *ns, int n)
{
    qsort(ns, (size_t)n, sizeof *ns, cmp_i64);
    printf("%-34s n=%-5d p50 %8.1f us   p99 %8.1f us\n", what, n, ns[n / 2] / 1000.0,
           ns[(int)(n * 0.99)] / 1000.0);
}

static long smaps_kb(pid_t pid, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    size_t klen = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, klen) == 0 && line[klen] == ':')
            kb = strtol(line + klen + 1, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

/* CPU µs (user + system) and minor faults of a process, from /proc. */
static void proc_cpu(pid_t pid, double *cpu_us, long *minflt)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    *cpu_us = 0;
    *minflt = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long flt = 0, ut = 0, st = 0;
    if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %lu %*u %*u %*u %lu %lu", &flt, &ut, &st) == 3) {
        *cpu_us = (double)(ut + st) * 1e6 / (double)sysconf(_SC_CLK_TCK);
        *minflt = (long)flt;
    }
}

/* What the reaped children (the sandboxed processes) and the zygote cost
 * between two snapshots. */
struct cost { double cpu_us, zcpu_us; long minflt, zminflt; };
static struct cost cost_now(struct brd_sandbox_pool *pool)
{
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    struct cost c = {(double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
                         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec),
                     0, ru.ru_minflt, 0};
    proc_cpu(brd_sandbox_pool_zygote_pid(pool), &c.zcpu_us, &c.zminflt);
    return c;
}

static void report_cost(const char *what, struct cost a, struct cost b, int n)
{
    printf("  %-32s CPU %7.0f us per call (sandboxed process %.0f + zygote %.0f), "
           "page faults %.0f + %.0f\n",
           what, (b.cpu_us + b.zcpu_us - a.cpu_us - a.zcpu_us) / n, (b.cpu_us - a.cpu_us) / n,
           (b.zcpu_us - a.zcpu_us) / n, (double)(b.minflt - a.minflt) / n,
           (double)(b.zminflt - a.zminflt) / n);
}

static struct brd_pyfn *compile(const char *name, enum brd_pyfn_isolation iso)
{
    struct brd_pyfn_settings s;
    brd_pyfn_settings_default(&s);
    s.isolation = iso;
    s.max_calls = 1000000000;
    struct brd_pyfn *fn;
    struct brd_error err;
    if (brd_pyfn_compile(name, name, handler_src, strlen(handler_src), &s, &fn, &err) != 0) {
        fprintf(stderr, "compile: %s\n", err.msg);
        exit(1);
    }
    return fn;
}

/* One call, start to collected result; returns its pid. */
static pid_t one_call(struct brd_sandbox_pool *pool, struct brd_pyfn *fn)
{
    struct brd_sandbox_call *call;
    struct brd_error err;
    struct brd_sandbox_context ctx = {.request_id = "bench", .node = "N1"};
    if (brd_sandbox_call_start(pool, fn, "{\"a\":1}", 7, &ctx, &call, &err) != 0) {
        fprintf(stderr, "start: %s\n", err.msg);
        exit(1);
    }
    brd_sandbox_call_wait(call);
    struct brd_sandbox_result res;
    if (brd_sandbox_call_collect(call, &res) != 0) {
        fprintf(stderr, "call: %s\n", res.err.msg);
        exit(1);
    }
    pid_t pid = res.pid;
    brd_sandbox_result_free(&res);
    brd_sandbox_call_free(call);
    return pid;
}

/* The same work without a sandbox: call the handler in this process and
 * encode its result as the sandboxed process does. */
static void in_process(int n, int64_t *ns)
{
    PyObject *g = PyDict_New();
    PyDict_SetItemString(g, "__builtins__", PyEval_GetBuiltins());
    PyObject *r = PyRun_String(handler_src, Py_file_input, g, g);
    Py_XDECREF(r);
    PyObject *enc = PyRun_String("__import__('json').JSONEncoder(ensure_ascii=False, allow_nan=False, "
                                 "separators=(',', ':'))", Py_eval_input, g, g);
    PyObject *handler = PyDict_GetItemString(g, "handler");
    if (!enc || !handler) {
        PyErr_Print();
        exit(1);
    }
    for (int i = 0; i < n; i++) {
        int64_t t0 = now_ns();
        PyObject *ev = PyUnicode_FromStringAndSize("{\"a\":1}", 7);
        PyObject *ctx = Py_BuildValue("{s:s,s:O,s:s,s:L}", "request_id", "bench", "workflow", Py_None,
                                      "node", "N1", "deadline_ms", (long long)0);
        PyObject *res = PyObject_CallFunctionObjArgs(handler, ev, ctx, NULL);
        PyObject *text = PyObject_CallMethod(enc, "encode", "O", res);
        Py_ssize_t len;
        const char *s = PyUnicode_AsUTF8AndSize(text, &len);
        if (!s || len < 2)
            exit(1);
        Py_DECREF(text);
        Py_DECREF(res);
        Py_DECREF(ctx);
        Py_DECREF(ev);
        ns[i] = now_ns() - t0;
    }
    Py_DECREF(enc);
    Py_DECREF(g);
}

/* This process's CPU µs and minor faults, with its reaped children's. */
static void self_cost(double *cpu_us, long *minflt)
{
    struct rusage s, c;
    getrusage(RUSAGE_SELF, &s);
    getrusage(RUSAGE_CHILDREN, &c);
    *cpu_us = (double)(s.ru_utime.tv_sec + s.ru_stime.tv_sec + c.ru_utime.tv_sec + c.ru_stime.tv_sec) * 1e6 +
              (double)(s.ru_utime.tv_usec + s.ru_stime.tv_usec + c.ru_utime.tv_usec + c.ru_stime.tv_usec);
    *minflt = s.ru_minflt + c.ru_minflt;
}

/* CPU µs and minor faults of every zygote this process started. */
static void zygotes_cost(double *cpu_us, long *minflt)
{
    *cpu_us = 0;
    *minflt = 0;
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)getpid());
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    for (char *p = strtok(buf, " \n"); p; p = strtok(NULL, " \n")) {
        char cpath[64], cmd[64] = "";
        snprintf(cpath, sizeof cpath, "/proc/%s/cmdline", p);
        FILE *c = fopen(cpath, "r");
        size_t k = c ? fread(cmd, 1, sizeof cmd - 1, c) : 0;
        if (c)
            fclose(c);
        cmd[k] = '\0';
        if (strcmp(cmd, "braid-sandbox-zygote") != 0)
            continue;
        double z;
        long zf;
        proc_cpu((pid_t)atoi(p), &z, &zf);
        *cpu_us += z;
        *minflt += zf;
    }
}

/* The served path: the engine runs bench/percall's one-function workflow
 * through the worker's function runner, prewarmed as a worker does it and
 * under the worker's seccomp filter (installed here, last: it forbids
 * execve).  CPU per run = this process (the engine, the pool) + the
 * sandboxed processes it reaped + the zygote. */
static void served_path(int n, int64_t *ns)
{
    struct brd_error err;
    struct brd_fn_runner runner;
    struct brd_diags d = {0};
    struct brd_service *s = NULL;
    struct brd_engine *e = NULL;
    if (brd_fnrunner_init(&runner, &err) != 0 || brd_service_load("bench/percall", &runner, &s, &d) != 0 ||
        brd_engine_new(&e, &err) != 0 ||
        brd_fnrunner_prewarm(s->functions, s->nfunctions, &err) != 0 ||
        brd_worker_seccomp_install(&err) != 0) {
        printf("served path: skipped (%s; run from the repository's root)\n",
               d.count ? d.msgs[0] : err.msg);
        brd_diags_free(&d);
        brd_engine_free(e);
        brd_service_free(s);
        return;
    }
    brd_diags_free(&d);
    const struct brd_workflow *w = brd_service_workflow(s, "fresh");
    struct json_object *in = json_object_new_object();
    struct brd_run_opts opts = {"bench", false};
    double c0 = 0, z0 = 0;
    long f0 = 0, zf0 = 0;
    for (int i = -20; i < n; i++) {
        if (i == 0) {
            self_cost(&c0, &f0);
            zygotes_cost(&z0, &zf0);
        }
        int64_t t = now_ns();
        struct brd_run_result res;
        if (!in || brd_engine_run(e, s, w, in, &opts, &res) != 0) {
            fprintf(stderr, "served path: %s\n", in ? res.err.msg : "out of memory");
            exit(1);
        }
        brd_run_result_clear(&res);
        brd_fnrunner_usable(); /* what the worker does between requests: reaps */
        if (i >= 0)
            ns[i] = now_ns() - t;
    }
    double c1, z1;
    long f1, zf1;
    self_cost(&c1, &f1);
    zygotes_cost(&z1, &zf1);
    report("served path (engine, fresh process)", ns, n);
    printf("  %-32s CPU %7.0f us per run (this process + sandboxed processes %.0f, zygote %.0f), "
           "page faults %.0f + %.0f\n",
           "(served path)", (c1 - c0 + z1 - z0) / n, (c1 - c0) / n, (z1 - z0) / n,
           (double)(f1 - f0) / n, (double)(zf1 - zf0) / n);
    json_object_put(in);
    brd_engine_free(e);
    brd_service_free(s);
    brd_fnrunner_shutdown();
}

int main(void)
{
    int scale = getenv("BENCH_N") ? atoi(getenv("BENCH_N")) : 1;
    if (scale < 1)
        scale = 1;
    int nwarm = 3000 * scale, ncall = 600 * scale, nproc = 3000 * scale, nfork = 300 * scale;
    int64_t *ns = malloc(sizeof *ns * (size_t)nwarm);
    struct brd_error err;
    if (!ns || brd_sandbox_init(NULL, &err) != 0) {
        fprintf(stderr, "init: %s\n", ns ? err.msg : "out of memory");
        return 1;
    }
    struct brd_sandbox_pool *pool;
    int64_t t0 = now_ns();
    if (brd_sandbox_pool_new(&pool, &err) != 0) {
        fprintf(stderr, "pool: %s\n", err.msg);
        return 1;
    }
    printf("zygote start (exec + CPython + warm-up): %.1f ms\n", (now_ns() - t0) / 1e6);

    struct brd_pyfn *warm = compile("warm", BRD_PYFN_WARM);
    struct brd_pyfn *percall = compile("percall", BRD_PYFN_CALL);

    in_process(nproc, ns);
    report("in-process (no sandbox)", ns, nproc);

    pid_t wpid = 0;
    for (int i = 0; i < 200; i++)
        wpid = one_call(pool, warm);
    for (int i = 0; i < nwarm; i++) {
        int64_t s = now_ns();
        one_call(pool, warm);
        ns[i] = now_ns() - s;
    }
    report("sandboxed, warm process", ns, nwarm);

    for (int i = 0; i < 20; i++)
        one_call(pool, percall);
    struct cost c0 = cost_now(pool);
    for (int i = 0; i < ncall; i++) {
        int64_t s = now_ns();
        one_call(pool, percall);
        ns[i] = now_ns() - s;
    }
    struct cost c1 = cost_now(pool);
    report("sandboxed, fresh process per call", ns, ncall);
    report_cost("(fresh process per call)", c0, c1, ncall);
    /* The same with a 2 ms pause between calls (a server that is not
     * saturated): the spare process is always ready. */
    for (int i = 0; i < ncall / 2; i++) {
        struct timespec pause = {0, 2000000};
        nanosleep(&pause, NULL);
        int64_t s = now_ns();
        one_call(pool, percall);
        ns[i] = now_ns() - s;
    }
    report("  ... with 2 ms between calls", ns, ncall / 2);

    for (int i = 0; i < nfork; i++) {
        int64_t s = now_ns();
        pid_t p = fork();
        if (p == 0)
            _exit(0);
        waitpid(p, NULL, 0);
        ns[i] = now_ns() - s;
    }
    report("plain fork+exit+wait (this process)", ns, nfork);

    printf("warm sandboxed process %d: Pss %ld kB, Rss %ld kB (zygote %d: Pss %ld kB, Rss %ld kB)\n",
           (int)wpid, smaps_kb(wpid, "Pss"), smaps_kb(wpid, "Rss"), (int)brd_sandbox_pool_zygote_pid(pool),
           smaps_kb(brd_sandbox_pool_zygote_pid(pool), "Pss"), smaps_kb(brd_sandbox_pool_zygote_pid(pool), "Rss"));
    brd_sandbox_pool_free(pool);
    brd_pyfn_free(warm);
    brd_pyfn_free(percall);
    served_path(ncall, ns);
    free(ns);
    return 0;
}
