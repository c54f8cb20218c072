/* expr.h — switch-condition expressions (SPEC section 6).
 *
 *   literals   1  -2.5  "text"  'text'  true  false  null
 *   values     $.user_id   ${API1.data[0].id}
 *   operators  ( )  ! unary-  * / %  + -  < <= > >=  == !=  &&  ||
 *
 * Compiled once at load into an immutable tree; evaluated per request
 * against the previous output (`$`) and a reference resolver (`${..}`).
 * `&&` and `||` short-circuit and give a boolean; `==` is deep equality
 * without coercion; arithmetic is exact in int64 and falls back to double
 * on overflow; `/` always gives a double.
 */
#ifndef BRD_EXPR_H
#define BRD_EXPR_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "base/jsonutil.h"
#include "ref.h"

struct brd_expr;

/* Compiles text[0..len).  On failure: BRD_E_SYNTAX, err->pos = byte
 * offset, a message saying what was expected. */
int brd_expr_compile(const char *text, size_t len, struct brd_expr **out,
                     struct brd_error *err);

void brd_expr_free(struct brd_expr *e);

/* The `${..}` references the expression uses, in source order.  They may
 * be modified (ref->slot) by the loader before the first evaluation, never
 * after. */
size_t brd_expr_ref_count(const struct brd_expr *e);
struct brd_ref *brd_expr_ref(struct brd_expr *e, size_t i);

/* Evaluates e.  `current` is what `$` reads (borrowed, NULL = null);
 * lookup resolves references (may be NULL when the expression has none).
 * *out is a new reference to the value.  Errors: BRD_E_EXPRESSION_ERROR
 * with a message naming the operator and the operand types, or whatever
 * lookup reported. */
int brd_expr_eval(const struct brd_expr *e, struct json_object *current,
                  brd_ref_lookup_fn lookup, void *ctx, struct json_object **out,
                  struct brd_error *err);

/* Evaluates e and applies SPEC truthiness: *taken = value is truthy. */
int brd_expr_test(const struct brd_expr *e, struct json_object *current,
                  brd_ref_lookup_fn lookup, void *ctx, bool *taken, struct brd_error *err);

#endif
