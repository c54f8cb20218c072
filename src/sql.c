/* sql.c — SQL API calls in a worker (see sql.h and docs/datasources.md):
 * a cache of open connections keyed by data source identity, deadlines,
 * the driver's run, errors worded for the API. */
#include "sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "params.h"
#include "sql_api.h"
#include "sql_driver.h"

static const char REDACTED[] = "<redacted>";

struct conn {
    struct conn *next;
    char *key;                       /* the data source's key */
    const struct brd_sql_driver *driver;
    struct brd_sql_conn *c;
    bool busy;                       /* a statement is running on it */
    bool used;                       /* it has finished a statement before */
};

struct brd_sql {
    struct conn *conns;
    struct brd_sql_call *queue;      /* calls waiting for a free connection, oldest first */
};

/* Which limit a call's deadline is. */
enum limit { LIM_API, LIM_NODE, LIM_WORKFLOW };

enum call_state { CALL_QUEUED, CALL_RUNNING, CALL_DONE };

struct brd_sql_call {
    struct brd_sql *q;
    const struct brd_api *api;
    struct json_object *values;      /* resolved parameters, name → converted value */
    struct brd_sql_exec ex;          /* what the driver runs (points at values) */
    enum limit lim;
    enum call_state st;
    struct conn *k;                  /* while running */
    bool retried;                    /* the one reconnect was spent */
    struct brd_sql_call *next;       /* in q->queue */
    int rc;
    struct json_object *raw;
    struct brd_error err;
    int64_t rows, affected;
};

int brd_sql_new(struct brd_sql **out, struct brd_error *err)
{
    *out = calloc(1, sizeof **out);
    return *out ? 0 : brd_error_nomem(err);
}

static void conn_drop(struct brd_sql *q, struct conn *k)
{
    for (struct conn **pp = &q->conns; *pp; pp = &(*pp)->next)
        if (*pp == k) {
            *pp = k->next;
            break;
        }
    k->driver->disconnect(k->c);
    free(k->key);
    free(k);
}

void brd_sql_free(struct brd_sql *q)
{
    if (!q)
        return;
    while (q->conns)
        conn_drop(q, q->conns);
    free(q);
}

/* An idle connection of the worker's to ds, a new one when fewer than its
 * pool are open, or NULL with err cleared when all of them are busy (the
 * call waits) — or NULL with err set when connecting failed. */
static struct conn *conn_take(struct brd_sql *q, const struct brd_ds *ds, struct brd_error *err)
{
    brd_error_clear(err);
    int open = 0;
    for (struct conn *k = q->conns; k; k = k->next)
        if (k->driver == ds->driver && !strcmp(k->key, ds->key)) {
            if (!k->busy) {
                k->busy = true;
                return k;
            }
            open++;
        }
    if (open >= (ds->pool > 0 ? ds->pool : 1))
        return NULL;
    struct conn *k = calloc(1, sizeof *k);
    if (!k || !(k->key = strdup(ds->key))) {
        free(k);
        brd_error_nomem(err);
        return NULL;
    }
    k->driver = ds->driver;
    if (ds->driver->connect(ds, &k->c, err) != 0) {
        if (!err->code)
            brd_error_set(err, BRD_E_DATASOURCE_ERROR, "cannot connect");
        free(k->key);
        free(k);
        return NULL;
    }
    k->busy = true;
    k->next = q->conns;
    q->conns = k;
    return k;
}

/* Rewords a driver's error for the API that ran into it. */
static void word_error(struct brd_sql_call *c, enum limit lim)
{
    const struct brd_api *api = c->api;
    const struct brd_sql_api *s = api->sql;
    const char *undone = s->writes ? "; nothing was changed" : "";
    if (c->err.code == BRD_E_DATASOURCE_TIMEOUT) {
        char why[128];
        snprintf(why, sizeof why, "%s", c->err.msg);
        if (lim == LIM_WORKFLOW)
            brd_error_set(&c->err, BRD_E_TIMEOUT, "api %s: the workflow's deadline passed during the statement "
                          "on data source %s (%s%s)", api->name, s->ds->name, why, undone);
        else if (lim == LIM_NODE)
            brd_error_set(&c->err, BRD_E_DATASOURCE_TIMEOUT, "api %s: the node's time budget ran out during "
                          "the statement on data source %s (%s%s)", api->name, s->ds->name, why, undone);
        else
            brd_error_set(&c->err, BRD_E_DATASOURCE_TIMEOUT, "api %s: the statement on data source %s did not "
                          "finish within timeout_ms=%d (%s%s)", api->name, s->ds->name, api->timeout_ms, why,
                          undone);
        return;
    }
    if (c->err.code != BRD_E_NOMEM && c->err.code != BRD_E_BAD_REQUEST)
        c->err.code = BRD_E_DATASOURCE_ERROR;
    brd_error_prefix(&c->err, "api %s: data source %s", api->name, s->ds->name);
}

static void begin(struct brd_sql_call *c);

/* The first waiting call for the data source of key, taken off the queue. */
static struct brd_sql_call *unqueue_for(struct brd_sql *q, const char *key)
{
    for (struct brd_sql_call **pp = &q->queue; *pp; pp = &(*pp)->next)
        if (!strcmp((*pp)->api->sql->ds->key, key)) {
            struct brd_sql_call *c = *pp;
            *pp = c->next;
            c->next = NULL;
            return c;
        }
    return NULL;
}

static void unqueue(struct brd_sql *q, struct brd_sql_call *c)
{
    for (struct brd_sql_call **pp = &q->queue; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            c->next = NULL;
            return;
        }
}

/* The call is over: its connection goes back (or away) and the next
 * call waiting for one starts on it. */
static void finish(struct brd_sql_call *c, bool drop)
{
    struct brd_sql *q = c->q;
    struct conn *k = c->k;
    c->k = NULL;
    c->st = CALL_DONE;
    if (c->rc != 0)
        word_error(c, c->lim);
    if (!k)
        return;
    const char *key = c->api->sql->ds->key;
    if (drop) {
        conn_drop(q, k);
    } else {
        k->busy = false;
        k->used = true;
    }
    struct brd_sql_call *next = unqueue_for(q, key);
    if (next)
        begin(next);
}

/* A driver's outcome: success, a retry on a new connection, or an error. */
static void outcome(struct brd_sql_call *c, int rc, struct brd_sql_outcome *o)
{
    if (rc == 0) {
        c->rc = 0;
        c->raw = o->raw;
        c->rows = o->rows;
        c->affected = o->affected;
        /* A driver may finish a statement and still give up its connection
         * (a read-only session a statement turned read-write). */
        finish(c, o->broken);
        return;
    }
    c->rc = -1;
    if (o->broken && o->retry_safe && !c->retried && c->k && c->k->used) {
        /* A kept connection the server closed meanwhile (a restart): one
         * new connection, the statement once more. */
        c->retried = true;
        conn_drop(c->q, c->k);
        c->k = NULL;
        brd_error_clear(&c->err);
        c->st = CALL_QUEUED;
        begin(c);
        return;
    }
    finish(c, o->broken);
}

/* Starts c on a connection, or queues it when its source's pool is busy. */
static void begin(struct brd_sql_call *c)
{
    struct brd_sql *q = c->q;
    const struct brd_ds *ds = c->api->sql->ds;
    c->rc = -1;
    if (brd_now_us() >= c->ex.deadline_us) {
        brd_error_set(&c->err, BRD_E_DATASOURCE_TIMEOUT, "no connection of the worker's pool of %d came free "
                      "in time", ds->pool);
        finish(c, false);
        return;
    }
    struct conn *k = conn_take(q, ds, &c->err);
    if (!k) {
        if (c->err.code) {
            finish(c, false);
            return;
        }
        c->st = CALL_QUEUED;
        struct brd_sql_call **pp = &q->queue;
        while (*pp)
            pp = &(*pp)->next;
        *pp = c;
        return;
    }
    c->k = k;
    c->st = CALL_RUNNING;
    struct brd_sql_outcome o;
    memset(&o, 0, sizeof o);
    int rc;
    if (k->driver->run) {
        rc = k->driver->run(k->c, &c->ex, &o, &c->err);
    } else {
        rc = k->driver->start(k->c, &c->ex, &o, &c->err);
        if (rc == 0)
            return;   /* running: brd_sql_step takes it on */
    }
    outcome(c, rc, &o);
}

int brd_sql_start(struct brd_sql *q, const struct brd_sql_args *a, struct brd_sql_call **out,
                  struct brd_error *err)
{
    *out = NULL;
    const struct brd_api *api = a->api;
    if (api->type != BRD_API_SQL || !api->sql)
        return brd_error_set(err, BRD_E_INTERNAL, "api %s is not a SQL API", api->name);
    struct brd_sql_call *c = calloc(1, sizeof *c);
    if (!c)
        return brd_error_nomem(err);
    c->q = q;
    c->api = api;
    c->rows = 0;
    c->affected = -1;
    brd_error_clear(&c->err);
    if (brd_params_resolve(&api->params, api->name, a->explicit_params, a->prev, &c->values, err) != 0) {
        free(c);
        return -1;
    }

    int64_t now = brd_now_us(), deadline = now + (int64_t)api->timeout_ms * 1000;
    c->lim = LIM_API;
    if (a->deadline_us > 0 && a->deadline_us < deadline) {
        deadline = a->deadline_us;
        c->lim = LIM_NODE;
    }
    if (a->workflow_deadline_us > 0 && a->workflow_deadline_us <= deadline) {
        deadline = a->workflow_deadline_us;
        c->lim = LIM_WORKFLOW;
    }
    c->ex = (struct brd_sql_exec){api, c->values, deadline};
    begin(c);
    *out = c;
    return 0;
}

int brd_sql_poll_fd(const struct brd_sql_call *c, short *events)
{
    *events = 0;
    if (c->st != CALL_RUNNING || !c->k)
        return -1;
    return c->k->driver->poll_fd(c->k->c, events);
}

int64_t brd_sql_deadline(const struct brd_sql_call *c)
{
    return c->ex.deadline_us;
}

void brd_sql_step(struct brd_sql_call *c, short revents)
{
    if (c->st == CALL_QUEUED) {
        if (brd_now_us() >= c->ex.deadline_us) {
            unqueue(c->q, c);
            begin(c);   /* past its deadline: fails at once */
        }
        return;
    }
    if (c->st != CALL_RUNNING)
        return;
    struct brd_sql_outcome o;
    memset(&o, 0, sizeof o);
    int rc = c->k->driver->step(c->k->c, revents, &o, &c->err);
    if (rc > 0)
        return;
    outcome(c, rc, &o);
}

void brd_sql_cancel(struct brd_sql_call *c)
{
    if (!c)
        return;
    if (c->st == CALL_QUEUED) {
        unqueue(c->q, c);
    } else if (c->st == CALL_RUNNING && c->k) {
        struct conn *k = c->k;
        c->k = NULL;
        k->driver->cancel(k->c);
        struct brd_sql *q = c->q;
        const char *key = c->api->sql->ds->key;
        conn_drop(q, k);
        struct brd_sql_call *next = unqueue_for(q, key);
        if (next)
            begin(next);
    }
    brd_sql_call_free(c);
}

bool brd_sql_done(const struct brd_sql_call *c)
{
    return c->st == CALL_DONE;
}

int brd_sql_result(struct brd_sql_call *c, struct json_object **raw, struct brd_error *err)
{
    *raw = NULL;
    if (c->st != CALL_DONE)
        return brd_error_set(err, BRD_E_INTERNAL, "api %s: the statement has not finished", c->api->name);
    if (c->rc != 0) {
        *err = c->err;
        return -1;
    }
    *raw = c->raw;
    c->raw = NULL;
    return 0;
}

struct json_object *brd_sql_request_json(const struct brd_sql_call *c)
{
    const struct brd_api *api = c->api;
    struct json_object *o = json_object_new_object(), *params = json_object_new_object();
    if (!o || !params) {
        json_object_put(o);
        json_object_put(params);
        return NULL;
    }
    int rc = brd_json_add(o, "datasource", json_object_new_string(api->sql->ds->name));
    rc |= brd_json_add(o, "sql", json_object_new_string_len(api->sql->sql, (int)api->sql->sql_len));
    json_object_object_foreach(c->values, key, val) {
        const struct brd_param *p = brd_params_find(&api->params, key);
        rc |= brd_json_add(params, key, p && p->secret ? json_object_new_string(REDACTED) : brd_json_ref(val));
    }
    rc |= brd_json_add(o, "params", params);
    if (rc) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

int64_t brd_sql_rows(const struct brd_sql_call *c)
{
    return c->rows;
}

int64_t brd_sql_affected(const struct brd_sql_call *c)
{
    return c->affected;
}

void brd_sql_call_free(struct brd_sql_call *c)
{
    if (!c)
        return;
    json_object_put(c->values);
    json_object_put(c->raw);
    free(c);
}
