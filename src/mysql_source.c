/* mysql_source.c — a MySQL/MariaDB data source's file (its fields, the
 * connection identity), its statements checked at load as text, and the
 * blocking connection of `braid check --connect` and KILL QUERY (see
 * mysql_source.h; the connections that run statements: mysql_driver.c). */
#include "mysql_source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "envsubst.h"
#include "sql_api.h"
#include "sql_placeholder.h"

#define DEFAULT_PORT 3306
#define DEFAULT_CONNECT_TIMEOUT_MS 2000
#define MAX_CONNECT_TIMEOUT_MS 60000
#define MAX_POOL 64

/* ---- the data source ---------------------------------------------------------------- */

void brd_my_cfg_clear(struct brd_my_cfg *c)
{
    free(c->host);
    free(c->socket);
    free(c->user);
    free(c->password);
    free(c->database);
    memset(c, 0, sizeof *c);
}

int brd_my_cfg_copy(struct brd_my_cfg *to, const struct brd_my_cfg *from)
{
    memset(to, 0, sizeof *to);
    to->port = from->port;
    to->connect_timeout_ms = from->connect_timeout_ms;
    const char *src[] = {from->host, from->socket, from->user, from->password, from->database};
    char **dst[] = {&to->host, &to->socket, &to->user, &to->password, &to->database};
    for (size_t i = 0; i < 5; i++)
        if (src[i] && !(*dst[i] = strdup(src[i]))) {
            brd_my_cfg_clear(to);
            return -1;
        }
    return 0;
}

void brd_my_ds_free(struct brd_ds *ds)
{
    struct brd_my_cfg *cfg = ds->cfg;
    if (!cfg)
        return;
    brd_my_cfg_clear(cfg);
    free(cfg);
    ds->cfg = NULL;
}

/* A string field, ${env.X} substituted, into *out. */
static int string_field(const char *file, const char *key, struct json_object *val, char **out,
                        struct brd_diags *d)
{
    if (!json_object_is_type(val, json_type_string) ||
        strlen(json_object_get_string(val)) != (size_t)json_object_get_string_len(val))
        return brd_diag_add(d, "%s: %s: must be a string (without NUL)", file, key);
    char msg[256];
    bool used = false;
    free(*out);
    *out = NULL;
    if (brd_env_subst(json_object_get_string(val), out, &used, msg, sizeof msg) < 0)
        return brd_diag_add(d, "%s: %s: %s", file, key, msg);
    return 0;
}

int brd_my_ds_load(struct brd_ds *ds, const char *dir, struct json_object *root, struct brd_diags *d)
{
    (void)dir;
    const char *file = ds->file;
    struct brd_my_cfg *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return brd_diag_add(d, "%s: out of memory", file);
    ds->cfg = cfg;
    cfg->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
    int rc = 0, port = 0;
    bool has_port = false;
    json_object_object_foreach(root, key, val) {
        if (!strcmp(key, "type") || !strcmp(key, "write")) {
            continue;   /* read by brd_ds_load */
        } else if (!strcmp(key, "host")) {
            rc |= string_field(file, key, val, &cfg->host, d);
        } else if (!strcmp(key, "socket")) {
            rc |= string_field(file, key, val, &cfg->socket, d);
        } else if (!strcmp(key, "user")) {
            rc |= string_field(file, key, val, &cfg->user, d);
        } else if (!strcmp(key, "password")) {
            rc |= string_field(file, key, val, &cfg->password, d);
        } else if (!strcmp(key, "database")) {
            rc |= string_field(file, key, val, &cfg->database, d);
        } else if (!strcmp(key, "port")) {
            has_port = true;
            rc |= brd_ds_int_field(file, key, val, 1, 65535, &port, d);
        } else if (!strcmp(key, "pool")) {
            rc |= brd_ds_int_field(file, key, val, 1, MAX_POOL, &ds->pool, d);
        } else if (!strcmp(key, "connect_timeout_ms")) {
            rc |= brd_ds_int_field(file, key, val, 1, MAX_CONNECT_TIMEOUT_MS, &cfg->connect_timeout_ms, d);
        } else {
            rc = brd_diag_add(d, "%s: unknown field \"%s\" (a mysql data source has type, host, port, socket, "
                              "user, password, database, pool, connect_timeout_ms, write)", file, key);
        }
    }
    if (rc)
        return -1;
    if (!cfg->host == !cfg->socket)
        rc = brd_diag_add(d, "%s: give exactly one of host (\"127.0.0.1\", with port) and socket "
                          "(\"/run/mysqld/mysqld.sock\")", file);
    else if ((cfg->host && !cfg->host[0]) || (cfg->socket && !cfg->socket[0]))
        rc = brd_diag_add(d, "%s: %s: must not be empty", file, cfg->host ? "host" : "socket");
    if (has_port && !cfg->host)
        rc = brd_diag_add(d, "%s: port: only with host (a socket has no port)", file);
    if (!cfg->user || !cfg->user[0])
        rc = brd_diag_add(d, "%s: user: missing (the account to connect as, e.g. \"app\")", file);
    if (rc)
        return -1;
    cfg->port = cfg->host ? (unsigned)(has_port ? port : DEFAULT_PORT) : 0;
    const char *pw = cfg->password ? cfg->password : "", *db = cfg->database ? cfg->database : "";
    const char *where = cfg->host ? cfg->host : cfg->socket;
    if (asprintf(&ds->key, "mysql:%s:%s:%zu:%s:%u:%zu:%s:%zu:%s:%zu:%s", ds->write ? "rw" : "ro",
                 cfg->host ? "tcp" : "unix", strlen(where), where, cfg->port, strlen(cfg->user), cfg->user,
                 strlen(pw), pw, strlen(db), db) < 0) {
        ds->key = NULL;
        return brd_diag_add(d, "%s: out of memory", file);
    }
    return 0;
}

/* ---- checking a statement at load --------------------------------------------------- */

int brd_my_check(const struct brd_ds *ds, const char *sql, size_t len, struct brd_sql_shape *shape,
                 struct brd_error *err)
{
    (void)ds;
    memset(shape, 0, sizeof *shape);
    struct brd_sql_rewrite r;
    if (brd_sql_rewrite(sql, len, BRD_SQL_MYSQL, &r, err) != 0)
        return -1;
    shape->native = r.native;
    shape->placeholders = r.names;
    shape->nplaceholders = r.nnames;
    shape->writes = r.writes;
    return 0;
}

/* A blocking connection for check --connect and KILL QUERY, every wait
 * bounded by the source's connect timeout.  NULL with err. */
MYSQL *brd_my_connect_blocking(const struct brd_my_cfg *cfg, struct brd_error *err)
{
    MYSQL *my = mysql_init(NULL);
    if (!my) {
        brd_error_nomem(err);
        return NULL;
    }
    unsigned secs = (unsigned)((cfg->connect_timeout_ms + 999) / 1000);
    mysql_options(my, MYSQL_OPT_CONNECT_TIMEOUT, &secs);
    mysql_options(my, MYSQL_OPT_READ_TIMEOUT, &secs);
    mysql_options(my, MYSQL_OPT_WRITE_TIMEOUT, &secs);
    mysql_options(my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (!mysql_real_connect(my, cfg->host, cfg->user, cfg->password, cfg->database, cfg->port, cfg->socket,
                            CLIENT_FOUND_ROWS)) {
        brd_error_set(err, BRD_E_DATASOURCE_ERROR, "cannot connect: %s", mysql_error(my));
        mysql_close(my);
        return NULL;
    }
    return my;
}

int brd_my_check_live(const struct brd_ds *ds, const struct brd_api *api, struct brd_sql_shape *shape,
                      struct brd_error *err)
{
    const char *native = api->sql->native ? api->sql->native : api->sql->sql;
    size_t len = api->sql->native ? api->sql->native_len : api->sql->sql_len;
    MYSQL *my = brd_my_connect_blocking(ds->cfg, err);
    if (!my)
        return -1;
    int rc = 0;
    MYSQL_STMT *st = mysql_stmt_init(my);
    MYSQL_RES *meta = NULL;
    if (!st) {
        rc = brd_error_nomem(err);
    } else if (mysql_stmt_prepare(st, native, (unsigned long)len) != 0) {
        rc = brd_error_set(err, BRD_E_DATASOURCE_ERROR, "%s", mysql_stmt_error(st));
    } else if ((meta = mysql_stmt_result_metadata(st))) {
        unsigned n = mysql_num_fields(meta);
        MYSQL_FIELD *f = mysql_fetch_fields(meta);
        if (n && !(shape->columns = calloc(n, sizeof *shape->columns)))
            rc = brd_error_nomem(err);
        for (unsigned i = 0; i < n && rc == 0; i++) {
            if (!(shape->columns[i] = strdup(f[i].name)))
                rc = brd_error_nomem(err);
            else
                shape->ncolumns++;
        }
        mysql_free_result(meta);
    }
    if (st)
        mysql_stmt_close(st);
    mysql_close(my);
    return rc;
}
