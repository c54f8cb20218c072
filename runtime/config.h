/* config.h — the settings of `braid serve`: its flags, their environment
 * twins (BRAID_*; a flag wins over its twin), defaults and limits. */
#ifndef BRD_CONFIG_H
#define BRD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

#define BRD_SERVE_MAX_WORKERS 256
#define BRD_SERVE_DEFAULT_TIMEOUT_MS 30000
#define BRD_SERVE_DEFAULT_MAX_BODY (1024 * 1024)
#define BRD_SERVE_DEFAULT_SOCKET_MODE 0660

struct brd_serve_config {
    const char *dir;           /* the service directory */
    const char *listen;        /* "unix:/path" or "HOST:PORT"; NULL: the socket on fd 0 */
    unsigned socket_mode;      /* permissions of a unix socket we create */
    int workers;               /* 1..BRD_SERVE_MAX_WORKERS; default: online CPUs */
    long max_requests;         /* a worker exits after this many; 0 = never */
    int request_timeout_ms;    /* a request running longer gets its worker killed */
    const char *base_path;     /* "/api" (no trailing slash), or NULL */
    const char *admin;         /* "HOST:PORT" of the admin listener, or NULL (off) */
    size_t max_body;           /* request body limit in bytes */
    bool debug;                /* honour X-Braid-Trace: 1 */
    bool cpu_affinity;         /* auto: pin worker i to CPU i when workers == CPUs (affinity.h) */
    const char *log_file;      /* NULL: stderr */
    char base_buf[512];        /* storage for a normalised base_path */
};

/* The usage text of `braid serve --help`. */
extern const char brd_serve_usage[];

/* Fills cfg from the environment (BRAID_LISTEN, BRAID_WORKERS, ...) and then
 * from argv (argv[0] is "serve"; the strings stay argv's and environ's).
 * Returns 0, or 1 when --help was asked for (nothing else checked), or -1
 * with BRD_E_USAGE and a message naming the flag or variable and what it
 * accepts. */
int brd_serve_config_parse(int argc, char **argv, struct brd_serve_config *cfg,
                           struct brd_error *err);

#endif
