/* jsonpath_eval.c — evaluating a compiled query into a reusable nodelist,
 * filter semantics (comparisons, Nothing), and normalized paths (§2.7). */
#include "jsonpath_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- buffers ------------------------------------------------------------ */

/* Counts one step of work against the nodelist's limit. */
static int spend(struct jp_eval *ev)
{
    struct brd_nodelist *l = ev->list;
    if (++l->work <= l->limit)
        return 0;
    return brd_error_set(ev->err, BRD_E_INTERNAL,
                         "JSONPath evaluation stopped after %zu steps (the nodelist's limit)",
                         l->limit);
}

static int buf_push(struct jp_eval *ev, struct jp_buf *b, struct json_object *v, size_t step)
{
    if (spend(ev) != 0)
        return -1;
    if (b->len == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        struct jp_node *bigger = realloc(b->n, cap * sizeof *bigger);
        if (!bigger)
            return brd_error_nomem(ev->err);
        b->n = bigger;
        b->cap = cap;
    }
    b->n[b->len].v = v;
    b->n[b->len].step = step;
    b->len++;
    return 0;
}

/* Adds a path step (only when paths are recorded); *out gets its index. */
static int add_step(struct jp_eval *ev, bool paths, size_t parent, const char *key,
                    size_t index, size_t *out)
{
    if (!paths) {
        *out = JP_NO_STEP;
        return 0;
    }
    struct brd_nodelist *l = ev->list;
    if (l->nsteps == l->capsteps) {
        size_t cap = l->capsteps ? l->capsteps * 2 : 64;
        struct jp_step *bigger = realloc(l->steps, cap * sizeof *bigger);
        if (!bigger)
            return brd_error_nomem(ev->err);
        l->steps = bigger;
        l->capsteps = cap;
    }
    l->steps[l->nsteps] = (struct jp_step){.parent = parent, .key = key, .index = index};
    *out = l->nsteps++;
    return 0;
}

static int push_child(struct jp_eval *ev, struct jp_buf *next, bool paths, size_t parent,
                      const char *key, size_t index, struct json_object *v)
{
    size_t step = JP_NO_STEP;
    if (add_step(ev, paths, parent, key, index, &step) != 0)
        return -1;
    return buf_push(ev, next, v, step);
}

/* ---- selectors -------------------------------------------------------------- */

static int eval_logical(struct jp_eval *ev, const struct jp_expr *e, struct json_object *cur);

/* RFC 9535 §2.3.4.2.2: the slice's bounds clamped to the array, computed
 * in int64 (the bounds are within ±(2^53-1), so nothing overflows). */
static int select_slice(struct jp_eval *ev, const struct jp_sel *s, struct json_object *arr,
                        size_t step, bool paths, struct jp_buf *next)
{
    int64_t len = (int64_t)json_object_array_length(arr);
    int64_t st = s->u.slice.step;
    if (st == 0)
        return 0;
    int64_t start = s->u.slice.has_start ? s->u.slice.start : st > 0 ? 0 : len - 1;
    int64_t end = s->u.slice.has_end ? s->u.slice.end : st > 0 ? len : -len - 1;
    if (start < 0)
        start += len;
    if (end < 0)
        end += len;
    if (st > 0) {
        int64_t lo = start < 0 ? 0 : start > len ? len : start;
        int64_t hi = end < 0 ? 0 : end > len ? len : end;
        for (int64_t i = lo; i < hi; i += st)
            if (push_child(ev, next, paths, step, NULL, (size_t)i,
                           json_object_array_get_idx(arr, (size_t)i)) != 0)
                return -1;
    } else {
        int64_t hi = start < -1 ? -1 : start > len - 1 ? len - 1 : start;
        int64_t lo = end < -1 ? -1 : end > len - 1 ? len - 1 : end;
        for (int64_t i = hi; lo < i; i += st)
            if (push_child(ev, next, paths, step, NULL, (size_t)i,
                           json_object_array_get_idx(arr, (size_t)i)) != 0)
                return -1;
    }
    return 0;
}

/* Applies one selector to the node (v, step), appending to next. */
static int select_one(struct jp_eval *ev, const struct jp_sel *s, struct json_object *v,
                      size_t step, bool paths, struct jp_buf *next)
{
    enum json_type t = json_object_get_type(v);
    switch (s->kind) {
    case JP_SEL_NAME: {
        if (t != json_type_object || s->u.name.has_nul)
            return 0;
        if (!paths) {
            struct json_object *child;
            if (!json_object_object_get_ex(v, s->u.name.str, &child))
                return 0;
            return buf_push(ev, next, child, JP_NO_STEP);
        }
        /* The document's own key, so that the path outlives the query. */
        struct lh_entry *ent = lh_table_lookup_entry(json_object_get_object(v), s->u.name.str);
        if (!ent)
            return 0;
        return push_child(ev, next, true, step, lh_entry_k(ent), 0, lh_entry_v(ent));
    }
    case JP_SEL_INDEX: {
        if (t != json_type_array)
            return 0;
        int64_t len = (int64_t)json_object_array_length(v), i = s->u.index;
        if (i < 0)
            i += len;
        if (i < 0 || i >= len)
            return 0;
        return push_child(ev, next, paths, step, NULL, (size_t)i,
                          json_object_array_get_idx(v, (size_t)i));
    }
    case JP_SEL_SLICE:
        return t == json_type_array ? select_slice(ev, s, v, step, paths, next) : 0;
    case JP_SEL_WILD:
    case JP_SEL_FILTER:
        if (t == json_type_array) {
            size_t n = json_object_array_length(v);
            for (size_t i = 0; i < n; i++) {
                struct json_object *child = json_object_array_get_idx(v, i);
                if (s->kind == JP_SEL_FILTER) {
                    int r = spend(ev) != 0 ? -1 : eval_logical(ev, s->u.filter, child);
                    if (r < 0)
                        return -1;
                    if (!r)
                        continue;
                }
                if (push_child(ev, next, paths, step, NULL, i, child) != 0)
                    return -1;
            }
        } else if (t == json_type_object) {
            for (struct lh_entry *ent = lh_table_head(json_object_get_object(v)); ent;
                 ent = lh_entry_next(ent)) {
                struct json_object *child = lh_entry_v(ent);
                if (s->kind == JP_SEL_FILTER) {
                    int r = spend(ev) != 0 ? -1 : eval_logical(ev, s->u.filter, child);
                    if (r < 0)
                        return -1;
                    if (!r)
                        continue;
                }
                if (push_child(ev, next, paths, step, lh_entry_k(ent), 0, child) != 0)
                    return -1;
            }
        }
        return 0;
    }
    return 0;
}

static int select_all(struct jp_eval *ev, const struct jp_seg *seg, struct json_object *v,
                      size_t step, bool paths, struct jp_buf *next)
{
    for (size_t i = 0; i < seg->nsel; i++)
        if (select_one(ev, &seg->sel[i], v, step, paths, next) != 0)
            return -1;
    return 0;
}

/* The descendant segment (§2.5.2.2): the node itself, then its children
 * in document order, each before its own descendants.  Scalars have no
 * children and no selector selects anything from them, so only arrays and
 * objects are visited.  Recursion depth is the document's nesting depth,
 * which brd_json_parse bounds. */
static int descend(struct jp_eval *ev, const struct jp_seg *seg, struct json_object *v,
                   size_t step, bool paths, struct jp_buf *next)
{
    if (spend(ev) != 0 || select_all(ev, seg, v, step, paths, next) != 0)
        return -1;
    if (json_object_is_type(v, json_type_array)) {
        size_t n = json_object_array_length(v);
        for (size_t i = 0; i < n; i++) {
            struct json_object *child = json_object_array_get_idx(v, i);
            enum json_type ct = json_object_get_type(child);
            if (ct != json_type_array && ct != json_type_object)
                continue;
            size_t cstep = JP_NO_STEP;
            if (add_step(ev, paths, step, NULL, i, &cstep) != 0 ||
                descend(ev, seg, child, cstep, paths, next) != 0)
                return -1;
        }
    } else if (json_object_is_type(v, json_type_object)) {
        for (struct lh_entry *ent = lh_table_head(json_object_get_object(v)); ent;
             ent = lh_entry_next(ent)) {
            struct json_object *child = lh_entry_v(ent);
            enum json_type ct = json_object_get_type(child);
            if (ct != json_type_array && ct != json_type_object)
                continue;
            size_t cstep = JP_NO_STEP;
            if (add_step(ev, paths, step, lh_entry_k(ent), 0, &cstep) != 0 ||
                descend(ev, seg, child, cstep, paths, next) != 0)
                return -1;
        }
    }
    return 0;
}

/* Runs q from start (@ or $) in the buffers of its filter depth; *out
 * points at the buffer holding the result.  Paths only at depth 0. */
static int run_query(struct jp_eval *ev, const struct jp_query *q, struct json_object *start,
                     bool paths, struct jp_buf **out)
{
    struct jp_pair *pair = &ev->list->pairs[q->depth];
    struct jp_buf *cur = &pair->b[0], *next = &pair->b[1];
    cur->len = 0;
    if (buf_push(ev, cur, start, JP_NO_STEP) != 0)
        return -1;
    for (size_t s = 0; s < q->nseg && cur->len; s++) {
        const struct jp_seg *seg = &q->seg[s];
        next->len = 0;
        for (size_t i = 0; i < cur->len; i++) {
            struct jp_node node = cur->n[i];
            int rc = seg->descendant ? descend(ev, seg, node.v, node.step, paths, next)
                                     : select_all(ev, seg, node.v, node.step, paths, next);
            if (rc != 0)
                return -1;
        }
        struct jp_buf *t = cur;
        cur = next;
        next = t;
    }
    *out = cur;
    return 0;
}

bool brd_jsonpath_walk(const struct jp_query *q, struct json_object *root,
                       struct json_object *cur, struct json_object **v)
{
    struct json_object *at = q->absolute ? root : cur;
    for (size_t s = 0; s < q->nseg; s++) {
        const struct jp_sel *sel = &q->seg[s].sel[0];
        if (sel->kind == JP_SEL_NAME) {
            if (sel->u.name.has_nul || !json_object_is_type(at, json_type_object) ||
                !json_object_object_get_ex(at, sel->u.name.str, &at))
                return false;
        } else {
            if (!json_object_is_type(at, json_type_array))
                return false;
            int64_t len = (int64_t)json_object_array_length(at), i = sel->u.index;
            if (i < 0)
                i += len;
            if (i < 0 || i >= len)
                return false;
            at = json_object_array_get_idx(at, (size_t)i);
        }
    }
    *v = at;
    return true;
}

/* ---- filter expressions ------------------------------------------------------ */

int brd_jsonpath_eval_nodes(struct jp_eval *ev, const struct jp_expr *e, struct json_object *cur,
                            size_t *count, struct json_object **first)
{
    *count = 0;
    *first = NULL;
    const struct jp_query *q = e->query;
    if (q->singular) {
        *count = brd_jsonpath_walk(q, ev->root, cur, first);
        return 0;
    }
    struct jp_buf *res;
    if (run_query(ev, q, q->absolute ? ev->root : cur, false, &res) != 0)
        return -1;
    *count = res->len;
    if (res->len)
        *first = res->n[0].v;
    return 0;
}

int brd_jsonpath_eval_value(struct jp_eval *ev, const struct jp_expr *e,
                            struct json_object *cur, struct jp_val *out)
{
    switch (e->kind) {
    case JP_EX_LITERAL:
        out->kind = JP_V_JSON;
        out->json = e->literal;
        return 0;
    case JP_EX_QUERY:
        out->kind = brd_jsonpath_walk(e->query, ev->root, cur, &out->json) ? JP_V_JSON
                                                                           : JP_V_NOTHING;
        return 0;
    case JP_EX_FUNC:
        return brd_jsonpath_call_value(ev, e, cur, out);
    default:
        out->kind = JP_V_NOTHING;
        return 0;
    }
}

/* An integer computed by a function against a JSON value; only numbers
 * can be equal or ordered with it.  Returns <0, 0, >0, or 2 when the
 * other side is not a number. */
static int int_cmp(int64_t i, struct json_object *j)
{
    if (json_object_is_type(j, json_type_int)) {
        int64_t k = json_object_get_int64(j);
        if (k == INT64_MAX)             /* maybe a larger uint64: compare as doubles */
            return (double)i < brd_json_number(j) ? -1 : (double)i > brd_json_number(j);
        return (i > k) - (i < k);
    }
    if (json_object_is_type(j, json_type_double)) {
        double d = json_object_get_double(j);
        return (double)i < d ? -1 : (double)i > d ? 1 : (double)i == d ? 0 : 2;
    }
    return 2;
}

static bool val_eq(const struct jp_val *a, const struct jp_val *b)
{
    if (a->kind == JP_V_NOTHING || b->kind == JP_V_NOTHING)
        return a->kind == b->kind;
    if (a->kind == JP_V_INT && b->kind == JP_V_INT)
        return a->i == b->i;
    if (a->kind == JP_V_INT)
        return int_cmp(a->i, b->json) == 0;
    if (b->kind == JP_V_INT)
        return int_cmp(b->i, a->json) == 0;
    return brd_json_equal(a->json, b->json);
}

/* a < b (§2.3.5.2.2): numbers by value, strings by code point (which
 * UTF-8 byte order gives), anything else false. */
static bool val_lt(const struct jp_val *a, const struct jp_val *b)
{
    if (a->kind == JP_V_NOTHING || b->kind == JP_V_NOTHING)
        return false;
    if (a->kind == JP_V_INT && b->kind == JP_V_INT)
        return a->i < b->i;
    if (a->kind == JP_V_INT)
        return int_cmp(a->i, b->json) == -1;
    if (b->kind == JP_V_INT)
        return int_cmp(b->i, a->json) == 1;
    if (brd_json_is_number(a->json) && brd_json_is_number(b->json))
        return brd_json_number_cmp(a->json, b->json) < 0;
    if (json_object_is_type(a->json, json_type_string) &&
        json_object_is_type(b->json, json_type_string)) {
        size_t la = (size_t)json_object_get_string_len(a->json);
        size_t lb = (size_t)json_object_get_string_len(b->json);
        int c = memcmp(json_object_get_string(a->json), json_object_get_string(b->json),
                       la < lb ? la : lb);
        return c < 0 || (c == 0 && la < lb);
    }
    return false;
}

static int compare(struct jp_eval *ev, const struct jp_expr *e, struct json_object *cur)
{
    struct jp_val a, b;
    if (brd_jsonpath_eval_value(ev, e->a, cur, &a) != 0 ||
        brd_jsonpath_eval_value(ev, e->b, cur, &b) != 0)
        return -1;
    switch (e->op) {
    case JP_EQ: return val_eq(&a, &b);
    case JP_NE: return !val_eq(&a, &b);
    case JP_LT: return val_lt(&a, &b);
    case JP_LE: return val_lt(&a, &b) || val_eq(&a, &b);
    case JP_GT: return val_lt(&b, &a);
    case JP_GE: return val_lt(&b, &a) || val_eq(&a, &b);
    }
    return 0;
}

/* A LogicalType expression with @ = cur: 1 true, 0 false, -1 out of memory. */
static int eval_logical(struct jp_eval *ev, const struct jp_expr *e, struct json_object *cur)
{
    int r;
    switch (e->kind) {
    case JP_EX_OR:
    case JP_EX_AND:
        /* Short-circuits: the first true operand decides ||, the first
         * false one decides &&. */
        for (size_t i = 0; i < e->nargs; i++) {
            r = eval_logical(ev, e->args[i], cur);
            if (r < 0 || r == (e->kind == JP_EX_OR))
                return r;
        }
        return e->kind == JP_EX_AND;
    case JP_EX_NOT:
        r = eval_logical(ev, e->a, cur);
        return r < 0 ? r : !r;
    case JP_EX_CMP:
        return compare(ev, e, cur);
    case JP_EX_QUERY: {
        /* An existence test: does the query select anything? */
        size_t n;
        struct json_object *first;
        if (brd_jsonpath_eval_nodes(ev, e, cur, &n, &first) != 0)
            return -1;
        return n > 0;
    }
    case JP_EX_FUNC:
        if (brd_jsonpath_func_info(e->func)->result == JP_T_LOGICAL)
            return brd_jsonpath_call_logical(ev, e, cur);
        /* A NodesType result is true when non-empty (§2.4.2); no standard
         * function has one, and ValueType results never get here. */
        return 0;
    case JP_EX_LITERAL:
        return 0;
    }
    return 0;
}

/* ---- the public entry points -------------------------------------------------- */

struct brd_nodelist *brd_nodelist_new(void)
{
    return calloc(1, sizeof(struct brd_nodelist));
}

void brd_nodelist_free(struct brd_nodelist *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->npairs; i++) {
        free(list->pairs[i].b[0].n);
        free(list->pairs[i].b[1].n);
    }
    free(list->pairs);
    free(list->steps);
    pcre2_match_data_free(list->md);
    pcre2_match_context_free(list->mctx);
    free(list);
}

/* The limit of lists that set none; changed only by tools (fuzzers). */
static size_t default_limit = BRD_JSONPATH_DEFAULT_LIMIT;

void brd_jsonpath_set_default_limit(size_t max_steps)
{
    default_limit = max_steps ? max_steps : BRD_JSONPATH_DEFAULT_LIMIT;
}

void brd_nodelist_set_limit(struct brd_nodelist *list, size_t max_steps)
{
    list->limit = max_steps;
}

static const struct jp_buf *result(const struct brd_nodelist *list)
{
    return list->npairs ? &list->pairs[0].b[list->result] : NULL;
}

size_t brd_nodelist_count(const struct brd_nodelist *list)
{
    const struct jp_buf *b = result(list);
    return b ? b->len : 0;
}

struct json_object *brd_nodelist_value(const struct brd_nodelist *list, size_t i)
{
    const struct jp_buf *b = result(list);
    return b && i < b->len ? b->n[i].v : NULL;
}

int brd_jsonpath_eval(const struct brd_jsonpath *q, struct json_object *root,
                      struct brd_nodelist *list, unsigned flags, struct brd_error *err)
{
    struct jp_eval ev = {.list = list, .root = root, .err = err};
    /* One buffer pair per filter depth, allocated before any is in use:
     * growing the array later would move buffers being iterated. */
    size_t need = (size_t)q->max_depth + 1;
    if (list->npairs < need) {
        struct jp_pair *bigger = realloc(list->pairs, need * sizeof *bigger);
        if (!bigger)
            return brd_error_nomem(err);
        memset(bigger + list->npairs, 0, (need - list->npairs) * sizeof *bigger);
        list->pairs = bigger;
        list->npairs = need;
    }
    list->nsteps = 0;
    list->work = 0;
    size_t saved_limit = list->limit;
    if (!list->limit)
        list->limit = default_limit;
    list->has_paths = (flags & BRD_JSONPATH_PATHS) != 0;
    list->result = 0;
    struct jp_buf *res;
    int rc = run_query(&ev, q->query, root, list->has_paths, &res);
    list->limit = saved_limit;
    if (rc != 0) {
        list->pairs[0].b[0].len = 0;
        list->has_paths = false;
        return -1;
    }
    list->result = res == &list->pairs[0].b[0] ? 0 : 1;
    return 0;
}

/* Bytes a member name takes inside ['...'] in a normalized path, or the
 * text itself when out is not NULL (§2.7: \b \f \n \r \t \' \\ and \u00xx
 * for the other control characters; everything else as is). */
size_t brd_jsonpath_escape_name(const char *key, char *out)
{
    size_t n = 0;
    for (const unsigned char *s = (const unsigned char *)key; *s; s++) {
        char esc = 0;
        switch (*s) {
        case '\b': esc = 'b'; break;
        case '\f': esc = 'f'; break;
        case '\n': esc = 'n'; break;
        case '\r': esc = 'r'; break;
        case '\t': esc = 't'; break;
        case '\'': esc = '\''; break;
        case '\\': esc = '\\'; break;
        default: break;
        }
        if (esc) {
            if (out) { out[n] = '\\'; out[n + 1] = esc; }
            n += 2;
        } else if (*s < 0x20) {
            if (out)
                snprintf(out + n, 7, "\\u%04x", *s);
            n += 6;
        } else {
            if (out)
                out[n] = (char)*s;
            n++;
        }
    }
    return n;
}

static size_t step_len(const struct jp_step *st)
{
    if (st->key)
        return brd_jsonpath_escape_name(st->key, NULL) + 4;   /* [' '] */
    char digits[24];
    return (size_t)snprintf(digits, sizeof digits, "%zu", st->index) + 2;
}

int brd_nodelist_path(const struct brd_nodelist *list, size_t i, char **out,
                      struct brd_error *err)
{
    *out = NULL;
    const struct jp_buf *b = result(list);
    if (!b || i >= b->len)
        return brd_error_set(err, BRD_E_USAGE, "no node %zu in the nodelist", i);
    if (!list->has_paths)
        return brd_error_set(err, BRD_E_USAGE,
                             "the nodelist was evaluated without BRD_JSONPATH_PATHS");
    /* Measure the chain of steps, then write it from the end backwards. */
    size_t total = 1;
    for (size_t s = b->n[i].step; s != JP_NO_STEP; s = list->steps[s].parent)
        total += step_len(&list->steps[s]);
    char *path = malloc(total + 1);
    if (!path)
        return brd_error_nomem(err);
    path[0] = '$';
    path[total] = '\0';
    size_t end = total;
    for (size_t s = b->n[i].step; s != JP_NO_STEP; s = list->steps[s].parent) {
        const struct jp_step *st = &list->steps[s];
        size_t n = step_len(st);
        char *at = path + end - n;
        if (st->key) {
            memcpy(at, "['", 2);
            brd_jsonpath_escape_name(st->key, at + 2);
            memcpy(at + n - 2, "']", 2);
        } else {
            char digits[24];
            int d = snprintf(digits, sizeof digits, "%zu", st->index);
            at[0] = '[';
            memcpy(at + 1, digits, (size_t)d);
            at[n - 1] = ']';
        }
        end -= n;
    }
    *out = path;
    return 0;
}

int brd_jsonpath_value(const struct brd_jsonpath *q, struct json_object *root,
                       struct json_object **out, struct brd_error *err)
{
    *out = NULL;
    if (q->query->singular) {
        /* Walk directly: no nodelist, no allocation. */
        struct json_object *v;
        if (brd_jsonpath_walk(q->query, root, root, &v))
            *out = brd_json_ref(v);
        return 0;
    }
    struct brd_nodelist *list = brd_nodelist_new();
    if (!list)
        return brd_error_nomem(err);
    int rc = brd_jsonpath_eval(q, root, list, 0, err);
    struct json_object *arr = NULL;
    if (rc == 0) {
        size_t n = brd_nodelist_count(list);
        arr = json_object_new_array_ext(n ? (int)n : 1);
        for (size_t i = 0; arr && i < n; i++) {
            struct json_object *v = brd_nodelist_value(list, i);
            if (brd_json_append(arr, brd_json_ref(v)) != 0) {
                json_object_put(arr);
                arr = NULL;
            }
        }
        if (!arr)
            rc = brd_error_nomem(err);
    }
    brd_nodelist_free(list);
    *out = arr;
    return rc;
}
