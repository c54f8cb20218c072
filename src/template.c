/* template.c — compiling and evaluating value templates (see template.h).
 * Subtrees without any query or reference are kept as one shared literal,
 * so a constant `params` object costs one reference count per evaluation. */
#include "template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonpath.h"
#include "base/strbuf.h"

enum kind { T_LIT, T_PATH, T_REF, T_STR, T_OBJ, T_ARR };

struct part {
    char *text;          /* literal text before the reference (owned) */
    size_t len;
    bool has_ref;        /* false only for a trailing literal */
    struct brd_ref ref;
};

struct brd_template {
    enum kind kind;
    struct json_object *lit;        /* T_LIT: owned reference */
    struct brd_jsonpath *path;      /* T_PATH */
    struct brd_ref ref;             /* T_REF */
    struct part *parts;             /* T_STR */
    size_t nparts;
    char **keys;                    /* T_OBJ */
    struct brd_template **items;    /* T_OBJ, T_ARR */
    size_t n;
};

void brd_template_free(struct brd_template *t)
{
    if (!t)
        return;
    json_object_put(t->lit);
    brd_jsonpath_free(t->path);
    brd_ref_clear(&t->ref);
    for (size_t i = 0; i < t->nparts; i++) {
        free(t->parts[i].text);
        brd_ref_clear(&t->parts[i].ref);
    }
    free(t->parts);
    for (size_t i = 0; i < t->n; i++) {
        if (t->keys)
            free(t->keys[i]);
        brd_template_free(t->items[i]);
    }
    free(t->keys);
    free(t->items);
    free(t);
}

static bool is_query(const char *s, size_t n)
{
    return (n == 1 && s[0] == '$') || (n >= 2 && s[0] == '$' && (s[1] == '.' || s[1] == '['));
}

static int compile_string(struct brd_template *t, const char *s, size_t n, const char *where,
                          struct brd_error *err)
{
    if (is_query(s, n)) {
        t->kind = T_PATH;
        if (brd_jsonpath_compile(s, n, &t->path, err) != 0)
            return brd_error_prefix(err, "%s%sJSONPath \"%.*s\"", where, where[0] ? ": " : "",
                                    (int)(n > 80 ? 80 : n), s);
        return 0;
    }
    if (!memmem(s, n, "${", 2)) {
        t->kind = T_LIT;
        return 0; /* the caller keeps the string as the literal */
    }
    /* A template: literal runs separated by references. */
    char *buf = malloc(n + 1);
    if (!buf)
        return brd_error_nomem(err);
    size_t blen = 0, i = 0;
    t->kind = T_STR;
    while (i <= n) {
        if (i + 2 < n && s[i] == '$' && s[i + 1] == '$' && s[i + 2] == '{') {
            memcpy(buf + blen, "${", 2);
            blen += 2;
            i += 3;
            continue;
        }
        bool at_ref = i + 1 < n && s[i] == '$' && s[i + 1] == '{';
        if (!at_ref && i < n) {
            buf[blen++] = s[i++];
            continue;
        }
        struct part *grown = realloc(t->parts, (t->nparts + 1) * sizeof *grown);
        if (!grown) {
            free(buf);
            return brd_error_nomem(err);
        }
        t->parts = grown;
        struct part *p = &t->parts[t->nparts];
        memset(p, 0, sizeof *p);
        p->ref.slot = -1;
        t->nparts++;
        if (!(p->text = malloc(blen + 1))) {
            free(buf);
            return brd_error_nomem(err);
        }
        memcpy(p->text, buf, blen);
        p->text[blen] = '\0';
        p->len = blen;
        blen = 0;
        if (!at_ref)
            break; /* end of string */
        size_t used;
        if (brd_ref_parse(s + i, n - i, &used, &p->ref, err) != 0) {
            free(buf);
            return brd_error_prefix(err, "%s%sin \"%.*s\" at byte %zu", where,
                                    where[0] ? ": " : "", (int)(n > 80 ? 80 : n), s,
                                    i + (size_t)(err && err->pos > 0 ? err->pos : 0));
        }
        p->has_ref = true;
        i += used;
    }
    free(buf);
    /* Exactly one reference and nothing around it: the value keeps its type. */
    if (t->nparts == 2 && t->parts[0].len == 0 && t->parts[1].len == 0 && !t->parts[1].has_ref) {
        t->kind = T_REF;
        t->ref = t->parts[0].ref;
        t->parts[0].ref.path = NULL;
        t->parts[0].ref.text = NULL;
        free(t->parts[0].text);
        free(t->parts[1].text);
        free(t->parts);
        t->parts = NULL;
        t->nparts = 0;
    }
    return 0;
}

static int compile(struct json_object *v, const char *where, struct brd_template **out,
                   struct brd_error *err)
{
    *out = NULL;
    struct brd_template *t = calloc(1, sizeof *t);
    if (!t)
        return brd_error_nomem(err);
    t->ref.slot = -1;
    enum json_type type = json_object_get_type(v);
    int rc = 0;
    if (type == json_type_string) {
        rc = compile_string(t, json_object_get_string(v), (size_t)json_object_get_string_len(v),
                            where, err);
        if (rc == 0 && t->kind == T_LIT)
            t->lit = json_object_get(v);
        /* A template that unescaped to plain text ("$${x}") stays T_STR. */
    } else if (type == json_type_object || type == json_type_array) {
        bool is_obj = type == json_type_object;
        size_t n = is_obj ? (size_t)json_object_object_length(v) : json_object_array_length(v);
        t->kind = is_obj ? T_OBJ : T_ARR;
        t->items = calloc(n ? n : 1, sizeof *t->items);
        t->keys = is_obj ? calloc(n ? n : 1, sizeof *t->keys) : NULL;
        if (!t->items || (is_obj && !t->keys)) {
            brd_template_free(t);
            return brd_error_nomem(err);
        }
        bool all_literal = true;
        char sub[512];
        if (is_obj) {
            json_object_object_foreach(v, key, member) {
                snprintf(sub, sizeof sub, "%s%s%s", where, where[0] ? "." : "", key);
                if (!(t->keys[t->n] = strdup(key))) {
                    rc = brd_error_nomem(err);
                    break;
                }
                rc = compile(member, sub, &t->items[t->n], err);
                t->n++;
                if (rc != 0)
                    break;
                all_literal &= t->items[t->n - 1]->kind == T_LIT;
            }
        } else {
            for (size_t i = 0; i < n && rc == 0; i++) {
                snprintf(sub, sizeof sub, "%s[%zu]", where, i);
                rc = compile(json_object_array_get_idx(v, i), sub, &t->items[t->n++], err);
                if (rc == 0)
                    all_literal &= t->items[t->n - 1]->kind == T_LIT;
            }
        }
        if (rc == 0 && all_literal) {
            /* Nothing to evaluate below: share the definition's value. */
            for (size_t i = 0; i < t->n; i++) {
                if (t->keys)
                    free(t->keys[i]);
                brd_template_free(t->items[i]);
            }
            free(t->keys);
            free(t->items);
            t->keys = NULL;
            t->items = NULL;
            t->n = 0;
            t->kind = T_LIT;
            t->lit = json_object_get(v);
        }
    } else {
        t->kind = T_LIT;
        t->lit = brd_json_ref(v);
    }
    if (rc != 0) {
        brd_template_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

int brd_template_compile(struct json_object *v, const char *where, struct brd_template **out,
                         struct brd_error *err)
{
    return compile(v, where ? where : "", out, err);
}

static int eval_ref(const struct brd_ref *ref, brd_ref_lookup_fn lookup, void *ctx,
                    struct json_object **out, struct brd_error *err)
{
    struct json_object *output = NULL;
    if (!lookup)
        return brd_error_set(err, BRD_E_INTERNAL, "reference ${%s} cannot be resolved here",
                             ref->id);
    if (lookup(ctx, ref, &output, err) != 0)
        return -1;
    return brd_ref_value(ref, output, out, err);
}

int brd_template_eval(const struct brd_template *t, struct json_object *input,
                      brd_ref_lookup_fn lookup, void *ctx, struct json_object **out,
                      struct brd_error *err)
{
    *out = NULL;
    switch (t->kind) {
    case T_LIT:
        *out = brd_json_ref(t->lit);
        return 0;
    case T_PATH:
        return brd_jsonpath_value(t->path, input, out, err);
    case T_REF:
        return eval_ref(&t->ref, lookup, ctx, out, err);
    case T_STR: {
        struct brd_strbuf b = {0};
        for (size_t i = 0; i < t->nparts; i++) {
            const struct part *p = &t->parts[i];
            if (brd_strbuf_add(&b, p->text, p->len) != 0)
                goto str_fail;
            if (!p->has_ref)
                continue;
            struct json_object *v = NULL;
            if (eval_ref(&p->ref, lookup, ctx, &v, err) != 0)
                goto str_fail;
            int rc = 0;
            if (json_object_get_type(v) == json_type_string) {
                rc = brd_strbuf_add(&b, json_object_get_string(v), (size_t)json_object_get_string_len(v));
            } else if (v) {
                size_t n;
                const char *s = brd_json_compact(v, &n);
                rc = brd_strbuf_add(&b, s, n);
            }
            json_object_put(v);
            if (rc != 0)
                goto str_fail;
        }
        *out = json_object_new_string_len(b.p ? b.p : "", (int)b.len);
        free(b.p);
        return *out ? 0 : brd_error_nomem(err);
    str_fail:
        if (b.failed)
            brd_error_nomem(err);
        free(b.p);
        return -1;
    }
    case T_OBJ:
    case T_ARR: {
        struct json_object *o = t->kind == T_OBJ ? json_object_new_object()
                                                 : json_object_new_array_ext((int)t->n);
        if (!o)
            return brd_error_nomem(err);
        for (size_t i = 0; i < t->n; i++) {
            struct json_object *v = NULL;
            if (brd_template_eval(t->items[i], input, lookup, ctx, &v, err) != 0) {
                json_object_put(o);
                return -1;
            }
            int rc = t->kind == T_OBJ ? brd_json_add(o, t->keys[i], v)
                                      : brd_json_append(o, v);
            if (rc != 0) {
                json_object_put(o);
                return brd_error_nomem(err);
            }
        }
        *out = o;
        return 0;
    }
    }
    return brd_error_set(err, BRD_E_INTERNAL, "bad template");
}

bool brd_template_is_object(const struct brd_template *t)
{
    return t->kind == T_OBJ || (t->kind == T_LIT && json_object_is_type(t->lit, json_type_object));
}

bool brd_template_has_field(const struct brd_template *t, const char *name)
{
    if (t->kind == T_LIT)
        return json_object_is_type(t->lit, json_type_object) &&
               json_object_object_get_ex(t->lit, name, NULL);
    if (t->kind != T_OBJ)
        return false;
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->keys[i], name) == 0)
            return true;
    return false;
}

static int each_ref(struct brd_template *t, const char *where,
                    int (*fn)(void *ctx, struct brd_ref *ref, const char *where), void *ctx)
{
    int rc = 0;
    char sub[512];
    switch (t->kind) {
    case T_REF:
        return fn(ctx, &t->ref, where);
    case T_STR:
        for (size_t i = 0; i < t->nparts && rc == 0; i++)
            if (t->parts[i].has_ref)
                rc = fn(ctx, &t->parts[i].ref, where);
        return rc;
    case T_OBJ:
    case T_ARR:
        for (size_t i = 0; i < t->n && rc == 0; i++) {
            if (t->kind == T_OBJ)
                snprintf(sub, sizeof sub, "%s%s%s", where, where[0] ? "." : "", t->keys[i]);
            else
                snprintf(sub, sizeof sub, "%s[%zu]", where, i);
            rc = each_ref(t->items[i], sub, fn, ctx);
        }
        return rc;
    default:
        return 0;
    }
}

int brd_template_each_ref(struct brd_template *t,
                          int (*fn)(void *ctx, struct brd_ref *ref, const char *where),
                          void *ctx)
{
    return each_ref(t, "", fn, ctx);
}
