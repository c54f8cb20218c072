/* test_expr.c — the expression engine's API: compile errors with positions,
 * the reference list the loader fills, lookups and short-circuiting,
 * reuse of one compiled expression, and brd_expr_test's truthiness.  The
 * language's rules themselves are in tests/cases/expr.cases. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "expr.h"

static struct json_object *parse(const char *s)
{
    struct json_object *v = NULL;
    struct brd_error err;
    assert_int_equal(brd_json_parse(s, strlen(s), &v, &err), 0);
    return v;
}

static struct brd_expr *compile(const char *s)
{
    struct brd_expr *e = NULL;
    struct brd_error err;
    brd_error_clear(&err);
    if (brd_expr_compile(s, strlen(s), &e, &err) != 0)
        fail_msg("%s: %s", s, err.msg);
    return e;
}

struct lookups {
    int calls;
    struct json_object *outputs; /* {"ID": output} */
};

static int lookup(void *ctx, const struct brd_ref *ref, struct json_object **out,
                  struct brd_error *err)
{
    struct lookups *l = ctx;
    l->calls++;
    /* The loader stores node indexes in slot; here slot 7 means "API1". */
    if (ref->slot == 7 && json_object_object_get_ex(l->outputs, "API1", out))
        return 0;
    if (json_object_object_get_ex(l->outputs, ref->id, out))
        return 0;
    return brd_error_set(err, BRD_E_INTERNAL, "no output for %s", ref->id);
}

static void syntax_error_reports_position_and_expectation(void **state)
{
    (void)state;
    struct brd_expr *e = (struct brd_expr *)1;
    struct brd_error err;
    assert_int_equal(brd_expr_compile("$.a == (1 +", 11, &e, &err), -1);
    assert_null(e);
    assert_int_equal(err.code, BRD_E_SYNTAX);
    assert_int_equal(err.pos, 11);
    assert_non_null(strstr(err.msg, "expected a value"));
}

static void jsonpath_error_position_is_relative_to_the_expression(void **state)
{
    (void)state;
    struct brd_expr *e = NULL;
    struct brd_error err;
    /* "$.a[" is an unclosed bracket: the JSONPath compiler's position is
     * shifted by where the query starts in the expression. */
    assert_int_equal(brd_expr_compile("1 == $.a[", 9, &e, &err), -1);
    assert_int_equal(err.code, BRD_E_SYNTAX);
    assert_true(err.pos >= 5 && err.pos <= 9);
    assert_non_null(strstr(err.msg, "JSONPath"));
}

static void references_are_listed_for_the_loader(void **state)
{
    (void)state;
    struct brd_expr *e = compile("${API1.data[0].id} == ${START.uid} || ${B}");
    assert_int_equal(brd_expr_ref_count(e), 3);
    assert_string_equal(brd_expr_ref(e, 0)->id, "API1");
    assert_string_equal(brd_expr_ref(e, 1)->id, "START");
    assert_string_equal(brd_expr_ref(e, 2)->id, "B");
    assert_non_null(brd_expr_ref(e, 0)->path);
    assert_null(brd_expr_ref(e, 2)->path);
    assert_int_equal(brd_expr_ref(e, 0)->slot, -1);
    assert_null(brd_expr_ref(e, 3));
    brd_expr_free(e);
}

static void lookup_receives_the_slot_the_loader_set(void **state)
{
    (void)state;
    struct brd_expr *e = compile("${API1.data[0].id} == 9");
    brd_expr_ref(e, 0)->slot = 7;
    struct lookups l = {0, parse("{\"API1\": {\"data\": [{\"id\": 9}]}}")};
    bool taken = false;
    struct brd_error err;
    assert_int_equal(brd_expr_test(e, NULL, lookup, &l, &taken, &err), 0);
    assert_true(taken);
    assert_int_equal(l.calls, 1);
    json_object_put(l.outputs);
    brd_expr_free(e);
}

static void short_circuit_skips_the_lookup(void **state)
{
    (void)state;
    struct brd_expr *e = compile("$.ok || ${MISSING.x}");
    struct lookups l = {0, parse("{}")};
    struct json_object *in = parse("{\"ok\": true}");
    bool taken = false;
    struct brd_error err;
    assert_int_equal(brd_expr_test(e, in, lookup, &l, &taken, &err), 0);
    assert_true(taken);
    assert_int_equal(l.calls, 0);
    json_object_put(in);
    in = parse("{\"ok\": false}");
    assert_int_equal(brd_expr_test(e, in, lookup, &l, &taken, &err), -1);
    assert_int_equal(l.calls, 1);
    assert_string_equal(err.msg, "no output for MISSING");
    json_object_put(in);
    json_object_put(l.outputs);
    brd_expr_free(e);
}

static void unresolvable_reference_without_lookup_is_an_error(void **state)
{
    (void)state;
    struct brd_expr *e = compile("${A} == 1");
    struct json_object *out = NULL;
    struct brd_error err;
    assert_int_equal(brd_expr_eval(e, NULL, NULL, NULL, &out, &err), -1);
    assert_int_equal(err.code, BRD_E_EXPRESSION_ERROR);
    brd_expr_free(e);
}

static void one_compiled_expression_serves_many_inputs(void **state)
{
    (void)state;
    struct brd_expr *e = compile("$.name + \"!\"");
    for (int i = 0; i < 100; i++) {
        char doc[64];
        snprintf(doc, sizeof doc, "{\"name\": \"n%d\"}", i);
        struct json_object *in = parse(doc), *out = NULL;
        struct brd_error err;
        assert_int_equal(brd_expr_eval(e, in, NULL, NULL, &out, &err), 0);
        char want[64];
        snprintf(want, sizeof want, "n%d!", i);
        assert_string_equal(json_object_get_string(out), want);
        json_object_put(out);
        json_object_put(in);
    }
    brd_expr_free(e);
}

static void structured_values_survive_their_document(void **state)
{
    (void)state;
    /* The value handed back must hold its own reference: the input may be
     * released before the caller is done with it. */
    struct brd_expr *e = compile("$.a");
    struct json_object *in = parse("{\"a\": {\"b\": [1, 2]}}"), *out = NULL;
    struct brd_error err;
    assert_int_equal(brd_expr_eval(e, in, NULL, NULL, &out, &err), 0);
    json_object_put(in);
    assert_string_equal(brd_json_compact(out, NULL), "{\"b\":[1,2]}");
    json_object_put(out);
    brd_expr_free(e);
}

static void test_gives_truthiness(void **state)
{
    (void)state;
    const char *falsy[] = {"0", "\"\"", "null", "false", "0.0", "$.missing", "1 - 1"};
    const char *truthy[] = {"1", "\"0\"", "$", "-1", "'x'", "0.5"};
    struct brd_error err;
    bool taken;
    for (size_t i = 0; i < sizeof falsy / sizeof *falsy; i++) {
        struct brd_expr *e = compile(falsy[i]);
        assert_int_equal(brd_expr_test(e, NULL, NULL, NULL, &taken, &err), 0);
        assert_false(taken);
        brd_expr_free(e);
    }
    struct json_object *in = parse("{}");
    for (size_t i = 0; i < sizeof truthy / sizeof *truthy; i++) {
        struct brd_expr *e = compile(truthy[i]);
        assert_int_equal(brd_expr_test(e, in, NULL, NULL, &taken, &err), 0);
        assert_true(taken);
        brd_expr_free(e);
    }
    json_object_put(in);
}

static void hostile_nesting_is_refused_not_crashed(void **state)
{
    (void)state;
    static char text[200005];
    struct brd_expr *e = NULL;
    struct brd_error err;
    memset(text, '(', 100000);
    text[100000] = '1';
    memset(text + 100001, ')', 100000);
    assert_int_equal(brd_expr_compile(text, 200001, &e, &err), -1);
    assert_non_null(strstr(err.msg, "nested deeper"));
    memset(text, '!', 100000);
    text[100000] = '1';
    assert_int_equal(brd_expr_compile(text, 100001, &e, &err), -1);
    /* A long flat chain builds a deep tree without parser recursion. */
    for (size_t i = 0; i < 100000; i++) {
        text[2 * i] = '1';
        text[2 * i + 1] = '+';
    }
    text[200000] = '1';
    assert_int_equal(brd_expr_compile(text, 200001, &e, &err), -1);
    assert_non_null(strstr(err.msg, "too long"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(syntax_error_reports_position_and_expectation),
        cmocka_unit_test(jsonpath_error_position_is_relative_to_the_expression),
        cmocka_unit_test(references_are_listed_for_the_loader),
        cmocka_unit_test(lookup_receives_the_slot_the_loader_set),
        cmocka_unit_test(short_circuit_skips_the_lookup),
        cmocka_unit_test(unresolvable_reference_without_lookup_is_an_error),
        cmocka_unit_test(one_compiled_expression_serves_many_inputs),
        cmocka_unit_test(structured_values_survive_their_document),
        cmocka_unit_test(test_gives_truthiness),
        cmocka_unit_test(hostile_nesting_is_refused_not_crashed),
    };
    return cmocka_run_group_tests_name("expr", tests, NULL, NULL);
}
