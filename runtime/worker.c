/* worker.c — a worker's life: set-up after fork, the accept loop, exit
 * (worker.h). */
#include "worker.h"

#include <errno.h>
#include <stdio.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "affinity.h"
#include "exec.h"
#include "fcgi_conn.h"
#include "fnrunner.h"
#include "log.h"
#include "request.h"
#include "sandbox.h"
#include "worker_caps.h"
#include "worker_seccomp.h"
#include "base/clock.h"

/* After a stop signal, queued connections are still answered this long. */
#define STOP_SERVE_QUEUED_US (3 * 1000 * 1000)

static volatile sig_atomic_t stop_requested, retire_requested, reopen_requested;
static int wake_fd = -1;

static void wake(void)
{
    int saved = errno;
    char c = 0;
    if (wake_fd >= 0 && write(wake_fd, &c, 1) < 0) {
        /* full pipe: a wake-up is already pending */
    }
    errno = saved;
}

/* No FCGX_ShutdownPending() here: libfcgi never accepts in this worker
 * (fcgi_conn.c does, after a wait in epoll, which the pipe wakes). */
static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
    wake();
}

/* BRD_WORKER_SIG_RETIRE (SIGUSR2) from the master after a reload: a newer generation is accepting,
 * so leave right after the request in hand; the queue is theirs. */
static void on_retire(int sig)
{
    (void)sig;
    stop_requested = 1;
    retire_requested = 1;
    wake();
}

static void on_reopen(int sig)
{
    (void)sig;
    reopen_requested = 1;
    wake();
}

/* Handlers without SA_RESTART: a signal ends a wait at once.  While a
 * request is being answered these signals are blocked instead (see the
 * loop), so that no read or write of the request sees EINTR. */
static int install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    int rc = sigaction(BRD_WORKER_SIG_DRAIN, &sa, NULL) | sigaction(SIGINT, &sa, NULL) |
             sigaction(SIGQUIT, &sa, NULL);
    sa.sa_handler = on_retire;
    rc |= sigaction(BRD_WORKER_SIG_RETIRE, &sa, NULL);
    sa.sa_handler = on_reopen;
    rc |= sigaction(BRD_WORKER_SIG_REOPEN, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    rc |= sigaction(SIGHUP, &sa, NULL) | sigaction(SIGPIPE, &sa, NULL);
    /* The sandbox pool reaps its own children by pid: SIGCHLD must not be
     * ignored here (the master's handler is not inherited usefully). */
    sa.sa_handler = SIG_DFL;
    rc |= sigaction(SIGCHLD, &sa, NULL);
    sigset_t none;
    sigemptyset(&none);
    rc |= sigprocmask(SIG_SETMASK, &none, NULL);
    return rc ? -1 : 0;
}

static void fail_event(const char *what, const char *msg)
{
    struct json_object *f = json_object_new_object();
    brd_json_add(f, "stage", json_object_new_string(what));
    brd_json_add(f, "reason", json_object_new_string(msg));
    brd_log_event("worker_error", f);
}

static void set_state(struct brd_sb_slot *slot, uint32_t st)
{
    brd_sb_store32(&slot->state, st);
}

static void refused_event(const char *msg)
{
    struct json_object *f = json_object_new_object();
    brd_json_add(f, "reason", json_object_new_string(msg));
    brd_log_event("fastcgi_refused", f);
}

/* Adds a kept connection to the wait set (closing it takes it out: its
 * descriptor is never duplicated). */
static bool watch_kept(int ep, int fd)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0)
        return true;
    fail_event("epoll", strerror(errno));
    return false;
}

/* The loop proper; returns the exit status.
 *
 * A worker holds at most one connection.  After a response on a
 * connection the front server asked to keep (FCGI_KEEP_CONN), it waits for
 * the next request on it and for new connections alike: a request on the
 * kept one is answered first; a new connection makes it let the idle kept
 * one go (the front server sees it closed), so kept connections never
 * starve the pool; so does BRD_FCGI_KEEP_IDLE_MS of silence, a stop and a
 * retirement. */
static int serve(const struct brd_worker_args *a, struct brd_engine *engine, const int *sb_index,
                 int wake_r)
{
    struct brd_sb_slot *slot = &a->sb->slots[a->slot];
    FCGX_Request req;
    struct brd_fcgi_conn conn;
    struct brd_error cerr;
    if (FCGX_InitRequest(&req, -1, 0) != 0) {
        fail_event("fastcgi", "FCGX_InitRequest failed");
        return BRD_WORKER_EXIT_FAILED;
    }
    if (brd_fcgi_conn_init(&conn, &cerr) != 0) {
        fail_event("fastcgi", cerr.msg);
        return BRD_WORKER_EXIT_FAILED;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.fd = a->listen_fd};
    struct epoll_event wev = {.events = EPOLLIN, .data.fd = wake_r};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, a->listen_fd, &lev) != 0 ||
        epoll_ctl(ep, EPOLL_CTL_ADD, wake_r, &wev) != 0) {
        fail_event("epoll", strerror(errno));
        if (ep >= 0)
            close(ep);
        brd_fcgi_conn_free(&conn);
        return BRD_WORKER_EXIT_FAILED;
    }
    struct brd_request_env env = {
        .engine = engine,
        .service = a->service,
        .base_path = a->cfg->base_path,
        .max_body = a->cfg->max_body,
        .debug = a->cfg->debug,
        .busy_workflow = &slot->workflow,
        .sb_index = sb_index,
    };
    sigset_t hold;
    sigemptyset(&hold);
    sigaddset(&hold, BRD_WORKER_SIG_DRAIN);
    sigaddset(&hold, SIGINT);
    sigaddset(&hold, SIGQUIT);
    sigaddset(&hold, BRD_WORKER_SIG_REOPEN);
    sigaddset(&hold, BRD_WORKER_SIG_RETIRE);

    long served = 0;
    int status = BRD_WORKER_EXIT_OK;
    int64_t stop_at = 0;
    bool kept = false; /* conn is a kept connection, idle, in the wait set */
    brd_sb_storei64(&slot->ready_us, brd_now_us());
    set_state(slot, BRD_SB_IDLE);
    for (;;) {
        /* Told to stop: answer what is already queued on the socket (the
         * front server sent those before the stop), briefly, then leave. */
        if (retire_requested)
            break;
        if (stop_requested && !stop_at)
            stop_at = brd_now_us();
        if (stop_at && brd_now_us() - stop_at > STOP_SERVE_QUEUED_US)
            break;
        if (reopen_requested) {
            reopen_requested = 0;
            struct brd_error err;
            if (brd_log_reopen(&err) != 0)
                fail_event("log", err.msg);
        }
        if (a->cfg->max_requests > 0 && served >= a->cfg->max_requests)
            break; /* recycled: the master starts a fresh one */
        if (!brd_fnrunner_usable()) {
            fail_event("sandbox", "the function sandbox cannot be restarted in this worker");
            status = BRD_WORKER_EXIT_SANDBOX;
            break;
        }
        /* A request already buffered behind the last one on a kept
         * connection is answered without waiting. */
        bool on_kept = kept && brd_fcgi_conn_pending(&conn);
        bool incoming = false;
        int n = 0;
        if (!on_kept) {
            int timeout = 1000;
            if (stop_at)
                timeout = 0;
            else if (kept) {
                int64_t left = conn.idle_since_us + (int64_t)BRD_FCGI_KEEP_IDLE_MS * 1000 -
                               brd_now_us();
                timeout = left <= 0 ? 0 : left < 1000000 ? (int)((left + 999) / 1000) : 1000;
            }
            struct epoll_event ev[3];
            n = epoll_wait(ep, ev, 3, timeout);
            if (n < 0 && errno != EINTR) {
                fail_event("epoll", strerror(errno));
                status = BRD_WORKER_EXIT_FAILED;
                break;
            }
            for (int i = 0; i < n; i++) {
                if (ev[i].data.fd == wake_r) {
                    char buf[64];
                    while (read(wake_r, buf, sizeof buf) > 0) {
                    }
                } else if (ev[i].data.fd == a->listen_fd) {
                    incoming = true;
                } else if (kept && ev[i].data.fd == conn.fd) {
                    on_kept = true;
                }
            }
        }
        if (kept && !on_kept &&
            brd_now_us() - conn.idle_since_us >= (int64_t)BRD_FCGI_KEEP_IDLE_MS * 1000) {
            brd_fcgi_conn_close(&conn); /* leaves the wait set with its descriptor */
            kept = false;
        }
        if (!on_kept && !incoming) {
            if (stop_at && n >= 0)
                break; /* nothing queued any more */
            continue;
        }

        sigset_t old;
        sigprocmask(SIG_BLOCK, &hold, &old);
        if (!on_kept) {
            int e = -brd_fcgi_conn_accept(&conn, a->listen_fd);
            if (e > 0) {
                sigprocmask(SIG_SETMASK, &old, NULL);
                if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR || e == ECONNABORTED)
                    continue; /* another worker took it, or the client left */
                if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
                    fail_event("accept", strerror(e));
                    struct timespec pause = {0, 100 * 1000 * 1000};
                    nanosleep(&pause, NULL);
                    continue;
                }
                fail_event("accept", strerror(e));
                status = BRD_WORKER_EXIT_FAILED;
                break;
            }
            /* An idle kept connection was let go for the new one (closing
             * it also took it out of the wait set). */
            kept = false;
        }
        int64_t t0 = brd_now_us();
        __atomic_store_n(&slot->workflow, BRD_SB_NO_WORKFLOW, __ATOMIC_RELAXED);
        brd_sb_storei64(&slot->busy_since_us, t0);
        set_state(slot, BRD_SB_BUSY);
        int rc = brd_fcgi_conn_begin(&conn, &req, &cerr);
        if (rc != 1) {
            /* Closed: by the front server (a kept connection it is done
             * with), or here, refused before libfcgi read a byte. */
            kept = false; /* closing it also took it out of the wait set */
            if (rc < 0)
                refused_event(cerr.msg);
            brd_sb_storei64(&slot->busy_since_us, 0);
            set_state(slot, BRD_SB_IDLE);
            sigprocmask(SIG_SETMASK, &old, NULL);
            continue;
        }
        struct brd_request_outcome out;
        brd_request_handle(&env, &req, &out);
        bool may_keep = !stop_requested && !retire_requested &&
                        !(a->cfg->max_requests > 0 && served + 1 >= a->cfg->max_requests);
        bool keep = brd_fcgi_conn_end(&conn, &req, may_keep);
        if (keep && !kept && !watch_kept(ep, conn.fd)) {
            brd_fcgi_conn_close(&conn); /* unwatched, it would hold its next request */
            keep = false;
        }
        kept = keep; /* a closed one left the wait set with its descriptor */
        int64_t dur = brd_now_us() - t0;
        served++;
        int code = out.code;
        if (code > BRD_E_INTERNAL) /* SYNTAX, NOMEM, ...: all INTERNAL to a client */
            code = BRD_E_INTERNAL;
        brd_scoreboard_record(a->sb, out.sb_workflow, code, dur);
        __atomic_store_n(&slot->requests, (uint64_t)served, __ATOMIC_RELAXED);
        brd_sb_storei64(&slot->busy_since_us, 0);
        set_state(slot, BRD_SB_IDLE);
        struct brd_log_request line = {
            out.request_id, out.method, out.path,
            out.workflow >= 0 ? a->service->workflows[out.workflow]->name : NULL,
            out.status, dur, out.code == BRD_OK ? NULL : brd_code_name(out.code),
        };
        brd_log_request(&line);
        sigprocmask(SIG_SETMASK, &old, NULL);
    }
    set_state(slot, BRD_SB_EXITING);
    brd_fcgi_conn_free(&conn);
    close(ep);
    return status;
}

int brd_worker_run(const struct brd_worker_args *a)
{
    struct brd_sb_slot *slot = &a->sb->slots[a->slot];
    /* Its own process group: a Ctrl-C at the terminal reaches the master
     * only, which then drains the workers in order. */
    setpgid(0, 0);
    /* A master that dies without draining still stops its workers. */
    prctl(PR_SET_PDEATHSIG, BRD_WORKER_SIG_DRAIN);
    if (getppid() != a->master)
        return BRD_WORKER_EXIT_OK;
    /* Before anything else runs here, and before the zygote is exec'd:
     * only what the worker and the zygote need is kept (worker_caps.h). */
    struct brd_error cerr;
    if (brd_worker_caps_limit(&cerr) != 0) {
        fail_event("capabilities", cerr.msg);
        return BRD_WORKER_EXIT_FAILED;
    }
    int pipefd[2];
    if (pipe2(pipefd, O_NONBLOCK | O_CLOEXEC) != 0) {
        fail_event("start", strerror(errno));
        return BRD_WORKER_EXIT_FAILED;
    }
    wake_fd = pipefd[1];
    if (install_signals() != 0) {
        fail_event("start", "cannot install signal handlers");
        return BRD_WORKER_EXIT_FAILED;
    }
    brd_sandbox_after_fork();
    if (a->cfg->cpu_affinity) {
        /* Before the zygote starts: it and its processes inherit the CPU. */
        int cpu = -1;
        if (brd_affinity_pin_worker(a->slot, a->cfg->workers, &cpu, &cerr) < 0)
            fail_event("cpu-affinity", cerr.msg); /* goes on unpinned */
    }

    int status = BRD_WORKER_EXIT_FAILED;
    struct brd_error err;
    brd_error_clear(&err);
    struct brd_engine *engine = NULL;
    int *sb_index = calloc(a->service->nworkflows + 1, sizeof *sb_index);
    if (!sb_index) {
        fail_event("start", "out of memory");
        goto out;
    }
    for (size_t i = 0; i < a->service->nworkflows; i++) {
        int k = brd_scoreboard_workflow_find(a->sb, a->service->workflows[i]->name);
        sb_index[i] = k >= 0 ? k : BRD_SB_UNROUTED;
    }
    if (brd_engine_new(&engine, &err) != 0) {
        fail_event("engine", err.msg);
        goto out;
    }
    /* The pool's zygote is exec'd: it must exist before the filter below
     * forbids execve. */
    if (brd_fnrunner_prewarm(a->service->functions, a->service->nfunctions, &err) != 0) {
        fail_event("sandbox", err.msg);
        goto out;
    }
    if (brd_worker_seccomp_install(&err) != 0) {
        fail_event("seccomp", err.msg);
        goto out;
    }
    status = serve(a, engine, sb_index, pipefd[0]);
out:
    set_state(slot, BRD_SB_EXITING);
    brd_engine_free(engine);
    brd_fnrunner_shutdown();
    free(sb_index);
    close(pipefd[0]);
    close(pipefd[1]);
    wake_fd = -1;
    return status;
}
