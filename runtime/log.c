/* log.c — JSON log lines on stderr or a reopenable file (log.h). */
#include "log.h"

#include "base/selfpid.h"
#include "base/utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_fd = STDERR_FILENO;
static char log_path[4096];

int brd_log_open(const char *path, struct brd_error *err)
{
    if (!path) {
        log_fd = STDERR_FILENO;
        log_path[0] = '\0';
        return 0;
    }
    if (strlen(path) >= sizeof log_path)
        return brd_error_set(err, BRD_E_USAGE, "--log-file: path too long");
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return brd_error_set(err, BRD_E_IO, "cannot open log file %s: %s", path, strerror(errno));
    snprintf(log_path, sizeof log_path, "%s", path);
    log_fd = fd;
    return 0;
}

int brd_log_reopen(struct brd_error *err)
{
    if (!log_path[0])
        return 0;
    int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return brd_error_set(err, BRD_E_IO, "cannot reopen log file %s: %s", log_path,
                             strerror(errno));
    /* Same number, new file: nothing else has to learn a new descriptor. */
    if (dup3(fd, log_fd, O_CLOEXEC) < 0) {
        int e = errno;
        close(fd);
        return brd_error_set(err, BRD_E_IO, "cannot reopen log file %s: %s", log_path, strerror(e));
    }
    close(fd);
    return 0;
}

void brd_log_time(char buf[32])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, 32 - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

size_t brd_log_json_str(char *out, size_t len, size_t cap, const char *s, size_t max)
{
#define PUT(str, n)                                        \
    do {                                                   \
        if (len + (n) + 1 < cap) {                         \
            memcpy(out + len, (str), (n));                 \
            len += (n);                                    \
        }                                                  \
    } while (0)
    PUT("\"", 1);
    size_t n = strlen(s);
    bool cut = n > max;
    if (cut)
        n = max;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            PUT(e, 2);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            char e[8];
            snprintf(e, sizeof e, "\\u%04x", c);
            PUT(e, 6);
            i++;
        } else {
            size_t k = brd_utf8_seq(p + i, n - i);
            if (k == 0) {
                PUT("\\ufffd", 6);
                i++;
            } else {
                PUT(p + i, k);
                i += k;
            }
        }
    }
    if (cut)
        PUT("...", 3);
    PUT("\"", 1);
    out[len < cap ? len : cap - 1] = '\0';
    return len;
#undef PUT
}

static void write_line(const char *line, size_t len)
{
    /* One write: O_APPEND makes it land whole after every other line. */
    while (len > 0) {
        ssize_t w = write(log_fd, line, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* a log that cannot be written never stops serving */
        line += w;
        len -= (size_t)w;
    }
}

/* snprintf at line[n..cap) that never moves n past cap - 1. */
static size_t cat(char *line, size_t n, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static size_t cat(char *line, size_t n, size_t cap, const char *fmt, ...)
{
    if (n + 1 >= cap)
        return n;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(line + n, cap - n, fmt, ap);
    va_end(ap);
    if (w < 0)
        return n;
    return n + (size_t)w < cap ? n + (size_t)w : cap - 1;
}

void brd_log_request(const struct brd_log_request *r)
{
    /* Hand-formatted: a request line costs no allocation.  The caps on
     * each field keep the line well under the buffer (escapes included). */
    char line[8192], t[32];
    const size_t cap = sizeof line - 1; /* room for the final newline */
    brd_log_time(t);
    size_t n = cat(line, 0, cap, "{\"time\":\"%s\",\"request_id\":", t);
    n = brd_log_json_str(line, n, cap, r->request_id ? r->request_id : "", 128);
    n = cat(line, n, cap, ",\"method\":");
    n = brd_log_json_str(line, n, cap, r->method ? r->method : "", 32);
    n = cat(line, n, cap, ",\"path\":");
    n = brd_log_json_str(line, n, cap, r->path ? r->path : "", 1024);
    n = cat(line, n, cap, ",\"workflow\":");
    if (r->workflow)
        n = brd_log_json_str(line, n, cap, r->workflow, 128);
    else
        n = cat(line, n, cap, "null");
    n = cat(line, n, cap, ",\"status\":%d,\"duration_ms\":%.3f,\"error\":", r->status,
            (double)r->duration_us / 1000.0);
    if (r->error)
        n = brd_log_json_str(line, n, cap, r->error, 64);
    else
        n = cat(line, n, cap, "null");
    n = cat(line, n, cap, ",\"pid\":%ld}", (long)brd_self_pid());
    line[n++] = '\n';
    write_line(line, n);
}

void brd_log_event(const char *event, struct json_object *fields)
{
    char t[32];
    brd_log_time(t);
    struct json_object *o = json_object_new_object();
    if (!o) {
        json_object_put(fields);
        return;
    }
    brd_json_add(o, "time", json_object_new_string(t));
    brd_json_add(o, "event", json_object_new_string(event));
    brd_json_add(o, "pid", json_object_new_int64((int64_t)brd_self_pid()));
    if (fields && json_object_is_type(fields, json_type_object)) {
        json_object_object_foreach(fields, k, v) brd_json_add(o, k, brd_json_ref(v));
    }
    json_object_put(fields);
    size_t len;
    const char *text = brd_json_compact(o, &len);
    char *line = malloc(len + 2);
    if (line) {
        memcpy(line, text, len);
        line[len] = '\n';
        write_line(line, len + 1);
        free(line);
    }
    json_object_put(o);
}

void brd_log_field_str(struct json_object *o, const char *k, const char *v)
{
    if (o)
        (void)brd_json_add(o, k, v ? json_object_new_string(v) : NULL);
}

void brd_log_field_int(struct json_object *o, const char *k, int64_t v)
{
    if (o)
        (void)brd_json_add(o, k, json_object_new_int64(v));
}
