/* pool.c — the caller's side of the sandbox, its processes: a per-process
 * pool with its zygote, the sandboxed processes it spawns (warm ones kept
 * idle and reused, per-call ones started one ahead as spares), their
 * recycling, CPU budget and reaping, and the pool's health.  What happens
 * during one call on a process is call.c's. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "proc.h"
#include "sandbox.h"

struct brd_proc_slot {            /* one function's processes in this pool */
    const struct brd_pyfn *fn;
    struct brd_sandbox_pool *pool_of;
    struct brd_proc *idle;        /* warm: the idle process; call: the spare */
    struct brd_proc_slot *next;
};

struct brd_sandbox_pool {
    pid_t zpid;
    int zctl;
    uint64_t zseq;
    struct brd_proc_slot *slots;
    struct brd_proc *procs;
    pid_t *reap;
    size_t nreap, capreap;
    uint64_t call_seq;
};

/* ---- small helpers ------------------------------------------------------------ */

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void push_reap(struct brd_sandbox_pool *pool, pid_t pid)
{
    if (pool->nreap == pool->capreap) {
        size_t cap = pool->capreap ? pool->capreap * 2 : 16;
        pid_t *r = realloc(pool->reap, cap * sizeof *r);
        if (!r) {
            waitpid(pid, NULL, 0); /* no memory to remember it: reap now */
            return;
        }
        pool->reap = r;
        pool->capreap = cap;
    }
    pool->reap[pool->nreap++] = pid;
}

/* Reaps killed processes that have exited; never blocks. */
static void reap_some(struct brd_sandbox_pool *pool)
{
    if (pool->nreap == 0)
        return;
    size_t j = 0;
    for (size_t i = 0; i < pool->nreap; i++) {
        pid_t r = waitpid(pool->reap[i], NULL, WNOHANG);
        if (r == 0)
            pool->reap[j++] = pool->reap[i];
    }
    pool->nreap = j;
}

/* ---- the zygote ------------------------------------------------------------------ */

static void zygote_lost(struct brd_sandbox_pool *pool)
{
    if (pool->zctl >= 0)
        close(pool->zctl);
    pool->zctl = -1;
    if (pool->zpid > 0) {
        kill(pool->zpid, SIGKILL);
        waitpid(pool->zpid, NULL, 0);
    }
    pool->zpid = 0;
    /* Spawns it never answered will never run. */
    for (struct brd_proc *p = pool->procs; p; p = p->next)
        if (p->pid == 0)
            p->pid = -1;
}

/* Reads the zygote's SPAWNED answers; with want, waits (≤ 5 s) until want's
 * pid is known. */
static void drain_zygote(struct brd_sandbox_pool *pool, struct brd_proc *want)
{
    while (pool->zctl >= 0) {
        if (want && want->pid != 0)
            return;
        struct brd_zmsg m;
        ssize_t n = recv(pool->zctl, &m, sizeof m, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!want)
                return;
            struct pollfd pf = {.fd = pool->zctl, .events = POLLIN};
            if (poll(&pf, 1, 5000) == 0) {
                zygote_lost(pool);
                return;
            }
            continue;
        }
        if (n != (ssize_t)sizeof m || m.magic != BRD_PROTO_MAGIC || m.type != BRD_Z_SPAWNED) {
            zygote_lost(pool);
            return;
        }
        for (struct brd_proc *p = pool->procs; p; p = p->next) {
            if (p->zseq == m.seq && p->pid == 0) {
                p->pid = m.arg > 0 ? (pid_t)m.arg : -1;
                p->have_cpuclock = p->pid > 0 && clock_getcpuclockid(p->pid, &p->cpuclock) == 0;
                break;
            }
        }
    }
    if (want && want->pid == 0)
        want->pid = -1;
}

/* Whether a spawn still waits for the zygote's answer (its pid). */
static bool spawn_pending(const struct brd_sandbox_pool *pool)
{
    for (const struct brd_proc *p = pool->procs; p; p = p->next)
        if (p->pid == 0)
            return true;
    return false;
}

static int zygote_ensure(struct brd_sandbox_pool *pool, struct brd_error *err)
{
    if (pool->zctl >= 0)
        return 0;
    if (brd_zygote_start(&pool->zpid, &pool->zctl, err) != 0)
        return -1;
    return set_nonblock(pool->zctl) == 0 ? 0 : brd_error_set(err, BRD_E_INTERNAL, "fcntl failed");
}

/* ---- processes ----------------------------------------------------------------------- */

void brd_proc_flush(struct brd_proc *p)
{
    bool had = p->want_out;
    while (p->out_off < p->out_len) {
        ssize_t w = send(p->sock, p->out + p->out_off, p->out_len - p->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (w <= 0) { /* the process is gone; its EOF will tell */
            p->out_off = p->out_len;
            break;
        }
        p->out_off += (size_t)w;
    }
    bool has = p->out_off < p->out_len;
    if (!has) {
        free(p->out);
        p->out = NULL;
        p->out_len = p->out_off = 0;
    }
    if (had != has) {
        struct epoll_event ev = {.events = EPOLLIN | (has ? EPOLLOUT : 0), .data.fd = p->sock};
        if (epoll_ctl(p->ep, EPOLL_CTL_MOD, p->sock, &ev) == 0)
            p->want_out = has;
    }
}

static struct brd_proc *spawn(struct brd_sandbox_pool *pool, struct brd_proc_slot *slot,
                              struct brd_error *err)
{
    if (zygote_ensure(pool, err) != 0)
        return NULL;
    const struct brd_pyfn *fn = slot->fn;
    struct brd_proc *p = calloc(1, sizeof *p);
    int sv[2] = {-1, -1};
    if (!p)
        return brd_error_nomem(err), NULL;
    p->pool = pool;
    p->slot = slot;
    p->fn = fn;
    p->sock = p->ep = p->tfd = -1;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 || set_nonblock(sv[0]) != 0)
        goto fail;
    p->sock = sv[0];
    p->ep = epoll_create1(EPOLL_CLOEXEC);
    p->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (p->ep < 0 || p->tfd < 0)
        goto fail;
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = p->sock};
    struct epoll_event tev = {.events = EPOLLIN, .data.fd = p->tfd};
    if (epoll_ctl(p->ep, EPOLL_CTL_ADD, p->sock, &ev) != 0 ||
        epoll_ctl(p->ep, EPOLL_CTL_ADD, p->tfd, &tev) != 0)
        goto fail;
    const char *parts[4] = {fn->code, fn->source, fn->name, fn->filename};
    uint32_t lens[4] = {(uint32_t)fn->code_len, (uint32_t)fn->source_len, (uint32_t)strlen(fn->name),
                        (uint32_t)strlen(fn->filename)};
    if (brd_proto_append(&p->out, &p->out_len, BRD_PROTO_INIT, brd_sbx_g.traceback_max,
                         (int64_t)brd_sbx_g.result_max, (uint32_t)brd_sbx_g.output_max, parts, lens) != 0)
        goto fail;

    /* Ask the zygote; if it died, start a new one and ask again. */
    for (int attempt = 0; attempt < 2; attempt++) {
        struct brd_zmsg m = {.magic = BRD_PROTO_MAGIC, .type = BRD_Z_SPAWN, .seq = ++pool->zseq,
                             .arg = fn->settings.memory_mb, .aux = (uint32_t)fn->settings.timeout_ms};
        char cbuf[CMSG_SPACE(sizeof(int))];
        memset(cbuf, 0, sizeof cbuf);
        struct iovec iov = {.iov_base = &m, .iov_len = sizeof m};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                            .msg_controllen = sizeof cbuf};
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &sv[1], sizeof(int));
        ssize_t n;
        do
            n = sendmsg(pool->zctl, &mh, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pf = {.fd = pool->zctl, .events = POLLOUT};
            poll(&pf, 1, 1000);
            do
                n = sendmsg(pool->zctl, &mh, MSG_NOSIGNAL);
            while (n < 0 && errno == EINTR);
        }
        if (n == (ssize_t)sizeof m) {
            p->zseq = m.seq;
            break;
        }
        zygote_lost(pool);
        if (attempt == 1 || zygote_ensure(pool, err) != 0) {
            close(sv[1]);
            sv[1] = -1;
            if (attempt == 1)
                brd_error_set(err, BRD_E_INTERNAL, "the sandbox zygote is not answering");
            goto fail_noerr;
        }
    }
    close(sv[1]);
    p->next = pool->procs;
    pool->procs = p;
    p->cpu_limit = (fn->settings.timeout_ms + 999) / 1000 + 1;
    brd_proc_flush(p);
    return p;
fail:
    brd_error_set(err, BRD_E_INTERNAL, "cannot start a sandboxed process: %s", strerror(errno));
fail_noerr:
    if (sv[1] >= 0)
        close(sv[1]);
    if (p->sock >= 0)
        close(p->sock);
    else if (sv[0] >= 0)
        close(sv[0]);
    if (p->ep >= 0)
        close(p->ep);
    if (p->tfd >= 0)
        close(p->tfd);
    free(p->out);
    free(p);
    return NULL;
}

void brd_proc_discard(struct brd_proc *p, bool kill_it)
{
    struct brd_sandbox_pool *pool = p->pool;
    if (p->pid == 0)
        drain_zygote(pool, p);
    if (p->pid > 0 && !p->reaped) {
        if (kill_it || p->stopped)
            kill(p->pid, SIGKILL); /* SIGKILL ends a stopped process too */
        if (waitpid(p->pid, NULL, WNOHANG) == 0)
            push_reap(pool, p->pid);
    }
    for (struct brd_proc **pp = &pool->procs; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    if (p->slot && p->slot->idle == p)
        p->slot->idle = NULL;
    close(p->sock);
    close(p->ep);
    close(p->tfd);
    free(p->out);
    free(p->in);
    free(p);
}

pid_t brd_proc_pid(struct brd_proc *p)
{
    if (p->pid == 0)
        drain_zygote(p->pool, p);
    return p->pid;
}

int brd_proc_status(struct brd_proc *p, int *status)
{
    if (brd_proc_pid(p) <= 0)
        return -1;
    for (int i = 0; i < 1000; i++) {
        pid_t r = wait4(p->pid, status, WNOHANG, &p->usage);
        if (r == p->pid) {
            p->reaped = true;
            return 0;
        }
        if (r < 0)
            return -1;
        struct timespec ts = {0, i < 100 ? 10000 : 1000000};
        nanosleep(&ts, NULL);
    }
    kill(p->pid, SIGKILL);
    p->pool_killed = true;
    if (wait4(p->pid, status, 0, &p->usage) == p->pid) {
        p->reaped = true;
        return 0;
    }
    return -1;
}

void brd_proc_cpu_budget(struct brd_proc *p, int timeout_ms)
{
    if (p->pid == 0)
        drain_zygote(p->pool, NULL); /* its pid may have come: never waits */
    if (!p->have_cpuclock)
        return;
    struct timespec used;
    if (clock_gettime(p->cpuclock, &used) != 0)
        return;
    long need = (long)used.tv_sec + 1 + (timeout_ms + 999) / 1000 + 1;
    if (need <= p->cpu_limit)
        return;
    struct rlimit rl = {.rlim_cur = (rlim_t)need, .rlim_max = BRD_SBX_CPU_HARD};
    if ((rlim_t)need < BRD_SBX_CPU_HARD && prlimit(p->pid, RLIMIT_CPU, &rl, NULL) == 0)
        p->cpu_limit = need;
    else
        p->retire = true; /* this call may use what is left; then a new process */
}

/* ---- the pool -------------------------------------------------------------------------- */

int brd_sandbox_pool_new(struct brd_sandbox_pool **out, struct brd_error *err)
{
    *out = NULL;
    if (!brd_sbx_g.inited)
        return brd_error_set(err, BRD_E_INTERNAL, "brd_sandbox_init has not been called");
    struct sigaction sa;
    if (sigaction(SIGCHLD, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
        return brd_error_set(err, BRD_E_INTERNAL,
                             "SIGCHLD is ignored: the sandbox needs the exit status of its processes");
    struct brd_sandbox_pool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return brd_error_nomem(err);
    pool->zctl = -1;
    if (zygote_ensure(pool, err) != 0) {
        free(pool);
        return -1;
    }
    *out = pool;
    return 0;
}

void brd_sandbox_pool_free(struct brd_sandbox_pool *pool)
{
    if (!pool)
        return;
    while (pool->procs)
        brd_proc_discard(pool->procs, true);
    if (pool->zctl >= 0)
        close(pool->zctl);
    if (pool->zpid > 0) {
        kill(pool->zpid, SIGKILL);
        waitpid(pool->zpid, NULL, 0);
    }
    for (size_t i = 0; i < pool->nreap; i++)
        waitpid(pool->reap[i], NULL, 0);
    free(pool->reap);
    while (pool->slots) {
        struct brd_proc_slot *s = pool->slots;
        pool->slots = s->next;
        free(s);
    }
    free(pool);
}

static struct brd_proc_slot *slot_for(struct brd_sandbox_pool *pool, const struct brd_pyfn *fn,
                                      struct brd_error *err)
{
    for (struct brd_proc_slot *s = pool->slots; s; s = s->next)
        if (s->fn == fn)
            return s;
    struct brd_proc_slot *s = calloc(1, sizeof *s);
    if (!s)
        return brd_error_nomem(err), NULL;
    s->fn = fn;
    s->pool_of = pool;
    s->next = pool->slots;
    pool->slots = s;
    return s;
}

int brd_sandbox_pool_prewarm(struct brd_sandbox_pool *pool, const struct brd_pyfn *fn, struct brd_error *err)
{
    struct brd_proc_slot *s = slot_for(pool, fn, err);
    if (!s)
        return -1;
    if (s->idle)
        return 0;
    s->idle = spawn(pool, s, err);
    return s->idle ? 0 : -1;
}

void brd_sandbox_pool_forget(struct brd_sandbox_pool *pool, const struct brd_pyfn *fn)
{
    for (struct brd_proc_slot **ps = &pool->slots; *ps; ps = &(*ps)->next) {
        struct brd_proc_slot *s = *ps;
        if (s->fn != fn)
            continue;
        struct brd_proc *p = pool->procs;
        while (p) {
            struct brd_proc *next = p->next;
            if (p->slot == s)
                brd_proc_discard(p, true);
            p = next;
        }
        *ps = s->next;
        free(s);
        return;
    }
}

bool brd_sandbox_pool_healthy(const struct brd_sandbox_pool *pool)
{
    if (!pool || pool->zpid <= 0 || pool->zctl < 0)
        return false;
    /* The zygote's end of the control socket closes when it dies: the
     * socket then polls as hung up, before any spawn request is tried. */
    struct pollfd pf = {.fd = pool->zctl, .events = POLLIN};
    return !(poll(&pf, 1, 0) == 1 && (pf.revents & (POLLHUP | POLLERR)));
}

pid_t brd_sandbox_pool_zygote_pid(const struct brd_sandbox_pool *pool)
{
    return pool->zpid;
}

/* ---- processes for calls ---------------------------------------------------------------- */

struct brd_proc *brd_proc_take(struct brd_sandbox_pool *pool, const struct brd_pyfn *fn,
                               struct brd_error *err)
{
    reap_some(pool);
    if (pool->zctl >= 0 && spawn_pending(pool))
        drain_zygote(pool, NULL);
    struct brd_proc_slot *s = slot_for(pool, fn, err);
    if (!s)
        return NULL;
    struct brd_proc *p = s->idle;
    s->idle = NULL;
    if (p && p->ready && fn->settings.isolation == BRD_PYFN_WARM) {
        /* Anything readable on a process that has served a call is stray
         * output or its death: either way it is not reused.  (One that
         * never served has its READY waiting.) */
        char c;
        ssize_t n = recv(p->sock, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
            brd_proc_discard(p, true);
            p = NULL;
        }
    }
    /* A stopped process stays stopped until its CALL is written
     * (brd_proc_continue): it then wakes once, with the CALL to read. */
    if (!p)
        p = spawn(pool, s, err);
    return p;
}

void brd_proc_continue(struct brd_proc *p)
{
    if (!p->stopped)
        return;
    /* Our own unreaped child: kill cannot fail short of a bug; if it does,
     * the call sees the process as dead rather than waiting for it. */
    if (kill(p->pid, SIGCONT) != 0)
        p->broken = true;
    p->stopped = false;
}

void brd_sandbox_pool_reap(struct brd_sandbox_pool *pool)
{
    if (!pool)
        return;
    reap_some(pool);
    /* An idle or spare process that died (killed from outside, the OOM
     * killer) is reaped and forgotten now rather than at its next call. */
    struct brd_proc *p = pool->procs;
    while (p) {
        struct brd_proc *next = p->next;
        int st;
        if (!p->call && p->pid > 0 && !p->reaped && waitpid(p->pid, &st, WNOHANG) == p->pid) {
            p->reaped = true;
            brd_proc_discard(p, false);
        }
        p = next;
    }
}

uint64_t brd_proc_next_seq(struct brd_sandbox_pool *pool)
{
    return ++pool->call_seq;
}

void brd_proc_release(struct brd_proc *p, bool reusable)
{
    struct brd_proc_slot *s = p->slot;
    if (reusable && !p->broken && !p->retire && p->in_len == 0 && p->out_off == p->out_len &&
        s->fn->settings.isolation == BRD_PYFN_WARM && p->calls < (unsigned)s->fn->settings.max_calls &&
        !s->idle && p->pid > 0) {
        /* Stopped the moment its reply is read: whatever the function left
         * behind (a __del__, a finaliser) cannot run before its next call,
         * and then runs inside that call's budget.  A stopped process's CPU
         * clock still reads from outside (brd_proc_cpu_budget). */
        if (kill(p->pid, SIGSTOP) == 0) {
            p->stopped = true;
            s->idle = p;
        } else {
            brd_proc_discard(p, true);
        }
    } else {
        brd_proc_discard(p, true);
    }
    /* Per-call isolation: the next call's process is made now, one ahead,
     * while the caller goes on (not during the call: a fork next to a
     * running call slows it down several times on two cores). */
    if (s->fn->settings.isolation == BRD_PYFN_CALL && !s->idle) {
        struct brd_error ignored;
        s->idle = spawn(s->pool_of, s, &ignored);
    }
}
