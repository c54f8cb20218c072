/* studio_http.h — `braid studio`'s HTTP server (SPEC section 11) on GNU
 * libmicrohttpd: the page and its embedded assets without a token, the
 * /api/ calls behind `Authorization: Bearer T`, a Host check against DNS
 * rebinding, bodies up to 8 MiB.
 *
 * libmicrohttpd reads requests on its own thread; the work of an /api/
 * call (files, validation, runs) is handed to the thread that calls
 * brd_studio_http_serve — the one that initialised CPython and owns the
 * function sandbox, which must not be used from another thread.  Calls
 * are answered one at a time, in order. */
#ifndef BRD_STUDIO_HTTP_H
#define BRD_STUDIO_HTTP_H

#include <stdint.h>
#include <sys/socket.h>

#include "base/error.h"
#include "fnrun.h"

/* Bodies larger than this are refused with 413. */
#define BRD_STUDIO_BODY_MAX (8u * 1024 * 1024)

struct brd_studio_http;

struct brd_studio_http_config {
    const char *dir;                      /* the service directory */
    const struct brd_fn_runner *runner;   /* function runner for loads and runs (borrowed) */
    const char *token;                    /* the bearer token (32 hex digits) */
    const char *host;                     /* the listen host as printed ("127.0.0.1", "[::1]") */
    const struct sockaddr *addr;          /* where to listen (port 0: any free one) */
    socklen_t addrlen;
};

/* Starts listening and reading requests.  *port gets the port actually
 * bound.  0, or -1 with err (cannot listen, out of memory). */
int brd_studio_http_start(const struct brd_studio_http_config *cfg, struct brd_studio_http **out,
                          uint16_t *port, struct brd_error *err);

/* Does the /api/ work on the calling thread until stop_fd is readable
 * (the signal self-pipe); then refuses what is still waiting and returns. */
void brd_studio_http_serve(struct brd_studio_http *h, int stop_fd);

/* Stops the server (after brd_studio_http_serve returned) and frees it. */
void brd_studio_http_stop(struct brd_studio_http *h);

#endif
