/* pg_source.c — a PostgreSQL data source's file (its fields, the
 * connection identity), its statements checked at load as text, the
 * blocking connection of `braid check --connect`, and messages scrubbed of
 * what the DSN holds (see pg_source.h; the connections that run statements:
 * pg_driver.c). */
#include "pg_source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "envsubst.h"
#include "sql_api.h"
#include "sql_placeholder.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 2000
#define MAX_CONNECT_TIMEOUT_MS 60000
#define MAX_POOL 64

/* Built-in type OIDs (pg_type.dat; fixed across server versions). */
#define OID_BOOL 16
#define OID_INT8 20
#define OID_FLOAT8 701

/* ---- the data source ---------------------------------------------------------------- */

void brd_pg_cfg_clear(struct brd_pg_cfg *c)
{
    free(c->dsn);
    free(c->password);
    memset(c, 0, sizeof *c);
}

int brd_pg_cfg_copy(struct brd_pg_cfg *to, const struct brd_pg_cfg *from)
{
    memset(to, 0, sizeof *to);
    to->connect_timeout_ms = from->connect_timeout_ms;
    if ((from->dsn && !(to->dsn = strdup(from->dsn))) ||
        (from->password && !(to->password = strdup(from->password)))) {
        brd_pg_cfg_clear(to);
        return -1;
    }
    return 0;
}

void brd_pg_ds_free(struct brd_ds *ds)
{
    struct brd_pg_cfg *cfg = ds->cfg;
    if (!cfg)
        return;
    brd_pg_cfg_clear(cfg);
    free(cfg);
    ds->cfg = NULL;
}

/* The DSN substituted and parsed: a string libpq reads, and the password
 * it holds kept aside for scrubbing.  libpq's own parse message is not
 * shown: it may quote the text around the mistake, password included. */
static int dsn_field(const char *file, struct json_object *val, struct brd_pg_cfg *cfg, struct brd_diags *d)
{
    if (!json_object_is_type(val, json_type_string) ||
        strlen(json_object_get_string(val)) != (size_t)json_object_get_string_len(val))
        return brd_diag_add(d, "%s: dsn: must be a string (without NUL): a libpq connection string "
                            "(\"host=127.0.0.1 dbname=app user=app\") or URI (\"postgresql://app@127.0.0.1/app\")",
                            file);
    char msg[256];
    bool used = false;
    if (brd_env_subst(json_object_get_string(val), &cfg->dsn, &used, msg, sizeof msg) < 0)
        return brd_diag_add(d, "%s: dsn: %s", file, msg);
    if (!cfg->dsn[0])
        return brd_diag_add(d, "%s: dsn: must not be empty", file);
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(cfg->dsn, &perr);
    PQfreemem(perr);
    if (!opts)
        return brd_diag_add(d, "%s: dsn: not a valid libpq connection string (key=value pairs, e.g. "
                            "\"host=127.0.0.1 port=5432 dbname=app user=app\") or URI (\"postgresql://"
                            "app@127.0.0.1:5432/app\"): check its quoting and key names", file);
    int rc = 0;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!strcmp(o->keyword, "password") && o->val && o->val[0] && !(cfg->password = strdup(o->val)))
            rc = brd_diag_add(d, "%s: out of memory", file);
    }
    PQconninfoFree(opts);
    return rc;
}

int brd_pg_ds_load(struct brd_ds *ds, const char *dir, struct json_object *root, struct brd_diags *d)
{
    (void)dir;
    const char *file = ds->file;
    struct brd_pg_cfg *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return brd_diag_add(d, "%s: out of memory", file);
    ds->cfg = cfg;
    cfg->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
    int rc = 0;
    bool has_dsn = false;
    json_object_object_foreach(root, key, val) {
        if (!strcmp(key, "type") || !strcmp(key, "write")) {
            continue;   /* read by brd_ds_load */
        } else if (!strcmp(key, "dsn")) {
            has_dsn = true;
            rc |= dsn_field(file, val, cfg, d);
        } else if (!strcmp(key, "pool")) {
            rc |= brd_ds_int_field(file, key, val, 1, MAX_POOL, &ds->pool, d);
        } else if (!strcmp(key, "connect_timeout_ms")) {
            rc |= brd_ds_int_field(file, key, val, 1, MAX_CONNECT_TIMEOUT_MS, &cfg->connect_timeout_ms, d);
        } else {
            rc = brd_diag_add(d, "%s: unknown field \"%s\" (a postgresql data source has type, dsn, pool, "
                              "connect_timeout_ms, write)", file, key);
        }
    }
    if (!has_dsn)
        rc = brd_diag_add(d, "%s: dsn: missing (a libpq connection string or URI, e.g. "
                          "\"${env.APP_PG_DSN}\")", file);
    if (rc)
        return -1;
    if (asprintf(&ds->key, "postgresql:%s:%zu:%s", ds->write ? "rw" : "ro", strlen(cfg->dsn), cfg->dsn) < 0) {
        ds->key = NULL;
        return brd_diag_add(d, "%s: out of memory", file);
    }
    return 0;
}

void brd_pg_params_fill(struct brd_pg_params *p, const struct brd_pg_cfg *cfg, bool with_timeout)
{
    size_t n = 0;
    /* Later keywords override what the expanded DSN set, so the defaults
     * that must not override it come as fallback_application_name. */
    p->keys[n] = "dbname", p->values[n++] = cfg->dsn;
    p->keys[n] = "client_encoding", p->values[n++] = "UTF8";
    p->keys[n] = "fallback_application_name", p->values[n++] = "braid";
    if (with_timeout) {
        int secs = (cfg->connect_timeout_ms + 999) / 1000;
        snprintf(p->timeout, sizeof p->timeout, "%d", secs < 2 ? 2 : secs);
        p->keys[n] = "connect_timeout", p->values[n++] = p->timeout;
    }
    p->keys[n] = NULL, p->values[n] = NULL;
}

/* Replaces every occurrence of secret in buf by "<redacted>". */
static void redact(char *buf, size_t size, const char *secret)
{
    static const char mark[] = "<redacted>";
    size_t n = secret ? strlen(secret) : 0;
    if (n < 3)
        return;   /* a one- or two-character password would blank out ordinary words */
    char *p;
    while ((p = strstr(buf, secret))) {
        size_t tail = strlen(p + n);
        if ((size_t)(p - buf) + sizeof mark - 1 + tail >= size)
            tail = size - 1 - (size_t)(p - buf) - (sizeof mark - 1);
        memmove(p + sizeof mark - 1, p + n, tail);
        memcpy(p, mark, sizeof mark - 1);
        p[sizeof mark - 1 + tail] = '\0';
    }
}

const char *brd_pg_clean(const struct brd_pg_cfg *cfg, const char *msg, char *buf, size_t size)
{
    size_t o = 0;
    if (!msg || !msg[0])
        msg = "no message from libpq";
    for (const char *p = msg; *p && o + 3 < size; p++) {
        if (*p == '\n') {
            if (!p[1])
                break;
            buf[o++] = ';';
            buf[o++] = ' ';
            while (p[1] == ' ' || p[1] == '\t')
                p++;
        } else if (*p == '\t') {
            buf[o++] = ' ';
        } else {
            buf[o++] = *p;
        }
    }
    buf[o] = '\0';
    redact(buf, size, cfg->dsn);
    redact(buf, size, cfg->password);
    return buf;
}

void brd_pg_param_types(const struct brd_api *api, Oid *types)
{
    const struct brd_sql_api *s = api->sql;
    for (size_t k = 0; k < s->nbind; k++) {
        switch (api->params.items[s->bind[k]].type) {
        case BRD_PT_INT:
            types[k] = OID_INT8;
            break;
        case BRD_PT_NUMBER:
            types[k] = OID_FLOAT8;
            break;
        case BRD_PT_BOOL:
            types[k] = OID_BOOL;
            break;
        default:
            types[k] = 0;
            break;
        }
    }
}

/* ---- checking a statement ------------------------------------------------------------ */

int brd_pg_check(const struct brd_ds *ds, const char *sql, size_t len, struct brd_sql_shape *shape,
                 struct brd_error *err)
{
    (void)ds;
    memset(shape, 0, sizeof *shape);
    struct brd_sql_rewrite r;
    if (brd_sql_rewrite(sql, len, BRD_SQL_POSTGRESQL, &r, err) != 0)
        return -1;
    shape->native = r.native;
    shape->placeholders = r.names;
    shape->nplaceholders = r.nnames;
    shape->writes = r.writes;
    return 0;
}

/* The server's message of a failed result (its primary text and, when
 * there is one, its hint), scrubbed. */
static int result_error(const struct brd_pg_cfg *cfg, PGconn *pg, PGresult *res, struct brd_error *err)
{
    char buf[1024];
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;
    char text[1024];
    if (primary)
        snprintf(text, sizeof text, "%s%s%s", primary, hint ? " (hint: " : "", hint ? hint : "");
    else
        snprintf(text, sizeof text, "%s", PQerrorMessage(pg));
    if (primary && hint)
        strncat(text, ")", sizeof text - strlen(text) - 1);
    return brd_error_set(err, BRD_E_DATASOURCE_ERROR, "%s", brd_pg_clean(cfg, text, buf, sizeof buf));
}

int brd_pg_check_live(const struct brd_ds *ds, const struct brd_api *api, struct brd_sql_shape *shape,
                      struct brd_error *err)
{
    const struct brd_pg_cfg *cfg = ds->cfg;
    const struct brd_sql_api *s = api->sql;
    struct brd_pg_params p;
    brd_pg_params_fill(&p, cfg, true);
    PGconn *pg = PQconnectdbParams(p.keys, p.values, 1);
    char buf[1024];
    if (!pg)
        return brd_error_nomem(err);
    if (PQstatus(pg) != CONNECTION_OK) {
        brd_error_set(err, BRD_E_DATASOURCE_ERROR, "cannot connect: %s",
                      brd_pg_clean(cfg, PQerrorMessage(pg), buf, sizeof buf));
        PQfinish(pg);
        return -1;
    }
    Oid *types = s->nbind ? calloc(s->nbind, sizeof *types) : NULL;
    if (s->nbind && !types) {
        PQfinish(pg);
        return brd_error_nomem(err);
    }
    brd_pg_param_types(api, types);
    int rc = 0;
    PGresult *res = PQprepare(pg, "", s->native ? s->native : s->sql, (int)s->nbind, types);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = result_error(cfg, pg, res, err);
    } else {
        PQclear(res);
        res = PQdescribePrepared(pg, "");
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            rc = result_error(cfg, pg, res, err);
        } else {
            int n = PQnfields(res);
            if (n > 0 && !(shape->columns = calloc((size_t)n, sizeof *shape->columns)))
                rc = brd_error_nomem(err);
            for (int i = 0; i < n && rc == 0; i++) {
                if (!(shape->columns[i] = strdup(PQfname(res, i))))
                    rc = brd_error_nomem(err);
                else
                    shape->ncolumns++;
            }
        }
    }
    PQclear(res);
    free(types);
    PQfinish(pg);
    return rc;
}
