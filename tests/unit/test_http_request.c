/* test_http_request.c — building an API call's request offline (no network,
 * no curl): values from params, prev and defaults; path and query encoding
 * of awkward values; the header list; the JSON body; and the redaction of
 * values from ${env.X} in what traces and messages show. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "base/version.h"
#include "http_request.h"

static char dir[64];

#define SECRET "t0p-s3cret"
#define HOST   "127.0.0.1:9"

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/braid-test-httpreq-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    char apis[128];
    snprintf(apis, sizeof apis, "%s/apis", dir);
    setenv("BRD_TEST_REQ_SECRET", SECRET, 1);
    setenv("BRD_TEST_REQ_HOST", HOST, 1);
    return mkdir(apis, 0700);
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct json_object *parse(const char *s)
{
    struct json_object *v = NULL;
    struct brd_error err;
    if (brd_json_parse(s, strlen(s), &v, &err) < 0)
        fail_msg("bad JSON in the test: %s: %s", s, err.msg);
    return v;
}

/* Writes apis/NAME.json and loads it (the real loader: it decides what is
 * secret). */
static struct brd_api *api_def(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/apis/%s.json", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    struct brd_api *api = NULL;
    struct brd_diags d = {0};
    int rc = brd_api_load(dir, name, &api, &d);
    for (size_t i = 0; i < d.count; i++)
        print_message("load: %s\n", d.msgs[i]);
    brd_diags_free(&d);
    assert_int_equal(rc, 0);
    return api;
}

/* Builds a request from JSON texts (NULL: none); returns build's status. */
static int build(struct brd_httpreq *r, const struct brd_api *api, const char *params, const char *prev,
                 const char *request_id, struct brd_error *err)
{
    struct json_object *pj = params ? parse(params) : NULL, *prevj = prev ? parse(prev) : NULL;
    brd_error_clear(err);
    int rc = brd_httpreq_build(r, api, pj, prevj, request_id, err);
    /* The request keeps what it needs: the inputs may go at once. */
    json_object_put(pj);
    json_object_put(prevj);
    return rc;
}

static void build_ok(struct brd_httpreq *r, const struct brd_api *api, const char *params, const char *prev)
{
    struct brd_error err;
    if (build(r, api, params, prev, "req-1", &err) < 0)
        fail_msg("build failed: %s: %s", brd_code_name(err.code), err.msg);
}

static void build_fails(const struct brd_api *api, const char *params, const char *request_id,
                        enum brd_code code, const char *text)
{
    struct brd_httpreq r;
    struct brd_error err;
    if (build(&r, api, params, NULL, request_id, &err) == 0)
        fail_msg("build succeeded with url %s, want %s", r.url, brd_code_name(code));
    if (err.code != code || !strstr(err.msg, text))
        fail_msg("got %s \"%s\", want %s with \"%s\"", brd_code_name(err.code), err.msg, brd_code_name(code),
                 text);
    /* A failed build leaves nothing behind. */
    assert_null(r.url);
    assert_null(r.values);
    assert_null(r.headers);
    assert_int_equal(r.nheaders, 0);
    brd_httpreq_clear(&r);
}

static void expect_json(struct json_object *v, const char *want)
{
    struct json_object *w = parse(want);
    if (!brd_json_equal(v, w))
        fail_msg("got %s, want %s", brd_json_compact(v, NULL), want);
    json_object_put(w);
}

/* The value of the header called name (exact spelling), or NULL. */
static const struct brd_httpreq_header *header(const struct brd_httpreq *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (!strcmp(r->headers[i].name, name))
            return &r->headers[i];
    return NULL;
}

/* All headers as one "Name: value\n..." text, in sending order. */
static const char *header_text(const struct brd_httpreq *r)
{
    static char buf[2048];
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < r->nheaders; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s: %s\n", r->headers[i].name, r->headers[i].value);
    assert_true(n < sizeof buf);
    return buf;
}

/* ---- the url ---------------------------------------------------------------------- */

static void path_values_are_one_encoded_segment(void **state)
{
    (void)state;
    struct brd_api *api = api_def("path",
        "{\"url\": \"http://127.0.0.1:9/users/{id}/items/{n}\","
        " \"params\": {\"id\": {\"in\": \"path\", \"required\": true},"
        "              \"n\": {\"in\": \"path\", \"type\": \"int\", \"default\": 1}}}");
    struct brd_httpreq r;
    /* Every character that could change the url's structure, a space, a
     * non-ASCII letter and a percent sign: all %XX; unreserved ones kept. */
    build_ok(&r, api, "{\"id\": \"a b/c?d&e#f%g+h\u00e9\u20ac-._~Z9\", \"n\": \"7\"}", NULL);
    assert_string_equal(r.url,
                        "http://127.0.0.1:9/users/a%20b%2Fc%3Fd%26e%23f%25g%2Bh%C3%A9%E2%82%AC-._~Z9/items/7");
    /* Nothing secret: the shown url is the url itself. */
    assert_null(r.url_shown);
    assert_string_equal(brd_httpreq_url_shown(&r), r.url);
    brd_httpreq_clear(&r);

    /* A non-string value travels as compact JSON; the default fills in. */
    build_ok(&r, api, "{\"id\": {\"k\": [1, \"/\"]}}", NULL);
    assert_string_equal(r.url, "http://127.0.0.1:9/users/%7B%22k%22%3A%5B1%2C%22%2F%22%5D%7D/items/1");
    brd_httpreq_clear(&r);

    /* A percent-encoded value is encoded again, not passed through. */
    build_ok(&r, api, "{\"id\": \"%2F\"}", NULL);
    assert_string_equal(r.url, "http://127.0.0.1:9/users/%252F/items/1");
    brd_httpreq_clear(&r);

    /* "", "." and ".." would name another resource however encoded. */
    build_fails(api, "{\"id\": \"..\"}", NULL, BRD_E_BAD_REQUEST, "cannot be used as a path segment");
    build_fails(api, "{\"id\": \".\"}", NULL, BRD_E_BAD_REQUEST, "cannot be used as a path segment");
    build_fails(api, "{\"id\": \"\"}", NULL, BRD_E_BAD_REQUEST, "cannot be used as a path segment");
    build_ok(&r, api, "{\"id\": \"...\"}", NULL);
    assert_string_equal(r.url, "http://127.0.0.1:9/users/.../items/1");
    brd_httpreq_clear(&r);

    /* Type conversion: an int path parameter refuses what is not one. */
    build_fails(api, "{\"id\": \"x\", \"n\": \"seven\"}", NULL, BRD_E_BAD_REQUEST, "api path: parameter 'n'");
    build_fails(api, "{}", NULL, BRD_E_PARAM_MISSING, "api path: required parameter 'id' has no value");
    brd_api_free(api);
}

static void query_values_are_encoded_in_order(void **state)
{
    (void)state;
    struct brd_api *api = api_def("query",
        "{\"url\": \"http://127.0.0.1:9/search?fixed=1\","
        " \"params\": {\"q\": {}, \"tags\": {\"type\": \"array\"}, \"n\": {\"type\": \"number\"},"
        "   \"flag\": {\"type\": \"bool\"}, \"obj\": {\"type\": \"object\"}, \"gone\": {}, \"k y&\": {},"
        "   \"i\": {\"type\": \"int\"}}}");
    struct brd_httpreq r;
    build_ok(&r, api,
             "{\"i\": \"1e3\", \"k y&\": \"=\", \"q\": \"x y&z=1+2%/?#\u00e9\", \"tags\": [\"a\", \"b c\", null, 3],"
             " \"n\": \"2.5\", \"flag\": \"false\", \"obj\": {\"k\": \"&\"}, \"gone\": null}",
             NULL);
    /* Declaration order (not the order given), after the url's own query;
     * arrays repeat the key, null elements and null values are left out;
     * a space is %20 and '+' is %2B. */
    assert_string_equal(r.url,
                        "http://127.0.0.1:9/search?fixed=1&q=x%20y%26z%3D1%2B2%25%2F%3F%23%C3%A9"
                        "&tags=a&tags=b%20c&tags=3&n=2.5&flag=false&obj=%7B%22k%22%3A%22%26%22%7D"
                        "&k%20y%26=%3D&i=1000");
    brd_httpreq_clear(&r);

    /* A plain string becomes a one-element array for type array. */
    build_ok(&r, api, "{\"tags\": \"solo\"}", NULL);
    assert_string_equal(r.url, "http://127.0.0.1:9/search?fixed=1&tags=solo");
    brd_httpreq_clear(&r);

    /* No values: the url as declared. */
    build_ok(&r, api, NULL, NULL);
    assert_string_equal(r.url, "http://127.0.0.1:9/search?fixed=1");
    brd_httpreq_clear(&r);
    build_fails(api, "{\"flag\": \"yes\"}", NULL, BRD_E_BAD_REQUEST, "parameter 'flag'");
    brd_api_free(api);

    /* Without a query in the url the first separator is '?'; an empty
     * array adds nothing. */
    api = api_def("query2", "{\"url\": \"http://127.0.0.1:9/s\", \"params\": {\"a\": {}, \"b\": {}}}");
    build_ok(&r, api, "{\"b\": \"2\", \"a\": []}", NULL);
    assert_string_equal(r.url, "http://127.0.0.1:9/s?b=2");
    brd_httpreq_clear(&r);
    brd_api_free(api);
}

/* ---- where values come from ------------------------------------------------------- */

static void values_from_params_prev_and_defaults(void **state)
{
    (void)state;
    struct brd_api *api = api_def("values",
        "{\"url\": \"http://127.0.0.1:9/v\","
        " \"params\": {\"a\": {\"type\": \"int\"}, \"b\": {\"default\": \"dflt\"}, \"c\": {\"required\": true},"
        "              \"d\": {\"default\": \"d0\"}}}");
    struct brd_httpreq r;
    /* a from the node, c from prev, b and d defaults; x is not declared:
     * never sent, from params or prev. */
    build_ok(&r, api, "{\"a\": 5, \"x\": \"no\"}", "{\"a\": 9, \"c\": \"from-prev\", \"x\": \"no\"}");
    assert_string_equal(r.url, "http://127.0.0.1:9/v?a=5&b=dflt&c=from-prev&d=d0");
    expect_json(r.values, "{\"a\":5,\"b\":\"dflt\",\"c\":\"from-prev\",\"d\":\"d0\"}");
    brd_httpreq_clear(&r);

    /* A null the node sets means "no value": the default fills in, prev is
     * not consulted; a null in prev lets the default fill in too. */
    build_ok(&r, api, "{\"b\": null, \"c\": \"n\"}", "{\"b\": \"prev-b\", \"d\": null}");
    assert_string_equal(r.url, "http://127.0.0.1:9/v?b=dflt&c=n&d=d0");
    brd_httpreq_clear(&r);

    /* prev that is not an object maps nothing. */
    build_fails(api, NULL, NULL, BRD_E_PARAM_MISSING, "api values: required parameter 'c' has no value");
    struct brd_error err;
    assert_int_equal(build(&r, api, NULL, "[{\"c\": 1}]", NULL, &err), -1);
    assert_int_equal(err.code, BRD_E_PARAM_MISSING);
    /* A required parameter the node sets to null is missing, even with prev. */
    assert_int_equal(build(&r, api, "{\"c\": null}", "{\"c\": \"p\"}", NULL, &err), -1);
    assert_int_equal(err.code, BRD_E_PARAM_MISSING);
    build_fails(api, "{\"a\": 1.5, \"c\": 1}", NULL, BRD_E_BAD_REQUEST, "api values: parameter 'a'");
    brd_api_free(api);
}

/* ---- headers ------------------------------------------------------------------------ */

static void headers_in_order_with_replacement(void **state)
{
    (void)state;
    struct brd_api *api = api_def("hdrs",
        "{\"url\": \"http://127.0.0.1:9/h\", \"method\": \"GET\","
        " \"headers\": {\"X-Api\": \"yes\", \"accept\": \"text/plain\", \"X-Over\": \"api\", \"X-Empty\": \"\"},"
        " \"params\": {\"X-Over\": {\"in\": \"header\"}, \"X-Num\": {\"in\": \"header\", \"type\": \"int\"},"
        "              \"X-Opt\": {\"in\": \"header\"}}}");
    struct brd_httpreq r;
    build_ok(&r, api, "{\"X-Over\": \"param\", \"X-Num\": \"12\"}", NULL);
    /* Braid's own, then the API's, then parameters, then the request id;
     * a later same-name header (any case) replaces the earlier in place. */
    assert_string_equal(header_text(&r), "Accept: text/plain\n"
                                         "User-Agent: braid/" BRD_VERSION "\n"
                                         "X-Api: yes\n"
                                         "X-Over: param\n"
                                         "X-Empty: \n"
                                         "X-Num: 12\n"
                                         "X-Request-Id: req-1\n");
    assert_int_equal(header(&r, "X-Empty")->len, 0);
    assert_int_equal(header(&r, "User-Agent")->len, strlen("braid/" BRD_VERSION));
    /* A GET without body parameters: no body, so no Content-Type. */
    assert_null(r.body);
    assert_null(header(&r, "Content-Type"));
    for (size_t i = 0; i < r.nheaders; i++)
        assert_false(r.headers[i].secret);
    brd_httpreq_clear(&r);

    /* No request id (NULL or ""): no X-Request-Id. */
    struct brd_error err;
    assert_int_equal(build(&r, api, NULL, NULL, NULL, &err), 0);
    assert_null(header(&r, "X-Request-Id"));
    assert_string_equal(header(&r, "X-Over")->value, "api");
    brd_httpreq_clear(&r);
    assert_int_equal(build(&r, api, NULL, NULL, "", &err), 0);
    assert_null(header(&r, "X-Request-Id"));
    brd_httpreq_clear(&r);

    /* Nothing may start a header line of its own. */
    build_fails(api, "{\"X-Opt\": \"a\\r\\nX-Evil: 1\"}", "r", BRD_E_BAD_REQUEST,
                "api hdrs: parameter 'X-Opt': a header value cannot contain CR, LF or NUL");
    build_fails(api, "{\"X-Opt\": \"a\\u0000b\"}", "r", BRD_E_BAD_REQUEST, "cannot contain CR, LF or NUL");
    build_fails(api, NULL, "id\nX-Evil: 1", BRD_E_BAD_REQUEST, "the request id contains a line break");
    brd_api_free(api);
}

/* ---- the body ------------------------------------------------------------------------ */

static void body_object_of_body_parameters(void **state)
{
    (void)state;
    /* POST: parameters go to the body by default. */
    struct brd_api *api = api_def("post",
        "{\"url\": \"http://127.0.0.1:9/p\", \"method\": \"POST\","
        " \"params\": {\"name\": {}, \"age\": {\"type\": \"int\"}, \"tags\": {\"type\": \"array\"},"
        "              \"q\": {\"in\": \"query\"}}}");
    struct brd_httpreq r;
    build_ok(&r, api, "{\"name\": \"a/b &c\", \"age\": \"41\", \"tags\": \"x\", \"q\": \"1\"}", NULL);
    expect_json(r.body, "{\"name\":\"a/b &c\",\"age\":41,\"tags\":[\"x\"]}");
    assert_string_equal(r.url, "http://127.0.0.1:9/p?q=1");
    assert_string_equal(header(&r, "Content-Type")->value, "application/json");
    brd_httpreq_clear(&r);
    /* Declared but none has a value: still an object, {}. */
    build_ok(&r, api, NULL, NULL);
    expect_json(r.body, "{}");
    assert_non_null(header(&r, "Content-Type"));
    brd_httpreq_clear(&r);
    brd_api_free(api);

    /* A POST without body parameters has no JSON body (nor Content-Type). */
    api = api_def("post_none", "{\"url\": \"http://127.0.0.1:9/p\", \"method\": \"POST\"}");
    build_ok(&r, api, "{\"undeclared\": 1}", NULL);
    assert_null(r.body);
    assert_null(header(&r, "Content-Type"));
    brd_httpreq_clear(&r);
    brd_api_free(api);

    /* A GET with a declared body parameter sends the body. */
    api = api_def("get_body",
        "{\"url\": \"http://127.0.0.1:9/g\", \"params\": {\"f\": {\"in\": \"body\", \"type\": \"object\"}}}");
    build_ok(&r, api, "{\"f\": \"{\\\"k\\\": true}\"}", NULL);
    expect_json(r.body, "{\"f\":{\"k\":true}}");
    assert_string_equal(r.url, "http://127.0.0.1:9/g");
    brd_httpreq_clear(&r);
    brd_api_free(api);
}

/* ---- what traces and messages show ---------------------------------------------------- */

static void shown_request_has_no_secret(void **state)
{
    (void)state;
    struct brd_api *api = api_def("secret",
        "{\"url\": \"http://${env.BRD_TEST_REQ_HOST}/x/{where}/{pw}\", \"method\": \"POST\","
        " \"headers\": {\"Authorization\": \"Bearer ${env.BRD_TEST_REQ_SECRET}\", \"X-Plain\": \"p\","
        "               \"X-Both\": \"${env.BRD_TEST_REQ_SECRET}\"},"
        " \"params\": {\"where\": {\"in\": \"path\", \"required\": true},"
        "   \"pw\": {\"in\": \"path\", \"default\": \"${env.BRD_TEST_REQ_SECRET}\"},"
        "   \"key\": {\"in\": \"query\", \"default\": \"${env.BRD_TEST_REQ_SECRET}\"},"
        "   \"open\": {\"in\": \"query\"},"
        "   \"X-Hp\": {\"in\": \"header\", \"default\": \"${env.BRD_TEST_REQ_SECRET}\"},"
        "   \"X-Both\": {\"in\": \"header\"},"
        "   \"token\": {\"default\": \"${env.BRD_TEST_REQ_SECRET}\"}, \"plain\": {}}}");
    struct brd_httpreq r;
    build_ok(&r, api, "{\"where\": \"w\", \"open\": \"o\", \"plain\": 1, \"X-Both\": \"mine\"}", NULL);

    /* Sent for real... */
    assert_string_equal(r.url, "http://" HOST "/x/w/" SECRET "?key=" SECRET "&open=o");
    assert_string_equal(header(&r, "Authorization")->value, "Bearer " SECRET);
    assert_string_equal(header(&r, "X-Hp")->value, SECRET);
    assert_string_equal(header(&r, "X-Both")->value, "mine");
    expect_json(r.body, "{\"token\":\"" SECRET "\",\"plain\":1}");

    /* ...but never shown: the url as written, secret values redacted. */
    assert_string_equal(brd_httpreq_url_shown(&r),
                        "http://${env.BRD_TEST_REQ_HOST}/x/w/<redacted>?key=<redacted>&open=o");
    struct json_object *shown = brd_httpreq_shown(&r);
    assert_non_null(shown);
    expect_json(shown,
                "{\"method\": \"POST\","
                " \"url\": \"http://${env.BRD_TEST_REQ_HOST}/x/w/<redacted>?key=<redacted>&open=o\","
                " \"headers\": {\"Accept\": \"application/json\", \"User-Agent\": \"braid/" BRD_VERSION "\","
                "   \"Content-Type\": \"application/json\", \"Authorization\": \"<redacted>\", \"X-Plain\": \"p\","
                "   \"X-Both\": \"<redacted>\", \"X-Hp\": \"<redacted>\", \"X-Request-Id\": \"req-1\"},"
                " \"body\": {\"token\": \"<redacted>\", \"plain\": 1}}");
    const char *text = brd_json_compact(shown, NULL);
    assert_null(strstr(text, SECRET));
    assert_null(strstr(text, HOST));
    json_object_put(shown);
    /* Showing the request did not touch what is sent. */
    expect_json(r.body, "{\"token\":\"" SECRET "\",\"plain\":1}");
    brd_httpreq_clear(&r);
    brd_api_free(api);

    /* A url without ${env.X} still gets a shown copy when a path or query
     * value is secret; other values stay readable. */
    api = api_def("secret_q",
        "{\"url\": \"http://127.0.0.1:9/q/{p}\", \"params\": {\"p\": {\"in\": \"path\", \"required\": true},"
        "   \"key\": {\"default\": \"${env.BRD_TEST_REQ_SECRET}\"}, \"n\": {}}}");
    build_ok(&r, api, "{\"p\": \"a b\", \"n\": \"2\"}", NULL);
    assert_string_equal(r.url, "http://127.0.0.1:9/q/a%20b?key=" SECRET "&n=2");
    assert_string_equal(brd_httpreq_url_shown(&r), "http://127.0.0.1:9/q/a%20b?key=<redacted>&n=2");
    shown = brd_httpreq_shown(&r);
    assert_non_null(shown);
    assert_null(strstr(brd_json_compact(shown, NULL), SECRET));
    json_object_put(shown);
    brd_httpreq_clear(&r);
    brd_api_free(api);
}

static void shown_request_without_secrets(void **state)
{
    (void)state;
    struct brd_api *api = api_def("plain",
        "{\"url\": \"http://127.0.0.1:9/u/{id}\", \"method\": \"DELETE\","
        " \"params\": {\"id\": {\"in\": \"path\", \"type\": \"int\", \"required\": true}}}");
    struct brd_httpreq r;
    build_ok(&r, api, "{\"id\": 3}", NULL);
    struct json_object *shown = brd_httpreq_shown(&r);
    expect_json(shown,
                "{\"method\": \"DELETE\", \"url\": \"http://127.0.0.1:9/u/3\","
                " \"headers\": {\"Accept\": \"application/json\", \"User-Agent\": \"braid/" BRD_VERSION "\","
                "   \"X-Request-Id\": \"req-1\"}, \"body\": null}");
    json_object_put(shown);
    brd_httpreq_clear(&r);
    /* Clearing twice, or a request never built, is harmless. */
    brd_httpreq_clear(&r);
    struct brd_httpreq empty = {0};
    brd_httpreq_clear(&empty);
    brd_api_free(api);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(path_values_are_one_encoded_segment),
        cmocka_unit_test(query_values_are_encoded_in_order),
        cmocka_unit_test(values_from_params_prev_and_defaults),
        cmocka_unit_test(headers_in_order_with_replacement),
        cmocka_unit_test(body_object_of_body_parameters),
        cmocka_unit_test(shown_request_has_no_secret),
        cmocka_unit_test(shown_request_without_secrets),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
