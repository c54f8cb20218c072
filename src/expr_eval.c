/* expr_eval.c — evaluating a compiled condition expression (see expr.h)
 * over unboxed values, so that plain comparisons allocate nothing. */
#include "expr_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *op_text[] = {
    [OP_NOT] = "!", [OP_NEG] = "-", [OP_MUL] = "*", [OP_DIV] = "/", [OP_MOD] = "%",
    [OP_ADD] = "+", [OP_SUB] = "-", [OP_LT] = "<", [OP_LE] = "<=", [OP_GT] = ">",
    [OP_GE] = ">=", [OP_EQ] = "==", [OP_NE] = "!=", [OP_AND] = "&&", [OP_OR] = "||",
};

struct evalctx {
    const struct brd_expr *e;
    struct json_object *current;
    brd_ref_lookup_fn lookup;
    void *ctx;
    struct brd_error *err;
};

static void val_release(struct expr_val *v)
{
    free(v->owned);
    json_object_put(v->j);
    v->owned = NULL;
    v->j = NULL;
}

/* Takes ownership of the reference o. */
static void val_from_json(struct json_object *o, struct expr_val *v)
{
    memset(v, 0, sizeof *v);
    switch (json_object_get_type(o)) {
    case json_type_null:
        v->t = V_NULL;
        break;
    case json_type_boolean:
        v->t = V_BOOL;
        v->b = json_object_get_boolean(o);
        break;
    case json_type_int:
        v->i = json_object_get_int64(o);
        v->t = V_INT;
        if (v->i == INT64_MAX && json_object_get_uint64(o) > (uint64_t)INT64_MAX) {
            v->t = V_DBL;
            v->d = (double)json_object_get_uint64(o);
        }
        break;
    case json_type_double:
        v->t = V_DBL;
        v->d = json_object_get_double(o);
        break;
    case json_type_string:
        v->t = V_STR;
        v->s = json_object_get_string(o);
        v->n = (size_t)json_object_get_string_len(o);
        v->j = o;
        return;
    default:
        v->t = V_JSON;
        v->j = o;
        return;
    }
    json_object_put(o);
}

static const char *val_type(const struct expr_val *v)
{
    switch (v->t) {
    case V_NULL: return "null";
    case V_BOOL: return "boolean";
    case V_INT:
    case V_DBL: return "number";
    case V_STR: return "string";
    default: return brd_json_type_name(v->j);
    }
}

static bool is_num(const struct expr_val *v)
{
    return v->t == V_INT || v->t == V_DBL;
}

static double num(const struct expr_val *v)
{
    return v->t == V_INT ? (double)v->i : v->d;
}

static int num_cmp(const struct expr_val *a, const struct expr_val *b)
{
    if (a->t == V_INT && b->t == V_INT)
        return (a->i > b->i) - (a->i < b->i);
    double x = num(a), y = num(b);
    return (x > y) - (x < y);
}

static bool val_equal(const struct expr_val *a, const struct expr_val *b)
{
    if (is_num(a) && is_num(b))
        return num_cmp(a, b) == 0;
    if (a->t != b->t)
        return false;
    switch (a->t) {
    case V_NULL: return true;
    case V_BOOL: return a->b == b->b;
    case V_STR: return a->n == b->n && memcmp(a->s, b->s, a->n) == 0;
    default: return brd_json_equal(a->j, b->j);
    }
}

static bool val_truthy(const struct expr_val *v)
{
    switch (v->t) {
    case V_NULL: return false;
    case V_BOOL: return v->b;
    case V_INT: return v->i != 0;
    case V_DBL: return v->d != 0.0;
    case V_STR: return v->n != 0;
    default: return true;
    }
}

static int type_error(struct evalctx *c, const struct expr_node *n, const struct expr_val *a,
                      const struct expr_val *b)
{
    const char *op = op_text[n->op];
    if (!b)
        return brd_error_at(c->err, BRD_E_EXPRESSION_ERROR, n->pos,
                            "operator '%s' at byte %ld cannot apply to %s", op, n->pos,
                            val_type(a));
    if (n->op >= OP_LT && n->op <= OP_GE)
        return brd_error_at(c->err, BRD_E_EXPRESSION_ERROR, n->pos,
                            "cannot compare %s with %s (operator '%s' at byte %ld)", val_type(a),
                            val_type(b), op, n->pos);
    return brd_error_at(c->err, BRD_E_EXPRESSION_ERROR, n->pos,
                        "operator '%s' at byte %ld cannot apply to %s and %s", op, n->pos,
                        val_type(a), val_type(b));
}

static int set_double(struct evalctx *c, const struct expr_node *n, double d, struct expr_val *out)
{
    if (!isfinite(d))
        return brd_error_at(c->err, BRD_E_EXPRESSION_ERROR, n->pos,
                            "operator '%s' at byte %ld overflows: the result is not a finite "
                            "number", op_text[n->op], n->pos);
    out->t = V_DBL;
    out->d = d;
    return 0;
}

static int arith(struct evalctx *c, const struct expr_node *n, const struct expr_val *a,
                 const struct expr_val *b, struct expr_val *out)
{
    memset(out, 0, sizeof *out);
    if (n->op == OP_ADD && a->t == V_STR && b->t == V_STR) {
        char *s = malloc(a->n + b->n + 1);
        if (!s)
            return brd_error_nomem(c->err);
        memcpy(s, a->s, a->n);
        memcpy(s + a->n, b->s, b->n);
        s[a->n + b->n] = '\0';
        out->t = V_STR;
        out->owned = s;
        out->s = s;
        out->n = a->n + b->n;
        return 0;
    }
    if (!is_num(a) || !is_num(b))
        return type_error(c, n, a, b);
    bool ints = a->t == V_INT && b->t == V_INT;
    int64_t r;
    switch (n->op) {
    case OP_ADD:
        if (ints && !__builtin_add_overflow(a->i, b->i, &r))
            goto int_result;
        return set_double(c, n, num(a) + num(b), out);
    case OP_SUB:
        if (ints && !__builtin_sub_overflow(a->i, b->i, &r))
            goto int_result;
        return set_double(c, n, num(a) - num(b), out);
    case OP_MUL:
        if (ints && !__builtin_mul_overflow(a->i, b->i, &r))
            goto int_result;
        return set_double(c, n, num(a) * num(b), out);
    case OP_DIV:
        if (num(b) == 0.0)
            return brd_error_at(c->err, BRD_E_EXPRESSION_ERROR, n->pos,
                                "division by zero (operator '/' at byte %ld)", n->pos);
        return set_double(c, n, num(a) / num(b), out);
    case OP_MOD:
        if (num(b) == 0.0)
            return brd_error_at(c->err, BRD_E_EXPRESSION_ERROR, n->pos,
                                "division by zero (operator '%%' at byte %ld)", n->pos);
        if (ints) {
            /* INT64_MIN % -1 overflows in C; its value is 0. */
            r = b->i == -1 ? 0 : a->i % b->i;
            goto int_result;
        }
        return set_double(c, n, fmod(num(a), num(b)), out);
    default:
        return brd_error_set(c->err, BRD_E_INTERNAL, "bad arithmetic operator");
    }
int_result:
    out->t = V_INT;
    out->i = r;
    return 0;
}

static int eval(struct evalctx *c, const struct expr_node *n, struct expr_val *out);

static int compare(struct evalctx *c, const struct expr_node *n, const struct expr_val *a,
                   const struct expr_val *b, struct expr_val *out)
{
    int cmp;
    if (is_num(a) && is_num(b)) {
        cmp = num_cmp(a, b);
    } else if (a->t == V_STR && b->t == V_STR) {
        /* Byte order of UTF-8 is code point order. */
        size_t m = a->n < b->n ? a->n : b->n;
        int r = memcmp(a->s, b->s, m);
        cmp = r ? (r > 0) - (r < 0) : (a->n > b->n) - (a->n < b->n);
    } else {
        return type_error(c, n, a, b);
    }
    memset(out, 0, sizeof *out);
    out->t = V_BOOL;
    switch (n->op) {
    case OP_LT: out->b = cmp == -1; break;
    case OP_LE: out->b = cmp == -1 || cmp == 0; break;
    case OP_GT: out->b = cmp == 1; break;
    default: out->b = cmp == 1 || cmp == 0; break;
    }
    return 0;
}

static int eval_ref(struct evalctx *c, const struct expr_node *n, struct expr_val *out)
{
    const struct brd_ref *ref = &c->e->refs[n->ref];
    if (!c->lookup)
        return brd_error_at(c->err, BRD_E_EXPRESSION_ERROR, n->pos,
                            "reference ${%s} at byte %ld cannot be resolved here", ref->id, n->pos);
    struct json_object *output = NULL, *v = NULL;
    if (c->lookup(c->ctx, ref, &output, c->err) != 0)
        return -1;
    if (brd_ref_value(ref, output, &v, c->err) != 0)
        return -1;
    val_from_json(v, out);
    return 0;
}

static int eval(struct evalctx *c, const struct expr_node *n, struct expr_val *out)
{
    struct expr_val a, b;
    memset(out, 0, sizeof *out);
    switch (n->op) {
    case OP_LIT:
        *out = n->lit;
        out->owned = NULL; /* borrowed from the tree */
        return 0;
    case OP_PATH: {
        struct json_object *v = NULL;
        if (brd_jsonpath_value(n->path, c->current, &v, c->err) != 0)
            return -1;
        val_from_json(v, out);
        return 0;
    }
    case OP_REF:
        return eval_ref(c, n, out);
    case OP_NOT:
        if (eval(c, n->a, &a) != 0)
            return -1;
        out->t = V_BOOL;
        out->b = !val_truthy(&a);
        val_release(&a);
        return 0;
    case OP_NEG:
        if (eval(c, n->a, &a) != 0)
            return -1;
        if (a.t == V_INT && a.i != INT64_MIN) {
            out->t = V_INT;
            out->i = -a.i;
        } else if (is_num(&a)) {
            out->t = V_DBL;
            out->d = -num(&a);
        } else {
            type_error(c, n, &a, NULL);
            val_release(&a);
            return -1;
        }
        return 0;
    case OP_AND:
    case OP_OR: {
        if (eval(c, n->a, &a) != 0)
            return -1;
        bool t = val_truthy(&a);
        val_release(&a);
        out->t = V_BOOL;
        if ((n->op == OP_AND && !t) || (n->op == OP_OR && t)) {
            out->b = t;
            return 0;
        }
        if (eval(c, n->b, &b) != 0)
            return -1;
        out->b = val_truthy(&b);
        val_release(&b);
        return 0;
    }
    default:
        break;
    }
    /* Binary operators that need both operands. */
    if (eval(c, n->a, &a) != 0)
        return -1;
    if (eval(c, n->b, &b) != 0) {
        val_release(&a);
        return -1;
    }
    int rc = 0;
    switch (n->op) {
    case OP_EQ:
    case OP_NE:
        out->t = V_BOOL;
        out->b = val_equal(&a, &b) == (n->op == OP_EQ);
        break;
    case OP_LT:
    case OP_LE:
    case OP_GT:
    case OP_GE:
        rc = compare(c, n, &a, &b, out);
        break;
    default:
        rc = arith(c, n, &a, &b, out);
        break;
    }
    val_release(&a);
    val_release(&b);
    return rc;
}

static int val_to_json(struct evalctx *c, struct expr_val *v, struct json_object **out)
{
    struct json_object *o = NULL;
    switch (v->t) {
    case V_NULL:
        *out = NULL;
        return 0;
    case V_BOOL: o = json_object_new_boolean(v->b); break;
    case V_INT: o = json_object_new_int64(v->i); break;
    case V_DBL: o = brd_json_new_double(v->d); break;
    case V_STR:
        o = v->j ? json_object_get(v->j) : json_object_new_string_len(v->s, (int)v->n);
        break;
    default: o = json_object_get(v->j); break;
    }
    if (!o)
        return brd_error_nomem(c->err);
    *out = o;
    return 0;
}

int brd_expr_eval(const struct brd_expr *e, struct json_object *current,
                  brd_ref_lookup_fn lookup, void *ctx, struct json_object **out,
                  struct brd_error *err)
{
    *out = NULL;
    struct evalctx c = {e, current, lookup, ctx, err};
    struct expr_val v;
    if (eval(&c, e->root, &v) != 0)
        return -1;
    int rc = val_to_json(&c, &v, out);
    val_release(&v);
    return rc;
}

int brd_expr_test(const struct brd_expr *e, struct json_object *current,
                  brd_ref_lookup_fn lookup, void *ctx, bool *taken, struct brd_error *err)
{
    struct evalctx c = {e, current, lookup, ctx, err};
    struct expr_val v;
    if (eval(&c, e->root, &v) != 0)
        return -1;
    *taken = val_truthy(&v);
    val_release(&v);
    return 0;
}
