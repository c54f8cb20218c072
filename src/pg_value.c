/* pg_value.c — parameters sent and result columns read as PostgreSQL's
 * text format (see pg_value.h).  The session is set up for it by
 * pg_driver.c: DateStyle ISO, bytea_output hex, UTF-8, extra_float_digits 1
 * (floats as their shortest exact text). */
#include "pg_value.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "sql_api.h"
#include "sql_value.h"

/* Built-in type OIDs (pg_type.dat; fixed across server versions). */
enum {
    OID_BOOL = 16, OID_BYTEA = 17, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23, OID_OID = 26,
    OID_JSON = 114, OID_FLOAT4 = 700, OID_FLOAT8 = 701, OID_DATE = 1082, OID_TIMESTAMP = 1114,
    OID_TIMESTAMPTZ = 1184, OID_TIMETZ = 1266, OID_NUMERIC = 1700, OID_JSONB = 3802,
};

/* ---- parameters -------------------------------------------------------------------- */

void brd_pg_args_clear(struct brd_pg_args *a)
{
    for (size_t i = 0; a->owned && i < a->n; i++)
        free(a->owned[i]);
    free(a->owned);
    free(a->values);
    free(a->lengths);
    memset(a, 0, sizeof *a);
}

int brd_pg_args_fill(struct brd_pg_args *a, const struct brd_sql_exec *q, struct brd_error *err)
{
    const struct brd_api *api = q->api;
    const struct brd_sql_api *s = api->sql;
    memset(a, 0, sizeof *a);
    if (!s->nbind)
        return 0;
    a->values = calloc(s->nbind, sizeof *a->values);
    a->lengths = calloc(s->nbind, sizeof *a->lengths);
    a->owned = calloc(s->nbind, sizeof *a->owned);
    if (!a->values || !a->lengths || !a->owned) {
        brd_pg_args_clear(a);
        return brd_error_nomem(err);
    }
    a->n = s->nbind;
    for (size_t k = 0; k < s->nbind; k++) {
        const struct brd_param *par = &api->params.items[s->bind[k]];
        struct json_object *v = NULL;
        json_object_object_get_ex(q->values, par->name, &v);
        if (!v)
            continue;   /* SQL NULL */
        if (json_object_is_type(v, json_type_string)) {
            const char *text = json_object_get_string(v);
            size_t len = (size_t)json_object_get_string_len(v);
            if (memchr(text, '\0', len)) {
                brd_pg_args_clear(a);
                return brd_error_set(err, BRD_E_BAD_REQUEST, "parameter '%s': text with a NUL byte cannot be "
                                     "sent to PostgreSQL (its text types cannot hold one)", par->name);
            }
            /* Valid UTF-8 already: every way a value comes in (request
             * JSON, form fields, API answers, function results) is checked
             * where it enters.  A NUL byte is valid UTF-8, but not text to
             * PostgreSQL. */
            a->values[k] = text;
            a->lengths[k] = (int)len;
            continue;
        }
        size_t len;
        const char *text = brd_json_compact(v, &len);
        if (!text || !(a->owned[k] = malloc(len + 1))) {
            brd_pg_args_clear(a);
            return brd_error_nomem(err);
        }
        memcpy(a->owned[k], text, len + 1);
        a->values[k] = a->owned[k];
        a->lengths[k] = (int)len;
    }
    return 0;
}

/* ---- results ----------------------------------------------------------------------- */

static struct json_object *integer(const char *text, size_t len)
{
    errno = 0;
    char *end = NULL;
    long long x = strtoll(text, &end, 10);
    if (errno == 0 && end == text + len && len > 0)
        return json_object_new_int64(x);
    return json_object_new_string_len(text, (int)len);
}

/* float4/float8: NaN and the infinities have no JSON number: their text. */
static struct json_object *floating(const char *text, size_t len)
{
    char *end = NULL;
    double d = strtod(text, &end);
    if (end != text + len || len == 0 || d != d || d > 1.7976931348623157e308 || d < -1.7976931348623157e308)
        return json_object_new_string_len(text, (int)len);
    return brd_json_new_double(d);
}

/* "\x00ff10" (bytea_output hex) → base64 of the bytes. */
static struct json_object *bytes(const char *text, size_t len)
{
    if (len < 2 || text[0] != '\\' || text[1] != 'x' || len % 2)
        return json_object_new_string_len(text, (int)len);
    size_t n = (len - 2) / 2;
    unsigned char *buf = malloc(n ? n : 1);
    if (!buf)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        for (int h = 0; h < 2; h++) {
            char c = text[2 + 2 * i + (size_t)h];
            unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0') : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                         : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16;
            if (d == 16) {
                free(buf);
                return json_object_new_string_len(text, (int)len);
            }
            v = v << 4 | d;
        }
        buf[i] = (unsigned char)v;
    }
    struct json_object *out = NULL;
    brd_sqlval_base64(buf, n, &out);
    free(buf);
    return out;
}

/* An offset at the end of a timestamptz / timetz as ±HH:MM: the server
 * writes "+01" for a whole hour, "+05:30", "+00:19:32" for an old local
 * mean time (kept as it is). */
static struct json_object *with_offset(const char *text, size_t len, bool datetime)
{
    char buf[64];
    if (len + 3 < sizeof buf && len >= 3 && (text[len - 3] == '+' || text[len - 3] == '-') &&
        text[len - 2] >= '0' && text[len - 2] <= '9' && text[len - 1] >= '0' && text[len - 1] <= '9') {
        memcpy(buf, text, len);
        memcpy(buf + len, ":00", 3);
        text = buf;
        len += 3;
    }
    struct json_object *out = NULL;
    if (datetime)
        brd_sqlval_datetime(text, len, &out);
    else
        out = json_object_new_string_len(text, (int)len);
    return out;
}

struct json_object *brd_pg_value(Oid type, const char *text, size_t len)
{
    struct json_object *out = NULL;
    switch (type) {
    case OID_BOOL:
        return json_object_new_boolean(len > 0 && text[0] == 't');
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
    case OID_OID:
        return integer(text, len);
    case OID_FLOAT4:
    case OID_FLOAT8:
        return floating(text, len);
    case OID_NUMERIC:
        return brd_sqlval_decimal(text, len);
    case OID_BYTEA:
        return bytes(text, len);
    case OID_DATE:
        return json_object_new_string_len(text, (int)len);
    case OID_TIMESTAMP:
        brd_sqlval_datetime(text, len, &out);
        return out;
    case OID_TIMESTAMPTZ:
        return with_offset(text, len, true);
    case OID_TIMETZ:
        return with_offset(text, len, false);
    case OID_JSON:
    case OID_JSONB: {
        struct brd_error ignored;
        if (brd_json_parse(text, len, &out, &ignored) == 0)
            return out;
        /* Deeper than braid parses: handed on as its text. */
        return json_object_new_string_len(text, (int)len);
    }
    default:
        /* Text types, uuid, intervals, arrays, enums, ...: their text. */
        return json_object_new_string_len(text, (int)len);
    }
}

int brd_pg_row(const PGresult *res, int r, struct json_object **row, struct brd_error *err)
{
    *row = json_object_new_object();
    if (!*row)
        return brd_error_nomem(err);
    int n = PQnfields(res);
    for (int i = 0; i < n; i++) {
        struct json_object *v = NULL;
        if (!PQgetisnull(res, r, i)) {
            v = brd_pg_value(PQftype(res, i), PQgetvalue(res, r, i), (size_t)PQgetlength(res, r, i));
            if (!v) {
                json_object_put(*row);
                *row = NULL;
                return brd_error_nomem(err);
            }
        }
        if (brd_json_add(*row, PQfname(res, i), v) != 0) {
            json_object_put(*row);
            *row = NULL;
            return brd_error_nomem(err);
        }
    }
    return 0;
}
