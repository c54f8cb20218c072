/* sql_api.c — loading the SQL part of an API definition (see sql_api.h):
 * the driver prepares the statement, this file checks what it found
 * against the declared parameters and the source's mode. */
#include "sql_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "sql_driver.h"

int brd_sql_max_rows_error(struct brd_error *err, int max_rows)
{
    return brd_error_set(err, BRD_E_DATASOURCE_ERROR, "the statement gives more than max_rows=%d rows (nothing is "
                         "truncated: raise max_rows or narrow the query with WHERE or LIMIT)", max_rows);
}

int brd_ds_int_field(const char *file, const char *key, struct json_object *val, int lo, int hi, int *out,
                     struct brd_diags *d)
{
    int64_t x = json_object_is_type(val, json_type_int) ? json_object_get_int64(val) : (int64_t)lo - 1;
    if (x < lo || x > hi)
        return brd_diag_add(d, "%s: %s: must be a whole number from %d to %d, got %s", file, key, lo, hi,
                            brd_json_compact(val, NULL));
    *out = (int)x;
    return 0;
}

void brd_sql_shape_clear(struct brd_sql_shape *shape)
{
    for (size_t i = 0; i < shape->nplaceholders; i++)
        free(shape->placeholders[i]);
    for (size_t i = 0; i < shape->ncolumns; i++)
        free(shape->columns[i]);
    free(shape->placeholders);
    free(shape->columns);
    free(shape->native);
    memset(shape, 0, sizeof *shape);
}

void brd_sql_api_free(struct brd_sql_api *s)
{
    if (!s)
        return;
    free(s->sql);
    free(s->native);
    free(s->bind);
    free(s);
}

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* Placeholders against declared parameters, both ways; fills s->bind. */
static int match_params(struct brd_api *api, struct brd_sql_api *s, const struct brd_sql_shape *shape,
                        struct brd_diags *d)
{
    int rc = 0;
    const struct brd_params *ps = &api->params;
    if (shape->nplaceholders && !(s->bind = calloc(shape->nplaceholders, sizeof *s->bind)))
        return brd_diag_add(d, "%s: out of memory", api->file);
    s->nbind = shape->nplaceholders;
    bool *used = ps->count ? calloc(ps->count, sizeof *used) : NULL;
    if (ps->count && !used)
        return brd_diag_add(d, "%s: out of memory", api->file);
    for (size_t k = 0; k < shape->nplaceholders; k++) {
        const char *name = shape->placeholders[k];
        const struct brd_param *p = name ? brd_params_find(ps, name) : NULL;
        if (!name) {
            rc = brd_diag_add(d, "%s: sql: placeholder %zu is not of the form :name (write each parameter "
                              "as :name and declare it in params)", api->file, k + 1);
        } else if (!p) {
            rc = brd_diag_add(d, "%s: sql: :%s is not declared in params (add \"%s\": {\"type\": ...})",
                              api->file, name, name);
        } else {
            s->bind[k] = (size_t)(p - ps->items);
            used[s->bind[k]] = true;
        }
    }
    for (size_t i = 0; i < ps->count; i++)
        if (!used[i])
            rc = brd_diag_add(d, "%s: params.%s: declared but not used in sql (write it there as :%s)",
                              api->file, ps->items[i].name, ps->items[i].name);
    free(used);
    return rc;
}

static int check_columns(const struct brd_api *api, const struct brd_sql_shape *shape, struct brd_diags *d)
{
    int rc = 0;
    for (size_t i = 0; i < shape->ncolumns; i++)
        for (size_t j = 0; j < i; j++)
            if (!strcmp(shape->columns[i], shape->columns[j])) {
                rc = brd_diag_add(d, "%s: sql: the result has two columns named \"%s\" (a row is an object "
                                  "keyed by column name: rename one with AS)", api->file, shape->columns[i]);
                break;
            }
    return rc;
}

int brd_sql_api_load(struct brd_api *api, const struct brd_sql_fields *f, const struct brd_ds *const *dss,
                     size_t nds, bool params_ok, struct brd_diags *d)
{
    const char *file = api->file;
    struct brd_sql_api *s = calloc(1, sizeof *s);
    if (!s)
        return brd_diag_add(d, "%s: out of memory", file);
    s->max_rows = BRD_SQL_DEFAULT_MAX_ROWS;
    int rc = 0;

    if (!f->datasource) {
        rc = brd_diag_add(d, "%s: datasource: missing (the name of a file in datasources/)", file);
    } else if (!json_object_is_type(f->datasource, json_type_string) ||
               !brd_valid_name(json_object_get_string(f->datasource))) {
        rc = brd_diag_add(d, "%s: datasource: must be the name of a file in datasources/, got %s", file,
                          brd_json_compact(f->datasource, NULL));
    } else if (!(s->ds = brd_ds_find(dss, nds, json_object_get_string(f->datasource)))) {
        const char *n = json_object_get_string(f->datasource);
        rc = brd_diag_add(d, "%s: datasource: unknown data source \"%s\" (no datasources/%s.json, or it did "
                          "not load)", file, n, n);
    }

    if (f->max_rows) {
        int64_t m = json_object_is_type(f->max_rows, json_type_int) ? json_object_get_int64(f->max_rows) : 0;
        if (m < 1 || m > BRD_SQL_MAX_MAX_ROWS)
            rc = brd_diag_add(d, "%s: max_rows: must be a whole number from 1 to %d, got %s", file,
                              BRD_SQL_MAX_MAX_ROWS, brd_json_compact(f->max_rows, NULL));
        else
            s->max_rows = (int)m;
    }

    const char *sql = NULL;
    if (!f->sql) {
        rc = brd_diag_add(d, "%s: sql: missing (one statement, parameters as :name)", file);
    } else if (!json_object_is_type(f->sql, json_type_string) || json_object_get_string_len(f->sql) == 0 ||
               strlen(json_object_get_string(f->sql)) != (size_t)json_object_get_string_len(f->sql)) {
        rc = brd_diag_add(d, "%s: sql: must be a non-empty string (without NUL)", file);
    } else {
        sql = json_object_get_string(f->sql);
        s->sql_len = strlen(sql);
        if (!(s->sql = strdup(sql)))
            rc = brd_diag_add(d, "%s: out of memory", file);
        s->sql_hash = fnv1a(sql, s->sql_len);
    }

    /* The statement is checked against its database only when everything
     * it is checked against loaded: otherwise each problem shows twice. */
    if (s->ds && s->sql) {
        struct brd_sql_shape shape = {0};
        struct brd_error err;
        brd_error_clear(&err);
        if (s->ds->driver->check(s->ds, s->sql, s->sql_len, &shape, &err) != 0) {
            rc = brd_diag_add(d, "%s: sql: %s", file, err.msg);
        } else {
            s->writes = shape.writes;
            if (shape.native) {
                s->native = shape.native;
                s->native_len = strlen(shape.native);
                shape.native = NULL;
            }
            if (s->writes && !s->ds->write)
                rc = brd_diag_add(d, "%s: sql: the statement changes data, but data source \"%s\" is "
                                  "read-only (add \"write\": true to %s)", file, s->ds->name, s->ds->file);
            rc |= check_columns(api, &shape, d);
            if (params_ok)
                rc |= match_params(api, s, &shape, d);
        }
        brd_sql_shape_clear(&shape);
    }
    if (rc) {
        brd_sql_api_free(s);
        return -1;
    }
    api->sql = s;
    return 0;
}

int brd_sql_api_check_live(const struct brd_api *api, struct brd_diags *d)
{
    const struct brd_sql_api *s = api->sql;
    if (!s || !s->ds->driver->check_live)
        return 0;
    struct brd_sql_shape shape = {0};
    struct brd_error err;
    brd_error_clear(&err);
    int rc = 0;
    if (s->ds->driver->check_live(s->ds, api, &shape, &err) != 0)
        rc = brd_diag_add(d, "%s: sql: on data source %s: %s", api->file, s->ds->name, err.msg);
    else
        rc = check_columns(api, &shape, d);
    brd_sql_shape_clear(&shape);
    return rc;
}
