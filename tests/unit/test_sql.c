/* test_sql.c — SQLite data sources and SQL APIs (SPEC section 2b) through the
 * real loader and engine against real SQLite databases made here: every
 * type mapping, typed binding, injection attempts, max_rows, writes with
 * RETURNING and affected_rows, read-only refusal, timeouts, load errors.
 * (Definitions are written with ` for " to keep them readable.) */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "base/clock.h"
#include "exec.h"
#include "sql_api.h"
#include "sql_driver.h"

static char dir[64];        /* the good service */
static char app_db[128], rw_db[128];
static struct brd_service *svc;
static struct brd_engine *eng;

/* ---- fixtures ------------------------------------------------------------------- */

static void put_in(const char *base, const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", base, rel);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    mkdir(path, 0700);
    *slash = '/';
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (const char *s = text; *s; s++)
        fputc(*s == '`' ? '"' : *s, f);
    fclose(f);
}

static void put(const char *rel, const char *text)
{
    put_in(dir, rel, text);
}

static void sql_exec(const char *db_path, const char *script)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, script, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("sqlite: %s", msg);
    sqlite3_close(db);
}

/* One value of a one-row query, directly with SQLite. */
static long long sql_count(const char *db_path, const char *query)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, query, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static const char SCHEMA[] =
    "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL, role TEXT, active BOOLEAN,"
    "  created DATETIME, born DATE, meta JSON, pic BLOB, score REAL);"
    "INSERT INTO users VALUES (1, 'alice', 'admin', 1, '2026-12-02 14:05:00', '1990-01-31',"
    "  '{\"tags\": [\"a\", \"b\"], \"n\": 1}', x'00ff10', 1.5);"
    "INSERT INTO users VALUES (2, 'bob', 'user', 0, '2026-12-03T08:00:00.250+01:00', NULL, 'not json', NULL, NULL);"
    "INSERT INTO users VALUES (3, 'carol', 'user', NULL, 'yesterday', NULL, '[1, 2.5, null]', x'', -2);"
    "CREATE TABLE big(x INTEGER);"
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1001) INSERT INTO big SELECT x FROM c;"
    "CREATE TABLE odd(t TEXT); INSERT INTO odd VALUES (CAST(x'61ff62' AS TEXT));";

/* A workflow NAME with one node A calling api NAME, params by same-name mapping. */
static void one_node(const char *name)
{
    char rel[128], text[256];
    snprintf(rel, sizeof rel, "workflows/%s.json", name);
    snprintf(text, sizeof text,
             "{`nodes`: [{`id`: `A`, `type`: `api`, `api`: `%s`}], `edges`: [[`START`, `A`], [`A`, `END`]]}", name);
    put(rel, text);
}

static void api(const char *name, const char *text)
{
    char rel[128];
    snprintf(rel, sizeof rel, "apis/%s.json", name);
    put(rel, text);
    one_node(name);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/braid-test-sql-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(app_db, sizeof app_db, "%s/data/app.db", dir);
    snprintf(rw_db, sizeof rw_db, "%s/data/rw.db", dir);
    char data[128];
    snprintf(data, sizeof data, "%s/data", dir);
    mkdir(data, 0700);
    sql_exec(app_db, SCHEMA);
    sql_exec(rw_db, SCHEMA);
    setenv("BRD_TEST_SQL_DB", "rw.db", 1);
    setenv("BRD_TEST_SQL_SECRET", "hunter2", 1);

    put("datasources/app.json", "{`type`: `sqlite`, `path`: `data/app.db`}");
    /* ${env.X} in the path; "type" left out: sqlite is the default. */
    put("datasources/rw.json", "{`path`: `data/${env.BRD_TEST_SQL_DB}`, `write`: true}");

    api("user", "{`type`: `sql`, `datasource`: `app`, `sql`: `SELECT * FROM users WHERE id = :id`,"
                "`params`: {`id`: {`type`: `int`, `required`: true}}}");
    api("by_name", "{`type`: `sql`, `datasource`: `app`,"
                   "`sql`: `SELECT id, name FROM users WHERE name = :name ORDER BY id`,"
                   "`params`: {`name`: {`type`: `string`, `required`: true}}}");
    api("by_sid", "{`type`: `sql`, `datasource`: `app`, `sql`: `SELECT id FROM users WHERE id = :id`,"
                  "`params`: {`id`: {`type`: `string`, `required`: true}}}");
    api("echo", "{`type`: `sql`, `datasource`: `app`,"
                "`sql`: `SELECT typeof(:v) AS t, :v AS v, length(CAST(:v AS BLOB)) AS bytes`,"
                "`params`: {`v`: {`type`: `any`}}}");
    api("count", "{`type`: `sql`, `datasource`: `app`, `sql`: `SELECT count(*) AS n FROM users`}");
    api("edge", "{`type`: `sql`, `datasource`: `app`,"
                "`sql`: `SELECT 9e999 AS inf, -9e999 AS ninf, 9223372036854775807 AS imax, 0.1 AS tenth,"
                "  CAST(:d AS TEXT) AS d`, `params`: {`d`: {`type`: `string`, `default`: `x`}}}");
    api("all_big", "{`type`: `sql`, `datasource`: `app`, `sql`: `SELECT x FROM big ORDER BY x`}");
    api("some_big", "{`type`: `sql`, `datasource`: `app`, `sql`: `SELECT x FROM big ORDER BY x LIMIT :n`,"
                    "`params`: {`n`: {`type`: `int`, `required`: true}}, `max_rows`: 1000}");
    api("odd", "{`type`: `sql`, `datasource`: `app`, `sql`: `SELECT t FROM odd`}");
    api("spin", "{`type`: `sql`, `datasource`: `app`, `timeout_ms`: 100,"
                "`sql`: `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT max(x) AS m FROM c`}");
    api("spin_long", "{`type`: `sql`, `datasource`: `app`, `timeout_ms`: 60000,"
                     "`sql`: `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT max(x) AS m FROM c`}");
    api("schema", "{`type`: `sql`, `datasource`: `app`,"
                  "`sql`: `SELECT name FROM pragma_table_info('users') ORDER BY cid LIMIT 2`}");
    api("secret", "{`type`: `sql`, `datasource`: `app`, `sql`: `SELECT :token = 'hunter2' AS ok`,"
                  "`params`: {`token`: {`type`: `string`, `default`: `${env.BRD_TEST_SQL_SECRET}`}}}");
    api("add", "{`type`: `sql`, `datasource`: `rw`,"
               "`sql`: `INSERT INTO users(name, role) VALUES (:name, :role) RETURNING id, name, role`,"
               "`params`: {`name`: {`type`: `string`, `required`: true}, `role`: {`type`: `string`, `default`: `user`}}}");
    api("promote", "{`type`: `sql`, `datasource`: `rw`, `sql`: `UPDATE users SET role = 'staff' WHERE role = :role`,"
                   "`params`: {`role`: {`type`: `string`, `required`: true}}}");
    api("promote_few", "{`type`: `sql`, `datasource`: `rw`, `max_rows`: 1,"
                       "`sql`: `UPDATE users SET role = 'boss' WHERE role = :role RETURNING id`,"
                       "`params`: {`role`: {`type`: `string`, `required`: true}}}");
    api("add_slow", "{`type`: `sql`, `datasource`: `rw`, `timeout_ms`: 150,"
                    "`sql`: `INSERT INTO users(name) VALUES (:name)`, `params`: {`name`: {`type`: `string`}}}");
    api("rw_count", "{`type`: `sql`, `datasource`: `rw`, `sql`: `SELECT count(*) AS n FROM users WHERE role = :role`,"
                    "`params`: {`role`: {`type`: `string`}}}");

    /* A SQL node in a workflow: mapping from START, output, a parallel pair, deadlines. */
    put("workflows/lookup.json",
        "{`params`: {`uid`: {`type`: `int`, `required`: true}},"
        " `nodes`: [{`id`: `Q`, `type`: `api`, `api`: `user`, `params`: {`id`: `${START.uid}`},"
        "            `output`: {`user_id`: `$.data[0].id`, `role`: `$.data[0].role`}}],"
        " `edges`: [[`START`, `Q`], [`Q`, `END`]]}");
    put("workflows/pair.json",
        "{`nodes`: [{`id`: `A`, `type`: `api`, `api`: `user`, `params`: {`id`: 1}, `output`: {`a`: `$.data[0].name`}},"
        "           {`id`: `B`, `type`: `api`, `api`: `user`, `params`: {`id`: 2}, `output`: {`b`: `$.data[0].name`}}],"
        " `edges`: [[`START`, `A`], [`START`, `B`], [`A`, `END`], [`B`, `END`]]}");
    put("workflows/node_budget.json",
        "{`nodes`: [{`id`: `A`, `type`: `api`, `api`: `spin_long`, `timeout_ms`: 80}],"
        " `edges`: [[`START`, `A`], [`A`, `END`]]}");
    put("workflows/wf_deadline.json",
        "{`timeout_ms`: 80, `nodes`: [{`id`: `A`, `type`: `api`, `api`: `spin_long`}],"
        " `edges`: [[`START`, `A`], [`A`, `END`]]}");
    put("workflows/recover.json",
        "{`nodes`: [{`id`: `A`, `type`: `api`, `api`: `all_big`, `on_error`: {`output`: {`failed`: true}}}],"
        " `edges`: [[`START`, `A`], [`A`, `END`]]}");

    struct brd_diags d = {0};
    if (brd_service_load(dir, NULL, &svc, &d) != 0) {
        for (size_t i = 0; i < d.count; i++)
            fprintf(stderr, "load: %s\n", d.msgs[i]);
        brd_diags_free(&d);
        return -1;
    }
    brd_diags_free(&d);
    struct brd_error err;
    return brd_engine_new(&eng, &err);
}

static int teardown(void **state)
{
    (void)state;
    brd_engine_free(eng);
    brd_service_free(svc);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- helpers ---------------------------------------------------------------------- */

static struct json_object *parse(const char *text)
{
    struct json_object *v = NULL;
    struct brd_error err;
    char *copy = strdup(text);
    assert_non_null(copy);
    for (char *s = copy; *s; s++)
        if (*s == '`')
            *s = '"';
    if (brd_json_parse(copy, strlen(copy), &v, &err) != 0)
        fail_msg("bad test JSON %s: %s", text, err.msg);
    free(copy);
    return v;
}

/* Runs workflow wf with the object in (owned). */
static void run_in(const char *wf, struct json_object *in, bool trace, struct brd_run_result *res)
{
    const struct brd_workflow *w = brd_service_workflow(svc, wf);
    if (!w)
        fail_msg("no workflow %s", wf);
    struct brd_run_opts opts = {"rid-sql", trace};
    brd_engine_run(eng, svc, w, in, &opts, res);
    json_object_put(in);
}

static void run(const char *wf, const char *input, struct brd_run_result *res)
{
    run_in(wf, parse(input), false, res);
}

static void assert_json(struct json_object *got, const char *want)
{
    struct json_object *w = parse(want);
    if (!brd_json_equal(got, w))
        fail_msg("got %s, expected %s", brd_json_compact(got, NULL), brd_json_compact(w, NULL));
    json_object_put(w);
}

static void expect_ok(const char *wf, const char *input, const char *want)
{
    struct brd_run_result res;
    run(wf, input, &res);
    if (res.status != 0)
        fail_msg("%s: %s %s", wf, brd_code_name(res.err.code), res.err.msg);
    assert_json(res.result, want);
    brd_run_result_clear(&res);
}

static void expect_fail(const char *wf, const char *input, enum brd_code code, const char *text)
{
    struct brd_run_result res;
    run(wf, input, &res);
    assert_int_equal(res.status, -1);
    if (res.err.code != code || !strstr(res.err.msg, text))
        fail_msg("%s: got %s \"%s\", expected %s containing \"%s\"", wf, brd_code_name(res.err.code), res.err.msg,
                 brd_code_name(code), text);
    brd_run_result_clear(&res);
}

/* ---- type mapping ------------------------------------------------------------------------ */

static void every_type_maps_as_the_spec_says(void **state)
{
    (void)state;
    /* INTEGER → int, TEXT → string, BOOLEAN 1 → true, DATETIME with a T,
     * DATE as is, JSON → its value, BLOB → base64, REAL → number. */
    expect_ok("user", "{`id`: 1}",
              "{`data`: [{`id`: 1, `name`: `alice`, `role`: `admin`, `active`: true,"
              " `created`: `2026-12-02T14:05:00`, `born`: `1990-01-31`, `meta`: {`tags`: [`a`, `b`], `n`: 1},"
              " `pic`: `AP8Q`, `score`: 1.5}]}");
    /* BOOLEAN 0 → false, an ISO text with offset kept, NULL → null,
     * text in a JSON column that is not JSON stays text. */
    expect_ok("user", "{`id`: 2}",
              "{`data`: [{`id`: 2, `name`: `bob`, `role`: `user`, `active`: false,"
              " `created`: `2026-12-03T08:00:00.250+01:00`, `born`: null, `meta`: `not json`, `pic`: null,"
              " `score`: null}]}");
    /* NULL boolean → null, a date text that is no date kept, a JSON array,
     * an empty blob → "", an integer in a REAL column → stored as REAL -2.0. */
    struct brd_run_result res;
    run("user", "{`id`: 3}", &res);
    assert_int_equal(res.status, 0);
    struct json_object *row = json_object_array_get_idx(json_object_object_get(res.result, "data"), 0);
    assert_json(row, "{`id`: 3, `name`: `carol`, `role`: `user`, `active`: null, `created`: `yesterday`,"
                     " `born`: null, `meta`: [1, 2.5, null], `pic`: ``, `score`: -2}");
    assert_true(json_object_is_type(json_object_object_get(row, "score"), json_type_double));
    /* Columns keep select order. */
    const char *order[] = {"id", "name", "role", "active", "created", "born", "meta", "pic", "score"};
    size_t k = 0;
    json_object_object_foreach(row, key, val) {
        (void)val;
        assert_string_equal(key, order[k++]);
    }
    brd_run_result_clear(&res);
    /* No rows: an empty data array. */
    expect_ok("user", "{`id`: 99}", "{`data`: []}");
}

static void expression_columns_infinities_and_big_integers(void **state)
{
    (void)state;
    /* Infinity has no JSON form: null.  int64 max stays exact; 0.1 prints short. */
    struct brd_run_result res;
    run("edge", "{}", &res);
    assert_int_equal(res.status, 0);
    assert_json(res.result, "{`data`: [{`inf`: null, `ninf`: null, `imax`: 9223372036854775807, `tenth`: 0.1, `d`: `x`}]}");
    assert_string_equal(brd_json_compact(res.result, NULL),
                        "{\"data\":[{\"inf\":null,\"ninf\":null,\"imax\":9223372036854775807,\"tenth\":0.1,\"d\":\"x\"}]}");
    brd_run_result_clear(&res);
}

static void text_that_is_not_utf8_is_an_error(void **state)
{
    (void)state;
    expect_fail("odd", "{}", BRD_E_DATASOURCE_ERROR, "not valid UTF-8");
}

static void pragma_functions_read_the_schema(void **state)
{
    (void)state;
    expect_ok("schema", "{}", "{`data`: [{`name`: `id`}, {`name`: `name`}]}");
}

/* ---- binding ------------------------------------------------------------------------------ */

static void values_are_bound_with_their_json_type(void **state)
{
    (void)state;
    expect_ok("echo", "{`v`: 7}", "{`data`: [{`t`: `integer`, `v`: 7, `bytes`: 1}]}");
    expect_ok("echo", "{`v`: 2.5}", "{`data`: [{`t`: `real`, `v`: 2.5, `bytes`: 3}]}");
    expect_ok("echo", "{`v`: `abc`}", "{`data`: [{`t`: `text`, `v`: `abc`, `bytes`: 3}]}");
    expect_ok("echo", "{`v`: true}", "{`data`: [{`t`: `integer`, `v`: 1, `bytes`: 1}]}");
    expect_ok("echo", "{`v`: {`a`: [1]}}", "{`data`: [{`t`: `text`, `v`: `{\\`a\\`:[1]}`, `bytes`: 9}]}");
    /* Not given and no default: NULL. */
    expect_ok("echo", "{}", "{`data`: [{`t`: `null`, `v`: null, `bytes`: null}]}");
    expect_ok("echo", "{`v`: null}", "{`data`: [{`t`: `null`, `v`: null, `bytes`: null}]}");
    /* A declared int converts a query-string value before binding. */
    expect_ok("user", "{`id`: `1`}", "{`data`: [{`id`: 1, `name`: `alice`, `role`: `admin`, `active`: true,"
              " `created`: `2026-12-02T14:05:00`, `born`: `1990-01-31`, `meta`: {`tags`: [`a`, `b`], `n`: 1},"
              " `pic`: `AP8Q`, `score`: 1.5}]}");
}

static void a_sql_node_maps_params_and_output_like_an_http_node(void **state)
{
    (void)state;
    expect_ok("lookup", "{`uid`: 1}", "{`user_id`: 1, `role`: `admin`}");
    expect_ok("lookup", "{`uid`: `2`}", "{`user_id`: 2, `role`: `user`}");
    expect_ok("pair", "{}", "{`a`: `alice`, `b`: `bob`}");
}

static void a_missing_required_param_is_PARAM_MISSING_400(void **state)
{
    (void)state;
    struct brd_run_result res;
    run("user", "{}", &res);
    assert_int_equal(res.status, -1);
    assert_int_equal(res.err.code, BRD_E_PARAM_MISSING);
    assert_int_equal(brd_code_http_status(res.err.code), 400);
    assert_string_equal(res.err.msg, "api user: required parameter 'id' has no value");
    assert_string_equal(res.err.node, "A");
    brd_run_result_clear(&res);
    expect_fail("user", "{`id`: `abc`}", BRD_E_BAD_REQUEST, "expected int");
}

static void injection_attempts_select_only_the_bound_value(void **state)
{
    (void)state;
    /* A declared int refuses SQL text outright. */
    expect_fail("user", "{`id`: `1 OR 1=1`}", BRD_E_BAD_REQUEST, "expected int");
    /* As a string it is one value that equals no id. */
    expect_ok("by_sid", "{`id`: `1 OR 1=1`}", "{`data`: []}");
    expect_ok("by_sid", "{`id`: `1`}", "{`data`: [{`id`: 1}]}");
    expect_ok("by_name", "{`name`: `' OR '1'='1`}", "{`data`: []}");
    expect_ok("by_name", "{`name`: `'; DROP TABLE users; --`}", "{`data`: []}");
    expect_ok("by_name", "{`name`: `alice' --`}", "{`data`: []}");
    expect_ok("by_name", "{`name`: `bob`}", "{`data`: [{`id`: 2, `name`: `bob`}]}");

    /* A NUL byte inside the value: bound whole (7 bytes), matching nothing. */
    expect_ok("by_name", "{`name`: `alice\\u0000' OR 1=1 --`}", "{`data`: []}");
    struct brd_run_result res;
    run("echo", "{`v`: `alice\\u0000x`}", &res);
    assert_int_equal(res.status, 0);
    struct json_object *row = json_object_array_get_idx(json_object_object_get(res.result, "data"), 0);
    assert_int_equal(json_object_get_int(json_object_object_get(row, "bytes")), 7);
    assert_int_equal(json_object_get_string_len(json_object_object_get(row, "v")), 7);
    assert_memory_equal(json_object_get_string(json_object_object_get(row, "v")), "alice\0x", 7);
    brd_run_result_clear(&res);

    /* A 1 MB string: bound, measured, matching nothing. */
    size_t n = 1u << 20;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, 'a', n);
    memcpy(big, "'; DROP TABLE users; --", 23);
    big[n] = '\0';
    struct json_object *in = json_object_new_object();
    brd_json_add(in, "name", json_object_new_string(big));
    run_in("by_name", in, false, &res);
    assert_int_equal(res.status, 0);
    assert_json(res.result, "{`data`: []}");
    brd_run_result_clear(&res);
    in = json_object_new_object();
    brd_json_add(in, "v", json_object_new_string(big));
    run_in("echo", in, false, &res);
    assert_int_equal(res.status, 0);
    row = json_object_array_get_idx(json_object_object_get(res.result, "data"), 0);
    assert_int_equal(json_object_get_int(json_object_object_get(row, "bytes")), (int)n);
    brd_run_result_clear(&res);
    free(big);

    /* The table is intact. */
    expect_ok("count", "{}", "{`data`: [{`n`: 3}]}");
    assert_int_equal(sql_count(app_db, "SELECT count(*) FROM users"), 3);
}

/* ---- max_rows ------------------------------------------------------------------------------- */

static void more_than_max_rows_is_an_error_never_a_truncation(void **state)
{
    (void)state;
    /* 1001 rows, default max_rows 1000. */
    expect_fail("all_big", "{}", BRD_E_DATASOURCE_ERROR, "more than max_rows=1000 rows");
    assert_int_equal(brd_code_http_status(BRD_E_DATASOURCE_ERROR), 502);
    struct brd_run_result res;
    run("some_big", "{`n`: 1000}", &res);
    assert_int_equal(res.status, 0);
    assert_int_equal(json_object_array_length(json_object_object_get(res.result, "data")), 1000);
    brd_run_result_clear(&res);
    expect_fail("some_big", "{`n`: 1001}", BRD_E_DATASOURCE_ERROR, "max_rows=1000");
    /* on_error recovers from it like from any failure. */
    expect_ok("recover", "{}", "{`failed`: true}");
}

/* ---- writes --------------------------------------------------------------------------------- */

static void writes_give_returning_rows_and_affected_rows(void **state)
{
    (void)state;
    expect_ok("add", "{`name`: `dave`}", "{`data`: [{`id`: 4, `name`: `dave`, `role`: `user`}], `affected_rows`: 1}");
    expect_ok("add", "{`name`: `erin`, `role`: `guest`}",
              "{`data`: [{`id`: 5, `name`: `erin`, `role`: `guest`}], `affected_rows`: 1}");
    assert_int_equal(sql_count(rw_db, "SELECT count(*) FROM users"), 5);
    /* Without RETURNING: no rows, the count of changed ones. */
    expect_ok("promote", "{`role`: `guest`}", "{`data`: [], `affected_rows`: 1}");
    expect_ok("promote", "{`role`: `nobody`}", "{`data`: [], `affected_rows`: 0}");

    /* The trace shows the statement, the bound values and the counts. */
    struct brd_run_result res;
    run_in("promote", parse("{`role`: `user`}"), true, &res);
    assert_int_equal(res.status, 0);
    struct json_object *t = json_object_array_get_idx(res.trace, 1);
    assert_json(json_object_object_get(t, "input"),
                "{`datasource`: `rw`, `sql`: `UPDATE users SET role = 'staff' WHERE role = :role`,"
                " `params`: {`role`: `user`}}");
    assert_int_equal(json_object_get_int(json_object_object_get(t, "rows")), 0);
    assert_int_equal(json_object_get_int(json_object_object_get(t, "affected_rows")), 3);
    brd_run_result_clear(&res);
}

static void a_failed_write_changes_nothing(void **state)
{
    (void)state;
    sql_exec(rw_db, "UPDATE users SET role = 'temp' WHERE id IN (1, 2)");
    /* Two rows RETURNed, max_rows 1: an error, and the update is rolled back. */
    expect_fail("promote_few", "{`role`: `temp`}", BRD_E_DATASOURCE_ERROR, "max_rows=1");
    assert_int_equal(sql_count(rw_db, "SELECT count(*) FROM users WHERE role = 'temp'"), 2);
    assert_int_equal(sql_count(rw_db, "SELECT count(*) FROM users WHERE role = 'boss'"), 0);
    /* A constraint error is a DATASOURCE_ERROR with SQLite's message. */
    expect_fail("add", "{`name`: null}", BRD_E_PARAM_MISSING, "required parameter 'name'");
    expect_fail("add_slow", "{}", BRD_E_DATASOURCE_ERROR, "NOT NULL constraint failed: users.name");
    assert_int_equal(sql_count(rw_db, "SELECT count(*) FROM users WHERE name IS NULL"), 0);
    /* The connection is still good afterwards. */
    expect_ok("rw_count", "{`role`: `temp`}", "{`data`: [{`n`: 2}]}");
}

static void a_read_only_connection_refuses_writes_at_run_time(void **state)
{
    (void)state;
    /* The load check (sqlite3_stmt_readonly) stops every write it can see;
     * behind it the connection itself is opened read-only.  Here a write is
     * handed straight to the driver on a read-only source's connection. */
    const struct brd_api *user = NULL;
    for (size_t i = 0; i < svc->napis; i++)
        if (!strcmp(svc->apis[i]->name, "user"))
            user = svc->apis[i];
    assert_non_null(user);
    const struct brd_ds *ds = user->sql->ds;
    assert_false(ds->write);
    struct brd_sql_conn *c = NULL;
    struct brd_error err;
    assert_int_equal(ds->driver->connect(ds, &c, &err), 0);

    struct brd_api fake = *user;
    struct brd_sql_api s = *user->sql;
    s.sql = "DELETE FROM users";
    s.sql_len = strlen(s.sql);
    s.sql_hash = 1;
    s.nbind = 0;
    fake.sql = &s;
    struct brd_sql_exec ex = {&fake, NULL, brd_now_us() + 1000000};
    struct brd_sql_outcome out;
    assert_int_equal(ds->driver->run(c, &ex, &out, &err), -1);
    assert_int_equal(err.code, BRD_E_DATASOURCE_ERROR);
    assert_non_null(strstr(err.msg, "readonly"));
    /* Even with the write path taken (its own transaction). */
    s.writes = true;
    s.sql = "DELETE FROM users WHERE 1";
    s.sql_len = strlen(s.sql);
    s.sql_hash = 2;
    assert_int_equal(ds->driver->run(c, &ex, &out, &err), -1);
    assert_int_equal(err.code, BRD_E_DATASOURCE_ERROR);
    ds->driver->disconnect(c);
    assert_int_equal(sql_count(app_db, "SELECT count(*) FROM users"), 3);
}

/* ---- timeouts ------------------------------------------------------------------------------- */

static void a_statement_past_timeout_ms_is_DATASOURCE_TIMEOUT(void **state)
{
    (void)state;
    int64_t t0 = brd_now_us();
    expect_fail("spin", "{}", BRD_E_DATASOURCE_TIMEOUT, "did not finish within timeout_ms=100");
    int64_t took = brd_now_us() - t0;
    assert_true(took >= 100000);
    assert_true(took < 1000000);
    assert_int_equal(brd_code_http_status(BRD_E_DATASOURCE_TIMEOUT), 504);
    /* The connection works afterwards. */
    expect_ok("count", "{}", "{`data`: [{`n`: 3}]}");
}

static void node_budget_and_workflow_deadline_bound_a_statement(void **state)
{
    (void)state;
    int64_t t0 = brd_now_us();
    expect_fail("node_budget", "{}", BRD_E_DATASOURCE_TIMEOUT, "the node's time budget ran out");
    assert_true(brd_now_us() - t0 < 1000000);
    t0 = brd_now_us();
    expect_fail("wf_deadline", "{}", BRD_E_TIMEOUT, "the workflow's deadline passed");
    assert_true(brd_now_us() - t0 < 1000000);
}

static void a_write_waits_for_a_lock_until_its_timeout(void **state)
{
    (void)state;
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(rw_db, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    int64_t t0 = brd_now_us();
    expect_fail("add_slow", "{`name`: `zed`}", BRD_E_DATASOURCE_TIMEOUT, "locked");
    int64_t took = brd_now_us() - t0;
    assert_true(took >= 140000 && took < 1000000);
    assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    expect_ok("add_slow", "{`name`: `zed`}", "{`data`: [], `affected_rows`: 1}");
}

/* ---- the trace ------------------------------------------------------------------------------ */

static void the_trace_shows_statement_values_rows_and_no_secret(void **state)
{
    (void)state;
    struct brd_run_result res;
    run_in("secret", parse("{}"), true, &res);
    assert_int_equal(res.status, 0);
    assert_json(res.result, "{`data`: [{`ok`: 1}]}");
    struct json_object *t = json_object_array_get_idx(res.trace, 1);
    assert_json(json_object_object_get(t, "input"),
                "{`datasource`: `app`, `sql`: `SELECT :token = 'hunter2' AS ok`, `params`: {`token`: `<redacted>`}}");
    assert_int_equal(json_object_get_int(json_object_object_get(t, "rows")), 1);
    assert_null(json_object_object_get(t, "affected_rows"));
    assert_null(strstr(brd_json_compact(json_object_object_get(t, "input"), NULL), "hunter2\""));
    assert_null(strstr(brd_json_compact(t, NULL), app_db));
    brd_run_result_clear(&res);
}

/* ---- load errors ----------------------------------------------------------------------------- */

static int nbad;

/* A fresh service with datasources/app.json over the fixture database plus
 * files (pairs of path, text, NULL-terminated): loading must fail with a
 * problem containing want (and naming file_named). */
static void expect_load_error(const char *want, const char *file_named, ...)
{
    char bad[128];
    snprintf(bad, sizeof bad, "%s-bad%d", dir, ++nbad);
    mkdir(bad, 0700);
    char ds[256];
    snprintf(ds, sizeof ds, "{`type`: `sqlite`, `path`: `%s`}", app_db);
    put_in(bad, "datasources/app.json", ds);
    va_list ap;
    va_start(ap, file_named);
    const char *rel;
    while ((rel = va_arg(ap, const char *))) {
        const char *text = va_arg(ap, const char *);
        put_in(bad, rel, text);
    }
    va_end(ap);
    struct brd_service *s = NULL;
    struct brd_diags d = {0};
    int rc = brd_service_load(bad, NULL, &s, &d);
    bool found = false;
    for (size_t i = 0; i < d.count; i++)
        if (strstr(d.msgs[i], want) && strstr(d.msgs[i], file_named))
            found = true;
    if (rc == 0 || !found) {
        for (size_t i = 0; i < d.count; i++)
            print_message("  got: %s\n", d.msgs[i]);
        fail_msg("expected a load error with \"%s\" naming %s", want, file_named);
    }
    brd_diags_free(&d);
    brd_service_free(s);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", bad);
    assert_int_equal(system(cmd), 0);
}

#define SQLAPI(body) "{`type`: `sql`, `datasource`: `app`, " body "}"

static void statements_are_prepared_at_load(void **state)
{
    (void)state;
    expect_load_error("sql: near \"SELEC\": syntax error", "apis/a.json", "apis/a.json", SQLAPI("`sql`: `SELEC 1`"),
                      NULL);
    expect_load_error("no such table: nope", "apis/a.json", "apis/a.json", SQLAPI("`sql`: `SELECT * FROM nope`"),
                      NULL);
    expect_load_error("no such column: nope", "apis/a.json", "apis/a.json",
                      SQLAPI("`sql`: `SELECT nope FROM users`"), NULL);
    expect_load_error("only one statement is allowed", "apis/a.json", "apis/a.json",
                      SQLAPI("`sql`: `SELECT 1; DELETE FROM users`"), NULL);
    expect_load_error("no statement", "apis/a.json", "apis/a.json", SQLAPI("`sql`: `-- nothing`"), NULL);
    expect_load_error("sql: missing", "apis/a.json", "apis/a.json", SQLAPI("`params`: {}"), NULL);
    expect_load_error("two columns named \"id\"", "apis/a.json", "apis/a.json",
                      SQLAPI("`sql`: `SELECT u.id, v.id FROM users u, users v`"), NULL);
}

static void placeholders_and_params_must_match(void **state)
{
    (void)state;
    expect_load_error("sql: :id is not declared in params", "apis/a.json", "apis/a.json",
                      SQLAPI("`sql`: `SELECT * FROM users WHERE id = :id`"), NULL);
    expect_load_error("params.x: declared but not used in sql", "apis/a.json", "apis/a.json",
                      SQLAPI("`sql`: `SELECT 1 AS one`, `params`: {`x`: {`type`: `int`}}"), NULL);
    expect_load_error("placeholder 1 is not of the form :name", "apis/a.json", "apis/a.json",
                      SQLAPI("`sql`: `SELECT * FROM users WHERE id = ?`"), NULL);
    expect_load_error("placeholder 1 is not of the form :name", "apis/a.json", "apis/a.json",
                      SQLAPI("`sql`: `SELECT * FROM users WHERE id = @id`, `params`: {`id`: {}}"), NULL);
    expect_load_error("\"in\" does not apply to a SQL API's parameters", "apis/a.json", "apis/a.json",
                      SQLAPI("`sql`: `SELECT :id AS x`, `params`: {`id`: {`in`: `query`}}"), NULL);
    expect_load_error("may only use A-Z a-z 0-9 _", "apis/a.json", "apis/a.json",
                      SQLAPI("`sql`: `SELECT 1 AS x`, `params`: {`a-b`: {}}"), NULL);
}

static void connection_state_and_writes_are_guarded_at_load(void **state)
{
    (void)state;
    expect_load_error("the statement changes data, but data source \"app\" is read-only", "apis/a.json",
                      "apis/a.json", SQLAPI("`sql`: `DELETE FROM users`"), NULL);
    expect_load_error("read-only", "apis/a.json", "apis/a.json",
                      SQLAPI("`sql`: `INSERT INTO users(name) VALUES (:n) RETURNING id`, `params`: {`n`: {}}"), NULL);
    expect_load_error("transaction control", "apis/a.json", "apis/a.json", SQLAPI("`sql`: `BEGIN`"), NULL);
    expect_load_error("transaction control", "apis/a.json", "apis/a.json", SQLAPI("`sql`: `SAVEPOINT x`"), NULL);
    expect_load_error("ATTACH and DETACH are not allowed", "apis/a.json", "apis/a.json",
                      SQLAPI("`sql`: `ATTACH DATABASE '/tmp/x.db' AS x`"), NULL);
    expect_load_error("this PRAGMA is not allowed", "apis/a.json", "apis/a.json",
                      SQLAPI("`sql`: `PRAGMA query_only = 0`"), NULL);
}

static void api_fields_are_checked(void **state)
{
    (void)state;
    expect_load_error("unknown field \"url\" (a SQL API has", "apis/a.json", "apis/a.json",
                      SQLAPI("`sql`: `SELECT 1 AS x`, `url`: `http://x/`"), NULL);
    expect_load_error("unknown field \"colour\"", "apis/a.json", "apis/a.json",
                      SQLAPI("`sql`: `SELECT 1 AS x`, `colour`: `red`"), NULL);
    expect_load_error("needs \"type\": \"sql\"", "apis/a.json", "apis/a.json",
                      "{`datasource`: `app`, `sql`: `SELECT 1`}", NULL);
    expect_load_error("type: unknown API type \"graphql\"", "apis/a.json", "apis/a.json", "{`type`: `graphql`}",
                      NULL);
    expect_load_error("unknown data source \"nope\"", "apis/a.json", "apis/a.json",
                      "{`type`: `sql`, `datasource`: `nope`, `sql`: `SELECT 1`}", NULL);
    expect_load_error("datasource: missing", "apis/a.json", "apis/a.json", "{`type`: `sql`, `sql`: `SELECT 1`}",
                      NULL);
    expect_load_error("max_rows: must be a whole number from 1", "apis/a.json", "apis/a.json",
                      SQLAPI("`sql`: `SELECT 1 AS x`, `max_rows`: 0"), NULL);
    expect_load_error("timeout_ms", "apis/a.json", "apis/a.json", SQLAPI("`sql`: `SELECT 1 AS x`, `timeout_ms`: -1"),
                      NULL);
    expect_load_error("filter: unknown function \"nope\"", "apis/a.json", "apis/a.json",
                      SQLAPI("`sql`: `SELECT 1 AS x`, `filter`: `nope`"), NULL);
}

static void datasource_fields_are_checked(void **state)
{
    (void)state;
    expect_load_error("unknown field \"host\"", "datasources/d.json", "datasources/d.json",
                      "{`type`: `sqlite`, `path`: `x.db`, `host`: `h`}", NULL);
    expect_load_error("path: missing", "datasources/d.json", "datasources/d.json", "{`type`: `sqlite`}", NULL);
    expect_load_error("path: cannot open \"nope.db\"", "datasources/d.json", "datasources/d.json",
                      "{`path`: `nope.db`}", NULL);
    expect_load_error("write: must be true or false", "datasources/d.json", "datasources/d.json",
                      "{`path`: `nope.db`, `write`: `yes`}", NULL);
    expect_load_error("environment variable BRD_TEST_SQL_NOPE is not set", "datasources/d.json",
                      "datasources/d.json", "{`path`: `${env.BRD_TEST_SQL_NOPE}`}", NULL);
    expect_load_error("dsn: missing", "datasources/d.json", "datasources/d.json", "{`type`: `postgresql`}", NULL);
    expect_load_error("dsn: not a valid libpq connection string", "datasources/d.json", "datasources/d.json",
                      "{`type`: `postgresql`, `dsn`: `host=h password='pw`}", NULL);
    expect_load_error("unknown field \"host\"", "datasources/d.json", "datasources/d.json",
                      "{`type`: `postgresql`, `dsn`: `host=h`, `host`: `h`}", NULL);
    expect_load_error("user: missing", "datasources/d.json", "datasources/d.json",
                      "{`type`: `mysql`, `host`: `127.0.0.1`}", NULL);
    expect_load_error("exactly one of host", "datasources/d.json", "datasources/d.json",
                      "{`type`: `mysql`, `host`: `h`, `socket`: `/s`, `user`: `u`}", NULL);
    expect_load_error("port: only with host", "datasources/d.json", "datasources/d.json",
                      "{`type`: `mysql`, `socket`: `/s`, `port`: 3306, `user`: `u`}", NULL);
    expect_load_error("unknown field \"dsn\"", "datasources/d.json", "datasources/d.json",
                      "{`type`: `mysql`, `socket`: `/s`, `user`: `u`, `dsn`: `x`}", NULL);
    expect_load_error("unknown type \"oracle\"", "datasources/d.json", "datasources/d.json", "{`type`: `oracle`}",
                      NULL);
    expect_load_error("is not a usable SQLite database", "datasources/d.json", "datasources/d.json",
                      "{`path`: `notadb.txt`}", "notadb.txt", "this is not a database file, just text.........",
                      NULL);
    expect_load_error("must be a JSON object", "datasources/d.json", "datasources/d.json", "[1]", NULL);
}

static void a_database_gone_at_run_time_is_DATASOURCE_ERROR(void **state)
{
    (void)state;
    char other[128], db[192];
    snprintf(other, sizeof other, "%s-gone", dir);
    mkdir(other, 0700);
    snprintf(db, sizeof db, "%s/gone.db", other);
    sql_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES (1);");
    put_in(other, "datasources/g.json", "{`path`: `gone.db`}");
    put_in(other, "apis/q.json", "{`type`: `sql`, `datasource`: `g`, `sql`: `SELECT x FROM t`}");
    put_in(other, "workflows/w.json", "{`nodes`: [{`id`: `A`, `type`: `api`, `api`: `q`}],"
                                      " `edges`: [[`START`, `A`], [`A`, `END`]]}");
    struct brd_service *s = NULL;
    struct brd_diags d = {0};
    assert_int_equal(brd_service_load(other, NULL, &s, &d), 0);
    unlink(db);
    struct brd_engine *e = NULL;
    struct brd_error err;
    assert_int_equal(brd_engine_new(&e, &err), 0);
    struct brd_run_result res;
    struct json_object *in = json_object_new_object();
    brd_engine_run(e, s, brd_service_workflow(s, "w"), in, NULL, &res);
    json_object_put(in);
    assert_int_equal(res.status, -1);
    assert_int_equal(res.err.code, BRD_E_DATASOURCE_ERROR);
    assert_non_null(strstr(res.err.msg, "api q: data source g: cannot open"));
    brd_run_result_clear(&res);
    /* Back again: the next request opens it. */
    sql_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES (2);");
    in = json_object_new_object();
    brd_engine_run(e, s, brd_service_workflow(s, "w"), in, NULL, &res);
    json_object_put(in);
    assert_int_equal(res.status, 0);
    assert_json(res.result, "{`data`: [{`x`: 2}]}");
    brd_run_result_clear(&res);
    brd_engine_free(e);
    brd_service_free(s);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", other);
    assert_int_equal(system(cmd), 0);
}

static void error_codes_have_their_names(void **state)
{
    (void)state;
    assert_string_equal(brd_code_name(BRD_E_DATASOURCE_ERROR), "DATASOURCE_ERROR");
    assert_string_equal(brd_code_name(BRD_E_DATASOURCE_TIMEOUT), "DATASOURCE_TIMEOUT");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_type_maps_as_the_spec_says),
        cmocka_unit_test(expression_columns_infinities_and_big_integers),
        cmocka_unit_test(text_that_is_not_utf8_is_an_error),
        cmocka_unit_test(pragma_functions_read_the_schema),
        cmocka_unit_test(values_are_bound_with_their_json_type),
        cmocka_unit_test(a_sql_node_maps_params_and_output_like_an_http_node),
        cmocka_unit_test(a_missing_required_param_is_PARAM_MISSING_400),
        cmocka_unit_test(injection_attempts_select_only_the_bound_value),
        cmocka_unit_test(more_than_max_rows_is_an_error_never_a_truncation),
        cmocka_unit_test(writes_give_returning_rows_and_affected_rows),
        cmocka_unit_test(a_failed_write_changes_nothing),
        cmocka_unit_test(a_read_only_connection_refuses_writes_at_run_time),
        cmocka_unit_test(a_statement_past_timeout_ms_is_DATASOURCE_TIMEOUT),
        cmocka_unit_test(node_budget_and_workflow_deadline_bound_a_statement),
        cmocka_unit_test(a_write_waits_for_a_lock_until_its_timeout),
        cmocka_unit_test(the_trace_shows_statement_values_rows_and_no_secret),
        cmocka_unit_test(statements_are_prepared_at_load),
        cmocka_unit_test(placeholders_and_params_must_match),
        cmocka_unit_test(connection_state_and_writes_are_guarded_at_load),
        cmocka_unit_test(api_fields_are_checked),
        cmocka_unit_test(datasource_fields_are_checked),
        cmocka_unit_test(a_database_gone_at_run_time_is_DATASOURCE_ERROR),
        cmocka_unit_test(error_codes_have_their_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
