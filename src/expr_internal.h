/* expr_internal.h — what the expression parser (expr.c) and evaluator
 * (expr_eval.c) share: the tree and the unboxed values.  Private to them. */
#ifndef BRD_EXPR_INTERNAL_H
#define BRD_EXPR_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "expr.h"
#include "jsonpath.h"

enum op {
    OP_LIT, OP_PATH, OP_REF,
    OP_NOT, OP_NEG,
    OP_MUL, OP_DIV, OP_MOD, OP_ADD, OP_SUB,
    OP_LT, OP_LE, OP_GT, OP_GE, OP_EQ, OP_NE,
    OP_AND, OP_OR,
};

/* An evaluated value.  Scalars are unboxed; strings point into a literal,
 * a JSON string (j holds the reference) or an owned buffer; arrays and
 * objects stay json-c values (j, owned reference). */
enum vtype { V_NULL, V_BOOL, V_INT, V_DBL, V_STR, V_JSON };

struct expr_val {
    enum vtype t;
    bool b;
    int64_t i;
    double d;
    const char *s;
    size_t n;
    char *owned;              /* malloc'd string storage, or NULL */
    struct json_object *j;    /* owned reference, or NULL */
};

struct expr_node {
    enum op op;
    long pos;                 /* byte offset of the operator or operand */
    int height;               /* 1 + the taller operand's height */
    struct expr_node *a, *b;
    struct expr_val lit;           /* OP_LIT (strings: lit.owned) */
    struct brd_jsonpath *path;/* OP_PATH */
    size_t ref;               /* OP_REF: index into refs */
};

struct brd_expr {
    struct expr_node *root;
    struct brd_ref *refs;
    size_t nrefs;
};

#endif
