/* jsonpath_internal.h — the compiled form of a query and the nodelist's
 * insides, shared by jsonpath_parse.c, jsonpath_eval.c and jsonpath_func.c
 * only (never included outside src/jsonpath*.c).
 *
 * A compiled query is a tree: a query is a list of segments, a segment a
 * list of selectors, and a filter selector holds an expression tree whose
 * leaves may be queries again.  Everything is built by the parser and
 * never modified afterwards, so evaluation only reads it.
 */
#ifndef BRD_JSONPATH_INTERNAL_H
#define BRD_JSONPATH_INTERNAL_H

#include <stdint.h>

#include "iregexp.h"
#include "jsonpath.h"

/* How deeply filters, parentheses and function calls may nest.  Parsing
 * and evaluation recurse once per level, so this bounds the stack. */
#define JP_MAX_NESTING 64

/* RFC 9535 §2.1: indexes and slice bounds are I-JSON integers. */
#define JP_INT_MAX ((int64_t)9007199254740991)   /* 2^53 - 1 */

enum jp_sel_kind { JP_SEL_NAME, JP_SEL_WILD, JP_SEL_INDEX, JP_SEL_SLICE, JP_SEL_FILTER };

struct jp_expr;

struct jp_sel {
    enum jp_sel_kind kind;
    union {
        struct {
            char *str;      /* NUL-terminated copy of the decoded name */
            size_t len;
            bool has_nul;   /* contains U+0000: json-c keys cannot, so matches nothing */
        } name;
        int64_t index;
        struct {
            int64_t start, end, step;
            bool has_start, has_end;
        } slice;
        struct jp_expr *filter;
    } u;
};

struct jp_seg {
    bool descendant;        /* ".." */
    size_t nsel;
    struct jp_sel *sel;
};

struct jp_query {
    bool absolute;          /* starts at $ (else @) */
    bool singular;          /* RFC 9535 singular-query grammar */
    unsigned depth;         /* filter nesting: 0 = the top query; selects its scratch buffers */
    size_t nseg;
    struct jp_seg *seg;
};

/* The three types of RFC 9535 §2.4.1. */
enum jp_type { JP_T_VALUE, JP_T_LOGICAL, JP_T_NODES };

enum jp_func { JP_F_LENGTH, JP_F_COUNT, JP_F_MATCH, JP_F_SEARCH, JP_F_VALUE };

enum jp_op { JP_EQ, JP_NE, JP_LT, JP_LE, JP_GT, JP_GE };

enum jp_ex_kind {
    JP_EX_OR, JP_EX_AND,  /* n-ary: operands in args */
    JP_EX_NOT,
    JP_EX_CMP,       /* a op b, both ValueType */
    JP_EX_QUERY,     /* existence test, singular value or nodelist, by context */
    JP_EX_LITERAL,
    JP_EX_FUNC,
};

struct jp_expr {
    enum jp_ex_kind kind;
    enum jp_op op;                   /* JP_EX_CMP */
    bool bare;                       /* parser only: a primary not yet given a context */
    long pos;                        /* byte offset in the query text */
    struct jp_expr *a, *b;           /* CMP operands; NOT uses a */
    struct jp_query *query;          /* JP_EX_QUERY */
    struct json_object *literal;     /* JP_EX_LITERAL (NULL = null) */
    enum jp_func func;               /* JP_EX_FUNC */
    size_t nargs;
    struct jp_expr **args;           /* FUNC arguments; AND/OR operands */
    /* match()/search() whose pattern is a string literal: compiled once by
     * the parser.  re_static with re NULL means the pattern is invalid and
     * the function is always false. */
    bool re_static;
    pcre2_code *re;
};

struct brd_jsonpath {
    char *text;
    size_t len;
    struct jp_query *query;
    unsigned max_depth;              /* deepest jp_query.depth */
};

/* Function table (jsonpath_func.c). */
struct jp_func_info {
    const char *name;
    enum jp_type result;
    size_t nparams;
    enum jp_type params[2];
};
const struct jp_func_info *brd_jsonpath_func_info(enum jp_func f);
int brd_jsonpath_func_lookup(const char *name, size_t len, enum jp_func *out);

/* ---- the parser (jsonpath_parse.c, jsonpath_filter.c) ------------------- */

struct jp_parser {
    const char *s;
    size_t len, pos;
    struct brd_error *err;
    int nesting;            /* recursion guard, see JP_MAX_NESTING */
    unsigned depth;         /* filter depth of the query being parsed */
    unsigned max_depth;
    bool failed;            /* an error is recorded: keep the first, most precise one */
};

/* A growing, always NUL-terminated byte string. */
struct jp_sbuf {
    char *s;
    size_t len, cap;
};

static inline int jp_peek(const struct jp_parser *p)
{
    return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1;
}

static inline int jp_peek_at(const struct jp_parser *p, size_t off)
{
    return p->pos + off < p->len ? (unsigned char)p->s[p->pos + off] : -1;
}

static inline bool jp_is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* S = *B (RFC 9535 §2.1.1); returns whether anything was skipped. */
static inline bool jp_skip_ws(struct jp_parser *p)
{
    size_t at = p->pos;
    for (int c = jp_peek(p); c == ' ' || c == '\t' || c == '\n' || c == '\r'; c = jp_peek(p))
        p->pos++;
    return p->pos != at;
}

/* Records a syntax error "<what> at byte N" (the first one only). */
void brd_jsonpath_fail(struct jp_parser *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void brd_jsonpath_nomem(struct jp_parser *p);

/* string-literal with p->pos on the opening quote, decoded into *out. */
bool brd_jsonpath_parse_string(struct jp_parser *p, struct jp_sbuf *out);

/* segments after a '$' or '@' already read; NULL on error. */
struct jp_query *brd_jsonpath_parse_query(struct jp_parser *p, bool absolute);

/* logical-expr (a filter); in a function argument (arg) a lone literal,
 * query or function comes back "bare" for the call to type-check. */
struct jp_expr *brd_jsonpath_parse_logical(struct jp_parser *p, bool arg);

void brd_jsonpath_free_query(struct jp_query *q);
void brd_jsonpath_free_expr(struct jp_expr *e);

/* ---- the nodelist ---------------------------------------------------------- */

#define JP_NO_STEP SIZE_MAX          /* the root: no step in the path */

struct jp_node {
    struct json_object *v;
    size_t step;                     /* index in brd_nodelist.steps, or JP_NO_STEP */
};

struct jp_buf {
    struct jp_node *n;
    size_t len, cap;
};

/* One query evaluates segment by segment from one buffer into the other;
 * each filter depth has its own pair so that nested queries never disturb
 * the query whose filter runs them. */
struct jp_pair {
    struct jp_buf b[2];
};

/* One step of a normalized path: a member name (borrowed from the
 * document's object) or an array index, and the step before it. */
struct jp_step {
    size_t parent;
    const char *key;                 /* NULL: an index */
    size_t index;
};

struct brd_nodelist {
    struct jp_pair *pairs;           /* [0] is the top query's */
    size_t npairs;
    unsigned result;                 /* which buffer of pairs[0] holds the result */
    bool has_paths;
    struct jp_step *steps;
    size_t nsteps, capsteps;
    size_t limit, work;              /* step limit (0 = default) and steps used so far */
    pcre2_match_data *md;            /* created on first match()/search() */
    pcre2_match_context *mctx;
};

/* A filter-expression value: a borrowed JSON value, an integer computed by
 * a function (so that length() and count() allocate no json_object), or
 * the RFC's Nothing. */
struct jp_val {
    enum { JP_V_NOTHING, JP_V_JSON, JP_V_INT } kind;
    struct json_object *json;
    int64_t i;
};

/* Evaluation state (jsonpath_eval.c), passed to the functions. */
struct jp_eval {
    struct brd_nodelist *list;
    struct json_object *root;
    struct brd_error *err;
};

/* Value of a ValueType expression (literal, singular query, function)
 * with @ = cur.  0 ok, -1 out of memory. */
int brd_jsonpath_eval_value(struct jp_eval *ev, const struct jp_expr *e,
                            struct json_object *cur, struct jp_val *out);

/* Size of / single value of a NodesType argument (a query). */
int brd_jsonpath_eval_nodes(struct jp_eval *ev, const struct jp_expr *e, struct json_object *cur,
                            size_t *count, struct json_object **first);

/* Function calls (jsonpath_func.c): a ValueType result, or a LogicalType
 * one (1 true, 0 false, -1 out of memory). */
int brd_jsonpath_call_value(struct jp_eval *ev, const struct jp_expr *e,
                            struct json_object *cur, struct jp_val *out);
int brd_jsonpath_call_logical(struct jp_eval *ev, const struct jp_expr *e, struct json_object *cur);

/* Walks a singular query; true when it selects a node (its value in *v). */
bool brd_jsonpath_walk(const struct jp_query *q, struct json_object *root,
                       struct json_object *cur, struct json_object **v);

#endif
