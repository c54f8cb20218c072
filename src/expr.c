/* expr.c — parsing the condition-expression language of SPEC section 6
 * (see expr.h): recursive descent with C precedence into the small tree of
 * expr_internal.h; expr_eval.c evaluates it. */
#include "expr_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Deeper nesting than this is refused at parse time, so that neither the
 * parser nor the evaluator can exhaust the stack on hostile input:
 * MAX_DEPTH bounds the parser's recursion (parentheses, unary operators),
 * MAX_HEIGHT the tree the evaluator walks (long chains like 1+1+...+1). */
#define MAX_DEPTH 200
#define MAX_HEIGHT 1000

/* ---- parsing ---------------------------------------------------------- */

struct parser {
    const char *s;
    size_t len, i;
    int depth;
    struct brd_expr *e;
    struct brd_error *err;
};

static void node_free(struct expr_node *n)
{
    if (!n)
        return;
    node_free(n->a);
    node_free(n->b);
    free(n->lit.owned);
    brd_jsonpath_free(n->path);
    free(n);
}

static struct expr_node *node_new(struct parser *p, enum op op, long pos)
{
    struct expr_node *n = calloc(1, sizeof *n);
    if (!n) {
        brd_error_nomem(p->err);
        return NULL;
    }
    n->op = op;
    n->pos = pos;
    return n;
}

static void skip_ws(struct parser *p)
{
    while (p->i < p->len && (p->s[p->i] == ' ' || p->s[p->i] == '\t' ||
                             p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

static bool peek2(struct parser *p, const char *two)
{
    return p->i + 1 < p->len && p->s[p->i] == two[0] && p->s[p->i + 1] == two[1];
}

static struct expr_node *parse_or(struct parser *p);

static int read_hex4(struct parser *p, size_t at, unsigned *out)
{
    if (at + 4 > p->len)
        return -1;
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        int h = brd_hexval((unsigned char)p->s[at + k]);
        if (h < 0)
            return -1;
        v = v * 16 + (unsigned)h;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A '...' or "..." literal with JSON escapes (plus \' in either). */
static struct expr_node *parse_string(struct parser *p)
{
    size_t start = p->i;
    char quote = p->s[p->i++];
    char *buf = malloc(p->len - start + 1); /* decoding never grows the text */
    if (!buf) {
        brd_error_nomem(p->err);
        return NULL;
    }
    size_t n = 0;
    for (;;) {
        if (p->i >= p->len) {
            free(buf);
            brd_error_at(p->err, BRD_E_SYNTAX, (long)start,
                         "string starting at byte %zu is not closed: expected %c", start, quote);
            return NULL;
        }
        unsigned char c = (unsigned char)p->s[p->i];
        if (c == (unsigned char)quote) {
            p->i++;
            break;
        }
        if (c < 0x20) {
            free(buf);
            brd_error_at(p->err, BRD_E_SYNTAX, (long)p->i,
                         "control character in string at byte %zu: write it as an escape", p->i);
            return NULL;
        }
        if (c != '\\') {
            buf[n++] = (char)c;
            p->i++;
            continue;
        }
        size_t esc = p->i;
        char e = p->i + 1 < p->len ? p->s[p->i + 1] : '\0';
        p->i += 2;
        switch (e) {
        case '"': buf[n++] = '"'; break;
        case '\'': buf[n++] = '\''; break;
        case '\\': buf[n++] = '\\'; break;
        case '/': buf[n++] = '/'; break;
        case 'b': buf[n++] = '\b'; break;
        case 'f': buf[n++] = '\f'; break;
        case 'n': buf[n++] = '\n'; break;
        case 'r': buf[n++] = '\r'; break;
        case 't': buf[n++] = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (read_hex4(p, p->i, &cp) != 0)
                goto bad_escape;
            p->i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (p->i + 1 < p->len && p->s[p->i] == '\\' && p->s[p->i + 1] == 'u' &&
                    read_hex4(p, p->i + 2, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    p->i += 6;
                } else {
                    goto bad_escape;
                }
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                goto bad_escape;
            }
            n += put_utf8(buf + n, cp);
            break;
        }
        default:
            goto bad_escape;
        }
        continue;
    bad_escape:
        free(buf);
        brd_error_at(p->err, BRD_E_SYNTAX, (long)esc, "invalid escape in string at byte %zu", esc);
        return NULL;
    }
    struct expr_node *nd = node_new(p, OP_LIT, (long)start);
    if (!nd) {
        free(buf);
        return NULL;
    }
    nd->lit.t = V_STR;
    nd->lit.owned = buf;
    nd->lit.s = buf;
    nd->lit.n = n;
    return nd;
}

/* A JSON-style number: -? is the unary operator, so this is
 * (0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?; integers that fit int64 stay
 * exact, others become doubles. */
static struct expr_node *parse_number(struct parser *p)
{
    size_t start = p->i;
    const char *s = p->s;
    bool is_int = true;
    if (s[p->i] == '0') {
        p->i++;
        if (p->i < p->len && s[p->i] >= '0' && s[p->i] <= '9') {
            brd_error_at(p->err, BRD_E_SYNTAX, (long)start,
                         "number at byte %zu has a leading zero", start);
            return NULL;
        }
    } else {
        while (p->i < p->len && s[p->i] >= '0' && s[p->i] <= '9')
            p->i++;
    }
    if (p->i < p->len && s[p->i] == '.') {
        is_int = false;
        p->i++;
        if (p->i >= p->len || s[p->i] < '0' || s[p->i] > '9') {
            brd_error_at(p->err, BRD_E_SYNTAX, (long)p->i,
                         "expected a digit after '.' at byte %zu", p->i);
            return NULL;
        }
        while (p->i < p->len && s[p->i] >= '0' && s[p->i] <= '9')
            p->i++;
    }
    if (p->i < p->len && (s[p->i] == 'e' || s[p->i] == 'E')) {
        is_int = false;
        p->i++;
        if (p->i < p->len && (s[p->i] == '+' || s[p->i] == '-'))
            p->i++;
        if (p->i >= p->len || s[p->i] < '0' || s[p->i] > '9') {
            brd_error_at(p->err, BRD_E_SYNTAX, (long)p->i,
                         "expected a digit in the exponent at byte %zu", p->i);
            return NULL;
        }
        while (p->i < p->len && s[p->i] >= '0' && s[p->i] <= '9')
            p->i++;
    }
    char tmp[64];
    size_t n = p->i - start;
    if (n >= sizeof tmp) {
        brd_error_at(p->err, BRD_E_SYNTAX, (long)start, "number at byte %zu is too long", start);
        return NULL;
    }
    memcpy(tmp, s + start, n);
    tmp[n] = '\0';
    struct expr_node *nd = node_new(p, OP_LIT, (long)start);
    if (!nd)
        return NULL;
    if (is_int) {
        errno = 0;
        long long v = strtoll(tmp, NULL, 10);
        if (errno == 0) {
            nd->lit.t = V_INT;
            nd->lit.i = v;
            return nd;
        }
    }
    nd->lit.t = V_DBL;
    nd->lit.d = strtod(tmp, NULL);
    if (!isfinite(nd->lit.d)) {
        node_free(nd);
        brd_error_at(p->err, BRD_E_SYNTAX, (long)start, "number at byte %zu is out of range", start);
        return NULL;
    }
    return nd;
}

static bool name_byte(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_' || c >= 0x80;
}

/* The end of the JSONPath query that starts at s[i] == '$': shorthand
 * segments (.name, .*, ..name, ..*), and bracketed segments whose extent is
 * found by matching brackets outside quoted strings.  The query itself is
 * validated by the JSONPath compiler. */
static size_t path_end(const char *s, size_t len, size_t i)
{
    i++;
    for (;;) {
        if (i < len && s[i] == '.') {
            size_t dots = (i + 1 < len && s[i + 1] == '.') ? 2 : 1;
            i += dots;
            if (i < len && s[i] == '*') {
                i++;
            } else if (dots == 2 && i < len && s[i] == '[') {
                continue;
            } else {
                while (i < len && name_byte((unsigned char)s[i]))
                    i++;
            }
        } else if (i < len && s[i] == '[') {
            int depth = 0;
            for (; i < len; i++) {
                char c = s[i];
                if (c == '\'' || c == '"') {
                    i = brd_skip_quoted(s, len, i);
                } else if (c == '[') {
                    depth++;
                } else if (c == ']' && --depth == 0) {
                    i++;
                    break;
                }
            }
        } else {
            return i > len ? len : i;
        }
    }
}

static struct expr_node *parse_path(struct parser *p)
{
    size_t start = p->i;
    size_t end = path_end(p->s, p->len, start);
    struct expr_node *nd = node_new(p, OP_PATH, (long)start);
    if (!nd)
        return NULL;
    if (brd_jsonpath_compile(p->s + start, end - start, &nd->path, p->err) != 0) {
        if (p->err && p->err->pos >= 0)
            p->err->pos += (long)start;
        brd_error_prefix(p->err, "in JSONPath at byte %zu", start);
        node_free(nd);
        return NULL;
    }
    p->i = end;
    return nd;
}

static struct expr_node *parse_ref(struct parser *p)
{
    size_t start = p->i;
    struct brd_expr *e = p->e;
    struct brd_ref *grown = realloc(e->refs, (e->nrefs + 1) * sizeof *grown);
    if (!grown) {
        brd_error_nomem(p->err);
        return NULL;
    }
    e->refs = grown;
    size_t used;
    if (brd_ref_parse(p->s + start, p->len - start, &used, &e->refs[e->nrefs], p->err) != 0) {
        if (p->err && p->err->pos >= 0)
            p->err->pos += (long)start;
        brd_error_prefix(p->err, "in reference at byte %zu", start);
        return NULL;
    }
    struct expr_node *nd = node_new(p, OP_REF, (long)start);
    if (!nd) {
        brd_ref_clear(&e->refs[e->nrefs]);
        return NULL;
    }
    nd->ref = e->nrefs++;
    p->i = start + used;
    return nd;
}

static struct expr_node *parse_word(struct parser *p)
{
    size_t start = p->i;
    while (p->i < p->len && brd_is_name_char((unsigned char)p->s[p->i]))
        p->i++;
    size_t n = p->i - start;
    struct expr_node *nd;
    if (n == 4 && memcmp(p->s + start, "true", 4) == 0) {
        if ((nd = node_new(p, OP_LIT, (long)start))) {
            nd->lit.t = V_BOOL;
            nd->lit.b = true;
        }
    } else if (n == 5 && memcmp(p->s + start, "false", 5) == 0) {
        if ((nd = node_new(p, OP_LIT, (long)start)))
            nd->lit.t = V_BOOL;
    } else if (n == 4 && memcmp(p->s + start, "null", 4) == 0) {
        if ((nd = node_new(p, OP_LIT, (long)start)))
            nd->lit.t = V_NULL;
    } else {
        brd_error_at(p->err, BRD_E_SYNTAX, (long)start,
                     "unknown word '%.*s' at byte %zu: expected a number, a string, true, "
                     "false, null, $... or ${...}", (int)(n > 40 ? 40 : n), p->s + start, start);
        return NULL;
    }
    return nd;
}

static struct expr_node *parse_primary(struct parser *p)
{
    skip_ws(p);
    if (p->i >= p->len) {
        brd_error_at(p->err, BRD_E_SYNTAX, (long)p->i,
                     "unexpected end of expression at byte %zu: expected a value", p->i);
        return NULL;
    }
    char c = p->s[p->i];
    if (c == '(') {
        size_t open = p->i++;
        struct expr_node *inner = parse_or(p);
        if (!inner)
            return NULL;
        skip_ws(p);
        if (p->i >= p->len || p->s[p->i] != ')') {
            node_free(inner);
            brd_error_at(p->err, BRD_E_SYNTAX, (long)p->i,
                         "expected ')' at byte %zu to close '(' at byte %zu", p->i, open);
            return NULL;
        }
        p->i++;
        return inner;
    }
    if (c == '"' || c == '\'')
        return parse_string(p);
    if (c >= '0' && c <= '9')
        return parse_number(p);
    if (c == '$')
        return (p->i + 1 < p->len && p->s[p->i + 1] == '{') ? parse_ref(p) : parse_path(p);
    if (brd_is_name_char((unsigned char)c))
        return parse_word(p);
    if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
        brd_error_at(p->err, BRD_E_SYNTAX, (long)p->i,
                     "unexpected byte 0x%02x at byte %zu: expected a value", (unsigned char)c, p->i);
    else
        brd_error_at(p->err, BRD_E_SYNTAX, (long)p->i,
                     "unexpected '%c' at byte %zu: expected a value", c, p->i);
    return NULL;
}

static struct expr_node *parse_unary(struct parser *p)
{
    skip_ws(p);
    if (p->i < p->len && (p->s[p->i] == '!' || p->s[p->i] == '-') && !peek2(p, "!=")) {
        size_t at = p->i;
        enum op op = p->s[p->i] == '!' ? OP_NOT : OP_NEG;
        p->i++;
        if (++p->depth > MAX_DEPTH) {
            brd_error_at(p->err, BRD_E_SYNTAX, (long)at,
                         "expression nested deeper than %d at byte %zu", MAX_DEPTH, at);
            return NULL;
        }
        struct expr_node *operand = parse_unary(p);
        p->depth--;
        if (!operand)
            return NULL;
        struct expr_node *nd = node_new(p, op, (long)at);
        if (!nd) {
            node_free(operand);
            return NULL;
        }
        nd->a = operand;
        nd->height = operand->height + 1;
        return nd;
    }
    if (++p->depth > MAX_DEPTH) {
        brd_error_at(p->err, BRD_E_SYNTAX, (long)p->i,
                     "expression nested deeper than %d at byte %zu", MAX_DEPTH, p->i);
        return NULL;
    }
    struct expr_node *nd = parse_primary(p);
    p->depth--;
    return nd;
}

/* Operator tables per precedence level, from loosest to tightest. */
struct binop {
    const char *text;
    enum op op;
};
static const struct binop level_or[] = {{"||", OP_OR}, {NULL, 0}};
static const struct binop level_and[] = {{"&&", OP_AND}, {NULL, 0}};
static const struct binop level_eq[] = {{"==", OP_EQ}, {"!=", OP_NE}, {NULL, 0}};
static const struct binop level_rel[] = {{"<=", OP_LE}, {">=", OP_GE}, {"<", OP_LT},
                                         {">", OP_GT}, {NULL, 0}};
static const struct binop level_add[] = {{"+", OP_ADD}, {"-", OP_SUB}, {NULL, 0}};
static const struct binop level_mul[] = {{"*", OP_MUL}, {"/", OP_DIV}, {"%", OP_MOD}, {NULL, 0}};
static const struct binop *levels[] = {level_or, level_and, level_eq, level_rel, level_add,
                                       level_mul};
#define NLEVELS (sizeof levels / sizeof levels[0])

static const struct binop *match_op(struct parser *p, const struct binop *ops)
{
    for (; ops->text; ops++) {
        size_t n = strlen(ops->text);
        if (p->i + n <= p->len && memcmp(p->s + p->i, ops->text, n) == 0)
            return ops;
    }
    return NULL;
}

static struct expr_node *parse_level(struct parser *p, size_t level)
{
    struct expr_node *left = level + 1 < NLEVELS ? parse_level(p, level + 1) : parse_unary(p);
    while (left) {
        skip_ws(p);
        const struct binop *bo = match_op(p, levels[level]);
        if (!bo)
            break;
        size_t at = p->i;
        p->i += strlen(bo->text);
        struct expr_node *right = level + 1 < NLEVELS ? parse_level(p, level + 1) : parse_unary(p);
        if (!right) {
            node_free(left);
            return NULL;
        }
        struct expr_node *nd = node_new(p, bo->op, (long)at);
        if (!nd) {
            node_free(left);
            node_free(right);
            return NULL;
        }
        nd->a = left;
        nd->b = right;
        nd->height = 1 + (left->height > right->height ? left->height : right->height);
        left = nd;
        if (nd->height > MAX_HEIGHT) {
            node_free(nd);
            brd_error_at(p->err, BRD_E_SYNTAX, (long)at,
                         "expression too long at byte %zu: more than %d operators deep", at,
                         MAX_HEIGHT);
            return NULL;
        }
    }
    return left;
}

static struct expr_node *parse_or(struct parser *p)
{
    if (++p->depth > MAX_DEPTH) {
        brd_error_at(p->err, BRD_E_SYNTAX, (long)p->i,
                     "expression nested deeper than %d at byte %zu", MAX_DEPTH, p->i);
        return NULL;
    }
    struct expr_node *nd = parse_level(p, 0);
    p->depth--;
    return nd;
}

void brd_expr_free(struct brd_expr *e)
{
    if (!e)
        return;
    node_free(e->root);
    for (size_t i = 0; i < e->nrefs; i++)
        brd_ref_clear(&e->refs[i]);
    free(e->refs);
    free(e);
}

int brd_expr_compile(const char *text, size_t len, struct brd_expr **out,
                     struct brd_error *err)
{
    *out = NULL;
    struct brd_expr *e = calloc(1, sizeof *e);
    if (!e)
        return brd_error_nomem(err);
    struct parser p = {.s = text, .len = len, .e = e, .err = err};
    e->root = parse_or(&p);
    if (e->root) {
        skip_ws(&p);
        if (p.i < len) {
            char c = text[p.i];
            if (c == '=' || c == '&' || c == '|')
                brd_error_at(err, BRD_E_SYNTAX, (long)p.i,
                             "unexpected '%c' at byte %zu: the operators are ==, &&, ||", c, p.i);
            else
                brd_error_at(err, BRD_E_SYNTAX, (long)p.i,
                             "unexpected text at byte %zu: expected an operator or the end", p.i);
            brd_expr_free(e);
            return -1;
        }
    }
    if (!e->root) {
        brd_expr_free(e);
        return -1;
    }
    *out = e;
    return 0;
}

size_t brd_expr_ref_count(const struct brd_expr *e)
{
    return e->nrefs;
}

struct brd_ref *brd_expr_ref(struct brd_expr *e, size_t i)
{
    return i < e->nrefs ? &e->refs[i] : NULL;
}
