/* sqlite_driver.c — the SQLite data source (SPEC section 2b), libsqlite3
 * embedded: statements prepared at load, run inline in the worker with
 * typed bound values, stopped at their deadline by a progress handler,
 * a write in a transaction of its own (see sql_driver.h, docs/datasources.md).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sqlite3.h>

#include "api.h"
#include "envsubst.h"
#include "base/clock.h"
#include "sql_api.h"
#include "sql_driver.h"
#include "sql_value.h"

/* Virtual-machine steps between two looks at the clock: about a few
 * microseconds of work, so a deadline is kept to well under a millisecond. */
#define PROGRESS_STEPS 1000
/* Longest wait between two tries for a lock another process holds. */
#define BUSY_SLEEP_MAX_MS 20

/* What the authorizer saw: the first statement kind it refused. */
struct auth {
    int denied;             /* SQLITE_TRANSACTION, ..., or 0 */
    bool internal;          /* our own BEGIN / COMMIT / ROLLBACK are running */
};

struct cfg {
    char *path;             /* absolute */
    sqlite3 *load_db;       /* open between load and brd_ds_load_done */
    struct auth load_auth;
};

struct stmt {
    uint64_t hash;
    char *sql;
    sqlite3_stmt *st;
};

struct brd_sql_conn {
    sqlite3 *db;
    struct auth auth;
    struct stmt *stmts;     /* prepared once per connection, kept */
    size_t nstmts, cap;
};

/* ---- opening ------------------------------------------------------------------- */

/* Pragmas that only read what a schema is (usable as pragma_x('t') in a
 * SELECT); every other PRAGMA would change the connection or the file. */
static bool pragma_reads(const char *name, const char *arg)
{
    static const char *const listing[] = {"table_info", "table_xinfo", "index_list", "index_info",
                                          "index_xinfo", "foreign_key_list", "table_list",
                                          "collation_list", "function_list", "pragma_list", "module_list",
                                          "compile_options"};
    static const char *const values[] = {"user_version", "schema_version", "application_id", "data_version",
                                         "page_count", "freelist_count", "page_size", "encoding"};
    if (!name)
        return false;
    for (size_t i = 0; i < sizeof listing / sizeof *listing; i++)
        if (!strcasecmp(name, listing[i]))
            return true;
    for (size_t i = 0; i < sizeof values / sizeof *values; i++)
        if (!strcasecmp(name, values[i]))
            return arg == NULL;
    return false;
}

/* A SQL API is one statement on a shared, kept-open connection: it must not
 * leave a transaction open, attach files, or change the connection. */
static int authorize(void *p, int action, const char *a, const char *b, const char *c, const char *d)
{
    (void)c;
    (void)d;
    struct auth *au = p;
    bool deny = false;
    switch (action) {
    case SQLITE_TRANSACTION:
    case SQLITE_SAVEPOINT:
        deny = !au->internal;
        break;
    case SQLITE_ATTACH:
    case SQLITE_DETACH:
        deny = true;
        break;
    case SQLITE_PRAGMA:
        deny = !pragma_reads(a, b);
        break;
    default:
        break;
    }
    if (deny && !au->denied)
        au->denied = action;
    return deny ? SQLITE_DENY : SQLITE_OK;
}

static const char *denied_text(int action)
{
    switch (action) {
    case SQLITE_TRANSACTION:
    case SQLITE_SAVEPOINT:
        return "transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT) is not allowed in a SQL API: "
               "each statement runs on its own, a write in a transaction of its own";
    case SQLITE_ATTACH:
    case SQLITE_DETACH:
        return "ATTACH and DETACH are not allowed: a data source is one database file";
    default:
        return "this PRAGMA is not allowed (it would change the connection or the file); to read the "
               "schema use SELECT ... FROM pragma_table_info('t')";
    }
}

/* Opens path for this data source's mode.  0 with *out, or -1 with err
 * (code as given). */
static int open_db(const char *path, bool write, struct auth *au, sqlite3 **out, enum brd_code code,
                   struct brd_error *err)
{
    *out = NULL;
    sqlite3 *db = NULL;
    /* No SQLITE_OPEN_CREATE: a mistyped path is an error, not a new empty
     * database.  No mutex: a worker has no threads. */
    int flags = (write ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY) | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path, &db, flags, NULL);
    if (rc != SQLITE_OK) {
        brd_error_set(err, code, "cannot open %s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return -1;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
    sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
    /* Read-only twice over: the open flag is the wall, query_only also
     * refuses a write the flag might let through (a temp table). */
    char *msg = NULL;
    rc = sqlite3_exec(db, write ? "PRAGMA schema_version" : "PRAGMA query_only=1; PRAGMA schema_version",
                      NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        brd_error_set(err, code, "%s is not a usable SQLite database: %s", path, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        sqlite3_close(db);
        return -1;
    }
    if (write && sqlite3_db_readonly(db, "main") == 1) {
        brd_error_set(err, code, "%s: \"write\": true, but this process cannot write the file (or its folder)",
                      path);
        sqlite3_close(db);
        return -1;
    }
    au->denied = 0;
    au->internal = false;
    sqlite3_set_authorizer(db, authorize, au);
    *out = db;
    return 0;
}

/* ---- the data source ------------------------------------------------------------ */

static void ds_load_done(struct brd_ds *ds)
{
    struct cfg *cfg = ds->cfg;
    if (cfg && cfg->load_db) {
        sqlite3_close(cfg->load_db);
        cfg->load_db = NULL;
    }
}

static void ds_free(struct brd_ds *ds)
{
    struct cfg *cfg = ds->cfg;
    if (!cfg)
        return;
    ds_load_done(ds);
    free(cfg->path);
    free(cfg);
    ds->cfg = NULL;
}

static int ds_load(struct brd_ds *ds, const char *dir, struct json_object *root, struct brd_diags *d)
{
    const char *file = ds->file;
    struct cfg *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return brd_diag_add(d, "%s: out of memory", file);
    ds->cfg = cfg;
    int rc = 0;
    struct json_object *path = NULL;
    json_object_object_foreach(root, key, val) {
        if (!strcmp(key, "type") || !strcmp(key, "write")) {
            continue;   /* read by brd_ds_load */
        } else if (!strcmp(key, "path")) {
            path = val;
        } else {
            rc = brd_diag_add(d, "%s: unknown field \"%s\" (a sqlite data source has type, path, write)", file,
                              key);
        }
    }
    char *text = NULL;
    if (!path) {
        rc = brd_diag_add(d, "%s: path: missing (the database file, relative to the service directory, "
                          "e.g. \"data/app.db\")", file);
    } else if (!json_object_is_type(path, json_type_string) || json_object_get_string_len(path) == 0 ||
               strlen(json_object_get_string(path)) != (size_t)json_object_get_string_len(path)) {
        rc = brd_diag_add(d, "%s: path: must be a non-empty string (without NUL)", file);
    } else {
        char msg[256];
        bool used = false;
        if (brd_env_subst(json_object_get_string(path), &text, &used, msg, sizeof msg) < 0)
            rc = brd_diag_add(d, "%s: path: %s", file, msg);
    }
    if (rc || !text) {
        free(text);
        return -1;
    }
    /* Relative to the service directory; made absolute now so that what
     * the worker opens does not depend on its working directory. */
    char *joined = NULL;
    if (text[0] == '/' ? !(joined = strdup(text)) : asprintf(&joined, "%s/%s", dir, text) < 0) {
        free(text);
        return brd_diag_add(d, "%s: out of memory", file);
    }
    cfg->path = realpath(joined, NULL);
    if (!cfg->path) {
        rc = brd_diag_add(d, "%s: path: cannot open \"%s\": %s", file, text, strerror(errno));
        free(joined);
        free(text);
        return rc;
    }
    free(joined);
    free(text);
    struct brd_error err;
    brd_error_clear(&err);
    if (open_db(cfg->path, ds->write, &cfg->load_auth, &cfg->load_db, BRD_E_LOAD, &err) != 0)
        return brd_diag_add(d, "%s: path: %s", file, err.msg);
    if (asprintf(&ds->key, "sqlite:%s:%s", ds->write ? "rw" : "ro", cfg->path) < 0) {
        ds->key = NULL;
        return brd_diag_add(d, "%s: out of memory", file);
    }
    return 0;
}

/* ---- checking a statement at load ------------------------------------------------- */

/* True when text[0..n) holds nothing but white space and comments. */
static bool only_comments(sqlite3 *db, const char *text, size_t n)
{
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    if (sqlite3_prepare_v3(db, text, (int)n, 0, &st, &tail) != SQLITE_OK)
        return false;
    bool empty = st == NULL;
    sqlite3_finalize(st);
    return empty;
}

static char *dup_or_null(const char *s, bool *nomem)
{
    if (!s)
        return NULL;
    char *c = strdup(s);
    if (!c)
        *nomem = true;
    return c;
}

static int check(const struct brd_ds *ds, const char *sql, size_t len, struct brd_sql_shape *shape,
                 struct brd_error *err)
{
    struct cfg *cfg = ds->cfg;
    memset(shape, 0, sizeof *shape);
    if (!cfg->load_db)
        return brd_error_set(err, BRD_E_INTERNAL, "data source %s is not open for checking", ds->name);
    if (len > INT_MAX)
        return brd_error_set(err, BRD_E_LOAD, "the statement is too long");
    sqlite3 *db = cfg->load_db;
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    cfg->load_auth.denied = 0;
    int rc = sqlite3_prepare_v3(db, sql, (int)len, 0, &st, &tail);
    if (rc != SQLITE_OK) {
        if (cfg->load_auth.denied)
            return brd_error_set(err, BRD_E_LOAD, "%s", denied_text(cfg->load_auth.denied));
        int at = sqlite3_error_offset(db);
        if (at >= 0)
            return brd_error_set(err, BRD_E_LOAD, "%s (at byte %d)", sqlite3_errmsg(db), at);
        return brd_error_set(err, BRD_E_LOAD, "%s", sqlite3_errmsg(db));
    }
    if (!st)
        return brd_error_set(err, BRD_E_LOAD, "no statement (only white space or comments)");
    size_t used = (size_t)(tail - sql);
    if (used < len && !only_comments(db, tail, len - used)) {
        sqlite3_finalize(st);
        return brd_error_set(err, BRD_E_LOAD, "only one statement is allowed; another starts at byte %zu",
                             used);
    }
    bool nomem = false;
    int np = sqlite3_bind_parameter_count(st), nc = sqlite3_column_count(st);
    shape->placeholders = np ? calloc((size_t)np, sizeof *shape->placeholders) : NULL;
    shape->columns = nc ? calloc((size_t)nc, sizeof *shape->columns) : NULL;
    if ((np && !shape->placeholders) || (nc && !shape->columns)) {
        sqlite3_finalize(st);
        brd_sql_shape_clear(shape);
        return brd_error_nomem(err);
    }
    for (int i = 0; i < np; i++) {
        const char *name = sqlite3_bind_parameter_name(st, i + 1);
        shape->placeholders[i] = name && name[0] == ':' ? dup_or_null(name + 1, &nomem) : NULL;
        shape->nplaceholders++;
    }
    for (int i = 0; i < nc; i++) {
        const char *name = sqlite3_column_name(st, i);
        shape->columns[i] = dup_or_null(name ? name : "", &nomem);
        shape->ncolumns++;
    }
    shape->writes = !sqlite3_stmt_readonly(st);
    sqlite3_finalize(st);
    if (nomem) {
        brd_sql_shape_clear(shape);
        return brd_error_nomem(err);
    }
    return 0;
}

/* ---- connections ------------------------------------------------------------------- */

static void disconnect(struct brd_sql_conn *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nstmts; i++) {
        sqlite3_finalize(c->stmts[i].st);
        free(c->stmts[i].sql);
    }
    free(c->stmts);
    sqlite3_close(c->db);
    free(c);
}

static int connect_ds(const struct brd_ds *ds, struct brd_sql_conn **out, struct brd_error *err)
{
    const struct cfg *cfg = ds->cfg;
    *out = NULL;
    struct brd_sql_conn *c = calloc(1, sizeof *c);
    if (!c)
        return brd_error_nomem(err);
    if (open_db(cfg->path, ds->write, &c->auth, &c->db, BRD_E_DATASOURCE_ERROR, err) != 0) {
        free(c);
        return -1;
    }
    *out = c;
    return 0;
}

/* The connection's prepared statement for s, prepared on first use. */
static sqlite3_stmt *statement(struct brd_sql_conn *c, const struct brd_sql_api *s, struct brd_error *err)
{
    for (size_t i = 0; i < c->nstmts; i++)
        if (c->stmts[i].hash == s->sql_hash && !strcmp(c->stmts[i].sql, s->sql))
            return c->stmts[i].st;
    if (c->nstmts == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        struct stmt *grown = realloc(c->stmts, cap * sizeof *grown);
        if (!grown) {
            brd_error_nomem(err);
            return NULL;
        }
        c->stmts = grown;
        c->cap = cap;
    }
    sqlite3_stmt *st = NULL;
    c->auth.denied = 0;
    int rc = sqlite3_prepare_v3(c->db, s->sql, (int)s->sql_len, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (rc != SQLITE_OK || !st) {
        brd_error_set(err, BRD_E_DATASOURCE_ERROR, "cannot prepare the statement: %s",
                      c->auth.denied ? denied_text(c->auth.denied) : sqlite3_errmsg(c->db));
        sqlite3_finalize(st);
        return NULL;
    }
    char *copy = strdup(s->sql);
    if (!copy) {
        sqlite3_finalize(st);
        brd_error_nomem(err);
        return NULL;
    }
    c->stmts[c->nstmts++] = (struct stmt){s->sql_hash, copy, st};
    return st;
}

/* ---- running ------------------------------------------------------------------------- */

struct guard {
    int64_t deadline_us;
    bool timed_out;
};

static int on_progress(void *p)
{
    struct guard *g = p;
    if (brd_now_us() < g->deadline_us)
        return 0;
    g->timed_out = true;
    return 1;
}

/* Another connection holds the lock: wait for it, in growing steps, until
 * the deadline. */
static int on_busy(void *p, int count)
{
    struct guard *g = p;
    int64_t left_us = g->deadline_us - brd_now_us();
    if (left_us <= 0) {
        g->timed_out = true;
        return 0;
    }
    int ms = count < 5 ? 1 << count : BUSY_SLEEP_MAX_MS;
    if (ms > BUSY_SLEEP_MAX_MS)
        ms = BUSY_SLEEP_MAX_MS;
    if ((int64_t)ms * 1000 > left_us)
        ms = (int)(left_us / 1000) + 1;
    poll(NULL, 0, ms);
    return 1;
}

/* Our own transaction statements, past the authorizer. */
static int internal(struct brd_sql_conn *c, const char *sql)
{
    c->auth.internal = true;
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
    c->auth.internal = false;
    return rc;
}

static int bind_one(sqlite3_stmt *st, int i, struct json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_null:
        return sqlite3_bind_null(st, i);
    case json_type_boolean:
        return sqlite3_bind_int(st, i, json_object_get_boolean(v) ? 1 : 0);
    case json_type_int:
        /* json-c keeps integers above INT64_MAX as uint64: too big for
         * SQLite's INTEGER, bound as a REAL. */
        if (json_object_get_int64(v) == INT64_MAX && json_object_get_uint64(v) > (uint64_t)INT64_MAX)
            return sqlite3_bind_double(st, i, (double)json_object_get_uint64(v));
        return sqlite3_bind_int64(st, i, json_object_get_int64(v));
    case json_type_double:
        return sqlite3_bind_double(st, i, json_object_get_double(v));
    case json_type_string:
        /* The value lives until the statement is reset and its bindings
         * cleared, both before run returns. */
        return sqlite3_bind_text64(st, i, json_object_get_string(v), (sqlite3_uint64)json_object_get_string_len(v),
                                   SQLITE_STATIC, SQLITE_UTF8);
    case json_type_object:
    case json_type_array: {
        size_t len;
        const char *text = brd_json_compact(v, &len);
        return sqlite3_bind_text64(st, i, text, (sqlite3_uint64)len, SQLITE_TRANSIENT, SQLITE_UTF8);
    }
    }
    return SQLITE_MISUSE;
}

static int column_value(sqlite3_stmt *st, int i, enum brd_sqlval_kind kind, struct json_object **out,
                        struct brd_error *err)
{
    *out = NULL;
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER: {
        sqlite3_int64 x = sqlite3_column_int64(st, i);
        *out = kind == BRD_SQLVAL_BOOL ? json_object_new_boolean(x != 0) : json_object_new_int64(x);
        return *out ? 0 : brd_error_nomem(err);
    }
    case SQLITE_FLOAT: {
        double x = sqlite3_column_double(st, i);
        /* JSON has no infinities: they come back as null. */
        if (!isfinite(x))
            return 0;
        *out = brd_json_new_double(x);
        return *out ? 0 : brd_error_nomem(err);
    }
    case SQLITE_TEXT: {
        const char *p = (const char *)sqlite3_column_text(st, i);
        int n = sqlite3_column_bytes(st, i);
        if (!p)
            return brd_error_nomem(err);
        if (!brd_sqlval_utf8_valid(p, (size_t)n))
            return brd_error_set(err, BRD_E_DATASOURCE_ERROR,
                                 "column \"%s\" holds text that is not valid UTF-8 (store bytes as a BLOB)",
                                 sqlite3_column_name(st, i));
        if (kind == BRD_SQLVAL_JSON) {
            struct brd_error ignored;
            if (brd_json_parse(p, (size_t)n, out, &ignored) == 0)
                return 0;
            /* Not JSON after all: handed on as the text it is. */
        }
        if (kind == BRD_SQLVAL_DATETIME)
            return brd_sqlval_datetime(p, (size_t)n, out) == 0 ? 0 : brd_error_nomem(err);
        *out = json_object_new_string_len(p, n);
        return *out ? 0 : brd_error_nomem(err);
    }
    case SQLITE_BLOB: {
        const void *p = sqlite3_column_blob(st, i);
        int n = sqlite3_column_bytes(st, i);
        if (!p && n > 0)
            return brd_error_nomem(err);
        return brd_sqlval_base64(p, (size_t)n, out) == 0 ? 0 : brd_error_nomem(err);
    }
    default:
        return 0;
    }
}

/* SQLite result codes that mean the connection cannot be trusted any more. */
static bool is_broken(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_IOERR:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_CANTOPEN:
        return true;
    default:
        return false;
    }
}

/* The error for a step that did not end in SQLITE_DONE. */
static int step_error(struct brd_sql_conn *c, int rc, const struct guard *g, struct brd_sql_outcome *out,
                      struct brd_error *err)
{
    int primary = rc & 0xff;
    if ((primary == SQLITE_INTERRUPT || primary == SQLITE_BUSY) && g->timed_out)
        return brd_error_set(err, BRD_E_DATASOURCE_TIMEOUT, "%s",
                             primary == SQLITE_BUSY ? "the database stayed locked by another writer"
                                                    : "the statement was stopped at its deadline");
    out->broken = is_broken(rc);
    return brd_error_set(err, BRD_E_DATASOURCE_ERROR, "%s", sqlite3_errmsg(c->db));
}

/* Steps st to its end, appending each row to data. */
static int fetch(struct brd_sql_conn *c, sqlite3_stmt *st, const struct brd_sql_exec *q, const struct guard *g,
                 struct json_object *data, struct brd_sql_outcome *out, struct brd_error *err)
{
    const struct brd_sql_api *s = q->api->sql;
    int ncols = sqlite3_column_count(st);
    enum brd_sqlval_kind kinds_local[32], *kinds = kinds_local;
    if (ncols > 32 && !(kinds = calloc((size_t)ncols, sizeof *kinds)))
        return brd_error_nomem(err);
    for (int i = 0; i < ncols; i++)
        kinds[i] = brd_sqlval_kind_of(sqlite3_column_decltype(st, i));
    int status = 0;
    for (;;) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW) {
            status = step_error(c, rc, g, out, err);
            break;
        }
        if (out->rows >= s->max_rows) {
            status = brd_sql_max_rows_error(err, s->max_rows);
            break;
        }
        struct json_object *row = json_object_new_object();
        if (!row) {
            status = brd_error_nomem(err);
            break;
        }
        for (int i = 0; i < ncols && status == 0; i++) {
            struct json_object *v = NULL;
            if (column_value(st, i, kinds[i], &v, err) != 0)
                status = -1;
            else if (brd_json_add(row, sqlite3_column_name(st, i), v) != 0)
                status = brd_error_nomem(err);
        }
        if (status != 0 || brd_json_append(data, row) != 0) {
            if (status == 0)
                status = brd_error_nomem(err);
            else
                json_object_put(row);
            break;
        }
        out->rows++;
    }
    if (kinds != kinds_local)
        free(kinds);
    return status;
}

static int run(struct brd_sql_conn *c, const struct brd_sql_exec *q, struct brd_sql_outcome *out,
               struct brd_error *err)
{
    const struct brd_api *api = q->api;
    const struct brd_sql_api *s = api->sql;
    memset(out, 0, sizeof *out);
    out->affected = -1;
    brd_error_clear(err);
    sqlite3_stmt *st = statement(c, s, err);
    if (!st)
        return -1;
    struct guard g = {q->deadline_us, false};
    int status = 0;
    for (size_t k = 0; k < s->nbind && status == 0; k++) {
        const struct brd_param *p = &api->params.items[s->bind[k]];
        struct json_object *v = NULL;
        json_object_object_get_ex(q->values, p->name, &v);
        int rc = bind_one(st, (int)k + 1, v);
        if (rc != SQLITE_OK)
            status = brd_error_set(err, BRD_E_DATASOURCE_ERROR, "cannot bind :%s: %s", p->name, sqlite3_errstr(rc));
    }
    struct json_object *raw = json_object_new_object(), *data = json_object_new_array();
    if (status == 0 && (!raw || !data))
        status = brd_error_nomem(err);
    sqlite3_progress_handler(c->db, PROGRESS_STEPS, on_progress, &g);
    sqlite3_busy_handler(c->db, on_busy, &g);
    if (status == 0 && brd_now_us() >= g.deadline_us) {
        g.timed_out = true;
        status = brd_error_set(err, BRD_E_DATASOURCE_TIMEOUT, "the deadline passed before the statement started");
    }
    /* A write runs in a transaction of its own, so that max_rows, a
     * timeout or any error leaves the database as it was. */
    bool in_tx = false;
    if (status == 0 && s->writes) {
        int rc = internal(c, "BEGIN IMMEDIATE");
        if (rc != SQLITE_OK)
            status = step_error(c, rc, &g, out, err);
        else
            in_tx = true;
    }
    if (status == 0)
        status = fetch(c, st, q, &g, data, out, err);
    if (status == 0 && s->writes)
        out->affected = sqlite3_changes64(c->db);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (in_tx) {
        int rc = status == 0 ? internal(c, "COMMIT") : SQLITE_OK;
        if (rc != SQLITE_OK)
            status = step_error(c, rc, &g, out, err);
        if (status != 0)
            internal(c, "ROLLBACK");
    }
    /* Whatever happened, the kept connection is left with no transaction. */
    if (!sqlite3_get_autocommit(c->db))
        internal(c, "ROLLBACK");
    sqlite3_progress_handler(c->db, 0, NULL, NULL);
    sqlite3_busy_handler(c->db, NULL, NULL);
    if (status == 0) {
        if (brd_json_add(raw, "data", data) != 0 ||
            (s->writes && brd_json_add(raw, "affected_rows", json_object_new_int64(out->affected)) != 0)) {
            json_object_put(raw);
            return brd_error_nomem(err);
        }
        out->raw = raw;
        return 0;
    }
    json_object_put(raw);
    json_object_put(data);
    out->rows = 0;
    return -1;
}

const struct brd_sql_driver brd_sqlite_driver = {
    .type = "sqlite",
    .ds_load = ds_load,
    .ds_load_done = ds_load_done,
    .ds_free = ds_free,
    .check = check,
    .connect = connect_ds,
    .disconnect = disconnect,
    .run = run,
};
