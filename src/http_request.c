/* http_request.c — the request a registered API call sends, built without
 * any I/O: values, url, headers, body, and what traces show of them (see
 * http_request.h and docs/http_api.md "Building a request", "Secrets"). */
#include "http_request.h"

#include "base/strbuf.h"
#include "base/version.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define USER_AGENT "braid/" BRD_VERSION

/* ---- values ---------------------------------------------------------------------- */

/* The text a value travels as in a url or a header: a string as is,
 * anything else as compact JSON.  Borrowed from v. */
static const char *value_text(struct json_object *v, size_t *len)
{
    if (json_object_is_type(v, json_type_string)) {
        *len = (size_t)json_object_get_string_len(v);
        return json_object_get_string(v);
    }
    return brd_json_compact(v, len);
}

/* ---- the url ---------------------------------------------------------------------- */

/* Percent-encodes everything but RFC 3986's unreserved characters: safe
 * as a path segment and in a query under both RFC 3986 and form decoding
 * (a space is %20, never '+', and '+' itself is %2B). */
static void buf_encode(struct brd_strbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
            c == '.' || c == '_' || c == '~') {
            brd_strbuf_add(b, (const char *)&c, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            brd_strbuf_add(b, e, 3);
        }
    }
}

/* Appends the url: the template with {name} replaced and the query
 * parameters added.  display: the version for messages and traces — the
 * template as written (${env.X} kept) and secret values redacted. */
static int build_url(const struct brd_api *api, struct json_object *values, bool display, struct brd_strbuf *b,
                     struct brd_error *err)
{
    const char *tpl = display && api->url_display ? api->url_display : api->url;
    for (const char *s = tpl; *s;) {
        if (display && s[0] == '$' && s[1] == '{') {
            /* ${env.X} as written: shown verbatim. */
            const char *end = strchr(s, '}');
            size_t n = end ? (size_t)(end - s + 1) : strlen(s);
            brd_strbuf_add(b, s, n);
            s += n;
            continue;
        }
        if (*s != '{') {
            size_t n = strcspn(s, display ? "{$" : "{");
            if (n == 0)
                n = 1;
            brd_strbuf_add(b, s, n);
            s += n;
            continue;
        }
        const char *end = strchr(s, '}');
        if (!end) {   /* the loader rules this out; copy rather than crash */
            brd_strbuf_str(b, s);
            break;
        }
        char name[BRD_NAME_MAX + 1];
        size_t n = (size_t)(end - s - 1);
        if (n > BRD_NAME_MAX)
            n = BRD_NAME_MAX;
        memcpy(name, s + 1, n);
        name[n] = '\0';
        s = end + 1;
        const struct brd_param *p = brd_params_find(&api->params, name);
        struct json_object *v = NULL;
        if (!json_object_object_get_ex(values, name, &v) || !v)
            return brd_error_set(err, BRD_E_PARAM_MISSING, "api %s: required parameter '%s' has no value",
                                 api->name, name);
        size_t len;
        const char *text = value_text(v, &len);
        /* "", "." and ".." would change which resource the path names
         * (/users/.. is /), whatever the encoding: refuse them. */
        if (len == 0 || (len == 1 && text[0] == '.') || (len == 2 && text[0] == '.' && text[1] == '.'))
            return brd_error_set(err, BRD_E_BAD_REQUEST,
                                 "api %s: parameter '%s': \"%s\" cannot be used as a path segment", api->name,
                                 name, text);
        if (display && p && p->secret)
            brd_strbuf_str(b, BRD_HTTPREQ_REDACTED);
        else
            buf_encode(b, text, len);
    }

    const char *sep = strchr(tpl, '?') ? "&" : "?";
    if (b->len && (b->p[b->len - 1] == '?' || b->p[b->len - 1] == '&'))
        sep = "";
    for (size_t i = 0; i < api->params.count; i++) {
        const struct brd_param *p = &api->params.items[i];
        struct json_object *v = NULL;
        if (p->in != BRD_IN_QUERY || !json_object_object_get_ex(values, p->name, &v) || !v)
            continue;
        bool is_array = json_object_is_type(v, json_type_array);
        size_t n = is_array ? json_object_array_length(v) : 1;
        for (size_t k = 0; k < n; k++) {
            struct json_object *e = is_array ? json_object_array_get_idx(v, k) : v;
            if (!e)
                continue;   /* a null element is omitted, like a null value */
            size_t len;
            const char *text = value_text(e, &len);
            brd_strbuf_str(b, sep);
            sep = "&";
            buf_encode(b, p->name, strlen(p->name));
            brd_strbuf_add(b, "=", 1);
            if (display && p->secret)
                brd_strbuf_str(b, BRD_HTTPREQ_REDACTED);
            else
                buf_encode(b, text, len);
        }
    }
    return b->failed ? brd_error_nomem(err) : 0;
}

/* Builds r->url and, when anything in it is secret, r->url_shown. */
static int build_urls(struct brd_httpreq *r, struct brd_error *err)
{
    const struct brd_api *api = r->api;
    bool secret = api->url_display != NULL;
    for (size_t i = 0; i < api->params.count; i++)
        secret |= api->params.items[i].secret &&
                  (api->params.items[i].in == BRD_IN_PATH || api->params.items[i].in == BRD_IN_QUERY);
    struct brd_strbuf url = {0}, shown = {0};
    if (build_url(api, r->values, false, &url, err) < 0 ||
        (secret && build_url(api, r->values, true, &shown, err) < 0)) {
        brd_strbuf_free(&url);
        brd_strbuf_free(&shown);
        return -1;
    }
    r->url = url.p;
    r->url_shown = shown.p;
    return 0;
}

/* ---- headers and body ------------------------------------------------------------- */

struct hdr {
    const char *name;
    const char *value;   /* borrowed */
    size_t len;
};

/* Adds or replaces (names are case-insensitive) a header in the list. */
static void hdr_set(struct hdr *hs, size_t *n, const char *name, const char *value, size_t len)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcasecmp(hs[i].name, name)) {
            hs[i].value = value;
            hs[i].len = len;
            return;
        }
    hs[*n] = (struct hdr){name, value, len};
    (*n)++;
}

static bool bad_header_value(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
            return true;
    return false;
}

/* Whether a header's value must not appear in a trace: an API header or a
 * header parameter of that name is secret, whichever of them was sent. */
static bool secret_header(const struct brd_api *api, const char *name)
{
    for (size_t i = 0; i < api->nheaders; i++)
        if (api->headers[i].secret && !strcasecmp(api->headers[i].name, name))
            return true;
    for (size_t i = 0; i < api->params.count; i++) {
        const struct brd_param *p = &api->params.items[i];
        if (p->in == BRD_IN_HEADER && p->secret && !strcasecmp(p->name, name))
            return true;
    }
    return false;
}

/* The header list: Braid's own, then the API's, then header parameters —
 * a later one with the same name replaces an earlier one — then the
 * request id. */
static int build_headers(struct brd_httpreq *r, const char *request_id, struct brd_error *err)
{
    const struct brd_api *api = r->api;
    size_t max = 8 + api->nheaders + api->params.count, n = 0;
    struct hdr *hs = calloc(max, sizeof *hs);
    if (!hs)
        return brd_error_nomem(err);
    hdr_set(hs, &n, "Accept", "application/json", 16);
    hdr_set(hs, &n, "User-Agent", USER_AGENT, strlen(USER_AGENT));
    if (r->body)
        hdr_set(hs, &n, "Content-Type", "application/json", 16);
    for (size_t i = 0; i < api->nheaders; i++)
        hdr_set(hs, &n, api->headers[i].name, api->headers[i].value, strlen(api->headers[i].value));
    for (size_t i = 0; i < api->params.count; i++) {
        const struct brd_param *p = &api->params.items[i];
        struct json_object *v = NULL;
        if (p->in != BRD_IN_HEADER || !json_object_object_get_ex(r->values, p->name, &v) || !v)
            continue;
        size_t len;
        const char *text = value_text(v, &len);
        if (bad_header_value(text, len)) {
            free(hs);
            return brd_error_set(err, BRD_E_BAD_REQUEST,
                                 "api %s: parameter '%s': a header value cannot contain CR, LF or NUL",
                                 api->name, p->name);
        }
        hdr_set(hs, &n, p->name, text, len);
    }
    if (request_id && request_id[0])
        hdr_set(hs, &n, "X-Request-Id", request_id, strlen(request_id));

    /* Copied: the values borrowed above live in json-c's caches and the
     * caller's request id, which need not outlast this call. */
    r->headers = calloc(n, sizeof *r->headers);
    if (!r->headers) {
        free(hs);
        return brd_error_nomem(err);
    }
    for (size_t i = 0; i < n; i++) {
        struct brd_httpreq_header *h = &r->headers[i];
        if (!(h->value = strndup(hs[i].value, hs[i].len))) {
            free(hs);
            return brd_error_nomem(err);   /* the caller clears r */
        }
        h->name = hs[i].name;
        h->len = hs[i].len;
        h->secret = secret_header(api, hs[i].name);
        r->nheaders++;
    }
    free(hs);
    return 0;
}

/* The JSON body: an object of the body parameters with a value, present
 * (possibly {}) exactly when the API declares a body parameter. */
static int build_body(struct brd_httpreq *r, struct brd_error *err)
{
    const struct brd_api *api = r->api;
    for (size_t i = 0; i < api->params.count; i++) {
        const struct brd_param *p = &api->params.items[i];
        if (p->in != BRD_IN_BODY)
            continue;
        if (!r->body && !(r->body = json_object_new_object()))
            return brd_error_nomem(err);
        struct json_object *v = NULL;
        if (json_object_object_get_ex(r->values, p->name, &v) && v &&
            brd_json_add(r->body, p->name, json_object_get(v)) < 0)
            return brd_error_nomem(err);
    }
    return 0;
}

/* ---- the whole request -------------------------------------------------------------- */

int brd_httpreq_build(struct brd_httpreq *r, const struct brd_api *api, struct json_object *explicit_params,
                      struct json_object *prev, const char *request_id, struct brd_error *err)
{
    memset(r, 0, sizeof *r);
    r->api = api;
    if (request_id && bad_header_value(request_id, strlen(request_id)))
        return brd_error_set(err, BRD_E_BAD_REQUEST, "api %s: the request id contains a line break", api->name);
    if (brd_params_resolve(&api->params, api->name, explicit_params, prev, &r->values, err) < 0 || build_urls(r, err) < 0 ||
        build_body(r, err) < 0 || build_headers(r, request_id, err) < 0) {
        brd_httpreq_clear(r);
        return -1;
    }
    return 0;
}

void brd_httpreq_clear(struct brd_httpreq *r)
{
    for (size_t i = 0; i < r->nheaders; i++)
        free(r->headers[i].value);
    free(r->headers);
    free(r->url);
    free(r->url_shown);
    json_object_put(r->values);
    json_object_put(r->body);
    memset(r, 0, sizeof *r);
}

/* ---- what traces and messages show ------------------------------------------------ */

const char *brd_httpreq_url_shown(const struct brd_httpreq *r)
{
    return r->url_shown ? r->url_shown : r->url;
}

/* The body for the trace: a copy with the values of secret parameters
 * redacted, or the body itself when it holds none.  0 with *out (a new
 * reference, NULL when there is no body), or -1 when out of memory. */
static int shown_body(const struct brd_httpreq *r, struct json_object **out)
{
    const struct brd_params *ps = &r->api->params;
    struct json_object *copy = NULL;
    *out = NULL;
    for (size_t i = 0; r->body && i < ps->count; i++) {
        if (ps->items[i].in != BRD_IN_BODY || !ps->items[i].secret ||
            !json_object_object_get_ex(r->body, ps->items[i].name, NULL))
            continue;
        int rc = 0;
        if (!copy) {
            if (!(copy = json_object_new_object()))
                return -1;
            json_object_object_foreach(r->body, key, val)
                rc |= brd_json_add(copy, key, brd_json_ref(val));
        }
        rc |= brd_json_add(copy, ps->items[i].name, json_object_new_string(BRD_HTTPREQ_REDACTED));
        if (rc) {
            json_object_put(copy);
            return -1;
        }
    }
    *out = copy ? copy : brd_json_ref(r->body);
    return 0;
}

struct json_object *brd_httpreq_shown(const struct brd_httpreq *r)
{
    struct json_object *o = json_object_new_object(), *hs = json_object_new_object(), *body = NULL;
    if (!o || !hs) {
        json_object_put(o);
        json_object_put(hs);
        return NULL;
    }
    int rc = brd_json_add(o, "method", json_object_new_string(brd_method_name(r->api->method)));
    rc |= brd_json_add(o, "url", json_object_new_string(brd_httpreq_url_shown(r)));
    for (size_t i = 0; i < r->nheaders; i++) {
        const struct brd_httpreq_header *h = &r->headers[i];
        rc |= brd_json_add(hs, h->name,
                           h->secret ? json_object_new_string(BRD_HTTPREQ_REDACTED)
                                     : json_object_new_string_len(h->value, (int)h->len));
    }
    rc |= brd_json_add(o, "headers", hs);
    rc |= shown_body(r, &body);
    rc |= brd_json_add(o, "body", body);
    if (rc) {
        json_object_put(o);
        return NULL;
    }
    return o;
}
