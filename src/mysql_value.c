/* mysql_value.c — parameters bound and result columns read over the
 * MySQL/MariaDB binary protocol (see mysql_value.h). */
#include "mysql_value.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "sql_api.h"
#include "sql_value.h"

/* Bytes of a text or binary column read in place; a longer value is
 * fetched again into a buffer of its size. */
#define INLINE_CAP 256

/* The charset number MySQL gives binary strings (BINARY, VARBINARY, BLOB). */
#define BINARY_CHARSET 63

enum kind { K_BOOL, K_INT, K_UINT, K_DOUBLE, K_FLOAT, K_DECIMAL, K_DATE, K_DATETIME, K_TIME, K_BIT, K_JSON,
            K_BYTES, K_TEXT };

struct brd_my_col {
    enum kind kind;
    long long i;
    double d;
    float f;
    MYSQL_TIME t;
    char buf[INLINE_CAP];
    unsigned long len;
    my_bool is_null, error;
};

/* ---- parameters -------------------------------------------------------------------- */

void brd_my_params_clear(struct brd_my_params *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->owned ? p->owned[i] : NULL);
    free(p->owned);
    free(p->cells);
    free(p->b);
    memset(p, 0, sizeof *p);
}

int brd_my_params_bind(struct brd_my_params *p, const struct brd_sql_exec *q, MYSQL_STMT *st,
                       struct brd_error *err)
{
    const struct brd_api *api = q->api;
    const struct brd_sql_api *s = api->sql;
    memset(p, 0, sizeof *p);
    unsigned long count = mysql_stmt_param_count(st);
    if (count != s->nbind)
        return brd_error_set(err, BRD_E_DATASOURCE_ERROR, "the server sees %lu placeholders, the statement "
                             "has %zu", count, s->nbind);
    if (!count)
        return 0;
    p->b = calloc(count, sizeof *p->b);
    p->cells = calloc(count, sizeof *p->cells);
    p->owned = calloc(count, sizeof *p->owned);
    if (!p->b || !p->cells || !p->owned) {
        brd_my_params_clear(p);
        return brd_error_nomem(err);
    }
    p->n = count;
    for (size_t k = 0; k < count; k++) {
        const struct brd_param *par = &api->params.items[s->bind[k]];
        struct json_object *v = NULL;
        json_object_object_get_ex(q->values, par->name, &v);
        MYSQL_BIND *b = &p->b[k];
        union brd_my_cell *cell = &p->cells[k];
        switch (json_object_get_type(v)) {
        case json_type_null:
            b->buffer_type = MYSQL_TYPE_NULL;
            break;
        case json_type_boolean:
            cell->t = json_object_get_boolean(v) ? 1 : 0;
            b->buffer_type = MYSQL_TYPE_TINY;
            b->buffer = &cell->t;
            break;
        case json_type_int:
            b->buffer_type = MYSQL_TYPE_LONGLONG;
            b->buffer = &cell->i;
            /* json-c keeps integers above INT64_MAX as uint64. */
            if (json_object_get_int64(v) == INT64_MAX && json_object_get_uint64(v) > (uint64_t)INT64_MAX) {
                uint64_t u = json_object_get_uint64(v);
                memcpy(&cell->i, &u, sizeof u);
                b->is_unsigned = 1;
            } else {
                cell->i = json_object_get_int64(v);
            }
            break;
        case json_type_double:
            cell->d = json_object_get_double(v);
            b->buffer_type = MYSQL_TYPE_DOUBLE;
            b->buffer = &cell->d;
            break;
        case json_type_string:
            /* Explicit length: NUL bytes and long values go as they are. */
            b->buffer_type = MYSQL_TYPE_STRING;
            b->buffer = (void *)json_object_get_string(v);
            b->buffer_length = (unsigned long)json_object_get_string_len(v);
            break;
        case json_type_object:
        case json_type_array: {
            size_t len;
            const char *text = brd_json_compact(v, &len);
            if (!(p->owned[k] = malloc(len + 1))) {
                brd_my_params_clear(p);
                return brd_error_nomem(err);
            }
            memcpy(p->owned[k], text, len + 1);
            b->buffer_type = MYSQL_TYPE_STRING;
            b->buffer = p->owned[k];
            b->buffer_length = (unsigned long)len;
            break;
        }
        }
    }
    if (mysql_stmt_bind_param(st, p->b)) {
        brd_error_set(err, BRD_E_DATASOURCE_ERROR, "cannot bind the parameters: %s", mysql_stmt_error(st));
        brd_my_params_clear(p);
        return -1;
    }
    return 0;
}

/* ---- result columns ------------------------------------------------------------------- */

void brd_my_result_clear(struct brd_my_result *r)
{
    if (r->meta)
        mysql_free_result(r->meta);
    free(r->b);
    free(r->cols);
    memset(r, 0, sizeof *r);
}

static bool is_json_field(const MYSQL_FIELD *f)
{
    if (f->type == MYSQL_TYPE_JSON)
        return true;
    MARIADB_CONST_STRING fmt = {NULL, 0};
    /* MariaDB keeps JSON as LONGTEXT and says so in the extended
     * metadata (MARIADB_CLIENT_EXTENDED_METADATA, 10.5 and later). */
    if (mariadb_field_attr(&fmt, f, MARIADB_FIELD_ATTR_FORMAT_NAME) == 0 && fmt.str && fmt.length == 4 &&
        !strncasecmp(fmt.str, "json", 4))
        return true;
    return false;
}

static enum kind kind_of(const MYSQL_FIELD *f)
{
    bool uns = (f->flags & UNSIGNED_FLAG) != 0;
    switch (f->type) {
    case MYSQL_TYPE_TINY:
        if (f->length == 1)
            return K_BOOL;
        return K_INT;
    case MYSQL_TYPE_SHORT:
    case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_LONG:
    case MYSQL_TYPE_YEAR:
        return K_INT;
    case MYSQL_TYPE_LONGLONG:
        return uns ? K_UINT : K_INT;
    case MYSQL_TYPE_FLOAT:
        return K_FLOAT;
    case MYSQL_TYPE_DOUBLE:
        return K_DOUBLE;
    case MYSQL_TYPE_DECIMAL:
    case MYSQL_TYPE_NEWDECIMAL:
        return K_DECIMAL;
    case MYSQL_TYPE_DATE:
    case MYSQL_TYPE_NEWDATE:
        return K_DATE;
    case MYSQL_TYPE_DATETIME:
    case MYSQL_TYPE_TIMESTAMP:
        return K_DATETIME;
    case MYSQL_TYPE_TIME:
        return K_TIME;
    case MYSQL_TYPE_BIT:
        return K_BIT;
    case MYSQL_TYPE_NULL:
        return K_TEXT;
    default:
        if (is_json_field(f))
            return K_JSON;
        return f->charsetnr == BINARY_CHARSET ? K_BYTES : K_TEXT;
    }
}

int brd_my_result_bind(struct brd_my_result *r, MYSQL_STMT *st, struct brd_error *err)
{
    memset(r, 0, sizeof *r);
    r->meta = mysql_stmt_result_metadata(st);
    if (!r->meta)
        return brd_error_set(err, BRD_E_DATASOURCE_ERROR, "no result metadata: %s", mysql_stmt_error(st));
    r->n = mysql_num_fields(r->meta);
    r->fields = mysql_fetch_fields(r->meta);
    r->b = calloc(r->n ? r->n : 1, sizeof *r->b);
    r->cols = calloc(r->n ? r->n : 1, sizeof *r->cols);
    if (!r->b || !r->cols || !r->fields) {
        brd_my_result_clear(r);
        return brd_error_nomem(err);
    }
    for (unsigned i = 0; i < r->n; i++) {
        struct brd_my_col *c = &r->cols[i];
        MYSQL_BIND *b = &r->b[i];
        c->kind = kind_of(&r->fields[i]);
        b->is_null = &c->is_null;
        b->error = &c->error;
        b->length = &c->len;
        switch (c->kind) {
        case K_BOOL:
        case K_INT:
        case K_UINT:
            b->buffer_type = MYSQL_TYPE_LONGLONG;
            b->buffer = &c->i;
            b->is_unsigned = c->kind == K_UINT;
            break;
        case K_FLOAT:
            b->buffer_type = MYSQL_TYPE_FLOAT;
            b->buffer = &c->f;
            break;
        case K_DOUBLE:
            b->buffer_type = MYSQL_TYPE_DOUBLE;
            b->buffer = &c->d;
            break;
        case K_DATE:
        case K_DATETIME:
        case K_TIME:
            b->buffer_type = r->fields[i].type == MYSQL_TYPE_NEWDATE ? MYSQL_TYPE_DATE : r->fields[i].type;
            b->buffer = &c->t;
            b->buffer_length = sizeof c->t;
            break;
        default:
            b->buffer_type = c->kind == K_TEXT || c->kind == K_DECIMAL || c->kind == K_JSON ? MYSQL_TYPE_STRING
                                                                                            : MYSQL_TYPE_BLOB;
            b->buffer = c->buf;
            b->buffer_length = sizeof c->buf;
            break;
        }
    }
    if (mysql_stmt_bind_result(st, r->b)) {
        brd_error_set(err, BRD_E_DATASOURCE_ERROR, "cannot bind the result: %s", mysql_stmt_error(st));
        brd_my_result_clear(r);
        return -1;
    }
    return 0;
}

/* Shortest "%.*g" text that reads back to the same float. */
static struct json_object *float_json(float f)
{
    if (!isfinite(f))
        return NULL;
    char text[32];
    for (int p = 1; p <= 9; p++) {
        snprintf(text, sizeof text, "%.*g", p, (double)f);
        if (strtof(text, NULL) == f)
            break;
    }
    return brd_json_new_double(strtod(text, NULL));
}

static struct json_object *time_json(const MYSQL_TIME *t, enum kind kind, unsigned decimals)
{
    char text[64];
    int n;
    if (kind == K_DATE) {
        n = snprintf(text, sizeof text, "%04u-%02u-%02u", t->year, t->month, t->day);
    } else if (kind == K_DATETIME) {
        n = snprintf(text, sizeof text, "%04u-%02u-%02uT%02u:%02u:%02u", t->year, t->month, t->day, t->hour,
                     t->minute, t->second);
    } else {
        n = snprintf(text, sizeof text, "%s%02u:%02u:%02u", t->neg ? "-" : "", t->day * 24 + t->hour, t->minute,
                     t->second);
    }
    if (kind != K_DATE && decimals > 0 && decimals <= 6 && n > 0 && (size_t)n < sizeof text - 8) {
        char frac[8];
        snprintf(frac, sizeof frac, "%06lu", t->second_part % 1000000);
        n += snprintf(text + n, sizeof text - (size_t)n, ".%.*s", (int)decimals, frac);
    }
    return json_object_new_string(text);
}

/* A text, binary, JSON, decimal or BIT column's bytes p[0..n). */
static int bytes_json(const MYSQL_FIELD *f, enum kind kind, const char *p, size_t n, struct json_object **out,
                      struct brd_error *err)
{
    switch (kind) {
    case K_BIT: {
        unsigned long long x = 0;
        for (size_t i = 0; i < n && i < 8; i++)
            x = x << 8 | (unsigned char)p[i];
        *out = x > (unsigned long long)INT64_MAX ? json_object_new_uint64(x) : json_object_new_int64((int64_t)x);
        break;
    }
    case K_BYTES:
        return brd_sqlval_base64(p, n, out) == 0 ? 0 : brd_error_nomem(err);
    case K_DECIMAL:
        *out = brd_sqlval_decimal(p, n);
        break;
    default:
        if (!brd_sqlval_utf8_valid(p, n))
            return brd_error_set(err, BRD_E_DATASOURCE_ERROR, "column \"%s\" holds text that is not valid UTF-8 "
                                 "(store bytes in a BLOB or VARBINARY column)", f->name);
        if (kind == K_JSON) {
            struct brd_error ignored;
            if (brd_json_parse(p, n, out, &ignored) == 0)
                return 0;
            /* Not JSON after all: handed on as the text it is. */
        }
        *out = json_object_new_string_len(p, (int)n);
        break;
    }
    return *out ? 0 : brd_error_nomem(err);
}

static int col_json(struct brd_my_result *r, MYSQL_STMT *st, unsigned i, struct json_object **out,
                    struct brd_error *err)
{
    struct brd_my_col *c = &r->cols[i];
    const MYSQL_FIELD *f = &r->fields[i];
    *out = NULL;
    if (c->is_null)
        return 0;
    switch (c->kind) {
    case K_BOOL:
        *out = json_object_new_boolean(c->i != 0);
        break;
    case K_INT:
        *out = json_object_new_int64(c->i);
        break;
    case K_UINT: {
        unsigned long long u;
        memcpy(&u, &c->i, sizeof u);
        if (u > (unsigned long long)INT64_MAX) {
            /* Beyond what a JSON integer keeps exactly in most readers. */
            char text[32];
            snprintf(text, sizeof text, "%llu", u);
            *out = json_object_new_string(text);
        } else {
            *out = json_object_new_int64((int64_t)u);
        }
        break;
    }
    case K_FLOAT:
        if (!isfinite(c->f))
            return 0;
        *out = float_json(c->f);
        break;
    case K_DOUBLE:
        if (!isfinite(c->d))
            return 0;
        *out = brd_json_new_double(c->d);
        break;
    case K_DATE:
    case K_DATETIME:
    case K_TIME:
        *out = time_json(&c->t, c->kind, f->decimals);
        break;
    default: {
        size_t n = c->len;
        if (n <= sizeof c->buf)
            return bytes_json(f, c->kind, c->buf, n, out, err);
        /* Longer than the inline buffer: the whole value, once more. */
        char *big = malloc(n + 1);
        if (!big)
            return brd_error_nomem(err);
        MYSQL_BIND b;
        memset(&b, 0, sizeof b);
        unsigned long got = 0;
        b.buffer_type = r->b[i].buffer_type;
        b.buffer = big;
        b.buffer_length = (unsigned long)n + 1;
        b.length = &got;
        if (mysql_stmt_fetch_column(st, &b, i, 0) != 0) {
            free(big);
            return brd_error_set(err, BRD_E_DATASOURCE_ERROR, "cannot read column \"%s\": %s", f->name,
                                 mysql_stmt_error(st));
        }
        int rc = bytes_json(f, c->kind, big, got < n ? got : n, out, err);
        free(big);
        return rc;
    }
    }
    return *out ? 0 : brd_error_nomem(err);
}

int brd_my_row(struct brd_my_result *r, MYSQL_STMT *st, struct json_object **row, struct brd_error *err)
{
    struct json_object *o = json_object_new_object();
    if (!o)
        return brd_error_nomem(err);
    for (unsigned i = 0; i < r->n; i++) {
        struct json_object *v = NULL;
        if (col_json(r, st, i, &v, err) != 0) {
            json_object_put(o);
            return -1;
        }
        if (brd_json_add(o, r->fields[i].name, v) != 0) {
            json_object_put(o);
            return brd_error_nomem(err);
        }
    }
    *row = o;
    return 0;
}
