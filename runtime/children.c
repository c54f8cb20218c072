/* children.c — forking, reaping and replacing the workers (children.h),
 * after php-fpm's fpm_children.c.  Each worker_exit line carries one reason
 * from a fixed set (enum exit_reason), and the counters and the back-off
 * follow from that reason, never from its text. */
#include "children.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "signals.h"
#include "worker.h"
#include "base/clock.h"

#define BACKOFF_FIRST_US (100 * 1000)         /* the first replacement of a worker that never served */
#define BACKOFF_MAX_US (10 * 1000 * 1000)     /* ... doubling up to this */
#define FORK_RETRY_US (1000 * 1000)           /* after fork() itself failed */

/* Why a worker left, as the worker_exit line says it. */
enum exit_reason {
    EXIT_REQUEST_TIMEOUT,   /* we SIGKILLed it past --request-timeout */
    EXIT_DRAINED,           /* clean exit after a drain's SIGTERM */
    EXIT_RETIRED,           /* clean exit after a reload's SIGUSR2 */
    EXIT_RECYCLED,          /* clean exit after --max-requests */
    EXIT_SANDBOX_LOST,      /* BRD_WORKER_EXIT_SANDBOX */
    EXIT_FAILED_TO_START,   /* any other exit before it became ready */
    EXIT_EXITED,            /* any other exit after it became ready */
    EXIT_CRASHED,           /* killed by a signal we did not send */
};

static const char *exit_reason_name(enum exit_reason r)
{
    switch (r) {
    case EXIT_REQUEST_TIMEOUT: return "request timeout";
    case EXIT_DRAINED: return "drained";
    case EXIT_RETIRED: return "retired";
    case EXIT_RECYCLED: return "recycled";
    case EXIT_SANDBOX_LOST: return "sandbox lost";
    case EXIT_FAILED_TO_START: return "failed to start";
    case EXIT_EXITED: return "exited";
    case EXIT_CRASHED: return "crashed";
    }
    return "exited";
}

void brd_children_init(struct brd_children *ch, struct brd_scoreboard *sb,
                       const struct brd_serve_config *cfg)
{
    memset(ch, 0, sizeof *ch);
    ch->sb = sb;
    ch->cfg = cfg;
    ch->generation = 1;
}

int brd_children_live(const struct brd_children *ch)
{
    int n = 0;
    for (int i = 0; i < BRD_SB_SLOTS; i++)
        n += ch->kids[i].pid > 0;
    return n;
}

/* Workers of the current generation that are not on their way out. */
static int serving(const struct brd_children *ch)
{
    int n = 0;
    for (int i = 0; i < BRD_SB_SLOTS; i++)
        n += ch->kids[i].pid > 0 && ch->kids[i].generation == ch->generation &&
             !ch->kids[i].retiring;
    return n;
}

void brd_children_new_generation(struct brd_children *ch)
{
    ch->generation++;
    ch->crash_streak = 0;
    ch->next_spawn_us = 0;
}

/* Tells a worker to finish the request in hand and leave: the drain signal
 * (it also answers what is queued: nobody else will), or the retire signal
 * after a reload (the new generation takes the queue).  A drain reaches a
 * worker already retiring, too. */
static void retire(struct brd_children *ch, int i, int sig)
{
    struct brd_child *k = &ch->kids[i];
    if (k->pid <= 0 || (k->retiring && sig != BRD_WORKER_SIG_DRAIN))
        return;
    k->retiring = true;
    kill(k->pid, sig);
}

/* ---- fork --------------------------------------------------------------------- */

static int spawn(struct brd_children *ch, const struct brd_children_spawn *sp)
{
    int slot = -1;
    for (int i = 0; i < BRD_SB_SLOTS && slot < 0; i++)
        if (ch->kids[i].pid == 0)
            slot = i;
    if (slot < 0)
        return -1; /* every slot holds a process still finishing: try next tick */
    struct brd_sb_slot *s = &ch->sb->slots[slot];
    memset(s, 0, sizeof *s);
    s->generation = ch->generation;
    s->state = BRD_SB_STARTING;
    s->workflow = BRD_SB_NO_WORKFLOW;

    /* Signals stay blocked across fork until the child has its own
     * handlers: the master's would write to the master's pipe. */
    sigset_t old;
    brd_signals_block_all(&old);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        brd_signals_close();
        if (sp->in_child)
            sp->in_child(sp->ctx);
        struct brd_worker_args args = {slot, ch->sb, sp->service, ch->cfg, sp->listen_fd,
                                       getppid()};
        int status = brd_worker_run(&args);
        /* _exit, not return: this child carries a copy of the master's
         * atexit handlers and stdio buffers (CPython, libcurl, json-c);
         * running them here would finalise state that belongs to the
         * master.  Everything the worker owns was released above. */
        _exit(status);
    }
    int fork_errno = errno;
    brd_signals_restore(&old);
    int64_t now = brd_now_us();
    if (pid < 0) {
        s->state = BRD_SB_FREE;
        struct json_object *f = json_object_new_object();
        brd_log_field_str(f, "reason", strerror(fork_errno));
        brd_log_event("spawn_failed", f);
        ch->next_spawn_us = now + FORK_RETRY_US;
        return -1;
    }
    s->pid = pid;
    ch->kids[slot] = (struct brd_child){.pid = pid, .generation = ch->generation, .spawned_us = now};
    return 0;
}

void brd_children_respawn(struct brd_children *ch, int64_t now,
                          const struct brd_children_spawn *sp)
{
    /* A worker that reached its accept loop ends a crash streak. */
    if (ch->crash_streak > 0)
        for (int i = 0; i < BRD_SB_SLOTS; i++)
            if (ch->kids[i].pid > 0 && ch->kids[i].spawned_us >= ch->last_failure_us &&
                brd_sb_loadi64(&ch->sb->slots[i].ready_us) != 0) {
                ch->crash_streak = 0;
                break;
            }
    if (now < ch->next_spawn_us)
        return;
    int missing = ch->cfg->workers - serving(ch);
    for (int j = 0; j < missing; j++)
        if (spawn(ch, sp) != 0)
            break;
}

/* ---- reap ----------------------------------------------------------------------- */

static enum exit_reason exit_reason_of(const struct brd_children *ch, const struct brd_child *k,
                                       int st, uint64_t served, bool was_ready, bool draining)
{
    bool clean = WIFEXITED(st) && WEXITSTATUS(st) == BRD_WORKER_EXIT_OK;
    if (k->killed)
        return EXIT_REQUEST_TIMEOUT;
    if (clean && k->retiring)
        return draining ? EXIT_DRAINED : EXIT_RETIRED;
    if (clean && ch->cfg->max_requests > 0 && (long)served >= ch->cfg->max_requests)
        return EXIT_RECYCLED;
    if (WIFEXITED(st) && WEXITSTATUS(st) == BRD_WORKER_EXIT_SANDBOX)
        return EXIT_SANDBOX_LOST;
    if (WIFEXITED(st))
        return was_ready ? EXIT_EXITED : EXIT_FAILED_TO_START;
    return EXIT_CRASHED;
}

static void log_exit(pid_t pid, const struct brd_child *k, int st, uint64_t served,
                     enum exit_reason reason)
{
    struct json_object *f = json_object_new_object();
    brd_log_field_int(f, "worker", pid);
    brd_log_field_int(f, "generation", k->generation);
    brd_log_field_int(f, "requests", (int64_t)served);
    brd_log_field_str(f, "reason", exit_reason_name(reason));
    if (WIFEXITED(st)) {
        brd_log_field_int(f, "exit_status", WEXITSTATUS(st));
    } else if (WIFSIGNALED(st)) {
        const char *n = brd_signals_name(WTERMSIG(st));
        if (n)
            brd_log_field_str(f, "signal", n);
        else
            brd_log_field_int(f, "signal", WTERMSIG(st));
    }
    brd_log_event("worker_exit", f);
}

/* A worker of the current generation died unexpectedly at now. */
static void note_failure(struct brd_children *ch, bool was_ready, int64_t now)
{
    ch->last_failure_us = now;
    if (was_ready) {
        ch->crash_streak = 0; /* a healthy worker died: replace it now */
        return;
    }
    /* Dying before serving: back off, doubling up to BACKOFF_MAX_US, so a
     * broken environment does not become a fork loop. */
    ch->crash_streak++;
    int64_t delay = BACKOFF_FIRST_US;
    for (int j = 1; j < ch->crash_streak && delay < BACKOFF_MAX_US; j++)
        delay *= 2;
    if (delay > BACKOFF_MAX_US)
        delay = BACKOFF_MAX_US;
    ch->next_spawn_us = now + delay;
}

void brd_children_reap(struct brd_children *ch, bool draining)
{
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        int i = 0;
        while (i < BRD_SB_SLOTS && ch->kids[i].pid != pid)
            i++;
        if (i == BRD_SB_SLOTS)
            continue; /* not a worker (nothing else is ours) */
        struct brd_child *k = &ch->kids[i];
        struct brd_sb_slot *s = &ch->sb->slots[i];
        uint64_t served = brd_sb_load64(&s->requests);
        bool was_ready = brd_sb_loadi64(&s->ready_us) != 0;
        enum exit_reason reason = exit_reason_of(ch, k, st, served, was_ready, draining);
        log_exit(pid, k, st, served, reason);

        bool replace = !draining && k->generation == ch->generation && !k->retiring;
        if (replace) {
            if (reason == EXIT_RECYCLED) {
                brd_sb_add64(&ch->sb->recycles, 1);
            } else if (reason != EXIT_REQUEST_TIMEOUT) { /* timeouts have their own counter */
                brd_sb_add64(&ch->sb->restarts, 1);
                note_failure(ch, was_ready, brd_now_us());
            }
        }
        memset(s, 0, sizeof *s);
        memset(k, 0, sizeof *k);
    }
}

/* ---- signals to the workers ------------------------------------------------------- */

void brd_children_kill_stuck(struct brd_children *ch, int64_t now)
{
    int64_t limit = (int64_t)ch->cfg->request_timeout_ms * 1000;
    for (int i = 0; i < BRD_SB_SLOTS; i++) {
        struct brd_child *k = &ch->kids[i];
        const struct brd_sb_slot *s = &ch->sb->slots[i];
        if (k->pid <= 0 || k->killed)
            continue;
        int64_t since = brd_sb_loadi64(&s->busy_since_us);
        if (brd_sb_load32(&s->state) != BRD_SB_BUSY || since <= 0 || now - since <= limit)
            continue;
        kill(k->pid, SIGKILL);
        k->killed = true;
        brd_sb_add64(&ch->sb->timeouts, 1);
        int32_t wf = __atomic_load_n(&s->workflow, __ATOMIC_RELAXED);
        bool named = wf > BRD_SB_UNROUTED && wf < BRD_SB_WORKFLOWS; /* not unrouted, not unknown yet */
        struct json_object *f = json_object_new_object();
        brd_log_field_int(f, "worker", k->pid);
        brd_log_field_str(f, "workflow", named ? ch->sb->workflows[wf].name : NULL);
        brd_log_field_int(f, "busy_ms", (now - since) / 1000);
        brd_log_field_int(f, "limit_ms", ch->cfg->request_timeout_ms);
        brd_log_event("worker_timeout", f);
    }
}

bool brd_children_old_serving(const struct brd_children *ch)
{
    for (int i = 0; i < BRD_SB_SLOTS; i++)
        if (ch->kids[i].pid > 0 && ch->kids[i].generation != ch->generation &&
            !ch->kids[i].retiring)
            return true;
    return false;
}

int brd_children_ready(const struct brd_children *ch)
{
    int ready = 0;
    for (int i = 0; i < BRD_SB_SLOTS; i++) {
        const struct brd_child *k = &ch->kids[i];
        uint32_t st = brd_sb_load32(&ch->sb->slots[i].state);
        ready += k->pid > 0 && k->generation == ch->generation && !k->retiring &&
                 (st == BRD_SB_IDLE || st == BRD_SB_BUSY);
    }
    return ready;
}

void brd_children_retire_old(struct brd_children *ch)
{
    for (int i = 0; i < BRD_SB_SLOTS; i++)
        if (ch->kids[i].pid > 0 && ch->kids[i].generation != ch->generation)
            retire(ch, i, BRD_WORKER_SIG_RETIRE);
}

void brd_children_drain(struct brd_children *ch)
{
    for (int i = 0; i < BRD_SB_SLOTS; i++)
        retire(ch, i, BRD_WORKER_SIG_DRAIN);
}

void brd_children_reopen_logs(const struct brd_children *ch)
{
    for (int i = 0; i < BRD_SB_SLOTS; i++)
        if (ch->kids[i].pid > 0)
            kill(ch->kids[i].pid, BRD_WORKER_SIG_REOPEN);
}

void brd_children_kill_all(const struct brd_children *ch)
{
    for (int i = 0; i < BRD_SB_SLOTS; i++)
        if (ch->kids[i].pid > 0)
            kill(ch->kids[i].pid, SIGKILL);
}
