/* test_json.c — the shared JSON helpers: strict parsing, deep equality,
 * number comparison, truthiness, shortest double output. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "base/jsonutil.h"

static struct json_object *parse(const char *s)
{
    struct json_object *v = NULL;
    struct brd_error err;
    assert_int_equal(brd_json_parse(s, strlen(s), &v, &err), 0);
    return v;
}

static void parse_rejects_trailing_data_and_reports_position(void **state)
{
    (void)state;
    struct json_object *v = (struct json_object *)1;
    struct brd_error err;
    assert_int_equal(brd_json_parse("[1] x", 5, &v, &err), -1);
    assert_int_equal(err.code, BRD_E_SYNTAX);
    assert_int_equal(err.pos, 4);
    assert_null(v);
    assert_int_equal(brd_json_parse("{'a':1}", 7, &v, &err), -1);
    assert_int_equal(brd_json_parse("[1,", 3, &v, &err), -1);
    assert_int_equal(brd_json_parse("", 0, &v, &err), -1);
    assert_int_equal(brd_json_parse("\"\xff\"", 3, &v, &err), -1);
}

static void parse_null_is_success_with_null_pointer(void **state)
{
    (void)state;
    struct json_object *v = (struct json_object *)1;
    struct brd_error err;
    assert_int_equal(brd_json_parse(" null\n", 6, &v, &err), 0);
    assert_null(v);
}

static void equal_compares_deeply_and_numbers_by_value(void **state)
{
    (void)state;
    struct json_object *a = parse("{\"x\":[1,2.0,{\"y\":null}],\"z\":\"s\"}");
    struct json_object *b = parse("{\"z\":\"s\",\"x\":[1.0,2,{\"y\":null}]}");
    struct json_object *c = parse("{\"z\":\"s\",\"x\":[1,2,{\"y\":false}]}");
    assert_true(brd_json_equal(a, b));
    assert_false(brd_json_equal(a, c));
    struct json_object *one = parse("1"), *str1 = parse("\"1\""), *t = parse("true");
    assert_false(brd_json_equal(one, str1));
    assert_false(brd_json_equal(one, t));
    assert_true(brd_json_equal(NULL, NULL));
    assert_false(brd_json_equal(NULL, one));
    json_object_put(a);
    json_object_put(b);
    json_object_put(c);
    json_object_put(one);
    json_object_put(str1);
    json_object_put(t);
}

static void number_cmp_orders_ints_and_doubles(void **state)
{
    (void)state;
    struct json_object *a = parse("9007199254740993"), *b = parse("9007199254740992");
    struct json_object *c = parse("1.5"), *d = parse("2");
    assert_true(brd_json_number_cmp(a, b) > 0);   /* exact in int64, not via double */
    assert_true(brd_json_number_cmp(c, d) < 0);
    assert_int_equal(brd_json_number_cmp(d, d), 0);
    json_object_put(a);
    json_object_put(b);
    json_object_put(c);
    json_object_put(d);
}

static void truthiness_follows_the_spec(void **state)
{
    (void)state;
    const char *falsy[] = {"false", "null", "0", "0.0", "\"\""};
    const char *truthy[] = {"true", "1", "-0.5", "\"0\"", "[]", "{}"};
    for (size_t i = 0; i < sizeof falsy / sizeof *falsy; i++) {
        struct json_object *v = parse(falsy[i]);
        assert_false(brd_json_truthy(v));
        json_object_put(v);
    }
    for (size_t i = 0; i < sizeof truthy / sizeof *truthy; i++) {
        struct json_object *v = parse(truthy[i]);
        assert_true(brd_json_truthy(v));
        json_object_put(v);
    }
}

static void new_double_prints_shortest_round_trip(void **state)
{
    (void)state;
    struct json_object *a = brd_json_new_double(0.1), *b = brd_json_new_double(2.0);
    struct json_object *c = brd_json_new_double(1.0 / 3);
    assert_string_equal(brd_json_compact(a, NULL), "0.1");
    assert_string_equal(brd_json_compact(b, NULL), "2.0");
    assert_string_equal(brd_json_compact(c, NULL), "0.3333333333333333");
    assert_null(brd_json_new_double(1.0 / 0.0));
    assert_string_equal(brd_json_compact(NULL, NULL), "null");
    json_object_put(a);
    json_object_put(b);
    json_object_put(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_rejects_trailing_data_and_reports_position),
        cmocka_unit_test(parse_null_is_success_with_null_pointer),
        cmocka_unit_test(equal_compares_deeply_and_numbers_by_value),
        cmocka_unit_test(number_cmp_orders_ints_and_doubles),
        cmocka_unit_test(truthiness_follows_the_spec),
        cmocka_unit_test(new_double_prints_shortest_round_trip),
    };
    return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
