/* test_sandbox_pool.c — the sandbox end to end from C: compiling, warm
 * reuse and recycling, per-call isolation, several calls in flight at once,
 * caller timeouts and cancels, hostile calls followed by normal ones in the
 * same pool, tracebacks, set-up failures refused.  The whole group runs twice, in forked children: with all
 * layers and with seccomp alone (BRAID_SANDBOX_LAYERS=seccomp-only). */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <linux/capability.h>
#include <poll.h>
#include <dirent.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "sandbox.h"

static struct brd_sandbox_pool *pool;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct brd_pyfn *fn_from(const char *name, const char *src, const char *settings)
{
    struct brd_pyfn_settings s;
    struct brd_error err;
    brd_pyfn_settings_default(&s);
    if (settings)
        assert_int_equal(brd_pyfn_settings_parse(settings, strlen(settings), name, &s, &err), 0);
    struct brd_pyfn *fn = NULL;
    if (brd_pyfn_compile(name, name, src, strlen(src), &s, &fn, &err) != 0)
        fail_msg("compile %s: %s", name, err.msg);
    return fn;
}

/* Runs one call to the end; returns 0 if the function succeeded. */
static int run(const struct brd_pyfn *fn, const char *event, struct brd_sandbox_result *res)
{
    struct brd_sandbox_call *call;
    struct brd_error err;
    struct brd_sandbox_context ctx = {.request_id = "r1", .workflow = "wf", .node = "N1"};
    assert_int_equal(brd_sandbox_call_start(pool, fn, event, strlen(event), &ctx, &call, &err), 0);
    brd_sandbox_call_wait(call);
    int rc = brd_sandbox_call_collect(call, res);
    brd_sandbox_call_free(call);
    return rc;
}

static void expect_ok(const struct brd_pyfn *fn, const char *event, const char *json)
{
    struct brd_sandbox_result res;
    if (run(fn, event, &res) != 0)
        fail_msg("%s: %s: %s", brd_pyfn_name(fn), brd_code_name(res.err.code), res.err.msg);
    assert_string_equal(res.json, json);
    brd_sandbox_result_free(&res);
}

static const char normal_src[] =
    "import json\n"
    "def handler(event, context):\n"
    "    return {'n': json.loads(event)['n'], 'node': context['node']}\n";

static void compile_errors_name_file_and_line(void **state)
{
    (void)state;
    struct brd_pyfn *fn;
    struct brd_error err;
    const char *bad = "x = 1\ndef handler(event, context:\n    pass\n";
    assert_int_equal(brd_pyfn_compile("f", "dir/functions/f.py", bad, strlen(bad), NULL, &fn, &err), -1);
    assert_int_equal(err.code, BRD_E_LOAD);
    assert_non_null(strstr(err.msg, "dir/functions/f.py:2:"));
    const char *nohandler = "def other(e, c):\n    pass\n";
    assert_int_equal(brd_pyfn_compile("f", "f.py", nohandler, strlen(nohandler), NULL, &fn, &err), -1);
    assert_non_null(strstr(err.msg, "no handler"));
    static const char nul[] = "def handler(e, c):\n    return '\0'\n";
    assert_int_equal(brd_pyfn_compile("f", "f.py", nul, sizeof nul - 1, NULL, &fn, &err), -1);
    assert_non_null(strstr(err.msg, "f.py:2:"));
}

static void warm_process_is_reused_and_keeps_state(void **state)
{
    (void)state;
    struct brd_pyfn *fn = fn_from("counter", "n = 0\ndef handler(e, c):\n    global n\n    n += 1\n    return n\n", NULL);
    struct brd_sandbox_result a, b;
    assert_int_equal(run(fn, "{}", &a), 0);
    assert_int_equal(run(fn, "{}", &b), 0);
    assert_string_equal(a.json, "1");
    assert_string_equal(b.json, "2");
    assert_int_equal(a.pid, b.pid);
    assert_int_equal(a.process_calls, 1);
    assert_int_equal(b.process_calls, 2);
    brd_sandbox_result_free(&a);
    brd_sandbox_result_free(&b);
    brd_sandbox_pool_forget(pool, fn);
    brd_pyfn_free(fn);
}

/* A warm process's RLIMIT_CPU counts its whole life: many calls that each
 * use a little CPU must not add up to a FUNCTION_TIMEOUT.  With
 * timeout_ms 1000 the first budget is 2 s; these calls use ~3 s in all
 * (each well inside its wall-clock limit even on a loaded machine). */
static void warm_process_survives_many_short_cpu_calls(void **state)
{
    (void)state;
    struct brd_pyfn *fn = fn_from("busy",
                                  "import time\n"
                                  "def handler(e, c):\n"
                                  "    t = time.process_time()\n"
                                  "    while time.process_time() - t < 0.03:\n"
                                  "        pass\n"
                                  "    return 1\n",
                                  "{\"timeout_ms\": 1000, \"max_calls\": 1000}");
    pid_t first = 0;
    for (int i = 0; i < 100; i++) {
        struct brd_sandbox_result res;
        if (run(fn, "{}", &res) != 0)
            fail_msg("call %d: %s: %s", i + 1, brd_code_name(res.err.code), res.err.msg);
        if (i == 0)
            first = res.pid;
        /* Still the same process: the limit was raised, not hit. */
        assert_int_equal(res.pid, first);
        brd_sandbox_result_free(&res);
    }
    brd_sandbox_pool_forget(pool, fn);
    brd_pyfn_free(fn);
}

static void warm_process_recycled_after_max_calls(void **state)
{
    (void)state;
    struct brd_pyfn *fn = fn_from("maxed", "n = 0\ndef handler(e, c):\n    global n\n    n += 1\n    return n\n",
                                  "{\"max_calls\": 2}");
    struct brd_sandbox_result r[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(run(fn, "{}", &r[i]), 0);
    assert_string_equal(r[0].json, "1");
    assert_string_equal(r[1].json, "2");
    assert_string_equal(r[2].json, "1"); /* a fresh process */
    assert_int_equal(r[0].pid, r[1].pid);
    assert_int_not_equal(r[1].pid, r[2].pid);
    for (int i = 0; i < 3; i++)
        brd_sandbox_result_free(&r[i]);
    brd_sandbox_pool_forget(pool, fn);
    brd_pyfn_free(fn);
}

static void warm_process_recycled_after_anomaly_not_after_exception(void **state)
{
    (void)state;
    const char *src =
        "import json, time\n"
        "def handler(event, context):\n"
        "    what = json.loads(event)\n"
        "    if what == 'raise': raise ValueError('x')\n"
        "    if what == 'sleep': time.sleep(10)\n"
        "    if what == 'memory': return 'x' * (10 ** 10)\n"
        "    return 'ok'\n";
    struct brd_pyfn *fn = fn_from("moody", src, "{\"timeout_ms\": 300}");
    struct brd_sandbox_result r;
    assert_int_equal(run(fn, "\"ok\"", &r), 0);
    pid_t first = r.pid;
    brd_sandbox_result_free(&r);

    assert_int_equal(run(fn, "\"raise\"", &r), -1);
    assert_int_equal(r.err.code, BRD_E_FUNCTION_ERROR);
    assert_string_equal(r.err.msg, "ValueError: x");
    assert_non_null(r.traceback);
    assert_int_equal(r.pid, first); /* an exception keeps the process */
    brd_sandbox_result_free(&r);

    assert_int_equal(run(fn, "\"sleep\"", &r), -1);
    assert_int_equal(r.err.code, BRD_E_FUNCTION_TIMEOUT);
    brd_sandbox_result_free(&r);
    assert_int_equal(run(fn, "\"ok\"", &r), 0);
    assert_int_not_equal(r.pid, first); /* the timed-out one was replaced */
    pid_t second = r.pid;
    brd_sandbox_result_free(&r);

    assert_int_equal(run(fn, "\"memory\"", &r), -1);
    assert_int_equal(r.err.code, BRD_E_FUNCTION_MEMORY);
    brd_sandbox_result_free(&r);
    assert_int_equal(run(fn, "\"ok\"", &r), 0);
    assert_int_not_equal(r.pid, second);
    brd_sandbox_result_free(&r);
    brd_sandbox_pool_forget(pool, fn);
    brd_pyfn_free(fn);
}

static void isolation_call_gives_every_call_a_fresh_process(void **state)
{
    (void)state;
    struct brd_pyfn *fn = fn_from("fresh", "n = 0\ndef handler(e, c):\n    global n\n    n += 1\n    return n\n",
                                  "{\"isolation\": \"call\"}");
    pid_t pids[4];
    for (int i = 0; i < 4; i++) {
        struct brd_sandbox_result r;
        assert_int_equal(run(fn, "{}", &r), 0);
        assert_string_equal(r.json, "1");
        assert_int_equal(r.process_calls, 1);
        pids[i] = r.pid;
        for (int j = 0; j < i; j++)
            assert_int_not_equal(pids[j], pids[i]);
        brd_sandbox_result_free(&r);
    }
    brd_sandbox_pool_forget(pool, fn);
    brd_pyfn_free(fn);
}

static void calls_in_flight_overlap(void **state)
{
    (void)state;
    const char *src = "import time\ndef handler(e, c):\n    time.sleep(0.3)\n    return c['node']\n";
    struct brd_pyfn *fns[3] = {fn_from("s1", src, NULL), fn_from("s2", src, NULL),
                               fn_from("s3", src, "{\"isolation\": \"call\"}")};
    /* Warm them up so that the measurement is about the calls. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(brd_sandbox_pool_prewarm(pool, fns[i], NULL), 0);
    enum { N = 5 };
    struct brd_sandbox_call *calls[N];
    const struct brd_pyfn *which[N] = {fns[0], fns[1], fns[2], fns[0], fns[1]};
    int64_t t0 = now_ns();
    for (int i = 0; i < N; i++) {
        char node[8];
        snprintf(node, sizeof node, "n%d", i);
        struct brd_sandbox_context ctx = {.node = node};
        struct brd_error err;
        assert_int_equal(brd_sandbox_call_start(pool, which[i], "{}", 2, &ctx, &calls[i], &err), 0);
    }
    int left = N;
    while (left > 0) {
        struct pollfd pf[N];
        int map[N], n = 0;
        for (int i = 0; i < N; i++) {
            if (calls[i] && !brd_sandbox_call_done(calls[i])) {
                pf[n].fd = brd_sandbox_call_fd(calls[i]);
                pf[n].events = POLLIN;
                map[n++] = i;
            }
        }
        assert_true(poll(pf, (nfds_t)n, 2000) > 0);
        for (int k = 0; k < n; k++) {
            if (pf[k].revents && brd_sandbox_call_step(calls[map[k]]) == 1) {
                struct brd_sandbox_result r;
                int i = map[k];
                assert_int_equal(brd_sandbox_call_collect(calls[i], &r), 0);
                char want[12];
                snprintf(want, sizeof want, "\"n%d\"", i);
                assert_string_equal(r.json, want);
                brd_sandbox_result_free(&r);
                left--;
            }
        }
    }
    int64_t ms = (now_ns() - t0) / 1000000;
    /* Five 300 ms calls in sequence take 1.5 s; overlapped, about 0.3 s
     * (the two second calls of s1/s2 get new processes). */
    print_message("5 overlapping 300 ms calls took %lld ms\n", (long long)ms);
    assert_true(ms < 900);
    for (int i = 0; i < N; i++)
        brd_sandbox_call_free(calls[i]);
    for (int i = 0; i < 3; i++) {
        brd_sandbox_pool_forget(pool, fns[i]);
        brd_pyfn_free(fns[i]);
    }
}

static void caller_timeout_cancel_and_deadline(void **state)
{
    (void)state;
    struct brd_pyfn *slow = fn_from("slow", "import time\ndef handler(e, c):\n    time.sleep(5)\n", NULL);
    struct brd_pyfn *ok = fn_from("ok", normal_src, NULL);
    struct brd_sandbox_call *call;
    struct brd_sandbox_result r;
    struct brd_error err;
    /* The caller decides the deadline passed. */
    assert_int_equal(brd_sandbox_call_start(pool, slow, "{}", 2, NULL, &call, &err), 0);
    assert_int_equal(brd_sandbox_call_step(call), 0);
    brd_sandbox_call_timeout(call);
    assert_int_equal(brd_sandbox_call_collect(call, &r), -1);
    assert_int_equal(r.err.code, BRD_E_FUNCTION_TIMEOUT);
    brd_sandbox_result_free(&r);
    brd_sandbox_call_free(call);
    /* Cancelled. */
    assert_int_equal(brd_sandbox_call_start(pool, slow, "{}", 2, NULL, &call, &err), 0);
    brd_sandbox_call_cancel(call);
    assert_int_equal(brd_sandbox_call_collect(call, &r), -1);
    assert_int_equal(r.err.code, BRD_E_INTERNAL);
    brd_sandbox_result_free(&r);
    brd_sandbox_call_free(call);
    /* Freed while in flight. */
    assert_int_equal(brd_sandbox_call_start(pool, slow, "{}", 2, NULL, &call, &err), 0);
    brd_sandbox_call_free(call);
    /* A context deadline earlier than timeout_ms wins; the fd wakes for it. */
    struct brd_sandbox_context ctx = {.deadline_ns = now_ns() + 200 * 1000000LL};
    int64_t t0 = now_ns();
    assert_int_equal(brd_sandbox_call_start(pool, slow, "{}", 2, &ctx, &call, &err), 0);
    assert_true(brd_sandbox_call_deadline_ns(call) == ctx.deadline_ns);
    /* Only the fd tells us to step (the process's READY, then the timer). */
    int steps = 0;
    do {
        struct pollfd pf = {.fd = brd_sandbox_call_fd(call), .events = POLLIN};
        assert_int_equal(poll(&pf, 1, 3000), 1);
        steps++;
    } while (brd_sandbox_call_step(call) == 0 && steps < 10);
    assert_true(brd_sandbox_call_done(call));
    assert_true(now_ns() - t0 >= 190 * 1000000LL);
    assert_true(now_ns() - t0 < 1000 * 1000000LL);
    assert_int_equal(brd_sandbox_call_collect(call, &r), -1);
    assert_int_equal(r.err.code, BRD_E_FUNCTION_TIMEOUT);
    assert_non_null(strstr(r.err.msg, "deadline"));
    brd_sandbox_result_free(&r);
    brd_sandbox_call_free(call);
    expect_ok(ok, "{\"n\": 1}", "{\"n\":1,\"node\":\"N1\"}");
    brd_sandbox_pool_forget(pool, slow);
    brd_sandbox_pool_forget(pool, ok);
    brd_pyfn_free(slow);
    brd_pyfn_free(ok);
}

/* Hostile calls, each followed by a normal call in the same pool. */
static void hostile_then_normal_in_one_pool(void **state)
{
    (void)state;
    static const struct {
        const char *src;
        enum brd_code code;
    } cases[] = {
        {"import random\ndef handler(e, c):\n    random._os.system('true')\n", BRD_E_SANDBOX_VIOLATION},
        {"def handler(e, c):\n    return open('/etc/hostname').read()\n", BRD_E_SANDBOX_VIOLATION},
        {"import random\ndef handler(e, c):\n    random._os.kill(random._os.getpid() - 1, 9)\n", BRD_E_SANDBOX_VIOLATION},
        {"import random\ndef handler(e, c):\n    random._os.fork()\n", BRD_E_SANDBOX_VIOLATION},
        {"import random\ndef handler(e, c):\n    random._os.write(3, b'junk' * 100)\n    return 1\n", BRD_E_SANDBOX_VIOLATION},
        {"def handler(e, c):\n    return [0] * (10 ** 9)\n", BRD_E_FUNCTION_MEMORY},
        {"def handler(e, c):\n    while True: pass\n", BRD_E_FUNCTION_TIMEOUT},
        {"def f(): return f()\ndef handler(e, c):\n    return f()\n", BRD_E_FUNCTION_ERROR},
        {"def handler(e, c):\n    return {1, 2}\n", BRD_E_FUNCTION_ERROR},
        {"def handler(e, c):\n    return 'x' * (2 << 20)\n", BRD_E_FUNCTION_ERROR},
        {"class E(Exception):\n    def __str__(self): raise E()\ndef handler(e, c):\n    raise E()\n", BRD_E_FUNCTION_ERROR},
    };
    struct brd_pyfn *ok = fn_from("ok", normal_src, NULL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[16];
        snprintf(name, sizeof name, "evil%zu", i);
        struct brd_pyfn *evil = fn_from(name, cases[i].src, "{\"timeout_ms\": 300}");
        struct brd_sandbox_result r;
        assert_int_equal(run(evil, "{}", &r), -1);
        if (r.err.code != cases[i].code)
            fail_msg("case %zu: %s: %s", i, brd_code_name(r.err.code), r.err.msg);
        brd_sandbox_result_free(&r);
        expect_ok(ok, "{\"n\": 7}", "{\"n\":7,\"node\":\"N1\"}");
        brd_sandbox_pool_forget(pool, evil);
        brd_pyfn_free(evil);
    }
    brd_sandbox_pool_forget(pool, ok);
    brd_pyfn_free(ok);
}

/* One function poisons everything it can reach; another, in the same pool
 * (warm processes of both alive), sees none of it. */
static void no_state_shared_between_functions(void **state)
{
    (void)state;
    const char *poison =
        "import json, random, re, pickle\n"
        "def handler(e, c):\n"
        "    json.loads = lambda *a, **k: 'poisoned'\n"
        "    random.seed(1)\n"
        "    pickle.sys.modules['builtins'].len = lambda x: -1\n"
        "    re.compile = None\n"
        "    return 'done'\n";
    const char *check =
        "import json, random, re\n"
        "def handler(e, c):\n"
        "    return [json.loads('[1]'), len([1, 2]), re.compile('a').pattern,\n"
        "            random.random() != 0.13436424411240122]\n";
    struct brd_pyfn *a = fn_from("poison", poison, NULL);
    struct brd_pyfn *b = fn_from("check", check, NULL);
    expect_ok(a, "{}", "\"done\"");
    expect_ok(b, "{}", "[[1],2,\"a\",true]");
    expect_ok(a, "{}", "\"done\"");
    expect_ok(b, "{}", "[[1],2,\"a\",true]");
    brd_sandbox_pool_forget(pool, a);
    brd_sandbox_pool_forget(pool, b);
    brd_pyfn_free(a);
    brd_pyfn_free(b);
}

static void two_processes_never_share_a_random_stream(void **state)
{
    (void)state;
    /* gauss() too: the zygote's warm-up leaves its second value in
     * gauss_next, which every process must forget (brd_runner_after_fork). */
    struct brd_pyfn *fn = fn_from("rnd",
                                  "import random\ndef handler(e, c):\n"
                                  "    return [random.gauss(0, 1), random.getrandbits(62)]\n",
                                  "{\"isolation\": \"call\"}");
    struct brd_sandbox_result a, b;
    assert_int_equal(run(fn, "{}", &a), 0);
    assert_int_equal(run(fn, "{}", &b), 0);
    assert_string_not_equal(a.json, b.json);
    assert_true(strncmp(a.json, b.json, strcspn(a.json, ",")) != 0); /* the gauss() values */
    brd_sandbox_result_free(&a);
    brd_sandbox_result_free(&b);
    brd_sandbox_pool_forget(pool, fn);
    brd_pyfn_free(fn);
}

/* The traceback of a call quotes the function's own source line.  The
 * source came with INIT, whose buffer is freed once the module has run:
 * it used to be read from there, so a later allocation of the same size
 * (here: an event of the right length) overwrote the lines. */
static void tracebacks_quote_the_source_in_every_call(void **state)
{
    (void)state;
    static const char src[] =
        "def handler(event, context):\n"
        "    n = len(event)\n"
        "    raise ValueError('boom %d' % n)\n";
    static const char *const settings[] = {NULL, "{\"isolation\": \"call\"}"};
    enum { MAXLEN = 2000 };
    char *event = malloc(MAXLEN + 3);
    assert_non_null(event);
    for (int k = 0; k < 2; k++) {
        struct brd_pyfn *fn = fn_from("tb", src, settings[k]);
        for (int len = 16; len <= MAXLEN; len += k == 0 ? 4 : 24) {
            event[0] = '"';
            memset(event + 1, 'Q', (size_t)len);
            event[len + 1] = '"';
            event[len + 2] = '\0';
            struct brd_sandbox_result r;
            assert_int_equal(run(fn, event, &r), -1);
            assert_int_equal(r.err.code, BRD_E_FUNCTION_ERROR);
            if (!r.traceback || !strstr(r.traceback, "    raise ValueError('boom %d' % n)\n"))
                fail_msg("%s, event of %d bytes: traceback %s", settings[k] ? "call" : "warm", len + 2,
                         r.traceback ? r.traceback : "(none)");
            brd_sandbox_result_free(&r);
        }
        brd_sandbox_pool_forget(pool, fn);
        brd_pyfn_free(fn);
    }
    free(event);
}

/* ---- set-up failures in the sandboxed process ------------------------------------ */

/* Runs body in a forked child (its own pool; `pool` belongs to the parent):
 * the child's exit status says 0 = passed, 77 = cannot be checked here,
 * anything else = failed (the child printed why). */
static void in_child(const char *what, int (*body)(const struct brd_pyfn *fn), const struct brd_pyfn *fn)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        brd_sandbox_after_fork();
        _exit(body(fn));
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
        print_message("%s: not checked here (see its output)\n", what);
        return;
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("%s failed (status %#x)", what, st);
}

/* One call in a new pool of this (child) process; 0 when it fails with
 * INTERNAL and a message containing want. */
static int expect_refusal(const struct brd_pyfn *fn, const char *want)
{
    struct brd_sandbox_pool *own;
    struct brd_error err;
    if (brd_sandbox_pool_new(&own, &err) != 0) {
        fprintf(stderr, "pool: %s\n", err.msg);
        return 1;
    }
    int rc = 0;
    for (int i = 0; i < 2 && rc == 0; i++) { /* and again: every new process refuses */
        struct brd_sandbox_call *call;
        struct brd_sandbox_result r;
        if (brd_sandbox_call_start(own, fn, "{}", 2, NULL, &call, &err) != 0) {
            fprintf(stderr, "start: %s\n", err.msg);
            rc = 1;
            break;
        }
        brd_sandbox_call_wait(call);
        if (brd_sandbox_call_collect(call, &r) == 0 || r.err.code != BRD_E_INTERNAL ||
            !strstr(r.err.msg, "could not set itself up") || !strstr(r.err.msg, want)) {
            fprintf(stderr, "call %d: want INTERNAL \"...%s...\", got %s: %s\n", i + 1, want,
                    brd_code_name(r.err.code), r.ok ? r.json : r.err.msg);
            rc = 1;
        }
        brd_sandbox_result_free(&r);
        brd_sandbox_call_free(call);
    }
    brd_sandbox_pool_free(own);
    return rc;
}

/* A seccomp filter in this (child) process, inherited by its zygote and
 * sandboxed processes, that makes one call fail with EPERM. */
static int deny(int nr, unsigned nargs, struct scmp_arg_cmp a, struct scmp_arg_cmp b)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        (nargs == 1 ? seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 1, a)
                    : seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 2, a, b)) != 0 ||
        seccomp_load(ctx) != 0) {
        fprintf(stderr, "cannot install the test's seccomp filter\n");
        return -1;
    }
    seccomp_release(ctx);
    return 0;
}

static int refused_when_not_dumpable_fails(const struct brd_pyfn *fn)
{
    if (deny(SCMP_SYS(prctl), 1, SCMP_A0(SCMP_CMP_EQ, PR_SET_DUMPABLE), SCMP_A0(SCMP_CMP_EQ, 0)) != 0)
        return 1;
    return expect_refusal(fn, "not dumpable");
}

static int refused_when_an_rlimit_fails(const struct brd_pyfn *fn)
{
    /* glibc's setrlimit is prlimit64(0, res, new, NULL); getrlimit passes
     * no new limit and still works. */
    if (deny(SCMP_SYS(prlimit64), 2, SCMP_A1(SCMP_CMP_EQ, RLIMIT_AS), SCMP_A2(SCMP_CMP_NE, 0)) != 0)
        return 1;
    return expect_refusal(fn, "resource limit");
}

static int refused_when_capabilities_stay(const struct brd_pyfn *fn)
{
    if (deny(SCMP_SYS(capset), 1, SCMP_A0(SCMP_CMP_NE, 0), SCMP_A0(SCMP_CMP_NE, 0)) != 0)
        return 1;
    return expect_refusal(fn, "capabilities");
}

/* Every protection of the sandboxed process is checked: when one cannot be
 * put in place the process refuses to run user code and the call fails
 * with INTERNAL naming why (these used to be ignored: the function ran
 * dumpable, or without its address-space limit). */
static void process_refuses_to_run_unprotected(void **state)
{
    (void)state;
    struct brd_pyfn *fn = fn_from("unprotected", "def handler(e, c):\n    return 'ran'\n", NULL);
    in_child("PR_SET_DUMPABLE refused", refused_when_not_dumpable_fails, fn);
    in_child("setrlimit(RLIMIT_AS) refused", refused_when_an_rlimit_fails, fn);
    in_child("capset refused", refused_when_capabilities_stay, fn);
    brd_pyfn_free(fn);
}

/* Drops CAP_SYS_RESOURCE for good (this process and what it execs), so
 * that a hard limit cannot be raised, as in a worker that is not root. */
static void drop_sys_resource(void)
{
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    prctl(PR_CAPBSET_DROP, CAP_SYS_RESOURCE, 0, 0, 0);
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) == 0) {
        unsigned bit = 1u << (CAP_SYS_RESOURCE % 32);
        d[CAP_SYS_RESOURCE / 32].effective &= ~bit;
        d[CAP_SYS_RESOURCE / 32].permitted &= ~bit;
        d[CAP_SYS_RESOURCE / 32].inheritable &= ~bit;
        syscall(SYS_capset, &h, d);
    }
}

static int cpu_limit_kept_under_a_lower_hard_limit(const struct brd_pyfn *fn)
{
    drop_sys_resource();
    struct rlimit low = {.rlim_cur = 3600, .rlim_max = 3600}, up = {.rlim_cur = 3600, .rlim_max = 7200};
    if (setrlimit(RLIMIT_CPU, &low) != 0)
        return 1;
    if (setrlimit(RLIMIT_CPU, &up) == 0) {
        printf("CAP_SYS_RESOURCE cannot be dropped here: hard limits can be raised\n");
        return 77;
    }
    struct brd_sandbox_pool *own;
    struct brd_error err;
    if (brd_sandbox_pool_new(&own, &err) != 0) {
        fprintf(stderr, "pool: %s\n", err.msg);
        return 1;
    }
    struct brd_sandbox_call *call;
    struct brd_sandbox_result r;
    if (brd_sandbox_call_start(own, fn, "{}", 2, NULL, &call, &err) != 0)
        return 1;
    brd_sandbox_call_wait(call);
    int rc = brd_sandbox_call_collect(call, &r);
    brd_sandbox_call_free(call);
    if (rc != 0) {
        fprintf(stderr, "call: %s: %s\n", brd_code_name(r.err.code), r.err.msg);
        return 1;
    }
    /* The warm process is alive: its limits, as the kernel has them.  The
     * soft limit is the call's budget (⌈1000 ms⌉ + 1 s), under the
     * inherited hard limit; it used to stay at the inherited 3600 s. */
    struct rlimit got;
    rc = prlimit(r.pid, RLIMIT_CPU, NULL, &got);
    if (rc != 0 || got.rlim_cur != 2 || got.rlim_max != 3600) {
        fprintf(stderr, "RLIMIT_CPU of the sandboxed process: %ld / %ld, want 2 / 3600\n",
                rc ? -1L : (long)got.rlim_cur, rc ? -1L : (long)got.rlim_max);
        rc = 1;
    }
    brd_sandbox_result_free(&r);
    brd_sandbox_pool_free(own);
    return rc;
}

/* A worker whose own hard RLIMIT_CPU is below the sandbox's 24 h (and that
 * cannot raise it) still gives each process its CPU budget. */
static void cpu_budget_holds_under_a_lower_inherited_limit(void **state)
{
    (void)state;
    struct brd_pyfn *fn = fn_from("budget", "def handler(e, c):\n    return 1\n", "{\"timeout_ms\": 1000}");
    in_child("RLIMIT_CPU under an inherited hard limit", cpu_limit_kept_under_a_lower_hard_limit, fn);
    brd_pyfn_free(fn);
}

/* ---- no user code between calls; reaping; how a process died ------------------- */

/* Fields of /proc/PID/stat after the command: state (3), ppid (4), utime (14), stime (15). */
static int proc_stat(pid_t pid, char *state, pid_t *ppid, long *cpu_ticks)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    int pp = 0;
    char s = 0;
    if (!p || sscanf(p + 2, "%c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &s, &pp, &ut, &st) != 4)
        return -1;
    *state = s;
    *ppid = pp;
    *cpu_ticks = (long)(ut + st);
    return 0;
}

/* This process's children but the zygote: how many are zombies, and the
 * CPU (ms) the live ones have used. */
static void children(int *zombies, long *cpu_ms)
{
    *zombies = 0;
    *cpu_ms = 0;
    long hz = sysconf(_SC_CLK_TCK);
    pid_t me = getpid(), zpid = brd_sandbox_pool_zygote_pid(pool);
    DIR *d = opendir("/proc");
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        pid_t pid = (pid_t)atoi(e->d_name);
        char state;
        pid_t ppid;
        long ticks;
        if (pid <= 0 || pid == zpid || proc_stat(pid, &state, &ppid, &ticks) != 0 || ppid != me)
            continue;
        if (state == 'Z')
            (*zombies)++;
        else
            *cpu_ms += ticks * 1000 / hz;
    }
    closedir(d);
}

static void pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* A str subclass's __del__ runs once the reply has been sent (the encoder
 * is patched to return one): the process is stopped by then. */
static void no_cpu_after_the_reply(void **state)
{
    (void)state;
    struct brd_pyfn *fn = fn_from("afterwards",
                                  "import json\n"
                                  "class S(str):\n"
                                  "    def __del__(self):\n"
                                  "        while True:\n"
                                  "            pass\n"
                                  "def handler(e, c):\n"
                                  "    json.JSONEncoder.encode = lambda self, o: S('\"ok\"')\n"
                                  "    return 1\n",
                                  "{\"timeout_ms\": 3000}");
    struct brd_sandbox_result r;
    assert_int_equal(run(fn, "{}", &r), 0);
    assert_string_equal(r.json, "\"ok\"");
    char st;
    pid_t ppid;
    long t0, t1;
    pause_ms(50);
    assert_int_equal(proc_stat(r.pid, &st, &ppid, &t0), 0);
    pause_ms(400);
    assert_int_equal(proc_stat(r.pid, &st, &ppid, &t1), 0);
    long hz = sysconf(_SC_CLK_TCK);
    if ((t1 - t0) * 1000 / hz > 30)
        fail_msg("the process used %ld ms of CPU with no call in flight", (t1 - t0) * 1000 / hz);
    /* Its next call continues it: the __del__ then spins in that call's budget. */
    struct brd_sandbox_result r2;
    assert_int_not_equal(run(fn, "{}", &r2), 0);
    assert_int_equal(r2.err.code, BRD_E_FUNCTION_TIMEOUT);
    brd_sandbox_result_free(&r);
    brd_sandbox_result_free(&r2);
    brd_sandbox_pool_forget(pool, fn);
    brd_pyfn_free(fn);
}

/* Top-level code that burns 0.5 s of CPU: a per-call spare and a prewarmed
 * warm process run none of it until a call comes. */
static const char slow_top_src[] = "import time\n"
                                   "t = time.process_time()\n"
                                   "while time.process_time() - t < 0.5:\n"
                                   "    pass\n"
                                   "def handler(e, c):\n"
                                   "    return 1\n";

static void no_top_level_code_without_a_call(void **state)
{
    (void)state;
    int z;
    long base, cpu;
    struct brd_pyfn *spare = fn_from("spare", slow_top_src, "{\"isolation\": \"call\", \"timeout_ms\": 5000}");
    struct brd_sandbox_result r;
    assert_int_equal(run(spare, "{}", &r), 0); /* its process is gone; the spare is made now */
    brd_sandbox_result_free(&r);
    children(&z, &base);
    pause_ms(900);
    children(&z, &cpu);
    if (cpu - base > 150)
        fail_msg("the per-call spare used %ld ms of CPU before any call", cpu - base);
    assert_int_equal(run(spare, "{}", &r), 0);
    assert_string_equal(r.json, "1");
    brd_sandbox_result_free(&r);
    brd_sandbox_pool_forget(pool, spare);
    brd_pyfn_free(spare);

    struct brd_pyfn *warm = fn_from("prewarmed", slow_top_src, "{\"timeout_ms\": 5000}");
    struct brd_error err;
    children(&z, &base);
    assert_int_equal(brd_sandbox_pool_prewarm(pool, warm, &err), 0);
    pause_ms(900);
    children(&z, &cpu);
    if (cpu - base > 150)
        fail_msg("the prewarmed process used %ld ms of CPU before any call", cpu - base);
    assert_int_equal(run(warm, "{}", &r), 0);
    brd_sandbox_result_free(&r);
    brd_sandbox_pool_forget(pool, warm);
    brd_pyfn_free(warm);

    /* Top-level code that never ends fails the first call within its budget. */
    struct brd_pyfn *forever = fn_from("forever", "while True:\n    pass\ndef handler(e, c):\n    return 1\n",
                                       "{\"timeout_ms\": 300}");
    int64_t t0 = now_ns();
    assert_int_not_equal(run(forever, "{}", &r), 0);
    assert_int_equal(r.err.code, BRD_E_FUNCTION_TIMEOUT);
    assert_non_null(strstr(r.err.msg, "top-level code"));
    assert_true(now_ns() - t0 < 2000000000LL);
    brd_sandbox_result_free(&r);
    brd_sandbox_pool_forget(pool, forever);
    brd_pyfn_free(forever);
}

/* A process retired after max_calls is reaped while the pool is idle. */
static void retired_process_reaped_while_idle(void **state)
{
    (void)state;
    struct brd_pyfn *fn = fn_from("thrice", normal_src, "{\"max_calls\": 3}");
    for (int i = 0; i < 3; i++) {
        struct brd_sandbox_result r;
        assert_int_equal(run(fn, "{\"n\": 1}", &r), 0);
        brd_sandbox_result_free(&r);
    }
    int z = 0;
    long cpu;
    for (int i = 0; i < 20; i++) { /* the owner's idle loop, ticking */
        pause_ms(50);
        brd_sandbox_pool_reap(pool);
        children(&z, &cpu);
        if (z == 0)
            break;
    }
    assert_int_equal(z, 0);
    brd_sandbox_pool_forget(pool, fn);
    brd_pyfn_free(fn);
}

/* Killed from outside mid-call (an operator's kill -9): the call says so. */
static void killed_from_outside_is_named(void **state)
{
    (void)state;
    struct brd_pyfn *fn = fn_from("victim",
                                  "import time\ndef handler(e, c):\n    if e == '1':\n        time.sleep(30)\n",
                                  "{\"timeout_ms\": 20000}");
    struct brd_sandbox_result r;
    assert_int_equal(run(fn, "0", &r), 0); /* its warm process, and its pid */
    pid_t pid = r.pid;
    brd_sandbox_result_free(&r);
    struct brd_sandbox_call *call;
    struct brd_error err;
    assert_int_equal(brd_sandbox_call_start(pool, fn, "1", 1, NULL, &call, &err), 0);
    pause_ms(300);
    (void)brd_sandbox_call_step(call);
    assert_int_equal(kill(pid, SIGKILL), 0);
    brd_sandbox_call_wait(call);
    assert_int_not_equal(brd_sandbox_call_collect(call, &r), 0);
    brd_sandbox_call_free(call);
    assert_int_equal(r.pid == 0 || r.pid == pid, 1);
    if (r.err.code != BRD_E_FUNCTION_ERROR || !strstr(r.err.msg, "signal 9"))
        fail_msg("%s: %s", brd_code_name(r.err.code), r.err.msg);
    brd_sandbox_result_free(&r);
    brd_sandbox_pool_forget(pool, fn);
    brd_pyfn_free(fn);
}

static int setup(void **state)
{
    (void)state;
    struct brd_error err;
    if (brd_sandbox_init(NULL, &err) != 0 || brd_sandbox_pool_new(&pool, &err) != 0) {
        fprintf(stderr, "sandbox: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    brd_sandbox_pool_free(pool);
    pool = NULL;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(compile_errors_name_file_and_line),
        cmocka_unit_test(warm_process_is_reused_and_keeps_state),
        cmocka_unit_test(warm_process_survives_many_short_cpu_calls),
        cmocka_unit_test(warm_process_recycled_after_max_calls),
        cmocka_unit_test(warm_process_recycled_after_anomaly_not_after_exception),
        cmocka_unit_test(isolation_call_gives_every_call_a_fresh_process),
        cmocka_unit_test(calls_in_flight_overlap),
        cmocka_unit_test(caller_timeout_cancel_and_deadline),
        cmocka_unit_test(hostile_then_normal_in_one_pool),
        cmocka_unit_test(no_state_shared_between_functions),
        cmocka_unit_test(two_processes_never_share_a_random_stream),
        cmocka_unit_test(tracebacks_quote_the_source_in_every_call),
        cmocka_unit_test(process_refuses_to_run_unprotected),
        cmocka_unit_test(cpu_budget_holds_under_a_lower_inherited_limit),
        cmocka_unit_test(no_cpu_after_the_reply),
        cmocka_unit_test(no_top_level_code_without_a_call),
        cmocka_unit_test(retired_process_reaped_while_idle),
        cmocka_unit_test(killed_from_outside_is_named),
    };
    /* brd_sandbox_init fixes the layers once per process: one child each. */
    static const char *const modes[] = {"all", "seccomp-only"};
    int failed = 0;
    for (int m = 0; m < 2; m++) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            setenv("BRAID_SANDBOX_LAYERS", modes[m], 1);
            char name[48];
            snprintf(name, sizeof name, "sandbox_pool[%s]", modes[m]);
            exit(cmocka_run_group_tests_name(name, tests, setup, teardown) == 0 ? 0 : 1);
        }
        int st = 0;
        if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            failed = 1;
    }
    return failed;
}
