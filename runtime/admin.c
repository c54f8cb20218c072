/* admin.c — /healthz, /status and /metrics on the master's plain-HTTP
 * admin listener (admin.h). */
#include "admin.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admin_http.h"
#include "exec.h"
#include "listener.h"
#include "base/version.h"
#include "base/clock.h"

#define ADMIN_DEADLINE_US (2 * 1000 * 1000)

struct brd_admin {
    struct brd_listener l;
    int client;                 /* -1: none */
    bool writing;
    char in[BRD_ADMIN_HTTP_MAX];
    size_t in_len;
    char *out;
    size_t out_len, out_off;
    int64_t deadline_us;
};

/* ---- a growable text buffer ----------------------------------------------- */

struct buf {
    char *p;
    size_t n, cap;
    bool failed;
};

static void bprintf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(struct buf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (w < 0) {
            b->failed = true;
            return;
        }
        if (b->p && b->n + (size_t)w < b->cap) {
            b->n += (size_t)w;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap <= b->n + (size_t)w)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->failed = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
}

static char *bdone(struct buf *b)
{
    if (b->failed || !b->p) {
        free(b->p);
        return NULL;
    }
    return b->p;
}

/* ---- what is shown ------------------------------------------------------------ */

bool brd_admin_healthy(const struct brd_admin_view *v)
{
    if (!v->service || v->draining)
        return false;
    for (int i = 0; i < BRD_SB_SLOTS; i++) {
        const struct brd_sb_slot *s = &v->sb->slots[i];
        uint32_t st = brd_sb_load32(&s->state);
        if (s->pid > 0 && (st == BRD_SB_IDLE || st == BRD_SB_BUSY))
            return true;
    }
    return false;
}

static void add(struct json_object *o, const char *k, struct json_object *v)
{
    brd_json_add(o, k, v);
}

static struct json_object *ms_or_null(double ms)
{
    return ms < 0 ? NULL : brd_json_new_double((double)(int64_t)(ms * 1000 + 0.5) / 1000);
}

char *brd_admin_status_json(const struct brd_admin_view *v)
{
    struct json_object *o = json_object_new_object(), *wfs = json_object_new_array(),
                       *ws = json_object_new_array();
    if (!o || !wfs || !ws) {
        json_object_put(o);
        json_object_put(wfs);
        json_object_put(ws);
        return NULL;
    }
    int64_t now = brd_now_us();
    add(o, "version", json_object_new_string(BRD_VERSION));
    add(o, "pid", json_object_new_int64(v->pid));
    add(o, "uptime_s", json_object_new_int64((now - v->started_us) / 1000000));
    add(o, "service", json_object_new_string(v->dir));
    add(o, "generation", json_object_new_int64(v->generation));
    add(o, "draining", json_object_new_boolean(v->draining));
    for (size_t i = 0; v->service && i < v->service->nworkflows; i++) {
        const struct brd_workflow *wf = v->service->workflows[i];
        struct json_object *e = json_object_new_object();
        if (!e)
            continue;
        add(e, "name", json_object_new_string(wf->name));
        add(e, "path", json_object_new_string(wf->path));
        int k = brd_scoreboard_workflow_find(v->sb, wf->name);
        const struct brd_sb_workflow *w = k >= 0 ? &v->sb->workflows[k] : NULL;
        add(e, "requests", json_object_new_int64(w ? (int64_t)brd_scoreboard_requests(w) : 0));
        add(e, "errors", json_object_new_int64(w ? (int64_t)brd_scoreboard_errors(w) : 0));
        add(e, "p50_ms", w ? ms_or_null(brd_scoreboard_quantile_ms(w, 0.50)) : NULL);
        add(e, "p99_ms", w ? ms_or_null(brd_scoreboard_quantile_ms(w, 0.99)) : NULL);
        brd_json_append(wfs, e);
    }
    add(o, "workflows", wfs);
    const struct brd_sb_workflow *un = &v->sb->workflows[BRD_SB_UNROUTED];
    struct json_object *u = json_object_new_object();
    if (u) {
        add(u, "requests", json_object_new_int64((int64_t)brd_scoreboard_requests(un)));
        add(o, "unrouted", u);
    }
    for (int i = 0; i < BRD_SB_SLOTS; i++) {
        const struct brd_sb_slot *s = &v->sb->slots[i];
        if (s->pid <= 0)
            continue;
        struct json_object *e = json_object_new_object();
        if (!e)
            continue;
        int64_t since = brd_sb_loadi64(&s->busy_since_us);
        uint32_t st = brd_sb_load32(&s->state);
        add(e, "pid", json_object_new_int64(s->pid));
        add(e, "state", json_object_new_string(brd_sb_state_name(st)));
        add(e, "requests", json_object_new_int64((int64_t)brd_sb_load64(&s->requests)));
        add(e, "busy_ms", json_object_new_int64(st == BRD_SB_BUSY && since > 0 ? (now - since) / 1000 : 0));
        add(e, "generation", json_object_new_int64(s->generation));
        brd_json_append(ws, e);
    }
    add(o, "workers", ws);
    add(o, "restarts", json_object_new_int64((int64_t)brd_sb_load64(&v->sb->restarts)));
    add(o, "recycles", json_object_new_int64((int64_t)brd_sb_load64(&v->sb->recycles)));
    add(o, "timeouts", json_object_new_int64((int64_t)brd_sb_load64(&v->sb->timeouts)));
    add(o, "reloads", json_object_new_int64((int64_t)brd_sb_load64(&v->sb->reloads)));
    add(o, "reload_failures", json_object_new_int64((int64_t)brd_sb_load64(&v->sb->reload_failures)));
    const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
                                                          JSON_C_TO_STRING_SPACED |
                                                          JSON_C_TO_STRING_NOSLASHESCAPE);
    char *copy = text ? malloc(strlen(text) + 2) : NULL;
    if (copy)
        sprintf(copy, "%s\n", text);
    json_object_put(o);
    return copy;
}

/* Whether workflow entry i is worth showing in /metrics: served now, or has
 * counts from an earlier version (counters never vanish while we run). */
static bool shown(const struct brd_admin_view *v, uint32_t i)
{
    const struct brd_sb_workflow *w = &v->sb->workflows[i];
    if (i == BRD_SB_UNROUTED || brd_scoreboard_requests(w) > 0)
        return true;
    return v->service && brd_service_workflow(v->service, w->name) != NULL;
}

char *brd_admin_metrics_text(const struct brd_admin_view *v)
{
    struct buf b = {0};
    uint32_t nwf = brd_sb_load32(&v->sb->nworkflows);
    if (nwf > BRD_SB_WORKFLOWS)
        nwf = BRD_SB_WORKFLOWS;

    bprintf(&b, "# HELP braid_requests_total Requests answered, by workflow (\"\" when no "
                "workflow matched the path) and HTTP status.\n"
                "# TYPE braid_requests_total counter\n");
    for (uint32_t i = 0; i < nwf; i++) {
        if (!shown(v, i))
            continue;
        const struct brd_sb_workflow *w = &v->sb->workflows[i];
        /* Statuses of the SPEC's table, summed over the codes that give them. */
        int statuses[BRD_SB_NCODES + 1];
        uint64_t counts[BRD_SB_NCODES + 1];
        int ns = 0;
        statuses[ns] = 200;
        counts[ns++] = brd_sb_load64(&w->ok);
        for (int c = 1; c < BRD_SB_NCODES; c++) {
            uint64_t n = brd_sb_load64(&w->errors[c]);
            if (!n)
                continue;
            int st = brd_code_http_status((enum brd_code)c), k = 0;
            while (k < ns && statuses[k] != st)
                k++;
            if (k == ns) {
                statuses[ns] = st;
                counts[ns++] = 0;
            }
            counts[k] += n;
        }
        for (int k = 0; k < ns; k++)
            if (counts[k] || (k == 0 && i != BRD_SB_UNROUTED))
                bprintf(&b, "braid_requests_total{workflow=\"%s\",status=\"%d\"} %llu\n", w->name,
                        statuses[k], (unsigned long long)counts[k]);
    }

    bprintf(&b, "# HELP braid_request_errors_total Failed requests, by workflow and error code.\n"
                "# TYPE braid_request_errors_total counter\n");
    for (uint32_t i = 0; i < nwf; i++) {
        if (!shown(v, i))
            continue;
        const struct brd_sb_workflow *w = &v->sb->workflows[i];
        for (int c = 1; c < BRD_SB_NCODES; c++) {
            uint64_t n = brd_sb_load64(&w->errors[c]);
            if (n)
                bprintf(&b, "braid_request_errors_total{workflow=\"%s\",code=\"%s\"} %llu\n",
                        w->name, brd_code_name((enum brd_code)c), (unsigned long long)n);
        }
    }

    bprintf(&b, "# HELP braid_request_duration_seconds Time from accepting a request to the "
                "end of its response.\n"
                "# TYPE braid_request_duration_seconds histogram\n");
    for (uint32_t i = 0; i < nwf; i++) {
        if (!shown(v, i))
            continue;
        const struct brd_sb_workflow *w = &v->sb->workflows[i];
        uint64_t cum = 0;
        for (int k = 0; k < BRD_SB_NBUCKETS; k++) {
            cum += brd_sb_load64(&w->buckets[k]);
            bprintf(&b, "braid_request_duration_seconds_bucket{workflow=\"%s\",le=\"%g\"} %llu\n",
                    w->name, brd_sb_bucket_ms[k] / 1000.0, (unsigned long long)cum);
        }
        cum += brd_sb_load64(&w->buckets[BRD_SB_NBUCKETS]);
        bprintf(&b, "braid_request_duration_seconds_bucket{workflow=\"%s\",le=\"+Inf\"} %llu\n",
                w->name, (unsigned long long)cum);
        bprintf(&b, "braid_request_duration_seconds_sum{workflow=\"%s\"} %.6f\n", w->name,
                (double)brd_sb_load64(&w->sum_us) / 1e6);
        bprintf(&b, "braid_request_duration_seconds_count{workflow=\"%s\"} %llu\n", w->name,
                (unsigned long long)cum);
    }

    static const uint32_t states[] = {BRD_SB_STARTING, BRD_SB_IDLE, BRD_SB_BUSY, BRD_SB_EXITING};
    unsigned nstate[4] = {0};
    for (int i = 0; i < BRD_SB_SLOTS; i++) {
        const struct brd_sb_slot *s = &v->sb->slots[i];
        uint32_t st = brd_sb_load32(&s->state);
        for (int k = 0; k < 4; k++)
            if (s->pid > 0 && st == states[k])
                nstate[k]++;
    }
    bprintf(&b, "# HELP braid_workers Worker processes, by state.\n# TYPE braid_workers gauge\n");
    for (int k = 0; k < 4; k++)
        bprintf(&b, "braid_workers{state=\"%s\"} %u\n", brd_sb_state_name(states[k]), nstate[k]);

    static const struct {
        const char *name, *help;
        size_t off;
    } totals[] = {
        {"braid_worker_restarts_total", "Workers replaced after dying unexpectedly.",
         offsetof(struct brd_scoreboard, restarts)},
        {"braid_worker_recycles_total", "Workers replaced after --max-requests.",
         offsetof(struct brd_scoreboard, recycles)},
        {"braid_worker_timeouts_total", "Workers killed for a request past --request-timeout.",
         offsetof(struct brd_scoreboard, timeouts)},
        {"braid_reloads_total", "Successful reloads (SIGHUP).", offsetof(struct brd_scoreboard, reloads)},
        {"braid_reload_failures_total", "Reloads refused because the directory did not validate.",
         offsetof(struct brd_scoreboard, reload_failures)},
    };
    for (size_t k = 0; k < sizeof totals / sizeof *totals; k++)
        bprintf(&b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", totals[k].name, totals[k].help,
                totals[k].name, totals[k].name,
                (unsigned long long)brd_sb_load64(
                    (const uint64_t *)((const char *)v->sb + totals[k].off)));
    bprintf(&b, "# HELP braid_up 1 while a service is loaded and not draining.\n"
                "# TYPE braid_up gauge\nbraid_up %d\n",
            v->service && !v->draining ? 1 : 0);
    bprintf(&b, "# HELP braid_build_info The running version.\n# TYPE braid_build_info gauge\n"
                "braid_build_info{version=\"%s\"} 1\n",
            BRD_VERSION);
    return bdone(&b);
}

/* ---- the connection ------------------------------------------------------------------ */

int brd_admin_open(const char *hostport, struct brd_admin **out, struct brd_error *err)
{
    struct brd_admin *a = calloc(1, sizeof *a);
    if (!a)
        return brd_error_nomem(err);
    a->client = -1;
    if (brd_listener_open_tcp(hostport, &a->l, err) != 0) {
        brd_error_prefix(err, "--admin");
        free(a);
        return -1;
    }
    *out = a;
    return 0;
}

static void drop_client(struct brd_admin *a)
{
    if (a->client >= 0)
        close(a->client);
    a->client = -1;
    a->writing = false;
    a->in_len = 0;
    free(a->out);
    a->out = NULL;
    a->out_len = a->out_off = 0;
}

void brd_admin_close(struct brd_admin *a)
{
    if (!a)
        return;
    drop_client(a);
    brd_listener_close(&a->l);
    free(a);
}

const char *brd_admin_address(const struct brd_admin *a)
{
    return a->l.display;
}

void brd_admin_pollfd(const struct brd_admin *a, struct pollfd *p)
{
    p->revents = 0;
    if (a->client >= 0) {
        p->fd = a->client;
        p->events = a->writing ? POLLOUT : POLLIN;
    } else {
        p->fd = a->l.fd;
        p->events = POLLIN;
    }
}

static void reply(struct brd_admin *a, int status, const char *reason, const char *ctype,
                  const char *extra, char *body)
{
    struct buf b = {0};
    size_t blen = body ? strlen(body) : 0;
    bprintf(&b,
            "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
            "Cache-Control: no-store\r\nConnection: close\r\n%s\r\n%s",
            status, reason, ctype, blen, extra ? extra : "", body ? body : "");
    free(body);
    a->out = bdone(&b);
    if (!a->out) {
        drop_client(a);
        return;
    }
    a->out_len = strlen(a->out);
    a->out_off = 0;
    a->writing = true;
}

static char *dup_text(const char *s)
{
    return strdup(s);
}

/* The body of an answer to a request the parser refused. */
static const char *refusal(int status)
{
    switch (status) {
    case 501: return "method not implemented: GET only\n";
    case 505: return "HTTP version not supported: HTTP/1.x only\n";
    case 414: case 431: return "request too large\n";
    default: return "bad request\n";
    }
}

/* A complete, well-formed request (admin_http.c parsed it): 404 for an
 * unknown path whatever the method, 405 for anything but GET. */
static void answer(struct brd_admin *a, const struct brd_admin_http_req *r,
                   const struct brd_admin_view *v)
{
    const char *target = r->path, *method = r->method;
    static const char *const known[] = {"/healthz", "/status", "/metrics"};
    int which = -1;
    for (int i = 0; i < 3; i++)
        if (strcmp(target, known[i]) == 0)
            which = i;
    if (which < 0) {
        reply(a, 404, "Not Found", "text/plain; charset=utf-8", NULL,
              dup_text("not found: try /healthz, /status or /metrics\n"));
        return;
    }
    if (strcmp(method, "GET") != 0) {
        reply(a, 405, "Method Not Allowed", "text/plain; charset=utf-8", "Allow: GET\r\n",
              dup_text("method not allowed: GET only\n"));
        return;
    }
    if (which == 0) {
        bool ok = brd_admin_healthy(v);
        reply(a, ok ? 200 : 503, ok ? "OK" : "Service Unavailable", "text/plain; charset=utf-8",
              NULL, dup_text(ok ? "ok\n" : (v->draining ? "draining\n" : "no worker ready\n")));
    } else if (which == 1) {
        char *body = brd_admin_status_json(v);
        if (body)
            reply(a, 200, "OK", "application/json; charset=utf-8", NULL, body);
        else
            drop_client(a);
    } else {
        char *body = brd_admin_metrics_text(v);
        if (body)
            reply(a, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", NULL, body);
        else
            drop_client(a);
    }
}

void brd_admin_step(struct brd_admin *a, short revents, const struct brd_admin_view *v)
{
    int64_t now = brd_now_us();
    if (a->client < 0) {
        if (!(revents & POLLIN))
            return;
        int c = accept4(a->l.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0)
            return; /* EAGAIN, or a client that left: nothing to do */
        a->client = c;
        a->deadline_us = now + ADMIN_DEADLINE_US;
        revents = 0; /* read when poll says so */
    }
    if (now >= a->deadline_us) {
        drop_client(a);
        return;
    }
    if (!a->writing && (revents & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t n = read(a->client, a->in + a->in_len, sizeof a->in - a->in_len);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) {
            drop_client(a);
            return;
        }
        a->in_len += (size_t)n;
        struct brd_admin_http_req req;
        int st = brd_admin_http_parse(a->in, a->in_len, &req);
        if (st == 200)
            answer(a, &req, v);
        else if (st != 0)
            reply(a, st, brd_admin_http_reason(st), "text/plain; charset=utf-8", NULL,
                  dup_text(refusal(st)));
        return;
    }
    if (a->writing && (revents & (POLLOUT | POLLHUP | POLLERR))) {
        ssize_t n = send(a->client, a->out + a->out_off, a->out_len - a->out_off, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) {
            drop_client(a);
            return;
        }
        a->out_off += (size_t)n;
        if (a->out_off == a->out_len)
            drop_client(a);
    }
}
