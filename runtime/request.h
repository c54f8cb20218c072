/* request.h — one FastCGI request mapped onto a workflow run (SPEC section
 * 7): the route from REQUEST_URI, the method check, START's input from the
 * query string and the body, the run, and the response with its status,
 * headers and body.  Every failure becomes a typed response; nothing here
 * ends the process. */
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

/* Answers req, which FCGX_Accept_r has just filled: reads the rest of the
 * request, runs the workflow, writes the whole response.  The caller then
 * calls FCGX_Finish_r. */
void brd_request_handle(const struct brd_request_env *env, FCGX_Request *req,
                        struct brd_request_outcome *out);

/* Parses an application/x-www-form-urlencoded text (a query string or a
 * form body) into obj (an object, members added): '+' is a space, %XX is
 * decoded, a repeated key collects its values in an array.  Keys and values
 * must be valid UTF-8.  -1 with BRD_E_BAD_REQUEST on a bad escape; what =
 * "query string" or "form body" names the source in the message. */
int brd_request_parse_form(const char *text, size_t len, const char *what,
                           struct json_object *obj, struct brd_error *err);

/* True when id can be used as a request id as given: 1 to 63 characters
 * of [A-Za-z0-9._:-] (the engine keeps 63; SPEC section 7's "sane"). */
bool brd_request_id_sane(const char *id);

#endif
