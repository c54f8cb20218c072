/* studio_http.c — `braid studio`'s HTTP server over libmicrohttpd: checks
 * and assets on its thread, the /api/ routes on the serving thread (see
 * studio_http.h). */
#include "studio_http.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <microhttpd.h>

#include "base/jsonutil.h"
#include "base/name.h"
#include "base/strbuf.h"
#include "studio_api.h"
#include "studio_assets.h"
#include "studio_files.h"

/* One /api/ call handed from libmicrohttpd's thread to the serving one. */
struct job {
    const char *method, *url, *body, *if_match;
    size_t len;
    unsigned status;             /* set by the serving thread */
    struct json_object *reply;   /* its body (owned until sent) */
    bool done;
};

struct brd_studio_http {
    struct brd_studio_http_config cfg;
    struct MHD_Daemon *daemon;
    char hosts[6][300];          /* the Host values accepted ("" = none) */
    int wake[2];                 /* a job is waiting: libmicrohttpd's thread -> serving thread */
    pthread_mutex_t lock;
    pthread_cond_t done;
    struct job *pending;         /* the job waiting to be done, or NULL */
    bool stopping;
};

/* The state of one request across libmicrohttpd's calls: its body so far. */
struct request {
    struct brd_strbuf body;
    size_t total;
    bool too_big;
};

/* ---- replies ------------------------------------------------------------------ */

static const char *code_of(unsigned status)
{
    switch (status) {
    case 400: return "BAD_REQUEST";
    case 401: return "UNAUTHORIZED";
    case 403: return "FORBIDDEN";
    case 404: return "NOT_FOUND";
    case 405: return "METHOD_NOT_ALLOWED";
    case 409: return "CONFLICT";
    case 413: return "PAYLOAD_TOO_LARGE";
    case 503: return "UNAVAILABLE";
    default: return "INTERNAL";
    }
}

/* {"error": {"code", "message"}} (a new reference) or NULL. */
static struct json_object *error_json(unsigned status, const char *message)
{
    struct json_object *o = json_object_new_object(), *e = json_object_new_object();
    int rc = !o || !e;
    if (!rc) {
        rc |= brd_json_add(e, "code", json_object_new_string(code_of(status)));
        rc |= brd_json_add(e, "message", json_object_new_string(message));
        rc |= brd_json_add(o, "error", e);
        e = NULL;
    }
    json_object_put(e);
    if (rc) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

static enum MHD_Result queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *r,
                             const char *type)
{
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == 401)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

/* Sends body (consumed) as JSON; NULL (out of memory) becomes a 500. */
static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, struct json_object *body)
{
    static const char nomem[] = "{\"error\":{\"code\":\"INTERNAL\",\"message\":\"out of memory\"}}";
    if (!body)
        return queue(c, 500, MHD_create_response_from_buffer(sizeof nomem - 1, (void *)nomem,
                                                             MHD_RESPMEM_PERSISTENT), "application/json");
    size_t len;
    const char *text = brd_json_compact(body, &len);
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
    json_object_put(body);
    return queue(c, status, r, "application/json");
}

static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, const char *message)
{
    return reply_json(c, status, error_json(status, message));
}

/* ---- the /api/ routes (on the serving thread) ---------------------------------- */

/* {"errors": [...]} of the directory, with the etag first when given. */
static struct json_object *with_errors(struct brd_studio_http *h, const char *etag)
{
    struct json_object *o = json_object_new_object(), *errors = NULL;
    if (!o)
        return NULL;
    int rc = etag ? brd_json_add(o, "etag", json_object_new_string(etag)) : 0;
    rc |= brd_studio_check(h->cfg.dir, h->cfg.runner, &errors);
    rc |= brd_json_add(o, "errors", errors);
    if (rc) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

static void api_files(struct brd_studio_http *h, struct job *j, const char *rest)
{
    char kind[72];
    const char *slash = strchr(rest, '/');
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    snprintf(kind, sizeof kind, "%.*s", n < sizeof kind ? (int)n : (int)sizeof kind - 1, rest);
    struct brd_studio_file f;
    struct brd_error err;
    brd_error_clear(&err);
    int status = brd_studio_file_resolve(kind, slash ? slash + 1 : "", &f, &err);
    if (!status && strcmp(j->method, "PUT") && strcmp(j->method, "DELETE")) {
        status = 405;
        brd_error_set(&err, BRD_E_METHOD_NOT_ALLOWED, "%s: use PUT or DELETE", j->url);
    }
    char etag[BRD_STUDIO_ETAG_LEN + 1];
    if (!status)
        status = !strcmp(j->method, "PUT")
                     ? brd_studio_put(h->cfg.dir, &f, j->body, j->len, j->if_match, etag, &err)
                     : brd_studio_delete(h->cfg.dir, &f, j->if_match, &err);
    if (status) {
        j->status = (unsigned)status;
        j->reply = error_json(j->status, err.msg);
        return;
    }
    fprintf(stderr, "braid studio: %s %s\n", !strcmp(j->method, "PUT") ? "saved" : "deleted", f.rel);
    j->status = 200;
    j->reply = with_errors(h, !strcmp(j->method, "PUT") ? etag : NULL);
}

static void api_run(struct brd_studio_http *h, struct job *j, const char *workflow)
{
    struct json_object *body = NULL, *input = NULL;
    struct brd_error err;
    brd_error_clear(&err);
    if (!brd_valid_name(workflow)) {
        j->status = 404;
        j->reply = error_json(404, "no such workflow (a name is 1 to 64 of A-Z a-z 0-9 _ -)");
        return;
    }
    if (j->len && brd_json_parse(j->body, j->len, &body, &err) != 0) {
        brd_error_prefix(&err, "the body is not valid JSON");
        j->status = 400;
        j->reply = error_json(400, err.msg);
        return;
    }
    if (body && !json_object_is_type(body, json_type_object)) {
        json_object_put(body);
        j->status = 400;
        j->reply = error_json(400, "the body must be an object {\"input\": {...}}");
        return;
    }
    if (body && json_object_object_get_ex(body, "input", &input)) {
        input = brd_json_ref(input);
    } else if (!(input = json_object_new_object())) {
        json_object_put(body);
        j->status = 500;
        j->reply = NULL;
        return;
    }
    json_object_put(body);
    if (!json_object_is_type(input, json_type_object)) {
        json_object_put(input);
        j->status = 400;
        j->reply = error_json(400, "\"input\" must be an object: the request parameters");
        return;
    }
    int status = brd_studio_run(h->cfg.dir, h->cfg.runner, workflow, input, &j->reply, &err);
    json_object_put(input);
    j->status = (unsigned)status;
    if (status == 500)
        j->reply = error_json(500, err.msg);
}

/* Routes one /api/ call (token and Host already checked). */
static void api(struct brd_studio_http *h, struct job *j)
{
    const char *p = j->url + 4; /* after "/api" */
    bool get = !strcmp(j->method, "GET"), post = !strcmp(j->method, "POST");
    if (!strcmp(p, "/service") && get) {
        j->status = 200;
        j->reply = brd_studio_list(h->cfg.dir);
    } else if (!strcmp(p, "/check") && post) {
        j->status = 200;
        j->reply = with_errors(h, NULL);
    } else if (!strncmp(p, "/files/", 7)) {
        api_files(h, j, p + 7);
    } else if (!strncmp(p, "/run/", 5) && post) {
        api_run(h, j, p + 5);
    } else if (!strcmp(p, "/service") || !strcmp(p, "/check") || !strncmp(p, "/run/", 5)) {
        j->status = 405;
        j->reply = error_json(405, get ? "use POST" : "use GET");
    } else {
        j->status = 404;
        j->reply = error_json(404, "no such API call (see docs/studio.md)");
    }
}

/* On libmicrohttpd's thread: hands j to the serving thread and waits. */
static void run_job(struct brd_studio_http *h, struct job *j)
{
    pthread_mutex_lock(&h->lock);
    while (h->pending && !h->stopping)
        pthread_cond_wait(&h->done, &h->lock);
    if (!h->stopping) {
        h->pending = j;
        char b = 1;
        if (write(h->wake[1], &b, 1) != 1) {
            /* The pipe holds at most one byte per waiting job: never full. */
        }
        while (!j->done && !h->stopping)
            pthread_cond_wait(&h->done, &h->lock);
    }
    if (!j->done) {
        if (h->pending == j)
            h->pending = NULL;
        j->status = 503;
        j->reply = error_json(503, "braid studio is stopping");
        j->done = true;
    }
    pthread_mutex_unlock(&h->lock);
}

void brd_studio_http_serve(struct brd_studio_http *h, int stop_fd)
{
    for (;;) {
        struct pollfd fds[2] = {{stop_fd, POLLIN, 0}, {h->wake[0], POLLIN, 0}};
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (fds[0].revents)
            break;
        if (!fds[1].revents)
            continue;
        char b;
        while (read(h->wake[0], &b, 1) == 1) {
        }
        pthread_mutex_lock(&h->lock);
        struct job *j = h->pending;
        pthread_mutex_unlock(&h->lock);
        if (!j)
            continue;
        api(h, j);
        pthread_mutex_lock(&h->lock);
        j->done = true;
        h->pending = NULL;
        pthread_cond_broadcast(&h->done);
        pthread_mutex_unlock(&h->lock);
    }
    pthread_mutex_lock(&h->lock);
    h->stopping = true;
    pthread_cond_broadcast(&h->done);
    pthread_mutex_unlock(&h->lock);
}

/* ---- requests (on libmicrohttpd's thread) ---------------------------------------- */

static bool host_ok(const struct brd_studio_http *h, struct MHD_Connection *c)
{
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    if (!host)
        return false;
    for (size_t i = 0; i < sizeof h->hosts / sizeof h->hosts[0]; i++)
        if (h->hosts[i][0] && !strcasecmp(host, h->hosts[i]))
            return true;
    return false;
}

/* Whether the Authorization header is "Bearer TOKEN", compared in constant time. */
static bool token_ok(const struct brd_studio_http *h, struct MHD_Connection *c)
{
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
        return false;
    const char *t = auth + 7, *want = h->cfg.token;
    size_t n = strlen(want);
    if (strlen(t) != n)
        return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(t[i] ^ want[i]);
    return diff == 0;
}

static enum MHD_Result asset(struct MHD_Connection *c, const char *url, const char *method)
{
    for (size_t i = 0; i < brd_studio_nassets; i++) {
        const struct brd_studio_asset *a = &brd_studio_assets[i];
        if (strcmp(url, a->path))
            continue;
        if (strcmp(method, "GET") && strcmp(method, "HEAD"))
            return reply_error(c, 405, "use GET");
        struct MHD_Response *r = MHD_create_response_from_buffer(a->len, (void *)a->data,
                                                                 MHD_RESPMEM_PERSISTENT);
        return queue(c, 200, r, a->type);
    }
    return reply_error(c, 404, "not found");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size,
                                  void **con_cls)
{
    (void)version;
    struct brd_studio_http *h = cls;
    struct request *r = *con_cls;
    if (!r) {
        if (!(r = calloc(1, sizeof *r)))
            return MHD_NO;
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_size) {
        /* Read all of a body that is too big (and drop it): a reply before
         * the client finished sending would reach it as a reset. */
        r->total += *upload_size;
        if (r->total > BRD_STUDIO_BODY_MAX)
            r->too_big = true;
        else
            brd_strbuf_add(&r->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (!host_ok(h, c))
        return reply_error(c, 403, "the Host header is not this Studio's address (open the URL braid studio "
                                   "printed)");
    if (r->too_big)
        return reply_error(c, 413, "the body is over 8 MiB");
    if (strncmp(url, "/api/", 5) != 0)
        return asset(c, url, method);
    if (!token_ok(h, c))
        return reply_error(c, 401, "every /api/ call needs the header Authorization: Bearer TOKEN, the token "
                                   "of the URL braid studio printed");
    if (r->body.failed)
        return reply_error(c, 500, "out of memory");
    struct job j = {method, url, r->body.p ? r->body.p : "",
                    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_MATCH), r->body.len,
                    0, NULL, false};
    run_job(h, &j);
    if (j.status != 200)
        fprintf(stderr, "braid studio: %s %s: %u\n", method, url, j.status);
    return reply_json(c, j.status, j.reply);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct request *r = *con_cls;
    if (r) {
        brd_strbuf_free(&r->body);
        free(r);
        *con_cls = NULL;
    }
}

/* ---- lifetime -------------------------------------------------------------------- */

int brd_studio_http_start(const struct brd_studio_http_config *cfg, struct brd_studio_http **out,
                          uint16_t *port, struct brd_error *err)
{
    *out = NULL;
    struct brd_studio_http *h = calloc(1, sizeof *h);
    if (!h)
        return brd_error_nomem(err);
    h->cfg = *cfg;
    h->wake[0] = h->wake[1] = -1;
    if (pipe2(h->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        free(h);
        return brd_error_set(err, BRD_E_IO, "pipe: %s", strerror(errno));
    }
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->done, NULL);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (cfg->addr->sa_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
                                 MHD_OPTION_SOCK_ADDR, cfg->addr,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
                                 MHD_OPTION_END);
    if (!h->daemon) {
        int e = errno;
        brd_studio_http_stop(h);
        return brd_error_set(err, BRD_E_IO, "cannot listen on %s: %s", cfg->host,
                             e ? strerror(e) : "libmicrohttpd refused to start");
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    *port = info ? info->port : 0;
    snprintf(h->hosts[0], sizeof h->hosts[0], "%s:%u", cfg->host, (unsigned)*port);
    snprintf(h->hosts[1], sizeof h->hosts[1], "localhost:%u", (unsigned)*port);
    snprintf(h->hosts[2], sizeof h->hosts[2], "127.0.0.1:%u", (unsigned)*port);
    if (*port == 80) {
        /* A browser leaves the default port out of Host. */
        snprintf(h->hosts[3], sizeof h->hosts[3], "%s", cfg->host);
        snprintf(h->hosts[4], sizeof h->hosts[4], "localhost");
        snprintf(h->hosts[5], sizeof h->hosts[5], "127.0.0.1");
    }
    *out = h;
    return 0;
}

void brd_studio_http_stop(struct brd_studio_http *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->lock);
    h->stopping = true;
    pthread_cond_broadcast(&h->done);
    pthread_mutex_unlock(&h->lock);
    if (h->daemon)
        MHD_stop_daemon(h->daemon);
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->done);
    close(h->wake[0]);
    close(h->wake[1]);
    free(h);
}
