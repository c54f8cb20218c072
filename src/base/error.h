/* error.h — errors as values.
 *
 * Every fallible function in Braid returns an int status (0 = ok, -1 =
 * failed) and, on failure, fills a caller-owned struct brd_error with a
 * code from the SPEC's table and a message a user can act on.  Nothing
 * below main() prints or exits; callers decide what to do with the error.
 */
#ifndef BRD_ERROR_H
#define BRD_ERROR_H

#include <stddef.h>

enum brd_code {
    BRD_OK = 0,
    /* The codes of SPEC section 6, in its table's order. */
    BRD_E_BAD_REQUEST,
    BRD_E_PARAM_MISSING,
    BRD_E_NOT_FOUND,
    BRD_E_METHOD_NOT_ALLOWED,
    BRD_E_PAYLOAD_TOO_LARGE,
    BRD_E_API_ERROR,
    BRD_E_API_TIMEOUT,
    BRD_E_TIMEOUT,
    BRD_E_DATASOURCE_ERROR,
    BRD_E_DATASOURCE_TIMEOUT,
    BRD_E_FUNCTION_ERROR,
    BRD_E_FUNCTION_TIMEOUT,
    BRD_E_FUNCTION_MEMORY,
    BRD_E_SANDBOX_VIOLATION,
    BRD_E_EXPRESSION_ERROR,
    BRD_E_NO_BRANCH_MATCHED,
    BRD_E_INTERNAL,
    /* Codes for things that happen before any request: a query or an
     * expression that does not parse, a definition that does not load,
     * a file that cannot be read, memory exhaustion. */
    BRD_E_SYNTAX,
    BRD_E_LOAD,
    BRD_E_IO,
    BRD_E_NOMEM,
    BRD_E_USAGE,
};

#define BRD_ERROR_MSG_MAX 512

struct brd_error {
    enum brd_code code;
    long pos;                      /* byte offset in the parsed text, or -1 */
    char node[72];                 /* node id the error belongs to, or "" */
    char msg[BRD_ERROR_MSG_MAX];   /* never empty once set */
};

/* Resets err to "no error". err may be NULL. */
void brd_error_clear(struct brd_error *err);

/* Fills err (which may be NULL) with code, pos -1 and a printf-formatted
 * message; always returns -1 so callers can write `return brd_error_set(..)`. */
int brd_error_set(struct brd_error *err, enum brd_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Same, with a byte position in the text being parsed. */
int brd_error_at(struct brd_error *err, enum brd_code code, long pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Prepends "prefix: " to an already-filled message (for context such as a
 * file or node name). Returns -1. */
int brd_error_prefix(struct brd_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Out of memory, in one call: brd_error_set(err, BRD_E_NOMEM, "out of memory"). */
int brd_error_nomem(struct brd_error *err);

/* "API_ERROR", "EXPRESSION_ERROR", ... (the SPEC's spelling); the internal
 * codes map to "INTERNAL" except SYNTAX/LOAD/IO/USAGE which keep their names. */
const char *brd_code_name(enum brd_code code);

/* The code of a SPEC section 6 name ("API_ERROR"), or BRD_OK for any other
 * text (the internal codes have no name a user writes). */
enum brd_code brd_code_from_name(const char *name);

/* HTTP status of SPEC section 6 for a code (500 for the internal ones). */
int brd_code_http_status(enum brd_code code);

#endif
