/* template.h — values in `params`, `output` and `result` (SPEC section 5).
 *
 * A JSON value from a definition is compiled once into a template:
 *   number, bool, null      → itself
 *   object, array           → member by member
 *   "$", "$.…", "$[…"       → a JSONPath query over the *input* (the previous
 *                             output for params/result, the raw result for output)
 *   "${REF}" exactly        → the referenced value, whatever its type
 *   "a ${REF} b"            → a string: strings as is, other values as compact
 *                             JSON, null as empty; "$${" writes a literal "${"
 *   any other string        → itself
 * Evaluation builds a new json-c value; the template stays immutable (the
 * loader may set each reference's slot before first use).
 */
#ifndef BRD_TEMPLATE_H
#define BRD_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "base/jsonutil.h"
#include "ref.h"

struct brd_template;

/* Compiles v (borrowed; NULL = null).  Errors are BRD_E_SYNTAX with a
 * message naming the member path inside v, after `where` (the field that
 * holds v, e.g. "output" gives "output.data[2].id: ..."; may be "").
 * *out is owned by the caller. */
int brd_template_compile(struct json_object *v, const char *where, struct brd_template **out,
                         struct brd_error *err);

void brd_template_free(struct brd_template *t);

/* Evaluates t: JSONPath queries read `input`, references go through lookup.
 * *out is a new reference (NULL = JSON null). */
int brd_template_eval(const struct brd_template *t, struct json_object *input,
                      brd_ref_lookup_fn lookup, void *ctx, struct json_object **out,
                      struct brd_error *err);

/* True when the template is an object (so it can name first-level fields). */
bool brd_template_is_object(const struct brd_template *t);

/* For an object template: true when it sets the field `name`. */
bool brd_template_has_field(const struct brd_template *t, const char *name);

/* Calls fn for every reference in t, with where = a readable location such
 * as "data[2].id"; stops at and returns the first non-zero result.  The
 * reference may be modified (its slot) during load. */
int brd_template_each_ref(struct brd_template *t,
                          int (*fn)(void *ctx, struct brd_ref *ref, const char *where),
                          void *ctx);

#endif
