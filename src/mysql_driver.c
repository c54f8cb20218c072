/* mysql_driver.c — the MySQL/MariaDB data source (SPEC section 2b) over
 * MariaDB Connector/C's non-blocking API: connecting, preparing (once per
 * connection), executing and fetching all advance in `step` from the
 * engine's wait loop; a statement past its deadline is stopped with KILL
 * QUERY from a short-lived second connection.  The source file and its
 * load-time checks: mysql_source.c; values: mysql_value.c.
 * Fields, type mapping and caveats: docs/datasources.md.
 */
#include <ctype.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>

#include "api.h"
#include "base/clock.h"
#include "mysql_source.h"
#include "mysql_value.h"
#include "sql_api.h"
#include "sql_driver.h"

/* MySQL 8's errors for a statement stopped by MAX_EXECUTION_TIME. */
#ifndef ER_QUERY_TIMEOUT
#define ER_QUERY_TIMEOUT 3024
#endif

/* ---- connections ---------------------------------------------------------------------- */

/* Where a connection is: setting up, idle, or in a step of a statement. */
enum phase { PH_CONNECT, PH_SETUP, PH_IDLE, PH_PREPARE, PH_BEGIN, PH_EXECUTE, PH_FETCH, PH_COMMIT, PH_ROLLBACK };

struct stmt {
    uint64_t hash;
    int timeout_ms;        /* the server-side limit written into text */
    char *sql;             /* the statement as written (the cache key with hash) */
    MYSQL_STMT *st;
};

struct brd_sql_conn {
    struct brd_my_cfg cfg;        /* a copy: a connection outlives a reload of its source */
    bool write, mariadb;
    MYSQL *my;
    enum phase ph;
    bool running;          /* the phase's call was started and has not finished */
    int wait;              /* what the suspended call waits for (MYSQL_WAIT_*) */
    int64_t connect_deadline_us;
    MYSQL *ret_my;         /* results of the non-blocking calls */
    int ret;
    struct stmt *stmts;    /* prepared once per connection, kept */
    size_t nstmts, cap;
    /* The statement in flight. */
    const struct brd_sql_exec *q;
    struct stmt *cur;
    MYSQL_STMT *preparing;
    char *prep_text;       /* what preparing is being sent */
    struct brd_my_params params;
    struct brd_my_result res;
    struct json_object *data;
    int64_t rows, affected;
    bool sent;             /* the execute was handed to the server */
    struct brd_error held; /* the error to give once ROLLBACK is done */
    struct brd_sql_outcome early;   /* a result start got without waiting */
};

static void stmt_reset_exec(struct brd_sql_conn *c)
{
    brd_my_params_clear(&c->params);
    brd_my_result_clear(&c->res);
    json_object_put(c->data);
    c->data = NULL;
    c->q = NULL;
    c->cur = NULL;
    c->rows = 0;
    c->affected = -1;
    c->sent = false;
}

static void disconnect(struct brd_sql_conn *c)
{
    if (!c)
        return;
    stmt_reset_exec(c);
    /* The connection first: closing it invalidates its statements, which
     * are then freed without another word to a server that may be gone. */
    if (c->my)
        mysql_close(c->my);
    if (c->preparing)
        mysql_stmt_close(c->preparing);
    free(c->prep_text);
    for (size_t i = 0; i < c->nstmts; i++) {
        mysql_stmt_close(c->stmts[i].st);
        free(c->stmts[i].sql);
    }
    free(c->stmts);
    json_object_put(c->early.raw);
    brd_my_cfg_clear(&c->cfg);
    free(c);
}

static int connect_ds(const struct brd_ds *ds, struct brd_sql_conn **out, struct brd_error *err)
{
    *out = NULL;
    struct brd_sql_conn *c = calloc(1, sizeof *c);
    if (!c)
        return brd_error_nomem(err);
    c->affected = -1;
    if (brd_my_cfg_copy(&c->cfg, ds->cfg) != 0 || !(c->my = mysql_init(NULL))) {
        disconnect(c);
        return brd_error_nomem(err);
    }
    c->write = ds->write;
    if (mysql_options(c->my, MYSQL_OPT_NONBLOCK, 0) != 0 ||
        mysql_options(c->my, MYSQL_SET_CHARSET_NAME, "utf8mb4") != 0) {
        disconnect(c);
        return brd_error_nomem(err);
    }
    c->connect_deadline_us = brd_now_us() + (int64_t)c->cfg.connect_timeout_ms * 1000;
    c->ph = PH_CONNECT;
    c->running = true;
    /* Begins connecting: a host name is resolved here, blocking (use an
     * address or a socket); the rest waits in step. */
    c->wait = mysql_real_connect_start(&c->ret_my, c->my, c->cfg.host, c->cfg.user, c->cfg.password,
                                       c->cfg.database, c->cfg.port, c->cfg.socket,
                                       CLIENT_FOUND_ROWS);
    *out = c;
    return 0;
}

/* ---- running -------------------------------------------------------------------------- */

/* Client errors (lost connection, out of sync) and the server's "you are
 * disconnected" ones: the connection cannot be used again. */
static bool errno_broken(unsigned e)
{
    return (e >= 2000 && e < 3000) || e == ER_CONNECTION_KILLED || e == ER_SERVER_SHUTDOWN ||
           e == ER_NEW_ABORTING_CONNECTION;
}

static bool errno_timeout(unsigned e)
{
    return e == ER_STATEMENT_TIMEOUT || e == ER_QUERY_INTERRUPTED || e == ER_QUERY_TIMEOUT;
}

/* Fails the statement with the server's (or client's) error e / msg. */
static int fail_with(struct brd_sql_conn *c, unsigned e, const char *msg, struct brd_sql_outcome *out,
                     struct brd_error *err)
{
    bool broken = errno_broken(e);
    out->broken = broken;
    /* A read may always run again; a write only when it never left. */
    bool before_server = c->ph == PH_PREPARE || c->ph == PH_BEGIN || !c->sent || e == CR_SERVER_GONE_ERROR;
    out->retry_safe = broken && (c->q && (!c->q->api->sql->writes || before_server));
    if (errno_timeout(e))
        return brd_error_set(err, BRD_E_DATASOURCE_TIMEOUT, "the server stopped the statement at its time "
                             "limit: %s", msg);
    return brd_error_set(err, BRD_E_DATASOURCE_ERROR, "%s", msg);
}

static int fail_my(struct brd_sql_conn *c, struct brd_sql_outcome *out, struct brd_error *err)
{
    return fail_with(c, mysql_errno(c->my), mysql_error(c->my), out, err);
}

static int fail_stmt(struct brd_sql_conn *c, MYSQL_STMT *st, struct brd_sql_outcome *out, struct brd_error *err)
{
    /* An error while rows stream (a duplicate key met by INSERT ...
     * RETURNING) may be kept on the connection rather than the statement. */
    if (!mysql_stmt_errno(st) && mysql_errno(c->my))
        return fail_my(c, out, err);
    if (!mysql_stmt_errno(st))
        return fail_with(c, CR_UNKNOWN_ERROR, "the server gave an error without a message", out, err);
    return fail_with(c, mysql_stmt_errno(st), mysql_stmt_error(st), out, err);
}

/* The text the server prepares: a read gets the API's timeout as a
 * server-side limit too, so that it stops even when braid is gone. */
static char *prepared_text(const struct brd_sql_conn *c, const struct brd_api *api)
{
    const struct brd_sql_api *s = api->sql;
    const char *text = s->native ? s->native : s->sql;
    char *out = NULL;
    if (s->writes) {
        out = strdup(text);
    } else if (c->mariadb) {
        if (asprintf(&out, "SET STATEMENT max_statement_time=%d.%03d FOR %s", api->timeout_ms / 1000,
                     api->timeout_ms % 1000, text) < 0)
            out = NULL;
    } else {
        /* MySQL: an optimizer hint right after SELECT (reads only). */
        size_t lead = 0;
        while (isspace((unsigned char)text[lead]))
            lead++;
        if (!strncasecmp(text + lead, "SELECT", 6) && !isalnum((unsigned char)text[lead + 6])) {
            if (asprintf(&out, "%.*s /*+ MAX_EXECUTION_TIME(%d) */%s", (int)(lead + 6), text, api->timeout_ms,
                         text + lead + 6) < 0)
                out = NULL;
        } else {
            out = strdup(text);
        }
    }
    return out;
}

static struct stmt *cached(struct brd_sql_conn *c, const struct brd_api *api)
{
    for (size_t i = 0; i < c->nstmts; i++)
        if (c->stmts[i].hash == api->sql->sql_hash && c->stmts[i].timeout_ms == api->timeout_ms &&
            !strcmp(c->stmts[i].sql, api->sql->sql))
            return &c->stmts[i];
    return NULL;
}

static int fail_in_tx(struct brd_sql_conn *c, int rc, struct brd_sql_outcome *out, struct brd_error *err);

static int query_start(struct brd_sql_conn *c, const char *sql)
{
    c->running = true;
    c->wait = mysql_real_query_start(&c->ret, c->my, sql, (unsigned long)strlen(sql));
    return 0;
}

/* Starts the call of c's phase (c->running), or moves on when the phase
 * needs none.  1 to go on, 0 finished, -1 failed. */
static int enter(struct brd_sql_conn *c, struct brd_sql_outcome *out, struct brd_error *err)
{
    const struct brd_api *api = c->q->api;
    switch (c->ph) {
    case PH_SETUP:
        return query_start(c, "SET SESSION TRANSACTION READ ONLY"), 1;
    case PH_IDLE:
        c->cur = cached(c, api);
        c->ph = c->cur ? (api->sql->writes ? PH_BEGIN : PH_EXECUTE) : PH_PREPARE;
        return 1;
    case PH_PREPARE: {
        char *text = prepared_text(c, api);
        if (!text)
            return brd_error_nomem(err);
        if (c->nstmts == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 8;
            struct stmt *grown = realloc(c->stmts, cap * sizeof *grown);
            if (!grown) {
                free(text);
                return brd_error_nomem(err);
            }
            c->stmts = grown;
            c->cap = cap;
        }
        struct stmt *s = &c->stmts[c->nstmts];
        memset(s, 0, sizeof *s);
        s->hash = api->sql->sql_hash;
        s->timeout_ms = api->timeout_ms;
        if (!(s->sql = strdup(api->sql->sql)) || !(c->preparing = mysql_stmt_init(c->my))) {
            free(s->sql);
            free(text);
            return brd_error_nomem(err);
        }
        /* Kept until the prepare finishes: a suspended send still reads it. */
        c->prep_text = text;
        c->running = true;
        c->wait = mysql_stmt_prepare_start(&c->ret, c->preparing, text, (unsigned long)strlen(text));
        return 1;
    }
    case PH_BEGIN:
        return query_start(c, "START TRANSACTION"), 1;
    case PH_EXECUTE:
        if (brd_my_params_bind(&c->params, c->q, c->cur->st, err) != 0)
            return fail_in_tx(c, -1, out, err);
        c->sent = true;
        c->running = true;
        c->wait = mysql_stmt_execute_start(&c->ret, c->cur->st);
        return 1;
    case PH_FETCH:
        c->running = true;
        c->wait = mysql_stmt_fetch_start(&c->ret, c->cur->st);
        return 1;
    case PH_COMMIT:
        return query_start(c, "COMMIT"), 1;
    case PH_ROLLBACK:
        return query_start(c, "ROLLBACK"), 1;
    case PH_CONNECT:
        break;
    }
    return brd_error_set(err, BRD_E_INTERNAL, "mysql: nothing to start in phase %d", (int)c->ph);
}

/* The statement ended well: the raw result, c idle again. */
static int finished(struct brd_sql_conn *c, struct brd_sql_outcome *out, struct brd_error *err)
{
    bool writes = c->q->api->sql->writes;
    struct json_object *raw = json_object_new_object();
    if (!raw || brd_json_add(raw, "data", c->data) != 0) {
        c->data = NULL;
        json_object_put(raw);
        return brd_error_nomem(err);
    }
    c->data = NULL;
    if (writes && brd_json_add(raw, "affected_rows", json_object_new_int64(c->affected)) != 0) {
        json_object_put(raw);
        return brd_error_nomem(err);
    }
    out->raw = raw;
    out->rows = c->rows;
    out->affected = writes ? c->affected : -1;
    c->ph = PH_IDLE;
    stmt_reset_exec(c);
    return 0;
}

/* In a write's transaction: a SQL error rolls it back before it is given;
 * a broken connection is dropped (the server rolls back itself). */
static int fail_in_tx(struct brd_sql_conn *c, int rc, struct brd_sql_outcome *out, struct brd_error *err)
{
    if (out->broken || !c->q->api->sql->writes || c->ph == PH_PREPARE)
        return rc;
    c->held = *err;
    brd_error_clear(err);
    c->ph = PH_ROLLBACK;
    return 1;
}

/* The phase's call finished: looks at what it gave and picks the next
 * phase.  1 to go on, 0 finished, -1 failed. */
static int done(struct brd_sql_conn *c, struct brd_sql_outcome *out, struct brd_error *err)
{
    const struct brd_sql_api *s = c->q->api->sql;
    switch (c->ph) {
    case PH_CONNECT:
        if (!c->ret_my) {
            out->broken = true;
            return brd_error_set(err, BRD_E_DATASOURCE_ERROR, "cannot connect: %s", mysql_error(c->my));
        }
        const char *server = mysql_get_server_info(c->my);
        c->mariadb = server && strstr(server, "MariaDB") != NULL;
        c->ph = c->write ? PH_IDLE : PH_SETUP;
        return 1;
    case PH_SETUP:
        if (c->ret != 0) {
            fail_my(c, out, err);
            out->broken = true;
            out->retry_safe = false;
            return brd_error_prefix(err, "cannot make the session read-only");
        }
        c->ph = PH_IDLE;
        return 1;
    case PH_PREPARE: {
        MYSQL_STMT *st = c->preparing;
        struct stmt *slot = &c->stmts[c->nstmts];
        free(c->prep_text);
        c->prep_text = NULL;
        if (c->ret != 0) {
            int rc = fail_stmt(c, st, out, err);
            brd_error_prefix(err, "cannot prepare the statement");
            mysql_stmt_close(st);   /* nothing was prepared: nothing is sent */
            c->preparing = NULL;
            free(slot->sql);
            return rc;
        }
        slot->st = st;
        c->preparing = NULL;
        c->cur = slot;
        c->nstmts++;
        c->ph = s->writes ? PH_BEGIN : PH_EXECUTE;
        return 1;
    }
    case PH_BEGIN:
        if (c->ret != 0)
            return fail_my(c, out, err);
        c->ph = PH_EXECUTE;
        return 1;
    case PH_EXECUTE:
        if (c->ret != 0)
            return fail_in_tx(c, fail_stmt(c, c->cur->st, out, err), out, err);
        if (!(c->data = json_object_new_array()))
            return brd_error_nomem(err);
        if (mysql_stmt_field_count(c->cur->st) == 0) {
            c->affected = (int64_t)mysql_stmt_affected_rows(c->cur->st);
            c->ph = s->writes ? PH_COMMIT : PH_IDLE;
            return s->writes ? 1 : finished(c, out, err);
        }
        if (brd_my_result_bind(&c->res, c->cur->st, err) != 0) {
            out->broken = true;   /* a result is waiting unread */
            return -1;
        }
        c->ph = PH_FETCH;
        return 1;
    case PH_FETCH:
        if (c->ret == MYSQL_NO_DATA) {
            /* Each row a write RETURNs is a row it changed. */
            c->affected = c->rows;
            if (s->writes) {
                c->ph = PH_COMMIT;
                return 1;
            }
            return finished(c, out, err);
        }
        if (c->ret != 0 && c->ret != MYSQL_DATA_TRUNCATED)
            return fail_in_tx(c, fail_stmt(c, c->cur->st, out, err), out, err);
        if (c->rows >= s->max_rows) {
            /* The rest is not read: the connection goes (a write with it,
             * rolled back by the server). */
            out->broken = true;
            return brd_sql_max_rows_error(err, s->max_rows);
        }
        struct json_object *row = NULL;
        if (brd_my_row(&c->res, c->cur->st, &row, err) != 0) {
            out->broken = true;
            return -1;
        }
        if (brd_json_append(c->data, row) != 0) {
            out->broken = true;
            return brd_error_nomem(err);
        }
        c->rows++;
        return 1;
    case PH_COMMIT:
        if (c->ret != 0)
            return fail_in_tx(c, fail_my(c, out, err), out, err);
        return finished(c, out, err);
    case PH_ROLLBACK:
        *err = c->held;
        if (c->ret != 0)
            out->broken = true;
        return -1;
    case PH_IDLE:
        break;
    }
    return brd_error_set(err, BRD_E_INTERNAL, "mysql: no call in phase %d", (int)c->ph);
}

/* Resumes the suspended call with the events that happened (0: none). */
static void resume(struct brd_sql_conn *c, int events)
{
    switch (c->ph) {
    case PH_CONNECT:
        c->wait = mysql_real_connect_cont(&c->ret_my, c->my, events);
        break;
    case PH_PREPARE:
        c->wait = mysql_stmt_prepare_cont(&c->ret, c->preparing, events);
        break;
    case PH_EXECUTE:
        c->wait = mysql_stmt_execute_cont(&c->ret, c->cur->st, events);
        break;
    case PH_FETCH:
        c->wait = mysql_stmt_fetch_cont(&c->ret, c->cur->st, events);
        break;
    default:
        c->wait = mysql_real_query_cont(&c->ret, c->my, events);
        break;
    }
}

/* Runs c as far as it goes without waiting.  1 waiting, 0 finished, -1 failed. */
static int drive(struct brd_sql_conn *c, int events, struct brd_sql_outcome *out, struct brd_error *err)
{
    for (;;) {
        if (c->running) {
            if (c->wait) {
                if (!(events & (c->wait | MYSQL_WAIT_TIMEOUT)))
                    return 1;
                resume(c, events);
                events = 0;
                if (c->wait)
                    return 1;
            }
            c->running = false;
            int rc = done(c, out, err);
            if (rc <= 0) {
                if (rc < 0 && c->ph != PH_IDLE && c->ph != PH_CONNECT && c->ph != PH_SETUP && !out->broken)
                    c->ph = PH_IDLE;
                return rc;
            }
        }
        int rc = enter(c, out, err);
        if (rc <= 0)
            return rc;
    }
}

/* KILL QUERY for c's statement, from a connection of its own. */
static void kill_query(struct brd_sql_conn *c)
{
    if (!c->my || c->ph == PH_CONNECT || c->ph == PH_SETUP || c->ph == PH_IDLE || !c->running)
        return;
    struct brd_error ignored;
    brd_error_clear(&ignored);
    MYSQL *k = brd_my_connect_blocking(&c->cfg, &ignored);
    if (!k)
        return;
    char sql[64];
    snprintf(sql, sizeof sql, "KILL QUERY %lu", mysql_thread_id(c->my));
    mysql_query(k, sql);
    mysql_close(k);
}

/* Frees what the statement held when it ended with an error. */
static int failed(struct brd_sql_conn *c, struct brd_sql_outcome *out)
{
    stmt_reset_exec(c);
    if (out->broken)
        c->running = false;
    return -1;
}

static int start(struct brd_sql_conn *c, const struct brd_sql_exec *q, struct brd_sql_outcome *out,
                 struct brd_error *err)
{
    memset(out, 0, sizeof *out);
    out->affected = -1;
    brd_error_clear(err);
    stmt_reset_exec(c);
    c->q = q;
    if (c->ph != PH_IDLE && c->ph != PH_CONNECT && c->ph != PH_SETUP) {
        out->broken = true;
        c->q = NULL;
        return brd_error_set(err, BRD_E_INTERNAL, "mysql: the connection is busy");
    }
    int rc = drive(c, 0, out, err);
    if (rc < 0)
        return failed(c, out);
    if (rc == 0) {
        /* Finished without waiting (no server round trip was needed): the
         * SQL module takes only errors from start, so the result is
         * handed over at the first step. */
        c->early = *out;
        c->q = q;
        memset(out, 0, sizeof *out);
    }
    return 0;
}

static int poll_fd(const struct brd_sql_conn *c, short *events)
{
    *events = 0;
    if (!c->running || !c->wait || c->early.raw)
        return -1;
    if (c->wait & MYSQL_WAIT_READ)
        *events |= POLLIN;
    if (c->wait & MYSQL_WAIT_WRITE)
        *events |= POLLOUT;
    if (c->wait & MYSQL_WAIT_EXCEPT)
        *events |= POLLPRI;
    int fd = (int)mysql_get_socket(c->my);
    return fd >= 0 ? fd : -1;
}

static int step(struct brd_sql_conn *c, short revents, struct brd_sql_outcome *out, struct brd_error *err)
{
    memset(out, 0, sizeof *out);
    out->affected = -1;
    if (!c->q)
        return brd_error_set(err, BRD_E_INTERNAL, "mysql: no statement on the connection");
    int64_t now = brd_now_us();
    if (now >= c->q->deadline_us) {
        kill_query(c);
        out->broken = true;
        brd_error_set(err, BRD_E_DATASOURCE_TIMEOUT, "%s", c->ph == PH_CONNECT || c->ph == PH_SETUP
                      ? "the deadline passed while connecting" : "the statement was stopped at its deadline "
                      "(KILL QUERY)");
        return failed(c, out);
    }
    if ((c->ph == PH_CONNECT || c->ph == PH_SETUP) && now >= c->connect_deadline_us) {
        out->broken = true;
        brd_error_set(err, BRD_E_DATASOURCE_ERROR, "cannot connect within connect_timeout_ms=%d",
                      c->cfg.connect_timeout_ms);
        return failed(c, out);
    }
    int events = 0;
    if (revents & (POLLIN | POLLHUP | POLLERR))
        events |= MYSQL_WAIT_READ;
    if (revents & (POLLOUT | POLLHUP | POLLERR))
        events |= MYSQL_WAIT_WRITE;
    if (revents & POLLPRI)
        events |= MYSQL_WAIT_EXCEPT;
    if (c->early.raw) {
        *out = c->early;
        memset(&c->early, 0, sizeof c->early);
        c->q = NULL;
        return 0;
    }
    int rc = drive(c, events, out, err);
    if (rc < 0)
        return failed(c, out);
    return rc;
}

static void cancel(struct brd_sql_conn *c)
{
    kill_query(c);
}

const struct brd_sql_driver brd_mysql_driver = {
    .type = "mysql",
    .ds_load = brd_my_ds_load,
    .ds_free = brd_my_ds_free,
    .check = brd_my_check,
    .check_live = brd_my_check_live,
    .connect = connect_ds,
    .disconnect = disconnect,
    .start = start,
    .poll_fd = poll_fd,
    .step = step,
    .cancel = cancel,
};
