/* request.h — one FastCGI request mapped onto a workflow run (SPEC section
 * 7): the route from REQUEST_URI, the method check, START's input from the
 * query string and the body, the run, and the response with its status,
 * headers and body.  Every failure becomes a typed response; nothing here
 * ends the process.  The mapping from the params is apart from the I/O
 * (brd_request_map), so tests and the fuzzer call it without a connection;
 * the text decoders are in form.h. */
#ifndef BRD_REQUEST_H
#define BRD_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <fcgiapp.h>

#include "base/error.h"
#include "exec.h"
#include "base/jsonutil.h"
#include "service.h"

/* What a worker hands each request (all borrowed, fixed for its life). */
struct brd_request_env {
    struct brd_engine *engine;
    const struct brd_service *service;
    const char *base_path;        /* "/api" or NULL */
    size_t max_body;
    bool debug;                   /* X-Braid-Trace: 1 is honoured */
    int32_t *busy_workflow;       /* the worker's scoreboard field, set once routed (may be NULL) */
    const int *sb_index;          /* per service workflow: its scoreboard index */
};

/* What happened, for the log line and the scoreboard. */
struct brd_request_outcome {
    int status;                   /* HTTP status sent */
    enum brd_code code;           /* BRD_OK, or the error's code */
    int workflow;                 /* index in service->workflows, or -1 */
    int sb_workflow;              /* its scoreboard index (BRD_SB_UNROUTED when none) */
    char request_id[130];
    char method[16];
    char path[1030];              /* as requested (still percent-encoded), no query */
};

/* The request as the engine will see it, mapped from its FastCGI params
 * alone (brd_request_map), before any body is read. */
struct brd_request_mapped {
    const struct brd_workflow *wf;   /* the routed workflow (set on a 405 too), or NULL */
    enum brd_method method;          /* valid once the method check passed */
    bool trace;                      /* --debug and X-Braid-Trace: 1 */
    bool wants_body;                 /* not GET: a body, if any, overlays the query */
    long long content_length;        /* CONTENT_LENGTH as declared, or -1 */
    const char *content_type;        /* CONTENT_TYPE, borrowed from the params, or NULL */
    char allow[64];                  /* the Allow header of a 405, else "" */
    struct json_object *input;       /* START's input from the query string (owned) */
};

/* Maps params — a NULL-terminated array of "NAME=value" strings, as
 * FCGX_Accept_r fills req->envp and FCGX_GetParam reads it — onto m:
 * REQUEST_METHOD (default GET), HTTP_X_REQUEST_ID (taken when sane, else
 * a new one), HTTP_X_BRAID_TRACE, the route from REQUEST_URI (or
 * SCRIPT_NAME + PATH_INFO) and env->base_path, the method check,
 * QUERY_STRING (or REQUEST_URI's query) into m->input, and for a method
 * with a body CONTENT_LENGTH (checked against env->max_body) and
 * CONTENT_TYPE.  out gets method, request_id, path and workflow as far as
 * the mapping got, even on failure (for the log line).  Reads nothing but
 * params and env->service; no I/O.  0, or -1 with err: 400 (path, query,
 * Content-Length), 404, 405 (m->allow set) or 413.  Release m with
 * brd_request_mapped_clear whatever the result. */
int brd_request_map(const struct brd_request_env *env, FCGX_ParamArray params,
                    struct brd_request_mapped *m, struct brd_request_outcome *out,
                    struct brd_error *err);

void brd_request_mapped_clear(struct brd_request_mapped *m);

/* Overlays a request body on input, key by key (the body wins), by its
 * content_type (may be NULL): application/json or application/...+json
 * (an object), or application/x-www-form-urlencoded.  An empty body is no
 * body.  -1 with BRD_E_BAD_REQUEST for a body that does not parse or has
 * another type. */
int brd_request_overlay_body(const char *content_type, const char *body, size_t len,
                             struct json_object *input, struct brd_error *err);

/* Answers req, which FCGX_Accept_r has just filled: maps it, reads the rest
 * of the request, runs the workflow, writes the whole response.  The caller
 * then calls FCGX_Finish_r. */
void brd_request_handle(const struct brd_request_env *env, FCGX_Request *req,
                        struct brd_request_outcome *out);

/* True when id can be used as a request id as given: 1 to 128 characters
 * of [A-Za-z0-9._:-] (what brd_run_result.request_id holds; SPEC section
 * 7's "sane"). */
bool brd_request_id_sane(const char *id);

#endif
