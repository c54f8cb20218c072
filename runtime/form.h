/* form.h — the text decoders of a request (SPEC section 7): percent
 * escapes, query strings and application/x-www-form-urlencoded bodies (a
 * repeated key → an array), and the request path.  Pure functions on
 * bytes: no FastCGI, no I/O, so tests and fuzzers call them directly. */
#ifndef BRD_FORM_H
#define BRD_FORM_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "base/jsonutil.h"

/* Percent-decodes s[0..n) into out, which has room for n + 1 bytes; the
 * result is NUL-terminated but may hold NULs of its own (%00): *outlen is
 * its length.  '+' becomes a space when plus (forms), stays '+' otherwise
 * (paths).  0, or -1 with BRD_E_BAD_REQUEST and err->pos at the '%' of a
 * malformed escape ("%", "%4", "%zz"). */
int brd_form_unescape(const char *s, size_t n, bool plus, char *out, size_t *outlen,
                      struct brd_error *err);

/* True when s[0..n) is well-formed UTF-8 (RFC 3629: no overlongs, no
 * surrogates, nothing past U+10FFFF).  NUL is valid UTF-8. */
bool brd_form_utf8_valid(const char *s, size_t n);

/* Parses an application/x-www-form-urlencoded text (a query string or a
 * form body) into obj (an object; members are added, strings):
 *   "+" is a space, %XX is decoded, names and values must be UTF-8;
 *   a repeated name collects its values in order in an array;
 *   "a" alone is "a": "", empty pairs ("a&&b") are skipped, a pair with an
 *   empty name ("=v") is dropped; a value may hold NUL (%00), a name may not.
 * On failure obj may hold the fields before the bad one.  -1 with
 * BRD_E_BAD_REQUEST (or BRD_E_NOMEM); what ("query string", "form body")
 * begins the message. */
int brd_form_parse(const char *text, size_t len, const char *what, struct json_object *obj,
                   struct brd_error *err);

/* The request path as routed: raw[0..n) (REQUEST_URI before its '?')
 * percent-decoded ('+' stays '+'), then checked: no NUL, valid UTF-8, no
 * ".." segment.  *out is malloc'd (the caller frees it).  -1 with
 * BRD_E_BAD_REQUEST (or BRD_E_NOMEM), *out NULL. */
int brd_form_decode_path(const char *raw, size_t n, char **out, struct brd_error *err);

#endif
