/* sql_api.h — the SQL part of an API of "type": "sql" (SPEC section 2b): its
 * data source, its statement checked against the database at load, and
 * which declared parameter each placeholder binds.  Owned by its struct
 * brd_api (api->sql), immutable after load.
 */
#ifndef BRD_SQL_API_H
#define BRD_SQL_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"
#include "base/jsonutil.h"
#include "datasource.h"

#define BRD_SQL_DEFAULT_MAX_ROWS 1000
#define BRD_SQL_MAX_MAX_ROWS 1000000

struct brd_api;

struct brd_sql_api {
    const struct brd_ds *ds;   /* borrowed from the service, which outlives its APIs */
    char *sql;                 /* the statement as written */
    size_t sql_len;
    uint64_t sql_hash;         /* FNV-1a of sql: a connection's statement cache key */
    char *native;              /* what the server prepares (:name rewritten to $k / ?);
                                  NULL for SQLite, which takes :name itself */
    size_t native_len;
    int max_rows;              /* more rows is a DATASOURCE_ERROR; default 1000 */
    bool writes;               /* the statement changes data (its source has "write": true) */
    size_t *bind;              /* positional placeholder k → index in api->params.items */
    size_t nbind;
};

/* The fields of apis/NAME.json that only a SQL API has. */
struct brd_sql_fields {
    struct json_object *datasource, *sql, *max_rows;   /* borrowed; NULL: absent */
};

/* Completes api (type sql; api->file, api->name and api->params loaded —
 * params_ok false when its params did not load, so placeholders are not
 * checked against them): finds the data source among dss[0..nds), checks
 * the statement through its driver (a syntax error, an unknown table or
 * column is a problem quoting the database's message), matches every
 * :name to a declared parameter and every declared parameter to a :name,
 * refuses a statement that changes data on a source without "write": true.
 * Problems go to d prefixed with api->file.  Returns 0 with api->sql, or -1. */
int brd_sql_api_load(struct brd_api *api, const struct brd_sql_fields *f, const struct brd_ds *const *dss,
                     size_t nds, bool params_ok, struct brd_diags *d);

/* `braid check --connect`: prepares the statement of a loaded SQL API on
 * its live database when its driver checks there (PostgreSQL, MySQL),
 * and checks the result's column names.  Problems go to d prefixed with
 * api->file (never a password or DSN).  0 (also for SQLite, checked at
 * load already), or -1. */
int brd_sql_api_check_live(const struct brd_api *api, struct brd_diags *d);

void brd_sql_api_free(struct brd_sql_api *s);

#endif
