/* test_params.c — declared parameters: conversions per type, loading
 * declarations (every error reported at once), defaults, required ones. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "params.h"

static struct json_object *parse(const char *s)
{
    struct json_object *v = NULL;
    struct brd_error err;
    assert_int_equal(brd_json_parse(s, strlen(s), &v, &err), 0);
    return v;
}

static bool has_diag(const struct brd_diags *d, const char *text)
{
    for (size_t i = 0; i < d->count; i++)
        if (strstr(d->msgs[i], text))
            return true;
    return false;
}

static void print_diags(const struct brd_diags *d)
{
    for (size_t i = 0; i < d->count; i++)
        print_message("diag: %s\n", d->msgs[i]);
}

/* ---- conversions ------------------------------------------------------------- */

struct conv_case {
    enum brd_ptype type;
    const char *in;        /* JSON text */
    const char *want;      /* JSON text of the result, NULL: conversion fails */
    enum json_type want_type;
};

static const struct conv_case conv_cases[] = {
    {BRD_PT_STRING, "\"abc\"", "\"abc\"", json_type_string},
    {BRD_PT_STRING, "\"\"", "\"\"", json_type_string},
    {BRD_PT_STRING, "7", "\"7\"", json_type_string},
    {BRD_PT_STRING, "-2.5", "\"-2.5\"", json_type_string},
    {BRD_PT_STRING, "true", NULL, 0},
    {BRD_PT_STRING, "null", NULL, 0},
    {BRD_PT_STRING, "{\"a\":1}", NULL, 0},
    {BRD_PT_STRING, "[1]", NULL, 0},

    {BRD_PT_INT, "7", "7", json_type_int},
    {BRD_PT_INT, "\"7\"", "7", json_type_int},
    {BRD_PT_INT, "\"-3\"", "-3", json_type_int},
    {BRD_PT_INT, "7.0", "7", json_type_int},
    {BRD_PT_INT, "\"7.0\"", "7", json_type_int},
    {BRD_PT_INT, "\"1e3\"", "1000", json_type_int},
    {BRD_PT_INT, "\"9223372036854775807\"", "9223372036854775807", json_type_int},
    {BRD_PT_INT, "-9223372036854775808", "-9223372036854775808", json_type_int},
    {BRD_PT_INT, "9223372036854775808", NULL, 0},
    {BRD_PT_INT, "1e19", NULL, 0},
    {BRD_PT_INT, "7.5", NULL, 0},
    {BRD_PT_INT, "\"7.5\"", NULL, 0},
    {BRD_PT_INT, "\"abc\"", NULL, 0},
    {BRD_PT_INT, "\"\"", NULL, 0},
    {BRD_PT_INT, "\"7x\"", NULL, 0},
    {BRD_PT_INT, "\"[7]\"", NULL, 0},
    {BRD_PT_INT, "true", NULL, 0},
    {BRD_PT_INT, "null", NULL, 0},
    {BRD_PT_INT, "[7]", NULL, 0},

    {BRD_PT_NUMBER, "2.5", "2.5", json_type_double},
    {BRD_PT_NUMBER, "\"2.5\"", "2.5", json_type_double},
    {BRD_PT_NUMBER, "\"-0.125e1\"", "-1.25", json_type_double},
    {BRD_PT_NUMBER, "\"7\"", "7", json_type_int},
    {BRD_PT_NUMBER, "7", "7", json_type_int},
    {BRD_PT_NUMBER, "\"x\"", NULL, 0},
    {BRD_PT_NUMBER, "\"NaN\"", NULL, 0},
    {BRD_PT_NUMBER, "\"1e400\"", NULL, 0},
    {BRD_PT_NUMBER, "true", NULL, 0},
    {BRD_PT_NUMBER, "{}", NULL, 0},

    {BRD_PT_BOOL, "true", "true", json_type_boolean},
    {BRD_PT_BOOL, "false", "false", json_type_boolean},
    {BRD_PT_BOOL, "\"true\"", "true", json_type_boolean},
    {BRD_PT_BOOL, "\"false\"", "false", json_type_boolean},
    {BRD_PT_BOOL, "\"1\"", NULL, 0},
    {BRD_PT_BOOL, "\"True\"", NULL, 0},
    {BRD_PT_BOOL, "\"true\\u0000junk\"", NULL, 0},
    {BRD_PT_BOOL, "\"false\\u0000\"", NULL, 0},
    {BRD_PT_BOOL, "1", NULL, 0},
    {BRD_PT_BOOL, "null", NULL, 0},

    {BRD_PT_OBJECT, "{\"a\":1}", "{\"a\":1}", json_type_object},
    {BRD_PT_OBJECT, "\"{\\\"a\\\":[1,2]}\"", "{\"a\":[1,2]}", json_type_object},
    {BRD_PT_OBJECT, "\"[1]\"", NULL, 0},
    {BRD_PT_OBJECT, "\"x\"", NULL, 0},
    {BRD_PT_OBJECT, "[1]", NULL, 0},
    {BRD_PT_OBJECT, "3", NULL, 0},

    {BRD_PT_ARRAY, "[1,\"a\"]", "[1,\"a\"]", json_type_array},
    {BRD_PT_ARRAY, "\"[1,2]\"", "[1,2]", json_type_array},
    {BRD_PT_ARRAY, "\"a\"", "[\"a\"]", json_type_array},
    {BRD_PT_ARRAY, "\"\"", "[\"\"]", json_type_array},
    {BRD_PT_ARRAY, "\"[oops\"", NULL, 0},
    {BRD_PT_ARRAY, "{}", NULL, 0},
    {BRD_PT_ARRAY, "5", NULL, 0},

    {BRD_PT_ANY, "{\"a\":[1]}", "{\"a\":[1]}", json_type_object},
    {BRD_PT_ANY, "\"7\"", "\"7\"", json_type_string},
    {BRD_PT_ANY, "null", "null", json_type_null},
};

static void convert_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof conv_cases / sizeof *conv_cases; i++) {
        const struct conv_case *tc = &conv_cases[i];
        struct brd_param p = {.name = "x", .type = tc->type};
        struct json_object *in = parse(tc->in), *out = (struct json_object *)1;
        struct brd_error err;
        brd_error_clear(&err);
        int rc = brd_param_convert(&p, in, &out, &err);
        if (!tc->want) {
            if (rc != -1)
                fail_msg("case %zu: %s as %s should fail, gave %s", i, tc->in, brd_ptype_name(tc->type),
                         brd_json_compact(out, NULL));
            assert_int_equal(err.code, BRD_E_BAD_REQUEST);
        } else {
            if (rc != 0)
                fail_msg("case %zu: %s as %s failed: %s", i, tc->in, brd_ptype_name(tc->type), err.msg);
            struct json_object *want = parse(tc->want);
            if (!brd_json_equal(out, want) || json_object_get_type(out) != tc->want_type)
                fail_msg("case %zu: %s as %s gave %s (%s), want %s", i, tc->in, brd_ptype_name(tc->type),
                         brd_json_compact(out, NULL), brd_json_type_name(out), tc->want);
            json_object_put(want);
            json_object_put(out);
        }
        json_object_put(in);
    }
}

static void convert_error_message_names_parameter_type_and_value(void **state)
{
    (void)state;
    struct brd_param p = {.name = "uid", .type = BRD_PT_INT};
    struct json_object *in = parse("\"abc\""), *out = NULL;
    struct brd_error err;
    assert_int_equal(brd_param_convert(&p, in, &out, &err), -1);
    assert_string_equal(err.msg, "parameter 'uid': expected int, got \"abc\"");
    json_object_put(in);

    /* A long value is cut, on a UTF-8 boundary. */
    char text[300] = "\"";
    for (int i = 0; i < 100; i++)
        strcat(text, "\xc3\xa9");
    strcat(text, "\"");
    in = parse(text);
    p.type = BRD_PT_BOOL;
    assert_int_equal(brd_param_convert(&p, in, &out, &err), -1);
    assert_true(strlen(err.msg) < 120);
    assert_non_null(strstr(err.msg, "..."));
    json_object_put(in);
}

static void type_names(void **state)
{
    (void)state;
    assert_string_equal(brd_ptype_name(BRD_PT_STRING), "string");
    assert_string_equal(brd_ptype_name(BRD_PT_INT), "int");
    assert_string_equal(brd_ptype_name(BRD_PT_NUMBER), "number");
    assert_string_equal(brd_ptype_name(BRD_PT_BOOL), "bool");
    assert_string_equal(brd_ptype_name(BRD_PT_OBJECT), "object");
    assert_string_equal(brd_ptype_name(BRD_PT_ARRAY), "array");
    assert_string_equal(brd_ptype_name(BRD_PT_ANY), "any");
    assert_string_equal(brd_pin_name(BRD_IN_HEADER), "header");
}

/* ---- loading -------------------------------------------------------------------- */

static void load_workflow_params(void **state)
{
    (void)state;
    struct json_object *decl = parse("{\"uid\": {\"type\": \"int\", \"required\": true},"
                                     " \"n\": {\"type\": \"number\", \"default\": \"2.5\"},"
                                     " \"tags\": {\"type\": \"array\"}, \"x\": {}}");
    struct brd_params ps;
    struct brd_diags d = {0};
    assert_int_equal(brd_params_load(decl, false, BRD_IN_QUERY, "workflows/w.json", &ps, &d), 0);
    assert_int_equal(d.count, 0);
    assert_int_equal(ps.count, 4);
    assert_string_equal(ps.items[0].name, "uid");
    assert_int_equal(ps.items[0].type, BRD_PT_INT);
    assert_true(ps.items[0].required);
    assert_false(ps.items[0].has_default);
    assert_int_equal(ps.items[1].type, BRD_PT_NUMBER);
    assert_true(ps.items[1].has_default);
    /* The default is stored converted. */
    assert_true(json_object_is_type(ps.items[1].def, json_type_double));
    assert_true(json_object_get_double(ps.items[1].def) == 2.5);
    assert_int_equal(ps.items[2].type, BRD_PT_ARRAY);
    assert_int_equal(ps.items[3].type, BRD_PT_ANY);
    assert_ptr_equal(brd_params_find(&ps, "tags"), &ps.items[2]);
    assert_null(brd_params_find(&ps, "nope"));
    brd_params_free(&ps);
    json_object_put(decl);

    assert_int_equal(brd_params_load(NULL, false, BRD_IN_QUERY, "w", &ps, &d), 0);
    assert_int_equal(ps.count, 0);
    decl = parse("{}");
    assert_int_equal(brd_params_load(decl, false, BRD_IN_QUERY, "w", &ps, &d), 0);
    assert_int_equal(ps.count, 0);
    json_object_put(decl);
    brd_diags_free(&d);
}

static void load_reports_every_error_at_once(void **state)
{
    (void)state;
    struct json_object *decl = parse(
        "{\"a\": {\"type\": \"integer\"},"
        " \"b\": {\"required\": \"yes\"},"
        " \"c\": {\"type\": \"int\", \"default\": \"abc\"},"
        " \"d\": {\"in\": \"query\"},"
        " \"e\": 5,"
        " \"f\": {\"foo\": 1},"
        " \"g\": {\"type\": \"int\", \"required\": true, \"default\": 1},"
        " \"h\": {\"default\": null},"
        " \"\": {}}");
    struct brd_params ps = {(struct brd_param *)1, 7};
    struct brd_diags d = {0};
    assert_int_equal(brd_params_load(decl, false, BRD_IN_QUERY, "workflows/w.json", &ps, &d), -1);
    if (d.count != 9)
        print_diags(&d);
    assert_int_equal(d.count, 9);
    assert_int_equal(ps.count, 0);
    assert_null(ps.items);
    assert_true(has_diag(&d, "workflows/w.json: params.a: type: unknown type \"integer\""));
    assert_true(has_diag(&d, "workflows/w.json: params.b: required: must be true or false"));
    assert_true(has_diag(&d, "workflows/w.json: params.c: default: expected int, got \"abc\""));
    assert_true(has_diag(&d, "workflows/w.json: params.d: unknown field \"in\""));
    assert_true(has_diag(&d, "workflows/w.json: params.e: must be an object"));
    assert_true(has_diag(&d, "workflows/w.json: params.f: unknown field \"foo\""));
    assert_true(has_diag(&d, "workflows/w.json: params.g: \"required\": true and a \"default\" exclude"));
    assert_true(has_diag(&d, "workflows/w.json: params.h: default: null is no value"));
    assert_true(has_diag(&d, "workflows/w.json: params.: a parameter name must not be empty"));
    brd_diags_free(&d);
    json_object_put(decl);

    decl = parse("[1]");
    assert_int_equal(brd_params_load(decl, false, BRD_IN_QUERY, "workflows/w.json", &ps, &d), -1);
    assert_true(has_diag(&d, "workflows/w.json: params: must be an object"));
    brd_diags_free(&d);
    json_object_put(decl);
}

static void load_api_params_with_locations(void **state)
{
    (void)state;
    struct json_object *decl = parse("{\"id\": {\"in\": \"path\", \"type\": \"int\", \"required\": true},"
                                     " \"q\": {}, \"X-User\": {\"in\": \"header\"}, \"b\": {\"in\": \"body\"}}");
    struct brd_params ps;
    struct brd_diags d = {0};
    assert_int_equal(brd_params_load(decl, true, BRD_IN_BODY, "apis/a.json", &ps, &d), 0);
    assert_int_equal(ps.items[0].in, BRD_IN_PATH);
    assert_int_equal(ps.items[1].in, BRD_IN_BODY);     /* the default given */
    assert_int_equal(ps.items[2].in, BRD_IN_HEADER);
    assert_int_equal(ps.items[3].in, BRD_IN_BODY);
    brd_params_free(&ps);
    assert_int_equal(brd_params_load(decl, true, BRD_IN_QUERY, "apis/a.json", &ps, &d), 0);
    assert_int_equal(ps.items[1].in, BRD_IN_QUERY);
    brd_params_free(&ps);
    json_object_put(decl);

    decl = parse("{\"id\": {\"in\": \"path\"},"
                 " \"c\": {\"in\": \"cookie\"},"
                 " \"bad name\": {\"in\": \"header\"},"
                 " \"X-Request-Id\": {\"in\": \"header\"},"
                 " \"a/b\": {\"in\": \"path\", \"required\": true}}");
    assert_int_equal(brd_params_load(decl, true, BRD_IN_QUERY, "apis/a.json", &ps, &d), -1);
    if (d.count != 5)
        print_diags(&d);
    assert_int_equal(d.count, 5);
    assert_true(has_diag(&d, "apis/a.json: params.id: a path parameter must be required or have a default"));
    assert_true(has_diag(&d, "apis/a.json: params.c: in: unknown location \"cookie\""));
    assert_true(has_diag(&d, "apis/a.json: params.bad name: a header parameter's name must be a valid HTTP"));
    assert_true(has_diag(&d, "apis/a.json: params.X-Request-Id: this header is set by Braid"));
    assert_true(has_diag(&d, "apis/a.json: params.a/b: a path parameter's name may only use"));
    brd_diags_free(&d);
    json_object_put(decl);
}

static void api_string_defaults_read_the_environment(void **state)
{
    (void)state;
    setenv("BRD_TEST_PARAMS_PORT", "8080", 1);
    unsetenv("BRD_TEST_PARAMS_NOPE");
    struct json_object *decl = parse("{\"port\": {\"type\": \"int\", \"default\": \"${env.BRD_TEST_PARAMS_PORT}\"},"
                                     " \"lit\": {\"default\": \"$${x}\"}}");
    struct brd_params ps;
    struct brd_diags d = {0};
    assert_int_equal(brd_params_load(decl, true, BRD_IN_QUERY, "apis/a.json", &ps, &d), 0);
    assert_int_equal(json_object_get_int64(ps.items[0].def), 8080);
    assert_true(ps.items[0].secret);
    assert_string_equal(json_object_get_string(ps.items[1].def), "${x}");
    assert_false(ps.items[1].secret);
    brd_params_free(&ps);
    json_object_put(decl);

    /* Workflows do not read the environment: the text stays as written. */
    decl = parse("{\"p\": {\"default\": \"${env.BRD_TEST_PARAMS_PORT}\"}}");
    assert_int_equal(brd_params_load(decl, false, BRD_IN_QUERY, "w", &ps, &d), 0);
    assert_string_equal(json_object_get_string(ps.items[0].def), "${env.BRD_TEST_PARAMS_PORT}");
    brd_params_free(&ps);
    json_object_put(decl);

    decl = parse("{\"p\": {\"default\": \"${env.BRD_TEST_PARAMS_NOPE}\"}}");
    assert_int_equal(brd_params_load(decl, true, BRD_IN_QUERY, "apis/a.json", &ps, &d), -1);
    assert_true(has_diag(&d, "apis/a.json: params.p: default: environment variable BRD_TEST_PARAMS_NOPE is not set"));
    brd_diags_free(&d);
    json_object_put(decl);
}

/* ---- applying to a request ------------------------------------------------------ */

static struct brd_params load_ok(const char *text)
{
    struct json_object *decl = parse(text);
    struct brd_params ps;
    struct brd_diags d = {0};
    assert_int_equal(brd_params_load(decl, false, BRD_IN_QUERY, "w", &ps, &d), 0);
    json_object_put(decl);
    return ps;
}

static void apply_converts_fills_defaults_and_passes_the_rest(void **state)
{
    (void)state;
    struct brd_params ps = load_ok("{\"uid\": {\"type\": \"int\", \"required\": true},"
                                   " \"n\": {\"type\": \"number\", \"default\": 2.5},"
                                   " \"tags\": {\"type\": \"array\"}, \"opt\": {\"type\": \"int\"}}");
    struct json_object *in = parse("{\"uid\": \"7\", \"extra\": \"x\", \"tags\": \"a\", \"opt\": null}");
    struct json_object *out = NULL, *want = parse("{\"uid\": 7, \"extra\": \"x\", \"tags\": [\"a\"],"
                                                  " \"opt\": null, \"n\": 2.5}");
    struct brd_error err;
    assert_int_equal(brd_params_apply(&ps, in, &out, &err), 0);
    assert_true(brd_json_equal(out, want));
    assert_true(json_object_is_type(json_object_object_get(out, "uid"), json_type_int));
    /* The input is not modified. */
    assert_string_equal(json_object_get_string(json_object_object_get(in, "uid")), "7");
    json_object_put(out);
    json_object_put(want);
    json_object_put(in);

    /* A given value wins over the default. */
    in = parse("{\"uid\": 1, \"n\": \"3\"}");
    assert_int_equal(brd_params_apply(&ps, in, &out, &err), 0);
    assert_int_equal(json_object_get_int64(json_object_object_get(out, "n")), 3);
    json_object_put(out);
    json_object_put(in);
    brd_params_free(&ps);
}

static void apply_rejects_missing_and_unconvertible(void **state)
{
    (void)state;
    struct brd_params ps = load_ok("{\"uid\": {\"type\": \"int\", \"required\": true}}");
    struct json_object *out = (struct json_object *)1;
    struct brd_error err;
    const char *missing[] = {"{}", "{\"uid\": null}", "{\"UID\": 1}"};
    for (size_t i = 0; i < 3; i++) {
        struct json_object *in = parse(missing[i]);
        assert_int_equal(brd_params_apply(&ps, in, &out, &err), -1);
        assert_int_equal(err.code, BRD_E_BAD_REQUEST);
        assert_string_equal(err.msg, "missing required parameter 'uid'");
        assert_null(out);
        json_object_put(in);
    }
    struct json_object *in = parse("{\"uid\": \"abc\"}");
    assert_int_equal(brd_params_apply(&ps, in, &out, &err), -1);
    assert_int_equal(err.code, BRD_E_BAD_REQUEST);
    assert_string_equal(err.msg, "parameter 'uid': expected int, got \"abc\"");
    json_object_put(in);

    in = parse("[1]");
    assert_int_equal(brd_params_apply(&ps, in, &out, &err), -1);
    assert_int_equal(err.code, BRD_E_BAD_REQUEST);
    json_object_put(in);
    assert_int_equal(brd_params_apply(&ps, NULL, &out, &err), -1);
    brd_params_free(&ps);

    /* No declarations: everything passes through. */
    struct brd_params none = {0};
    in = parse("{\"a\": [1, {\"b\": null}]}");
    assert_int_equal(brd_params_apply(&none, in, &out, &err), 0);
    assert_true(brd_json_equal(in, out));
    json_object_put(out);
    json_object_put(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(convert_table),
        cmocka_unit_test(convert_error_message_names_parameter_type_and_value),
        cmocka_unit_test(type_names),
        cmocka_unit_test(load_workflow_params),
        cmocka_unit_test(load_reports_every_error_at_once),
        cmocka_unit_test(load_api_params_with_locations),
        cmocka_unit_test(api_string_defaults_read_the_environment),
        cmocka_unit_test(apply_converts_fills_defaults_and_passes_the_rest),
        cmocka_unit_test(apply_rejects_missing_and_unconvertible),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
