/* admin.h — the master's own plain-HTTP/1.0 listener for operators and
 * probes: GET /healthz, /status (JSON) and /metrics (Prometheus text
 * format 0.0.4), answered from the scoreboard even when every worker is
 * busy.  One short connection at a time, non-blocking, driven from the
 * master's poll loop; docs/runtime.md says why it is hand-written. */
#ifndef BRD_ADMIN_H
#define BRD_ADMIN_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "scoreboard.h"
#include "service.h"

/* What the master shows (borrowed for the duration of one call). */
struct brd_admin_view {
    const struct brd_scoreboard *sb;
    const struct brd_service *service;   /* the one being served */
    const char *dir;
    pid_t pid;
    int64_t started_us;                  /* CLOCK_MONOTONIC µs the master started */
    uint32_t generation;                 /* 1 + successful reloads */
    bool draining;
};

struct brd_admin;

/* Listens on "HOST:PORT". */
int brd_admin_open(const char *hostport, struct brd_admin **out, struct brd_error *err);

/* Closes everything (a NULL admin is fine). */
void brd_admin_close(struct brd_admin *a);

/* Fills p with the one descriptor to poll now (the listener, or the client
 * being answered) and its events. */
void brd_admin_pollfd(const struct brd_admin *a, struct pollfd *p);

/* Progress after poll (revents may be 0: then only the client's 2 s
 * deadline is checked).  The view is read when a request is complete. */
void brd_admin_step(struct brd_admin *a, short revents, const struct brd_admin_view *v);

/* The address it listens on ("127.0.0.1:9100"). */
const char *brd_admin_address(const struct brd_admin *a);

/* Renders the bodies (also used by tests and the future `braid status`).
 * Return malloc'd NUL-terminated text, or NULL when out of memory. */
char *brd_admin_status_json(const struct brd_admin_view *v);
char *brd_admin_metrics_text(const struct brd_admin_view *v);

/* True when /healthz says ok: a service is loaded, the master is not
 * draining and at least one worker is idle or busy. */
bool brd_admin_healthy(const struct brd_admin_view *v);

#endif
