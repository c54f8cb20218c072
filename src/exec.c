/* exec.c — the workflow executor (see exec.h).
 *
 * A run walks the compiled plan event by event: when a node ends, each
 * successor whose in-edges are all decided either starts (some edge live)
 * or is skipped (all dead), which may decide further nodes.  API calls and
 * function calls in flight are waited on together in brd_http_wait (curl's
 * poll plus the sandboxes' descriptors), so parallel branches overlap.
 * SQL nodes over SQLite finish inside their start (local and fast).
 */
#include "exec.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "http_api.h"
#include "params.h"
#include "sql.h"
#include "base/clock.h"
#include "base/selfpid.h"

struct brd_engine {
    struct brd_http *http;
    struct brd_sql *sql;         /* the worker's data source connections */
};

enum state { ST_PENDING, ST_RUNNING, ST_SUCCEEDED, ST_FAILED, ST_SKIPPED, ST_CANCELLED };

static const char *const state_names[] = {"pending", "running", "succeeded",
                                          "failed", "skipped", "cancelled"};

struct nrun {
    enum state st;
    bool recovered;                /* failed, but on_error handed on a value */
    int chosen;                    /* switch: the node it chose */
    struct json_object *input;     /* the previous output (owned) */
    struct json_object *output;    /* what it hands on (owned) */
    struct json_object *sent;      /* trace: API request / function event (owned) */
    struct json_object *raw;       /* trace: an API's raw result before its filter (owned) */
    struct json_object *branch;    /* trace: how a switch chose (owned) */
    struct brd_http_call *http;
    struct brd_sql_call *sql;    /* a PostgreSQL / MySQL statement in flight */
    struct brd_fn_call *fn;
    int64_t rows, affected;        /* trace: a SQL node's row count and a write's
                                      affected rows (-1: none) */
    bool in_filter;                /* the function call is an API's filter */
    bool replayed;                 /* its transfer's outcome came from opts.replay */
    int64_t start_us, end_us, deadline_us;
    int attempts;
    struct brd_error err;
    char *print;                   /* captured print() output (owned) */
    char *traceback;               /* (owned) */
};

struct run {
    const struct brd_service *s;
    const struct brd_workflow *wf;
    struct brd_engine *e;
    struct nrun *n;
    const char *request_id;
    struct json_object *replay, *record;   /* opts' (borrowed) */
    bool tracing;                          /* opts->trace: what only the trace shows is built */
    int64_t t0, deadline;
    bool done, failed;
    struct brd_error err;
    struct json_object *result;
};

/* splitmix64's finaliser: a bijection of 64-bit words. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A request id: 128 bits from a per-process random key (drawn once, and
 * again in a forked child) and a counter — one getrandom per process
 * instead of one per request.  The first half is a bijection of the
 * counter, so ids never repeat within a process; across processes the
 * keys differ.  Ids only correlate logs and traces: unique, not secret. */
void brd_request_id_new(char buf[33])
{
    static uint64_t key[2], counter;
    static pid_t key_pid;
    if (key_pid != brd_self_pid()) {
        if (getrandom(key, sizeof key, GRND_NONBLOCK) != (ssize_t)sizeof key) {
            /* No entropy yet (early boot): time, pid and address are
             * unique enough for an id that only correlates logs. */
            key[0] = (uint64_t)brd_now_us() ^ ((uint64_t)brd_self_pid() << 40);
            key[1] = (uint64_t)(uintptr_t)buf ^ (uint64_t)clock();
        }
        key_pid = brd_self_pid();
        counter = 0;
    }
    counter++;
    uint64_t w[2] = {mix64(key[0] + counter * 0x9e3779b97f4a7c15ULL),
                     mix64(key[1] ^ mix64(counter))};
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 16; j++)
            buf[16 * i + j] = hex[(w[i] >> (60 - 4 * j)) & 0xf];
    buf[32] = '\0';
}

int brd_engine_new(struct brd_engine **out, struct brd_error *err)
{
    *out = NULL;
    struct brd_engine *e = calloc(1, sizeof *e);
    if (!e)
        return brd_error_nomem(err);
    if (brd_http_new(&e->http, err) != 0) {
        free(e);
        return -1;
    }
    if (brd_sql_new(&e->sql, err) != 0) {
        brd_http_free(e->http);
        free(e);
        return -1;
    }
    *out = e;
    return 0;
}

void brd_engine_free(struct brd_engine *e)
{
    if (!e)
        return;
    brd_http_free(e->http);
    brd_sql_free(e->sql);
    free(e);
}

/* ---- values between nodes ------------------------------------------------ */

static int lookup(void *ctx, const struct brd_ref *ref, struct json_object **output,
                  struct brd_error *err)
{
    struct run *r = ctx;
    if (ref->slot < 0 || (size_t)ref->slot >= r->wf->nnodes)
        return brd_error_set(err, BRD_E_INTERNAL, "reference %s was not resolved at load",
                             ref->text ? ref->text : ref->id);
    /* A node that was skipped (a branch not taken) has no output: null. */
    *output = r->n[ref->slot].output;
    return 0;
}

static bool ended_ok(const struct nrun *x)
{
    return x->st == ST_SUCCEEDED || (x->st == ST_FAILED && x->recovered);
}

static bool edge_live(const struct run *r, int from, int to)
{
    const struct nrun *x = &r->n[from];
    if (!ended_ok(x))
        return false;
    return r->wf->nodes[from].type != BRD_NODE_SWITCH || x->chosen == to;
}

static bool edge_decided(const struct run *r, int from)
{
    const struct nrun *x = &r->n[from];
    return ended_ok(x) || x->st == ST_SKIPPED;
}

/* SPEC section 5 "Previous output": one live predecessor hands on its
 * output as is; a join merges the objects of those that ran, first level,
 * in edges order, later wins. */
static int previous_output(struct run *r, int v, struct json_object **out)
{
    const struct brd_node *node = &r->wf->nodes[v];
    int live[1] = {-1};
    size_t nlive = 0;
    for (size_t k = 0; k < node->nin; k++)
        if (edge_live(r, node->in[k], v)) {
            if (nlive == 0)
                live[0] = node->in[k];
            nlive++;
        }
    *out = NULL;
    if (nlive == 1) {
        *out = brd_json_ref(r->n[live[0]].output);
        return 0;
    }
    struct json_object *merged = json_object_new_object();
    if (!merged)
        return brd_error_nomem(&r->err);
    for (size_t k = 0; k < node->nin; k++) {
        int u = node->in[k];
        struct json_object *o = r->n[u].output;
        if (!edge_live(r, u, v) || !json_object_is_type(o, json_type_object))
            continue;
        json_object_object_foreach(o, key, val) {
            if (brd_json_add(merged, key, brd_json_ref(val)) != 0) {
                json_object_put(merged);
                return brd_error_nomem(&r->err);
            }
        }
    }
    *out = merged;
    return 0;
}

/* ---- node life cycle ---------------------------------------------------- */

static void start_node(struct run *r, int v);
static void node_failed(struct run *r, int v, const struct brd_error *err);
static void sql_done(struct run *r, int v, struct brd_sql_call *c);

static void fail_run(struct run *r, int v, const struct brd_error *err)
{
    if (r->failed)
        return;
    r->failed = true;
    r->err = *err;
    if (v >= 0)
        snprintf(r->err.node, sizeof r->err.node, "%s", r->wf->nodes[v].id);
}

/* Looks at every successor of v that is still pending. */
static void propagate(struct run *r, int v)
{
    const struct brd_node *node = &r->wf->nodes[v];
    for (size_t k = 0; k < node->nout && !r->failed && !r->done; k++) {
        int w = node->out[k];
        if (r->n[w].st != ST_PENDING)
            continue;
        const struct brd_node *succ = &r->wf->nodes[w];
        bool all_decided = true, any_live = false;
        for (size_t q = 0; q < succ->nin; q++) {
            all_decided &= edge_decided(r, succ->in[q]);
            any_live |= edge_live(r, succ->in[q], w);
        }
        if (!all_decided)
            continue;
        if (any_live) {
            start_node(r, w);
        } else {
            r->n[w].st = ST_SKIPPED;
            propagate(r, w);
        }
    }
}

/* v produced raw: apply its output mapping, hand on, go on. */
static void node_succeeded(struct run *r, int v, struct json_object *raw)
{
    struct nrun *x = &r->n[v];
    const struct brd_node *node = &r->wf->nodes[v];
    struct brd_error err;
    brd_error_clear(&err);
    if (node->output) {
        struct json_object *mapped = NULL;
        int rc = brd_template_eval(node->output, raw, lookup, r, &mapped, &err);
        if (x->raw != raw)
            json_object_put(raw);
        if (rc != 0) {
            brd_error_prefix(&err, "output");
            node_failed(r, v, &err);
            return;
        }
        raw = mapped;
    }
    x->output = raw;
    x->st = ST_SUCCEEDED;
    x->end_us = brd_now_us();
    propagate(r, v);
}

static void node_failed(struct run *r, int v, const struct brd_error *err)
{
    struct nrun *x = &r->n[v];
    const struct brd_node *node = &r->wf->nodes[v];
    x->err = *err;
    snprintf(x->err.node, sizeof x->err.node, "%s", node->id);
    x->st = ST_FAILED;
    x->end_us = brd_now_us();
    if (!node->on_error) {
        fail_run(r, v, err);
        return;
    }
    struct brd_error e2;
    brd_error_clear(&e2);
    if (brd_template_eval(node->on_error, x->input, lookup, r, &x->output, &e2) != 0) {
        brd_error_prefix(&e2, "on_error.output");
        fail_run(r, v, &e2);
        return;
    }
    x->recovered = true;
    propagate(r, v);
}

static void run_switch(struct run *r, int v)
{
    struct nrun *x = &r->n[v];
    const struct brd_node *node = &r->wf->nodes[v];
    struct json_object *evaluated = r->tracing ? json_object_new_array() : NULL;
    x->branch = r->tracing ? json_object_new_object() : NULL;
    int chosen = -1;
    for (size_t b = 0; b < node->nbranches && chosen < 0; b++) {
        const struct brd_branch *br = &node->branches[b];
        struct json_object *value = NULL;
        struct brd_error err;
        brd_error_clear(&err);
        if (br->when && brd_expr_eval(br->when, x->input, lookup, r, &value, &err) != 0) {
            char where[64];
            snprintf(where, sizeof where, "branches[%zu].when \"%.20s%s\"", b, br->text,
                     strlen(br->text) > 20 ? "..." : "");
            brd_error_prefix(&err, "%s", where);
            json_object_put(evaluated);
            node_failed(r, v, &err);
            return;
        }
        bool taken = !br->when || brd_json_truthy(value);
        if (evaluated) {
            struct json_object *ev = json_object_new_object();
            if (ev) {
                brd_json_add(ev, "when", json_object_new_string(br->text));
                brd_json_add(ev, "value", br->when ? value : json_object_new_boolean(1));
                value = NULL;
                brd_json_append(evaluated, ev);
            }
        }
        json_object_put(value);
        if (taken)
            chosen = (int)b;
    }
    if (x->branch) {
        brd_json_add(x->branch, "evaluated", evaluated);
        evaluated = NULL;
    }
    json_object_put(evaluated);
    if (chosen < 0) {
        struct brd_error err;
        brd_error_set(&err, BRD_E_NO_BRANCH_MATCHED,
                      "no branch of switch %s matched and it has no default", node->id);
        node_failed(r, v, &err);
        return;
    }
    x->chosen = node->branches[chosen].next;
    if (x->branch) {
        brd_json_add(x->branch, "taken",
                               json_object_new_string(r->wf->nodes[x->chosen].id));
        brd_json_add(x->branch, "default",
                               json_object_new_boolean(node->has_default &&
                                                       (size_t)chosen == node->nbranches - 1));
    }
    node_succeeded(r, v, brd_json_ref(x->input));
}

static void start_function(struct run *r, int v, int function, struct json_object *event)
{
    struct nrun *x = &r->n[v];
    const struct brd_fn_runner *fr = &r->s->runner;
    struct brd_error err;
    brd_error_clear(&err);
    size_t len;
    const char *text = brd_json_compact(event, &len);
    struct brd_fn_ctx ctx = {r->request_id, r->wf->name, r->wf->nodes[v].id, x->deadline_us};
    if (!fr->ops) {
        brd_error_set(&err, BRD_E_INTERNAL, "no function runner");
        node_failed(r, v, &err);
        return;
    }
    if (fr->ops->start(fr->self, r->s->functions[function], text, len, &ctx, &x->fn, &err) != 0)
        node_failed(r, v, &err);
}

static void api_raw(struct run *r, int v, struct json_object *raw);

/* A recorded test: the API or SQL node's transfer answers from the case's
 * recording.  Its parameters resolve as live (a missing required one is
 * the same PARAM_MISSING); params is consumed. */
static void replay_transfer(struct run *r, int v, const struct brd_api *api, struct json_object *params)
{
    struct nrun *x = &r->n[v];
    const char *id = r->wf->nodes[v].id;
    struct brd_error err;
    brd_error_clear(&err);
    struct json_object *values = NULL, *rec = NULL, *raw = NULL, *e = NULL;
    int rc = brd_params_resolve(&api->params, api->name, params, x->input, &values, &err);
    json_object_put(params);
    if (rc != 0) {
        node_failed(r, v, &err);
        return;
    }
    x->sent = values;
    x->replayed = true;
    x->attempts = 1;
    if (!json_object_object_get_ex(r->replay, id, &rec)) {
        brd_error_set(&err, BRD_E_INTERNAL, "node %s ran, but the case has no recording for it "
                      "(record one: braid test DIR WORKFLOW --record)", id);
        fail_run(r, v, &err);
        return;
    }
    if (json_object_object_get_ex(rec, "result", &raw)) {
        api_raw(r, v, brd_json_ref(raw));
        return;
    }
    struct json_object *code = NULL, *msg = NULL;
    json_object_object_get_ex(rec, "error", &e);
    json_object_object_get_ex(e, "code", &code);
    json_object_object_get_ex(e, "message", &msg);
    enum brd_code c = brd_code_from_name(json_object_get_string(code));
    brd_error_set(&err, c ? c : BRD_E_INTERNAL, "%s",
                  msg ? json_object_get_string(msg) : "(a recorded error without a message)");
    node_failed(r, v, &err);
}

/* --record: what a transfer gave, as a case's "recorded" keeps it. */
static void record_transfer(struct run *r, int v, struct json_object *raw, const struct brd_error *err)
{
    if (!r->record)
        return;
    struct json_object *rec = json_object_new_object(), *e = NULL;
    int rc = !rec;
    if (!err) {
        rc |= brd_json_add(rec, "result", brd_json_ref(raw));
    } else {
        rc |= !(e = json_object_new_object());
        rc |= brd_json_add(e, "code", json_object_new_string(brd_code_name(err->code)));
        rc |= brd_json_add(e, "message", json_object_new_string(err->msg));
        rc |= brd_json_add(rec, "error", e);
    }
    if (rc || brd_json_add(r->record, r->wf->nodes[v].id, rec) != 0) {
        struct brd_error nomem;
        brd_error_nomem(&nomem);
        fail_run(r, v, &nomem);
    }
}

static void start_node(struct run *r, int v)
{
    struct nrun *x = &r->n[v];
    const struct brd_node *node = &r->wf->nodes[v];
    x->st = ST_RUNNING;
    x->start_us = brd_now_us();
    x->deadline_us = r->deadline;
    if (node->timeout_ms > 0 && x->start_us + (int64_t)node->timeout_ms * 1000 < r->deadline)
        x->deadline_us = x->start_us + (int64_t)node->timeout_ms * 1000;
    if (previous_output(r, v, &x->input) != 0) {
        fail_run(r, v, &r->err);
        return;
    }
    struct brd_error err;
    brd_error_clear(&err);
    struct json_object *params = NULL;
    if (node->params && brd_template_eval(node->params, x->input, lookup, r, &params, &err) != 0) {
        brd_error_prefix(&err, "params");
        node_failed(r, v, &err);
        return;
    }
    switch (node->type) {
    case BRD_NODE_END:
        if (r->wf->result &&
            brd_template_eval(r->wf->result, x->input, lookup, r, &r->result, &err) != 0) {
            brd_error_prefix(&err, "result");
            fail_run(r, -1, &err);
            return;
        }
        if (!r->wf->result)
            r->result = brd_json_ref(x->input);
        x->st = ST_SUCCEEDED;
        x->output = brd_json_ref(r->result);
        x->end_us = brd_now_us();
        r->done = true;
        return;
    case BRD_NODE_SWITCH:
        run_switch(r, v);
        return;
    case BRD_NODE_FUNCTION: {
        /* The event is the evaluated params, or the previous output. */
        struct json_object *event = params ? params : brd_json_ref(x->input);
        x->sent = event;
        start_function(r, v, node->function, event);
        return;
    }
    case BRD_NODE_API: {
        if (params && !json_object_is_type(params, json_type_object)) {
            brd_error_set(&err, BRD_E_BAD_REQUEST, "params must give an object, not %s",
                          brd_json_type_name(params));
            json_object_put(params);
            node_failed(r, v, &err);
            return;
        }
        const struct brd_api *api = r->s->apis[node->api];
        if (r->replay) {
            replay_transfer(r, v, api, params);
            return;
        }
        if (api->type == BRD_API_SQL) {
            struct brd_sql_args args = {api, params, x->input, x->deadline_us, r->deadline};
            struct brd_sql_call *c = NULL;
            int rc = brd_sql_start(r->e->sql, &args, &c, &err);
            json_object_put(params);
            if (rc != 0)
                node_failed(r, v, &err);
            else if (brd_sql_done(c))
                sql_done(r, v, c);   /* SQLite finishes inline */
            else
                x->sql = c;          /* the wait loop steps it */
            return;
        }
        struct brd_http_args args = {api, params, x->input, r->request_id,
                                     x->deadline_us, r->deadline, (void *)(intptr_t)v};
        int rc = brd_http_start(r->e->http, &args, &x->http, &err);
        json_object_put(params);
        if (rc != 0)
            node_failed(r, v, &err);
        return;
    }
    case BRD_NODE_START:
        break;
    }
    json_object_put(params);
}

/* ---- completions -------------------------------------------------------- */

/* An API node's transfer gave raw: its filter (if any) runs next. */
static void api_raw(struct run *r, int v, struct json_object *raw)
{
    struct nrun *x = &r->n[v];
    const struct brd_node *node = &r->wf->nodes[v];
    int filter = r->s->api_filter[node->api];
    if (filter < 0) {
        node_succeeded(r, v, raw);
        return;
    }
    /* The filter function receives the raw result and replaces it. */
    x->raw = raw;
    x->in_filter = true;
    start_function(r, v, filter, raw);
}

static void http_done(struct run *r, struct brd_http_call *c)
{
    int v = (int)(intptr_t)brd_http_user(c);
    struct nrun *x = &r->n[v];
    struct json_object *raw = NULL;
    struct brd_error err;
    brd_error_clear(&err);
    int rc = brd_http_result(c, &raw, &err);
    x->attempts = brd_http_attempts(c);
    x->sent = r->tracing ? brd_http_request_json(c) : NULL;
    brd_http_call_free(c);
    x->http = NULL;
    record_transfer(r, v, raw, rc != 0 ? &err : NULL);
    if (rc != 0) {
        node_failed(r, v, &err);
        return;
    }
    api_raw(r, v, raw);
}

static void sql_done(struct run *r, int v, struct brd_sql_call *c)
{
    struct nrun *x = &r->n[v];
    struct json_object *raw = NULL;
    struct brd_error err;
    brd_error_clear(&err);
    int rc = brd_sql_result(c, &raw, &err);
    x->attempts = 1;
    x->sent = r->tracing ? brd_sql_request_json(c) : NULL;
    x->rows = rc == 0 ? brd_sql_rows(c) : -1;
    x->affected = brd_sql_affected(c);
    brd_sql_call_free(c);
    record_transfer(r, v, raw, rc != 0 ? &err : NULL);
    if (rc != 0) {
        node_failed(r, v, &err);
        return;
    }
    api_raw(r, v, raw);
}

static void fn_done(struct run *r, int v)
{
    struct nrun *x = &r->n[v];
    const struct brd_fn_runner *fr = &r->s->runner;
    struct brd_fn_result res;
    memset(&res, 0, sizeof res);
    fr->ops->finish(x->fn, &res);
    x->fn = NULL;
    x->print = res.output;
    x->traceback = res.traceback;
    res.output = res.traceback = NULL;
    if (!x->attempts)
        x->attempts = 1;
    if (res.status != 0) {
        /* The run's own deadline cut the call short: that is the
         * workflow's TIMEOUT, not the function's. */
        if (res.err.code == BRD_E_FUNCTION_TIMEOUT && x->deadline_us == r->deadline &&
            brd_now_us() >= r->deadline)
            brd_error_set(&res.err, BRD_E_TIMEOUT, "workflow %s: its deadline of %d ms passed",
                          r->wf->name, r->wf->timeout_ms);
        if (x->in_filter)
            brd_error_prefix(&res.err, "filter %s",
                             r->s->function_names[r->s->api_filter[r->wf->nodes[v].api]]);
        node_failed(r, v, &res.err);
        return;
    }
    struct json_object *value = res.value;
    res.value = NULL;
    node_succeeded(r, v, value);
}

/* ---- the wait loop -------------------------------------------------------- */

static void wait_once(struct run *r)
{
    size_t nn = r->wf->nnodes, nfds = 0;
    const struct brd_fn_runner *fr = &r->s->runner;
    /* Function calls in flight: on the stack for the usual few, so the
     * wait loop allocates nothing per turn. */
    struct pollfd fds_local[16];
    int owner_local[16];
    struct pollfd *fds = fds_local;
    int *owner = owner_local;
    int64_t now = brd_now_us(), wake = r->deadline;
    for (size_t i = 0; i < nn; i++)
        if (r->n[i].fn || r->n[i].sql)
            nfds++;
    if (nfds > 16) {
        fds = calloc(nfds, sizeof *fds);
        owner = calloc(nfds, sizeof *owner);
        if (!fds || !owner) {
            free(fds);
            free(owner);
            brd_error_nomem(&r->err);
            fail_run(r, -1, &r->err);
            return;
        }
    }
    if (nfds) {
        nfds = 0;
        for (size_t i = 0; i < nn; i++) {
            struct nrun *x = &r->n[i];
            if (x->fn) {
                fds[nfds].fd = fr->ops->fd(x->fn);
                fds[nfds].events = POLLIN;
                owner[nfds++] = (int)i;
                int64_t d = fr->ops->deadline(x->fn);
                if (d < wake)
                    wake = d;
            } else if (x->sql) {
                short events = 0;
                int fd = brd_sql_poll_fd(x->sql, &events);
                if (fd < 0) {
                    wake = now;   /* to be stepped at once */
                } else {
                    fds[nfds].fd = fd;
                    fds[nfds].events = events;
                    owner[nfds++] = (int)i;
                }
                int64_t d = brd_sql_deadline(x->sql);
                if (d < wake)
                    wake = d;
            }
        }
    }
    int timeout_ms = wake <= now ? 0 : (int)((wake - now + 999) / 1000);
    struct brd_error err;
    brd_error_clear(&err);
    if (brd_http_wait(r->e->http, fds, (unsigned)nfds, timeout_ms, &err) != 0) {
        fail_run(r, -1, &err);
    } else {
        struct brd_http_call *c;
        while (!r->failed && (c = brd_http_next_done(r->e->http)))
            http_done(r, c);
        now = brd_now_us();
        for (size_t k = 0; k < nfds && !r->failed; k++) {
            struct nrun *x = &r->n[owner[k]];
            if (x->sql && fds[k].revents)
                brd_sql_step(x->sql, fds[k].revents);
            if (!x->fn)
                continue;
            bool timed_out = now >= fr->ops->deadline(x->fn);
            if (!(fds[k].revents & (POLLIN | POLLHUP | POLLERR)) && !timed_out)
                continue;
            bool done = false;
            fr->ops->step(x->fn, timed_out, &done);
            if (done)
                fn_done(r, owner[k]);
        }
    }
    /* Statements past their deadline, or with nothing to wait on, are
     * stepped now; then every finished one completes its node (finishing
     * one may have started another that waited for its connection). */
    now = brd_now_us();
    for (size_t i = 0; i < nn && !r->failed; i++) {
        struct nrun *x = &r->n[i];
        if (!x->sql || brd_sql_done(x->sql))
            continue;
        short events;
        if (now >= brd_sql_deadline(x->sql) || brd_sql_poll_fd(x->sql, &events) < 0)
            brd_sql_step(x->sql, 0);
    }
    for (size_t i = 0; i < nn && !r->failed; i++) {
        struct nrun *x = &r->n[i];
        if (x->sql && brd_sql_done(x->sql)) {
            struct brd_sql_call *c = x->sql;
            x->sql = NULL;
            sql_done(r, (int)i, c);
        }
    }
    if (fds != fds_local) {
        free(fds);
        free(owner);
    }
}

static void cancel_all(struct run *r)
{
    const struct brd_fn_runner *fr = &r->s->runner;
    for (size_t i = 0; i < r->wf->nnodes; i++) {
        struct nrun *x = &r->n[i];
        if (x->http) {
            brd_http_cancel(x->http);
            x->http = NULL;
        }
        if (x->sql) {
            brd_sql_cancel(x->sql);
            x->sql = NULL;
        }
        if (x->fn) {
            fr->ops->cancel(x->fn);
            x->fn = NULL;
        }
        if (x->st == ST_RUNNING) {
            x->st = ST_CANCELLED;
            x->end_us = brd_now_us();
        }
    }
}

/* ---- the trace ------------------------------------------------------------- */

static void add(struct json_object *o, const char *key, struct json_object *v)
{
    (void)brd_json_add(o, key, v); /* a trace entry short of memory loses a field */
}

static struct json_object *trace_of(const struct run *r)
{
    struct json_object *arr = json_object_new_array();
    if (!arr)
        return NULL;
    for (size_t k = 0; k < r->wf->nnodes; k++) {
        int i = r->wf->order[k];
        const struct nrun *x = &r->n[i];
        const struct brd_node *node = &r->wf->nodes[i];
        struct json_object *t = json_object_new_object();
        if (!t)
            break;
        add(t, "id", json_object_new_string(node->id));
        add(t, "type", json_object_new_string(brd_node_type_name(node->type)));
        add(t, "state", json_object_new_string(state_names[x->st]));
        if (x->start_us) {
            add(t, "start_us", json_object_new_int64(x->start_us - r->t0));
            int64_t end = x->end_us ? x->end_us : brd_now_us();
            add(t, "duration_us", json_object_new_int64(end - x->start_us));
        }
        if ((node->type == BRD_NODE_API || node->type == BRD_NODE_FUNCTION) && x->start_us)
            add(t, "attempts", json_object_new_int(x->attempts));
        if (x->replayed)
            add(t, "replayed", json_object_new_boolean(1));
        if (x->st != ST_PENDING && x->st != ST_SKIPPED && node->type != BRD_NODE_START)
            add(t, "input", brd_json_ref(node->type == BRD_NODE_API || node->type == BRD_NODE_FUNCTION
                                             ? (x->sent ? x->sent : x->input)
                                             : x->input));
        if (x->rows >= 0)
            add(t, "rows", json_object_new_int64(x->rows));
        if (x->affected >= 0)
            add(t, "affected_rows", json_object_new_int64(x->affected));
        if (x->raw)
            add(t, "raw", brd_json_ref(x->raw));
        if (x->branch)
            add(t, "branch", brd_json_ref(x->branch));
        if (ended_ok(x) || (node->type == BRD_NODE_START && x->st == ST_SUCCEEDED))
            add(t, "output", brd_json_ref(x->output));
        if (x->st == ST_FAILED) {
            struct json_object *e = json_object_new_object();
            if (e) {
                add(e, "code", json_object_new_string(brd_code_name(x->err.code)));
                add(e, "message", json_object_new_string(x->err.msg));
                if (x->recovered)
                    add(e, "recovered", json_object_new_boolean(1));
            }
            add(t, "error", e);
        }
        if (x->print)
            add(t, "print", json_object_new_string(x->print));
        if (x->traceback)
            add(t, "traceback", json_object_new_string(x->traceback));
        brd_json_append(arr, t);
    }
    return arr;
}

/* ---- a run ---------------------------------------------------------------- */

int brd_engine_run(struct brd_engine *e, const struct brd_service *s,
                   const struct brd_workflow *wf, struct json_object *input,
                   const struct brd_run_opts *opts, struct brd_run_result *res)
{
    memset(res, 0, sizeof *res);
    brd_error_clear(&res->err);
    if (opts && opts->request_id)
        snprintf(res->request_id, sizeof res->request_id, "%s", opts->request_id);
    else
        brd_request_id_new(res->request_id);

    struct run r = {.s = s, .wf = wf, .e = e, .request_id = res->request_id,
                    .replay = opts ? opts->replay : NULL, .record = opts ? opts->record : NULL,
                    .tracing = opts && opts->trace};
    brd_error_clear(&r.err);
    r.t0 = brd_now_us();
    r.deadline = r.t0 + (int64_t)wf->timeout_ms * 1000;
    r.n = calloc(wf->nnodes, sizeof *r.n);
    if (!r.n) {
        brd_error_nomem(&res->err);
        return res->status = -1;
    }
    for (size_t i = 0; i < wf->nnodes; i++) {
        r.n[i].chosen = -1;
        r.n[i].rows = r.n[i].affected = -1;
    }

    /* START hands on the request parameters, declared ones checked. */
    struct nrun *start = &r.n[0];
    start->start_us = r.t0;
    if (!json_object_is_type(input, json_type_object)) {
        brd_error_set(&r.err, BRD_E_BAD_REQUEST, "the request parameters must be a JSON object");
        r.failed = true;
    } else if (brd_params_apply(&wf->params, input, &start->output, &r.err) != 0) {
        r.failed = true;
    } else {
        start->st = ST_SUCCEEDED;
        start->end_us = brd_now_us();
        propagate(&r, 0);
    }
    while (!r.done && !r.failed) {
        if (brd_now_us() >= r.deadline) {
            struct brd_error err;
            brd_error_set(&err, BRD_E_TIMEOUT, "workflow %s: its deadline of %d ms passed",
                          wf->name, wf->timeout_ms);
            int running = -1;
            for (size_t i = 0; i < wf->nnodes && running < 0; i++)
                if (r.n[i].st == ST_RUNNING)
                    running = (int)i;
            fail_run(&r, running, &err);
            break;
        }
        bool busy = brd_http_in_flight(e->http) > 0;
        for (size_t i = 0; i < wf->nnodes && !busy; i++)
            busy = r.n[i].fn != NULL || r.n[i].sql != NULL;
        if (!busy) {
            struct brd_error err;
            brd_error_set(&err, BRD_E_INTERNAL, "workflow %s stalled: nothing is running "
                                               "and END was not reached", wf->name);
            fail_run(&r, -1, &err);
            break;
        }
        wait_once(&r);
    }
    cancel_all(&r);

    if (opts && opts->trace)
        res->trace = trace_of(&r);
    if (r.failed) {
        res->status = -1;
        res->err = r.err;
        json_object_put(r.result);
    } else {
        res->status = 0;
        res->result = r.result;
    }
    for (size_t i = 0; i < wf->nnodes; i++) {
        struct nrun *x = &r.n[i];
        json_object_put(x->input);
        json_object_put(x->output);
        json_object_put(x->sent);
        json_object_put(x->raw);
        json_object_put(x->branch);
        free(x->print);
        free(x->traceback);
    }
    free(r.n);
    return res->status;
}

void brd_run_result_clear(struct brd_run_result *res)
{
    json_object_put(res->result);
    json_object_put(res->trace);
    res->result = res->trace = NULL;
}

struct json_object *brd_run_error_json(const struct brd_run_result *res)
{
    struct json_object *body = json_object_new_object(), *e = json_object_new_object();
    if (!body || !e) {
        json_object_put(body);
        json_object_put(e);
        return NULL;
    }
    add(e, "code", json_object_new_string(brd_code_name(res->err.code)));
    add(e, "message", json_object_new_string(res->err.msg));
    add(e, "node", res->err.node[0] ? json_object_new_string(res->err.node) : NULL);
    add(e, "request_id", json_object_new_string(res->request_id));
    add(body, "error", e);
    return body;
}
