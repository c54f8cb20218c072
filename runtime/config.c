/* config.c — parsing `braid serve`'s flags and their BRAID_* twins (config.h). */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

const char brd_serve_usage[] =
    "usage: braid serve DIR [--listen unix:/PATH|HOST:PORT] [--socket-mode 0660]\n"
    "                   [--workers N] [--max-requests N] [--request-timeout MS]\n"
    "                   [--base-path /P] [--admin HOST:PORT] [--max-body BYTES]\n"
    "                   [--debug] [--log-file PATH] [--cpu-affinity auto|off]\n"
    "\n"
    "Serves the workflows of the service directory DIR over FastCGI: a master\n"
    "process validates DIR, then forks a pool of workers that each answer one\n"
    "request at a time.  Put nginx, Apache or lighttpd in front (docs/runtime.md).\n"
    "\n"
    "  --listen ADDR          unix:/path/to.sock or HOST:PORT.  Without it, the\n"
    "                         listening socket a spawner (spawn-fcgi, mod_fcgid)\n"
    "                         hands over on fd 0 is used.         BRAID_LISTEN\n"
    "  --socket-mode MODE     octal permissions of the unix socket (default 0660)\n"
    "                                                             BRAID_SOCKET_MODE\n"
    "  --workers N            worker processes (default: the number of CPUs)\n"
    "                                                             BRAID_WORKERS\n"
    "  --max-requests N       a worker is replaced after N requests (default 0:\n"
    "                         never)                              BRAID_MAX_REQUESTS\n"
    "  --request-timeout MS   a worker busy with one request longer than this is\n"
    "                         killed and replaced (default 30000) BRAID_REQUEST_TIMEOUT\n"
    "  --base-path /P         serve workflow /x at /P/x            BRAID_BASE_PATH\n"
    "  --admin HOST:PORT      plain-HTTP /healthz, /status, /metrics (default off)\n"
    "                                                             BRAID_ADMIN\n"
    "  --max-body BYTES       request body limit; k, m suffixes (default 1m)\n"
    "                                                             BRAID_MAX_BODY\n"
    "  --debug                answer X-Braid-Trace: 1 with the trace  BRAID_DEBUG=1\n"
    "  --log-file PATH        JSON log lines go here instead of stderr; SIGUSR1\n"
    "                         reopens it                          BRAID_LOG_FILE\n"
    "  --cpu-affinity MODE    auto (default): with one worker per CPU, worker i\n"
    "                         and its sandboxed processes run on CPU i; off:\n"
    "                         anywhere                            BRAID_CPU_AFFINITY\n"
    "\n"
    "A flag wins over its environment variable.  Signals to the master: TERM or\n"
    "INT drain (in-flight requests finish) and exit; HUP reloads DIR (validated\n"
    "first; a bad one keeps the old one serving); USR1 reopens the log file.\n"
    "\n"
    "exit status: 0 after a drain, 1 DIR is invalid or serving failed, 2 bad usage\n";

enum kind { K_STRING, K_MODE, K_WORKERS, K_COUNT, K_TIMEOUT, K_PATH, K_BYTES, K_BOOL, K_AFFINITY };

static const struct option {
    const char *flag, *env;
    enum kind kind;
    size_t offset;
} options[] = {
    {"--listen", "BRAID_LISTEN", K_STRING, offsetof(struct brd_serve_config, listen)},
    {"--socket-mode", "BRAID_SOCKET_MODE", K_MODE, offsetof(struct brd_serve_config, socket_mode)},
    {"--workers", "BRAID_WORKERS", K_WORKERS, offsetof(struct brd_serve_config, workers)},
    {"--max-requests", "BRAID_MAX_REQUESTS", K_COUNT, offsetof(struct brd_serve_config, max_requests)},
    {"--request-timeout", "BRAID_REQUEST_TIMEOUT", K_TIMEOUT,
     offsetof(struct brd_serve_config, request_timeout_ms)},
    {"--base-path", "BRAID_BASE_PATH", K_PATH, offsetof(struct brd_serve_config, base_path)},
    {"--admin", "BRAID_ADMIN", K_STRING, offsetof(struct brd_serve_config, admin)},
    {"--max-body", "BRAID_MAX_BODY", K_BYTES, offsetof(struct brd_serve_config, max_body)},
    {"--debug", "BRAID_DEBUG", K_BOOL, offsetof(struct brd_serve_config, debug)},
    {"--log-file", "BRAID_LOG_FILE", K_STRING, offsetof(struct brd_serve_config, log_file)},
    {"--cpu-affinity", "BRAID_CPU_AFFINITY", K_AFFINITY, offsetof(struct brd_serve_config, cpu_affinity)},
};

/* A whole decimal number in [min, max]. */
static int parse_long(const char *s, long min, long max, long *out)
{
    if (!*s || *s == '-' || *s == '+' || *s == ' ')
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int bad(struct brd_error *err, const char *src, const char *val, const char *want)
{
    return brd_error_set(err, BRD_E_USAGE, "%s: expected %s, got '%s'", src, want, val);
}

/* Base path: "/api" kept, "/api/" → "/api", "/" or "" → none; must start with
 * '/' and hold no "..", query or fragment. */
static int set_base(struct brd_serve_config *cfg, const char *src, const char *val,
                    struct brd_error *err)
{
    size_t n = strlen(val);
    while (n > 0 && val[n - 1] == '/')
        n--;
    if (n == 0) {
        cfg->base_path = NULL;
        return 0;
    }
    if (val[0] != '/' || n >= sizeof cfg->base_buf || strpbrk(val, "?#%") ||
        strstr(val, "/../") || strstr(val, "/./") || strstr(val, "//"))
        return bad(err, src, val, "a path such as /api (no ?, #, %, //, . or .. segments)");
    memcpy(cfg->base_buf, val, n);
    cfg->base_buf[n] = '\0';
    const char *last = strrchr(cfg->base_buf, '/');
    if (strcmp(last, "/..") == 0 || strcmp(last, "/.") == 0)
        return bad(err, src, val, "a path such as /api (no ?, #, %, //, . or .. segments)");
    cfg->base_path = cfg->base_buf;
    return 0;
}

static int apply(struct brd_serve_config *cfg, const struct option *o, const char *src,
                 const char *val, struct brd_error *err)
{
    void *field = (char *)cfg + o->offset;
    long v;
    switch (o->kind) {
    case K_STRING:
        if (!*val)
            return bad(err, src, val, "a value");
        *(const char **)field = val;
        return 0;
    case K_MODE: {
        char *end;
        errno = 0;
        unsigned long m = strtoul(val, &end, 8);
        if (!*val || *end || errno || m > 0777)
            return bad(err, src, val, "an octal mode such as 0660");
        *(unsigned *)field = (unsigned)m;
        return 0;
    }
    case K_WORKERS:
        if (parse_long(val, 1, BRD_SERVE_MAX_WORKERS, &v) != 0)
            return bad(err, src, val, "a number of workers from 1 to 256");
        *(int *)field = (int)v;
        return 0;
    case K_COUNT:
        if (parse_long(val, 0, LONG_MAX, &v) != 0)
            return bad(err, src, val, "a number of requests (0 = never recycle)");
        *(long *)field = v;
        return 0;
    case K_TIMEOUT:
        if (parse_long(val, 100, 24L * 3600 * 1000, &v) != 0)
            return bad(err, src, val, "milliseconds from 100 to 86400000");
        *(int *)field = (int)v;
        return 0;
    case K_PATH:
        return set_base(cfg, src, val, err);
    case K_BYTES: {
        char num[32];
        size_t n = strlen(val);
        long mult = 1;
        if (n > 0 && strchr("kKmM", val[n - 1])) {
            mult = (val[n - 1] == 'k' || val[n - 1] == 'K') ? 1024 : 1024 * 1024;
            n--;
        }
        if (n == 0 || n >= sizeof num)
            return bad(err, src, val, "a size in bytes from 1 to 1g (k, m suffixes allowed)");
        memcpy(num, val, n);
        num[n] = '\0';
        if (parse_long(num, 1, (1L << 30) / mult, &v) != 0)
            return bad(err, src, val, "a size in bytes from 1 to 1g (k, m suffixes allowed)");
        *(size_t *)field = (size_t)(v * mult);
        return 0;
    }
    case K_BOOL:
        if (!strcmp(val, "1") || !strcmp(val, "true") || !strcmp(val, "yes") || !strcmp(val, "on"))
            *(bool *)field = true;
        else if (!strcmp(val, "0") || !strcmp(val, "false") || !strcmp(val, "no") ||
                 !strcmp(val, "off"))
            *(bool *)field = false;
        else
            return bad(err, src, val, "1, true, yes, on or 0, false, no, off");
        return 0;
    case K_AFFINITY:
        if (!strcmp(val, "auto"))
            *(bool *)field = true;
        else if (!strcmp(val, "off"))
            *(bool *)field = false;
        else
            return bad(err, src, val, "auto or off");
        return 0;
    }
    return 0;
}

int brd_serve_config_parse(int argc, char **argv, struct brd_serve_config *cfg,
                           struct brd_error *err)
{
    memset(cfg, 0, sizeof *cfg);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->workers = cpus < 1 ? 1 : cpus > BRD_SERVE_MAX_WORKERS ? BRD_SERVE_MAX_WORKERS : (int)cpus;
    cfg->socket_mode = BRD_SERVE_DEFAULT_SOCKET_MODE;
    cfg->request_timeout_ms = BRD_SERVE_DEFAULT_TIMEOUT_MS;
    cfg->max_body = BRD_SERVE_DEFAULT_MAX_BODY;
    cfg->cpu_affinity = true;

    for (int i = 1; i < argc; i++)
        if (brd_cli_is_help(argv[i]))
            return 1;

    /* The environment first, so that flags override it.  An empty
     * variable counts as unset (containers often template them). */
    for (size_t k = 0; k < sizeof options / sizeof *options; k++) {
        const char *v = getenv(options[k].env);
        if (v && *v && apply(cfg, &options[k], options[k].env, v, err) != 0)
            return -1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const struct option *o = NULL;
        const char *val = NULL;
        for (size_t k = 0; k < sizeof options / sizeof *options && !o; k++) {
            size_t n = strlen(options[k].flag);
            if (strncmp(a, options[k].flag, n) != 0)
                continue;
            if (a[n] == '\0')
                o = &options[k];
            else if (a[n] == '=')
                o = &options[k], val = a + n + 1;
        }
        if (!o) {
            if (a[0] != '-' && !cfg->dir) {
                cfg->dir = a;
                continue;
            }
            return brd_error_set(err, BRD_E_USAGE, "unexpected argument '%s'", a);
        }
        if (o->kind == K_BOOL && !val) {
            val = "1";
        } else if (!val) {
            if (i + 1 >= argc)
                return brd_error_set(err, BRD_E_USAGE, "%s needs a value", o->flag);
            val = argv[++i];
        }
        if (apply(cfg, o, o->flag, val, err) != 0)
            return -1;
    }
    if (!cfg->dir)
        return brd_error_set(err, BRD_E_USAGE, "no service directory given");
    return 0;
}
