/* test_sql_placeholder.c — :name rewritten to $k / ? past strings,
 * comments, quoted names, dollar quotes and casts; read/write guess. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sql_placeholder.h"

static void expect_rewrite(enum brd_sql_dialect d, const char *sql, const char *native, const char *names)
{
    struct brd_sql_rewrite r;
    struct brd_error err;
    brd_error_clear(&err);
    if (brd_sql_rewrite(sql, strlen(sql), d, &r, &err) != 0)
        fail_msg("%s: %s", sql, err.msg);
    assert_string_equal(r.native, native);
    char got[256] = "";
    for (size_t k = 0; k < r.nnames; k++) {
        strcat(got, r.names[k] ? r.names[k] : "?");
        if (k + 1 < r.nnames)
            strcat(got, ",");
    }
    assert_string_equal(got, names);
    brd_sql_rewrite_clear(&r);
}

static bool writes(enum brd_sql_dialect d, const char *sql)
{
    struct brd_sql_rewrite r;
    struct brd_error err;
    assert_int_equal(brd_sql_rewrite(sql, strlen(sql), d, &r, &err), 0);
    bool w = r.writes;
    brd_sql_rewrite_clear(&r);
    return w;
}

static void refused(enum brd_sql_dialect d, const char *sql, const char *why)
{
    struct brd_sql_rewrite r;
    struct brd_error err;
    brd_error_clear(&err);
    assert_int_equal(brd_sql_rewrite(sql, strlen(sql), d, &r, &err), -1);
    assert_int_equal(err.code, BRD_E_LOAD);
    if (!strstr(err.msg, why))
        fail_msg("%s: got '%s', want '%s'", sql, err.msg, why);
}

static void postgresql_numbers_each_name_once(void **state)
{
    (void)state;
    expect_rewrite(BRD_SQL_POSTGRESQL, "SELECT id FROM users WHERE id = :id", "SELECT id FROM users WHERE id = $1",
                   "id");
    expect_rewrite(BRD_SQL_POSTGRESQL, "SELECT :a, :b, :a", "SELECT $1, $2, $1", "a,b");
    expect_rewrite(BRD_SQL_POSTGRESQL, "SELECT :x::int, ':no', \":no\", $$ :no $$, $t$ :no $t$ -- :no\n, :y",
                   "SELECT $1::int, ':no', \":no\", $$ :no $$, $t$ :no $t$ -- :no\n, $2", "x,y");
    expect_rewrite(BRD_SQL_POSTGRESQL, "SELECT /* :a /* :b */ :c */ :d", "SELECT /* :a /* :b */ :c */ $1", "d");
    expect_rewrite(BRD_SQL_POSTGRESQL, "SELECT E'it\\'s :no', 'it''s :no', :v;",
                   "SELECT E'it\\'s :no', 'it''s :no', $1", "v"); /* the ';' is dropped */
    expect_rewrite(BRD_SQL_POSTGRESQL, "SELECT a[1:2] FROM t WHERE b = $1", "SELECT a[1:2] FROM t WHERE b = $1", "?");
}

static void mysql_gives_one_mark_per_use(void **state)
{
    (void)state;
    expect_rewrite(BRD_SQL_MYSQL, "SELECT :a, :b, :a", "SELECT ?, ?, ?", "a,b,a");
    expect_rewrite(BRD_SQL_MYSQL, "SELECT 'it\\'s :no', `:no`, \":no\" # :no\n, @v := :w",
                   "SELECT 'it\\'s :no', `:no`, \":no\" # :no\n, @v := ?", "w");
    expect_rewrite(BRD_SQL_MYSQL, "SELECT ? FROM t", "SELECT ? FROM t", "?");
}

static void guesses_whether_it_writes(void **state)
{
    (void)state;
    assert_false(writes(BRD_SQL_POSTGRESQL, "  -- hi\n select 1"));
    assert_false(writes(BRD_SQL_POSTGRESQL, "WITH a AS (SELECT 1) SELECT * FROM a"));
    assert_true(writes(BRD_SQL_POSTGRESQL, "WITH a AS (DELETE FROM t RETURNING *) SELECT * FROM a"));
    assert_true(writes(BRD_SQL_POSTGRESQL, "insert into t values (:v) returning id"));
    assert_true(writes(BRD_SQL_MYSQL, "UPDATE t SET a = :a"));
    assert_false(writes(BRD_SQL_MYSQL, "SELECT 'DELETE' FROM t"));
}

static void refuses_what_it_cannot_read(void **state)
{
    (void)state;
    refused(BRD_SQL_POSTGRESQL, "SELECT 1; SELECT 2", "one statement");
    refused(BRD_SQL_POSTGRESQL, "SELECT 'open", "not closed");
    refused(BRD_SQL_POSTGRESQL, "SELECT $x$ open", "not closed");
    refused(BRD_SQL_MYSQL, "SELECT `open", "not closed");
    refused(BRD_SQL_MYSQL, "/* open", "not closed");
    refused(BRD_SQL_MYSQL, "-- only\n", "only comments");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(postgresql_numbers_each_name_once),
        cmocka_unit_test(mysql_gives_one_mark_per_use),
        cmocka_unit_test(guesses_whether_it_writes),
        cmocka_unit_test(refuses_what_it_cannot_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
