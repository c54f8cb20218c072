/* master.c — the master's event loop (master.h): poll on the signal pipe
 * (signals.h) and the admin listener, and a 100 ms tick that reaps and
 * supervises the workers (children.h), finishes a reload and watches a
 * drain.  The master never runs a request and never exits on a worker's
 * account. */
#include "master.h"

#include <errno.h>
#include <fcgiapp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "children.h"
#include "cli.h"
#include "commands.h"
#include "exec.h"
#include "fnrunner.h"
#include "listener.h"
#include "log.h"
#include "scoreboard.h"
#include "service.h"
#include "signals.h"
#include "base/version.h"
#include "base/clock.h"

#define TICK_MS 100
#define SWITCH_WAIT_US (10 * 1000 * 1000)   /* a reload waits this long for all new workers */
#define DRAIN_GRACE_US (2 * 1000 * 1000)    /* beyond --request-timeout */

struct master {
    const struct brd_serve_config *cfg;
    struct brd_service *svc;
    struct brd_listener listen;
    struct brd_admin *admin;
    struct brd_scoreboard *sb;
    struct brd_children children;   /* its generation is the one being served */
    int64_t started_us;
    bool draining, forced;
    int64_t drain_deadline_us;
    int64_t reload_us;          /* when the current generation was loaded */
};

/* ---- small helpers ---------------------------------------------------------------- */

static struct json_object *fields(void)
{
    return json_object_new_object();
}

static void register_workflows(struct master *m, const struct brd_service *s)
{
    for (size_t i = 0; i < s->nworkflows; i++)
        if (brd_scoreboard_workflow_add(m->sb, s->workflows[i]->name) < 0) {
            struct json_object *f = fields();
            brd_log_field_str(f, "workflow", s->workflows[i]->name);
            brd_log_field_str(f, "reason", "the scoreboard's workflow table is full: counted as unrouted");
            brd_log_event("warning", f);
        }
}

/* In a newly forked worker: what the master owns and the worker must not
 * keep (the signal pipe is closed by children.c). */
static void close_in_child(void *ctx)
{
    struct master *m = ctx;
    brd_admin_close(m->admin);
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
                 d.count, d.count == 1 ? "" : "s", m->cfg->dir, m->children.generation);
        brd_log_field_str(f, "reason", reason);
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
    brd_children_new_generation(&m->children);
    m->reload_us = brd_now_us();
    brd_sb_add64(&m->sb->reloads, 1);
    /* The old workers keep their own copy (fork); the master's can go. */
    brd_service_free(old);
    struct json_object *f = fields();
    brd_log_field_int(f, "generation", m->children.generation);
    brd_log_field_int(f, "workflows", (int64_t)ns->nworkflows);
    brd_log_event("reload", f);
}

/* After a reload: the old generation leaves once the new one is ready
 * (all of it, or some of it after SWITCH_WAIT_US), so the socket always
 * has workers accepting and no request fails. */
static void finish_reload(struct master *m, int64_t now)
{
    if (!brd_children_old_serving(&m->children))
        return;
    int ready = brd_children_ready(&m->children);
    if (ready >= m->cfg->workers || (ready > 0 && now - m->reload_us > SWITCH_WAIT_US))
        brd_children_retire_old(&m->children);
}

/* ---- drain ---------------------------------------------------------------------- */

static void start_drain(struct master *m, int sig)
{
    m->draining = true;
    m->drain_deadline_us = brd_now_us() + (int64_t)m->cfg->request_timeout_ms * 1000 + DRAIN_GRACE_US;
    struct json_object *f = fields();
    brd_log_field_str(f, "signal", brd_signals_name(sig));
    brd_log_field_int(f, "workers", brd_children_live(&m->children));
    brd_log_event("drain", f);
    /* New connections are refused from now on (a replacement server may
     * bind the path at once); the ones already queued are still answered
     * by the workers on their way out. */
    brd_listener_unlink(&m->listen);
    brd_children_drain(&m->children);
}

/* A stop signal: the first drains, a second one during the drain stops now. */
static void on_stop(struct master *m, int sig)
{
    if (!m->draining) {
        start_drain(m, sig);
    } else if (!m->forced) {
        m->forced = true;
        struct json_object *f = fields();
        brd_log_field_str(f, "signal", brd_signals_name(sig));
        brd_log_field_int(f, "workers", brd_children_live(&m->children));
        brd_log_event("stop_now", f);
        brd_children_kill_all(&m->children);
    }
}

/* A drain past its deadline: the stragglers are SIGKILLed. */
static void watch_drain(struct master *m, int64_t now)
{
    if (now < m->drain_deadline_us || m->forced)
        return;
    m->forced = true;
    struct json_object *f = fields();
    brd_log_field_int(f, "workers", brd_children_live(&m->children));
    brd_log_event("drain_timeout", f);
    brd_children_kill_all(&m->children);
}

/* ---- the loop ------------------------------------------------------------------------- */

static void supervise(struct master *m)
{
    int64_t now = brd_now_us();
    /* A request past --request-timeout: only its worker goes. */
    brd_children_kill_stuck(&m->children, now);
    if (m->draining) {
        watch_drain(m, now);
        return;
    }
    finish_reload(m, now);
    struct brd_children_spawn sp = {m->svc, m->listen.fd, close_in_child, m};
    brd_children_respawn(&m->children, now, &sp);
}

static void reopen_logs(struct master *m)
{
    struct brd_error err;
    if (brd_log_reopen(&err) != 0) {
        struct json_object *f = fields();
        brd_log_field_str(f, "reason", err.msg);
        brd_log_event("log_reopen_failed", f);
    }
    brd_children_reopen_logs(&m->children);
    brd_log_event("log_reopened", NULL);
}

static void on_signals(struct master *m)
{
    int sigs[64];
    int n;
    while ((n = brd_signals_read(sigs, (int)(sizeof sigs / sizeof *sigs))) > 0) {
        for (int i = 0; i < n; i++) {
            switch (brd_signals_action(sigs[i])) {
            case BRD_SIGNALS_STOP:
                on_stop(m, sigs[i]);
                break;
            case BRD_SIGNALS_RELOAD:
                if (!m->draining)
                    reload(m);
                break;
            case BRD_SIGNALS_REOPEN:
                reopen_logs(m);
                break;
            case BRD_SIGNALS_CHILD: /* reaping happens every turn of the loop */
            case BRD_SIGNALS_NONE:
                break;
            }
        }
    }
}

static void view_of(const struct master *m, struct brd_admin_view *v)
{
    *v = (struct brd_admin_view){m->sb, m->svc, m->cfg->dir, getpid(), m->started_us,
                                 m->children.generation, m->draining};
}

static int loop(struct master *m)
{
    supervise(m);
    while (m->draining ? brd_children_live(&m->children) > 0 : true) {
        struct pollfd p[2] = {{.fd = brd_signals_fd(), .events = POLLIN}};
        int np = 1;
        if (m->admin)
            brd_admin_pollfd(m->admin, &p[np++]);
        int rc = poll(p, (nfds_t)np, TICK_MS);
        if (rc < 0 && errno != EINTR) {
            struct json_object *f = fields();
            brd_log_field_str(f, "reason", strerror(errno));
            brd_log_event("poll_failed", f);
        }
        if (rc > 0 && (p[0].revents & POLLIN))
            on_signals(m);
        brd_children_reap(&m->children, m->draining);
        if (m->admin) {
            struct brd_admin_view v;
            view_of(m, &v);
            brd_admin_step(m->admin, rc > 0 ? p[1].revents : 0, &v);
        }
        supervise(m);
    }
    return m->forced ? BRD_CMD_EXIT_FAILED : BRD_CMD_EXIT_OK;
}

int brd_master_run(const struct brd_serve_config *cfg)
{
    static struct master m; /* large (a slot table); one per process */
    memset(&m, 0, sizeof m);
    m.cfg = cfg;
    m.started_us = brd_now_us();
    m.listen.fd = -1;
    struct brd_error err;
    brd_error_clear(&err);

    /* What can be refused without looking at the directory, first. */
    if (!cfg->listen && !brd_listener_is_listening(0)) {
        fprintf(stderr, "braid serve: no --listen given and fd 0 is not a listening socket\n"
                        "  (pass --listen unix:/path or HOST:PORT, or start under spawn-fcgi)\n");
        return BRD_CMD_EXIT_USAGE;
    }
    if (brd_log_open(cfg->log_file, &err) != 0) {
        fprintf(stderr, "braid serve: %s\n", err.msg);
        return BRD_CMD_EXIT_FAILED;
    }
    if (brd_cli_load_service("serve", cfg->dir, &m.svc) != 0)
        return BRD_CMD_EXIT_FAILED;
    int status = BRD_CMD_EXIT_FAILED;
    if (brd_scoreboard_new(&m.sb, &err) != 0)
        goto fail;
    brd_children_init(&m.children, m.sb, cfg);
    register_workflows(&m, m.svc);
    if (brd_listener_open(cfg->listen, cfg->socket_mode, &m.listen, &err) != 0) {
        status = err.code == BRD_E_USAGE ? BRD_CMD_EXIT_USAGE : BRD_CMD_EXIT_FAILED;
        goto fail;
    }
    if (cfg->admin && brd_admin_open(cfg->admin, &m.admin, &err) != 0) {
        status = err.code == BRD_E_USAGE ? BRD_CMD_EXIT_USAGE : BRD_CMD_EXIT_FAILED;
        goto fail;
    }
    /* Once, before any fork (DESIGN section 2); it installs libfcgi's own
     * signal handlers, which ours then replace. */
    if (FCGX_Init() != 0) {
        brd_error_set(&err, BRD_E_INTERNAL, "FCGX_Init failed");
        goto fail;
    }
    if (brd_signals_init(&err) != 0)
        goto fail;

    struct json_object *f = fields();
    brd_log_field_str(f, "version", BRD_VERSION);
    brd_log_field_str(f, "service", cfg->dir);
    brd_log_field_str(f, "listen", m.listen.display);
    brd_log_field_str(f, "admin", m.admin ? brd_admin_address(m.admin) : NULL);
    brd_log_field_int(f, "workers", cfg->workers);
    brd_log_field_int(f, "workflows", (int64_t)m.svc->nworkflows);
    brd_log_field_int(f, "max_requests", cfg->max_requests);
    brd_log_field_int(f, "request_timeout_ms", cfg->request_timeout_ms);
    brd_log_field_str(f, "base_path", cfg->base_path);
    if (f)
        brd_json_add(f, "debug", json_object_new_boolean(cfg->debug));
    brd_log_event("start", f);

    status = loop(&m);
    f = fields();
    brd_log_field_int(f, "exit_status", status);
    brd_log_event("stop", f);
    goto done;
fail:
    fprintf(stderr, "braid serve: %s\n", err.msg);
done:
    brd_admin_close(m.admin);
    brd_listener_close(&m.listen);
    brd_signals_close();
    brd_service_free(m.svc);
    brd_scoreboard_free(m.sb);
    brd_fnrunner_shutdown();
    return status;
}
