/* sql_value.h — database values as JSON (SPEC section 2b), the parts every
 * driver shares: what a declared column type asks for, dates and times as
 * ISO 8601 with a `T`, binary as base64, UTF-8 checks on text.
 */
#ifndef BRD_SQL_VALUE_H
#define BRD_SQL_VALUE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/jsonutil.h"

/* How a column's values are mapped beyond their storage class. */
enum brd_sqlval_kind {
    BRD_SQLVAL_PLAIN,      /* by the value itself */
    BRD_SQLVAL_BOOL,       /* BOOL, BOOLEAN: integers as true/false */
    BRD_SQLVAL_DATETIME,   /* DATE, DATETIME, TIMESTAMP[TZ]: text normalised to ISO 8601 */
    BRD_SQLVAL_JSON,       /* JSON: text parsed as its JSON value */
};

/* The kind a declared type name asks for, by its first word, case-insensitive
 * ("BOOLEAN", "timestamp with time zone", "JSON"); NULL or anything else is
 * BRD_SQLVAL_PLAIN. */
enum brd_sqlval_kind brd_sqlval_kind_of(const char *declared);

/* Text of a date-time column: "2026-12-02 14:05:00[.123][+01:00|Z]" becomes
 * "2026-12-02T14:05:00..." (the space between date and time replaced by T);
 * any other text is kept as it is.  0 with *out (a new string), -1 when out
 * of memory. */
int brd_sqlval_datetime(const char *s, size_t n, struct json_object **out);

/* RFC 4648 base64 (with padding) of p[0..n) as a new JSON string; 0, or -1
 * when out of memory. */
int brd_sqlval_base64(const void *p, size_t n, struct json_object **out);

/* True when s[0..n) is well-formed UTF-8 (no overlongs, surrogates or
 * code points above U+10FFFF; NUL bytes are allowed: JSON escapes them). */
bool brd_sqlval_utf8_valid(const char *s, size_t n);

/* An exact decimal's text (DECIMAL, NUMERIC) as a JSON number when the
 * number reads back as exactly that decimal, else as the string itself.
 * NULL when out of memory. */
struct json_object *brd_sqlval_decimal(const char *s, size_t n);

#endif
