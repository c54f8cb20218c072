/* test_template.c — values in params/output/result (SPEC section 5):
 * literals, JSONPath over the input, references keeping their type,
 * string templates with the $${ escape, singular vs non-singular queries,
 * and the reference walk the loader uses. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "template.h"

static struct json_object *parse(const char *s)
{
    struct json_object *v = NULL;
    struct brd_error err;
    if (brd_json_parse(s, strlen(s), &v, &err) != 0)
        fail_msg("bad JSON in test: %s", err.msg);
    return v;
}

/* References: "START" reads env START, any other id reads env[id]. */
static int lookup(void *ctx, const struct brd_ref *ref, struct json_object **out,
                  struct brd_error *err)
{
    if (json_object_object_get_ex(ctx, ref->id, out))
        return 0;
    return brd_error_set(err, BRD_E_INTERNAL, "no node %s", ref->id);
}

/* Compiles tpl, evaluates it with input and nodes, compares to want. */
static void check(const char *tpl, const char *input, const char *nodes, const char *want)
{
    struct json_object *t = parse(tpl), *in = parse(input), *env = parse(nodes), *out = NULL;
    struct brd_template *c = NULL;
    struct brd_error err;
    brd_error_clear(&err);
    if (brd_template_compile(t, "", &c, &err) != 0)
        fail_msg("%s: %s", tpl, err.msg);
    if (brd_template_eval(c, in, lookup, env, &out, &err) != 0)
        fail_msg("%s: %s", tpl, err.msg);
    struct json_object *w = parse(want);
    if (!brd_json_equal(out, w) || json_object_get_type(out) != json_object_get_type(w))
        fail_msg("%s gave %s, expected %s", tpl, brd_json_compact(out, NULL), want);
    json_object_put(w);
    json_object_put(out);
    brd_template_free(c);
    json_object_put(t);
    json_object_put(in);
    json_object_put(env);
}

static void literals_are_themselves(void **state)
{
    (void)state;
    check("12", "{}", "{}", "12");
    check("true", "{}", "{}", "true");
    check("null", "{}", "{}", "null");
    check("\"plain text\"", "{}", "{}", "\"plain text\"");
    check("\"$notapath\"", "{}", "{}", "\"$notapath\"");
    check("{\"a\": [1, {\"b\": \"c\"}]}", "{}", "{}", "{\"a\": [1, {\"b\": \"c\"}]}");
}

static void jsonpath_reads_the_input(void **state)
{
    (void)state;
    const char *in = "{\"data\": [{\"id\": 1, \"n\": \"x\"}, {\"id\": 2}]}";
    check("\"$.data[0].id\"", in, "{}", "1");
    check("\"$.missing\"", in, "{}", "null");
    check("\"$.data[*].id\"", in, "{}", "[1, 2]");
    check("\"$..id\"", in, "{}", "[1, 2]");
    check("\"$\"", in, "{}", in);
    check("\"$.\"", in, "{}", in);
    check("\"$['data'][1]\"", in, "{}", "{\"id\": 2}");
    check("{\"user_id\": \"$.data[0].id\", \"k\": 5}", in, "{}", "{\"user_id\": 1, \"k\": 5}");
    check("[\"$.data[0].n\", \"lit\"]", in, "{}", "[\"x\", \"lit\"]");
}

static void references_keep_their_type(void **state)
{
    (void)state;
    const char *nodes = "{\"START\": {\"uid\": 7}, \"API1\": {\"user_id\": 1, \"tags\": [\"a\"]}}";
    check("\"${START.uid}\"", "{}", nodes, "7");
    check("\"${API1}\"", "{}", nodes, "{\"user_id\": 1, \"tags\": [\"a\"]}");
    check("\"${API1.tags}\"", "{}", nodes, "[\"a\"]");
    check("\"${API1..user_id}\"", "{}", nodes, "[1]");
    check("\"${API1.nope}\"", "{}", nodes, "null");
}

static void string_templates_join_text(void **state)
{
    (void)state;
    const char *nodes = "{\"A\": {\"s\": \"str\", \"n\": 2, \"o\": {\"k\": [1]}, \"z\": null}}";
    check("\"id=${A.n}\"", "{}", nodes, "\"id=2\"");
    check("\"${A.s}-${A.n}\"", "{}", nodes, "\"str-2\"");
    check("\"o=${A.o} z=[${A.z}]\"", "{}", nodes, "\"o={\\\"k\\\":[1]} z=[]\"");
    check("\"cost $${price} ${A.n}\"", "{}", nodes, "\"cost ${price} 2\"");
    check("\"$${A.s}\"", "{}", nodes, "\"${A.s}\"");
    check("\"${A.s}\"", "{}", nodes, "\"str\"");
}

static void compile_errors_name_the_member(void **state)
{
    (void)state;
    struct json_object *t = parse("{\"a\": {\"b\": [1, \"$.x[\"]}}");
    struct brd_template *c = NULL;
    struct brd_error err;
    assert_int_equal(brd_template_compile(t, "", &c, &err), -1);
    assert_non_null(strstr(err.msg, "a.b[1]"));
    assert_int_equal(brd_template_compile(t, "output", &c, &err), -1);
    assert_non_null(strstr(err.msg, "output.a.b[1]: JSONPath"));
    json_object_put(t);
    t = parse("{\"a\": \"x ${} y\"}");
    assert_int_equal(brd_template_compile(t, "", &c, &err), -1);
    assert_non_null(strstr(err.msg, "a:"));
    json_object_put(t);
    t = parse("\"${A\"");
    assert_int_equal(brd_template_compile(t, "", &c, &err), -1);
    json_object_put(t);
}

static int collect(void *ctx, struct brd_ref *ref, const char *where)
{
    char *buf = ctx;
    snprintf(buf + strlen(buf), 256 - strlen(buf), "%s@%s;", ref->id, where);
    ref->slot = 3;
    return 0;
}

static void each_ref_visits_every_reference(void **state)
{
    (void)state;
    struct json_object *t = parse("{\"a\": \"${X.y}\", \"b\": [\"${Y} and ${Z.q}\"], \"c\": \"$.p\"}");
    struct brd_template *c = NULL;
    struct brd_error err;
    assert_int_equal(brd_template_compile(t, "", &c, &err), 0);
    char buf[256] = "";
    assert_int_equal(brd_template_each_ref(c, collect, buf), 0);
    assert_string_equal(buf, "X@a;Y@b[0];Z@b[0];");
    assert_true(brd_template_is_object(c));
    assert_true(brd_template_has_field(c, "b"));
    assert_false(brd_template_has_field(c, "p"));
    brd_template_free(c);
    json_object_put(t);
}

static void constant_subtrees_are_shared_not_rebuilt(void **state)
{
    (void)state;
    struct json_object *t = parse("{\"k\": [1, 2, 3]}"), *a = NULL, *b = NULL;
    struct brd_template *c = NULL;
    struct brd_error err;
    assert_int_equal(brd_template_compile(t, "", &c, &err), 0);
    assert_int_equal(brd_template_eval(c, NULL, NULL, NULL, &a, &err), 0);
    assert_int_equal(brd_template_eval(c, NULL, NULL, NULL, &b, &err), 0);
    assert_ptr_equal(a, b);
    json_object_put(a);
    json_object_put(b);
    brd_template_free(c);
    json_object_put(t);
}

static void unresolved_reference_is_an_error(void **state)
{
    (void)state;
    struct json_object *t = parse("\"${NOPE.x}\""), *env = parse("{}"), *out = NULL;
    struct brd_template *c = NULL;
    struct brd_error err;
    assert_int_equal(brd_template_compile(t, "", &c, &err), 0);
    assert_int_equal(brd_template_eval(c, NULL, lookup, env, &out, &err), -1);
    assert_string_equal(err.msg, "no node NOPE");
    brd_template_free(c);
    json_object_put(t);
    json_object_put(env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(literals_are_themselves),
        cmocka_unit_test(jsonpath_reads_the_input),
        cmocka_unit_test(references_keep_their_type),
        cmocka_unit_test(string_templates_join_text),
        cmocka_unit_test(compile_errors_name_the_member),
        cmocka_unit_test(each_ref_visits_every_reference),
        cmocka_unit_test(constant_subtrees_are_shared_not_rebuilt),
        cmocka_unit_test(unresolved_reference_is_an_error),
    };
    return cmocka_run_group_tests_name("template", tests, NULL, NULL);
}
