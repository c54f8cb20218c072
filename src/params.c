/* params.c — loading "params" declarations and converting values to their
 * declared types (see params.h). */
#include "params.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envsubst.h"
#include "base/name.h"

/* Who declares the parameters: what "in" means and how names travel. */
enum mode { M_WORKFLOW, M_HTTP, M_SQL };

/* Longest parameter name accepted: names travel into URLs and headers, and
 * a bound keeps messages readable. */
#define PARAM_NAME_MAX 128

static const char *const ptype_names[] = {
    [BRD_PT_STRING] = "string", [BRD_PT_INT] = "int",     [BRD_PT_NUMBER] = "number",
    [BRD_PT_BOOL] = "bool",     [BRD_PT_OBJECT] = "object", [BRD_PT_ARRAY] = "array",
    [BRD_PT_ANY] = "any",
};

static const char *const pin_names[] = {
    [BRD_IN_PATH] = "path", [BRD_IN_QUERY] = "query", [BRD_IN_HEADER] = "header", [BRD_IN_BODY] = "body",
};

const char *brd_ptype_name(enum brd_ptype t)
{
    return (unsigned)t < sizeof ptype_names / sizeof *ptype_names ? ptype_names[t] : "?";
}

const char *brd_pin_name(enum brd_pin in)
{
    return (unsigned)in < sizeof pin_names / sizeof *pin_names ? pin_names[in] : "?";
}

/* ---- conversion ------------------------------------------------------------ */

/* An int64 from a number, when its value is integral and in range.  json-c
 * parses integers above INT64_MAX as uint64 and saturates get_int64, so
 * those are caught separately. */
static int number_to_int(struct json_object *v, int64_t *out)
{
    if (json_object_is_type(v, json_type_int)) {
        int64_t i = json_object_get_int64(v);
        if (i == INT64_MAX && json_object_get_uint64(v) > (uint64_t)INT64_MAX)
            return -1;
        *out = i;
        return 0;
    }
    double d = json_object_get_double(v);
    /* -2^63 is exact as a double; 2^63 is the first value out of range. */
    if (!isfinite(d) || d != floor(d) || d < -9223372036854775808.0 || d >= 9223372036854775808.0)
        return -1;
    *out = (int64_t)d;
    return 0;
}

/* Parses s as one JSON text; NULL-safe result in *out, -1 when not JSON. */
static int parse_text(struct json_object *s, struct json_object **out)
{
    struct brd_error ignored;
    return brd_json_parse(json_object_get_string(s), (size_t)json_object_get_string_len(s), out,
                          &ignored);
}

/* The conversion itself: 0 with *out (new reference), or -1 (no message). */
static int convert(enum brd_ptype t, struct json_object *v, struct json_object **out)
{
    *out = NULL;
    enum json_type jt = json_object_get_type(v);
    struct json_object *parsed = NULL;
    int64_t i;

    switch (t) {
    case BRD_PT_ANY:
        *out = brd_json_ref(v);
        return 0;
    case BRD_PT_STRING:
        if (jt == json_type_string) {
            *out = json_object_get(v);
        } else if (jt == json_type_int || jt == json_type_double) {
            size_t len;
            const char *text = brd_json_compact(v, &len);
            *out = json_object_new_string_len(text, (int)len);
        } else {
            return -1;
        }
        return *out ? 0 : -1;
    case BRD_PT_INT:
    case BRD_PT_NUMBER:
        if (jt == json_type_string) {
            /* Query strings carry numbers as text: read it as JSON. */
            if (parse_text(v, &parsed) < 0 || !brd_json_is_number(parsed)) {
                json_object_put(parsed);
                return -1;
            }
            v = parsed;
            jt = json_object_get_type(v);
        } else if (jt != json_type_int && jt != json_type_double) {
            return -1;
        }
        if (t == BRD_PT_NUMBER) {
            if (jt == json_type_double && !isfinite(json_object_get_double(v))) {
                json_object_put(parsed);
                return -1;
            }
            *out = parsed ? parsed : json_object_get(v);
            return 0;
        }
        if (number_to_int(v, &i) < 0) {
            json_object_put(parsed);
            return -1;
        }
        if (jt == json_type_int) {
            *out = parsed ? parsed : json_object_get(v);
            return 0;
        }
        json_object_put(parsed);
        *out = json_object_new_int64(i);
        return *out ? 0 : -1;
    case BRD_PT_BOOL:
        if (jt == json_type_boolean) {
            *out = json_object_get(v);
            return 0;
        }
        if (jt == json_type_string) {
            /* By length: a query value may hold a NUL ("true%00junk"). */
            const char *s = json_object_get_string(v);
            int n = json_object_get_string_len(v);
            if ((n == 4 && !memcmp(s, "true", 4)) || (n == 5 && !memcmp(s, "false", 5))) {
                *out = json_object_new_boolean(s[0] == 't');
                return *out ? 0 : -1;
            }
        }
        return -1;
    case BRD_PT_OBJECT:
    case BRD_PT_ARRAY: {
        enum json_type want = t == BRD_PT_OBJECT ? json_type_object : json_type_array;
        if (jt == want) {
            *out = json_object_get(v);
            return 0;
        }
        if (jt != json_type_string)
            return -1;
        /* A single query value for an array parameter ("?tag=a") is a
         * one-element array, as a repeated key ("?tag=a&tag=b") gives an
         * array; only text that starts like an array is read as JSON. */
        if (t == BRD_PT_ARRAY && json_object_get_string(v)[0] != '[') {
            struct json_object *a = json_object_new_array();
            if (!a)
                return -1;
            brd_json_append(a, json_object_get(v));
            *out = a;
            return 0;
        }
        if (parse_text(v, &parsed) < 0 || !json_object_is_type(parsed, want)) {
            json_object_put(parsed);
            return -1;
        }
        *out = parsed;
        return 0;
    }
    }
    return -1;
}

/* A short rendering of v for messages: compact JSON, cut at 60 bytes on a
 * UTF-8 boundary. */
static void describe(struct json_object *v, char *buf, size_t size)
{
    size_t len;
    const char *text = brd_json_compact(v, &len);
    size_t max = 60;
    if (len <= max) {
        snprintf(buf, size, "%s", text);
        return;
    }
    while (max > 0 && ((unsigned char)text[max] & 0xC0) == 0x80)
        max--;
    snprintf(buf, size, "%.*s...", (int)max, text);
}

int brd_param_convert(const struct brd_param *p, struct json_object *v, struct json_object **out,
                      struct brd_error *err)
{
    if (convert(p->type, v, out) == 0)
        return 0;
    char got[80];
    describe(v, got, sizeof got);
    return brd_error_set(err, BRD_E_BAD_REQUEST, "parameter '%s': expected %s, got %s", p->name,
                         brd_ptype_name(p->type), got);
}

/* ---- applying declared parameters to a request ------------------------------- */

const struct brd_param *brd_params_find(const struct brd_params *ps, const char *name)
{
    for (size_t i = 0; i < ps->count; i++)
        if (!strcmp(ps->items[i].name, name))
            return &ps->items[i];
    return NULL;
}

int brd_params_apply(const struct brd_params *ps, struct json_object *input,
                     struct json_object **out, struct brd_error *err)
{
    *out = NULL;
    if (!json_object_is_type(input, json_type_object))
        return brd_error_set(err, BRD_E_BAD_REQUEST, "request parameters must be an object, got %s",
                             brd_json_type_name(input));
    struct json_object *res = json_object_new_object();
    if (!res)
        return brd_error_nomem(err);
    json_object_object_foreach(input, key, val) {
        if (brd_json_add(res, key, brd_json_ref(val)) < 0) {
            json_object_put(res);
            return brd_error_nomem(err);
        }
    }
    for (size_t i = 0; i < ps->count; i++) {
        const struct brd_param *p = &ps->items[i];
        struct json_object *v = NULL, *conv = NULL;
        if (json_object_object_get_ex(input, p->name, &v) && v) {
            if (brd_param_convert(p, v, &conv, err) < 0) {
                json_object_put(res);
                return -1;
            }
        } else if (p->has_default) {
            conv = brd_json_ref(p->def);
        } else if (p->required) {
            json_object_put(res);
            return brd_error_set(err, BRD_E_BAD_REQUEST, "missing required parameter '%s'", p->name);
        } else {
            continue;
        }
        if (brd_json_add(res, p->name, conv) < 0) {
            json_object_put(res);
            return brd_error_nomem(err);
        }
    }
    *out = res;
    return 0;
}

int brd_params_resolve(const struct brd_params *ps, const char *api_name, struct json_object *explicit_params,
                       struct json_object *prev, struct json_object **out, struct brd_error *err)
{
    *out = NULL;
    bool prev_obj = json_object_is_type(prev, json_type_object);
    bool expl_obj = json_object_is_type(explicit_params, json_type_object);
    struct json_object *values = json_object_new_object();
    if (!values)
        return brd_error_nomem(err);
    for (size_t i = 0; i < ps->count; i++) {
        const struct brd_param *p = &ps->items[i];
        struct json_object *v = NULL, *conv = NULL;
        /* A parameter the node sets is never mapped from prev, even when the
         * node's value is null: null then means "no value". */
        if (!(expl_obj && json_object_object_get_ex(explicit_params, p->name, &v)) && prev_obj)
            json_object_object_get_ex(prev, p->name, &v);
        if (!v && p->has_default)
            v = p->def;
        if (!v) {
            if (!p->required)
                continue;
            json_object_put(values);
            return brd_error_set(err, BRD_E_PARAM_MISSING, "api %s: required parameter '%s' has no value",
                                 api_name, p->name);
        }
        if (brd_param_convert(p, v, &conv, err) < 0) {
            json_object_put(values);
            return brd_error_prefix(err, "api %s", api_name);
        }
        if (brd_json_add(values, p->name, conv) < 0) {
            json_object_put(values);
            return brd_error_nomem(err);
        }
    }
    *out = values;
    return 0;
}

/* ---- loading a declaration ---------------------------------------------------- */

static int parse_ptype(const char *s, enum brd_ptype *out)
{
    for (size_t i = 0; i < sizeof ptype_names / sizeof *ptype_names; i++)
        if (!strcmp(s, ptype_names[i])) {
            *out = (enum brd_ptype)i;
            return 0;
        }
    return -1;
}

static int parse_pin(const char *s, enum brd_pin *out)
{
    for (size_t i = 0; i < sizeof pin_names / sizeof *pin_names; i++)
        if (!strcmp(s, pin_names[i])) {
            *out = (enum brd_pin)i;
            return 0;
        }
    return -1;
}

/* RFC 9110 token characters: what a header name may contain. */
static bool is_tchar(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Checks a parameter's name for where it will travel; NULL when fine,
 * else what is wrong. */
static const char *name_problem(const char *name, enum mode m, enum brd_pin in)
{
    size_t len = strlen(name);
    if (len == 0)
        return "a parameter name must not be empty";
    if (len > PARAM_NAME_MAX)
        return "a parameter name must be at most 128 bytes";
    for (const unsigned char *s = (const unsigned char *)name; *s; s++)
        if (*s < 0x20 || *s == 0x7f)
            return "a parameter name must not contain control characters";
    if (m == M_SQL) {
        for (const char *s = name; *s; s++)
            if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
                return "a SQL API's parameter name may only use A-Z a-z 0-9 _ (it appears as :name in sql)";
        return NULL;
    }
    if (m != M_HTTP)
        return NULL;
    if (in == BRD_IN_PATH) {
        for (const char *s = name; *s; s++)
            if (!brd_is_name_char((unsigned char)*s))
                return "a path parameter's name may only use A-Z a-z 0-9 _ - (it appears as {name} in the url)";
    } else if (in == BRD_IN_HEADER) {
        for (const char *s = name; *s; s++)
            if (!is_tchar((unsigned char)*s))
                return "a header parameter's name must be a valid HTTP header name";
        /* Braid sets these itself; letting a request value replace them
         * would break the framing or the request id. */
        static const char *const reserved[] = {"content-length", "transfer-encoding", "connection",
                                               "host", "x-request-id", "expect", "upgrade"};
        for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
            if (!strcasecmp(name, reserved[i]))
                return "this header is set by Braid and cannot be a parameter";
    }
    return NULL;
}

/* Loads one member of the declaration into p; 0, or -1 with problems in d. */
static int load_one(const char *name, struct json_object *spec, enum mode m, enum brd_pin default_in,
                    const char *where, struct brd_param *p, struct brd_diags *d)
{
    int rc = 0;
    bool with_in = m == M_HTTP;
    p->type = BRD_PT_ANY;
    p->in = with_in ? default_in : BRD_IN_QUERY;
    if (!json_object_is_type(spec, json_type_object))
        return brd_diag_add(d, "%s: params.%s: must be an object such as {\"type\": \"string\"}, got %s",
                            where, name, brd_json_type_name(spec));

    struct json_object *def = NULL;
    bool has_def = false;
    json_object_object_foreach(spec, key, val) {
        if (!strcmp(key, "type")) {
            if (!json_object_is_type(val, json_type_string) ||
                parse_ptype(json_object_get_string(val), &p->type) < 0)
                rc = brd_diag_add(d, "%s: params.%s: type: unknown type %s (one of string, int, number, "
                                  "bool, object, array, any)", where, name, brd_json_compact(val, NULL));
        } else if (!strcmp(key, "required")) {
            if (!json_object_is_type(val, json_type_boolean))
                rc = brd_diag_add(d, "%s: params.%s: required: must be true or false", where, name);
            else
                p->required = json_object_get_boolean(val);
        } else if (!strcmp(key, "default")) {
            has_def = true;
            def = val;
        } else if (!strcmp(key, "in") && with_in) {
            if (!json_object_is_type(val, json_type_string) ||
                parse_pin(json_object_get_string(val), &p->in) < 0)
                rc = brd_diag_add(d, "%s: params.%s: in: unknown location %s (one of path, query, header, "
                                  "body)", where, name, brd_json_compact(val, NULL));
        } else if (!strcmp(key, "in") && m == M_SQL) {
            rc = brd_diag_add(d, "%s: params.%s: \"in\" does not apply to a SQL API's parameters (each is "
                              "bound to :%s in sql)", where, name, name);
        } else if (!strcmp(key, "in")) {
            rc = brd_diag_add(d, "%s: params.%s: unknown field \"in\" (only an API's parameters have a "
                              "location)", where, name);
        } else {
            rc = brd_diag_add(d, "%s: params.%s: unknown field \"%s\"", where, name, key);
        }
    }

    const char *problem = name_problem(name, m, p->in);
    if (problem)
        rc = brd_diag_add(d, "%s: params.%s: %s", where, name, problem);

    if (has_def && p->required)
        rc = brd_diag_add(d, "%s: params.%s: \"required\": true and a \"default\" exclude each other "
                          "(a default makes the parameter optional)", where, name);
    if (has_def && !def)
        rc = brd_diag_add(d, "%s: params.%s: default: null is no value (leave \"default\" out)", where,
                          name);
    if (with_in && p->in == BRD_IN_PATH && !p->required && !has_def)
        rc = brd_diag_add(d, "%s: params.%s: a path parameter must be required or have a default", where,
                          name);

    if (has_def && def && rc == 0) {
        struct json_object *src = json_object_get(def);
        /* An API's string defaults may come from the environment; the
         * substituted text is then converted like any other value. */
        if (m != M_WORKFLOW && json_object_is_type(def, json_type_string)) {
            char *text = NULL, msg[256];
            bool used = false;
            if (brd_env_subst(json_object_get_string(def), &text, &used, msg, sizeof msg) < 0) {
                json_object_put(src);
                return brd_diag_add(d, "%s: params.%s: default: %s", where, name, msg);
            }
            json_object_put(src);
            src = json_object_new_string(text);
            free(text);
            if (!src)
                return brd_diag_add(d, "%s: params.%s: out of memory", where, name);
            p->secret = used;
        }
        if (convert(p->type, src, &p->def) < 0) {
            char got[80];
            /* Describe what was written, not the substituted secret. */
            describe(p->secret ? def : src, got, sizeof got);
            rc = brd_diag_add(d, "%s: params.%s: default: expected %s, got %s", where, name,
                              brd_ptype_name(p->type), got);
        } else {
            p->has_default = true;
        }
        json_object_put(src);
    }
    return rc;
}

static int load_all(struct json_object *decl, enum mode m, enum brd_pin default_in,
                    const char *where, struct brd_params *out, struct brd_diags *d)
{
    out->items = NULL;
    out->count = 0;
    if (!decl)
        return 0;
    if (!json_object_is_type(decl, json_type_object))
        return brd_diag_add(d, "%s: params: must be an object of parameter declarations, got %s", where,
                            brd_json_type_name(decl));
    size_t n = (size_t)json_object_object_length(decl);
    if (n == 0)
        return 0;
    struct brd_param *items = calloc(n, sizeof *items);
    if (!items)
        return brd_diag_add(d, "%s: params: out of memory", where);
    out->items = items;

    int rc = 0;
    json_object_object_foreach(decl, name, spec) {
        struct brd_param *p = &items[out->count];
        p->name = strdup(name);
        if (!p->name) {
            rc = brd_diag_add(d, "%s: params: out of memory", where);
            break;
        }
        out->count++;
        if (load_one(name, spec, m, default_in, where, p, d) < 0)
            rc = -1;
    }
    if (rc < 0)
        brd_params_free(out);
    return rc;
}

int brd_params_load(struct json_object *decl, bool with_in, enum brd_pin default_in,
                    const char *where, struct brd_params *out, struct brd_diags *d)
{
    return load_all(decl, with_in ? M_HTTP : M_WORKFLOW, default_in, where, out, d);
}

int brd_params_load_sql(struct json_object *decl, const char *where, struct brd_params *out,
                        struct brd_diags *d)
{
    return load_all(decl, M_SQL, BRD_IN_QUERY, where, out, d);
}

void brd_params_free(struct brd_params *ps)
{
    for (size_t i = 0; i < ps->count; i++) {
        free(ps->items[i].name);
        json_object_put(ps->items[i].def);
    }
    free(ps->items);
    ps->items = NULL;
    ps->count = 0;
}
