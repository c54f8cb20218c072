/* ref.h — references `${ID}` / `${ID.path}` / `${ID[0]..x}` (SPEC section 5).
 *
 * A reference names a node (or START) and optionally continues with a
 * JSONPath into that node's output: `${API1.data[0].id}` is node "API1"
 * and the query `$.data[0].id`.  References appear in expressions and in
 * templates; both parse them with brd_ref_parse and resolve them through
 * a lookup callback the caller supplies (the engine, or `braid expr`).
 */
#ifndef BRD_REF_H
#define BRD_REF_H

#include <stddef.h>

#include "base/error.h"
#include "jsonpath.h"
#include "base/jsonutil.h"
#include "base/name.h"

struct brd_ref {
    char id[BRD_NAME_MAX + 1];   /* node id or "START" */
    char *text;                  /* the reference as written, "${A.x}" (owned) */
    struct brd_jsonpath *path;   /* owned; NULL: the whole output */
    int slot;                    /* free for the resolver (e.g. a node index); -1 initially */
};

/* Parses one reference at text[0..len), which must start with "${".
 * On success fills *ref (release it with brd_ref_clear) and stores in
 * *consumed the bytes used, closing '}' included.  Errors carry a byte
 * position relative to text. */
int brd_ref_parse(const char *text, size_t len, size_t *consumed, struct brd_ref *ref,
                  struct brd_error *err);

void brd_ref_clear(struct brd_ref *ref);

/* s[i] is a quote (' or "): the offset of the quote that closes it
 * (backslash escapes skipped), or len when it is not closed.  Used to find
 * where a reference or a bracketed JSONPath segment ends. */
size_t brd_skip_quoted(const char *s, size_t len, size_t i);

/* Gives the node output that ref names (borrowed, NULL = JSON null).
 * Returns 0, or -1 with err filled when the output is not available. */
typedef int (*brd_ref_lookup_fn)(void *ctx, const struct brd_ref *ref,
                                 struct json_object **output, struct brd_error *err);

/* The value of ref given its node's output: the output itself, or the
 * JSONPath continuation applied to it with the SPEC's singular rule.
 * *out is a new reference. */
int brd_ref_value(const struct brd_ref *ref, struct json_object *output,
                  struct json_object **out, struct brd_error *err);

#endif
