/* hello_fcgi.c — the ceiling bench/run.sh races: a libfcgi "hello JSON" server.
 *
 * N processes (forked after one FCGX_Init, like braid's workers) share one
 * listening unix socket and answer every request with {"hello":"world"},
 * one request per connection, through the FCGX_* API — the least a
 * FastCGI application behind the same nginx can do.  bench/run.sh puts it
 * behind the same nginx configuration as `braid serve` and reports braid's
 * throughput as a fraction of this one's.
 *
 * Usage: build/bench/hello_fcgi SOCKET_PATH [PROCESSES]   (default 2)
 * SIGTERM or SIGINT stops every process and removes the socket.  Without
 * arguments it prints its usage and exits 0 (`make bench` runs every
 * bench program; this one is only useful under bench/run.sh).
 */
#include <errno.h>
#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_PROCS 256

static const char RESPONSE[] =
    "Status: 200 OK\r\n"
    "Content-Type: application/json; charset=utf-8\r\n"
    "Content-Length: 17\r\n"
    "\r\n"
    "{\"hello\":\"world\"}";

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
    stop_signal = sig;
}

/* One process's accept loop: never returns. */
static void serve(int fd)
{
    FCGX_Request req;
    if (FCGX_InitRequest(&req, fd, 0) != 0)
        _exit(1);
    while (FCGX_Accept_r(&req) >= 0) {
        FCGX_PutStr(RESPONSE, (int)sizeof RESPONSE - 1, req.out);
        FCGX_Finish_r(&req);
    }
    _exit(0);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        printf("hello_fcgi: the libfcgi ceiling for bench/run.sh (make bench-http);\n"
               "usage: %s SOCKET_PATH [PROCESSES]\n", argv[0]);
        return 0;
    }
    const char *path = argv[1];
    int nprocs = argc == 3 ? atoi(argv[2]) : 2;
    if (nprocs < 1 || nprocs > MAX_PROCS) {
        fprintf(stderr, "hello_fcgi: PROCESSES must be 1..%d\n", MAX_PROCS);
        return 2;
    }

    if (FCGX_Init() != 0) {
        fprintf(stderr, "hello_fcgi: FCGX_Init failed\n");
        return 1;
    }
    unlink(path);
    int fd = FCGX_OpenSocket(path, 1024);
    if (fd < 0) {
        fprintf(stderr, "hello_fcgi: cannot listen on %s\n", path);
        return 1;
    }
    chmod(path, 0666);

    /* The parent's handlers are installed before forking but the children
     * restore the defaults: SIGTERM simply ends a child. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    pid_t pids[MAX_PROCS];
    for (int i = 0; i < nprocs; i++) {
        pids[i] = fork();
        if (pids[i] < 0) {
            perror("hello_fcgi: fork");
            nprocs = i;
            stop_signal = SIGTERM;
            break;
        }
        if (pids[i] == 0) {
            signal(SIGTERM, SIG_DFL);
            signal(SIGINT, SIG_DFL);
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (getppid() == 1)
                _exit(0);
            serve(fd);
        }
    }

    /* Wait for a stop signal (or for every child to be gone). */
    int alive = nprocs;
    while (!stop_signal && alive > 0) {
        pid_t p = wait(NULL);
        if (p > 0)
            alive--;
        else if (errno == ECHILD)
            break;
    }
    for (int i = 0; i < nprocs; i++)
        kill(pids[i], SIGTERM);
    while (wait(NULL) > 0 || errno == EINTR)
        ;
    unlink(path);
    return 0;
}
