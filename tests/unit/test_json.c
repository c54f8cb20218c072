/* test_json.c — the shared JSON helpers: strict parsing, deep equality,
 * number comparison, truthiness, shortest double output. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
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

/* Parses s and expects its compact serialisation to be want. */
static void round_trips_as(const char *s, const char *want)
{
    struct json_object *v = parse(s);
    assert_string_equal(brd_json_compact(v, NULL), want);
    json_object_put(v);
}

static void rejects_at(const char *s, size_t len, long pos, const char *what)
{
    struct json_object *v = (struct json_object *)1;
    struct brd_error err;
    assert_int_equal(brd_json_parse(s, len, &v, &err), -1);
    assert_null(v);
    assert_int_equal(err.code, BRD_E_SYNTAX);
    assert_int_equal(err.pos, pos);
    assert_non_null(strstr(err.msg, what));
}

static void integers_beyond_64_bits_pass_through_exactly(void **state)
{
    (void)state;
    /* json_tokener clamped these to 18446744073709551615 / INT64_MIN. */
    round_trips_as("1000000000000000000000000000000", "1000000000000000000000000000000");
    round_trips_as("-1000000000000000000000000000000", "-1000000000000000000000000000000");
    round_trips_as("18446744073709551616", "18446744073709551616");
    round_trips_as("[-9223372036854775809,9223372036854775807]", "[-9223372036854775809,9223372036854775807]");
    round_trips_as("18446744073709551615", "18446744073709551615");
    round_trips_as("{\"a\":1.50,\"b\":1e400,\"c\":-0.0}", "{\"a\":1.50,\"b\":1e400,\"c\":-0.0}");
    struct json_object *v = parse("-9223372036854775808");
    assert_true(json_object_is_type(v, json_type_int));
    assert_true(json_object_get_int64(v) == INT64_MIN);
    json_object_put(v);
    /* A big integer is still a number, compared by value. */
    struct json_object *big = parse("100000000000000000000"), *d = parse("1e20");
    assert_true(brd_json_equal(big, d));
    json_object_put(big);
    json_object_put(d);
}

static void nul_in_a_key_is_refused_and_kept_in_a_value(void **state)
{
    (void)state;
    /* Cut at the NUL, "role\u0000x" used to overwrite "role". */
    rejects_at("{\"role\": \"user\", \"role\\u0000x\": \"admin\"}", 40, 17, "U+0000");
    struct json_object *v = parse("{\"k\": \"a\\u0000b\"}"), *s = NULL;
    assert_true(json_object_object_get_ex(v, "k", &s));
    assert_int_equal(json_object_get_string_len(s), 3);
    assert_memory_equal(json_object_get_string(s), "a\0b", 3);
    assert_string_equal(brd_json_compact(v, NULL), "{\"k\":\"a\\u0000b\"}");
    json_object_put(v);
}

static void strings_are_valid_utf8_and_escapes_decode(void **state)
{
    (void)state;
    rejects_at("\"ab\xc0\xaf\"", 6, 3, "invalid UTF-8");        /* overlong '/' */
    rejects_at("\"\xed\xa0\x80\"", 5, 1, "invalid UTF-8");      /* a UTF-8 surrogate */
    rejects_at("\"\xf4\x90\x80\x80\"", 6, 1, "invalid UTF-8");  /* past U+10FFFF */
    rejects_at("\"\xe2\x82\"", 4, 1, "invalid UTF-8");           /* truncated */
    rejects_at("{\"\xff\": 1}", 7, 2, "invalid UTF-8");           /* in a key too */
    rejects_at("\"a\tb\"", 5, 2, "control character");
    rejects_at("\"\\x\"", 4, 2, "bad escape");
    rejects_at("\"\\u12G4\"", 8, 2, "bad \\u escape");
    struct json_object *v = parse("[\"\\ud83d\\ude00\", \"\\ud83d\", \"\xe2\x82\xac\", \"\\/\\b\\f\\n\\r\\t\\\"\\\\\"]");
    assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 0)), "\xf0\x9f\x98\x80");
    assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 1)), "\xef\xbf\xbd");
    assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 2)), "\xe2\x82\xac");
    assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 3)), "/\b\f\n\r\t\"\\");
    json_object_put(v);
}

static void structure_errors_free_what_was_built(void **state)
{
    (void)state;
    /* Run under ASan: every partial value must be released. */
    rejects_at("{\"a\": [1, {\"b\": [true, \"x\"", 26, 26, "expected ',' or ']'");
    rejects_at("{\"a\": [1, 2} ", 13, 11, "expected ',' or ']'");
    rejects_at("{\"a\" 1}", 7, 5, "expected ':'");
    rejects_at("{1: 2}", 6, 1, "expected a string key");
    rejects_at("[01]", 4, 2, "expected ',' or ']'");
    rejects_at("[1.]", 4, 3, "bad number");
    rejects_at("[-]", 3, 1, "bad number");
    rejects_at("[nul]", 5, 1, "expected a JSON value");
    rejects_at("{} {}", 5, 3, "unexpected data");
    char deep[600];
    memset(deep, '[', sizeof deep);
    rejects_at(deep, sizeof deep, 512, "nesting too deep");
    /* Duplicate keys: the later wins, as before. */
    round_trips_as("{\"a\": 1, \"b\": 2, \"a\": 3}", "{\"a\":3,\"b\":2}");
    round_trips_as(" [ ] ", "[]");
    round_trips_as("{\"x\":{}}", "{\"x\":{}}");
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
        cmocka_unit_test(integers_beyond_64_bits_pass_through_exactly),
        cmocka_unit_test(nul_in_a_key_is_refused_and_kept_in_a_value),
        cmocka_unit_test(strings_are_valid_utf8_and_escapes_decode),
        cmocka_unit_test(structure_errors_free_what_was_built),
        cmocka_unit_test(equal_compares_deeply_and_numbers_by_value),
        cmocka_unit_test(number_cmp_orders_ints_and_doubles),
        cmocka_unit_test(truthiness_follows_the_spec),
        cmocka_unit_test(new_double_prints_shortest_round_trip),
    };
    return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
