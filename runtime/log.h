/* log.h — the serve log: one JSON line per request (written by the worker
 * that answered it) and one per master event ("event": "start", "reload",
 * ...), on stderr or in --log-file.
 *
 * Every line is written with a single write(2) on an O_APPEND descriptor, so
 * lines from the master and all workers never interleave.  The descriptor is
 * opened by the master and inherited by the workers; SIGUSR1 makes each
 * process reopen the file by its path (log rotation). */
#ifndef BRD_LOG_H
#define BRD_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/jsonutil.h"

/* Sends the log to path (created 0644 if missing, appended to), or to
 * stderr when path is NULL. */
int brd_log_open(const char *path, struct brd_error *err);

/* Reopens the log file by its path onto the same descriptor number (no-op
 * for stderr).  On failure the old file stays in use. */
int brd_log_reopen(struct brd_error *err);

/* The current time as RFC 3339 UTC with milliseconds:
 * "2024-05-01T12:00:00.123Z". */
void brd_log_time(char buf[32]);

/* Appends s to a JSON text as a string literal (quotes included), with
 * control characters escaped and invalid UTF-8 replaced by U+FFFD; at most
 * max input bytes are taken (then "..." is added).  Returns the new length,
 * never beyond cap - 1 (out stays NUL-terminated). */
size_t brd_log_json_str(char *out, size_t len, size_t cap, const char *s, size_t max);

struct brd_log_request {
    const char *request_id;
    const char *method;
    const char *path;        /* as requested, without the query */
    const char *workflow;    /* NULL: none matched */
    int status;
    int64_t duration_us;
    const char *error;       /* the SPEC code, or NULL */
};

/* One request line. */
void brd_log_request(const struct brd_log_request *r);

/* Fields of an event: o[k] = v (a NULL v writes null).  A NULL o (its
 * allocation failed) is ignored: a log line short of memory loses fields. */
void brd_log_field_str(struct json_object *o, const char *k, const char *v);
void brd_log_field_int(struct json_object *o, const char *k, int64_t v);

/* One event line {"time", "event", "pid", ...fields}; fields (may be NULL)
 * is an object whose members are added and which is released here. */
void brd_log_event(const char *event, struct json_object *fields);

#endif
