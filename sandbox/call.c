/* call.c — one call's life on a sandboxed process, as the caller sees it:
 * start (the CALL frame queued behind the process's INIT, the deadline
 * armed on its timerfd), the non-blocking steps that write the event and
 * read and check the reply frame, the deadline, timeouts and cancels, the
 * exit status of a process that died, and collecting the result.  The
 * processes themselves are pool.c's. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exitcodes.h"
#include "internal.h"
#include "proc.h"
#include "sandbox.h"
#include "utf8.h"

struct brd_sandbox_call {
    struct brd_sandbox_pool *pool;
    struct brd_proc *proc;        /* NULL once finished (given back) */
    uint64_t seq;
    int64_t start_ns, deadline_ns;
    bool own_deadline;            /* the deadline is timeout_ms's, not the caller's */
    bool done, collected;
    struct brd_sandbox_result res;
};

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

/* ---- finishing --------------------------------------------------------------------- */

static void finish(struct brd_sandbox_call *c)
{
    c->done = true;
    c->res.duration_us = (brd_now_ns() - c->start_ns) / 1000;
    if (!c->res.output)
        c->res.output = copy_text("", 0);
}

/* Gives the call's process back to the pool: idle when it may serve again. */
static void release(struct brd_sandbox_call *c, bool reusable)
{
    struct brd_proc *p = c->proc;
    if (!p)
        return;
    c->proc = NULL;
    p->call = NULL;
    brd_proc_release(p, reusable);
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

/* ---- starting ------------------------------------------------------------------------ */

int brd_sandbox_call_start(struct brd_sandbox_pool *pool, const struct brd_pyfn *fn, const char *event,
                           size_t event_len, const struct brd_sandbox_context *ctx,
                           struct brd_sandbox_call **out, struct brd_error *err)
{
    *out = NULL;
    if (event_len > UINT32_MAX - 1)
        return brd_error_set(err, BRD_E_INTERNAL, "event too large");
    struct brd_sandbox_call *c = calloc(1, sizeof *c);
    if (!c)
        return brd_error_nomem(err);
    c->pool = pool;
    c->start_ns = brd_now_ns();
    struct brd_proc *p = brd_proc_take(pool, fn, err);
    if (!p) {
        free(c);
        return -1;
    }
    c->proc = p;
    p->call = c;
    c->seq = brd_proc_next_seq(pool);
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
    if (brd_proto_append(&p->out, &p->out_len, BRD_PROTO_CALL, c->seq, deadline_ms, 0, parts, lens) != 0) {
        c->proc = NULL;
        p->call = NULL;
        brd_proc_discard(p, true);
        free(c);
        return brd_error_nomem(err);
    }
    p->calls++;
    brd_proc_cpu_budget(p, fn->settings.timeout_ms);
    struct itimerspec its = {.it_value = {.tv_sec = c->deadline_ns / 1000000000,
                                          .tv_nsec = c->deadline_ns % 1000000000}};
    timerfd_settime(p->tfd, TFD_TIMER_ABSTIME, &its, NULL);
    brd_proc_flush(p);
    brd_proc_continue(p);
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

/* ---- the reply ------------------------------------------------------------------------ */

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

/* The process died without a reply: what its exit status says.  A signal
 * is reported as what it was: the CPU limit only for SIGXCPU (or the
 * SIGKILL the kernel sends at the hard CPU limit: its CPU time says so),
 * the memory limit when its peak memory reached memory_mb, else a process
 * killed by signal N (kill -9 from outside, the OOM killer, a crash).  The
 * pool's own kills (a timeout, a cancel) finish the call first and never
 * come here, except the one of brd_proc_status (p->pool_killed). */
static void died(struct brd_sandbox_call *c)
{
    struct brd_proc *p = c->proc;
    const struct brd_pyfn_settings *set = &p->fn->settings;
    int st = 0;
    if (brd_proc_status(p, &st) != 0) {
        fail_call(c, BRD_E_INTERNAL, "the sandboxed process could not be started");
        return;
    }
    if (WIFSIGNALED(st)) {
        int sig = WTERMSIG(st);
        long cpu_s = (long)(p->usage.ru_utime.tv_sec + p->usage.ru_stime.tv_sec);
        long peak_mb = p->usage.ru_maxrss / 1024; /* KiB on Linux */
        if (sig == SIGSYS)
            fail_call(c, BRD_E_SANDBOX_VIOLATION,
                      "the function made a forbidden system call and was killed (SIGSYS)");
        else if (sig == SIGXCPU || (sig == SIGKILL && !p->pool_killed && cpu_s >= p->cpu_limit))
            fail_call(c, BRD_E_FUNCTION_TIMEOUT, "the function used up its CPU time (timeout_ms=%d, %s)",
                      set->timeout_ms, signame(sig));
        else if (sig == SIGKILL && p->pool_killed)
            fail_call(c, BRD_E_FUNCTION_ERROR,
                      "the function's process closed its pipe without exiting and was killed (SIGKILL)");
        else if (peak_mb >= set->memory_mb)
            fail_call(c, BRD_E_FUNCTION_MEMORY,
                      "the function ran out of memory (memory_mb=%d): its process was killed by signal %d "
                      "(%s) at %ld MB",
                      set->memory_mb, sig, signame(sig), peak_mb);
        else if (sig == SIGKILL)
            fail_call(c, BRD_E_FUNCTION_ERROR,
                      "the function's process was killed by signal %d (SIGKILL) from outside the sandbox "
                      "(not by its time or memory limit)",
                      sig);
        else
            fail_call(c, BRD_E_FUNCTION_ERROR, "the function's process crashed (%s, signal %d)",
                      signame(sig), sig);
        return;
    }
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    const char *reason = brd_sbx_exit_reason(code);
    if (reason)
        fail_call(c, BRD_E_INTERNAL, "the sandboxed process could not set itself up: %s (status %d)",
                  reason, code);
    else
        fail_call(c, BRD_E_FUNCTION_ERROR, "the function's process exited (status %d) without replying",
                  code);
}

static void keep_output(struct brd_sandbox_call *c, const struct brd_proto_hdr *h, const char *output,
                        const char *tb)
{
    /* Untrusted bytes: a process that forged its frame may send anything.
     * Invalid UTF-8 becomes U+FFFD, so a trace stays valid JSON. */
    free(c->res.output);
    c->res.output = brd_utf8_copy(output, h->len[1], &c->res.output_len);
    if (!c->res.output)
        c->res.output_len = 0;
    c->res.output_truncated = h->aux > 0;
    free(c->res.traceback);
    c->res.traceback = h->len[2] ? brd_utf8_copy(tb, h->len[2], NULL) : NULL;
}

/* Handles one complete frame: 0 = the call goes on, 1 = it finished and
 * its process may serve again, 2 = finished, process not reusable.  The
 * result (or error) is stored; the caller releases the process. */
static int on_frame(struct brd_sandbox_call *c, const struct brd_proto_hdr *h, const char *payload)
{
    struct brd_proc *p = c->proc;
    const struct brd_pyfn *fn = p->fn;
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
    pid_t pid = brd_proc_pid(p);
    c->res.pid = pid > 0 ? pid : 0;
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
static int read_in(struct brd_proc *p, size_t want)
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
    struct brd_proc *p = c->proc;
    if (p->out_off < p->out_len)
        brd_proc_flush(p);
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

/* ---- the caller's side: timeouts, cancels, results -------------------------------------- */

void brd_sandbox_call_timeout(struct brd_sandbox_call *c)
{
    if (c->done)
        return;
    if (c->own_deadline && !c->proc->ready)
        fail_call(c, BRD_E_FUNCTION_TIMEOUT,
                  "the module's top-level code did not finish within the call's timeout_ms=%d "
                  "(its process was killed)",
                  c->proc->fn->settings.timeout_ms);
    else if (c->own_deadline)
        fail_call(c, BRD_E_FUNCTION_TIMEOUT, "the function did not finish within its timeout_ms=%d",
                  c->proc->fn->settings.timeout_ms);
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
