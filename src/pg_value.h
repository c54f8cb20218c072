/* pg_value.h — values across libpq for pg_driver.c: a SQL API's parameters
 * as the text libpq sends, and result columns turned into JSON by their
 * type OID (SPEC section 2b; the mapping table in docs/datasources.md).
 */
#ifndef BRD_PG_VALUE_H
#define BRD_PG_VALUE_H

#include <libpq-fe.h>

#include "base/error.h"
#include "base/jsonutil.h"
#include "sql_driver.h"

/* The parameter values of one execution, in text format: strings as they
 * are, numbers, booleans, objects and arrays as their JSON text, null as
 * SQL NULL.  They point into q->values and into text this owns, so they
 * live until brd_pg_args_clear. */
struct brd_pg_args {
    const char **values;
    int *lengths;
    char **owned;
    size_t n;
};

/* Fills a with q's values (api->sql->bind[k] → $k+1).  0, or -1 with err:
 * BRD_E_BAD_REQUEST for a string PostgreSQL cannot hold (a NUL byte),
 * naming the parameter; BRD_E_NOMEM. */
int brd_pg_args_fill(struct brd_pg_args *a, const struct brd_sql_exec *q, struct brd_error *err);
void brd_pg_args_clear(struct brd_pg_args *a);

/* Row r of res as a new object keyed by column name in select order.  0,
 * or -1 with err (BRD_E_NOMEM). */
int brd_pg_row(const PGresult *res, int r, struct json_object **row, struct brd_error *err);

/* One value: its text (as the server sent it, in text format) by its
 * type.  NULL when out of memory. */
struct json_object *brd_pg_value(Oid type, const char *text, size_t len);

#endif
