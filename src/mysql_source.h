/* mysql_source.h — the MySQL/MariaDB data source for mysql_driver.c: its
 * fields, load-time checks and blocking connections (mysql_source.c). */
#ifndef BRD_MYSQL_SOURCE_H
#define BRD_MYSQL_SOURCE_H

#include <mysql.h>

#include "sql_driver.h"

/* A source's fields (ds->cfg); a connection keeps a copy of its own, as
 * it outlives a reload of its source. */
struct brd_my_cfg {
    char *host, *socket, *user, *password, *database;
    unsigned port;
    int connect_timeout_ms;
};

void brd_my_cfg_clear(struct brd_my_cfg *c);
/* 0, or -1 when out of memory (to left empty). */
int brd_my_cfg_copy(struct brd_my_cfg *to, const struct brd_my_cfg *from);

/* The driver's ds_load, ds_free, check and check_live
 * (sql_driver.h). */
int brd_my_ds_load(struct brd_ds *ds, const char *dir, struct json_object *root, struct brd_diags *d);
void brd_my_ds_free(struct brd_ds *ds);
int brd_my_check(const struct brd_ds *ds, const char *sql, size_t len, struct brd_sql_shape *shape,
                 struct brd_error *err);
int brd_my_check_live(const struct brd_ds *ds, const struct brd_api *api, struct brd_sql_shape *shape,
                      struct brd_error *err);

/* A blocking connection, every wait bounded by cfg's connect timeout
 * (rounded up to whole seconds).  NULL with err (BRD_E_DATASOURCE_ERROR
 * with the client's message, never the password). */
MYSQL *brd_my_connect_blocking(const struct brd_my_cfg *cfg, struct brd_error *err);

#endif
