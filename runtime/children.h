/* children.h — the master's workers as processes: forking them into
 * scoreboard slots, reaping them (one worker_exit line each, with its
 * reason), replacing them with a back-off when they die before serving,
 * recycling after --max-requests, SIGKILLing one stuck past
 * --request-timeout, and sending them the signals of a drain, a reload or
 * a log reopen.  When to do which is the master's (master.c). */
#ifndef BRD_CHILDREN_H
#define BRD_CHILDREN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "scoreboard.h"
#include "service.h"

struct brd_child {              /* the master's own notes on a scoreboard slot */
    pid_t pid;                  /* 0: slot free */
    uint32_t generation;
    bool retiring;              /* told to finish its request and exit */
    bool killed;                /* SIGKILLed past --request-timeout */
    int64_t spawned_us;
};

/* Embedded in the master; brd_children_init fills it.  The fields are read
 * by the master (generation) and written only here. */
struct brd_children {
    struct brd_scoreboard *sb;              /* borrowed: the master's */
    const struct brd_serve_config *cfg;     /* borrowed */
    uint32_t generation;                    /* what new workers serve: 1 + reloads */
    struct brd_child kids[BRD_SB_SLOTS];    /* index = scoreboard slot */
    int crash_streak;                       /* workers in a row that died before serving */
    int64_t last_failure_us, next_spawn_us;
};

/* What a new worker is forked with (borrowed for the call). */
struct brd_children_spawn {
    const struct brd_service *service;      /* the current generation's */
    int listen_fd;
    /* Runs in the new child before the worker: releases what the master
     * owns beyond the signal pipe (which is closed here). */
    void (*in_child)(void *ctx);
    void *ctx;
};

/* No workers yet, generation 1. */
void brd_children_init(struct brd_children *ch, struct brd_scoreboard *sb,
                       const struct brd_serve_config *cfg);

/* Processes not reaped yet, of any generation. */
int brd_children_live(const struct brd_children *ch);

/* After a successful reload: new workers get the next generation, and the
 * back-off starts afresh (the new directory may well start). */
void brd_children_new_generation(struct brd_children *ch);

/* Reaps every exited worker (waitpid WNOHANG), logs its worker_exit, counts
 * restarts and recycles, and schedules the back-off of one that died before
 * serving.  draining: nothing is replaced and a clean exit is "drained". */
void brd_children_reap(struct brd_children *ch, bool draining);

/* SIGKILLs every worker whose current request started more than
 * --request-timeout before now (one worker_timeout line each). */
void brd_children_kill_stuck(struct brd_children *ch, int64_t now);

/* Forks the workers missing from the current generation, unless a back-off
 * is running; a worker that became ready ends a crash streak first. */
void brd_children_respawn(struct brd_children *ch, int64_t now,
                          const struct brd_children_spawn *sp);

/* True while a worker of an older generation is still accepting. */
bool brd_children_old_serving(const struct brd_children *ch);

/* Workers of the current generation that are accepting (idle or busy). */
int brd_children_ready(const struct brd_children *ch);

/* Tells the older generations to finish the request in hand and leave
 * (BRD_WORKER_SIG_RETIRE): the current one takes the queue. */
void brd_children_retire_old(struct brd_children *ch);

/* Tells every worker to finish, answer what is queued and leave
 * (BRD_WORKER_SIG_DRAIN). */
void brd_children_drain(struct brd_children *ch);

/* Forwards a log reopen to every worker (BRD_WORKER_SIG_REOPEN). */
void brd_children_reopen_logs(const struct brd_children *ch);

/* SIGKILLs every worker (a drain cut short). */
void brd_children_kill_all(const struct brd_children *ch);

#endif
