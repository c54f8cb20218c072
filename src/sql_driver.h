/* sql_driver.h — what a database driver gives the SQL module: reading its
 * data source fields, checking a statement at load, connecting, and running
 * one statement with bound values into the SPEC's raw result.
 *
 * One driver per data source type.  Two kinds:
 *  - inline (SQLite, sqlite_driver.c): `run` returns when the statement has
 *    finished; `start`/`poll_fd`/`step`/`cancel` are NULL.
 *  - non-blocking (PostgreSQL over libpq, pg_driver.c; MySQL/MariaDB over
 *    MariaDB Connector/C, mysql_driver.c): `run` is NULL.  `connect` only
 *    begins connecting; `start` hands the connection a statement; the SQL
 *    module polls `poll_fd` inside the engine's wait loop and calls `step`
 *    whenever the socket is ready (or the deadline passed) until it reports
 *    the end.  A connection runs one statement at a time.
 *
 * Only the SQL module (sql_api.c, sql.c, datasource.c) and the drivers
 * include this.
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
    char **columns;        /* result column names in select order (none when the
                              driver only learns them from the server) */
    size_t ncolumns;
    bool writes;           /* the statement may change data */
    char *native;          /* the text to prepare on the server (:name rewritten
                              to $1 / ?), or NULL: the statement as written */
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
    bool broken;                   /* the connection is not usable any more: drop it
                                      (also with a result: it is given, then the
                                      connection goes) */
    bool retry_safe;               /* with broken: the statement certainly did not run
                                      (the connection was found dead before the server
                                      got it), so the SQL module may reconnect once and
                                      run it again */
};

struct brd_sql_driver {
    const char *type;              /* "sqlite", "postgresql", "mysql" */
    /* Load: the type's fields of root (every member but "type" and "write",
     * which brd_ds_load reads into ds->write first), ${env.X}
     * substituted; fills ds->cfg and ds->key.  Problems go to d prefixed
     * with ds->file. */
    int (*ds_load)(struct brd_ds *ds, const char *dir, struct json_object *root, struct brd_diags *d);
    /* Closes what ds_load kept open for check (NULL: nothing kept). */
    void (*ds_load_done)(struct brd_ds *ds);
    void (*ds_free)(struct brd_ds *ds);
    /* Load: prepares sql[0..len) against the database (or notes it for the
     * first connection).  0 with *shape (free with brd_sql_shape_clear), or
     * -1 with err holding the database's message (BRD_E_LOAD). */
    int (*check)(const struct brd_ds *ds, const char *sql, size_t len, struct brd_sql_shape *shape,
                 struct brd_error *err);
    /* `braid check --connect` (NULL when check already asked the database):
     * connects (blocking, bounded by the source's connect timeout), prepares
     * api's statement (api->sql->native, or sql) on the server as it runs
     * (with its parameters' types) and fills shape->columns; 0, or -1 with
     * err holding the server's message (BRD_E_DATASOURCE_ERROR; never a
     * password or DSN). */
    int (*check_live)(const struct brd_ds *ds, const struct brd_api *api, struct brd_sql_shape *shape,
                      struct brd_error *err);
    /* Run time, in the worker: a new connection (a non-blocking driver only
     * begins connecting here: it must not wait for the server).  -1 with
     * BRD_E_DATASOURCE_ERROR (never naming a password or DSN). */
    int (*connect)(const struct brd_ds *ds, struct brd_sql_conn **out, struct brd_error *err);
    void (*disconnect)(struct brd_sql_conn *c);

    /* Inline drivers.  Runs q on c to its end: 0 with *out filled, or -1
     * with err (BRD_E_DATASOURCE_ERROR, BRD_E_DATASOURCE_TIMEOUT) and
     * out->broken telling whether to drop c.  Nothing is left bound or open
     * on c. */
    int (*run)(struct brd_sql_conn *c, const struct brd_sql_exec *q, struct brd_sql_outcome *out,
               struct brd_error *err);

    /* Non-blocking drivers.  start: c (idle, connected or still connecting)
     * takes q (q and what it points to stay valid until the end); nothing
     * waits.  -1 with err and *out when it failed at once.  Finishing the
     * connection, preparing the statement on first use on c, executing and
     * reading the rows all happen in step. */
    int (*start)(struct brd_sql_conn *c, const struct brd_sql_exec *q, struct brd_sql_outcome *out,
                 struct brd_error *err);
    /* The socket to poll and the poll(2) events wanted (POLLIN, POLLOUT);
     * -1 when step should be called at once without waiting. */
    int (*poll_fd)(const struct brd_sql_conn *c, short *events);
    /* Advances after poll said the socket is ready (revents as poll filled
     * them; 0 when called because the deadline passed or poll_fd gave -1).
     * Returns 1 while the statement is still running, 0 when it finished
     * with *out filled (out->raw as for run), -1 when it failed with err and
     * out->broken / out->retry_safe.  Past q->deadline_us it stops the
     * statement (cancel) and fails with BRD_E_DATASOURCE_TIMEOUT.  After 0
     * or -1 without broken, c is idle again. */
    int (*step)(struct brd_sql_conn *c, short revents, struct brd_sql_outcome *out, struct brd_error *err);
    /* Stops the running statement on the server (PQcancel, KILL QUERY; a
     * bounded wait of its own) because its caller gave up on it; c is
     * disconnected right after. */
    void (*cancel)(struct brd_sql_conn *c);
};

extern const struct brd_sql_driver brd_sqlite_driver;
extern const struct brd_sql_driver brd_pg_driver;
extern const struct brd_sql_driver brd_mysql_driver;

/* Frees what a shape holds and empties it. */
void brd_sql_shape_clear(struct brd_sql_shape *shape);

/* What the drivers share (sql_api.c). */

/* The error of a statement that gives more than max_rows rows:
 * BRD_E_DATASOURCE_ERROR, saying nothing was truncated; returns -1. */
int brd_sql_max_rows_error(struct brd_error *err, int max_rows);

/* A whole-number field of a data source file from lo to hi into *out; a
 * problem naming file and key otherwise.  0 or -1. */
int brd_ds_int_field(const char *file, const char *key, struct json_object *val, int lo, int hi, int *out,
                     struct brd_diags *d);

#endif
