/* cmd_studio.c — `braid studio DIR`: serves the Studio, the visual editor
 * and Test console of one service directory (SPEC section 11), on a
 * loopback address by default, behind a fresh random token; until SIGINT
 * or SIGTERM.  The server is studio_http.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "fnrunner.h"
#include "studio_http.h"

static const char usage_text[] =
    "usage: braid studio DIR [--listen HOST:PORT] [--allow-remote]\n"
    "\n"
    "Serves Braid Studio, the web editor and Test console of the service directory\n"
    "DIR, and prints its address with a fresh random token:\n"
    "    Braid Studio: http://HOST:PORT/?token=T\n"
    "Open that URL in a browser.  The page saves into DIR (atomically, JSON\n"
    "pretty-printed in its key order), checks every change as `braid check` does, and\n"
    "runs the saved workflows with the real engine and sandbox.  Stops on Ctrl-C.\n"
    "\n"
    "  --listen HOST:PORT  where to listen (default 127.0.0.1:8090; port 0 = any free\n"
    "                      port, the one printed)\n"
    "  --allow-remote      allow a HOST that is not a loopback address: anyone who can\n"
    "                      reach it and has the token can edit DIR and run its code\n"
    "\n"
    "The HTTP API the page uses is in docs/studio.md.\n"
    "\n"
    "exit status: 0 stopped by a signal, 1 cannot listen or start, 2 bad usage\n";

/* The signal self-pipe: the handler only writes to it. */
static int stop_pipe[2] = {-1, -1};

static void on_stop(int sig)
{
    int saved = errno;
    char b = (char)sig;
    if (write(stop_pipe[1], &b, 1) != 1) {
        /* Already one byte waiting: that is enough to stop. */
    }
    errno = saved;
}

static int install_signals(void)
{
    if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
        return -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

/* HOST:PORT or [V6]:PORT into host (without brackets) and port. */
static int split_listen(const char *arg, char *host, size_t cap, unsigned *port)
{
    const char *colon;
    if (arg[0] == '[') {
        const char *close = strchr(arg, ']');
        if (!close || close[1] != ':')
            return -1;
        snprintf(host, cap, "%.*s", (int)(close - arg - 1), arg + 1);
        colon = close + 1;
    } else {
        colon = strrchr(arg, ':');
        if (!colon || memchr(arg, ':', (size_t)(colon - arg)))
            return -1;
        snprintf(host, cap, "%.*s", (int)(colon - arg), arg);
    }
    char *end;
    errno = 0;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (!host[0] || !colon[1] || *end || errno || p > 65535 || colon[1] == '-' || colon[1] == '+')
        return -1;
    *port = (unsigned)p;
    return 0;
}

static bool is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    }
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
    if (IN6_IS_ADDR_LOOPBACK(&a->sin6_addr))
        return true;
    return IN6_IS_ADDR_V4MAPPED(&a->sin6_addr) && a->sin6_addr.s6_addr[12] == 127;
}

/* Resolves host (an address or a name) for listening. */
static int resolve(const char *host, unsigned port, struct sockaddr_storage *ss, socklen_t *len,
                   char *why, size_t cap)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char service[8];
    snprintf(service, sizeof service, "%u", port);
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) {
        snprintf(why, cap, "%s", gai_strerror(rc));
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int brd_cmd_studio(int argc, char **argv)
{
    const char *dir = NULL, *listen = "127.0.0.1:8090";
    bool allow_remote = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (brd_cli_is_help(a)) {
            fputs(usage_text, stdout);
            return BRD_CMD_EXIT_OK;
        } else if (!strcmp(a, "--listen") && i + 1 < argc) {
            listen = argv[++i];
        } else if (!strncmp(a, "--listen=", 9)) {
            listen = a + 9;
        } else if (!strcmp(a, "--allow-remote")) {
            allow_remote = true;
        } else if (a[0] != '-' && !dir) {
            dir = a;
        } else {
            fprintf(stderr, "braid studio: unexpected argument '%s'\n\n%s", a, usage_text);
            return BRD_CMD_EXIT_USAGE;
        }
    }
    if (!dir) {
        fputs(usage_text, stderr);
        return BRD_CMD_EXIT_USAGE;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "braid studio: %s is not a directory\n", dir);
        return BRD_CMD_EXIT_USAGE;
    }
    char host[256], why[256];
    unsigned port;
    struct sockaddr_storage ss;
    socklen_t sslen;
    if (split_listen(listen, host, sizeof host, &port) != 0) {
        fprintf(stderr, "braid studio: --listen: expected HOST:PORT (e.g. 127.0.0.1:8090), got '%s'\n", listen);
        return BRD_CMD_EXIT_USAGE;
    }
    if (resolve(host, port, &ss, &sslen, why, sizeof why) != 0) {
        fprintf(stderr, "braid studio: --listen: cannot resolve '%s': %s\n", host, why);
        return BRD_CMD_EXIT_USAGE;
    }
    if (!is_loopback(&ss) && !allow_remote) {
        fprintf(stderr, "braid studio: --listen %s is not a loopback address: the Studio edits %s and runs "
                "its code, so it listens on 127.0.0.1 unless you also give --allow-remote\n", listen, dir);
        return BRD_CMD_EXIT_USAGE;
    }
    unsigned char raw[16];
    char token[33];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        fprintf(stderr, "braid studio: cannot make a token: %s\n", strerror(errno));
        return BRD_CMD_EXIT_FAILED;
    }
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(token + 2 * i, 3, "%02x", raw[i]);
    if (install_signals() != 0) {
        fprintf(stderr, "braid studio: cannot install the signal handlers: %s\n", strerror(errno));
        return BRD_CMD_EXIT_FAILED;
    }
    struct brd_error err;
    brd_error_clear(&err);
    struct brd_fn_runner runner;
    if (brd_fnrunner_init(&runner, &err) != 0) {
        fprintf(stderr, "braid studio: cannot start the function sandbox: %s\n", err.msg);
        return BRD_CMD_EXIT_FAILED;
    }
    char shown[300];
    snprintf(shown, sizeof shown, strchr(host, ':') ? "[%s]" : "%s", host);
    struct brd_studio_http_config cfg = {dir, &runner, token, shown, (const struct sockaddr *)&ss, sslen};
    struct brd_studio_http *h = NULL;
    uint16_t bound = 0;
    if (brd_studio_http_start(&cfg, &h, &bound, &err) != 0) {
        fprintf(stderr, "braid studio: %s\n", err.msg);
        brd_fnrunner_shutdown();
        return BRD_CMD_EXIT_FAILED;
    }
    printf("Braid Studio: http://%s:%u/?token=%s\n", shown, (unsigned)bound, token);
    fflush(stdout);
    brd_studio_http_serve(h, stop_pipe[0]);
    brd_studio_http_stop(h);
    brd_fnrunner_shutdown();
    fprintf(stderr, "braid studio: stopped\n");
    return BRD_CMD_EXIT_OK;
}
