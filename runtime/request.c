/* request.c — SPEC section 7: from a FastCGI request to a workflow run and
 * back to an HTTP response (request.h). */
#include "request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scoreboard.h"

/* Bodies beyond the limit are still read and thrown away (up to this much)
 * before answering: nginx is still writing them, and a worker that closes
 * early makes nginx report a 502 instead of our 413. */
#define DRAIN_MAX ((size_t)256 << 20)

/* ---- small text helpers -------------------------------------------------- */

/* Percent-decodes s[0..n) into out (room for n + 1), '+' → ' ' when plus.
 * Returns the decoded length, or -1 on a bad escape. */
static long pct_decode(const char *s, size_t n, bool plus, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return -1;
            int a = brd_hexval((unsigned char)s[i + 1]), b = brd_hexval((unsigned char)s[i + 2]);
            if (a < 0 || b < 0)
                return -1;
            out[o++] = (char)(a * 16 + b);
            i += 2;
        } else if (c == '+' && plus) {
            out[o++] = ' ';
        } else {
            out[o++] = c;
        }
    }
    out[o] = '\0';
    return (long)o;
}

static bool utf8_valid(const char *text, size_t n)
{
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t len;
        unsigned min, cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            len = 2, min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3, min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4, min = 0x10000;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        cp = c & (0x7F >> len);
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

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

/* ---- query strings and forms ------------------------------------------------ */

static int add_field(struct json_object *obj, const char *key, const char *val, size_t vlen,
                     struct brd_error *err)
{
    struct json_object *v = json_object_new_string_len(val, (int)vlen), *old;
    if (!v)
        return brd_error_nomem(err);
    if (!json_object_object_get_ex(obj, key, &old)) {
        return brd_json_add(obj, key, v) == 0 ? 0 : brd_error_nomem(err);
    }
    /* A repeated key: its values, in order, as an array. */
    if (json_object_is_type(old, json_type_array))
        return brd_json_append(old, v) == 0 ? 0 : brd_error_nomem(err);
    struct json_object *arr = json_object_new_array();
    if (!arr || brd_json_append(arr, brd_json_ref(old)) != 0) {
        json_object_put(arr);
        json_object_put(v);
        return brd_error_nomem(err);
    }
    if (brd_json_append(arr, v) != 0) {
        json_object_put(arr);
        return brd_error_nomem(err);
    }
    return brd_json_add(obj, key, arr) == 0 ? 0 : brd_error_nomem(err);
}

int brd_request_parse_form(const char *text, size_t len, const char *what,
                           struct json_object *obj, struct brd_error *err)
{
    char *buf = malloc(len + 2);
    if (!buf)
        return brd_error_nomem(err);
    int rc = 0;
    size_t i = 0;
    while (i < len && rc == 0) {
        size_t j = i;
        while (j < len && text[j] != '&')
            j++;
        if (j > i) { /* "a&&b": empty pairs are skipped */
            const char *eq = memchr(text + i, '=', j - i);
            size_t klen = eq ? (size_t)(eq - (text + i)) : j - i;
            long kd = pct_decode(text + i, klen, true, buf);
            if (kd < 0) {
                rc = brd_error_set(err, BRD_E_BAD_REQUEST, "%s: invalid percent escape in a name",
                                   what);
                break;
            }
            if (memchr(buf, '\0', (size_t)kd) || !utf8_valid(buf, (size_t)kd)) {
                rc = brd_error_set(err, BRD_E_BAD_REQUEST,
                                   "%s: a name is not valid UTF-8 text", what);
                break;
            }
            char *key = strndup(buf, (size_t)kd);
            if (!key) {
                rc = brd_error_nomem(err);
                break;
            }
            size_t voff = eq ? klen + 1 : j - i;
            long vd = pct_decode(text + i + voff, j - i - voff, true, buf);
            if (vd < 0)
                rc = brd_error_set(err, BRD_E_BAD_REQUEST,
                                   "%s: invalid percent escape in the value of '%.64s'", what, key);
            else if (!utf8_valid(buf, (size_t)vd))
                rc = brd_error_set(err, BRD_E_BAD_REQUEST,
                                   "%s: the value of '%.64s' is not valid UTF-8 text", what, key);
            else if (kd > 0) /* "=v" has no name to go by */
                rc = add_field(obj, key, buf, (size_t)vd, err);
            free(key);
        }
        i = j + 1;
    }
    free(buf);
    return rc;
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

/* Reads the body into *body (NUL-terminated).  0 ok; -1 with err (413 or
 * 400) otherwise. */
static int read_body(const struct brd_request_env *env, FCGX_Request *req, char **body,
                     size_t *len, struct brd_error *err)
{
    *body = NULL;
    *len = 0;
    const char *cl = FCGX_GetParam("CONTENT_LENGTH", req->envp);
    long long declared = -1;
    if (cl && *cl) {
        char *end;
        declared = strtoll(cl, &end, 10);
        if (*end || declared < 0 || cl[0] == '-' || cl[0] == '+')
            return brd_error_set(err, BRD_E_BAD_REQUEST, "invalid Content-Length '%.32s'", cl);
    }
    if (declared > (long long)env->max_body)
        return brd_error_set(err, BRD_E_PAYLOAD_TOO_LARGE,
                             "the request body is %lld bytes; the limit is %zu bytes", declared,
                             env->max_body);
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

/* "application/json; charset=utf-8" → true for JSON (application/json or
 * application/...+json), sets *form for application/x-www-form-urlencoded. */
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

/* Overlays the body (per its Content-Type) onto input. */
static int body_input(const struct brd_request_env *env, FCGX_Request *req,
                      struct json_object *input, struct brd_error *err)
{
    char *body;
    size_t len;
    if (read_body(env, req, &body, &len, err) != 0)
        return -1;
    if (len == 0) { /* no body: the query string alone */
        free(body);
        return 0;
    }
    const char *ct = FCGX_GetParam("CONTENT_TYPE", req->envp);
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
            json_object_object_foreach(v, k, val)
            {
                if (brd_json_add(input, k, brd_json_ref(val)) != 0) {
                    rc = brd_error_nomem(err);
                    break;
                }
            }
        }
        json_object_put(v);
    } else if (ct && media_type(ct, "application/x-www-form-urlencoded")) {
        struct json_object *form = json_object_new_object();
        rc = form ? brd_request_parse_form(body, len, "form body", form, err)
                  : brd_error_nomem(err);
        if (rc == 0) {
            json_object_object_foreach(form, k, val)
            {
                if (brd_json_add(input, k, brd_json_ref(val)) != 0) {
                    rc = brd_error_nomem(err);
                    break;
                }
            }
        }
        json_object_put(form);
    } else {
        char shown[80];
        clip(shown, sizeof shown, ct && *ct ? ct : "none", 60);
        rc = brd_error_set(err, BRD_E_BAD_REQUEST,
                           "unsupported Content-Type '%s': send application/json (an object) "
                           "or application/x-www-form-urlencoded",
                           shown);
    }
    free(body);
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

/* ---- routing ------------------------------------------------------------------------- */

/* The route of the raw path: decoded, checked, base path removed.  *route
 * is malloc'd.  -1 with err: 400 for a path that cannot be decoded, 404 for
 * one outside the base path. */
static int route_of(const struct brd_request_env *env, const char *raw, char **route,
                    struct brd_error *err)
{
    size_t n = strlen(raw);
    char *p = malloc(n + 2);
    if (!p)
        return brd_error_nomem(err);
    long d = pct_decode(raw, n, false, p);
    if (d < 0) {
        free(p);
        return brd_error_set(err, BRD_E_BAD_REQUEST, "the request path has an invalid percent escape");
    }
    if (memchr(p, '\0', (size_t)d) || !utf8_valid(p, (size_t)d)) {
        free(p);
        return brd_error_set(err, BRD_E_BAD_REQUEST, "the request path is not valid UTF-8 text");
    }
    /* No ".." segment may reach a lookup, even one that would only match
     * nothing: routes are plain names, and paths are compared as given. */
    for (const char *s = p; (s = strstr(s, "..")) != NULL; s += 2) {
        bool start = s == p || s[-1] == '/';
        bool end = s[2] == '\0' || s[2] == '/';
        if (start && end) {
            free(p);
            return brd_error_set(err, BRD_E_BAD_REQUEST, "the request path has a '..' segment");
        }
    }
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

/* ---- one request ------------------------------------------------------------------------ */

void brd_request_handle(const struct brd_request_env *env, FCGX_Request *req,
                        struct brd_request_outcome *out)
{
    memset(out, 0, sizeof *out);
    out->workflow = -1;
    out->sb_workflow = BRD_SB_UNROUTED;
    struct brd_error err;
    brd_error_clear(&err);

    const char *method = FCGX_GetParam("REQUEST_METHOD", req->envp);
    if (!method || !*method)
        method = "GET";
    clip(out->method, sizeof out->method, method, sizeof out->method - 4);

    const char *id = FCGX_GetParam("HTTP_X_REQUEST_ID", req->envp);
    if (id && brd_request_id_sane(id))
        snprintf(out->request_id, sizeof out->request_id, "%s", id);
    else
        brd_request_id_new(out->request_id);

    const char *tr = FCGX_GetParam("HTTP_X_BRAID_TRACE", req->envp);
    bool trace = env->debug && tr && strcmp(tr, "1") == 0;

    /* REQUEST_URI is what the client asked for (nginx, Apache and lighttpd
     * all pass it); the CGI variables are the fallback. */
    const char *uri = FCGX_GetParam("REQUEST_URI", req->envp);
    char built[2048];
    if (!uri || !*uri) {
        const char *sn = FCGX_GetParam("SCRIPT_NAME", req->envp);
        const char *pi = FCGX_GetParam("PATH_INFO", req->envp);
        snprintf(built, sizeof built, "%s%s", sn ? sn : "", pi ? pi : "");
        uri = built[0] ? built : "/";
    }
    size_t plen = strcspn(uri, "?#");
    snprintf(out->path, sizeof out->path, "%.*s", (int)(plen < 1024 ? plen : 1024), uri);
    const char *query = FCGX_GetParam("QUERY_STRING", req->envp);
    if (!query)
        query = uri[plen] == '?' ? uri + plen + 1 : "";

    char *raw = strndup(uri, plen), *route = NULL;
    struct json_object *input = NULL;
    char allow[64] = "";
    const struct brd_workflow *wf = NULL;
    enum brd_method m;
    if (!raw) {
        brd_error_nomem(&err);
        goto fail;
    }
    if (route_of(env, raw, &route, &err) != 0)
        goto fail;
    wf = brd_service_route(env->service, route);
    if (!wf) {
        char shown[200];
        clip(shown, sizeof shown, route, 160);
        brd_error_set(&err, BRD_E_NOT_FOUND, "no workflow is served at %s", shown);
        goto fail;
    }
    for (size_t i = 0; i < env->service->nworkflows; i++)
        if (env->service->workflows[i] == wf)
            out->workflow = (int)i;
    out->sb_workflow = env->sb_index ? env->sb_index[out->workflow] : BRD_SB_UNROUTED;
    if (env->busy_workflow)
        __atomic_store_n(env->busy_workflow, out->sb_workflow, __ATOMIC_RELAXED);

    if (brd_method_parse(method, &m) != 0 || !(wf->methods & (1u << m))) {
        allow_header(wf->methods, allow, sizeof allow);
        char shown[24];
        clip(shown, sizeof shown, method, 16);
        brd_error_set(&err, BRD_E_METHOD_NOT_ALLOWED, "%s is not allowed on %s (allowed: %s)",
                      shown, wf->path, allow);
        goto fail;
    }

    input = json_object_new_object();
    if (!input) {
        brd_error_nomem(&err);
        goto fail;
    }
    if (brd_request_parse_form(query, strlen(query), "query string", input, &err) != 0)
        goto fail;
    /* GET takes the query string only (SPEC section 7); the others may
     * carry a body. */
    if (m != BRD_GET && body_input(env, req, input, &err) != 0)
        goto fail;

    struct brd_run_opts opts = {out->request_id, trace};
    struct brd_run_result res;
    brd_engine_run(env->engine, env->service, wf, input, &opts, &res);
    drain(req, DRAIN_MAX);
    respond_result(req, &res, trace, NULL, out);
    brd_run_result_clear(&res);
    json_object_put(input);
    free(route);
    free(raw);
    return;

fail:
    drain(req, DRAIN_MAX);
    respond_error(req, &err, trace, allow[0] ? allow : NULL, out);
    json_object_put(input);
    free(route);
    free(raw);
}
