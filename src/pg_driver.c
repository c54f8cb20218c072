/* pg_driver.c — the PostgreSQL data source (SPEC section 2b) over libpq's
 * asynchronous API: connecting (PQconnectPoll), preparing once per
 * connection, executing in single-row mode and reading the rows all
 * advance in `step` from the engine's wait loop, so SQL nodes of a
 * parallel section overlap.  The server stops a statement at the API's
 * timeout_ms (statement_timeout); braid sends a cancel request at an
 * earlier deadline (the node's or the workflow's).  The source file and
 * the load-time checks: pg_source.c; values: pg_value.c.  Fields, type
 * mapping and caveats: docs/datasources.md.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "api.h"
#include "base/clock.h"
#include "pg_source.h"
#include "pg_value.h"
#include "sql_api.h"
#include "sql_driver.h"

/* SQLSTATE of a statement stopped by statement_timeout or a cancel request. */
#define SQLSTATE_QUERY_CANCELED "57014"

/* The session every connection starts with: the text formats pg_value.c
 * reads, whatever the server's or the role's defaults. */
#define SESSION_SETUP "SET DateStyle = ISO, YMD; SET IntervalStyle = postgres; SET bytea_output = hex; " \
                      "SET extra_float_digits = 1"

/* ---- connections ---------------------------------------------------------------------- */

/* Where a connection is: connecting, setting the session up, idle, or in a
 * command of a statement. */
enum phase { PH_CONNECT, PH_SETUP, PH_IDLE, PH_PREPARE, PH_PRE, PH_EXECUTE, PH_COMMIT, PH_ROLLBACK };

struct stmt {
    uint64_t hash;
    char *sql;             /* the statement as written (the cache key with hash and types) */
    Oid *types;
    size_t ntypes;
    char name[24];         /* "brd_<n>", prepared on this connection */
};

struct brd_sql_conn {
    struct brd_pg_cfg cfg;        /* a copy: a connection outlives a reload of its source */
    bool write;
    PGconn *pg;
    enum phase ph;
    PostgresPollingStatusType cpoll;   /* while connecting: what PQconnectPoll waits for */
    int64_t connect_deadline_us;
    bool busy;             /* a command was sent and its results are not all read */
    bool sending;          /* ... and libpq still has bytes of it to write */
    int session_timeout_ms;   /* the session's statement_timeout (-1: not set yet) */
    struct stmt *stmts;    /* prepared once per connection, kept */
    size_t nstmts, cap;
    unsigned next_id;
    /* The statement in flight. */
    const struct brd_sql_exec *q;
    struct stmt *cur;
    struct stmt pending;   /* being prepared */
    int pending_timeout_ms;   /* what PH_SETUP / PH_PRE set statement_timeout to */
    struct brd_pg_args args;
    struct json_object *data;
    int64_t rows, affected;
    bool sent;             /* the execute was handed to the server */
    bool res_failed;       /* a result of the current command was an error ... */
    struct brd_error res_err;   /* ... this one (the first) */
    struct brd_error held; /* the error to give once ROLLBACK is done */
};

static void stmt_free(struct stmt *s)
{
    free(s->sql);
    free(s->types);
    memset(s, 0, sizeof *s);
}

static void reset_exec(struct brd_sql_conn *c)
{
    brd_pg_args_clear(&c->args);
    json_object_put(c->data);
    c->data = NULL;
    stmt_free(&c->pending);
    c->q = NULL;
    c->cur = NULL;
    c->rows = 0;
    c->affected = -1;
    c->sent = false;
    c->res_failed = false;
}

static void disconnect(struct brd_sql_conn *c)
{
    if (!c)
        return;
    reset_exec(c);
    if (c->pg)
        PQfinish(c->pg);
    for (size_t i = 0; i < c->nstmts; i++)
        stmt_free(&c->stmts[i]);
    free(c->stmts);
    brd_pg_cfg_clear(&c->cfg);
    free(c);
}

static const char *clean(const struct brd_sql_conn *c, const char *msg, char *buf, size_t size)
{
    return brd_pg_clean(&c->cfg, msg, buf, size);
}

static int connect_ds(const struct brd_ds *ds, struct brd_sql_conn **out, struct brd_error *err)
{
    *out = NULL;
    struct brd_sql_conn *c = calloc(1, sizeof *c);
    if (!c)
        return brd_error_nomem(err);
    c->affected = -1;
    c->session_timeout_ms = -1;
    if (brd_pg_cfg_copy(&c->cfg, ds->cfg) != 0) {
        disconnect(c);
        return brd_error_nomem(err);
    }
    c->write = ds->write;
    struct brd_pg_params p;
    brd_pg_params_fill(&p, &c->cfg, false);
    /* Begins connecting: a host name is resolved in the first
     * PQconnectPoll, blocking (use an address or a socket directory). */
    c->pg = PQconnectStartParams(p.keys, p.values, 1);
    if (!c->pg) {
        disconnect(c);
        return brd_error_nomem(err);
    }
    if (PQstatus(c->pg) == CONNECTION_BAD) {
        char buf[1024];
        brd_error_set(err, BRD_E_DATASOURCE_ERROR, "cannot connect: %s",
                      clean(c, PQerrorMessage(c->pg), buf, sizeof buf));
        disconnect(c);
        return -1;
    }
    c->ph = PH_CONNECT;
    c->cpoll = PGRES_POLLING_WRITING;
    c->connect_deadline_us = brd_now_us() + (int64_t)c->cfg.connect_timeout_ms * 1000;
    *out = c;
    return 0;
}

/* ---- failing -------------------------------------------------------------------------- */

/* The connection itself failed (libpq's message): it goes.  A read may
 * always run again on a new one; a write only when it never left. */
static int fail_conn(struct brd_sql_conn *c, const char *what, struct brd_sql_outcome *out, struct brd_error *err)
{
    char buf[1024];
    out->broken = true;
    out->retry_safe = c->q && (!c->q->api->sql->writes || !c->sent);
    return brd_error_set(err, BRD_E_DATASOURCE_ERROR, "%s%s", what, clean(c, PQerrorMessage(c->pg), buf, sizeof buf));
}

/* The first error result of the current command, kept until its end. */
static void note_error(struct brd_sql_conn *c, const PGresult *res)
{
    if (c->res_failed)
        return;
    c->res_failed = true;
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
    char text[1024], buf[1024];
    if (primary)
        snprintf(text, sizeof text, "%s%s%s%s", primary, hint ? " (hint: " : "", hint ? hint : "", hint ? ")" : "");
    else
        snprintf(text, sizeof text, "%s", PQresultErrorMessage(res));
    clean(c, text, buf, sizeof buf);
    if (state && !strcmp(state, SQLSTATE_QUERY_CANCELED))
        brd_error_set(&c->res_err, BRD_E_DATASOURCE_TIMEOUT, "the server stopped the statement at its time limit "
                      "(timeout_ms=%d): %s", c->q ? c->q->api->timeout_ms : 0, buf);
    else
        brd_error_set(&c->res_err, BRD_E_DATASOURCE_ERROR, "%s", buf);
}

/* The command ended with the error note_error kept. */
static int fail_result(struct brd_sql_conn *c, struct brd_sql_outcome *out, struct brd_error *err)
{
    *err = c->res_err;
    out->broken = PQstatus(c->pg) == CONNECTION_BAD;
    out->retry_safe = out->broken && c->q && (!c->q->api->sql->writes || !c->sent);
    return -1;
}

/* In a write's transaction: an error rolls it back before it is given; a
 * broken connection is dropped (the server rolls back itself). */
static int fail_in_tx(struct brd_sql_conn *c, int rc, struct brd_sql_outcome *out, struct brd_error *err)
{
    if (out->broken || !c->q->api->sql->writes)
        return rc;
    c->held = *err;
    brd_error_clear(err);
    c->ph = PH_ROLLBACK;
    return 1;
}

/* ---- commands ------------------------------------------------------------------------- */

static struct stmt *cached(struct brd_sql_conn *c, const struct brd_api *api, const Oid *types)
{
    const struct brd_sql_api *s = api->sql;
    for (size_t i = 0; i < c->nstmts; i++) {
        struct stmt *st = &c->stmts[i];
        if (st->hash == s->sql_hash && st->ntypes == s->nbind && !strcmp(st->sql, s->sql) &&
            (!s->nbind || !memcmp(st->types, types, s->nbind * sizeof *types)))
            return st;
    }
    return NULL;
}

/* A command handed to libpq: its bytes go out in the steps that follow. */
static int sent(struct brd_sql_conn *c, int ok, struct brd_sql_outcome *out, struct brd_error *err)
{
    if (!ok)
        return fail_conn(c, "cannot send the statement: ", out, err);
    c->busy = true;
    c->sending = true;
    c->res_failed = false;
    return 1;
}

static int simple(struct brd_sql_conn *c, const char *sql, struct brd_sql_outcome *out, struct brd_error *err)
{
    return sent(c, PQsendQuery(c->pg, sql), out, err);
}

/* Sends the command of c's phase, or moves on when the phase needs none.
 * 1 to go on, 0 finished, -1 failed. */
static int enter(struct brd_sql_conn *c, struct brd_sql_outcome *out, struct brd_error *err)
{
    const struct brd_api *api = c->q->api;
    const struct brd_sql_api *s = api->sql;
    char text[256];
    switch (c->ph) {
    case PH_SETUP:
        /* A read's timeout comes with the session set-up: no round trip of its own. */
        c->pending_timeout_ms = s->writes ? -1 : api->timeout_ms;
        snprintf(text, sizeof text, "%s%s", SESSION_SETUP,
                 c->write ? "" : "; SET default_transaction_read_only = on");
        if (c->pending_timeout_ms >= 0)
            snprintf(text + strlen(text), sizeof text - strlen(text), "; SET statement_timeout = %d",
                     c->pending_timeout_ms);
        return simple(c, text, out, err);
    case PH_IDLE: {
        /* The cache is looked up with the types on the stack (the usual
         * case: a few parameters); only a statement to prepare keeps a copy. */
        Oid few[16];
        Oid *types = s->nbind <= sizeof few / sizeof *few ? few : calloc(s->nbind, sizeof *types);
        if (!types)
            return brd_error_nomem(err);
        brd_pg_param_types(api, types);
        c->cur = cached(c, api, types);
        if (c->cur) {
            if (types != few)
                free(types);
            c->ph = PH_PRE;
            return 1;
        }
        struct stmt *p = &c->pending;
        if (types != few) {
            p->types = types;
        } else if (s->nbind) {
            if (!(p->types = malloc(s->nbind * sizeof *few)))
                return brd_error_nomem(err);
            memcpy(p->types, few, s->nbind * sizeof *few);
        }
        p->hash = s->sql_hash;
        p->ntypes = s->nbind;
        snprintf(p->name, sizeof p->name, "brd_%u", c->next_id++);
        if (!(p->sql = strdup(s->sql)))
            return brd_error_nomem(err);
        c->ph = PH_PREPARE;
        return sent(c, PQsendPrepare(c->pg, p->name, s->native ? s->native : s->sql, (int)s->nbind, p->types),
                    out, err);
    }
    case PH_PRE:
        /* A write runs in a transaction of its own (so max_rows and the
         * deadline can undo it), its timeout local to it. */
        if (s->writes) {
            snprintf(text, sizeof text, "BEGIN; SET LOCAL statement_timeout = %d", api->timeout_ms);
            return simple(c, text, out, err);
        }
        if (c->session_timeout_ms != api->timeout_ms) {
            c->pending_timeout_ms = api->timeout_ms;
            snprintf(text, sizeof text, "SET statement_timeout = %d", api->timeout_ms);
            return simple(c, text, out, err);
        }
        c->ph = PH_EXECUTE;
        return 1;
    case PH_EXECUTE: {
        c->sent = true;
        if (!PQsendQueryPrepared(c->pg, c->cur->name, (int)c->args.n, c->args.values, NULL, NULL, 0))
            return fail_conn(c, "cannot send the statement: ", out, err);
        /* Row by row: more than max_rows is seen without reading them all. */
        PQsetSingleRowMode(c->pg);
        if (!(c->data = json_object_new_array()))
            return brd_error_nomem(err);
        return sent(c, 1, out, err);
    }
    case PH_COMMIT:
        return simple(c, "COMMIT", out, err);
    case PH_ROLLBACK:
        return simple(c, "ROLLBACK", out, err);
    case PH_PREPARE:
    case PH_CONNECT:
        break;
    }
    return brd_error_set(err, BRD_E_INTERNAL, "postgresql: nothing to send in phase %d", (int)c->ph);
}

/* One result of the command in flight.  0, or -1 to stop here (the
 * connection is then dropped). */
static int take(struct brd_sql_conn *c, const PGresult *res, struct brd_sql_outcome *out, struct brd_error *err)
{
    switch (PQresultStatus(res)) {
    case PGRES_SINGLE_TUPLE: {
        if (c->ph != PH_EXECUTE || c->res_failed)
            return 0;
        int max_rows = c->q->api->sql->max_rows;
        if (c->rows >= max_rows) {
            /* The rest is not read: the connection goes (a write with it,
             * rolled back by the server). */
            out->broken = true;
            return brd_sql_max_rows_error(err, max_rows);
        }
        struct json_object *row = NULL;
        if (brd_pg_row(res, 0, &row, err) != 0) {
            out->broken = true;
            return -1;
        }
        if (brd_json_append(c->data, row) != 0) {
            out->broken = true;
            return brd_error_nomem(err);
        }
        c->rows++;
        return 0;
    }
    case PGRES_TUPLES_OK:
    case PGRES_COMMAND_OK:
        if (c->ph == PH_EXECUTE) {
            const char *n = PQcmdTuples((PGresult *)res);
            c->affected = n && n[0] ? strtoll(n, NULL, 10) : c->rows;
        }
        return 0;
    case PGRES_FATAL_ERROR:
    case PGRES_NONFATAL_ERROR:
        note_error(c, res);
        return 0;
    case PGRES_EMPTY_QUERY:
        return 0;
    default:
        /* COPY and the like: the connection is in a state braid does not drive. */
        out->broken = true;
        return brd_error_set(err, BRD_E_DATASOURCE_ERROR, "the statement answered with %s, which a SQL API "
                             "cannot run (COPY is not supported)", PQresStatus(PQresultStatus(res)));
    }
}

/* The statement ended well: the raw result, c idle again. */
static int finished(struct brd_sql_conn *c, struct brd_sql_outcome *out, struct brd_error *err)
{
    bool writes = c->q->api->sql->writes;
    struct json_object *raw = json_object_new_object();
    struct json_object *data = c->data;
    c->data = NULL;
    if (!raw || brd_json_add(raw, "data", data) != 0) {
        json_object_put(raw);
        return brd_error_nomem(err);
    }
    if (writes && brd_json_add(raw, "affected_rows", json_object_new_int64(c->affected)) != 0) {
        json_object_put(raw);
        return brd_error_nomem(err);
    }
    out->raw = raw;
    out->rows = c->rows;
    out->affected = writes ? c->affected : -1;
    /* A statement can turn the session's read-only default off
     * (set_config(...)); the server reports the setting (PostgreSQL 14+),
     * and a read-only source's connection that is no longer read-only is
     * not used again. */
    const char *ro = c->write ? NULL : PQparameterStatus(c->pg, "default_transaction_read_only");
    if (ro && strcmp(ro, "on"))
        out->broken = true;
    c->ph = PH_IDLE;
    reset_exec(c);
    return 0;
}

/* The command's results are all read: what they said, and the next phase.
 * 1 to go on, 0 finished, -1 failed. */
static int done(struct brd_sql_conn *c, struct brd_sql_outcome *out, struct brd_error *err)
{
    const struct brd_sql_api *s = c->q->api->sql;
    switch (c->ph) {
    case PH_SETUP:
        if (c->res_failed) {
            fail_result(c, out, err);
            out->broken = true;
            out->retry_safe = false;
            return brd_error_prefix(err, "cannot set up the session");
        }
        c->session_timeout_ms = c->pending_timeout_ms;
        c->ph = PH_IDLE;
        return 1;
    case PH_PREPARE: {
        if (c->res_failed) {
            stmt_free(&c->pending);
            c->ph = PH_IDLE;
            fail_result(c, out, err);
            return brd_error_prefix(err, "cannot prepare the statement");
        }
        if (c->nstmts == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 8;
            struct stmt *grown = realloc(c->stmts, cap * sizeof *grown);
            if (!grown) {
                out->broken = true;   /* prepared on the server, unknown here */
                return brd_error_nomem(err);
            }
            c->stmts = grown;
            c->cap = cap;
        }
        c->stmts[c->nstmts] = c->pending;
        memset(&c->pending, 0, sizeof c->pending);
        c->cur = &c->stmts[c->nstmts++];
        c->ph = PH_PRE;
        return 1;
    }
    case PH_PRE:
        if (c->res_failed)
            return fail_in_tx(c, fail_result(c, out, err), out, err);
        if (!s->writes)
            c->session_timeout_ms = c->pending_timeout_ms;
        c->ph = PH_EXECUTE;
        return 1;
    case PH_EXECUTE:
        if (c->res_failed)
            return fail_in_tx(c, fail_result(c, out, err), out, err);
        if (s->writes) {
            c->ph = PH_COMMIT;
            return 1;
        }
        return finished(c, out, err);
    case PH_COMMIT:
        if (c->res_failed)
            return fail_result(c, out, err);
        return finished(c, out, err);
    case PH_ROLLBACK:
        *err = c->held;
        if (c->res_failed)
            out->broken = true;
        return -1;
    case PH_IDLE:
    case PH_CONNECT:
        break;
    }
    return brd_error_set(err, BRD_E_INTERNAL, "postgresql: no command in phase %d", (int)c->ph);
}

/* Reads every result libpq has whole.  1 while the command still runs,
 * 0 when its results are all read, -1 to stop here. */
static int collect(struct brd_sql_conn *c, struct brd_sql_outcome *out, struct brd_error *err)
{
    while (!PQisBusy(c->pg)) {
        PGresult *res = PQgetResult(c->pg);
        if (!res)
            return 0;
        int rc = take(c, res, out, err);
        PQclear(res);
        if (rc < 0)
            return -1;
    }
    return 1;
}

/* Runs c as far as it goes without waiting.  1 waiting, 0 finished, -1 failed. */
static int drive(struct brd_sql_conn *c, short revents, struct brd_sql_outcome *out, struct brd_error *err)
{
    for (;;) {
        if (c->ph == PH_CONNECT) {
            if (!(revents & (POLLIN | POLLOUT | POLLHUP | POLLERR)))
                return 1;
            revents = 0;
            c->cpoll = PQconnectPoll(c->pg);
            if (c->cpoll == PGRES_POLLING_FAILED) {
                fail_conn(c, "cannot connect: ", out, err);
                out->retry_safe = false;
                return -1;
            }
            if (c->cpoll != PGRES_POLLING_OK)
                return 1;
            if (PQsetnonblocking(c->pg, 1) != 0) {
                fail_conn(c, "cannot connect: ", out, err);
                out->retry_safe = false;
                return -1;
            }
            c->ph = PH_SETUP;
        } else if (c->busy) {
            if (c->sending) {
                int f = PQflush(c->pg);
                if (f < 0)
                    return fail_conn(c, "cannot send the statement: ", out, err);
                c->sending = f == 1;
            }
            if ((revents & (POLLIN | POLLHUP | POLLERR)) && !PQconsumeInput(c->pg))
                return fail_conn(c, "lost the connection: ", out, err);
            revents = 0;
            int rc = collect(c, out, err);
            if (rc < 0)
                return -1;
            if (rc > 0) {
                if (PQstatus(c->pg) == CONNECTION_BAD)
                    return fail_conn(c, "lost the connection: ", out, err);
                return 1;
            }
            c->busy = c->sending = false;
            rc = done(c, out, err);
            if (rc <= 0)
                return rc;
            continue;
        }
        int rc = enter(c, out, err);
        if (rc <= 0)
            return rc;
        if (!c->busy)
            continue;
    }
}

/* Asks the server to stop c's statement (a short blocking connection of
 * libpq's own). */
static void cancel_statement(struct brd_sql_conn *c)
{
    if (!c->pg || c->ph == PH_CONNECT || !c->busy)
        return;
    PGcancel *k = PQgetCancel(c->pg);
    if (!k)
        return;
    char buf[256];
    PQcancel(k, buf, sizeof buf);
    PQfreeCancel(k);
}

/* Frees what the statement held when it ended with an error. */
static int failed(struct brd_sql_conn *c, struct brd_sql_outcome *out)
{
    if (!out->broken && c->ph != PH_CONNECT && c->ph != PH_SETUP)
        c->ph = PH_IDLE;
    reset_exec(c);
    return -1;
}

static int start(struct brd_sql_conn *c, const struct brd_sql_exec *q, struct brd_sql_outcome *out,
                 struct brd_error *err)
{
    memset(out, 0, sizeof *out);
    out->affected = -1;
    brd_error_clear(err);
    if ((c->ph != PH_IDLE && c->ph != PH_CONNECT && c->ph != PH_SETUP) || c->busy) {
        out->broken = true;
        return brd_error_set(err, BRD_E_INTERNAL, "postgresql: the connection is busy");
    }
    reset_exec(c);
    /* The values, once: those PostgreSQL cannot take are the request's
     * fault, refused before anything is sent. */
    if (brd_pg_args_fill(&c->args, q, err) != 0)
        return -1;
    c->q = q;
    int rc = drive(c, 0, out, err);
    if (rc < 0)
        return failed(c, out);
    if (rc == 0) {
        /* Cannot happen: every statement waits for the server. */
        json_object_put(out->raw);
        memset(out, 0, sizeof *out);
        out->broken = true;
        return brd_error_set(err, BRD_E_INTERNAL, "postgresql: a statement finished without the server");
    }
    return 0;
}

static int poll_fd(const struct brd_sql_conn *c, short *events)
{
    *events = 0;
    if (!c->pg)
        return -1;
    if (c->ph == PH_CONNECT)
        *events = c->cpoll == PGRES_POLLING_READING ? POLLIN : POLLOUT;
    else if (c->busy)
        *events = (short)(POLLIN | (c->sending ? POLLOUT : 0));
    else
        return -1;
    int fd = PQsocket(c->pg);
    return fd >= 0 ? fd : -1;
}

static int step(struct brd_sql_conn *c, short revents, struct brd_sql_outcome *out, struct brd_error *err)
{
    memset(out, 0, sizeof *out);
    out->affected = -1;
    if (!c->q)
        return brd_error_set(err, BRD_E_INTERNAL, "postgresql: no statement on the connection");
    int64_t now = brd_now_us();
    if (now >= c->q->deadline_us) {
        bool connecting = c->ph == PH_CONNECT || c->ph == PH_SETUP;
        cancel_statement(c);
        out->broken = true;
        brd_error_set(err, BRD_E_DATASOURCE_TIMEOUT, "%s", connecting ? "the deadline passed while connecting"
                      : "cancel request sent to the server");
        return failed(c, out);
    }
    if ((c->ph == PH_CONNECT || c->ph == PH_SETUP) && now >= c->connect_deadline_us) {
        out->broken = true;
        brd_error_set(err, BRD_E_DATASOURCE_ERROR, "cannot connect within connect_timeout_ms=%d",
                      c->cfg.connect_timeout_ms);
        return failed(c, out);
    }
    int rc = drive(c, revents, out, err);
    if (rc < 0)
        return failed(c, out);
    return rc;
}

static void cancel(struct brd_sql_conn *c)
{
    cancel_statement(c);
}

const struct brd_sql_driver brd_pg_driver = {
    .type = "postgresql",
    .ds_load = brd_pg_ds_load,
    .ds_free = brd_pg_ds_free,
    .check = brd_pg_check,
    .check_live = brd_pg_check_live,
    .connect = connect_ds,
    .disconnect = disconnect,
    .start = start,
    .poll_fd = poll_fd,
    .step = step,
    .cancel = cancel,
};
