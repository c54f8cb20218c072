/* worker.h — one worker process: the FastCGI accept loop that answers one
 * request at a time with its own engine and its own pool of sandboxed
 * Python processes, publishing its state in the scoreboard. */
#ifndef BRD_WORKER_H
#define BRD_WORKER_H

#include <signal.h>
#include <sys/types.h>

#include "config.h"
#include "scoreboard.h"
#include "service.h"

/* Exit statuses a master tells apart. */
#define BRD_WORKER_EXIT_OK 0        /* drained, retired or recycled */
#define BRD_WORKER_EXIT_FAILED 1    /* could not start (engine, sandbox, filter) */
#define BRD_WORKER_EXIT_SANDBOX 3   /* its sandbox zygote is gone for good */

/* Signals the master sends a worker (SIGINT and SIGQUIT also stop one). */
#define BRD_WORKER_SIG_DRAIN SIGTERM    /* finish, answer what is queued, leave */
#define BRD_WORKER_SIG_RETIRE SIGUSR2   /* after a reload: finish and leave */
#define BRD_WORKER_SIG_REOPEN SIGUSR1   /* reopen the log */

struct brd_worker_args {
    int slot;                               /* its scoreboard slot */
    struct brd_scoreboard *sb;
    const struct brd_service *service;      /* the master's copy, inherited by fork */
    const struct brd_serve_config *cfg;
    int listen_fd;
    pid_t master;
};

/* Runs the worker in a child the master has just forked (with the master's
 * descriptors other than listen_fd and the log already closed, and every
 * signal blocked).  Returns when it is told to stop — SIGTERM, SIGINT or
 * SIGQUIT (a drain: after the request in hand it also answers what is
 * already queued on the socket, for at most 3 s) or SIGUSR2 (retired after
 * a reload: right after the request in hand) — after --max-requests, when
 * its master is gone, or when it cannot serve; the value is its exit
 * status. */
int brd_worker_run(const struct brd_worker_args *a);

#endif
