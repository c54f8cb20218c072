/* fnrunner.c — adapts sandbox/sandbox.h to the engine's brd_fn_runner. */
#include "fnrunner.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/selfpid.h"
#include "sandbox.h"

/* One pool per process, made lazily: a worker forked from the master
 * must start its own zygote, never share the parent's. */
static struct brd_sandbox_pool *pool;
static pid_t pool_owner;

static struct brd_sandbox_pool *this_process_pool(struct brd_error *err)
{
    if (pool && pool_owner == brd_self_pid())
        return pool;
    pool = NULL; /* inherited across fork: the parent's, not ours to use */
    if (brd_sandbox_pool_new(&pool, err) != 0)
        return NULL;
    pool_owner = brd_self_pid();
    return pool;
}

static int fr_load(void *self, const char *dir, const char *name, void **fn,
                   struct brd_diags *d)
{
    (void)self;
    struct brd_error err;
    brd_error_clear(&err);
    struct brd_pyfn *f = NULL;
    if (brd_pyfn_load(dir, name, &f, &err) != 0) {
        *fn = NULL;
        return brd_diag_add(d, "%s", err.msg);
    }
    *fn = f;
    return 0;
}

static void fr_unload(void *self, void *fn)
{
    (void)self;
    if (pool && pool_owner == brd_self_pid())
        brd_sandbox_pool_forget(pool, fn);
    brd_pyfn_free(fn);
}

static int fr_start(void *self, void *fn, const char *event, size_t len,
                    const struct brd_fn_ctx *ctx, struct brd_fn_call **call,
                    struct brd_error *err)
{
    (void)self;
    struct brd_sandbox_pool *p = this_process_pool(err);
    if (!p)
        return -1;
    struct brd_sandbox_context sctx = {ctx->request_id, ctx->workflow, ctx->node,
                                       ctx->deadline_us > 0 ? ctx->deadline_us * 1000 : 0};
    struct brd_sandbox_call *c = NULL;
    if (brd_sandbox_call_start(p, fn, event, len, &sctx, &c, err) != 0)
        return -1;
    *call = (struct brd_fn_call *)c;
    return 0;
}

static int fr_fd(struct brd_fn_call *call)
{
    return brd_sandbox_call_fd((struct brd_sandbox_call *)call);
}

static int64_t fr_deadline(struct brd_fn_call *call)
{
    int64_t ns = brd_sandbox_call_deadline_ns((struct brd_sandbox_call *)call);
    return ns > 0 ? ns / 1000 : INT64_MAX;
}

static void fr_step(struct brd_fn_call *call, bool timed_out, bool *done)
{
    struct brd_sandbox_call *c = (struct brd_sandbox_call *)call;
    if (timed_out)
        brd_sandbox_call_timeout(c);
    else
        brd_sandbox_call_step(c);
    *done = brd_sandbox_call_done(c);
}

static void fr_finish(struct brd_fn_call *call, struct brd_fn_result *res)
{
    struct brd_sandbox_call *c = (struct brd_sandbox_call *)call;
    struct brd_sandbox_result r;
    memset(&r, 0, sizeof r);
    memset(res, 0, sizeof *res);
    res->status = brd_sandbox_call_collect(c, &r);
    brd_sandbox_call_free(c);
    if (res->status == 0) {
        res->value = r.value;
        r.value = NULL;
    } else {
        res->err = r.err;
    }
    if (r.output && r.output_len) {
        res->output = r.output;
        r.output = NULL;
    }
    res->traceback = r.traceback;
    r.traceback = NULL;
    brd_sandbox_result_free(&r);
}

static void fr_cancel(struct brd_fn_call *call)
{
    brd_sandbox_call_free((struct brd_sandbox_call *)call);
}

static const struct brd_fn_runner_ops ops = {
    fr_load, fr_unload, fr_start, fr_fd, fr_deadline, fr_step, fr_finish, fr_cancel,
};

int brd_fnrunner_init(struct brd_fn_runner *runner, struct brd_error *err)
{
    if (brd_sandbox_init(NULL, err) != 0)
        return -1;
    runner->ops = &ops;
    runner->self = NULL;
    return 0;
}

int brd_fnrunner_prewarm(void *const *fns, size_t n, struct brd_error *err)
{
    if (n == 0)
        return 0;
    struct brd_sandbox_pool *p = this_process_pool(err);
    if (!p)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (brd_sandbox_pool_prewarm(p, fns[i], err) != 0)
            return -1;
    return 0;
}

bool brd_fnrunner_usable(void)
{
    if (!pool || pool_owner != brd_self_pid())
        return true;
    /* The worker asks between requests (at least once a second while
     * idle): the moment to reap processes retired since the last call —
     * at most every 100 ms, not after every request of a busy worker (a
     * waitpid per idle process each time; brd_proc_take reaps too). */
    static int64_t last_reap_us;
    int64_t now = brd_now_us();
    if (now - last_reap_us >= 100000) {
        last_reap_us = now;
        brd_sandbox_pool_reap(pool);
    }
    return brd_sandbox_pool_healthy(pool);
}

void brd_fnrunner_shutdown(void)
{
    if (pool && pool_owner == brd_self_pid())
        brd_sandbox_pool_free(pool);
    pool = NULL;
}
