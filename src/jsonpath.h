/* jsonpath.h — RFC 9535 JSONPath: compile once, evaluate many times.
 *
 * A compiled query (struct brd_jsonpath) is immutable after
 * brd_jsonpath_compile and may be shared freely (across forked workers, by
 * any number of evaluations).  Evaluation writes into a caller-owned
 * struct brd_nodelist that is reused between evaluations, so a warm
 * evaluation allocates nothing.
 *
 * Values in a nodelist are borrowed from the document: they live as long
 * as the document does.  JSON null is the NULL pointer (json-c), so use
 * the count, never a NULL test, to know whether something matched.
 *
 * The DataWorks spelling "$." is accepted and means "$".
 */
#ifndef BRD_JSONPATH_H
#define BRD_JSONPATH_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "base/jsonutil.h"

struct brd_jsonpath;
struct brd_nodelist;

/* Compiles text[0..len) (length-aware: the text may contain NUL bytes).
 * On success *out is a new query owned by the caller.  On failure returns
 * -1 with BRD_E_SYNTAX, err->pos = the byte offset of the problem and a
 * message saying what was expected there. */
int brd_jsonpath_compile(const char *text, size_t len, struct brd_jsonpath **out,
                         struct brd_error *err);

/* Like brd_jsonpath_compile, for a query embedded at the start of a longer
 * text (an expression such as "$.a[0] != 1"): compiles the longest query
 * text[0..*used) and stops before the first byte that cannot continue it
 * (blank space before that byte is not part of the query).  Errors inside
 * the query are reported as by brd_jsonpath_compile. */
int brd_jsonpath_compile_prefix(const char *text, size_t len, size_t *used,
                                struct brd_jsonpath **out, struct brd_error *err);

void brd_jsonpath_free(struct brd_jsonpath *q);

/* True when the query has only name and index segments (RFC 9535 §2.3.5.1
 * "singular query"): it selects at most one node. */
bool brd_jsonpath_is_singular(const struct brd_jsonpath *q);

/* The source text the query was compiled from (not NUL-safe; use len). */
const char *brd_jsonpath_text(const struct brd_jsonpath *q, size_t *len);

/* A new, empty nodelist (NULL when out of memory). */
struct brd_nodelist *brd_nodelist_new(void);
void brd_nodelist_free(struct brd_nodelist *list);

size_t brd_nodelist_count(const struct brd_nodelist *list);

/* The i-th value (borrowed from the document; NULL means JSON null). */
struct json_object *brd_nodelist_value(const struct brd_nodelist *list, size_t i);

/* The normalized path (RFC 9535 §2.7) of the i-th node, e.g. "$['a'][0]",
 * as a new NUL-terminated string the caller frees.  Only available when the
 * evaluation that filled the list was given BRD_JSONPATH_PATHS. */
int brd_nodelist_path(const struct brd_nodelist *list, size_t i, char **out,
                      struct brd_error *err);

/* Bytes the member name key takes between the quotes of ['...'] in a
 * normalized path (RFC 9535 §2.7: \b \f \n \r \t \' \\ and \u00xx for the
 * other control characters), writing them to out too when it is not NULL
 * (no NUL is added). */
size_t brd_jsonpath_escape_name(const char *key, char *out);

/* Bounds the work of one evaluation into list: every node selected (at any
 * filter depth) and every array or object a descendant segment walks
 * through is one step.  RFC 9535 queries can do work polynomial in the
 * document with a degree that grows with nesting ("$..[?@..[?@..*]]"), so
 * an evaluation past the limit stops with an error instead of running
 * away.  0 restores the default.  The default allows well over any
 * ordinary query on a multi-megabyte document. */
#define BRD_JSONPATH_DEFAULT_LIMIT ((size_t)1 << 22)
void brd_nodelist_set_limit(struct brd_nodelist *list, size_t max_steps);

/* Sets the limit of every list that has none of its own (0 restores
 * BRD_JSONPATH_DEFAULT_LIMIT).  For tools such as the fuzzers, whose
 * instrumented builds run a step many times slower. */
void brd_jsonpath_set_default_limit(size_t max_steps);

/* Record each node's location so that brd_nodelist_path works. */
#define BRD_JSONPATH_PATHS 1u

/* Evaluates q against root (any JSON value, NULL = null).  Clears list
 * first and reuses its storage.  Fails (leaving the list empty) when memory
 * runs out (BRD_E_NOMEM) or when the evaluation exceeds the list's step
 * limit (BRD_E_INTERNAL, see brd_nodelist_set_limit). */
int brd_jsonpath_eval(const struct brd_jsonpath *q, struct json_object *root,
                      struct brd_nodelist *list, unsigned flags, struct brd_error *err);

/* The value SPEC section 5 gives a query: for a singular query the matched
 * value or null when nothing matches; for any other query a new JSON array
 * of all matches.  *out is a new reference (NULL = JSON null). */
int brd_jsonpath_value(const struct brd_jsonpath *q, struct json_object *root,
                       struct json_object **out, struct brd_error *err);

#endif
