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
};

struct brd_sql {
    struct conn *conns;
};

/* Which limit a call's deadline is. */
enum limit { LIM_API, LIM_NODE, LIM_WORKFLOW };

struct brd_sql_call {
    const struct brd_api *api;
    struct json_object *values;      /* resolved parameters, name → converted value */
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

/* The worker's connection to ds, opened on first use. */
static struct conn *conn_get(struct brd_sql *q, const struct brd_ds *ds, struct brd_error *err)
{
    for (struct conn *k = q->conns; k; k = k->next)
        if (k->driver == ds->driver && !strcmp(k->key, ds->key))
            return k;
    struct conn *k = calloc(1, sizeof *k);
    if (!k || !(k->key = strdup(ds->key))) {
        free(k);
        brd_error_nomem(err);
        return NULL;
    }
    k->driver = ds->driver;
    if (ds->driver->connect(ds, &k->c, err) != 0) {
        free(k->key);
        free(k);
        return NULL;
    }
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
    if (c->err.code != BRD_E_NOMEM)
        c->err.code = BRD_E_DATASOURCE_ERROR;
    brd_error_prefix(&c->err, "api %s: data source %s", api->name, s->ds->name);
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
    c->api = api;
    c->rows = 0;
    c->affected = -1;
    brd_error_clear(&c->err);
    if (brd_params_resolve(&api->params, api->name, a->explicit_params, a->prev, &c->values, err) != 0) {
        free(c);
        return -1;
    }

    int64_t now = brd_now_us(), deadline = now + (int64_t)api->timeout_ms * 1000;
    enum limit lim = LIM_API;
    if (a->deadline_us > 0 && a->deadline_us < deadline) {
        deadline = a->deadline_us;
        lim = LIM_NODE;
    }
    if (a->workflow_deadline_us > 0 && a->workflow_deadline_us <= deadline) {
        deadline = a->workflow_deadline_us;
        lim = LIM_WORKFLOW;
    }

    const struct brd_ds *ds = api->sql->ds;
    struct conn *k = conn_get(q, ds, &c->err);
    c->rc = -1;
    if (k) {
        struct brd_sql_exec ex = {api, c->values, deadline};
        struct brd_sql_outcome o;
        c->rc = k->driver->run(k->c, &ex, &o, &c->err);
        if (c->rc == 0) {
            c->raw = o.raw;
            c->rows = o.rows;
            c->affected = o.affected;
        } else if (o.broken) {
            /* The next call opens a new connection. */
            conn_drop(q, k);
        }
    }
    if (c->rc != 0)
        word_error(c, lim);
    *out = c;
    return 0;
}

bool brd_sql_done(const struct brd_sql_call *c)
{
    (void)c;
    return true;
}

int brd_sql_result(struct brd_sql_call *c, struct json_object **raw, struct brd_error *err)
{
    *raw = NULL;
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
