/* fnrun.h — how the engine runs function nodes without knowing how.
 *
 * The engine never links CPython: a function runner (the sandbox in the
 * binary, something simpler in tests) is handed to it as this vtable.
 * Calls are non-blocking: start one, wait for its file descriptor to be
 * readable (or its deadline), step it until done, then finish it.
 */
#ifndef BRD_FNRUN_H
#define BRD_FNRUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/diag.h"
#include "base/error.h"
#include "base/jsonutil.h"

struct brd_fn_call;

struct brd_fn_ctx {
    const char *request_id;
    const char *workflow;
    const char *node;
    int64_t deadline_us;    /* absolute CLOCK_MONOTONIC µs the call must end by */
};

struct brd_fn_result {
    int status;                 /* 0 ok, -1 failed */
    struct json_object *value;  /* ok: the returned value (owned; NULL = null) */
    struct brd_error err;       /* failed: FUNCTION_ERROR, FUNCTION_TIMEOUT, ... */
    char *output;               /* captured print() output, or NULL (owned) */
    char *traceback;            /* for exceptions, or NULL (owned) */
};

struct brd_fn_runner_ops {
    /* Load time: compile DIR/functions/NAME.py (+ .json settings).  *fn is
     * the runner's immutable handle; problems go to d naming file and line. */
    int (*load)(void *self, const char *dir, const char *name, void **fn, struct brd_diags *d);
    void (*unload)(void *self, void *fn);
    /* Starts a call with event[0..len) (JSON text). */
    int (*start)(void *self, void *fn, const char *event, size_t len,
                 const struct brd_fn_ctx *ctx, struct brd_fn_call **call, struct brd_error *err);
    /* The descriptor to wait on for readability. */
    int (*fd)(struct brd_fn_call *call);
    /* When the call must have finished (the earlier of ctx->deadline_us and
     * the function's own time limit). */
    int64_t (*deadline)(struct brd_fn_call *call);
    /* Progress after fd became readable, or after deadline() passed
     * (timed_out); sets *done when the call has ended. */
    void (*step)(struct brd_fn_call *call, bool timed_out, bool *done);
    /* Collects a finished call's result and frees the call. */
    void (*finish)(struct brd_fn_call *call, struct brd_fn_result *res);
    /* Abandons a call in flight (its process is killed or recycled). */
    void (*cancel)(struct brd_fn_call *call);
};

struct brd_fn_runner {
    const struct brd_fn_runner_ops *ops;
    void *self;
};

/* Frees what a result owns. */
static inline void brd_fn_result_clear(struct brd_fn_result *res)
{
    json_object_put(res->value);
    res->value = NULL;
    free(res->output);
    free(res->traceback);
    res->output = res->traceback = NULL;
}

#endif
