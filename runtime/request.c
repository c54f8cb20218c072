/* request.c — SPEC section 7: from a FastCGI request to a workflow run and
 * back to an HTTP response (request.h). */
#include "request.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "form.h"
#include "scoreboard.h"

/* Bodies beyond the limit are still read and thrown away (up to this much)
 * before answering: nginx is still writing them, and a worker that closes
 * early makes nginx report a 502 instead of our 413. */
#define DRAIN_MAX ((size_t)256 << 20)

/* ---- small text helpers -------------------------------------------------- */

/* Copies s into out[cap] cut at a character boundary, "..." when cut. */
static void clip(char *out, size_t cap, const char *s, size_t max)
{
    size_t n = strlen(s);
    if (max > cap - 4)
        max = cap - 4;
    if (n <= max) {
        memcpy(out, s, n + 1);
        return;
    }
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    memcpy(out, s, n);
    memcpy(out + n, "...", 4);
}

bool brd_request_id_sane(const char *id)
{
    size_t n = 0;
    for (; id[n]; n++) {
        char c = id[n];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-'))
            return false;
    }
    return n >= 1 && n < sizeof(((struct brd_run_result *)0)->request_id);
}

/* ---- the request body --------------------------------------------------------- */

static void drain(FCGX_Request *req, size_t max)
{
    char sink[16384];
    size_t total = 0;
    int n;
    while (total < max && (n = FCGX_GetStr(sink, sizeof sink, req->in)) > 0)
        total += (size_t)n;
}

/* Reads the body into *body (NUL-terminated); declared is CONTENT_LENGTH
 * (already checked against the limit) or -1.  0 ok; -1 with err (413)
 * otherwise. */
static int read_body(const struct brd_request_env *env, FCGX_Request *req, long long declared,
                     char **body, size_t *len, struct brd_error *err)
{
    *body = NULL;
    *len = 0;
    size_t cap = declared >= 0 ? (size_t)declared + 1 : 65536;
    if (cap > env->max_body + 1)
        cap = env->max_body + 1;
    char *buf = malloc(cap + 1);
    if (!buf)
        return brd_error_nomem(err);
    size_t n = 0;
    for (;;) {
        /* Counting as we go too: a missing or lying Content-Length does
         * not get more than the limit into memory. */
        if (n == cap) {
            if (cap > env->max_body)
                break;
            size_t bigger = cap * 2 > env->max_body + 1 ? env->max_body + 1 : cap * 2;
            char *nb = realloc(buf, bigger + 1);
            if (!nb) {
                free(buf);
                return brd_error_nomem(err);
            }
            buf = nb;
            cap = bigger;
        }
        int want = cap - n > (1u << 30) ? (1 << 30) : (int)(cap - n);
        int got = FCGX_GetStr(buf + n, want, req->in);
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    if (n > env->max_body) {
        free(buf);
        return brd_error_set(err, BRD_E_PAYLOAD_TOO_LARGE,
                             "the request body is over the limit of %zu bytes", env->max_body);
    }
    buf[n] = '\0';
    *body = buf;
    *len = n;
    return 0;
}

/* Whether the media type ct ("application/json; charset=utf-8": the
 * parameters ignored) is want, case-insensitively; want "+json" matches
 * any application/...+json. */
static bool media_type(const char *ct, const char *want)
{
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    while (n > 0 && (*ct == ' ' || *ct == '\t'))
        ct++, n--;
    if (strcmp(want, "+json") == 0)
        return n > 17 && strncasecmp(ct, "application/", 12) == 0 &&
               strncasecmp(ct + n - 5, "+json", 5) == 0;
    return strlen(want) == n && strncasecmp(ct, want, n) == 0;
}

/* input[k] = from[k] for every member of the object from. */
static int overlay(struct json_object *input, struct json_object *from, struct brd_error *err)
{
    json_object_object_foreach(from, k, val)
    {
        if (brd_json_add(input, k, brd_json_ref(val)) != 0)
            return brd_error_nomem(err);
    }
    return 0;
}

int brd_request_overlay_body(const char *ct, const char *body, size_t len,
                             struct json_object *input, struct brd_error *err)
{
    if (len == 0) /* no body: the query string alone */
        return 0;
    int rc;
    if (ct && (media_type(ct, "application/json") || media_type(ct, "+json"))) {
        struct json_object *v = NULL;
        rc = brd_json_parse(body, len, &v, err);
        if (rc != 0) {
            char msg[BRD_ERROR_MSG_MAX];
            snprintf(msg, sizeof msg, "%s", err->msg);
            brd_error_set(err, BRD_E_BAD_REQUEST, "the request body is not valid JSON: %s", msg);
        } else if (!json_object_is_type(v, json_type_object)) {
            rc = brd_error_set(err, BRD_E_BAD_REQUEST,
                               "the request body must be a JSON object, not %s",
                               v ? brd_json_type_name(v) : "null");
        } else {
            rc = overlay(input, v, err);
        }
        json_object_put(v);
    } else if (ct && media_type(ct, "application/x-www-form-urlencoded")) {
        struct json_object *form = json_object_new_object();
        rc = form ? brd_form_parse(body, len, "form body", form, err) : brd_error_nomem(err);
        if (rc == 0)
            rc = overlay(input, form, err);
        json_object_put(form);
    } else {
        char shown[80];
        clip(shown, sizeof shown, ct && *ct ? ct : "none", 60);
        rc = brd_error_set(err, BRD_E_BAD_REQUEST,
                           "unsupported Content-Type '%s': send application/json (an object) "
                           "or application/x-www-form-urlencoded",
                           shown);
    }
    return rc;
}

/* ---- the response ------------------------------------------------------------------ */

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 504: return "Gateway Timeout";
    default: return "Error";
    }
}

static void respond(FCGX_Request *req, int status, const char *request_id, const char *allow,
                    const char *body, size_t len)
{
    char head[512];
    int n = snprintf(head, sizeof head,
                     "Status: %d %s\r\n"
                     "Content-Type: application/json; charset=utf-8\r\n"
                     "Content-Length: %zu\r\n"
                     "X-Request-Id: %s\r\n"
                     "%s%s%s"
                     "\r\n",
                     status, reason(status), len, request_id, allow ? "Allow: " : "",
                     allow ? allow : "", allow ? "\r\n" : "");
    /* A client gone away makes these fail; nothing more to do then. */
    FCGX_PutStr(head, n, req->out);
    FCGX_PutStr(body, (int)len, req->out);
}

/* Sends res (a run's outcome, or an error made here) as SPEC says, with the
 * trace when one was asked for. */
static void respond_result(FCGX_Request *req, struct brd_run_result *res, bool trace,
                           const char *allow, struct brd_request_outcome *out)
{
    struct json_object *body;
    if (res->status == 0)
        body = trace ? json_object_new_object() : brd_json_ref(res->result);
    else
        body = brd_run_error_json(res);
    if (trace && body) {
        struct json_object *t = res->trace ? brd_json_ref(res->trace) : json_object_new_array();
        if (res->status == 0)
            brd_json_add(body, "result", brd_json_ref(res->result));
        brd_json_add(body, "trace", t);
    }
    out->code = res->status == 0 ? BRD_OK : res->err.code;
    out->status = res->status == 0 ? 200 : brd_code_http_status(res->err.code);
    if (res->status != 0 && !body) {
        static const char oom[] = "{\"error\":{\"code\":\"INTERNAL\",\"message\":\"out of memory\"}}";
        respond(req, 500, res->request_id, NULL, oom, sizeof oom - 1);
        out->status = 500;
        return;
    }
    size_t len;
    const char *text = brd_json_compact(body, &len);
    respond(req, out->status, res->request_id, allow, text, len);
    json_object_put(body);
}

static void respond_error(FCGX_Request *req, const struct brd_error *err, bool trace,
                          const char *allow, struct brd_request_outcome *out)
{
    struct brd_run_result res;
    memset(&res, 0, sizeof res);
    res.status = -1;
    res.err = *err;
    res.err.node[0] = '\0';
    snprintf(res.request_id, sizeof res.request_id, "%s", out->request_id);
    respond_result(req, &res, trace, allow, out);
}

/* ---- mapping the params ---------------------------------------------------------------- */

/* The route of the raw path: decoded, checked, base path removed.  *route
 * is malloc'd.  -1 with err: 400 for a path that cannot be decoded, 404 for
 * one outside the base path. */
static int route_of(const struct brd_request_env *env, const char *raw, size_t n, char **route,
                    struct brd_error *err)
{
    char *p;
    *route = NULL;
    if (brd_form_decode_path(raw, n, &p, err) != 0)
        return -1;
    const char *r = p;
    if (env->base_path) {
        size_t b = strlen(env->base_path);
        if (strncmp(p, env->base_path, b) != 0 || (p[b] != '\0' && p[b] != '/')) {
            char shown[200];
            clip(shown, sizeof shown, p, 160);
            brd_error_set(err, BRD_E_NOT_FOUND, "no workflow is served at %s (outside the base path %s)",
                          shown, env->base_path);
            free(p);
            return -1;
        }
        r = p[b] ? p + b : "/";
    }
    *route = strdup(r);
    free(p);
    return *route ? 0 : brd_error_nomem(err);
}

static void allow_header(unsigned methods, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int m = BRD_GET; m <= BRD_DELETE; m++)
        if (methods & (1u << m))
            n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? ", " : "",
                                  brd_method_name((enum brd_method)m));
}

/* CONTENT_LENGTH: 1*DIGIT (RFC 9110 8.6), saturating, so that a huge one
 * is a 413 rather than a 400.  -1 for none; -2 for a malformed one. */
static long long content_length(const char *cl)
{
    if (!cl || !*cl)
        return -1;
    long long v = 0;
    for (const char *s = cl; *s; s++) {
        if (*s < '0' || *s > '9')
            return -2;
        v = v > (LLONG_MAX - 9) / 10 ? LLONG_MAX : v * 10 + (*s - '0');
    }
    return v;
}

void brd_request_mapped_clear(struct brd_request_mapped *m)
{
    json_object_put(m->input);
    m->input = NULL;
}

int brd_request_map(const struct brd_request_env *env, FCGX_ParamArray params,
                    struct brd_request_mapped *m, struct brd_request_outcome *out,
                    struct brd_error *err)
{
    memset(m, 0, sizeof *m);
    m->content_length = -1;
    memset(out, 0, sizeof *out);
    out->workflow = -1;
    out->sb_workflow = BRD_SB_UNROUTED;

    const char *method = FCGX_GetParam("REQUEST_METHOD", params);
    if (!method || !*method)
        method = "GET";
    clip(out->method, sizeof out->method, method, sizeof out->method - 4);

    const char *id = FCGX_GetParam("HTTP_X_REQUEST_ID", params);
    if (id && brd_request_id_sane(id))
        snprintf(out->request_id, sizeof out->request_id, "%s", id);
    else
        brd_request_id_new(out->request_id);

    const char *tr = FCGX_GetParam("HTTP_X_BRAID_TRACE", params);
    m->trace = env->debug && tr && strcmp(tr, "1") == 0;

    /* REQUEST_URI is what the client asked for (nginx, Apache and lighttpd
     * all pass it); the CGI variables are the fallback. */
    const char *uri = FCGX_GetParam("REQUEST_URI", params);
    char built[2048];
    if (!uri || !*uri) {
        const char *sn = FCGX_GetParam("SCRIPT_NAME", params);
        const char *pi = FCGX_GetParam("PATH_INFO", params);
        snprintf(built, sizeof built, "%s%s", sn ? sn : "", pi ? pi : "");
        uri = built[0] ? built : "/";
    }
    size_t plen = strcspn(uri, "?#");
    snprintf(out->path, sizeof out->path, "%.*s", (int)(plen < 1024 ? plen : 1024), uri);
    const char *query = FCGX_GetParam("QUERY_STRING", params);
    if (!query)
        query = uri[plen] == '?' ? uri + plen + 1 : "";

    char *route = NULL;
    if (route_of(env, uri, plen, &route, err) != 0)
        return -1;
    m->wf = brd_service_route(env->service, route);
    if (!m->wf) {
        char shown[200];
        clip(shown, sizeof shown, route, 160);
        brd_error_set(err, BRD_E_NOT_FOUND, "no workflow is served at %s", shown);
        free(route);
        return -1;
    }
    free(route);
    for (size_t i = 0; i < env->service->nworkflows; i++)
        if (env->service->workflows[i] == m->wf)
            out->workflow = (int)i;

    if (brd_method_parse(method, &m->method) != 0 || !(m->wf->methods & (1u << m->method))) {
        allow_header(m->wf->methods, m->allow, sizeof m->allow);
        char shown[24];
        clip(shown, sizeof shown, method, 16);
        return brd_error_set(err, BRD_E_METHOD_NOT_ALLOWED, "%s is not allowed on %s (allowed: %s)",
                             shown, m->wf->path, m->allow);
    }

    m->input = json_object_new_object();
    if (!m->input)
        return brd_error_nomem(err);
    if (brd_form_parse(query, strlen(query), "query string", m->input, err) != 0)
        return -1;
    /* GET takes the query string only (SPEC section 7); the others may
     * carry a body. */
    if (m->method == BRD_GET)
        return 0;
    m->wants_body = true;
    m->content_type = FCGX_GetParam("CONTENT_TYPE", params);
    const char *cl = FCGX_GetParam("CONTENT_LENGTH", params);
    m->content_length = content_length(cl);
    if (m->content_length == -2)
        return brd_error_set(err, BRD_E_BAD_REQUEST, "invalid Content-Length '%.32s'", cl);
    if (m->content_length > (long long)env->max_body)
        return brd_error_set(err, BRD_E_PAYLOAD_TOO_LARGE,
                             "the request body is %lld bytes; the limit is %zu bytes",
                             m->content_length, env->max_body);
    return 0;
}

/* ---- one request ------------------------------------------------------------------------ */

void brd_request_handle(const struct brd_request_env *env, FCGX_Request *req,
                        struct brd_request_outcome *out)
{
    struct brd_error err;
    brd_error_clear(&err);
    struct brd_request_mapped m;
    int rc = brd_request_map(env, req->envp, &m, out, &err);
    if (out->workflow >= 0) {
        out->sb_workflow = env->sb_index ? env->sb_index[out->workflow] : BRD_SB_UNROUTED;
        if (env->busy_workflow)
            __atomic_store_n(env->busy_workflow, out->sb_workflow, __ATOMIC_RELAXED);
    }
    if (rc == 0 && m.wants_body) {
        char *body;
        size_t len;
        rc = read_body(env, req, m.content_length, &body, &len, &err);
        if (rc == 0)
            rc = brd_request_overlay_body(m.content_type, body, len, m.input, &err);
        free(body);
    }
    drain(req, DRAIN_MAX);
    if (rc != 0) {
        respond_error(req, &err, m.trace, m.allow[0] ? m.allow : NULL, out);
    } else {
        struct brd_run_opts opts = {out->request_id, m.trace};
        struct brd_run_result res;
        brd_engine_run(env->engine, env->service, m.wf, m.input, &opts, &res);
        respond_result(req, &res, m.trace, NULL, out);
        brd_run_result_clear(&res);
    }
    brd_request_mapped_clear(&m);
}
