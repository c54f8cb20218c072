/* master.c — the master's event loop: signals through a self-pipe, the
 * admin listener, and a 100 ms supervision tick over the scoreboard
 * (master.h).  The master never runs a request and never exits on a
 * worker's account. */
#include "master.h"

#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "admin.h"
#include "cli.h"
#include "exec.h"
#include "fnrunner.h"
#include "listener.h"
#include "log.h"
#include "scoreboard.h"
#include "service.h"
#include "base/version.h"
#include "worker.h"
#include "base/clock.h"

#define TICK_MS 100
#define BACKOFF_MAX_US (10 * 1000 * 1000)
#define SWITCH_WAIT_US (10 * 1000 * 1000)   /* a reload waits this long for all new workers */
#define DRAIN_GRACE_US (2 * 1000 * 1000)    /* beyond --request-timeout */

struct child {              /* the master's own notes on a scoreboard slot */
    pid_t pid;              /* 0: slot free */
    uint32_t generation;
    bool retiring;          /* told to finish its request and exit */
    bool killed;            /* SIGKILLed past --request-timeout */
    int64_t spawned_us;
};

struct master {
    const struct brd_serve_config *cfg;
    struct brd_service *svc;
    uint32_t generation;
    struct brd_listener listen;
    struct brd_admin *admin;
    struct brd_scoreboard *sb;
    struct child kids[BRD_SB_SLOTS];
    int64_t started_us;
    bool draining, forced;
    int64_t drain_deadline_us;
    int crash_streak;           /* workers in a row that died before serving */
    int64_t last_failure_us, next_spawn_us;
    int64_t reload_us;          /* when the current generation was loaded */
    int sig_r;                  /* the self-pipe's read end */
};

/* ---- signals ---------------------------------------------------------------- */

static int sig_w = -1;

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char c = (unsigned char)sig;
    if (sig_w >= 0 && write(sig_w, &c, 1) < 0) {
        /* pipe full: the loop runs soon anyway and reaps every tick */
    }
    errno = saved;
}

/* Without SA_RESTART: a signal ends the poll at once; everything is then
 * handled in the loop, never in the handler. */
static int install_signals(int *sig_r, struct brd_error *err)
{
    int p[2];
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0)
        return brd_error_set(err, BRD_E_IO, "pipe: %s", strerror(errno));
    *sig_r = p[0];
    sig_w = p[1];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_signal;
    static const int sigs[] = {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGCHLD};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        if (sigaction(sigs[i], &sa, NULL) != 0)
            return brd_error_set(err, BRD_E_IO, "sigaction: %s", strerror(errno));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    return 0;
}

static const char *signame(int sig)
{
    switch (sig) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGQUIT: return "SIGQUIT";
    case SIGKILL: return "SIGKILL";
    case SIGSEGV: return "SIGSEGV";
    case SIGABRT: return "SIGABRT";
    case SIGBUS: return "SIGBUS";
    case SIGSYS: return "SIGSYS";
    case SIGHUP: return "SIGHUP";
    default: return NULL;
    }
}

/* ---- small helpers ---------------------------------------------------------------- */

static struct json_object *fields(void)
{
    return json_object_new_object();
}

static void put_str(struct json_object *o, const char *k, const char *v)
{
    if (o)
        brd_json_add(o, k, v ? json_object_new_string(v) : NULL);
}

static void put_int(struct json_object *o, const char *k, int64_t v)
{
    if (o)
        brd_json_add(o, k, json_object_new_int64(v));
}

static int live_children(const struct master *m)
{
    int n = 0;
    for (int i = 0; i < BRD_SB_SLOTS; i++)
        n += m->kids[i].pid > 0;
    return n;
}

/* Workers of the current generation that are not on their way out. */
static int serving_children(const struct master *m)
{
    int n = 0;
    for (int i = 0; i < BRD_SB_SLOTS; i++)
        n += m->kids[i].pid > 0 && m->kids[i].generation == m->generation && !m->kids[i].retiring;
    return n;
}

static void register_workflows(struct master *m, const struct brd_service *s)
{
    for (size_t i = 0; i < s->nworkflows; i++)
        if (brd_scoreboard_workflow_add(m->sb, s->workflows[i]->name) < 0) {
            struct json_object *f = fields();
            put_str(f, "workflow", s->workflows[i]->name);
            put_str(f, "reason", "the scoreboard's workflow table is full: counted as unrouted");
            brd_log_event("warning", f);
        }
}

/* Tells a worker to finish the request in hand and leave: SIGTERM for a
 * drain (it also answers what is queued: nobody else will), SIGUSR2 after
 * a reload (the new generation takes the queue). */
static void retire(struct master *m, int i, int sig)
{
    struct child *k = &m->kids[i];
    if (k->pid <= 0 || (k->retiring && sig != SIGTERM))
        return;
    k->retiring = true;
    kill(k->pid, sig);
}

/* ---- workers ------------------------------------------------------------------------- */

static int spawn(struct master *m)
{
    int slot = -1;
    for (int i = 0; i < BRD_SB_SLOTS && slot < 0; i++)
        if (m->kids[i].pid == 0)
            slot = i;
    if (slot < 0)
        return -1; /* every slot holds a process still finishing: try next tick */
    struct brd_sb_slot *s = &m->sb->slots[slot];
    memset(s, 0, sizeof *s);
    s->generation = m->generation;
    s->state = BRD_SB_STARTING;
    s->workflow = -1;

    /* Signals stay blocked across fork until the child has its own
     * handlers: the master's would write to the master's pipe. */
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(sig_w);
        close(m->sig_r);
        sig_w = -1;
        brd_admin_close(m->admin);
        struct brd_worker_args args = {slot, m->sb, m->svc, m->cfg, m->listen.fd, getppid()};
        int status = brd_worker_run(&args);
        /* _exit, not return: this child carries a copy of the master's
         * atexit handlers and stdio buffers (CPython, libcurl, json-c);
         * running them here would finalise state that belongs to the
         * master.  Everything the worker owns was released above. */
        _exit(status);
    }
    int fork_errno = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    int64_t now = brd_now_us();
    if (pid < 0) {
        s->state = BRD_SB_FREE;
        struct json_object *f = fields();
        put_str(f, "reason", strerror(fork_errno));
        brd_log_event("spawn_failed", f);
        m->next_spawn_us = now + 1000 * 1000;
        return -1;
    }
    s->pid = pid;
    m->kids[slot] = (struct child){.pid = pid, .generation = m->generation, .spawned_us = now};
    return 0;
}

static void reap(struct master *m)
{
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        int i = 0;
        while (i < BRD_SB_SLOTS && m->kids[i].pid != pid)
            i++;
        if (i == BRD_SB_SLOTS)
            continue; /* not a worker (nothing else is ours) */
        struct child *k = &m->kids[i];
        struct brd_sb_slot *s = &m->sb->slots[i];
        uint64_t served = brd_sb_load64(&s->requests);
        bool was_ready = brd_sb_loadi64(&s->ready_us) != 0;
        bool clean = WIFEXITED(st) && WEXITSTATUS(st) == BRD_WORKER_EXIT_OK;
        const char *reason;
        if (k->killed)
            reason = "request timeout";
        else if (clean && k->retiring)
            reason = m->draining ? "drained" : "retired";
        else if (clean && m->cfg->max_requests > 0 && (long)served >= m->cfg->max_requests)
            reason = "recycled";
        else if (WIFEXITED(st) && WEXITSTATUS(st) == BRD_WORKER_EXIT_SANDBOX)
            reason = "sandbox lost";
        else if (WIFEXITED(st))
            reason = was_ready ? "exited" : "failed to start";
        else
            reason = "crashed";

        struct json_object *f = fields();
        put_int(f, "worker", pid);
        put_int(f, "generation", k->generation);
        put_int(f, "requests", (int64_t)served);
        put_str(f, "reason", reason);
        if (WIFEXITED(st)) {
            put_int(f, "exit_status", WEXITSTATUS(st));
        } else if (WIFSIGNALED(st)) {
            const char *n = signame(WTERMSIG(st));
            if (n)
                put_str(f, "signal", n);
            else
                put_int(f, "signal", WTERMSIG(st));
        }
        brd_log_event("worker_exit", f);

        bool replace = !m->draining && k->generation == m->generation && !k->retiring;
        if (replace) {
            if (strcmp(reason, "recycled") == 0)
                brd_sb_add64(&m->sb->recycles, 1);
            else if (!k->killed) /* timeouts have their own counter */
                brd_sb_add64(&m->sb->restarts, 1);
            if (strcmp(reason, "recycled") != 0 && !k->killed) {
                int64_t now = brd_now_us();
                m->last_failure_us = now;
                if (!was_ready) {
                    /* Dying before serving: back off, doubling up to 10 s,
                     * so a broken environment does not become a fork loop. */
                    m->crash_streak++;
                    int64_t delay = 100 * 1000;
                    for (int j = 1; j < m->crash_streak && delay < BACKOFF_MAX_US; j++)
                        delay *= 2;
                    if (delay > BACKOFF_MAX_US)
                        delay = BACKOFF_MAX_US;
                    m->next_spawn_us = now + delay;
                } else {
                    m->crash_streak = 0; /* a healthy worker died: replace it now */
                }
            }
        }
        memset(s, 0, sizeof *s);
        memset(k, 0, sizeof *k);
    }
}

/* ---- the service ------------------------------------------------------------------ */

static void reload(struct master *m)
{
    struct brd_error err;
    brd_error_clear(&err);
    struct brd_fn_runner runner;
    struct brd_diags d = {0};
    struct brd_service *ns = NULL;
    int rc = brd_fnrunner_init(&runner, &err);
    if (rc == 0)
        rc = brd_service_load(m->cfg->dir, &runner, &ns, &d);
    else
        brd_diag_add(&d, "cannot start the function sandbox: %s", err.msg);
    if (rc != 0) {
        brd_sb_add64(&m->sb->reload_failures, 1);
        struct json_object *f = fields(), *probs = json_object_new_array();
        for (size_t i = 0; probs && i < d.count; i++)
            brd_json_append(probs, json_object_new_string(d.msgs[i]));
        char reason[256];
        snprintf(reason, sizeof reason, "%zu problem%s in %s; still serving generation %u",
                 d.count, d.count == 1 ? "" : "s", m->cfg->dir, m->generation);
        put_str(f, "reason", reason);
        if (f)
            brd_json_add(f, "problems", probs);
        else
            json_object_put(probs);
        brd_log_event("reload_failed", f);
        brd_diags_free(&d);
        return;
    }
    brd_diags_free(&d);
    register_workflows(m, ns);
    struct brd_service *old = m->svc;
    m->svc = ns;
    m->generation++;
    m->reload_us = brd_now_us();
    m->crash_streak = 0;
    m->next_spawn_us = 0;
    brd_sb_add64(&m->sb->reloads, 1);
    /* The old workers keep their own copy (fork); the master's can go. */
    brd_service_free(old);
    struct json_object *f = fields();
    put_int(f, "generation", m->generation);
    put_int(f, "workflows", (int64_t)ns->nworkflows);
    brd_log_event("reload", f);
}

/* ---- supervision ------------------------------------------------------------------- */

static void start_drain(struct master *m, int sig)
{
    m->draining = true;
    m->drain_deadline_us = brd_now_us() + (int64_t)m->cfg->request_timeout_ms * 1000 + DRAIN_GRACE_US;
    struct json_object *f = fields();
    put_str(f, "signal", signame(sig));
    put_int(f, "workers", live_children(m));
    brd_log_event("drain", f);
    /* New connections are refused from now on (a replacement server may
     * bind the path at once); the ones already queued are still answered
     * by the workers on their way out. */
    brd_listener_unlink(&m->listen);
    for (int i = 0; i < BRD_SB_SLOTS; i++)
        retire(m, i, SIGTERM);
}

static void kill_all(struct master *m)
{
    for (int i = 0; i < BRD_SB_SLOTS; i++)
        if (m->kids[i].pid > 0)
            kill(m->kids[i].pid, SIGKILL);
}

static void supervise(struct master *m)
{
    int64_t now = brd_now_us();
    int64_t limit = (int64_t)m->cfg->request_timeout_ms * 1000;

    /* A request past --request-timeout: only its worker goes. */
    for (int i = 0; i < BRD_SB_SLOTS; i++) {
        struct child *k = &m->kids[i];
        const struct brd_sb_slot *s = &m->sb->slots[i];
        if (k->pid <= 0 || k->killed)
            continue;
        int64_t since = brd_sb_loadi64(&s->busy_since_us);
        if (brd_sb_load32(&s->state) != BRD_SB_BUSY || since <= 0 || now - since <= limit)
            continue;
        kill(k->pid, SIGKILL);
        k->killed = true;
        brd_sb_add64(&m->sb->timeouts, 1);
        int32_t wf = __atomic_load_n(&s->workflow, __ATOMIC_RELAXED);
        struct json_object *f = fields();
        put_int(f, "worker", k->pid);
        put_str(f, "workflow", wf > 0 && wf < BRD_SB_WORKFLOWS ? m->sb->workflows[wf].name : NULL);
        put_int(f, "busy_ms", (now - since) / 1000);
        put_int(f, "limit_ms", m->cfg->request_timeout_ms);
        brd_log_event("worker_timeout", f);
    }

    if (m->draining) {
        if (now >= m->drain_deadline_us && !m->forced) {
            m->forced = true;
            struct json_object *f = fields();
            put_int(f, "workers", live_children(m));
            brd_log_event("drain_timeout", f);
            kill_all(m);
        }
        return;
    }

    /* A worker that reached its accept loop ends a crash streak. */
    if (m->crash_streak > 0)
        for (int i = 0; i < BRD_SB_SLOTS; i++)
            if (m->kids[i].pid > 0 && m->kids[i].spawned_us >= m->last_failure_us &&
                brd_sb_loadi64(&m->sb->slots[i].ready_us) != 0) {
                m->crash_streak = 0;
                break;
            }

    /* After a reload: the old generation leaves once the new one is ready
     * (all of it, or some of it after SWITCH_WAIT_US), so the socket always
     * has workers accepting and no request fails. */
    bool old_left = false;
    for (int i = 0; i < BRD_SB_SLOTS && !old_left; i++)
        old_left = m->kids[i].pid > 0 && m->kids[i].generation != m->generation &&
                   !m->kids[i].retiring;
    if (old_left) {
        int ready = 0;
        for (int i = 0; i < BRD_SB_SLOTS; i++) {
            const struct child *k = &m->kids[i];
            uint32_t st = brd_sb_load32(&m->sb->slots[i].state);
            ready += k->pid > 0 && k->generation == m->generation && !k->retiring &&
                     (st == BRD_SB_IDLE || st == BRD_SB_BUSY);
        }
        if (ready >= m->cfg->workers || (ready > 0 && now - m->reload_us > SWITCH_WAIT_US))
            for (int i = 0; i < BRD_SB_SLOTS; i++)
                if (m->kids[i].pid > 0 && m->kids[i].generation != m->generation)
                    retire(m, i, SIGUSR2);
    }

    if (now >= m->next_spawn_us) {
        int missing = m->cfg->workers - serving_children(m);
        for (int j = 0; j < missing; j++)
            if (spawn(m) != 0)
                break;
    }
}

static void on_signals(struct master *m, int sig_r)
{
    unsigned char buf[64];
    ssize_t n;
    while ((n = read(sig_r, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            int sig = buf[i];
            if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) {
                if (!m->draining) {
                    start_drain(m, sig);
                } else if (!m->forced) {
                    /* A second stop signal: stop now. */
                    m->forced = true;
                    struct json_object *f = fields();
                    put_str(f, "signal", signame(sig));
                    put_int(f, "workers", live_children(m));
                    brd_log_event("stop_now", f);
                    kill_all(m);
                }
            } else if (sig == SIGHUP) {
                if (!m->draining)
                    reload(m);
            } else if (sig == SIGUSR1) {
                struct brd_error err;
                if (brd_log_reopen(&err) != 0) {
                    struct json_object *f = fields();
                    put_str(f, "reason", err.msg);
                    brd_log_event("log_reopen_failed", f);
                }
                for (int k = 0; k < BRD_SB_SLOTS; k++)
                    if (m->kids[k].pid > 0)
                        kill(m->kids[k].pid, SIGUSR1);
                brd_log_event("log_reopened", NULL);
            }
            /* SIGCHLD: reaping happens every turn of the loop. */
        }
    }
}

/* ---- the loop ------------------------------------------------------------------------- */

static void view_of(const struct master *m, struct brd_admin_view *v)
{
    *v = (struct brd_admin_view){m->sb, m->svc, m->cfg->dir, getpid(), m->started_us,
                                 m->generation, m->draining};
}

static int loop(struct master *m)
{
    int sig_r = m->sig_r;
    supervise(m);
    while (m->draining ? live_children(m) > 0 : true) {
        struct pollfd p[2] = {{.fd = sig_r, .events = POLLIN}};
        int np = 1;
        if (m->admin)
            brd_admin_pollfd(m->admin, &p[np++]);
        int rc = poll(p, (nfds_t)np, TICK_MS);
        if (rc < 0 && errno != EINTR) {
            struct json_object *f = fields();
            put_str(f, "reason", strerror(errno));
            brd_log_event("poll_failed", f);
        }
        if (rc > 0 && (p[0].revents & POLLIN))
            on_signals(m, sig_r);
        reap(m);
        if (m->admin) {
            struct brd_admin_view v;
            view_of(m, &v);
            brd_admin_step(m->admin, rc > 0 ? p[1].revents : 0, &v);
        }
        supervise(m);
    }
    return m->forced ? 1 : 0;
}

int brd_master_run(const struct brd_serve_config *cfg)
{
    static struct master m; /* large (a slot table); one per process */
    memset(&m, 0, sizeof m);
    m.cfg = cfg;
    m.generation = 1;
    m.started_us = brd_now_us();
    m.listen.fd = -1;
    struct brd_error err;
    brd_error_clear(&err);

    /* What can be refused without looking at the directory, first. */
    if (!cfg->listen && !brd_listener_is_listening(0)) {
        fprintf(stderr, "braid serve: no --listen given and fd 0 is not a listening socket\n"
                        "  (pass --listen unix:/path or HOST:PORT, or start under spawn-fcgi)\n");
        return 2;
    }
    if (brd_log_open(cfg->log_file, &err) != 0) {
        fprintf(stderr, "braid serve: %s\n", err.msg);
        return 1;
    }
    if (brd_cli_load_service("serve", cfg->dir, &m.svc) != 0)
        return 1;
    int status = 1;
    m.sig_r = -1;
    if (brd_scoreboard_new(&m.sb, &err) != 0)
        goto fail;
    register_workflows(&m, m.svc);
    if (brd_listener_open(cfg->listen, cfg->socket_mode, &m.listen, &err) != 0) {
        status = err.code == BRD_E_USAGE ? 2 : 1;
        goto fail;
    }
    if (cfg->admin && brd_admin_open(cfg->admin, &m.admin, &err) != 0) {
        status = err.code == BRD_E_USAGE ? 2 : 1;
        goto fail;
    }
    /* Once, before any fork (DESIGN section 2); it installs libfcgi's own
     * signal handlers, which ours then replace. */
    if (FCGX_Init() != 0) {
        brd_error_set(&err, BRD_E_INTERNAL, "FCGX_Init failed");
        goto fail;
    }
    if (install_signals(&m.sig_r, &err) != 0)
        goto fail;

    struct json_object *f = fields();
    put_str(f, "version", BRD_VERSION);
    put_str(f, "service", cfg->dir);
    put_str(f, "listen", m.listen.display);
    put_str(f, "admin", m.admin ? brd_admin_address(m.admin) : NULL);
    put_int(f, "workers", cfg->workers);
    put_int(f, "workflows", (int64_t)m.svc->nworkflows);
    put_int(f, "max_requests", cfg->max_requests);
    put_int(f, "request_timeout_ms", cfg->request_timeout_ms);
    put_str(f, "base_path", cfg->base_path);
    if (f)
        brd_json_add(f, "debug", json_object_new_boolean(cfg->debug));
    brd_log_event("start", f);

    status = loop(&m);
    f = fields();
    put_int(f, "exit_status", status);
    brd_log_event("stop", f);
    goto done;
fail:
    fprintf(stderr, "braid serve: %s\n", err.msg);
done:
    brd_admin_close(m.admin);
    brd_listener_close(&m.listen);
    if (m.sig_r >= 0)
        close(m.sig_r);
    if (sig_w >= 0)
        close(sig_w);
    sig_w = -1;
    brd_service_free(m.svc);
    brd_scoreboard_free(m.sb);
    brd_fnrunner_shutdown();
    return status;
}
