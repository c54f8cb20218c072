/* jsonpath_filter.c — filter expressions (RFC 9535 §2.3.5): logical
 * operators, comparisons, literals and function calls, with the
 * well-typedness rules of §2.4.3 checked here, at compile time. */
#include "jsonpath_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static struct jp_expr *new_expr(struct jp_parser *p, enum jp_ex_kind kind, size_t pos)
{
    struct jp_expr *e = calloc(1, sizeof *e);
    if (!e) {
        brd_jsonpath_nomem(p);
        return NULL;
    }
    e->kind = kind;
    e->pos = (long)pos;
    return e;
}

static enum jp_type func_result(const struct jp_expr *e)
{
    return brd_jsonpath_func_info(e->func)->result;
}

/* An operand of &&, || or ! and a whole filter must be a LogicalType: a
 * literal or a ValueType function result is not (§2.4.3). */
static bool check_logical(struct jp_parser *p, const struct jp_expr *e)
{
    if (e->kind == JP_EX_LITERAL) {
        brd_jsonpath_fail(p, (size_t)e->pos, "a literal must be compared (for example @.a == 1)");
        return false;
    }
    if (e->kind == JP_EX_FUNC && func_result(e) == JP_T_VALUE) {
        brd_jsonpath_fail(p, (size_t)e->pos, "the result of function '%s' must be compared",
                          brd_jsonpath_func_info(e->func)->name);
        return false;
    }
    return true;
}

/* comparable = literal / singular-query / function-expr of ValueType. */
static bool check_comparable(struct jp_parser *p, const struct jp_expr *e)
{
    if (e->kind == JP_EX_QUERY && !e->query->singular) {
        brd_jsonpath_fail(p, (size_t)e->pos, "non-singular query cannot be compared");
        return false;
    }
    if (e->kind == JP_EX_FUNC && func_result(e) != JP_T_VALUE) {
        brd_jsonpath_fail(p, (size_t)e->pos, "the result of function '%s' cannot be compared",
                          brd_jsonpath_func_info(e->func)->name);
        return false;
    }
    return true;
}

/* number (§2.3.5.1): (int / "-0") [frac] [exp]; not range-limited. */
static struct jp_expr *parse_number(struct jp_parser *p)
{
    size_t start = p->pos;
    bool is_int = true;
    if (jp_peek(p) == '-')
        p->pos++;
    if (!jp_is_digit(jp_peek(p))) {
        brd_jsonpath_fail(p, p->pos, "expected a digit");
        return NULL;
    }
    if (jp_peek(p) == '0' && jp_is_digit(jp_peek_at(p, 1))) {
        brd_jsonpath_fail(p, start, "leading zeros are not allowed");
        return NULL;
    }
    while (jp_is_digit(jp_peek(p)))
        p->pos++;
    if (jp_peek(p) == '.') {
        is_int = false;
        p->pos++;
        if (!jp_is_digit(jp_peek(p))) {
            brd_jsonpath_fail(p, p->pos, "expected a digit after '.'");
            return NULL;
        }
        while (jp_is_digit(jp_peek(p)))
            p->pos++;
    }
    if (jp_peek(p) == 'e' || jp_peek(p) == 'E') {
        is_int = false;
        p->pos++;
        if (jp_peek(p) == '+' || jp_peek(p) == '-')
            p->pos++;
        if (!jp_is_digit(jp_peek(p))) {
            brd_jsonpath_fail(p, p->pos, "expected a digit in the exponent");
            return NULL;
        }
        while (jp_is_digit(jp_peek(p)))
            p->pos++;
    }
    char buf[64];
    size_t n = p->pos - start;
    char *text = n < sizeof buf ? buf : malloc(n + 1);
    if (!text) {
        brd_jsonpath_nomem(p);
        return NULL;
    }
    memcpy(text, p->s + start, n);
    text[n] = '\0';
    struct json_object *v = NULL;
    if (is_int) {
        errno = 0;
        long long i = strtoll(text, NULL, 10);
        v = errno == ERANGE ? json_object_new_double(strtod(text, NULL)) : json_object_new_int64(i);
    } else {
        v = json_object_new_double(strtod(text, NULL));
    }
    if (text != buf)
        free(text);
    struct jp_expr *e = v ? new_expr(p, JP_EX_LITERAL, start) : NULL;
    if (!e) {
        json_object_put(v);
        brd_jsonpath_nomem(p);
        return NULL;
    }
    e->literal = v;
    return e;
}

static bool check_arg(struct jp_parser *p, struct jp_expr *call, size_t i);

/* function-expr (§2.4), p->pos on the '(' after the name. */
static struct jp_expr *parse_call(struct jp_parser *p, enum jp_func f, size_t start)
{
    const struct jp_func_info *info = brd_jsonpath_func_info(f);
    struct jp_expr *e = new_expr(p, JP_EX_FUNC, start);
    if (!e)
        return NULL;
    e->func = f;
    p->pos++;
    jp_skip_ws(p);
    if (jp_peek(p) != ')') {
        for (;;) {
            struct jp_expr *arg = brd_jsonpath_parse_logical(p, true);
            if (!arg)
                goto fail;
            struct jp_expr **bigger = realloc(e->args, (e->nargs + 1) * sizeof *bigger);
            if (!bigger) {
                brd_jsonpath_free_expr(arg);
                brd_jsonpath_nomem(p);
                goto fail;
            }
            e->args = bigger;
            e->args[e->nargs++] = arg;
            jp_skip_ws(p);
            if (jp_peek(p) == ',') {
                p->pos++;
                jp_skip_ws(p);
                continue;
            }
            if (jp_peek(p) == ')')
                break;
            brd_jsonpath_fail(p, p->pos, "expected ',' or ')' in the arguments of '%s'",
                              info->name);
            goto fail;
        }
    }
    p->pos++;
    if (e->nargs != info->nparams) {
        brd_jsonpath_fail(p, start, "function '%s' takes %zu argument%s", info->name,
                          info->nparams, info->nparams == 1 ? "" : "s");
        goto fail;
    }
    for (size_t i = 0; i < e->nargs; i++)
        if (!check_arg(p, e, i))
            goto fail;
    /* A pattern given as a literal is compiled now, once. */
    if ((f == JP_F_MATCH || f == JP_F_SEARCH) && e->args[1]->kind == JP_EX_LITERAL) {
        e->re_static = true;
        struct json_object *lit = e->args[1]->literal;
        if (json_object_is_type(lit, json_type_string)) {
            int rc = brd_iregexp_compile(json_object_get_string(lit),
                                         (size_t)json_object_get_string_len(lit),
                                         f == JP_F_MATCH, &e->re);
            if (rc < 0) {
                brd_jsonpath_nomem(p);
                goto fail;
            }
        }
    }
    return e;
fail:
    brd_jsonpath_free_expr(e);
    return NULL;
}

/* Checks argument i of a call against its parameter type (§2.4.3). */
static bool check_arg(struct jp_parser *p, struct jp_expr *call, size_t i)
{
    const struct jp_func_info *info = brd_jsonpath_func_info(call->func);
    struct jp_expr *a = call->args[i];
    bool bare = a->bare;
    a->bare = false;
    switch (info->params[i]) {
    case JP_T_VALUE:
        if (bare && a->kind == JP_EX_LITERAL)
            return true;
        if (bare && a->kind == JP_EX_QUERY) {
            if (a->query->singular)
                return true;
            brd_jsonpath_fail(p, (size_t)a->pos, "argument %zu of '%s' must be a singular "
                              "query (names and indexes only)", i + 1, info->name);
            return false;
        }
        if (bare && a->kind == JP_EX_FUNC && func_result(a) == JP_T_VALUE)
            return true;
        brd_jsonpath_fail(p, (size_t)a->pos, "argument %zu of '%s' must be a value "
                          "(a literal, a singular query or a value function)", i + 1, info->name);
        return false;
    case JP_T_NODES:
        if (bare && a->kind == JP_EX_QUERY)
            return true;
        if (bare && a->kind == JP_EX_FUNC && func_result(a) == JP_T_NODES)
            return true;
        brd_jsonpath_fail(p, (size_t)a->pos, "argument %zu of '%s' must be a query", i + 1,
                          info->name);
        return false;
    case JP_T_LOGICAL:
        return check_logical(p, a);
    }
    return false;
}

/* literal / filter-query / function-expr. */
static struct jp_expr *parse_primary(struct jp_parser *p)
{
    size_t start = p->pos;
    int c = jp_peek(p);
    if (c == '@' || c == '$') {
        p->pos++;
        struct jp_expr *e = new_expr(p, JP_EX_QUERY, start);
        if (!e)
            return NULL;
        e->query = brd_jsonpath_parse_query(p, c == '$');
        if (!e->query) {
            free(e);
            return NULL;
        }
        return e;
    }
    if (c == '\'' || c == '"') {
        struct jp_sbuf b = {0};
        if (!brd_jsonpath_parse_string(p, &b)) {
            free(b.s);
            return NULL;
        }
        struct jp_expr *e = new_expr(p, JP_EX_LITERAL, start);
        if (e && !(e->literal = json_object_new_string_len(b.s, (int)b.len))) {
            free(e);
            e = NULL;
            brd_jsonpath_nomem(p);
        }
        free(b.s);
        return e;
    }
    if (c == '-' || jp_is_digit(c))
        return parse_number(p);
    if (c >= 'a' && c <= 'z') {
        /* function-name = LCALPHA *(LCALPHA / "_" / DIGIT) */
        int d = jp_peek(p);
        while ((d >= 'a' && d <= 'z') || d == '_' || jp_is_digit(d))
            d = (p->pos++, jp_peek(p));
        size_t n = p->pos - start;
        const char *name = p->s + start;
        if (jp_peek(p) == '(') {
            enum jp_func f;
            if (brd_jsonpath_func_lookup(name, n, &f) != 0) {
                brd_jsonpath_fail(p, start, "unknown function '%.*s'", (int)n, name);
                return NULL;
            }
            return parse_call(p, f, start);
        }
        int which = n == 4 && memcmp(name, "true", 4) == 0    ? 1
                  : n == 5 && memcmp(name, "false", 5) == 0 ? 2
                  : n == 4 && memcmp(name, "null", 4) == 0  ? 3 : 0;
        if (!which) {
            brd_jsonpath_fail(p, start, "expected a literal, a query or a function call");
            return NULL;
        }
        struct json_object *v = which == 3 ? NULL : json_object_new_boolean(which == 1);
        struct jp_expr *e = which == 3 || v ? new_expr(p, JP_EX_LITERAL, start) : NULL;
        if (!e) {
            json_object_put(v);
            brd_jsonpath_nomem(p);
            return NULL;
        }
        e->literal = v;
        return e;
    }
    brd_jsonpath_fail(p, start, "expected a literal, a query or a function call");
    return NULL;
}

/* paren-expr's "(" S logical-expr S ")", p->pos on the '('. */
static struct jp_expr *parse_paren(struct jp_parser *p)
{
    p->pos++;
    jp_skip_ws(p);
    struct jp_expr *e = brd_jsonpath_parse_logical(p, false);
    if (!e)
        return NULL;
    jp_skip_ws(p);
    if (jp_peek(p) != ')') {
        brd_jsonpath_fail(p, p->pos, "expected ')'");
        brd_jsonpath_free_expr(e);
        return NULL;
    }
    p->pos++;
    return e;
}

static int parse_op(struct jp_parser *p, enum jp_op *op)
{
    int c = jp_peek(p), d = jp_peek_at(p, 1);
    if (c == '=' && d == '=') { *op = JP_EQ; return 2; }
    if (c == '!' && d == '=') { *op = JP_NE; return 2; }
    if (c == '<' && d == '=') { *op = JP_LE; return 2; }
    if (c == '>' && d == '=') { *op = JP_GE; return 2; }
    if (c == '<') { *op = JP_LT; return 1; }
    if (c == '>') { *op = JP_GT; return 1; }
    return 0;
}

/* basic-expr = paren-expr / comparison-expr / test-expr.  In a function
 * argument (arg), a lone literal, query or function is returned "bare"
 * for parse_call to type-check against the parameter. */
static struct jp_expr *parse_basic(struct jp_parser *p, bool arg)
{
    size_t start = p->pos;
    int c = jp_peek(p);
    if (c == '!') {
        p->pos++;
        jp_skip_ws(p);
        struct jp_expr *inner;
        if (jp_peek(p) == '(') {
            inner = parse_paren(p);
        } else {
            c = jp_peek(p);
            if (c != '@' && c != '$' && !(c >= 'a' && c <= 'z')) {
                brd_jsonpath_fail(p, p->pos, "expected '(', a query or a function after '!'");
                return NULL;
            }
            inner = parse_primary(p);
            if (inner && !check_logical(p, inner)) {
                brd_jsonpath_free_expr(inner);
                return NULL;
            }
        }
        if (!inner)
            return NULL;
        struct jp_expr *e = new_expr(p, JP_EX_NOT, start);
        if (!e) {
            brd_jsonpath_free_expr(inner);
            return NULL;
        }
        e->a = inner;
        return e;
    }
    if (c == '(')
        return parse_paren(p);
    struct jp_expr *left = parse_primary(p);
    if (!left)
        return NULL;
    size_t save = p->pos;
    jp_skip_ws(p);
    enum jp_op op;
    int n = parse_op(p, &op);
    if (n == 0) {
        p->pos = save;
        if (arg) {
            left->bare = true;
            return left;
        }
        if (!check_logical(p, left)) {
            brd_jsonpath_free_expr(left);
            return NULL;
        }
        return left;
    }
    size_t op_at = p->pos;
    p->pos += (size_t)n;
    jp_skip_ws(p);
    struct jp_expr *right = NULL, *e = NULL;
    if (check_comparable(p, left) && (right = parse_primary(p)) && check_comparable(p, right) &&
        (e = new_expr(p, JP_EX_CMP, op_at))) {
        e->op = op;
        e->a = left;
        e->b = right;
        return e;
    }
    brd_jsonpath_free_expr(left);
    brd_jsonpath_free_expr(right);
    return NULL;
}

/* Appends operand to the n-ary && or || node e. */
static bool add_operand(struct jp_parser *p, struct jp_expr *e, struct jp_expr *operand)
{
    if ((e->nargs & (e->nargs - 1)) == 0) {         /* grow at powers of two */
        size_t cap = e->nargs ? e->nargs * 2 : 2;
        struct jp_expr **bigger = realloc(e->args, cap * sizeof *bigger);
        if (!bigger) {
            brd_jsonpath_nomem(p);
            return false;
        }
        e->args = bigger;
    }
    operand->bare = false;
    e->args[e->nargs++] = operand;
    return true;
}

/* logical-and-expr = basic-expr *(S "&&" S basic-expr), and
 * logical-or-expr = logical-and-expr *(S "||" S logical-and-expr).  A chain
 * becomes one n-ary node (operands in args) rather than a nested tree, so
 * that a long chain costs no stack depth to evaluate or free. */
static struct jp_expr *parse_chain(struct jp_parser *p, bool arg, bool is_or)
{
    struct jp_expr *first = is_or ? parse_chain(p, arg, false) : parse_basic(p, arg);
    if (!first)
        return NULL;
    struct jp_expr *e = NULL;
    char op = is_or ? '|' : '&';
    for (;;) {
        size_t save = p->pos;
        jp_skip_ws(p);
        if (jp_peek(p) != op || jp_peek_at(p, 1) != op) {
            p->pos = save;
            break;
        }
        if (!e) {
            if (!check_logical(p, first) ||
                !(e = new_expr(p, is_or ? JP_EX_OR : JP_EX_AND, p->pos)) ||
                !add_operand(p, e, first))
                goto fail;
            first = NULL;
        }
        p->pos += 2;
        jp_skip_ws(p);
        struct jp_expr *next = is_or ? parse_chain(p, arg, false) : parse_basic(p, arg);
        if (!next)
            goto fail;
        if (!check_logical(p, next) || !add_operand(p, e, next)) {
            brd_jsonpath_free_expr(next);
            goto fail;
        }
    }
    return e ? e : first;
fail:
    brd_jsonpath_free_expr(first);
    brd_jsonpath_free_expr(e);
    return NULL;
}

struct jp_expr *brd_jsonpath_parse_logical(struct jp_parser *p, bool arg)
{
    if (++p->nesting > JP_MAX_NESTING) {
        brd_jsonpath_fail(p, p->pos, "query nested too deeply (more than %d levels)",
                          JP_MAX_NESTING);
        return NULL;
    }
    struct jp_expr *e = parse_chain(p, arg, true);
    p->nesting--;
    return e;
}
