/* test_request_map.c — runtime/request.c's mapping of FastCGI params onto
 * the request the engine sees (brd_request_map), driven with plain
 * "NAME=value" arrays as libfcgi hands them over, and the body overlay
 * (brd_request_overlay_body): routes, base path, 404/405/400/413,
 * REQUEST_URI and QUERY_STRING fallbacks, X-Request-Id, the trace switch,
 * CONTENT_LENGTH, over-long values. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "request.h"

/* ---- a service of four workflows, built in memory ------------------------------ */

static struct brd_workflow *wfs[4];
static struct brd_service service;

static struct brd_workflow *workflow(const char *name, const char *extra)
{
    char text[512];
    snprintf(text, sizeof text, "{%s\"nodes\": [], \"edges\": [[\"START\", \"END\"]]}", extra);
    struct json_object *root = NULL;
    struct brd_error err;
    assert_int_equal(brd_json_parse(text, strlen(text), &root, &err), 0);
    struct brd_workflow_env env = {NULL, 0, NULL, 0};
    struct brd_workflow *wf = NULL;
    struct brd_diags d = {0};
    if (brd_workflow_from_json(root, name, &env, &wf, &d) != 0)
        fail_msg("%s: %s", name, d.count ? d.msgs[0] : "?");
    brd_diags_free(&d);
    json_object_put(root);
    return wf;
}

static int setup(void **state)
{
    (void)state;
    wfs[0] = workflow("echo", "");                                    /* GET, POST */
    wfs[1] = workflow("postonly", "\"methods\": [\"POST\"], ");
    wfs[2] = workflow("root", "\"path\": \"/\", \"methods\": [\"GET\"], ");
    wfs[3] = workflow("all", "\"methods\": [\"GET\", \"POST\", \"PUT\", \"PATCH\", \"DELETE\"], ");
    service.workflows = wfs;
    service.nworkflows = 4;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 4; i++)
        brd_workflow_free(wfs[i]);
    return 0;
}

static struct brd_request_env env_of(const char *base_path, bool debug)
{
    struct brd_request_env env = {.service = &service, .base_path = base_path,
                                  .max_body = 1024, .debug = debug};
    return env;
}

struct mapped {
    int rc;
    struct brd_request_mapped m;
    struct brd_request_outcome out;
    struct brd_error err;
};

/* Maps the params (a NULL-terminated list of "NAME=value") with env. */
static void map_env(struct mapped *r, const struct brd_request_env *env, char **params)
{
    brd_error_clear(&r->err);
    r->rc = brd_request_map(env, params, &r->m, &r->out, &r->err);
}

#define MAP(r, ...)                                                                      \
    do {                                                                                 \
        char *params_[] = {__VA_ARGS__, NULL};                                           \
        struct brd_request_env env_ = env_of(NULL, false);                               \
        map_env((r), &env_, params_);                                                    \
    } while (0)

static void assert_json(struct json_object *got, const char *want)
{
    struct json_object *w = NULL;
    struct brd_error err;
    assert_int_equal(brd_json_parse(want, strlen(want), &w, &err), 0);
    if (!brd_json_equal(got, w))
        fail_msg("got %s, expected %s", brd_json_compact(got, NULL), want);
    json_object_put(w);
}

static void assert_fails(struct mapped *r, enum brd_code code, const char *part)
{
    if (r->rc == 0)
        fail_msg("mapped, expected %s", brd_code_name(code));
    assert_int_equal(r->rc, -1);
    if (r->err.code != code)
        fail_msg("got %s (%s), expected %s", brd_code_name(r->err.code), r->err.msg,
                 brd_code_name(code));
    if (part && !strstr(r->err.msg, part))
        fail_msg("message '%s' lacks '%s'", r->err.msg, part);
}

static bool hex32(const char *id)
{
    if (strlen(id) != 32)
        return false;
    for (const char *s = id; *s; s++)
        if (!strchr("0123456789abcdef", *s))
            return false;
    return true;
}

/* ---- routing ------------------------------------------------------------------------- */

static void get_with_a_query(void **state)
{
    (void)state;
    struct mapped r;
    MAP(&r, "REQUEST_METHOD=GET", "REQUEST_URI=/echo?a=1&b=x+y&a=2",
        "QUERY_STRING=a=1&b=x+y&a=2", "CONTENT_TYPE=application/json", "CONTENT_LENGTH=oops");
    assert_int_equal(r.rc, 0);
    assert_ptr_equal(r.m.wf, wfs[0]);
    assert_int_equal(r.m.method, BRD_GET);
    assert_false(r.m.wants_body);        /* a GET's body and its headers are ignored */
    assert_int_equal(r.m.content_length, -1);
    assert_null(r.m.content_type);
    assert_json(r.m.input, "{\"a\":[\"1\",\"2\"],\"b\":\"x y\"}");
    assert_string_equal(r.out.method, "GET");
    assert_string_equal(r.out.path, "/echo");
    assert_int_equal(r.out.workflow, 0);
    assert_string_equal(r.m.allow, "");
    brd_request_mapped_clear(&r.m);
    assert_null(r.m.input);
}

static void defaults_when_params_are_missing(void **state)
{
    (void)state;
    struct mapped r;
    char *none[] = {NULL};
    struct brd_request_env env = env_of(NULL, false);
    /* No method is GET, no URI is "/": the root workflow. */
    map_env(&r, &env, none);
    assert_int_equal(r.rc, 0);
    assert_ptr_equal(r.m.wf, wfs[2]);
    assert_string_equal(r.out.method, "GET");
    assert_string_equal(r.out.path, "/");
    assert_json(r.m.input, "{}");
    assert_true(hex32(r.out.request_id));
    brd_request_mapped_clear(&r.m);
    /* libfcgi gives a NULL array no params at all. */
    map_env(&r, &env, NULL);
    assert_int_equal(r.rc, 0);
    assert_ptr_equal(r.m.wf, wfs[2]);
    brd_request_mapped_clear(&r.m);
    MAP(&r, "REQUEST_METHOD=", "REQUEST_URI=");
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out.method, "GET");
    brd_request_mapped_clear(&r.m);
}

static void names_match_exactly(void **state)
{
    (void)state;
    struct mapped r;
    /* "REQUEST_URIX" is not REQUEST_URI, an entry without '=' is nothing,
     * and the first of two entries wins (as FCGX_GetParam reads them). */
    MAP(&r, "REQUEST_URIX=/postonly", "GARBAGE", "=x", "REQUEST_URI=/echo",
        "REQUEST_URI=/postonly");
    assert_int_equal(r.rc, 0);
    assert_ptr_equal(r.m.wf, wfs[0]);
    brd_request_mapped_clear(&r.m);
}

static void query_string_and_uri_fallbacks(void **state)
{
    (void)state;
    struct mapped r;
    /* Without QUERY_STRING, REQUEST_URI's query. */
    MAP(&r, "REQUEST_URI=/echo?k=v");
    assert_int_equal(r.rc, 0);
    assert_json(r.m.input, "{\"k\":\"v\"}");
    brd_request_mapped_clear(&r.m);
    /* QUERY_STRING wins, even empty. */
    MAP(&r, "REQUEST_URI=/echo?k=v", "QUERY_STRING=");
    assert_json(r.m.input, "{}");
    brd_request_mapped_clear(&r.m);
    /* Without REQUEST_URI, SCRIPT_NAME + PATH_INFO. */
    MAP(&r, "SCRIPT_NAME=/ec", "PATH_INFO=ho", "QUERY_STRING=z=1");
    assert_int_equal(r.rc, 0);
    assert_ptr_equal(r.m.wf, wfs[0]);
    assert_string_equal(r.out.path, "/echo");
    assert_json(r.m.input, "{\"z\":\"1\"}");
    brd_request_mapped_clear(&r.m);
    MAP(&r, "PATH_INFO=/postonly", "REQUEST_METHOD=POST");
    assert_ptr_equal(r.m.wf, wfs[1]);
    brd_request_mapped_clear(&r.m);
    /* A fragment is not part of the path. */
    MAP(&r, "REQUEST_URI=/echo#frag");
    assert_int_equal(r.rc, 0);
    assert_ptr_equal(r.m.wf, wfs[0]);
    brd_request_mapped_clear(&r.m);
}

static void route_is_percent_decoded_and_exact(void **state)
{
    (void)state;
    struct mapped r;
    MAP(&r, "REQUEST_URI=/%65cho?x=1");
    assert_int_equal(r.rc, 0);
    assert_ptr_equal(r.m.wf, wfs[0]);
    assert_string_equal(r.out.path, "/%65cho");   /* logged as requested */
    brd_request_mapped_clear(&r.m);
    static const char *const missing[] = {"/nope", "/echo/", "/ECHO", "/echo/x", "//echo",
                                          "/ech", "/echo%20", "/echo+"};
    for (size_t i = 0; i < sizeof missing / sizeof *missing; i++) {
        char uri[64];
        snprintf(uri, sizeof uri, "REQUEST_URI=%s", missing[i]);
        MAP(&r, uri);
        assert_fails(&r, BRD_E_NOT_FOUND, "no workflow is served at");
        assert_int_equal(r.out.workflow, -1);
        assert_null(r.m.wf);
        brd_request_mapped_clear(&r.m);
    }
}

static void bad_paths_are_400(void **state)
{
    (void)state;
    static const struct {
        const char *uri, *part;
    } bad[] = {
        {"REQUEST_URI=/ec%zzho", "percent escape"}, {"REQUEST_URI=/echo%", "percent escape"},
        {"REQUEST_URI=/echo%00", "NUL"},           {"REQUEST_URI=/%ff%fe", "UTF-8"},
        {"REQUEST_URI=/a/%2e%2e/echo", "'..'"},    {"REQUEST_URI=/../echo?x=1", "'..'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct mapped r;
        MAP(&r, (char *)bad[i].uri);
        assert_fails(&r, BRD_E_BAD_REQUEST, bad[i].part);
        brd_request_mapped_clear(&r.m);
    }
}

static void base_path(void **state)
{
    (void)state;
    struct brd_request_env env = env_of("/api", false);
    static const struct {
        const char *uri;
        int wf; /* index, or -1 for a 404 */
    } cases[] = {
        {"REQUEST_URI=/api/echo", 0}, {"REQUEST_URI=/api", 2},     {"REQUEST_URI=/api/", 2},
        {"REQUEST_URI=/echo", -1},    {"REQUEST_URI=/apiecho", -1}, {"REQUEST_URI=/ap", -1},
        {"REQUEST_URI=/%61pi/echo", 0}, /* decoded before the base path is taken off */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct mapped r;
        char *params[] = {(char *)cases[i].uri, NULL};
        map_env(&r, &env, params);
        if (cases[i].wf >= 0) {
            if (r.rc != 0)
                fail_msg("%s: %s", cases[i].uri, r.err.msg);
            assert_ptr_equal(r.m.wf, wfs[cases[i].wf]);
        } else {
            assert_fails(&r, BRD_E_NOT_FOUND, NULL);
        }
        brd_request_mapped_clear(&r.m);
    }
    struct mapped r;
    char *params[] = {"REQUEST_URI=/v2/echo", NULL};
    map_env(&r, &env, params);
    assert_fails(&r, BRD_E_NOT_FOUND, "outside the base path /api");
    brd_request_mapped_clear(&r.m);
}

/* ---- methods ------------------------------------------------------------------------- */

static void methods_not_listed_are_405_with_allow(void **state)
{
    (void)state;
    static const struct {
        const char *method, *uri, *allow;
    } cases[] = {
        {"REQUEST_METHOD=DELETE", "REQUEST_URI=/echo", "GET, POST"},
        {"REQUEST_METHOD=GET", "REQUEST_URI=/postonly", "POST"},
        {"REQUEST_METHOD=HEAD", "REQUEST_URI=/echo", "GET, POST"},
        {"REQUEST_METHOD=OPTIONS", "REQUEST_URI=/all", "GET, POST, PUT, PATCH, DELETE"},
        {"REQUEST_METHOD=get", "REQUEST_URI=/echo", "GET, POST"},     /* case matters */
        {"REQUEST_METHOD=BREW", "REQUEST_URI=/", "GET"},
        {"REQUEST_METHOD=GET ", "REQUEST_URI=/echo", "GET, POST"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct mapped r;
        MAP(&r, (char *)cases[i].method, (char *)cases[i].uri);
        assert_fails(&r, BRD_E_METHOD_NOT_ALLOWED, "is not allowed on");
        assert_string_equal(r.m.allow, cases[i].allow);
        assert_non_null(r.m.wf);                 /* counted for its workflow */
        assert_true(r.out.workflow >= 0);
        brd_request_mapped_clear(&r.m);
    }
    /* Every method on the workflow that lists them all. */
    static const char *const all[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
    for (int i = 0; i < 5; i++) {
        char m[32];
        snprintf(m, sizeof m, "REQUEST_METHOD=%s", all[i]);
        struct mapped r;
        MAP(&r, m, "REQUEST_URI=/all");
        assert_int_equal(r.rc, 0);
        assert_int_equal(r.m.method, i);
        assert_int_equal(r.m.wants_body, i != BRD_GET);
        brd_request_mapped_clear(&r.m);
    }
}

/* ---- headers ------------------------------------------------------------------------- */

static void request_id_taken_only_when_sane(void **state)
{
    (void)state;
    struct mapped r;
    MAP(&r, "HTTP_X_REQUEST_ID=abc-123_x.y:z", "REQUEST_URI=/echo");
    assert_string_equal(r.out.request_id, "abc-123_x.y:z");
    brd_request_mapped_clear(&r.m);

    char id128[160] = "HTTP_X_REQUEST_ID=", id129[160];
    memset(id128 + 18, 'a', 128);
    id128[18 + 128] = '\0';
    snprintf(id129, sizeof id129, "%sb", id128);
    MAP(&r, id128, "REQUEST_URI=/echo");
    assert_string_equal(r.out.request_id, id128 + 18);
    brd_request_mapped_clear(&r.m);

    static const char *const bad[] = {"HTTP_X_REQUEST_ID=", "HTTP_X_REQUEST_ID=a b",
                                      "HTTP_X_REQUEST_ID=a/b", "HTTP_X_REQUEST_ID=\xc3\xa9",
                                      "HTTP_X_REQUEST_ID=a\"b", "HTTP_X_REQUEST_ID=a\r\nX: y"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        MAP(&r, (char *)bad[i], "REQUEST_URI=/echo");
        assert_true(hex32(r.out.request_id));
        brd_request_mapped_clear(&r.m);
    }
    MAP(&r, id129, "REQUEST_URI=/echo");
    assert_true(hex32(r.out.request_id));
    brd_request_mapped_clear(&r.m);
    /* Set on failures too: it is in the error body and the log line. */
    MAP(&r, "HTTP_X_REQUEST_ID=rid-7", "REQUEST_URI=/nope");
    assert_int_equal(r.rc, -1);
    assert_string_equal(r.out.request_id, "rid-7");
    brd_request_mapped_clear(&r.m);
}

static void trace_needs_debug_and_exactly_1(void **state)
{
    (void)state;
    struct brd_request_env plain = env_of(NULL, false), debug = env_of(NULL, true);
    struct mapped r;
    char *on[] = {"HTTP_X_BRAID_TRACE=1", "REQUEST_URI=/echo", NULL};
    char *yes[] = {"HTTP_X_BRAID_TRACE=true", "REQUEST_URI=/echo", NULL};
    char *failing[] = {"HTTP_X_BRAID_TRACE=1", "REQUEST_URI=/nope", NULL};
    map_env(&r, &plain, on);
    assert_false(r.m.trace);
    brd_request_mapped_clear(&r.m);
    map_env(&r, &debug, on);
    assert_true(r.m.trace);
    brd_request_mapped_clear(&r.m);
    map_env(&r, &debug, yes);
    assert_false(r.m.trace);
    brd_request_mapped_clear(&r.m);
    map_env(&r, &debug, failing);   /* errors before the run carry "trace": [] */
    assert_int_equal(r.rc, -1);
    assert_true(r.m.trace);
    brd_request_mapped_clear(&r.m);
}

static void bad_query_strings_are_400(void **state)
{
    (void)state;
    struct mapped r;
    MAP(&r, "REQUEST_URI=/echo", "QUERY_STRING=a=%zz");
    assert_fails(&r, BRD_E_BAD_REQUEST, "query string: invalid percent escape");
    brd_request_mapped_clear(&r.m);
    MAP(&r, "REQUEST_URI=/echo?%C3=1");
    assert_fails(&r, BRD_E_BAD_REQUEST, "UTF-8");
    brd_request_mapped_clear(&r.m);
    MAP(&r, "REQUEST_URI=/echo", "QUERY_STRING=a%00=1");
    assert_fails(&r, BRD_E_BAD_REQUEST, "NUL");
    brd_request_mapped_clear(&r.m);
    /* The path is checked first. */
    MAP(&r, "REQUEST_URI=/nope", "QUERY_STRING=a=%zz");
    assert_fails(&r, BRD_E_NOT_FOUND, NULL);
    brd_request_mapped_clear(&r.m);
}

static void content_length_and_type(void **state)
{
    (void)state;
    struct mapped r;
    MAP(&r, "REQUEST_METHOD=POST", "REQUEST_URI=/echo", "CONTENT_LENGTH=12",
        "CONTENT_TYPE=application/json; charset=utf-8");
    assert_int_equal(r.rc, 0);
    assert_true(r.m.wants_body);
    assert_int_equal(r.m.content_length, 12);
    assert_string_equal(r.m.content_type, "application/json; charset=utf-8");
    brd_request_mapped_clear(&r.m);
    MAP(&r, "REQUEST_METHOD=POST", "REQUEST_URI=/echo", "CONTENT_LENGTH=");
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.m.content_length, -1);
    assert_null(r.m.content_type);
    brd_request_mapped_clear(&r.m);
    MAP(&r, "REQUEST_METHOD=POST", "REQUEST_URI=/echo", "CONTENT_LENGTH=1024");
    assert_int_equal(r.rc, 0);            /* exactly the limit */
    brd_request_mapped_clear(&r.m);

    static const char *const bad[] = {"CONTENT_LENGTH=abc", "CONTENT_LENGTH=-1",
                                      "CONTENT_LENGTH=+5", "CONTENT_LENGTH= 5",
                                      "CONTENT_LENGTH=5 ", "CONTENT_LENGTH=0x10",
                                      "CONTENT_LENGTH=1e3", "CONTENT_LENGTH=5,5"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        MAP(&r, "REQUEST_METHOD=PUT", "REQUEST_URI=/all", (char *)bad[i]);
        assert_fails(&r, BRD_E_BAD_REQUEST, "invalid Content-Length");
        brd_request_mapped_clear(&r.m);
    }
    static const char *const big[] = {"CONTENT_LENGTH=1025", "CONTENT_LENGTH=9223372036854775807",
                                      "CONTENT_LENGTH=99999999999999999999999999999"};
    for (size_t i = 0; i < sizeof big / sizeof *big; i++) {
        MAP(&r, "REQUEST_METHOD=PATCH", "REQUEST_URI=/all", (char *)big[i]);
        assert_fails(&r, BRD_E_PAYLOAD_TOO_LARGE, "the limit is 1024 bytes");
        brd_request_mapped_clear(&r.m);
    }
}

static void over_long_values_are_clipped(void **state)
{
    (void)state;
    /* A 100 kB path: logged clipped to 1024 bytes, named clipped in the 404. */
    size_t n = 100000;
    char *uri = malloc(n + 32);
    assert_non_null(uri);
    strcpy(uri, "REQUEST_URI=/");
    memset(uri + 13, 'p', n);
    strcpy(uri + 13 + n, "?a=1");
    struct mapped r;
    MAP(&r, uri);
    assert_fails(&r, BRD_E_NOT_FOUND, "...");
    assert_int_equal(strlen(r.out.path), 1024);
    assert_true(strlen(r.err.msg) < 300);
    brd_request_mapped_clear(&r.m);
    free(uri);

    /* A 10 kB method: clipped in the log and in the 405's message. */
    char *method = malloc(10032);
    assert_non_null(method);
    strcpy(method, "REQUEST_METHOD=");
    memset(method + 15, 'M', 10000);
    method[10015] = '\0';
    MAP(&r, method, "REQUEST_URI=/echo");
    assert_fails(&r, BRD_E_METHOD_NOT_ALLOWED, "MMM...");
    assert_true(strlen(r.out.method) < sizeof r.out.method);
    brd_request_mapped_clear(&r.m);
    free(method);

    /* A 1 MB query string is parsed whole. */
    n = 1000000;
    char *query = malloc(n + 32);
    assert_non_null(query);
    strcpy(query, "QUERY_STRING=q=");
    memset(query + 15, 'x', n);
    query[15 + n] = '\0';
    MAP(&r, "REQUEST_URI=/echo", query);
    assert_int_equal(r.rc, 0);
    struct json_object *q;
    assert_true(json_object_object_get_ex(r.m.input, "q", &q));
    assert_int_equal(json_object_get_string_len(q), n);
    brd_request_mapped_clear(&r.m);
    free(query);
}

/* ---- the body -------------------------------------------------------------------------- */

static struct json_object *overlaid(const char *ct, const char *body, struct brd_error *err)
{
    struct json_object *input = NULL;
    assert_int_equal(brd_json_parse("{\"a\":\"q\",\"b\":\"q\"}", 17, &input, err), 0);
    brd_error_clear(err);
    if (brd_request_overlay_body(ct, body, strlen(body), input, err) != 0) {
        json_object_put(input);
        return NULL;
    }
    return input;
}

static void body_overlays_the_query(void **state)
{
    (void)state;
    static const struct {
        const char *ct, *body, *want;
    } ok[] = {
        {"application/json", "{\"b\":{\"deep\":[1]},\"c\":null}",
         "{\"a\":\"q\",\"b\":{\"deep\":[1]},\"c\":null}"},
        {"Application/JSON ; charset=UTF-8", "{\"b\":1}", "{\"a\":\"q\",\"b\":1}"},
        {"application/merge-patch+json", "{\"b\":2}", "{\"a\":\"q\",\"b\":2}"},
        {"application/x-www-form-urlencoded", "b=1&b=2&c=x+y",
         "{\"a\":\"q\",\"b\":[\"1\",\"2\"],\"c\":\"x y\"}"},
        {"application/x-www-form-urlencoded; charset=utf-8", "", "{\"a\":\"q\",\"b\":\"q\"}"},
        {"text/plain", "", "{\"a\":\"q\",\"b\":\"q\"}"},     /* an empty body is no body */
        {NULL, "", "{\"a\":\"q\",\"b\":\"q\"}"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        struct brd_error err;
        struct json_object *in = overlaid(ok[i].ct, ok[i].body, &err);
        if (!in)
            fail_msg("%s %s: %s", ok[i].ct, ok[i].body, err.msg);
        assert_json(in, ok[i].want);
        json_object_put(in);
    }
}

static void bad_bodies_are_400(void **state)
{
    (void)state;
    static const struct {
        const char *ct, *body, *part;
    } bad[] = {
        {"application/json", "{\"a\": 1,", "not valid JSON"},
        {"application/json", "[1, 2]", "must be a JSON object, not array"},
        {"application/json", "null", "not null"},
        {"application/json", "\"s\"", "not string"},
        {"application/json", "{\"a\": \"\xff\"}", "not valid JSON"},
        {"application/+json", "{}", "unsupported Content-Type"},
        {"application/jsonx", "{}", "unsupported Content-Type"},
        {"text/csv", "a,b", "unsupported Content-Type 'text/csv'"},
        {"", "x=1", "'none'"},
        {NULL, "x=1", "'none'"},
        {"application/x-www-form-urlencoded", "a=%G1", "form body: invalid percent escape"},
        {"application/x-www-form-urlencoded", "a%00=1", "form body: a name contains a NUL"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct brd_error err;
        struct json_object *in = overlaid(bad[i].ct, bad[i].body, &err);
        if (in)
            fail_msg("%s %s: accepted", bad[i].ct, bad[i].body);
        assert_int_equal(err.code, BRD_E_BAD_REQUEST);
        if (!strstr(err.msg, bad[i].part))
            fail_msg("%s %s: message '%s' lacks '%s'", bad[i].ct, bad[i].body, err.msg,
                     bad[i].part);
    }
    /* The unsupported-type message names what is accepted, with a long type clipped. */
    char ct[300];
    memset(ct, 't', sizeof ct - 1);
    ct[sizeof ct - 1] = '\0';
    struct brd_error err;
    assert_null(overlaid(ct, "x", &err));
    assert_non_null(strstr(err.msg, "application/json"));
    assert_non_null(strstr(err.msg, "application/x-www-form-urlencoded"));
    assert_true(strlen(err.msg) < 250);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(get_with_a_query),
        cmocka_unit_test(defaults_when_params_are_missing),
        cmocka_unit_test(names_match_exactly),
        cmocka_unit_test(query_string_and_uri_fallbacks),
        cmocka_unit_test(route_is_percent_decoded_and_exact),
        cmocka_unit_test(bad_paths_are_400),
        cmocka_unit_test(base_path),
        cmocka_unit_test(methods_not_listed_are_405_with_allow),
        cmocka_unit_test(request_id_taken_only_when_sane),
        cmocka_unit_test(trace_needs_debug_and_exactly_1),
        cmocka_unit_test(bad_query_strings_are_400),
        cmocka_unit_test(content_length_and_type),
        cmocka_unit_test(over_long_values_are_clipped),
        cmocka_unit_test(body_overlays_the_query),
        cmocka_unit_test(bad_bodies_are_400),
    };
    return cmocka_run_group_tests_name("request_map", tests, setup, teardown);
}
