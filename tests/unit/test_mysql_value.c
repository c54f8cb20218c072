/* test_mysql_value.c — the parts of the MySQL/MariaDB driver that need no
 * server: DECIMAL text as a number only when it reads back exactly, and a
 * mysql data source's fields (its statements are checked as text at load,
 * :name rewritten to ?).  The driver against a real MariaDB:
 * tests/integration/test_sql_mysql.py. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mysql_value.h"
#include "sql_value.h"
#include "sql_driver.h"

static void expect_decimal(const char *text, const char *json)
{
    struct json_object *o = brd_sqlval_decimal(text, strlen(text));
    assert_non_null(o);
    const char *got = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    if (strcmp(got, json))
        fail_msg("decimal %s: got %s, want %s", text, got, json);
    json_object_put(o);
}

static void decimals_are_numbers_only_when_exact(void **state)
{
    (void)state;
    expect_decimal("12.50", "12.5");
    expect_decimal("12.00", "12");
    expect_decimal("-0.00", "0");
    expect_decimal("0.1", "0.1");
    expect_decimal("-3.25", "-3.25");
    expect_decimal("9223372036854775807", "9223372036854775807");
    expect_decimal("9223372036854775808", "\"9223372036854775808\"");
    expect_decimal("12345678901234567890.1234567891", "\"12345678901234567890.1234567891\"");
    expect_decimal("1.0000000000000000001", "\"1.0000000000000000001\"");
    expect_decimal("0.30000000000000001", "\"0.30000000000000001\"");
}

static void check_native(const char *sql, const char *native, size_t nnames, bool writes)
{
    struct brd_ds ds;
    memset(&ds, 0, sizeof ds);
    struct brd_sql_shape shape;
    struct brd_error err;
    brd_error_clear(&err);
    assert_int_equal(brd_mysql_driver.check(&ds, sql, strlen(sql), &shape, &err), 0);
    assert_string_equal(shape.native, native);
    assert_int_equal(shape.nplaceholders, nnames);
    assert_int_equal(shape.writes, writes);
    brd_sql_shape_clear(&shape);
}

static void statements_are_rewritten_at_load_without_a_server(void **state)
{
    (void)state;
    check_native("SELECT id FROM users WHERE id = :id AND name = ':x'", "SELECT id FROM users WHERE id = ? AND "
                 "name = ':x'", 1, false);
    check_native("INSERT INTO t(a, b) VALUES (:a, :a) RETURNING id", "INSERT INTO t(a, b) VALUES (?, ?) RETURNING id",
                 2, true);
    struct brd_ds ds;
    memset(&ds, 0, sizeof ds);
    struct brd_sql_shape shape;
    struct brd_error err;
    brd_error_clear(&err);
    assert_int_equal(brd_mysql_driver.check(&ds, "SELECT 1; DROP TABLE t", 22, &shape, &err), -1);
    assert_non_null(strstr(err.msg, "one statement per SQL API"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decimals_are_numbers_only_when_exact),
        cmocka_unit_test(statements_are_rewritten_at_load_without_a_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
