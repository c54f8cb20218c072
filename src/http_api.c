/* http_api.c — registered API calls over one curl multi handle per process:
 * the transfers, the pool of easy handles kept for keep-alive, retries and
 * deadlines (see http_api.h and docs/http_api.md).  What a call sends is
 * built by http_request.c. */
#include "http_api.h"
#include "http_request.h"

#include "base/strbuf.h"
#include "base/clock.h"

#include <curl/curl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    struct brd_httpreq req;
    CURL *easy;                          /* NULL once finished (back in the pool) */
    struct curl_slist *headers;          /* req's headers as curl takes them */

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
    brd_httpreq_clear(&c->req);
    free(c->resp);
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

/* ---- the request as curl sends it ---------------------------------------------------- */

/* curl's header list for the built request: "Name: value" lines ("Name;"
 * for an empty value: "Name:" would make curl drop the header), then the
 * removals of curl's own headers Braid never sends. */
static int build_curl_headers(struct brd_http_call *c, struct brd_error *err)
{
    int rc = 0;
    struct brd_strbuf line = {0};
    for (size_t i = 0; i < c->req.nheaders && rc == 0; i++) {
        const struct brd_httpreq_header *hd = &c->req.headers[i];
        line.len = 0;
        brd_strbuf_str(&line, hd->name);
        if (hd->len == 0) {
            brd_strbuf_add(&line, ";", 1);
        } else {
            brd_strbuf_add(&line, ": ", 2);
            brd_strbuf_add(&line, hd->value, hd->len);
        }
        struct curl_slist *l = line.failed ? NULL : curl_slist_append(c->headers, line.p);
        if (!l)
            rc = brd_error_nomem(err);
        else
            c->headers = l;
    }
    /* No "Expect: 100-continue" round trip for larger bodies, and no
     * form content type when a POST/PUT has no body. */
    const char *extra[] = {"Expect:", c->req.body ? NULL : "Content-Type:"};
    for (size_t i = 0; i < 2 && rc == 0; i++) {
        if (!extra[i])
            continue;
        struct curl_slist *l = curl_slist_append(c->headers, extra[i]);
        if (!l)
            rc = brd_error_nomem(err);
        else
            c->headers = l;
    }
    brd_strbuf_free(&line);
    return rc;
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
    if (c->req.body)
        body = brd_json_compact(c->req.body, &body_len);
    SETOPT(CURLOPT_URL, c->req.url);
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
    if (m == BRD_POST || m == BRD_PUT || m == BRD_PATCH || c->req.body) {
        /* A POST/PUT/PATCH always carries a body, if only an empty one,
         * so that Content-Length is sent. */
        /* Copied: the text json-c caches in c->req.body would be rewritten if
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
    return brd_httpreq_url_shown(&c->req);
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

    if (brd_httpreq_build(&c->req, api, args->explicit_params, args->prev, args->request_id, err) < 0 ||
        build_curl_headers(c, err) < 0 || setup_easy(c, err) < 0) {
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
    if (h->in_flight == 0 && !h->done_head) {
        /* No transfer of curl's (no call in flight, none waiting for a
         * retry): the caller's descriptors alone, in one poll(2). */
        if (poll(extra, nextra, timeout_ms < 0 ? -1 : timeout_ms) < 0)
            for (unsigned i = 0; i < nextra; i++)
                extra[i].revents = 0;
        return 0;
    }
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

struct json_object *brd_http_request_json(const struct brd_http_call *c)
{
    return brd_httpreq_shown(&c->req);
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
