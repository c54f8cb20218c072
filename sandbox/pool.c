/* pool.c — the caller's side of the sandbox: a per-process pool of
 * sandboxed processes (warm ones reused, per-call ones started one ahead)
 * and the non-blocking calls that run in them. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
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
#include "sandbox.h"

struct proc;

struct slot {                     /* one function's processes in this pool */
    const struct brd_pyfn *fn;
    struct brd_sandbox_pool *pool_of;
    struct proc *idle;            /* warm: the idle process; call: the spare */
    struct slot *next;
};

struct proc {                     /* one sandboxed process */
    struct brd_sandbox_pool *pool;
    struct slot *slot;
    struct proc *next;            /* pool->procs */
    pid_t pid;                    /* 0 until the zygote says; -1 spawn failed */
    uint64_t zseq;                /* its spawn request */
    int sock, ep, tfd;
    bool ready, broken, reaped;
    bool want_out;                /* EPOLLOUT registered: out has bytes left */
    unsigned calls;
    struct brd_sandbox_call *call;
    char *out;                    /* frames not yet written */
    size_t out_len, out_off;
    char *in;                     /* bytes read, not yet consumed */
    size_t in_len, in_cap;
    clockid_t cpuclock;
    bool have_cpuclock;
    long cpu_limit;
    bool retire;                  /* its CPU limit could not be raised: no more calls */
};

struct brd_sandbox_pool {
    pid_t zpid;
    int zctl;
    uint64_t zseq;
    struct slot *slots;
    struct proc *procs;
    pid_t *reap;
    size_t nreap, capreap;
    uint64_t call_seq;
};

struct brd_sandbox_call {
    struct brd_sandbox_pool *pool;
    struct proc *proc;
    uint64_t seq;
    int64_t start_ns, deadline_ns;
    bool own_deadline;
    bool done, collected;
    struct brd_sandbox_result res;
};

static void proc_discard(struct proc *p, bool kill_it);

/* ---- small helpers ------------------------------------------------------------ */

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int append(char **buf, size_t *len, const void *data, size_t n)
{
    char *b = realloc(*buf, *len + n);
    if (!b)
        return -1;
    memcpy(b + *len, data, n);
    *buf = b;
    *len += n;
    return 0;
}

static char *copy_text(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        if (n)
            memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
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
    for (struct proc *p = pool->procs; p; p = p->next)
        if (p->pid == 0)
            p->pid = -1;
}

/* Reads the zygote's SPAWNED answers; with want, waits (≤ 5 s) until want's
 * pid is known. */
static void drain_zygote(struct brd_sandbox_pool *pool, struct proc *want)
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
        for (struct proc *p = pool->procs; p; p = p->next) {
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

static int zygote_ensure(struct brd_sandbox_pool *pool, struct brd_error *err)
{
    if (pool->zctl >= 0)
        return 0;
    if (brd_zygote_start(&pool->zpid, &pool->zctl, err) != 0)
        return -1;
    return set_nonblock(pool->zctl) == 0 ? 0 : brd_error_set(err, BRD_E_INTERNAL, "fcntl failed");
}

/* ---- processes ----------------------------------------------------------------------- */

static int frame(char **buf, size_t *len, uint32_t type, uint64_t seq, int64_t arg, uint32_t aux,
                 const char *const parts[4], const uint32_t lens[4])
{
    struct brd_proto_hdr h = {.magic = BRD_PROTO_MAGIC, .type = type, .seq = seq, .arg = arg, .aux = aux};
    memcpy(h.len, lens, sizeof h.len);
    if (append(buf, len, &h, sizeof h) != 0)
        return -1;
    for (int i = 0; i < 4; i++)
        if (lens[i] != BRD_PROTO_NONE && lens[i] && append(buf, len, parts[i], lens[i]) != 0)
            return -1;
    return 0;
}

/* Writes what can be written now; keeps EPOLLOUT on while some is left. */
static void flush(struct proc *p)
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

static struct proc *spawn(struct brd_sandbox_pool *pool, struct slot *slot, struct brd_error *err)
{
    if (zygote_ensure(pool, err) != 0)
        return NULL;
    const struct brd_pyfn *fn = slot->fn;
    struct proc *p = calloc(1, sizeof *p);
    int sv[2] = {-1, -1};
    if (!p)
        return brd_error_nomem(err), NULL;
    p->pool = pool;
    p->slot = slot;
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
    if (frame(&p->out, &p->out_len, BRD_PROTO_INIT, brd_sbx_g.traceback_max, (int64_t)brd_sbx_g.result_max,
              (uint32_t)brd_sbx_g.output_max, parts, lens) != 0)
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
    flush(p);
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

/* Ends our relation with a process: killed (if asked and alive), reaped
 * later, its descriptors closed. */
static void proc_discard(struct proc *p, bool kill_it)
{
    struct brd_sandbox_pool *pool = p->pool;
    if (p->pid == 0)
        drain_zygote(pool, p);
    if (p->pid > 0 && !p->reaped) {
        if (kill_it)
            kill(p->pid, SIGKILL);
        push_reap(pool, p->pid);
    }
    for (struct proc **pp = &pool->procs; *pp; pp = &(*pp)->next) {
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

/* The exit status of a process whose socket reached EOF (it is exiting);
 * waits at most ~1 s before killing it. */
static int proc_status(struct proc *p, int *status)
{
    if (p->pid == 0)
        drain_zygote(p->pool, p);
    if (p->pid <= 0)
        return -1;
    for (int i = 0; i < 1000; i++) {
        pid_t r = waitpid(p->pid, status, WNOHANG);
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
    if (waitpid(p->pid, status, 0) == p->pid) {
        p->reaped = true;
        return 0;
    }
    return -1;
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
        proc_discard(pool->procs, true);
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
        struct slot *s = pool->slots;
        pool->slots = s->next;
        free(s);
    }
    free(pool);
}

static struct slot *slot_for(struct brd_sandbox_pool *pool, const struct brd_pyfn *fn, struct brd_error *err)
{
    for (struct slot *s = pool->slots; s; s = s->next)
        if (s->fn == fn)
            return s;
    struct slot *s = calloc(1, sizeof *s);
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
    struct slot *s = slot_for(pool, fn, err);
    if (!s)
        return -1;
    if (s->idle)
        return 0;
    s->idle = spawn(pool, s, err);
    return s->idle ? 0 : -1;
}

void brd_sandbox_pool_forget(struct brd_sandbox_pool *pool, const struct brd_pyfn *fn)
{
    for (struct slot **ps = &pool->slots; *ps; ps = &(*ps)->next) {
        struct slot *s = *ps;
        if (s->fn != fn)
            continue;
        struct proc *p = pool->procs;
        while (p) {
            struct proc *next = p->next;
            if (p->slot == s)
                proc_discard(p, true);
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

/* ---- calls ------------------------------------------------------------------------------ */

/* A usable process for the call: warm → the idle one if healthy; call →
 * the spare started at the previous call.  Else a new one. */
static struct proc *take_proc(struct brd_sandbox_pool *pool, struct slot *s, struct brd_error *err)
{
    struct proc *p = s->idle;
    s->idle = NULL;
    if (p && p->ready && s->fn->settings.isolation == BRD_PYFN_WARM) {
        /* Anything readable on a process that has served a call is stray
         * output or its death: either way it is not reused.  (One that
         * never served has its READY waiting.) */
        char c;
        ssize_t n = recv(p->sock, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
            proc_discard(p, true);
            p = NULL;
        }
    }
    if (!p)
        p = spawn(pool, s, err);
    return p;
}

static void finish(struct brd_sandbox_call *c)
{
    c->done = true;
    c->res.duration_us = (brd_now_ns() - c->start_ns) / 1000;
    if (!c->res.output)
        c->res.output = copy_text("", 0);
}

/* Releases the call's process: back to idle when it may serve again. */
static void release(struct brd_sandbox_call *c, bool reusable)
{
    struct proc *p = c->proc;
    if (!p)
        return;
    c->proc = NULL;
    p->call = NULL;
    struct slot *s = p->slot;
    if (reusable && !p->broken && !p->retire && p->in_len == 0 && p->out_off == p->out_len &&
        s->fn->settings.isolation == BRD_PYFN_WARM && p->calls < (unsigned)s->fn->settings.max_calls &&
        !s->idle)
        s->idle = p;
    else
        proc_discard(p, true);
    /* Per-call isolation: the next call's process is made now, one ahead,
     * while the caller goes on (not during the call: a fork next to a
     * running call slows it down several times on two cores). */
    if (s->fn->settings.isolation == BRD_PYFN_CALL && !s->idle) {
        struct brd_error ignored;
        s->idle = spawn(s->pool_of, s, &ignored);
    }
}

static void set_error(struct brd_sandbox_call *c, enum brd_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_error(struct brd_sandbox_call *c, enum brd_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char msg[BRD_ERROR_MSG_MAX];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->res.ok = false;
    brd_error_set(&c->res.err, code, "%s", msg);
}

/* Finishes the call (its duration stops here), then releases its process. */
static void end_call(struct brd_sandbox_call *c, bool reusable)
{
    finish(c);
    release(c, reusable);
}

#define fail_call(c, ...) (set_error((c), __VA_ARGS__), end_call((c), false))

int brd_sandbox_call_start(struct brd_sandbox_pool *pool, const struct brd_pyfn *fn, const char *event,
                           size_t event_len, const struct brd_sandbox_context *ctx,
                           struct brd_sandbox_call **out, struct brd_error *err)
{
    *out = NULL;
    if (event_len > UINT32_MAX - 1)
        return brd_error_set(err, BRD_E_INTERNAL, "event too large");
    reap_some(pool);
    if (pool->zctl >= 0)
        drain_zygote(pool, NULL);
    struct slot *s = slot_for(pool, fn, err);
    if (!s)
        return -1;
    struct brd_sandbox_call *c = calloc(1, sizeof *c);
    if (!c)
        return brd_error_nomem(err);
    c->pool = pool;
    c->start_ns = brd_now_ns();
    struct proc *p = take_proc(pool, s, err);
    if (!p) {
        free(c);
        return -1;
    }
    c->proc = p;
    p->call = c;
    c->seq = ++pool->call_seq;
    c->deadline_ns = c->start_ns + (int64_t)fn->settings.timeout_ms * 1000000;
    c->own_deadline = true;
    if (ctx && ctx->deadline_ns > 0 && ctx->deadline_ns < c->deadline_ns) {
        c->deadline_ns = ctx->deadline_ns;
        c->own_deadline = false;
    }
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    int64_t deadline_ms = (int64_t)rt.tv_sec * 1000 + rt.tv_nsec / 1000000 +
                          (c->deadline_ns - c->start_ns) / 1000000;
    const char *parts[4] = {event, ctx ? ctx->request_id : NULL, ctx ? ctx->workflow : NULL,
                            ctx ? ctx->node : NULL};
    uint32_t lens[4] = {(uint32_t)event_len, 0, 0, 0};
    for (int i = 1; i < 4; i++)
        lens[i] = parts[i] ? (uint32_t)strnlen(parts[i], 4096) : BRD_PROTO_NONE;
    if (frame(&p->out, &p->out_len, BRD_PROTO_CALL, c->seq, deadline_ms, 0, parts, lens) != 0) {
        c->proc = NULL;
        p->call = NULL;
        proc_discard(p, true);
        free(c);
        return brd_error_nomem(err);
    }
    p->calls++;
    /* CPU backstop for a reused process: its RLIMIT_CPU counts its whole
     * life, so keep it one timeout (+1 s) above what it has used. */
    if (p->pid == 0)
        drain_zygote(pool, NULL);
    if (p->have_cpuclock) {
        struct timespec used;
        if (clock_gettime(p->cpuclock, &used) == 0) {
            long need = (long)used.tv_sec + 1 + (fn->settings.timeout_ms + 999) / 1000 + 1;
            if (need > p->cpu_limit) {
                struct rlimit rl = {.rlim_cur = (rlim_t)need, .rlim_max = BRD_SBX_CPU_HARD};
                if ((rlim_t)need < BRD_SBX_CPU_HARD && prlimit(p->pid, RLIMIT_CPU, &rl, NULL) == 0)
                    p->cpu_limit = need;
                else
                    p->retire = true; /* this call may use what is left; then a new process */
            }
        }
    }
    struct itimerspec its = {.it_value = {.tv_sec = c->deadline_ns / 1000000000,
                                          .tv_nsec = c->deadline_ns % 1000000000}};
    timerfd_settime(p->tfd, TFD_TIMER_ABSTIME, &its, NULL);
    flush(p);
    *out = c;
    return 0;
}

int brd_sandbox_call_fd(const struct brd_sandbox_call *call)
{
    return call->proc ? call->proc->ep : -1;
}

int64_t brd_sandbox_call_deadline_ns(const struct brd_sandbox_call *call)
{
    return call->deadline_ns;
}

bool brd_sandbox_call_done(const struct brd_sandbox_call *call)
{
    return call->done;
}

static const char *signame(int sig)
{
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGILL: return "SIGILL";
    case SIGFPE: return "SIGFPE";
    case SIGABRT: return "SIGABRT";
    case SIGKILL: return "SIGKILL";
    case SIGXCPU: return "SIGXCPU";
    case SIGSYS: return "SIGSYS";
    case SIGTRAP: return "SIGTRAP";
    default: return "a signal";
    }
}

/* The process died without a reply: what its exit status says. */
static void died(struct brd_sandbox_call *c)
{
    struct proc *p = c->proc;
    int st = 0;
    if (proc_status(p, &st) != 0) {
        fail_call(c, BRD_E_INTERNAL, "the sandboxed process could not be started");
        return;
    }
    if (WIFSIGNALED(st)) {
        int sig = WTERMSIG(st);
        if (sig == SIGSYS)
            fail_call(c, BRD_E_SANDBOX_VIOLATION,
                      "the function made a forbidden system call and was killed (SIGSYS)");
        else if (sig == SIGXCPU || sig == SIGKILL)
            fail_call(c, BRD_E_FUNCTION_TIMEOUT, "the function used up its CPU time (timeout_ms=%d, %s)",
                      p->slot->fn->settings.timeout_ms, signame(sig));
        else
            fail_call(c, BRD_E_FUNCTION_ERROR, "the function's process crashed (%s, signal %d)",
                      signame(sig), sig);
        return;
    }
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (code == 125 || code == 126)
        fail_call(c, BRD_E_INTERNAL, "the sandboxed process could not set itself up (status %d)", code);
    else
        fail_call(c, BRD_E_FUNCTION_ERROR, "the function's process exited (status %d) without replying",
                  code);
}

static void keep_output(struct brd_sandbox_call *c, const struct brd_proto_hdr *h, const char *output,
                        const char *tb)
{
    free(c->res.output);
    c->res.output = copy_text(output, h->len[1]);
    c->res.output_len = c->res.output ? h->len[1] : 0;
    c->res.output_truncated = h->aux > 0;
    free(c->res.traceback);
    c->res.traceback = h->len[2] ? copy_text(tb, h->len[2]) : NULL;
}

/* Handles one complete frame: 0 = the call goes on, 1 = it finished and
 * its process may serve again, 2 = finished, process not reusable.  The
 * result (or error) is stored; the caller releases the process. */
static int on_frame(struct brd_sandbox_call *c, const struct brd_proto_hdr *h, const char *payload)
{
    struct proc *p = c->proc;
    const struct brd_pyfn *fn = p->slot->fn;
    const char *first = payload, *output = payload + h->len[0], *tb = output + h->len[1];
    if (h->type == BRD_PROTO_READY) {
        if (p->ready) {
            set_error(c, BRD_E_SANDBOX_VIOLATION, "the function's process wrote to its pipe out of turn");
            return 2;
        }
        p->ready = true;
        if (h->arg == 0)
            return 0;
        /* The module failed to load (in the sandbox): this call fails. */
        keep_output(c, h, output, tb);
        set_error(c, (enum brd_code)h->arg, "%s: %.*s", fn->filename, (int)h->len[0], first);
        return 2;
    }
    if (!p->ready || h->seq != c->seq) {
        set_error(c, BRD_E_SANDBOX_VIOLATION,
                  "the function's process sent a reply out of turn (not for this call)");
        return 2;
    }
    keep_output(c, h, output, tb);
    if (p->pid == 0)
        drain_zygote(p->pool, p);
    c->res.pid = p->pid > 0 ? p->pid : 0;
    c->res.process_calls = p->calls;
    if (h->arg != 0) {
        enum brd_code code = (enum brd_code)h->arg;
        if (code == BRD_E_FUNCTION_MEMORY)
            set_error(c, code, "the function ran out of memory (memory_mb=%d): %.*s",
                      fn->settings.memory_mb, (int)h->len[0], first);
        else
            set_error(c, code, "%.*s", (int)h->len[0], first);
        /* A plain exception leaves the process usable; nothing else does. */
        return code == BRD_E_FUNCTION_ERROR ? 1 : 2;
    }
    struct json_object *value;
    if (brd_sandbox_check_result(first, h->len[0], brd_sbx_g.result_max, &value, &c->res.err) != 0) {
        c->res.ok = false;
        return 2;
    }
    c->res.ok = true;
    c->res.value = value;
    c->res.json = copy_text(first, h->len[0]);
    c->res.json_len = h->len[0];
    brd_error_clear(&c->res.err);
    return 1;
}

/* Reads what is there; returns 1 on EOF, 0 otherwise. */
static int read_in(struct proc *p, size_t want)
{
    for (;;) {
        if (p->in_cap - p->in_len < 4096 || p->in_cap < want) {
            size_t cap = p->in_cap ? p->in_cap * 2 : 65536;
            while (cap < want)
                cap *= 2;
            char *b = realloc(p->in, cap);
            if (!b)
                return 1;
            p->in = b;
            p->in_cap = cap;
        }
        ssize_t n = recv(p->sock, p->in + p->in_len, p->in_cap - p->in_len, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n <= 0)
            return 1;
        p->in_len += (size_t)n;
        if (p->in_len < p->in_cap)
            return 0;
    }
}

int brd_sandbox_call_step(struct brd_sandbox_call *c)
{
    if (c->done)
        return 1;
    struct proc *p = c->proc;
    if (p->out_off < p->out_len)
        flush(p);
    size_t frame_max = sizeof(struct brd_proto_hdr) + brd_sbx_g.result_max + brd_sbx_g.output_max +
                       brd_sbx_g.traceback_max + BRD_ERROR_MSG_MAX;
    int eof = read_in(p, 0);
    for (;;) {
        if (p->in_len < sizeof(struct brd_proto_hdr))
            break;
        struct brd_proto_hdr h;
        memcpy(&h, p->in, sizeof h);
        if (brd_proto_check_reply(&h, brd_sbx_g.result_max, brd_sbx_g.output_max,
                                  brd_sbx_g.traceback_max) != 0) {
            p->broken = true;
            fail_call(c, BRD_E_SANDBOX_VIOLATION,
                      "the function's process wrote malformed data to its pipe");
            return 1;
        }
        size_t need = sizeof h + brd_proto_payload(&h);
        if (need > frame_max) {
            p->broken = true;
            fail_call(c, BRD_E_SANDBOX_VIOLATION, "the function's process sent an oversized reply");
            return 1;
        }
        if (p->in_len < need) {
            if (!eof)
                eof = read_in(p, need);
            if (p->in_len < need)
                break;
        }
        int fin = on_frame(c, &h, p->in + sizeof h);
        memmove(p->in, p->in + need, p->in_len - need);
        p->in_len -= need;
        if (fin) {
            end_call(c, fin == 1);
            return 1;
        }
    }
    if (eof) {
        died(c);
        return 1;
    }
    if (brd_now_ns() >= c->deadline_ns) {
        brd_sandbox_call_timeout(c);
        return 1;
    }
    return 0;
}

void brd_sandbox_call_timeout(struct brd_sandbox_call *c)
{
    if (c->done)
        return;
    if (c->own_deadline)
        fail_call(c, BRD_E_FUNCTION_TIMEOUT, "the function did not finish within its timeout_ms=%d",
                  c->proc->slot->fn->settings.timeout_ms);
    else
        fail_call(c, BRD_E_FUNCTION_TIMEOUT, "the function was stopped at the workflow's deadline");
}

void brd_sandbox_call_cancel(struct brd_sandbox_call *c)
{
    if (!c->done)
        fail_call(c, BRD_E_INTERNAL, "the call was cancelled");
}

void brd_sandbox_call_wait(struct brd_sandbox_call *c)
{
    while (brd_sandbox_call_step(c) == 0) {
        int64_t left = c->deadline_ns - brd_now_ns();
        int ms = left <= 0 ? 0 : (int)((left + 999999) / 1000000);
        struct pollfd pf = {.fd = brd_sandbox_call_fd(c), .events = POLLIN};
        poll(&pf, 1, ms);
    }
}

int brd_sandbox_call_collect(struct brd_sandbox_call *c, struct brd_sandbox_result *out)
{
    memset(out, 0, sizeof *out);
    if (!c->done || c->collected)
        return brd_error_set(&out->err, BRD_E_INTERNAL,
                             c->done ? "result already collected" : "the call has not finished");
    *out = c->res;
    memset(&c->res, 0, sizeof c->res);
    c->collected = true;
    return out->ok ? 0 : -1;
}

void brd_sandbox_call_free(struct brd_sandbox_call *c)
{
    if (!c)
        return;
    brd_sandbox_call_cancel(c);
    if (!c->collected)
        brd_sandbox_result_free(&c->res);
    free(c);
}

void brd_sandbox_result_free(struct brd_sandbox_result *res)
{
    if (!res)
        return;
    free(res->json);
    free(res->output);
    free(res->traceback);
    if (res->value)
        json_object_put(res->value);
    memset(res, 0, sizeof *res);
}
