/* http_api.c — registered API calls over one curl multi handle per process
 * (see http_api.h and docs/http_api.md). */
#include "http_api.h"

#include "base/strbuf.h"
#include "base/clock.h"

#include <curl/curl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Easy handles kept for reuse: creating one costs more than resetting it. */
#define EASY_POOL_MAX 32
/* Idle connections the multi handle keeps open (to all hosts together). */
#define MAX_CONNECTS 64
/* Bytes of an error response quoted in the message. */
#define ERR_BODY_MAX 200

enum call_state { CALL_RUNNING, CALL_BACKOFF, CALL_DONE };

/* What an attempt's failure counts as, for "retry.on". */
enum failure { FAIL_NONE = 0, FAIL_CONNECT = BRD_RETRY_CONNECT, FAIL_TIMEOUT = BRD_RETRY_TIMEOUT,
               FAIL_5XX = BRD_RETRY_5XX, FAIL_OTHER = 0x100 };

struct brd_http_call {
    struct brd_http *h;
    struct brd_http_call *prev, *next;   /* h->calls: every call h owns */
    struct brd_http_call *done_next;     /* h's queue of finished calls */
    bool queued;                         /* in that queue */
    enum call_state state;
    const struct brd_api *api;
    void *user;

    /* The request, built once and sent by every attempt. */
    CURL *easy;                          /* NULL once finished (back in the pool) */
    struct curl_slist *headers;
    char *url;
    char *url_shown;                     /* the url for messages and traces; NULL: url */
    struct json_object *values;          /* resolved parameters, name → converted value */
    struct json_object *body;            /* the JSON body object, or NULL: no body */
    char *request_id;

    int64_t deadline_us;                 /* the earlier of the node's and the workflow's; 0: none */
    bool deadline_is_workflow;
    bool cut_by_deadline;                /* this attempt's timeout is the deadline, not timeout_ms */
    int attempts;
    int64_t retry_at_us;                 /* CALL_BACKOFF: when the next attempt starts */

    char *resp;
    size_t resp_len, resp_cap;
    bool too_big;
    char errbuf[CURL_ERROR_SIZE];

    int rc;                              /* CALL_DONE: the outcome */
    struct json_object *raw;
    struct brd_error err;
};

struct brd_http {
    CURLM *multi;
    struct brd_http_call *calls;
    struct brd_http_call *done_head, *done_tail;
    size_t in_flight;
    CURL *pool[EASY_POOL_MAX];
    size_t npool;
};

/* ---- the client --------------------------------------------------------------- */

int brd_http_new(struct brd_http **out, struct brd_error *err)
{
    *out = NULL;
    /* Reference-counted by libcurl; paired with curl_global_cleanup in free. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return brd_error_set(err, BRD_E_INTERNAL, "libcurl initialisation failed");
    struct brd_http *h = calloc(1, sizeof *h);
    if (!h || !(h->multi = curl_multi_init())) {
        free(h);
        curl_global_cleanup();
        return brd_error_nomem(err);
    }
    curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long)MAX_CONNECTS);
    *out = h;
    return 0;
}

static void easy_release(struct brd_http *h, CURL *easy)
{
    if (!easy)
        return;
    if (h->npool < EASY_POOL_MAX) {
        curl_easy_reset(easy);
        h->pool[h->npool++] = easy;
    } else {
        curl_easy_cleanup(easy);
    }
}

static void call_destroy(struct brd_http_call *c)
{
    struct brd_http *h = c->h;
    if (c->state == CALL_RUNNING && c->easy)
        curl_multi_remove_handle(h->multi, c->easy);
    if (c->state != CALL_DONE && h->in_flight > 0)
        h->in_flight--;
    if (c->queued) {
        struct brd_http_call **pp = &h->done_head, *last = NULL;
        while (*pp && *pp != c) {
            last = *pp;
            pp = &(*pp)->done_next;
        }
        if (*pp)
            *pp = c->done_next;
        if (h->done_tail == c)
            h->done_tail = last;
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        h->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    easy_release(h, c->easy);
    curl_slist_free_all(c->headers);
    free(c->url);
    free(c->url_shown);
    free(c->request_id);
    free(c->resp);
    json_object_put(c->values);
    json_object_put(c->body);
    json_object_put(c->raw);
    free(c);
}

void brd_http_free(struct brd_http *h)
{
    if (!h)
        return;
    while (h->calls)
        call_destroy(h->calls);
    for (size_t i = 0; i < h->npool; i++)
        curl_easy_cleanup(h->pool[i]);
    curl_multi_cleanup(h->multi);
    free(h);
    curl_global_cleanup();
}

size_t brd_http_in_flight(const struct brd_http *h)
{
    return h->in_flight;
}

/* ---- building the request ------------------------------------------------------ */

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

static const char REDACTED[] = "<redacted>";

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
            brd_strbuf_str(b, REDACTED);
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
                brd_strbuf_str(b, REDACTED);
            else
                buf_encode(b, text, len);
        }
    }
    return b->failed ? brd_error_nomem(err) : 0;
}

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

/* The header list: Braid's own, then the API's, then header parameters —
 * a later one with the same name replaces an earlier one. */
static int build_headers(struct brd_http_call *c, struct brd_error *err)
{
    const struct brd_api *api = c->api;
    size_t max = 8 + api->nheaders + api->params.count, n = 0;
    struct hdr *hs = calloc(max, sizeof *hs);
    if (!hs)
        return brd_error_nomem(err);
    hdr_set(hs, &n, "Accept", "application/json", 16);
    hdr_set(hs, &n, "User-Agent", "braid/0.1", 9);
    if (c->body)
        hdr_set(hs, &n, "Content-Type", "application/json", 16);
    for (size_t i = 0; i < api->nheaders; i++)
        hdr_set(hs, &n, api->headers[i].name, api->headers[i].value, strlen(api->headers[i].value));
    for (size_t i = 0; i < api->params.count; i++) {
        const struct brd_param *p = &api->params.items[i];
        struct json_object *v = NULL;
        if (p->in != BRD_IN_HEADER || !json_object_object_get_ex(c->values, p->name, &v) || !v)
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
    if (c->request_id)
        hdr_set(hs, &n, "X-Request-Id", c->request_id, strlen(c->request_id));

    int rc = 0;
    struct brd_strbuf line = {0};
    for (size_t i = 0; i < n && rc == 0; i++) {
        line.len = 0;
        brd_strbuf_str(&line, hs[i].name);
        /* "Name:" would make curl drop the header; "Name;" sends it empty. */
        if (hs[i].len == 0) {
            brd_strbuf_add(&line, ";", 1);
        } else {
            brd_strbuf_add(&line, ": ", 2);
            brd_strbuf_add(&line, hs[i].value, hs[i].len);
        }
        struct curl_slist *l = line.failed ? NULL : curl_slist_append(c->headers, line.p);
        if (!l)
            rc = brd_error_nomem(err);
        else
            c->headers = l;
    }
    /* No "Expect: 100-continue" round trip for larger bodies, and no
     * form content type when a POST/PUT has no body. */
    const char *extra[] = {"Expect:", c->body ? NULL : "Content-Type:"};
    for (size_t i = 0; i < 2 && rc == 0; i++) {
        if (!extra[i])
            continue;
        struct curl_slist *l = curl_slist_append(c->headers, extra[i]);
        if (!l)
            rc = brd_error_nomem(err);
        else
            c->headers = l;
    }
    free(line.p);
    free(hs);
    return rc;
}

/* The declared parameters' values (SPEC section 5, same-name mapping). */
static int resolve_values(const struct brd_http_args *a, struct json_object **out, struct brd_error *err)
{
    return brd_params_resolve(&a->api->params, a->api->name, a->explicit_params, a->prev, out, err);
}

static int build_body(struct brd_http_call *c, struct brd_error *err)
{
    const struct brd_api *api = c->api;
    for (size_t i = 0; i < api->params.count; i++) {
        const struct brd_param *p = &api->params.items[i];
        if (p->in != BRD_IN_BODY)
            continue;
        if (!c->body && !(c->body = json_object_new_object()))
            return brd_error_nomem(err);
        struct json_object *v = NULL;
        if (json_object_object_get_ex(c->values, p->name, &v) && v &&
            brd_json_add(c->body, p->name, json_object_get(v)) < 0)
            return brd_error_nomem(err);
    }
    return 0;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct brd_http_call *c = userdata;
    size_t n = size * nmemb;
    if (n > BRD_HTTP_MAX_RESPONSE - c->resp_len) {
        c->too_big = true;
        return 0;   /* curl stops with CURLE_WRITE_ERROR */
    }
    if (c->resp_len + n + 1 > c->resp_cap) {
        size_t cap = c->resp_cap ? c->resp_cap : 4096;
        while (cap < c->resp_len + n + 1)
            cap *= 2;
        char *p = realloc(c->resp, cap);
        if (!p)
            return 0;
        c->resp = p;
        c->resp_cap = cap;
    }
    memcpy(c->resp + c->resp_len, ptr, n);
    c->resp_len += n;
    c->resp[c->resp_len] = '\0';
    return n;
}

#define SETOPT(opt, val) (rc |= curl_easy_setopt(c->easy, opt, val))

static int setup_easy(struct brd_http_call *c, struct brd_error *err)
{
    struct brd_http *h = c->h;
    c->easy = h->npool ? h->pool[--h->npool] : curl_easy_init();
    if (!c->easy)
        return brd_error_nomem(err);
    CURLcode rc = CURLE_OK;
    const char *body = "";
    size_t body_len = 0;
    if (c->body)
        body = brd_json_compact(c->body, &body_len);
    SETOPT(CURLOPT_URL, c->url);
    /* Only HTTP(S), never another of curl's protocols, and no redirects:
     * a 3xx reaches the workflow as an API_ERROR. */
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
    /* No SIGALRM for DNS timeouts: workers own their signals. */
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    /* The url is already encoded exactly as it must go out. */
    SETOPT(CURLOPT_PATH_AS_IS, 1L);
    SETOPT(CURLOPT_HTTPHEADER, c->headers);
    SETOPT(CURLOPT_WRITEFUNCTION, on_data);
    SETOPT(CURLOPT_WRITEDATA, c);
    SETOPT(CURLOPT_PRIVATE, c);
    SETOPT(CURLOPT_ERRORBUFFER, c->errbuf);
    SETOPT(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)BRD_HTTP_MAX_RESPONSE);
    SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
    enum brd_method m = c->api->method;
    if (m == BRD_POST || m == BRD_PUT || m == BRD_PATCH || c->body) {
        /* A POST/PUT/PATCH always carries a body, if only an empty one,
         * so that Content-Length is sent. */
        /* Copied: the text json-c caches in c->body would be rewritten if
         * anyone serialised the body (a trace) with other flags. */
        SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        SETOPT(CURLOPT_COPYPOSTFIELDS, body);
        if (m != BRD_POST)
            SETOPT(CURLOPT_CUSTOMREQUEST, brd_method_name(m));
    } else if (m == BRD_DELETE) {
        SETOPT(CURLOPT_CUSTOMREQUEST, "DELETE");
    } else {
        SETOPT(CURLOPT_HTTPGET, 1L);
    }
    if (rc != CURLE_OK)
        return brd_error_set(err, BRD_E_INTERNAL, "api %s: libcurl rejected an option: %s", c->api->name,
                             curl_easy_strerror(rc));
    return 0;
}

#undef SETOPT

/* ---- attempts, retries, outcomes --------------------------------------------------- */

static const char *shown_url(const struct brd_http_call *c)
{
    return c->url_shown ? c->url_shown : c->url;
}

static void finish(struct brd_http_call *c, int rc)
{
    struct brd_http *h = c->h;
    if (rc < 0 && c->attempts > 1) {
        size_t len = strlen(c->err.msg);
        snprintf(c->err.msg + len, sizeof c->err.msg - len, " (after %d attempts)", c->attempts);
    }
    c->rc = rc;
    c->state = CALL_DONE;
    if (h->in_flight > 0)
        h->in_flight--;
    /* The easy handle goes back to the pool now: nothing needs it any more. */
    easy_release(h, c->easy);
    c->easy = NULL;
    free(c->resp);
    c->resp = NULL;
    c->resp_len = c->resp_cap = 0;
    c->queued = true;
    c->done_next = NULL;
    if (h->done_tail)
        h->done_tail->done_next = c;
    else
        h->done_head = c;
    h->done_tail = c;
}

/* The error for a deadline that ran out (before or during an attempt). */
static void deadline_error(struct brd_http_call *c)
{
    if (c->deadline_is_workflow)
        brd_error_set(&c->err, BRD_E_TIMEOUT, "api %s: the workflow's deadline passed during %s %s",
                      c->api->name, brd_method_name(c->api->method), shown_url(c));
    else
        brd_error_set(&c->err, BRD_E_API_TIMEOUT, "api %s: the node's time budget ran out during %s %s",
                      c->api->name, brd_method_name(c->api->method), shown_url(c));
}

/* Starts an attempt; 0, or -1 when none could start (c->err is set). */
static int start_attempt(struct brd_http_call *c, int64_t now)
{
    long timeout_ms = c->api->timeout_ms;
    c->cut_by_deadline = false;
    if (c->deadline_us > 0) {
        int64_t left_ms = (c->deadline_us - now) / 1000;
        if (left_ms < 1) {
            deadline_error(c);
            return -1;
        }
        if (left_ms < timeout_ms) {
            timeout_ms = (long)left_ms;
            c->cut_by_deadline = true;
        }
    }
    c->resp_len = 0;
    c->too_big = false;
    c->errbuf[0] = '\0';
    c->attempts++;
    if (curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, timeout_ms) != CURLE_OK ||
        curl_multi_add_handle(c->h->multi, c->easy) != CURLM_OK) {
        brd_error_set(&c->err, BRD_E_INTERNAL, "api %s: libcurl refused to start the transfer", c->api->name);
        return -1;
    }
    c->state = CALL_RUNNING;
    return 0;
}

/* A printable excerpt of the response body for messages: at most
 * ERR_BODY_MAX bytes, cut on a UTF-8 boundary, control characters blanked. */
static void body_excerpt(const struct brd_http_call *c, char *out, size_t size)
{
    size_t n = c->resp_len < ERR_BODY_MAX ? c->resp_len : ERR_BODY_MAX;
    if (n < c->resp_len)
        while (n > 0 && ((unsigned char)c->resp[n] & 0xC0) == 0x80)
            n--;
    if (n >= size)
        n = size - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)c->resp[i];
        out[i] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
    }
    out[n] = '\0';
}

/* Judges a finished attempt: fills c->err (or c->raw) and says which
 * retry condition the failure falls under. */
static enum failure judge(struct brd_http_call *c, CURLcode result)
{
    const struct brd_api *api = c->api;
    const char *m = brd_method_name(api->method), *u = shown_url(c);
    const char *detail = c->errbuf[0] ? c->errbuf : curl_easy_strerror(result);
    switch (result) {
    case CURLE_OK:
        break;
    case CURLE_OPERATION_TIMEDOUT:
        if (c->cut_by_deadline)
            deadline_error(c);
        else
            brd_error_set(&c->err, BRD_E_API_TIMEOUT, "api %s: no response within %d ms from %s %s", api->name,
                          api->timeout_ms, m, u);
        return FAIL_TIMEOUT;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        brd_error_set(&c->err, BRD_E_API_ERROR, "api %s: cannot connect for %s %s: %s", api->name, m, u, detail);
        return FAIL_CONNECT;
    case CURLE_WRITE_ERROR:
    case CURLE_FILESIZE_EXCEEDED:
        if (c->too_big || result == CURLE_FILESIZE_EXCEEDED) {
            brd_error_set(&c->err, BRD_E_API_ERROR, "api %s: the response to %s %s is larger than %u MiB",
                          api->name, m, u, BRD_HTTP_MAX_RESPONSE >> 20);
            return FAIL_OTHER;
        }
        brd_error_set(&c->err, BRD_E_API_ERROR, "api %s: out of memory reading the response to %s %s",
                      api->name, m, u);
        return FAIL_OTHER;
    case CURLE_GOT_NOTHING:
        brd_error_set(&c->err, BRD_E_API_ERROR, "api %s: the connection closed without a response to %s %s",
                      api->name, m, u);
        return FAIL_OTHER;
    default:
        brd_error_set(&c->err, BRD_E_API_ERROR, "api %s: %s %s failed: %s", api->name, m, u, detail);
        return FAIL_OTHER;
    }

    long status = 0;
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) {
        char excerpt[ERR_BODY_MAX + 1];
        body_excerpt(c, excerpt, sizeof excerpt);
        brd_error_set(&c->err, BRD_E_API_ERROR, "api %s: HTTP %ld from %s %s: %s", api->name, status, m, u,
                      excerpt[0] ? excerpt : "(empty body)");
        return status >= 500 && status <= 599 ? FAIL_5XX : FAIL_OTHER;
    }
    /* 204 No Content has no body by definition: its result is null. */
    if (status == 204)
        return FAIL_NONE;
    struct brd_error perr;
    if (brd_json_parse(c->resp ? c->resp : "", c->resp_len, &c->raw, &perr) < 0) {
        char excerpt[ERR_BODY_MAX + 1];
        body_excerpt(c, excerpt, sizeof excerpt);
        brd_error_set(&c->err, BRD_E_API_ERROR, "api %s: the response to %s %s is not JSON (%s): %s", api->name,
                      m, u, perr.msg, excerpt[0] ? excerpt : "(empty body)");
        return FAIL_OTHER;
    }
    return FAIL_NONE;
}

static void on_attempt_done(struct brd_http_call *c, CURLcode result)
{
    curl_multi_remove_handle(c->h->multi, c->easy);
    brd_error_clear(&c->err);
    enum failure f = judge(c, result);
    if (f == FAIL_NONE) {
        finish(c, 0);
        return;
    }
    if (!(f & c->api->retry_on) || c->attempts >= c->api->retry_attempts) {
        finish(c, -1);
        return;
    }
    /* Exponential backoff: backoff_ms × 2^(n−1) before the n-th retry. */
    int64_t now = brd_now_us();
    int64_t wait = (int64_t)c->api->retry_backoff_ms * 1000 * ((int64_t)1 << (c->attempts - 1));
    if (c->deadline_us > 0 && now + wait + 1000 > c->deadline_us) {
        finish(c, -1);   /* no time for another attempt: the last error stands */
        return;
    }
    c->state = CALL_BACKOFF;
    c->retry_at_us = now + wait;
}

/* Starts the retries whose backoff has passed; gives the earliest one
 * still waiting in *next (0: none). */
static void run_due_retries(struct brd_http *h, int64_t *next)
{
    int64_t now = brd_now_us();
    *next = 0;
    for (struct brd_http_call *c = h->calls; c; c = c->next) {
        if (c->state != CALL_BACKOFF)
            continue;
        if (c->retry_at_us <= now) {
            if (start_attempt(c, now) < 0)
                finish(c, -1);
        } else if (!*next || c->retry_at_us < *next) {
            *next = c->retry_at_us;
        }
    }
}

static int perform(struct brd_http *h, struct brd_error *err)
{
    int running;
    CURLMcode mc = curl_multi_perform(h->multi, &running);
    if (mc != CURLM_OK)
        return brd_error_set(err, BRD_E_INTERNAL, "libcurl: %s", curl_multi_strerror(mc));
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(h->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        struct brd_http_call *c = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
        if (c)
            on_attempt_done(c, msg->data.result);
    }
    return 0;
}

/* ---- the public calls -------------------------------------------------------------- */

int brd_http_start(struct brd_http *h, const struct brd_http_args *args, struct brd_http_call **out,
                   struct brd_error *err)
{
    *out = NULL;
    const struct brd_api *api = args->api;
    if (api->type != BRD_API_HTTP)
        return brd_error_set(err, BRD_E_INTERNAL, "api %s is not an HTTP API", api->name);
    if (args->request_id && bad_header_value(args->request_id, strlen(args->request_id)))
        return brd_error_set(err, BRD_E_BAD_REQUEST, "api %s: the request id contains a line break", api->name);

    struct brd_http_call *c = calloc(1, sizeof *c);
    if (!c)
        return brd_error_nomem(err);
    c->h = h;
    c->api = api;
    c->user = args->user;
    c->state = CALL_DONE;   /* not in flight until the first attempt starts */
    c->next = h->calls;
    if (h->calls)
        h->calls->prev = c;
    h->calls = c;

    if (args->deadline_us > 0)
        c->deadline_us = args->deadline_us;
    if (args->workflow_deadline_us > 0 && (!c->deadline_us || args->workflow_deadline_us <= c->deadline_us)) {
        c->deadline_us = args->workflow_deadline_us;
        c->deadline_is_workflow = true;
    }

    bool secret = api->url_display != NULL;
    for (size_t i = 0; i < api->params.count; i++)
        secret |= api->params.items[i].secret &&
                  (api->params.items[i].in == BRD_IN_PATH || api->params.items[i].in == BRD_IN_QUERY);
    struct brd_strbuf url = {0}, shown = {0};
    if (resolve_values(args, &c->values, err) < 0 || build_url(api, c->values, false, &url, err) < 0 ||
        (secret && build_url(api, c->values, true, &shown, err) < 0)) {
        free(url.p);
        free(shown.p);
        call_destroy(c);
        return -1;
    }
    c->url = url.p;
    c->url_shown = shown.p;
    if ((args->request_id && args->request_id[0] && !(c->request_id = strdup(args->request_id)))) {
        call_destroy(c);
        return brd_error_nomem(err);
    }
    if (build_body(c, err) < 0 || build_headers(c, err) < 0 || setup_easy(c, err) < 0) {
        call_destroy(c);
        return -1;
    }
    if (start_attempt(c, brd_now_us()) < 0) {
        *err = c->err;
        call_destroy(c);
        return -1;
    }
    h->in_flight++;
    *out = c;
    return 0;
}

int brd_http_wait(struct brd_http *h, struct pollfd *extra, unsigned nextra, int timeout_ms,
                  struct brd_error *err)
{
    int64_t next_retry;
    run_due_retries(h, &next_retry);
    if (perform(h, err) < 0)
        return -1;
    run_due_retries(h, &next_retry);

    int64_t wait_us = timeout_ms < 0 ? (int64_t)INT_MAX * 1000 : (int64_t)timeout_ms * 1000;
    if (h->done_head)
        wait_us = 0;
    if (next_retry) {
        int64_t until = next_retry - brd_now_us();
        if (until < wait_us)
            wait_us = until < 0 ? 0 : until;
    }
    int wait_ms = (int)((wait_us + 999) / 1000);

    struct curl_waitfd small[8], *wfds = small;
    if (nextra > 8 && !(wfds = calloc(nextra, sizeof *wfds)))
        return brd_error_nomem(err);
    for (unsigned i = 0; i < nextra; i++) {
        wfds[i].fd = extra[i].fd;
        wfds[i].events = (short)(((extra[i].events & POLLIN) ? CURL_WAIT_POLLIN : 0) |
                                 ((extra[i].events & POLLPRI) ? CURL_WAIT_POLLPRI : 0) |
                                 ((extra[i].events & POLLOUT) ? CURL_WAIT_POLLOUT : 0));
        wfds[i].revents = 0;
    }
    CURLMcode mc = curl_multi_poll(h->multi, wfds, nextra, wait_ms, NULL);
    if (wfds != small)
        free(wfds);
    if (mc != CURLM_OK)
        return brd_error_set(err, BRD_E_INTERNAL, "libcurl: %s", curl_multi_strerror(mc));
    /* curl reports only IN/OUT/PRI for extra fds; a pipe whose writer
     * exited shows POLLHUP alone.  One non-blocking poll(2) gives the
     * caller the exact picture. */
    if (nextra && poll(extra, nextra, 0) < 0)
        for (unsigned i = 0; i < nextra; i++)
            extra[i].revents = 0;

    if (perform(h, err) < 0)
        return -1;
    run_due_retries(h, &next_retry);
    return 0;
}

struct brd_http_call *brd_http_next_done(struct brd_http *h)
{
    struct brd_http_call *c = h->done_head;
    if (!c)
        return NULL;
    h->done_head = c->done_next;
    if (!h->done_head)
        h->done_tail = NULL;
    c->done_next = NULL;
    c->queued = false;
    return c;
}

int brd_http_result(struct brd_http_call *c, struct json_object **raw, struct brd_error *err)
{
    *raw = NULL;
    if (c->state != CALL_DONE)
        return brd_error_set(err, BRD_E_INTERNAL, "api %s: the call has not finished", c->api->name);
    if (c->rc < 0) {
        if (err)
            *err = c->err;
        return -1;
    }
    *raw = brd_json_ref(c->raw);
    return 0;
}

int brd_http_attempts(const struct brd_http_call *c)
{
    return c->attempts;
}

void *brd_http_user(const struct brd_http_call *c)
{
    return c->user;
}

/* Whether a header's value must not appear in a trace. */
static bool secret_header(const struct brd_api *api, const char *name, size_t len)
{
    for (size_t i = 0; i < api->nheaders; i++)
        if (api->headers[i].secret && strlen(api->headers[i].name) == len &&
            !strncasecmp(api->headers[i].name, name, len))
            return true;
    for (size_t i = 0; i < api->params.count; i++) {
        const struct brd_param *p = &api->params.items[i];
        if (p->in == BRD_IN_HEADER && p->secret && strlen(p->name) == len && !strncasecmp(p->name, name, len))
            return true;
    }
    return false;
}

/* The body for the trace: a copy with the values of secret parameters
 * redacted, or the body itself when it holds none. */
static struct json_object *shown_body(const struct brd_http_call *c)
{
    const struct brd_params *ps = &c->api->params;
    struct json_object *copy = NULL;
    for (size_t i = 0; c->body && i < ps->count; i++) {
        if (ps->items[i].in != BRD_IN_BODY || !ps->items[i].secret ||
            !json_object_object_get_ex(c->body, ps->items[i].name, NULL))
            continue;
        if (!copy) {
            copy = json_object_new_object();
            if (!copy)
                return NULL;
            json_object_object_foreach(c->body, key, val)
                brd_json_add(copy, key, brd_json_ref(val));
        }
        brd_json_add(copy, ps->items[i].name, json_object_new_string(REDACTED));
    }
    return copy ? copy : brd_json_ref(c->body);
}

struct json_object *brd_http_request_json(const struct brd_http_call *c)
{
    struct json_object *o = json_object_new_object(), *hs = json_object_new_object();
    if (!o || !hs) {
        json_object_put(o);
        json_object_put(hs);
        return NULL;
    }
    int rc = brd_json_add(o, "method", json_object_new_string(brd_method_name(c->api->method)));
    rc |= brd_json_add(o, "url", json_object_new_string(shown_url(c)));
    for (const struct curl_slist *l = c->headers; l; l = l->next) {
        size_t nlen = strcspn(l->data, ":;");
        const char *v = l->data + nlen;
        if (*v == ':' && v[1] == '\0')
            continue;   /* "Name:" removes one of curl's own headers: not sent */
        v = *v == ':' ? v + 2 : "";
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)nlen, l->data);
        rc |= brd_json_add(hs, name,
                                     json_object_new_string(secret_header(c->api, l->data, nlen) ? REDACTED : v));
    }
    rc |= brd_json_add(o, "headers", hs);
    rc |= brd_json_add(o, "body", shown_body(c));
    if (rc) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

void brd_http_cancel(struct brd_http_call *c)
{
    if (c)
        call_destroy(c);
}

void brd_http_call_free(struct brd_http_call *c)
{
    if (c)
        call_destroy(c);
}
