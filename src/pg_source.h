/* pg_source.h — the PostgreSQL data source for pg_driver.c: its fields,
 * the load-time check of a statement, the blocking connection of `braid
 * check --connect`, and messages scrubbed of what the DSN holds
 * (pg_source.c). */
#ifndef BRD_PG_SOURCE_H
#define BRD_PG_SOURCE_H

#include <libpq-fe.h>

#include "sql_driver.h"

/* A source's fields (ds->cfg); a connection keeps a copy of its own, as it
 * outlives a reload of its source. */
struct brd_pg_cfg {
    char *dsn;               /* any libpq connection string or URI, ${env.X} substituted */
    char *password;          /* the password the DSN holds, if any: scrubbed from messages */
    int connect_timeout_ms;
};

void brd_pg_cfg_clear(struct brd_pg_cfg *c);
/* 0, or -1 when out of memory (to left empty). */
int brd_pg_cfg_copy(struct brd_pg_cfg *to, const struct brd_pg_cfg *from);

/* The driver's ds_load, ds_free, check and check_live
 * (sql_driver.h). */
int brd_pg_ds_load(struct brd_ds *ds, const char *dir, struct json_object *root, struct brd_diags *d);
void brd_pg_ds_free(struct brd_ds *ds);
int brd_pg_check(const struct brd_ds *ds, const char *sql, size_t len, struct brd_sql_shape *shape,
                 struct brd_error *err);
int brd_pg_check_live(const struct brd_ds *ds, const struct brd_api *api, struct brd_sql_shape *shape,
                      struct brd_error *err);

/* The keywords and values a connection starts with: the DSN expanded,
 * then UTF-8 as the client encoding and "braid" as the application name
 * unless the DSN names one; with_timeout: the connect timeout in whole
 * seconds (libpq's own, for blocking connections).  The arrays are
 * NULL-terminated and point into cfg and buf. */
struct brd_pg_params {
    const char *keys[6];
    const char *values[6];
    char timeout[16];
};
void brd_pg_params_fill(struct brd_pg_params *p, const struct brd_pg_cfg *cfg, bool with_timeout);

/* A message from libpq or the server made fit to show: newlines folded,
 * the trailing one dropped, and the password and the DSN (should either
 * ever appear) replaced by "<redacted>".  Writes into buf; returns buf. */
const char *brd_pg_clean(const struct brd_pg_cfg *cfg, const char *msg, char *buf, size_t size);

/* The parameter types a statement is prepared with, by declared type:
 * int → int8, number → float8, bool → bool, anything else 0 (the server
 * infers it from the statement).  types has api->sql->nbind entries. */
void brd_pg_param_types(const struct brd_api *api, Oid *types);

#endif
