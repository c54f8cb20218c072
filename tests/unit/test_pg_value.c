/* test_pg_value.c — the PostgreSQL driver's pieces that need no server:
 * values read from the text format by type OID, messages scrubbed of the
 * DSN and password, statements rewritten at load, parameter types. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pg_source.h"
#include "pg_value.h"
#include "sql_driver.h"

static void expect_pg(unsigned oid, const char *text, const char *json)
{
    struct json_object *o = brd_pg_value(oid, text, strlen(text));
    assert_non_null(o);
    const char *got = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (strcmp(got, json))
        fail_msg("oid %u, %s: got %s, want %s", oid, text, got, json);
    json_object_put(o);
}

static void values_follow_their_type(void **state)
{
    (void)state;
    expect_pg(16, "t", "true");
    expect_pg(16, "f", "false");
    expect_pg(21, "-5", "-5");
    expect_pg(20, "-9000000000000000000", "-9000000000000000000");
    expect_pg(701, "0.1", "0.1");
    expect_pg(700, "1.5", "1.5");
    expect_pg(701, "NaN", "\"NaN\"");
    expect_pg(701, "-Infinity", "\"-Infinity\"");
    expect_pg(1700, "12.50", "12.5");
    expect_pg(1700, "12345678901234567890.1234567891", "\"12345678901234567890.1234567891\"");
    expect_pg(1700, "NaN", "\"NaN\"");
    expect_pg(17, "\\x00ff10", "\"AP8Q\"");
    expect_pg(17, "\\x", "\"\"");
    expect_pg(1082, "2026-12-02", "\"2026-12-02\"");
    expect_pg(1114, "2026-12-02 14:05:00.25", "\"2026-12-02T14:05:00.25\"");
    expect_pg(1184, "2026-12-02 13:05:00+00", "\"2026-12-02T13:05:00+00:00\"");
    expect_pg(1184, "2026-12-02 13:05:00+05:30", "\"2026-12-02T13:05:00+05:30\"");
    expect_pg(1184, "infinity", "\"infinity\"");
    expect_pg(1266, "14:05:00-08", "\"14:05:00-08:00\"");
    expect_pg(114, "{\"a\": [1, 2]}", "{\"a\":[1,2]}");
    expect_pg(3802, "[true, null]", "[true,null]");
    expect_pg(25, "h\xc3\xa9llo", "\"h\xc3\xa9llo\"");
    expect_pg(1007, "{1,2}", "\"{1,2}\"");
    expect_pg(2950, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"");
}

static void messages_never_show_the_dsn_or_password(void **state)
{
    (void)state;
    struct brd_pg_cfg cfg = {.dsn = "host=db password=hunter22", .password = "hunter22"};
    char buf[256];
    assert_string_equal(brd_pg_clean(&cfg, "FATAL:  bad\nDETAIL:  password hunter22 wrong\n", buf, sizeof buf),
                        "FATAL:  bad; DETAIL:  password <redacted> wrong");
    assert_string_equal(brd_pg_clean(&cfg, "missing \"=\" after \"host=db password=hunter22\"", buf, sizeof buf),
                        "missing \"=\" after \"<redacted>\"");
    assert_string_equal(brd_pg_clean(&cfg, NULL, buf, sizeof buf), "no message from libpq");
    /* A message longer than the buffer is cut, still scrubbed. */
    char small[24];
    brd_pg_clean(&cfg, "x hunter22 yyyyyyyyyyyyyyyyyyyyyyyyy", small, sizeof small);
    assert_null(strstr(small, "hunter"));
}

static void check_native(const char *sql, const char *native, size_t nnames, bool writes)
{
    struct brd_ds ds;
    memset(&ds, 0, sizeof ds);
    struct brd_sql_shape shape;
    struct brd_error err;
    brd_error_clear(&err);
    assert_int_equal(brd_pg_driver.check(&ds, sql, strlen(sql), &shape, &err), 0);
    assert_string_equal(shape.native, native);
    assert_int_equal(shape.nplaceholders, nnames);
    assert_int_equal(shape.writes, writes);
    brd_sql_shape_clear(&shape);
}

static void statements_are_rewritten_at_load_without_a_server(void **state)
{
    (void)state;
    check_native("SELECT id FROM users WHERE id = :id OR parent = :id AND name = ':x'",
                 "SELECT id FROM users WHERE id = $1 OR parent = $1 AND name = ':x'", 1, false);
    check_native("SELECT :v::int AS v, $q$:no$q$ AS t", "SELECT $1::int AS v, $q$:no$q$ AS t", 1, false);
    check_native("UPDATE users SET name = :n WHERE id = :id", "UPDATE users SET name = $1 WHERE id = $2", 2, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(values_follow_their_type),
        cmocka_unit_test(messages_never_show_the_dsn_or_password),
        cmocka_unit_test(statements_are_rewritten_at_load_without_a_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
