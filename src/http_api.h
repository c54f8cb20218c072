/* http_api.h — calling registered APIs over libcurl's multi interface: many
 * calls in flight at once in one process, keep-alive connections reused
 * across calls and requests, retries with backoff, deadlines.
 *
 * Ownership: a struct brd_http owns every call started on it until the
 * caller frees that call (brd_http_call_free after it finished, or
 * brd_http_cancel before); brd_http_free frees whatever is left, after
 * which no call pointer may be used.  No threads, no signals: one
 * struct brd_http per process, created after fork.
 */
#ifndef BRD_HTTP_API_H
#define BRD_HTTP_API_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "base/error.h"
#include "base/jsonutil.h"

/* Largest response body accepted; a bigger one is an API_ERROR. */
#define BRD_HTTP_MAX_RESPONSE (8u << 20)

struct brd_http;
struct brd_http_call;

/* A new client: a curl multi handle whose connection cache keeps
 * connections alive between calls. */
int brd_http_new(struct brd_http **out, struct brd_error *err);

/* Cancels and frees the calls still owned by h, then h.  NULL is fine. */
void brd_http_free(struct brd_http *h);

struct brd_http_args {
    const struct brd_api *api;           /* must outlive the call */
    struct json_object *explicit_params; /* the node's evaluated "params" (an object) or NULL */
    struct json_object *prev;            /* the previous output, for same-name mapping */
    const char *request_id;              /* sent as X-Request-Id (NULL or "": not sent) */
    int64_t deadline_us;                 /* absolute CLOCK_MONOTONIC µs: the node's budget end (<= 0: none) */
    int64_t workflow_deadline_us;        /* when the deadline that ran out is this one, the error is
                                            TIMEOUT, else API_TIMEOUT (<= 0: none) */
    void *user;                          /* the caller's, handed back by brd_http_user */
};

/* Resolves the parameters (SPEC section 5 "Same-name mapping": a declared
 * param the node does not set takes the first-level field of the same name
 * from prev when prev is an object; no value → the API's default; still none
 * and required → BRD_E_PARAM_MISSING `api get_user: required parameter 'id'
 * has no value`; values converted with brd_param_convert, failure →
 * BRD_E_BAD_REQUEST), builds the request (http_request.h) and starts it.
 * explicit_params members the API does not declare are ignored.  The inputs
 * are borrowed (what the call needs is copied or referenced).  Returns 0
 * with *out in flight, or -1 with err (nothing started; a deadline already
 * passed gives TIMEOUT / API_TIMEOUT). */
int brd_http_start(struct brd_http *h, const struct brd_http_args *args,
                   struct brd_http_call **out, struct brd_error *err);

/* Waits at most timeout_ms (< 0: no limit) for progress on the calls in
 * flight or for one of the extra fds (their revents are filled in exactly as
 * poll(2) would); performs transfers, starts retries whose backoff has
 * passed, and queues finished calls for brd_http_next_done.  Returns at once
 * (after a non-blocking look at the extra fds) when a finished call is
 * already queued.  Returns 0, or -1 on an internal failure. */
int brd_http_wait(struct brd_http *h, struct pollfd *extra, unsigned nextra, int timeout_ms,
                  struct brd_error *err);

/* The next finished call (in finishing order), or NULL. */
struct brd_http_call *brd_http_next_done(struct brd_http *h);

/* For a finished call: 0 with *raw = the parsed JSON response (new
 * reference, NULL = JSON null; a 204 gives null), or -1 with err:
 * API_ERROR (non-2xx — redirects are not followed, so a 3xx is one too —,
 * a body that is not JSON or is over BRD_HTTP_MAX_RESPONSE, connect
 * failure, connection closed), API_TIMEOUT or TIMEOUT. */
int brd_http_result(struct brd_http_call *c, struct json_object **raw, struct brd_error *err);

/* Attempts made so far (1 + retries). */
int brd_http_attempts(const struct brd_http_call *c);

void *brd_http_user(const struct brd_http_call *c);

/* The request as sent, for the trace: {"method":..,"url":..,"headers":{..},
 * "body":..} (new reference; NULL when out of memory).  Values that came
 * from the environment are shown as ${env.X} / "<redacted>". */
struct json_object *brd_http_request_json(const struct brd_http_call *c);

/* Stops a call (in flight or finished but not yet freed) and frees it. */
void brd_http_cancel(struct brd_http_call *c);

/* Frees a finished call.  NULL is fine. */
void brd_http_call_free(struct brd_http_call *c);

/* Calls started and not yet finished (running or waiting for a retry). */
size_t brd_http_in_flight(const struct brd_http *h);

#endif
