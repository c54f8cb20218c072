/* jsonutil.c — shared JSON helpers over json-c (see jsonutil.h). */
#include "jsonutil.h"

#include "file.h"
#include "strbuf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int brd_json_read_file(const char *path, struct json_object **out, struct brd_error *err)
{
    *out = NULL;
    char *buf;
    size_t len;
    if (brd_file_read(path, 0, &buf, &len, err) != 0)
        return -1;
    int rc = brd_json_parse(buf, len, out, err);
    free(buf);
    return rc;
}

const char *brd_json_compact(struct json_object *v, size_t *len)
{
    if (!v) {
        if (len)
            *len = 4;
        return "null";
    }
    size_t n = 0;
    const char *s = json_object_to_json_string_length(
        v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    if (len)
        *len = n;
    return s;
}

/* Shortest "%.Ng" that round-trips, keeping a ".0" so that it still reads
 * as a double-looking number (2.0, not 2). */
static int shortest_double(struct json_object *o, struct printbuf *pb, int level, int flags)
{
    (void)level;
    (void)flags;
    double d = json_object_get_double(o);
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    if (!strpbrk(buf, ".eEn"))
        strcat(buf, ".0");
    return printbuf_memappend(pb, buf, (int)strlen(buf));
}

struct json_object *brd_json_new_double(double d)
{
    if (!isfinite(d))
        return NULL;
    struct json_object *o = json_object_new_double(d);
    if (o)
        json_object_set_serializer(o, shortest_double, NULL, NULL);
    return o;
}

const char *brd_json_type_name(struct json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_null: return "null";
    case json_type_boolean: return "boolean";
    case json_type_double:
    case json_type_int: return "number";
    case json_type_string: return "string";
    case json_type_array: return "array";
    case json_type_object: return "object";
    }
    return "unknown";
}

bool brd_json_is_number(struct json_object *v)
{
    enum json_type t = json_object_get_type(v);
    return t == json_type_int || t == json_type_double;
}

double brd_json_number(struct json_object *v)
{
    if (json_object_get_type(v) == json_type_int) {
        int64_t i = json_object_get_int64(v);
        if (i == INT64_MAX)
            return (double)json_object_get_uint64(v);
        return (double)i;
    }
    return json_object_get_double(v);
}

int brd_json_number_cmp(struct json_object *a, struct json_object *b)
{
    if (json_object_get_type(a) == json_type_int && json_object_get_type(b) == json_type_int) {
        int64_t x = json_object_get_int64(a), y = json_object_get_int64(b);
        if (x == INT64_MAX && y == INT64_MAX) {
            uint64_t ux = json_object_get_uint64(a), uy = json_object_get_uint64(b);
            return (ux > uy) - (ux < uy);
        }
        return (x > y) - (x < y);
    }
    double x = brd_json_number(a), y = brd_json_number(b);
    return (x > y) - (x < y);
}

bool brd_json_equal(struct json_object *a, struct json_object *b)
{
    enum json_type ta = json_object_get_type(a), tb = json_object_get_type(b);
    if (brd_json_is_number(a) && brd_json_is_number(b))
        return brd_json_number_cmp(a, b) == 0;
    if (ta != tb)
        return false;
    switch (ta) {
    case json_type_null:
        return true;
    case json_type_boolean:
        return json_object_get_boolean(a) == json_object_get_boolean(b);
    case json_type_string: {
        int la = json_object_get_string_len(a), lb = json_object_get_string_len(b);
        return la == lb && memcmp(json_object_get_string(a), json_object_get_string(b), (size_t)la) == 0;
    }
    case json_type_array: {
        size_t n = json_object_array_length(a);
        if (n != json_object_array_length(b))
            return false;
        for (size_t i = 0; i < n; i++)
            if (!brd_json_equal(json_object_array_get_idx(a, i), json_object_array_get_idx(b, i)))
                return false;
        return true;
    }
    case json_type_object: {
        if (json_object_object_length(a) != json_object_object_length(b))
            return false;
        json_object_object_foreach(a, key, va) {
            struct json_object *vb;
            if (!json_object_object_get_ex(b, key, &vb) || !brd_json_equal(va, vb))
                return false;
        }
        return true;
    }
    default:
        return false;
    }
}

bool brd_json_truthy(struct json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_null: return false;
    case json_type_boolean: return json_object_get_boolean(v);
    case json_type_int: return json_object_get_int64(v) != 0;
    case json_type_double: return json_object_get_double(v) != 0.0;
    case json_type_string: return json_object_get_string_len(v) != 0;
    default: return true;
    }
}

/* Two-space indented JSON: scalars as compact JSON, empty containers as
 * {} and [], members in their order. */
static void pretty(struct brd_strbuf *b, struct json_object *v, int depth)
{
    static const char pad[] = "                                                                ";
    int ind = 2 * (depth + 1) < (int)sizeof pad - 1 ? 2 * (depth + 1) : (int)sizeof pad - 1;
    if (json_object_is_type(v, json_type_object) && json_object_object_length(v) > 0) {
        brd_strbuf_str(b, "{\n");
        size_t i = 0, n = (size_t)json_object_object_length(v);
        json_object_object_foreach(v, key, val) {
            struct json_object *k = json_object_new_string(key);
            brd_strbuf_add(b, pad, (size_t)ind);
            if (!k) {
                b->failed = true;
                return;
            }
            brd_strbuf_str(b, brd_json_compact(k, NULL));
            json_object_put(k);
            brd_strbuf_str(b, ": ");
            pretty(b, val, depth + 1);
            brd_strbuf_str(b, ++i < n ? ",\n" : "\n");
        }
        brd_strbuf_add(b, pad, (size_t)(ind - 2));
        brd_strbuf_str(b, "}");
    } else if (json_object_is_type(v, json_type_array) && json_object_array_length(v) > 0) {
        brd_strbuf_str(b, "[\n");
        size_t n = json_object_array_length(v);
        for (size_t i = 0; i < n; i++) {
            brd_strbuf_add(b, pad, (size_t)ind);
            pretty(b, json_object_array_get_idx(v, i), depth + 1);
            brd_strbuf_str(b, i + 1 < n ? ",\n" : "\n");
        }
        brd_strbuf_add(b, pad, (size_t)(ind - 2));
        brd_strbuf_str(b, "]");
    } else {
        brd_strbuf_str(b, brd_json_compact(v, NULL));
    }
}

char *brd_json_pretty(struct json_object *v)
{
    struct brd_strbuf b = {0};
    pretty(&b, v, 0);
    brd_strbuf_str(&b, "\n");
    if (b.failed) {
        brd_strbuf_free(&b);
        return NULL;
    }
    return b.p;
}
