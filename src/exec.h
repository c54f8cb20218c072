/* exec.h — running a workflow (SPEC sections 5 and 6): node states, the
 * previous output and joins, switches and dead paths, parallel API and
 * function calls in one wait loop, deadlines, on_error, and the trace.
 *
 * An engine is per process (it owns the HTTP client and its kept-alive
 * connections); it runs one workflow at a time against an immutable
 * service.  Nothing here knows FastCGI or CPython.
 */
#ifndef BRD_EXEC_H
#define BRD_EXEC_H

#include <stdbool.h>

#include "base/error.h"
#include "fnrun.h"
#include "base/jsonutil.h"
#include "service.h"

struct brd_engine;

/* A new engine (create it after fork: it holds sockets). */
int brd_engine_new(struct brd_engine **out, struct brd_error *err);
void brd_engine_free(struct brd_engine *e);

struct brd_run_opts {
    const char *request_id;   /* NULL: one is generated */
    bool trace;               /* collect the trace */
    /* Recorded tests (SPEC section 12), both borrowed, both NULL when serving:
     * replay: node id -> {"result": RAW} | {"error": {"code", "message"}}
     *   (shape checked by the caller, testcase.h): API and SQL nodes take
     *   their transfer's outcome from it instead of the network or the
     *   database; their parameters still resolve, their filter and output
     *   run as live.  A node that runs without an entry fails the run
     *   (INTERNAL, naming the node).
     * record: an object the run adds node id -> the same shapes to, for
     *   every API and SQL node whose transfer ended (after its retries). */
    struct json_object *replay;
    struct json_object *record;
};

struct brd_run_result {
    int status;                   /* 0 ok, -1 failed */
    struct json_object *result;   /* ok: the response body (owned; NULL = null) */
    struct brd_error err;         /* failed: code, message, err.node */
    struct json_object *trace;    /* opts.trace: the array of node entries (owned) */
    char request_id[129];         /* the request id used (at most 128 characters) */
};

/* Runs wf of service s with input as the request parameters (an object:
 * declared params are checked and converted first — a failure is
 * BAD_REQUEST).  Always fills res; returns res->status. */
int brd_engine_run(struct brd_engine *e, const struct brd_service *s,
                   const struct brd_workflow *wf, struct json_object *input,
                   const struct brd_run_opts *opts, struct brd_run_result *res);

void brd_run_result_clear(struct brd_run_result *res);

/* The SPEC error body {"error": {"code", "message", "node", "request_id"}}
 * for a failed result (new reference). */
struct json_object *brd_run_error_json(const struct brd_run_result *res);

/* Writes a fresh random request id (32 hex digits) into buf[33]. */
void brd_request_id_new(char buf[33]);

#endif
