/* test_api.c — loading registered API definitions from a temporary service
 * directory: good ones, every validation rule, ${env.X} substitution. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "api.h"
#include "envsubst.h"

static char dir[64];

static int make_dir(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/braid-test-api-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    char apis[128];
    snprintf(apis, sizeof apis, "%s/apis", dir);
    setenv("BRD_TEST_API_TOKEN", "s3cret", 1);
    setenv("BRD_TEST_API_HOST", "127.0.0.1:8081", 1);
    setenv("BRD_TEST_API_NL", "a\nb", 1);
    unsetenv("BRD_TEST_API_NOPE");
    return mkdir(apis, 0700);
}

static int remove_dir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_api(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/apis/%s.json", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static bool has_diag(const struct brd_diags *d, const char *text)
{
    for (size_t i = 0; i < d->count; i++)
        if (strstr(d->msgs[i], text))
            return true;
    return false;
}

static struct brd_api *load_ok(const char *name, const char *text)
{
    write_api(name, text);
    struct brd_api *api = NULL;
    struct brd_diags d = {0};
    int rc = brd_api_load(dir, name, &api, &d);
    for (size_t i = 0; i < d.count; i++)
        print_message("unexpected: %s\n", d.msgs[i]);
    assert_int_equal(rc, 0);
    assert_int_equal(d.count, 0);
    assert_non_null(api);
    brd_diags_free(&d);
    return api;
}

/* Loads a bad definition; every message in want must be among the
 * diagnostics, and there must be exactly nwant of them. */
static void load_bad(const char *text, const char *const *want, size_t nwant)
{
    write_api("bad", text);
    struct brd_api *api = (struct brd_api *)1;
    struct brd_diags d = {0};
    assert_int_equal(brd_api_load(dir, "bad", &api, &d), -1);
    assert_null(api);
    bool ok = d.count == nwant;
    for (size_t i = 0; i < nwant; i++)
        ok = ok && has_diag(&d, want[i]);
    if (!ok) {
        print_message("definition: %s\n", text);
        for (size_t i = 0; i < d.count; i++)
            print_message("got: %s\n", d.msgs[i]);
        for (size_t i = 0; i < nwant; i++)
            print_message("want: %s\n", want[i]);
        fail();
    }
    brd_diags_free(&d);
}

#define BAD(text, ...)                                                          \
    do {                                                                        \
        const char *const want_[] = {__VA_ARGS__};                              \
        load_bad(text, want_, sizeof want_ / sizeof *want_);                    \
    } while (0)

static void loads_the_spec_example(void **state)
{
    (void)state;
    struct brd_api *api = load_ok("get_user",
        "{\"url\": \"http://127.0.0.1:8081/users/{id}\", \"method\": \"GET\","
        " \"params\": {\"id\": {\"in\": \"path\", \"type\": \"int\", \"required\": true},"
        "              \"fields\": {\"in\": \"query\", \"type\": \"string\", \"default\": \"all\"}},"
        " \"headers\": {\"X-Token\": \"${env.BRD_TEST_API_TOKEN}\", \"X-Plain\": \"v\"},"
        " \"timeout_ms\": 2000,"
        " \"retry\": {\"attempts\": 3, \"backoff_ms\": 100, \"on\": [\"connect\", \"timeout\", \"5xx\"]},"
        " \"filter\": \"normalize_user\"}");
    assert_string_equal(api->name, "get_user");
    assert_string_equal(api->file, "apis/get_user.json");
    assert_string_equal(api->url, "http://127.0.0.1:8081/users/{id}");
    assert_null(api->url_display);
    assert_int_equal(api->method, BRD_GET);
    assert_int_equal(api->params.count, 2);
    assert_int_equal(api->params.items[0].in, BRD_IN_PATH);
    assert_int_equal(api->params.items[0].type, BRD_PT_INT);
    assert_int_equal(api->params.items[1].in, BRD_IN_QUERY);
    assert_string_equal(json_object_get_string(api->params.items[1].def), "all");
    assert_int_equal(api->nheaders, 2);
    assert_string_equal(api->headers[0].name, "X-Token");
    assert_string_equal(api->headers[0].value, "s3cret");
    assert_true(api->headers[0].secret);
    assert_string_equal(api->headers[1].value, "v");
    assert_false(api->headers[1].secret);
    assert_int_equal(api->timeout_ms, 2000);
    assert_int_equal(api->retry_attempts, 3);
    assert_int_equal(api->retry_backoff_ms, 100);
    assert_int_equal(api->retry_on, BRD_RETRY_CONNECT | BRD_RETRY_TIMEOUT | BRD_RETRY_5XX);
    assert_string_equal(api->filter, "normalize_user");
    brd_api_free(api);
}

static void defaults(void **state)
{
    (void)state;
    struct brd_api *api = load_ok("plain", "{\"url\": \"https://example.com/x?fixed=1\"}");
    assert_int_equal(api->method, BRD_GET);
    assert_int_equal(api->timeout_ms, 10000);
    assert_int_equal(api->retry_attempts, 1);
    assert_int_equal(api->retry_backoff_ms, 100);
    assert_int_equal(api->retry_on, BRD_RETRY_CONNECT | BRD_RETRY_TIMEOUT | BRD_RETRY_5XX);
    assert_null(api->filter);
    assert_int_equal(api->nheaders, 0);
    assert_int_equal(api->params.count, 0);
    brd_api_free(api);

    /* "retry" without "attempts" means 3 (Step Functions' default); "on" narrows. */
    api = load_ok("r", "{\"url\": \"http://h/\", \"retry\": {\"on\": [\"5xx\"], \"backoff_ms\": 0}}");
    assert_int_equal(api->retry_attempts, 3);
    assert_int_equal(api->retry_backoff_ms, 0);
    assert_int_equal(api->retry_on, BRD_RETRY_5XX);
    brd_api_free(api);
    api = load_ok("r", "{\"url\": \"http://h/\", \"retry\": {\"attempts\": 2, \"on\": []}}");
    assert_int_equal(api->retry_on, 0);
    brd_api_free(api);
}

static void default_param_location_follows_the_method(void **state)
{
    (void)state;
    static const struct {
        const char *method;
        enum brd_method m;
        enum brd_pin in;
    } cases[] = {{"GET", BRD_GET, BRD_IN_QUERY},   {"DELETE", BRD_DELETE, BRD_IN_QUERY},
                 {"POST", BRD_POST, BRD_IN_BODY},  {"PUT", BRD_PUT, BRD_IN_BODY},
                 {"PATCH", BRD_PATCH, BRD_IN_BODY}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char text[256];
        snprintf(text, sizeof text, "{\"method\": \"%s\", \"url\": \"http://h/\", \"params\": {\"p\": {}}}",
                 cases[i].method);
        struct brd_api *api = load_ok("m", text);
        assert_int_equal(api->method, cases[i].m);
        assert_int_equal(api->params.items[0].in, cases[i].in);
        assert_string_equal(brd_method_name(api->method), cases[i].method);
        brd_api_free(api);
    }
}

static void env_substitution(void **state)
{
    (void)state;
    struct brd_api *api = load_ok("e",
        "{\"url\": \"http://${env.BRD_TEST_API_HOST}/u/{id}?k=%7Blit%7D\","
        " \"params\": {\"id\": {\"in\": \"path\", \"required\": true}},"
        " \"headers\": {\"X-A\": \"Bearer ${env.BRD_TEST_API_TOKEN}!\", \"X-B\": \"$${not env}\"}}");
    assert_string_equal(api->url, "http://127.0.0.1:8081/u/{id}?k=%7Blit%7D");
    assert_string_equal(api->url_display, "http://${env.BRD_TEST_API_HOST}/u/{id}?k=%7Blit%7D");
    assert_string_equal(api->headers[0].value, "Bearer s3cret!");
    assert_true(api->headers[0].secret);
    assert_string_equal(api->headers[1].value, "${not env}");
    assert_false(api->headers[1].secret);
    brd_api_free(api);

    char *out;
    bool used;
    char msg[128];
    assert_int_equal(brd_env_subst("a${env.BRD_TEST_API_NOPE}", &out, &used, msg, sizeof msg), -1);
    assert_string_equal(msg, "environment variable BRD_TEST_API_NOPE is not set");
    assert_int_equal(brd_env_subst("${START.x}", &out, &used, msg, sizeof msg), -1);
    assert_int_equal(brd_env_subst("${env.A", &out, &used, msg, sizeof msg), -1);
    assert_int_equal(brd_env_subst("${env.1A}", &out, &used, msg, sizeof msg), -1);
    assert_int_equal(brd_env_subst("plain $ text {x}", &out, &used, msg, sizeof msg), 0);
    assert_string_equal(out, "plain $ text {x}");
    assert_false(used);
    free(out);
}

static void missing_environment_variable_is_a_load_error(void **state)
{
    (void)state;
    BAD("{\"url\": \"http://h/${env.BRD_TEST_API_NOPE}\"}",
        "apis/bad.json: url: environment variable BRD_TEST_API_NOPE is not set");
    BAD("{\"url\": \"http://h/\", \"headers\": {\"X-Token\": \"${env.BRD_TEST_API_NOPE}\"}}",
        "apis/bad.json: headers.X-Token: environment variable BRD_TEST_API_NOPE is not set");
    BAD("{\"url\": \"http://h/\", \"params\": {\"k\": {\"default\": \"${env.BRD_TEST_API_NOPE}\"}}}",
        "apis/bad.json: params.k: default: environment variable BRD_TEST_API_NOPE is not set");
    BAD("{\"url\": \"http://h/${START.uid}\"}", "apis/bad.json: url: only ${env.NAME} can be used here");
}

static void validation_rules(void **state)
{
    (void)state;
    BAD("{\"url\": \"http://h/\", \"foo\": 1}", "apis/bad.json: unknown field \"foo\"");
    BAD("{\"url\": \"http://h/\", \"method\": \"FETCH\"}", "apis/bad.json: method: unknown method \"FETCH\"");
    BAD("{\"url\": \"http://h/\", \"method\": \"get\"}", "apis/bad.json: method: unknown method \"get\"");
    BAD("{\"method\": \"GET\"}", "apis/bad.json: url: missing");
    BAD("{\"url\": 5}", "apis/bad.json: url: must be a string");
    BAD("{\"url\": \"ftp://h/x\"}", "apis/bad.json: url: must start with http:// or https://");
    BAD("{\"url\": \"file:///etc/passwd\"}", "apis/bad.json: url: must start with http:// or https://");
    BAD("{\"url\": \"http:///x\"}", "apis/bad.json: url: no host");
    BAD("{\"url\": \"http://h/a b\"}", "apis/bad.json: url: contains a space or control character");
    BAD("{\"url\": \"http://h/x#frag\"}", "apis/bad.json: url: a fragment");
    BAD("{\"url\": \"http://h:99999/x\"}", "apis/bad.json: url: not a valid URL");
    BAD("{\"url\": \"http://h/users/{id}\"}", "apis/bad.json: url: {id} is not a declared parameter with \"in\": \"path\"");
    BAD("{\"url\": \"http://h/users/{id}\", \"params\": {\"id\": {\"in\": \"query\", \"required\": true}}}",
        "apis/bad.json: url: {id} is not a declared parameter with \"in\": \"path\"");
    BAD("{\"url\": \"http://h/users\", \"params\": {\"id\": {\"in\": \"path\", \"required\": true}}}",
        "apis/bad.json: params.id: a path parameter must appear in the url as {id}");
    BAD("{\"url\": \"http://h/{a\"}", "apis/bad.json: url: '{' without a matching '}'");
    BAD("{\"url\": \"http://h/a}\"}", "apis/bad.json: url: '}' without a matching '{'");
    BAD("{\"url\": \"http://h/{a b}\"}", "apis/bad.json: url: contains a space");
    BAD("{\"url\": \"http://h/{a.b}\"}", "apis/bad.json: url: \"{a.b}\" is not a placeholder");
    BAD("{\"url\": \"http://{id}/x\", \"params\": {\"id\": {\"in\": \"path\", \"required\": true}}}",
        "apis/bad.json: url: {placeholders} may only appear in the path or query");
    BAD("{\"url\": \"http://h/\", \"timeout_ms\": \"fast\"}", "apis/bad.json: timeout_ms: must be a whole number");
    BAD("{\"url\": \"http://h/\", \"timeout_ms\": 0}", "apis/bad.json: timeout_ms: must be from 1 to");
    BAD("{\"url\": \"http://h/\", \"timeout_ms\": 1.5}", "apis/bad.json: timeout_ms: must be a whole number");
    BAD("{\"url\": \"http://h/\", \"retry\": {\"on\": [\"4xx\"]}}",
        "apis/bad.json: retry.on: unknown condition \"4xx\"");
    BAD("{\"url\": \"http://h/\", \"retry\": {\"attempts\": 0}}", "apis/bad.json: retry.attempts: must be from 1 to 20");
    BAD("{\"url\": \"http://h/\", \"retry\": {\"backoff_ms\": -1}}", "apis/bad.json: retry.backoff_ms: must be from 0");
    BAD("{\"url\": \"http://h/\", \"retry\": {\"tries\": 2}}", "apis/bad.json: retry: unknown field \"tries\"");
    BAD("{\"url\": \"http://h/\", \"retry\": 3}", "apis/bad.json: retry: must be an object");
    BAD("{\"url\": \"http://h/\", \"retry\": {\"on\": \"5xx\"}}", "apis/bad.json: retry.on: must be an array");
    BAD("{\"url\": \"http://h/\", \"headers\": [1]}", "apis/bad.json: headers: must be an object");
    BAD("{\"url\": \"http://h/\", \"headers\": {\"X-A\": 1}}", "apis/bad.json: headers.X-A: must be a string");
    BAD("{\"url\": \"http://h/\", \"headers\": {\"Bad Name\": \"v\"}}",
        "apis/bad.json: headers: \"Bad Name\" is not a valid header name");
    BAD("{\"url\": \"http://h/\", \"headers\": {\"Content-Length\": \"5\"}}",
        "apis/bad.json: headers.Content-Length: set by Braid itself");
    BAD("{\"url\": \"http://h/\", \"headers\": {\"X-A\": \"a\\r\\nX-Evil: 1\"}}",
        "apis/bad.json: headers.X-A: the value contains a line break");
    BAD("{\"url\": \"http://h/\", \"headers\": {\"X-A\": \"${env.BRD_TEST_API_NL}\"}}",
        "apis/bad.json: headers.X-A: the value contains a line break or NUL (after ${env.X} substitution)");
    BAD("{\"url\": \"http://h/\", \"headers\": {\"X-A\": \"a\", \"x-a\": \"b\"}}",
        "apis/bad.json: headers.x-a: duplicate header");
    BAD("{\"url\": \"http://h/\", \"filter\": \"no such/name\"}", "apis/bad.json: filter: must be the name of a function");
    BAD("{\"url\": \"http://h/\", \"filter\": 1}", "apis/bad.json: filter: must be the name of a function");
    BAD("{\"url\": \"http://h/\", \"params\": {\"p\": {\"type\": \"int\", \"default\": \"x\"}}}",
        "apis/bad.json: params.p: default: expected int, got \"x\"");
    BAD("[1, 2]", "apis/bad.json: must be a JSON object, got array");
    BAD("{\"url\": \"http://h/\",}", "apis/bad.json: invalid JSON");
}

static void every_error_is_reported_at_once(void **state)
{
    (void)state;
    BAD("{\"url\": \"ftp://h/\", \"method\": \"FETCH\", \"timeout_ms\": -5, \"colour\": \"blue\","
        " \"retry\": {\"on\": [\"4xx\", \"sometimes\"]}, \"params\": {\"p\": {\"type\": \"str\"}}}",
        "apis/bad.json: method: unknown method \"FETCH\"", "apis/bad.json: timeout_ms: must be from 1",
        "apis/bad.json: unknown field \"colour\"", "apis/bad.json: retry.on: unknown condition \"4xx\"",
        "apis/bad.json: retry.on: unknown condition \"sometimes\"", "apis/bad.json: params.p: type: unknown type \"str\"",
        "apis/bad.json: url: must start with http:// or https://");
}

static void bad_names_and_missing_files(void **state)
{
    (void)state;
    struct brd_api *api = (struct brd_api *)1;
    struct brd_diags d = {0};
    assert_int_equal(brd_api_load(dir, "no_such_api", &api, &d), -1);
    assert_null(api);
    assert_int_equal(d.count, 1);
    assert_non_null(strstr(d.msgs[0], "apis/no_such_api.json: cannot open"));
    brd_diags_free(&d);
    assert_int_equal(brd_api_load(dir, "../etc", &api, &d), -1);
    assert_int_equal(d.count, 1);
    assert_non_null(strstr(d.msgs[0], "an API name must be"));
    brd_diags_free(&d);
    assert_int_equal(brd_api_load(dir, "", &api, &d), -1);
    brd_diags_free(&d);

    enum brd_method m;
    assert_int_equal(brd_method_parse("PATCH", &m), 0);
    assert_int_equal(m, BRD_PATCH);
    assert_int_equal(brd_method_parse("HEAD", &m), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loads_the_spec_example),
        cmocka_unit_test(defaults),
        cmocka_unit_test(default_param_location_follows_the_method),
        cmocka_unit_test(env_substitution),
        cmocka_unit_test(missing_environment_variable_is_a_load_error),
        cmocka_unit_test(validation_rules),
        cmocka_unit_test(every_error_is_reported_at_once),
        cmocka_unit_test(bad_names_and_missing_files),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
