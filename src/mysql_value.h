/* mysql_value.h — values across the MySQL/MariaDB binary protocol for
 * mysql_driver.c: a SQL API's parameters as MYSQL_BIND input, result
 * columns bound by their field type and turned into JSON (SPEC section 2b,
 * the mapping table in docs/datasources.md).
 */
#ifndef BRD_MYSQL_VALUE_H
#define BRD_MYSQL_VALUE_H

#include <stdbool.h>
#include <stddef.h>

#include <mysql.h>

#include "base/error.h"
#include "base/jsonutil.h"
#include "sql_driver.h"

/* The bound parameters of one execution; they point into q->values and
 * into text this owns, so they live until brd_my_params_clear. */
struct brd_my_params {
    MYSQL_BIND *b;
    union brd_my_cell {
        long long i;
        double d;
        signed char t;
    } *cells;
    char **owned;        /* JSON text of object/array values */
    size_t n;
};

/* Binds q's values to st's placeholders (api->sql->bind[k] → the k-th ?).
 * 0, or -1 with err (BRD_E_DATASOURCE_ERROR, BRD_E_NOMEM). */
int brd_my_params_bind(struct brd_my_params *p, const struct brd_sql_exec *q, MYSQL_STMT *st,
                       struct brd_error *err);
void brd_my_params_clear(struct brd_my_params *p);

/* Output buffers for the columns of st's result, one per field. */
struct brd_my_col;
struct brd_my_result {
    unsigned n;
    MYSQL_RES *meta;
    MYSQL_FIELD *fields;
    MYSQL_BIND *b;
    struct brd_my_col *cols;
};

/* Sets up and binds the result columns of st after a successful execute
 * (mysql_stmt_field_count > 0).  0, or -1 with err. */
int brd_my_result_bind(struct brd_my_result *r, MYSQL_STMT *st, struct brd_error *err);
/* The fetched row (fetch returned 0 or MYSQL_DATA_TRUNCATED) as a new
 * object keyed by column name.  0, or -1 with err (text that is not UTF-8
 * is BRD_E_DATASOURCE_ERROR). */
int brd_my_row(struct brd_my_result *r, MYSQL_STMT *st, struct json_object **row, struct brd_error *err);
void brd_my_result_clear(struct brd_my_result *r);

#endif
