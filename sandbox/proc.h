/* proc.h — a sandboxed process as its pool's owner sees it: what pool.c
 * (the zygote, spawning, spares, recycling, health) and call.c (one call on
 * one process) share.  Never included outside sandbox/. */
#ifndef BRD_SANDBOX_PROC_H
#define BRD_SANDBOX_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <time.h>

#include "error.h"
#include "internal.h"
#include "sandbox.h"

struct brd_proc_slot;             /* one function's processes (pool.c) */

struct brd_proc {                 /* one sandboxed process */
    struct brd_sandbox_pool *pool;
    struct brd_proc_slot *slot;
    const struct brd_pyfn *fn;    /* the one function it runs, ever */
    struct brd_proc *next;        /* the pool's list */
    pid_t pid;                    /* 0 until the zygote says; -1 spawn failed */
    uint64_t zseq;                /* its spawn request */
    int sock;                     /* the call socket (non-blocking) */
    int ep;                       /* epoll set of sock and tfd: the call's fd */
    int tfd;                      /* timerfd, armed at a call's deadline */
    bool ready;                   /* its READY arrived */
    bool broken;                  /* it wrote malformed data: never reused */
    bool reaped;
    bool want_out;                /* EPOLLOUT registered: out has bytes left */
    unsigned calls;               /* calls it was given */
    struct brd_sandbox_call *call;  /* the call it serves, or NULL */
    char *out;                    /* frames not yet written */
    size_t out_len, out_off;
    char *in;                     /* bytes read, not yet consumed (call.c) */
    size_t in_len, in_cap;
    clockid_t cpuclock;
    bool have_cpuclock;
    long cpu_limit;               /* its RLIMIT_CPU soft limit, seconds */
    bool retire;                  /* its CPU limit could not be raised: no more calls */
    bool stopped;                 /* SIGSTOPped while idle (no call in flight) */
    bool pool_killed;             /* brd_proc_status killed it (it closed its socket but lived on) */
    struct rusage usage;          /* from wait4, once reaped by brd_proc_status */
};

/* A process for a call of fn: warm → the idle one if it is still healthy
 * (still stopped: brd_proc_continue once its CALL is queued); call isolation → the spare
 * started after the previous call; else a new one (INIT queued, not waited
 * for).  Also reaps what it can.  NULL with
 * err (INTERNAL) when none can be started. */
struct brd_proc *brd_proc_take(struct brd_sandbox_pool *pool, const struct brd_pyfn *fn,
                               struct brd_error *err);

/* Continues a stopped process (SIGCONT) — after its CALL has been
 * written, so that it wakes once, with the CALL waiting, and its call's
 * budget is already running. */
void brd_proc_continue(struct brd_proc *p);

/* The number of the pool's next call (RESULT frames must carry it). */
uint64_t brd_proc_next_seq(struct brd_sandbox_pool *pool);

/* Gives a process back after its call: idle again when reusable and
 * nothing argues against it (broken, retired, stray bytes, max_calls, one
 * idle already) — and then stopped (SIGSTOP), so that no user code runs
 * with no call in flight — else discarded; with call isolation the next
 * spare is started now.  p->call must be NULL already. */
void brd_proc_release(struct brd_proc *p, bool reusable);

/* Ends our relation with a process: killed (if asked and alive; a stopped
 * one too), reaped now if it has already exited, else as soon as the pool
 * notices (brd_proc_take, brd_sandbox_pool_reap); its descriptors closed,
 * p freed. */
void brd_proc_discard(struct brd_proc *p, bool kill_it);

/* Its pid, asking the zygote (waiting up to 5 s) when not known yet; -1
 * when the spawn failed. */
pid_t brd_proc_pid(struct brd_proc *p);

/* The exit status of a process whose socket reached EOF (it is exiting);
 * waits at most ~1 s before killing it (then p->pool_killed).  Its resource
 * usage goes to p->usage.  0, or -1 (never started, or not ours to reap). */
int brd_proc_status(struct brd_proc *p, int *status);

/* Writes what of p->out can be written now; keeps EPOLLOUT on while some
 * is left. */
void brd_proc_flush(struct brd_proc *p);

/* Before a call of timeout_ms on a reused process: RLIMIT_CPU counts its
 * whole life, so its soft limit is raised to one timeout (+1 s) above what
 * it has used; a process whose limit cannot be raised is marked to retire
 * after this call. */
void brd_proc_cpu_budget(struct brd_proc *p, int timeout_ms);

#endif
