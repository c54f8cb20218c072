/* jsonutil.h — the few JSON operations every module shares, on top of json-c.
 *
 * Ownership (json-c's rules, stated once): json_object_new_* and
 * brd_json_parse give the caller one reference; *_get_* and *_get_ex borrow;
 * json_object_object_add / json_object_array_add steal the reference passed
 * in on success only.  Braid never calls them directly: brd_json_add and
 * brd_json_append always consume the value (freed on failure), so one rule
 * holds at every call site.  JSON null is the NULL pointer in json-c, so "no value" must always be
 * carried separately (a count, a flag), never as NULL.
 */
#ifndef BRD_JSONUTIL_H
#define BRD_JSONUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "error.h"

/* Deepest nesting brd_json_parse accepts (json-c's own default is 32). */
#define BRD_JSON_MAX_DEPTH 512

/* Parses exactly one JSON text from text[0..len) (RFC 8259, strict, UTF-8
 * validated, only whitespace may follow).  On success *out holds a new
 * reference (NULL for the JSON literal null) and 0 is returned.  On failure
 * returns -1 with BRD_E_SYNTAX, err->pos at the offending byte and a
 * message naming it. */
int brd_json_parse(const char *text, size_t len, struct json_object **out,
                   struct brd_error *err);

/* Reads the file at path and parses it as with brd_json_parse.  Errors:
 * BRD_E_IO (cannot read) or BRD_E_SYNTAX (with the byte position). */
int brd_json_read_file(const char *path, struct json_object **out, struct brd_error *err);

/* Compact JSON of v (NULL gives "null"), without escaping '/'.  The string
 * is owned by v (freed with it) — except for NULL, where it is static.
 * Stores the length in *len when len is not NULL. */
const char *brd_json_compact(struct json_object *v, size_t *len);

/* The canonical text of a JSON file Braid writes (case files, the
 * Studio's saves): two-space indentation, members in their order (json-c
 * keeps insertion order), scalars as brd_json_compact, empty containers as
 * {} and [], and a final newline — what JSON.stringify(v, null, 2) + "\n"
 * gives.  A new string the caller frees; NULL when out of memory. */
char *brd_json_pretty(struct json_object *v);

/* A new double whose serialisation is the shortest text that reads back
 * to the same double (json-c's own prints 17 digits: 0.1 → 0.10000000000000001).
 * NaN and infinities cannot be represented and give NULL (JSON null). */
struct json_object *brd_json_new_double(double d);

/* "null", "boolean", "number", "string", "array", "object". */
const char *brd_json_type_name(struct json_object *v);

bool brd_json_is_number(struct json_object *v);

/* Numeric value of a number (ints converted). */
double brd_json_number(struct json_object *v);

/* Compares two numbers by value: <0, 0, >0.  Both must be numbers. */
int brd_json_number_cmp(struct json_object *a, struct json_object *b);

/* Deep equality: numbers by value (1 == 1.0), strings by bytes, arrays
 * element-wise, objects as unordered maps; different types are unequal. */
bool brd_json_equal(struct json_object *a, struct json_object *b);

/* SPEC truthiness: false, null, 0 and "" are false; everything else true. */
bool brd_json_truthy(struct json_object *v);

/* The value of a hexadecimal digit (JSON \u escapes, percent-encoding),
 * or -1. */
static inline int brd_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Sets obj[key] = v.  Always consumes v: stored on success, released on
 * failure (no memory, obj not an object).  v NULL stores JSON null.
 * Returns 0 or -1. */
static inline int brd_json_add(struct json_object *obj, const char *key, struct json_object *v)
{
    if (json_object_object_add(obj, key, v) == 0)
        return 0;
    json_object_put(v);
    return -1;
}

/* Appends v to the array arr.  Always consumes v, as brd_json_add. */
static inline int brd_json_append(struct json_object *arr, struct json_object *v)
{
    if (json_object_array_add(arr, v) == 0)
        return 0;
    json_object_put(v);
    return -1;
}

/* A new reference to v (json_object_get), NULL-safe for readability. */
static inline struct json_object *brd_json_ref(struct json_object *v)
{
    return v ? json_object_get(v) : NULL;
}

#endif
