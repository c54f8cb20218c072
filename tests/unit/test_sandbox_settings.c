/* test_sandbox_settings.c — the sandbox's pure-C checks: function settings,
 * result validation, reply frame headers (no CPython, runs under ASan). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "internal.h"
#include "sandbox.h"

static int parse(const char *text, struct brd_pyfn_settings *s, struct brd_error *err)
{
    brd_error_clear(err);
    return brd_pyfn_settings_parse(text, strlen(text), "f.json", s, err);
}

static void settings_defaults_and_all_keys(void **state)
{
    (void)state;
    struct brd_pyfn_settings s;
    struct brd_error err;
    assert_int_equal(parse("{}", &s, &err), 0);
    assert_int_equal(s.timeout_ms, 1000);
    assert_int_equal(s.memory_mb, 128);
    assert_int_equal(s.isolation, BRD_PYFN_WARM);
    assert_int_equal(s.max_calls, 1000);
    assert_int_equal(parse("{\"timeout_ms\": 250, \"memory_mb\": 64, \"isolation\": \"call\", "
                           "\"max_calls\": 3}", &s, &err), 0);
    assert_int_equal(s.timeout_ms, 250);
    assert_int_equal(s.memory_mb, 64);
    assert_int_equal(s.isolation, BRD_PYFN_CALL);
    assert_int_equal(s.max_calls, 3);
}

static void settings_unknown_key_names_key_and_line(void **state)
{
    (void)state;
    struct brd_pyfn_settings s;
    struct brd_error err;
    assert_int_equal(parse("{\n  \"timeout_ms\": 5,\n  \"isolaton\": \"warm\"\n}", &s, &err), -1);
    assert_int_equal(err.code, BRD_E_LOAD);
    assert_non_null(strstr(err.msg, "f.json:3:"));
    assert_non_null(strstr(err.msg, "unknown setting \"isolaton\""));
    assert_non_null(strstr(err.msg, "known: timeout_ms, memory_mb, isolation, max_calls"));
}

static void settings_types_and_ranges(void **state)
{
    (void)state;
    struct brd_pyfn_settings s;
    struct brd_error err;
    const char *bad[] = {
        "{\"timeout_ms\": \"1000\"}", "{\"timeout_ms\": 1000.0}", "{\"timeout_ms\": 0}",
        "{\"timeout_ms\": 600001}",   "{\"memory_mb\": 7}",       "{\"memory_mb\": true}",
        "{\"isolation\": \"WARM\"}",  "{\"isolation\": 1}",       "{\"max_calls\": 0}",
        "{\"max_calls\": null}",      "[]",                       "42",
        "{\"timeout_ms\": 1,}",       "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parse(bad[i], &s, &err), -1);
        assert_int_equal(err.code, BRD_E_LOAD);
        assert_non_null(strstr(err.msg, "f.json:"));
    }
    assert_int_equal(parse("{\"timeout_ms\": 0}", &s, &err), -1);
    assert_non_null(strstr(err.msg, "\"timeout_ms\" is 0; it must be from 1 to 600000"));
}

static void result_check_accepts_json_within_cap(void **state)
{
    (void)state;
    struct json_object *v;
    struct brd_error err;
    assert_int_equal(brd_sandbox_check_result("{\"a\":[1,2.5,null]}", 18, 100, &v, &err), 0);
    assert_true(json_object_is_type(v, json_type_object));
    json_object_put(v);
    assert_int_equal(brd_sandbox_check_result("null", 4, 100, &v, &err), 0);
    assert_null(v);
}

static void result_check_rejects_bad_results(void **state)
{
    (void)state;
    struct json_object *v;
    struct brd_error err;
    assert_int_equal(brd_sandbox_check_result("[1,2,3]", 7, 6, &v, &err), -1);
    assert_int_equal(err.code, BRD_E_FUNCTION_ERROR);
    assert_non_null(strstr(err.msg, "over the limit of 6 bytes"));
    const char *bad[] = {"NaN", "{'a':1}", "[1,]", "\"\xff\"", "1 2", "{\"a\":1", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(brd_sandbox_check_result(bad[i], strlen(bad[i]), 100, &v, &err), -1);
        assert_int_equal(err.code, BRD_E_FUNCTION_ERROR);
        assert_null(v);
    }
}

static void reply_header_checks(void **state)
{
    (void)state;
    struct brd_proto_hdr h = {.magic = BRD_PROTO_MAGIC, .type = BRD_PROTO_RESULT, .seq = 1,
                              .len = {10, 5, 0, 0}};
    assert_int_equal(brd_proto_check_reply(&h, 100, 10, 10), 0);
    assert_int_equal(brd_proto_payload(&h), 15);
    struct brd_proto_hdr b = h;
    b.magic = 0;
    assert_int_equal(brd_proto_check_reply(&b, 100, 10, 10), -1);
    b = h;
    b.type = BRD_PROTO_CALL; /* a child never sends a request */
    assert_int_equal(brd_proto_check_reply(&b, 100, 10, 10), -1);
    b = h;
    b.len[0] = 101; /* result over the cap */
    assert_int_equal(brd_proto_check_reply(&b, 100, 10, 10), -1);
    b = h;
    b.len[1] = 11; /* output over the cap */
    assert_int_equal(brd_proto_check_reply(&b, 100, 10, 10), -1);
    b = h;
    b.arg = BRD_E_API_ERROR; /* not a code a function can report */
    assert_int_equal(brd_proto_check_reply(&b, 100, 10, 10), -1);
    b = h;
    b.arg = BRD_E_FUNCTION_ERROR;
    b.len[0] = 600; /* error messages are short */
    assert_int_equal(brd_proto_check_reply(&b, 100000, 10, 10), -1);
    b = h;
    b.len[3] = BRD_PROTO_NONE;
    assert_int_equal(brd_proto_check_reply(&b, 100, 10, 10), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(settings_defaults_and_all_keys),
        cmocka_unit_test(settings_unknown_key_names_key_and_line),
        cmocka_unit_test(settings_types_and_ranges),
        cmocka_unit_test(result_check_accepts_json_within_cap),
        cmocka_unit_test(result_check_rejects_bad_results),
        cmocka_unit_test(reply_header_checks),
    };
    return cmocka_run_group_tests_name("sandbox_settings", tests, NULL, NULL);
}
