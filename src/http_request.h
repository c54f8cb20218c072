/* http_request.h — building the request a registered API call sends, with
 * no I/O: the parameter values (same-name mapping, defaults, conversion),
 * the url (path segments and query percent-encoded), the header list, the
 * JSON body, and the redacted picture of it all shown in messages and
 * traces.  http_api.c hands the result to libcurl; nothing here knows curl,
 * so every rule of docs/http_api.md "Building a request" and "Secrets" can
 * be tested offline.
 *
 * Ownership: a struct brd_httpreq owns its url strings, values, body and
 * header values (brd_httpreq_clear frees them); header names and the API
 * itself are borrowed, so the API must outlive the request.
 */
#ifndef BRD_HTTP_REQUEST_H
#define BRD_HTTP_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "api.h"
#include "base/error.h"
#include "base/jsonutil.h"

/* What a secret value is shown as. */
#define BRD_HTTPREQ_REDACTED "<redacted>"

struct brd_httpreq_header {
    const char *name;    /* borrowed: a literal, an API header's or a parameter's name */
    char *value;         /* owned, NUL-terminated, never CR, LF or NUL inside */
    size_t len;          /* strlen(value); 0 means "sent empty" */
    bool secret;         /* an API header or header parameter of this name is from
                            ${env.X}: shown as BRD_HTTPREQ_REDACTED */
};

struct brd_httpreq {
    const struct brd_api *api;
    struct json_object *values;          /* declared name → converted value (absent: no value) */
    char *url;                           /* as sent: placeholders filled, query appended */
    char *url_shown;                     /* for messages and traces, or NULL when that is url */
    struct json_object *body;            /* the JSON body object, or NULL: no JSON body */
    struct brd_httpreq_header *headers;  /* in sending order, names unique (case-insensitive) */
    size_t nheaders;
};

/* Builds r for one call of api.  Parameter values come from explicit_params
 * (the node's "params", an object or NULL), else the same-name first-level
 * field of prev when prev is an object, else the default; none and required
 * → BRD_E_PARAM_MISSING `api get_user: required parameter 'id' has no
 * value`.  Values are converted with brd_param_convert (failure:
 * BRD_E_BAD_REQUEST prefixed "api NAME").  Undeclared members of
 * explicit_params are ignored.  Also BRD_E_BAD_REQUEST: a path value "",
 * "." or "..", a header value or request_id holding CR, LF or NUL.
 * request_id NULL or "": no X-Request-Id.  The inputs are borrowed.
 * Returns 0 with r filled, or -1 with err and r empty (clearing it is
 * harmless). */
int brd_httpreq_build(struct brd_httpreq *r, const struct brd_api *api, struct json_object *explicit_params,
                      struct json_object *prev, const char *request_id, struct brd_error *err);

/* Frees what r owns and empties it.  An empty (zeroed) r is fine. */
void brd_httpreq_clear(struct brd_httpreq *r);

/* The url for messages and traces: the url as written (${env.X} kept),
 * secret path and query values redacted.  Borrowed from r. */
const char *brd_httpreq_url_shown(const struct brd_httpreq *r);

/* The request for the trace: {"method":..,"url":..,"headers":{..},"body":..}
 * with every value from the environment redacted (new reference; NULL when
 * out of memory). */
struct json_object *brd_httpreq_shown(const struct brd_httpreq *r);

#endif
