/* jsonpath_func.c — the RFC 9535 function extensions: length, count,
 * match, search, value (§2.4.4–2.4.8), their types and their evaluation. */
#include "jsonpath_internal.h"

#include <string.h>

static const struct jp_func_info funcs[] = {
    [JP_F_LENGTH] = {"length", JP_T_VALUE, 1, {JP_T_VALUE}},
    [JP_F_COUNT] = {"count", JP_T_VALUE, 1, {JP_T_NODES}},
    [JP_F_MATCH] = {"match", JP_T_LOGICAL, 2, {JP_T_VALUE, JP_T_VALUE}},
    [JP_F_SEARCH] = {"search", JP_T_LOGICAL, 2, {JP_T_VALUE, JP_T_VALUE}},
    [JP_F_VALUE] = {"value", JP_T_VALUE, 1, {JP_T_NODES}},
};

const struct jp_func_info *brd_jsonpath_func_info(enum jp_func f)
{
    return &funcs[f];
}

int brd_jsonpath_func_lookup(const char *name, size_t len, enum jp_func *out)
{
    for (size_t i = 0; i < sizeof funcs / sizeof funcs[0]; i++) {
        if (strlen(funcs[i].name) == len && memcmp(funcs[i].name, name, len) == 0) {
            *out = (enum jp_func)i;
            return 0;
        }
    }
    return -1;
}

/* Unicode scalar values in a UTF-8 string: the bytes that do not
 * continue a sequence. */
static int64_t utf8_count(const char *s, size_t len)
{
    int64_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

int brd_jsonpath_call_value(struct jp_eval *ev, const struct jp_expr *e,
                            struct json_object *cur, struct jp_val *out)
{
    out->kind = JP_V_NOTHING;
    switch (e->func) {
    case JP_F_LENGTH: {
        struct jp_val arg;
        if (brd_jsonpath_eval_value(ev, e->args[0], cur, &arg) != 0)
            return -1;
        if (arg.kind == JP_V_INT)       /* a number has no length */
            return 0;
        if (arg.kind != JP_V_JSON)
            return 0;
        switch (json_object_get_type(arg.json)) {
        case json_type_string:
            out->i = utf8_count(json_object_get_string(arg.json),
                                (size_t)json_object_get_string_len(arg.json));
            break;
        case json_type_array:
            out->i = (int64_t)json_object_array_length(arg.json);
            break;
        case json_type_object:
            out->i = json_object_object_length(arg.json);
            break;
        default:
            return 0;
        }
        out->kind = JP_V_INT;
        return 0;
    }
    case JP_F_COUNT: {
        size_t n;
        struct json_object *first;
        if (brd_jsonpath_eval_nodes(ev, e->args[0], cur, &n, &first) != 0)
            return -1;
        out->kind = JP_V_INT;
        out->i = (int64_t)n;
        return 0;
    }
    case JP_F_VALUE: {
        size_t n;
        struct json_object *first;
        if (brd_jsonpath_eval_nodes(ev, e->args[0], cur, &n, &first) != 0)
            return -1;
        if (n == 1) {
            out->kind = JP_V_JSON;
            out->json = first;
        }
        return 0;
    }
    default:
        return 0;
    }
}

/* match() and search(): false unless both arguments are strings and the
 * pattern is a valid I-Regexp (RFC 9535 §2.4.6–2.4.7). */
int brd_jsonpath_call_logical(struct jp_eval *ev, const struct jp_expr *e, struct json_object *cur)
{
    struct jp_val subject, pattern;
    if (brd_jsonpath_eval_value(ev, e->args[0], cur, &subject) != 0)
        return -1;
    if (subject.kind != JP_V_JSON || !json_object_is_type(subject.json, json_type_string))
        return 0;
    const pcre2_code *re = e->re;
    pcre2_code *dynamic = NULL;
    if (!e->re_static) {
        /* A pattern read from the document: compiled for this call only. */
        if (brd_jsonpath_eval_value(ev, e->args[1], cur, &pattern) != 0)
            return -1;
        if (pattern.kind != JP_V_JSON || !json_object_is_type(pattern.json, json_type_string))
            return 0;
        int rc = brd_iregexp_compile(json_object_get_string(pattern.json),
                                     (size_t)json_object_get_string_len(pattern.json),
                                     e->func == JP_F_MATCH, &dynamic);
        if (rc < 0)
            return brd_error_nomem(ev->err);
        re = dynamic;
    }
    if (!re)
        return 0;
    struct brd_nodelist *list = ev->list;
    if (!list->md) {
        list->md = pcre2_match_data_create(1, NULL);
        list->mctx = pcre2_match_context_create(NULL);
        if (!list->md || !list->mctx) {
            pcre2_code_free(dynamic);
            return brd_error_nomem(ev->err);
        }
        /* Bound backtracking: a pathological pattern or subject costs at
         * most this many steps and then simply does not match. */
        pcre2_set_match_limit(list->mctx, 1000000);
    }
    bool hit = brd_iregexp_match(re, json_object_get_string(subject.json),
                                 (size_t)json_object_get_string_len(subject.json),
                                 list->md, list->mctx);
    pcre2_code_free(dynamic);
    return hit ? 1 : 0;
}
