/* sql_driver.h — what a database driver gives the SQL module: reading its
 * data source fields, checking a statement at load, connecting, and running
 * one statement with bound values into the SPEC's raw result.
 *
 * One driver per data source type.  SQLite (sqlite_driver.c) runs a
 * statement inline: `run` returns when it has finished.  The drivers that
 * follow (PostgreSQL over libpq, MySQL/MariaDB over MariaDB Connector/C)
 * run without blocking the worker; they add start / fd / step / cancel
 * members beside `run` and the SQL module joins their sockets to the
 * engine's wait loop (docs/datasources.md, "What is next").
 *
 * Only the SQL module (sql_api.c, sql.c, datasource.c) includes this.
 */
#ifndef BRD_SQL_DRIVER_H
#define BRD_SQL_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "base/diag.h"
#include "base/error.h"
#include "base/jsonutil.h"
#include "datasource.h"

struct brd_sql_conn;   /* a driver's open connection (the driver's own type) */

/* What checking a statement at load found out. */
struct brd_sql_shape {
    char **placeholders;   /* positional placeholder k (0-based) is :placeholders[k]
                              (the name without ':'), NULL for one that is not :name */
    size_t nplaceholders;
    char **columns;        /* result column names in select order */
    size_t ncolumns;
    bool writes;           /* the statement may change data */
};

/* One execution of a SQL API's statement. */
struct brd_sql_exec {
    const struct brd_api *api;     /* type sql: api->sql has the statement and bind map */
    struct json_object *values;    /* borrowed: parameter name → converted value (absent: NULL) */
    int64_t deadline_us;           /* absolute CLOCK_MONOTONIC µs; past it the statement is
                                      stopped (and a write rolled back):
                                      BRD_E_DATASOURCE_TIMEOUT */
};

struct brd_sql_outcome {
    struct json_object *raw;       /* {"data": [row, ...]} (+ "affected_rows" for a write) */
    int64_t rows;                  /* rows in data */
    int64_t affected;              /* a write's affected rows; -1 for a read */
    bool broken;                   /* the connection is not usable any more: drop it */
};

struct brd_sql_driver {
    const char *type;              /* "sqlite" */
    /* Load: the type's fields of root (every member but "type"), ${env.X}
     * substituted; fills ds->cfg and ds->key.  Problems go to d prefixed
     * with ds->file. */
    int (*ds_load)(struct brd_ds *ds, const char *dir, struct json_object *root, struct brd_diags *d);
    /* Closes what ds_load kept open for check. */
    void (*ds_load_done)(struct brd_ds *ds);
    void (*ds_free)(struct brd_ds *ds);
    /* Load: prepares sql[0..len) against the database (or notes it for the
     * first connection).  0 with *shape (free with brd_sql_shape_clear), or
     * -1 with err holding the database's message (BRD_E_LOAD). */
    int (*check)(const struct brd_ds *ds, const char *sql, size_t len, struct brd_sql_shape *shape,
                 struct brd_error *err);
    /* Run time, in the worker: a new connection.  -1 with
     * BRD_E_DATASOURCE_ERROR (never naming a password or DSN). */
    int (*connect)(const struct brd_ds *ds, struct brd_sql_conn **out, struct brd_error *err);
    void (*disconnect)(struct brd_sql_conn *c);
    /* Runs q on c to its end: 0 with *out filled, or -1 with err
     * (BRD_E_DATASOURCE_ERROR, BRD_E_DATASOURCE_TIMEOUT) and out->broken
     * telling whether to drop c.  Nothing is left bound or open on c. */
    int (*run)(struct brd_sql_conn *c, const struct brd_sql_exec *q, struct brd_sql_outcome *out,
               struct brd_error *err);
};

extern const struct brd_sql_driver brd_sqlite_driver;

/* Frees what a shape holds and empties it. */
void brd_sql_shape_clear(struct brd_sql_shape *shape);

#endif
