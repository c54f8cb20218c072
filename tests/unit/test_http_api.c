/* test_http_api.c — real API calls against tests/backend/backend.py, started
 * as a child process: methods, parameter encoding, same-name mapping,
 * errors, timeouts, retries, keep-alive reuse, parallel calls, caps. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <curl/curl.h>

#include "base/version.h"
#include "http_api.h"

static pid_t backend_pid = -1;
static int refused_fd = -1;
static char dir[64];

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static struct json_object *parse(const char *s)
{
    struct json_object *v = NULL;
    struct brd_error err;
    if (brd_json_parse(s, strlen(s), &v, &err) < 0)
        fail_msg("bad JSON in the test: %s: %s", s, err.msg);
    return v;
}

/* ---- the backend and the service directory ----------------------------------------- */

static int start_backend(void)
{
    const char *script = getenv("BRAID_TEST_BACKEND");
    if (!script)
        script = "tests/backend/backend.py";
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -1;
    backend_pid = fork();
    if (backend_pid < 0)
        return -1;
    if (backend_pid == 0) {
        dup2(fds[1], 1);
        execl("/usr/bin/python3", "python3", script, "--port", "0", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char line[64] = "";
    size_t len = 0;
    /* The PORT line comes within a few seconds or not at all. */
    while (len < sizeof line - 1 && !strchr(line, '\n')) {
        struct pollfd p = {fds[0], POLLIN, 0};
        if (poll(&p, 1, 10000) <= 0)
            break;
        ssize_t n = read(fds[0], line + len, sizeof line - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        line[len] = '\0';
    }
    close(fds[0]);
    int port = 0;
    if (sscanf(line, "PORT %d", &port) != 1 || port <= 0) {
        fprintf(stderr, "backend did not start (got \"%s\")\n", line);
        return -1;
    }
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    setenv("BRD_TEST_BACKEND", url, 1);
    return 0;
}

/* A bound socket that never listens: connecting to its port is refused. */
static int reserve_refused_port(void)
{
    refused_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (refused_fd < 0 || bind(refused_fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(refused_fd, (struct sockaddr *)&a, &alen) < 0)
        return -1;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(a.sin_port));
    setenv("BRD_TEST_REFUSED", url, 1);
    return 0;
}

static int setup(void **state)
{
    (void)state;
    /* One libcurl initialisation for the whole run, so that each test's
     * brd_http_new/free does not set up and tear down OpenSSL again. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -1;
    strcpy(dir, "/tmp/braid-test-http-XXXXXX");
    char apis[128];
    snprintf(apis, sizeof apis, "%s/apis", mkdtemp(dir) ? dir : "/nonexistent");
    setenv("BRD_TEST_SECRET", "s3cret", 1);
    if (mkdir(apis, 0700) < 0 || reserve_refused_port() < 0)
        return -1;
    return start_backend();
}

static int teardown(void **state)
{
    (void)state;
    if (backend_pid > 0) {
        kill(backend_pid, SIGTERM);
        waitpid(backend_pid, NULL, 0);
    }
    if (refused_fd >= 0)
        close(refused_fd);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    int rc = system(cmd);
    curl_global_cleanup();
    return rc == 0 ? 0 : -1;
}

/* Writes apis/NAME.json and loads it. */
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

/* ---- running calls ---------------------------------------------------------------- */

struct outcome {
    int rc;
    struct json_object *raw;
    struct brd_error err;
    int attempts;
    int64_t elapsed_ms;
    struct json_object *request;   /* brd_http_request_json */
};

static struct brd_http *new_http(void)
{
    struct brd_http *h = NULL;
    struct brd_error err;
    assert_int_equal(brd_http_new(&h, &err), 0);
    return h;
}

/* Waits for the next finished call, failing the test after max_ms. */
static struct brd_http_call *wait_done(struct brd_http *h, int max_ms)
{
    int64_t end = now_us() + (int64_t)max_ms * 1000;
    struct brd_http_call *c;
    while (!(c = brd_http_next_done(h))) {
        struct brd_error err;
        assert_int_equal(brd_http_wait(h, NULL, 0, 100, &err), 0);
        if (now_us() > end)
            fail_msg("no call finished within %d ms", max_ms);
    }
    return c;
}

/* One call: params / prev are JSON texts or NULL; budgets in ms from now
 * (0: none).  Returns start's status; the outcome is in *o. */
static int run(struct brd_http *h, const struct brd_api *api, const char *params, const char *prev,
               int node_ms, int workflow_ms, struct outcome *o)
{
    memset(o, 0, sizeof *o);
    struct json_object *pj = params ? parse(params) : NULL, *prevj = prev ? parse(prev) : NULL;
    int64_t t0 = now_us();
    struct brd_http_args a = {
        .api = api, .explicit_params = pj, .prev = prevj, .request_id = "req-123",
        .deadline_us = node_ms ? t0 + (int64_t)node_ms * 1000 : 0,
        .workflow_deadline_us = workflow_ms ? t0 + (int64_t)workflow_ms * 1000 : 0,
        .user = &o->rc,
    };
    struct brd_http_call *c = NULL;
    o->rc = brd_http_start(h, &a, &c, &o->err);
    /* The call keeps what it needs: the inputs may go at once. */
    json_object_put(pj);
    json_object_put(prevj);
    if (o->rc < 0) {
        assert_null(c);
        o->elapsed_ms = (now_us() - t0) / 1000;
        return -1;
    }
    assert_int_equal(brd_http_in_flight(h), 1);
    struct brd_http_call *done = wait_done(h, 20000);
    assert_ptr_equal(done, c);
    assert_ptr_equal(brd_http_user(c), &o->rc);
    assert_int_equal(brd_http_in_flight(h), 0);
    o->elapsed_ms = (now_us() - t0) / 1000;
    o->rc = brd_http_result(c, &o->raw, &o->err);
    o->attempts = brd_http_attempts(c);
    o->request = brd_http_request_json(c);
    assert_non_null(o->request);
    brd_http_call_free(c);
    return 0;
}

static void outcome_clear(struct outcome *o)
{
    json_object_put(o->raw);
    json_object_put(o->request);
    o->raw = o->request = NULL;
}

static void expect_ok(const struct outcome *o)
{
    if (o->rc != 0)
        fail_msg("call failed: %s: %s", brd_code_name(o->err.code), o->err.msg);
}

static void expect_error(const struct outcome *o, enum brd_code code, const char *text)
{
    if (o->rc != -1)
        fail_msg("call succeeded with %s, want %s", brd_json_compact(o->raw, NULL), brd_code_name(code));
    if (o->err.code != code || !strstr(o->err.msg, text))
        fail_msg("got %s \"%s\", want %s with \"%s\"", brd_code_name(o->err.code), o->err.msg,
                 brd_code_name(code), text);
}

/* A member of the echo response, by a dotted path ("query.q"). */
static struct json_object *get(struct json_object *o, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
        if (!json_object_object_get_ex(o, k, &o))
            fail_msg("no member %s in %s", path, brd_json_compact(o, NULL));
    return o;
}

static const char *gets(struct json_object *o, const char *path)
{
    struct json_object *v = get(o, path);
    if (!json_object_is_type(v, json_type_string))
        fail_msg("%s is %s, not a string", path, brd_json_compact(v, NULL));
    return json_object_get_string(v);
}

static void expect_json(struct json_object *v, const char *want)
{
    struct json_object *w = parse(want);
    if (!brd_json_equal(v, w))
        fail_msg("got %s, want %s", brd_json_compact(v, NULL), want);
    json_object_put(w);
}

/* ---- the tests ------------------------------------------------------------------------ */

static void get_with_a_path_parameter(void **state)
{
    (void)state;
    struct brd_http *h = new_http();
    struct brd_api *api = api_def("get_user",
        "{\"url\": \"${env.BRD_TEST_BACKEND}/users/{id}\", \"method\": \"GET\","
        " \"params\": {\"id\": {\"in\": \"path\", \"type\": \"int\", \"required\": true}}}");
    struct outcome o;
    assert_int_equal(run(h, api, "{\"id\": \"7\"}", NULL, 0, 0, &o), 0);
    expect_ok(&o);
    expect_json(o.raw, "{\"data\":[{\"id\":7,\"name\":\"user7\"}]}");
    assert_int_equal(o.attempts, 1);
    /* The trace shows the url as written: no value from the environment. */
    assert_string_equal(gets(o.request, "url"), "${env.BRD_TEST_BACKEND}/users/7");
    assert_string_equal(gets(o.request, "method"), "GET");
    assert_string_equal(gets(o.request, "headers.X-Request-Id"), "req-123");
    assert_null(get(o.request, "body"));
    outcome_clear(&o);
    brd_api_free(api);
    brd_http_free(h);
}

static void secrets_stay_out_of_traces_and_messages(void **state)
{
    (void)state;
    struct brd_http *h = new_http();
    struct brd_api *api = api_def("secret",
        "{\"url\": \"${env.BRD_TEST_BACKEND}/{where}\", \"method\": \"POST\","
        " \"headers\": {\"Authorization\": \"Bearer ${env.BRD_TEST_SECRET}\"},"
        " \"params\": {\"where\": {\"in\": \"path\", \"required\": true},"
        "   \"key\": {\"in\": \"query\", \"default\": \"${env.BRD_TEST_SECRET}\"},"
        "   \"token\": {\"default\": \"${env.BRD_TEST_SECRET}\"}, \"plain\": {}}}");
    struct outcome o;
    assert_int_equal(run(h, api, "{\"where\": \"echo\", \"plain\": 1}", NULL, 0, 0, &o), 0);
    expect_ok(&o);
    /* Sent for real... */
    assert_string_equal(gets(o.raw, "raw_query"), "key=s3cret");
    assert_string_equal(gets(o.raw, "headers.authorization"), "Bearer s3cret");
    expect_json(get(o.raw, "body"), "{\"token\":\"s3cret\",\"plain\":1}");
    /* ...but never shown. */
    assert_string_equal(gets(o.request, "url"), "${env.BRD_TEST_BACKEND}/echo?key=<redacted>");
    assert_string_equal(gets(o.request, "headers.Authorization"), "<redacted>");
    expect_json(get(o.request, "body"), "{\"token\":\"<redacted>\",\"plain\":1}");
    assert_null(strstr(brd_json_compact(o.request, NULL), "s3cret"));
    outcome_clear(&o);
    assert_int_equal(run(h, api, "{\"where\": \"notjson\"}", NULL, 0, 0, &o), 0);
    expect_error(&o, BRD_E_API_ERROR, "POST ${env.BRD_TEST_BACKEND}/notjson?key=<redacted> is not JSON");
    assert_null(strstr(o.err.msg, "s3cret"));
    outcome_clear(&o);
    brd_api_free(api);
    brd_http_free(h);
}

static void every_method(void **state)
{
    (void)state;
    static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
    struct brd_http *h = new_http();
    for (size_t i = 0; i < 5; i++) {
        char text[512];
        snprintf(text, sizeof text,
                 "{\"url\": \"${env.BRD_TEST_BACKEND}/echo\", \"method\": \"%s\","
                 " \"params\": {\"v\": {\"type\": \"int\"}}, \"headers\": {\"X-Api\": \"yes\"}}", methods[i]);
        struct brd_api *api = api_def("echo", text);
        struct outcome o;
        assert_int_equal(run(h, api, "{\"v\": 5}", NULL, 0, 0, &o), 0);
        expect_ok(&o);
        assert_string_equal(gets(o.raw, "method"), methods[i]);
        assert_string_equal(gets(o.raw, "headers.x-request-id"), "req-123");
        assert_string_equal(gets(o.raw, "headers.accept"), "application/json");
        assert_string_equal(gets(o.raw, "headers.user-agent"), "braid/" BRD_VERSION);
        assert_string_equal(gets(o.raw, "headers.x-api"), "yes");
        assert_false(json_object_object_get_ex(get(o.raw, "headers"), "expect", NULL));
        bool in_body = i >= 1 && i <= 3;   /* POST, PUT, PATCH: body by default */
        if (in_body) {
            expect_json(get(o.raw, "body"), "{\"v\":5}");
            assert_string_equal(gets(o.raw, "headers.content-type"), "application/json");
            expect_json(get(o.raw, "query"), "{}");
            expect_json(get(o.request, "body"), "{\"v\":5}");
        } else {
            assert_null(get(o.raw, "body"));
            assert_string_equal(gets(o.raw, "query.v"), "5");
            assert_false(json_object_object_get_ex(get(o.raw, "headers"), "content-type", NULL));
        }
        outcome_clear(&o);
        brd_api_free(api);
    }

    /* A POST without body parameters sends an empty body, not a form. */
    struct brd_api *api = api_def("post_empty", "{\"url\": \"${env.BRD_TEST_BACKEND}/echo\", \"method\": \"POST\"}");
    struct outcome o;
    assert_int_equal(run(h, api, NULL, NULL, 0, 0, &o), 0);
    expect_ok(&o);
    assert_string_equal(gets(o.raw, "headers.content-length"), "0");
    assert_false(json_object_object_get_ex(get(o.raw, "headers"), "content-type", NULL));
    outcome_clear(&o);
    brd_api_free(api);
    brd_http_free(h);
}

static void awkward_values_are_encoded(void **state)
{
    (void)state;
    struct brd_http *h = new_http();
    struct brd_api *api = api_def("enc",
        "{\"url\": \"${env.BRD_TEST_BACKEND}/echo/{seg}?fixed=1\", \"method\": \"GET\","
        " \"params\": {\"seg\": {\"in\": \"path\", \"required\": true},"
        "   \"q\": {}, \"tags\": {\"type\": \"array\"}, \"n\": {\"type\": \"number\"}, \"flag\": {\"type\": \"bool\"},"
        "   \"obj\": {\"type\": \"object\"}, \"gone\": {}, \"k y\": {}}}");
    struct outcome o;
    assert_int_equal(run(h, api,
        "{\"seg\": \"a b/c&d%e?\u00e9#\", \"q\": \"x y&z=1+2%/\u00e9\", \"tags\": [\"a\", \"b c\", null, 3],"
        " \"n\": 2.5, \"flag\": \"true\", \"obj\": {\"k\": [1, \"&\"]}, \"gone\": null, \"k y\": \"=\"}",
        NULL, 0, 0, &o), 0);
    expect_ok(&o);
    assert_string_equal(gets(o.raw, "path"), "/echo/a%20b%2Fc%26d%25e%3F%C3%A9%23");
    assert_string_equal(gets(o.raw, "raw_query"),
                        "fixed=1&q=x%20y%26z%3D1%2B2%25%2F%C3%A9&tags=a&tags=b%20c&tags=3&n=2.5&flag=true"
                        "&obj=%7B%22k%22%3A%5B1%2C%22%26%22%5D%7D&k%20y=%3D");
    /* And decoded by a standard form parser, every value comes back whole. */
    expect_json(get(o.raw, "query"),
                "{\"fixed\":\"1\",\"q\":\"x y&z=1+2%/\u00e9\",\"tags\":[\"a\",\"b c\",\"3\"],\"n\":\"2.5\","
                "\"flag\":\"true\",\"obj\":\"{\\\"k\\\":[1,\\\"&\\\"]}\",\"k y\":\"=\"}");
    outcome_clear(&o);

    /* "", "." and ".." would change the resource a path names. */
    static const char *const bad[] = {"{\"seg\": \"..\"}", "{\"seg\": \".\"}", "{\"seg\": \"\"}"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(run(h, api, bad[i], NULL, 0, 0, &o), -1);
        expect_error(&o, BRD_E_BAD_REQUEST, "cannot be used as a path segment");
        assert_int_equal(brd_http_in_flight(h), 0);
    }
    /* "..." is an ordinary name. */
    assert_int_equal(run(h, api, "{\"seg\": \"...\"}", NULL, 0, 0, &o), 0);
    assert_string_equal(gets(o.raw, "path"), "/echo/...");
    outcome_clear(&o);
    brd_api_free(api);
    brd_http_free(h);
}

static void header_and_body_parameters(void **state)
{
    (void)state;
    struct brd_http *h = new_http();
    struct brd_api *api = api_def("hb",
        "{\"url\": \"${env.BRD_TEST_BACKEND}/echo\", \"method\": \"POST\","
        " \"headers\": {\"X-Token\": \"${env.BRD_TEST_SECRET}\", \"Accept\": \"application/vnd+json\"},"
        " \"params\": {\"X-User\": {\"in\": \"header\"}, \"X-Num\": {\"in\": \"header\", \"type\": \"int\"},"
        "   \"X-Empty\": {\"in\": \"header\"},"
        "   \"name\": {\"type\": \"string\"}, \"age\": {\"type\": \"int\"}, \"tags\": {\"type\": \"array\"},"
        "   \"note\": {}, \"lang\": {\"default\": \"\u00e9n\"}}}");
    struct outcome o;
    assert_int_equal(run(h, api,
        "{\"X-User\": \"alice smith \u00e9\", \"X-Num\": \"42\", \"X-Empty\": \"\", \"name\": \"x\\\"y\","
        " \"age\": \"30\", \"tags\": \"one\", \"note\": null}", NULL, 0, 0, &o), 0);
    expect_ok(&o);
    assert_string_equal(gets(o.raw, "headers.x-user"), "alice smith \u00e9");
    assert_string_equal(gets(o.raw, "headers.x-num"), "42");
    assert_string_equal(gets(o.raw, "headers.x-empty"), "");
    assert_string_equal(gets(o.raw, "headers.x-token"), "s3cret");
    /* The API's own header replaces Braid's default. */
    assert_string_equal(gets(o.raw, "headers.accept"), "application/vnd+json");
    expect_json(get(o.raw, "body"), "{\"name\":\"x\\\"y\",\"age\":30,\"tags\":[\"one\"],\"lang\":\"\u00e9n\"}");
    /* In the trace the secret is redacted; the rest is as sent. */
    assert_string_equal(gets(o.request, "headers.X-Token"), "<redacted>");
    assert_string_equal(gets(o.request, "headers.X-User"), "alice smith \u00e9");
    assert_string_equal(gets(o.request, "headers.Content-Type"), "application/json");
    expect_json(get(o.request, "body"), "{\"name\":\"x\\\"y\",\"age\":30,\"tags\":[\"one\"],\"lang\":\"\u00e9n\"}");
    outcome_clear(&o);

    /* Header injection: CR, LF or NUL in a header value is refused before
     * anything is sent. */
    static const char *const evil[] = {"{\"X-User\": \"a\\r\\nX-Evil: 1\"}", "{\"X-User\": \"a\\nb\"}",
                                       "{\"X-User\": \"a\\u0000b\"}"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(run(h, api, evil[i], NULL, 0, 0, &o), -1);
        expect_error(&o, BRD_E_BAD_REQUEST, "api hb: parameter 'X-User': a header value cannot contain CR, LF or NUL");
        assert_int_equal(brd_http_in_flight(h), 0);
    }
    struct brd_http_args a = {.api = api, .request_id = "bad\r\nX-Evil: 1"};
    struct brd_http_call *c = NULL;
    assert_int_equal(brd_http_start(h, &a, &c, &o.err), -1);
    assert_int_equal(o.err.code, BRD_E_BAD_REQUEST);
    brd_api_free(api);
    brd_http_free(h);
}

static void same_name_mapping_defaults_and_missing(void **state)
{
    (void)state;
    struct brd_http *h = new_http();
    struct brd_api *api = api_def("echo_user",
        "{\"url\": \"${env.BRD_TEST_BACKEND}/echo/{id}\","
        " \"params\": {\"id\": {\"in\": \"path\", \"type\": \"int\", \"required\": true},"
        "   \"fields\": {\"default\": \"all\"}, \"limit\": {\"type\": \"int\"}}}");
    struct outcome o;
    /* Everything from the previous output (first level only). */
    assert_int_equal(run(h, api, NULL, "{\"id\": 3, \"limit\": \"5\", \"other\": 1, \"x\": {\"fields\": 1}}",
                         0, 0, &o), 0);
    expect_ok(&o);
    assert_string_equal(gets(o.raw, "path"), "/echo/3");
    assert_string_equal(gets(o.raw, "raw_query"), "fields=all&limit=5");
    outcome_clear(&o);
    /* The node's own params win; the rest still map. */
    assert_int_equal(run(h, api, "{\"fields\": \"name\"}", "{\"id\": 4, \"fields\": \"ignored\"}", 0, 0, &o), 0);
    assert_string_equal(gets(o.raw, "path"), "/echo/4");
    assert_string_equal(gets(o.raw, "raw_query"), "fields=name");
    outcome_clear(&o);
    /* A null in prev is no value: the default fills in. */
    assert_int_equal(run(h, api, "{\"id\": 1}", "{\"fields\": null}", 0, 0, &o), 0);
    assert_string_equal(gets(o.raw, "raw_query"), "fields=all");
    outcome_clear(&o);
    /* prev that is not an object maps nothing. */
    assert_int_equal(run(h, api, NULL, "[{\"id\": 1}]", 0, 0, &o), -1);
    expect_error(&o, BRD_E_PARAM_MISSING, "api echo_user: required parameter 'id' has no value");
    /* Nowhere to be found. */
    assert_int_equal(run(h, api, NULL, "{\"ID\": 1}", 0, 0, &o), -1);
    expect_error(&o, BRD_E_PARAM_MISSING, "api echo_user: required parameter 'id' has no value");
    assert_int_equal(run(h, api, NULL, NULL, 0, 0, &o), -1);
    expect_error(&o, BRD_E_PARAM_MISSING, "required parameter 'id'");
    /* The node set it to null (a reference that found nothing): no mapping. */
    assert_int_equal(run(h, api, "{\"id\": null}", "{\"id\": 2}", 0, 0, &o), -1);
    expect_error(&o, BRD_E_PARAM_MISSING, "required parameter 'id'");
    /* Not convertible. */
    assert_int_equal(run(h, api, "{\"id\": \"abc\"}", NULL, 0, 0, &o), -1);
    expect_error(&o, BRD_E_BAD_REQUEST, "api echo_user: parameter 'id': expected int, got \"abc\"");
    assert_int_equal(run(h, api, NULL, "{\"id\": 1, \"limit\": true}", 0, 0, &o), -1);
    expect_error(&o, BRD_E_BAD_REQUEST, "parameter 'limit': expected int, got true");
    /* Undeclared node params are not sent. */
    assert_int_equal(run(h, api, "{\"id\": 1, \"extra\": 2}", NULL, 0, 0, &o), 0);
    assert_string_equal(gets(o.raw, "raw_query"), "fields=all");
    outcome_clear(&o);
    assert_int_equal(brd_http_in_flight(h), 0);
    brd_api_free(api);
    brd_http_free(h);
}

static void upstream_errors(void **state)
{
    (void)state;
    struct brd_http *h = new_http();
    struct brd_api *api = api_def("st",
        "{\"url\": \"${env.BRD_TEST_BACKEND}/status/{code}\","
        " \"params\": {\"code\": {\"in\": \"path\", \"type\": \"int\", \"required\": true}}}");
    struct outcome o;
    assert_int_equal(run(h, api, "{\"code\": 404}", NULL, 0, 0, &o), 0);
    expect_error(&o, BRD_E_API_ERROR,
                 "api st: HTTP 404 from GET ${env.BRD_TEST_BACKEND}/status/404: {\"status\":404}");
    assert_int_equal(o.attempts, 1);
    outcome_clear(&o);
    /* Redirects are not followed: a 3xx is an error like any non-2xx. */
    assert_int_equal(run(h, api, "{\"code\": 302}", NULL, 0, 0, &o), 0);
    expect_error(&o, BRD_E_API_ERROR, "HTTP 302 from GET");
    outcome_clear(&o);
    assert_int_equal(run(h, api, "{\"code\": 500}", NULL, 0, 0, &o), 0);
    expect_error(&o, BRD_E_API_ERROR, "HTTP 500");
    outcome_clear(&o);
    /* 204 has no body: the result is null. */
    assert_int_equal(run(h, api, "{\"code\": 204}", NULL, 0, 0, &o), 0);
    expect_ok(&o);
    assert_null(o.raw);
    outcome_clear(&o);
    assert_int_equal(run(h, api, "{\"code\": 201}", NULL, 0, 0, &o), 0);
    expect_ok(&o);
    expect_json(o.raw, "{\"status\":201}");
    outcome_clear(&o);
    brd_api_free(api);

    api = api_def("nj", "{\"url\": \"${env.BRD_TEST_BACKEND}/notjson\"}");
    assert_int_equal(run(h, api, NULL, NULL, 0, 0, &o), 0);
    expect_error(&o, BRD_E_API_ERROR, "is not JSON");
    assert_non_null(strstr(o.err.msg, "hello"));
    outcome_clear(&o);
    brd_api_free(api);

    api = api_def("cl", "{\"url\": \"${env.BRD_TEST_BACKEND}/close\"}");
    assert_int_equal(run(h, api, NULL, NULL, 0, 0, &o), 0);
    expect_error(&o, BRD_E_API_ERROR, "api cl: the connection closed without a response to GET");
    outcome_clear(&o);
    brd_api_free(api);

    api = api_def("refused", "{\"url\": \"${env.BRD_TEST_REFUSED}/x\"}");
    assert_int_equal(run(h, api, NULL, NULL, 0, 0, &o), 0);
    expect_error(&o, BRD_E_API_ERROR, "api refused: cannot connect for GET ${env.BRD_TEST_REFUSED}/x");
    assert_int_equal(o.attempts, 1);
    outcome_clear(&o);
    brd_api_free(api);
    brd_http_free(h);
}

static void timeouts(void **state)
{
    (void)state;
    struct brd_http *h = new_http();
    struct outcome o;
    /* The API's own timeout_ms. */
    struct brd_api *api = api_def("slow_api",
        "{\"url\": \"${env.BRD_TEST_BACKEND}/slow?ms=2000\", \"timeout_ms\": 200}");
    assert_int_equal(run(h, api, NULL, NULL, 5000, 10000, &o), 0);
    expect_error(&o, BRD_E_API_TIMEOUT, "api slow_api: no response within 200 ms");
    assert_in_range(o.elapsed_ms, 150, 1000);
    outcome_clear(&o);
    brd_api_free(api);

    api = api_def("slow_wf", "{\"url\": \"${env.BRD_TEST_BACKEND}/slow?ms=2000\", \"timeout_ms\": 5000}");
    /* The workflow's deadline is the one that ran out: TIMEOUT. */
    assert_int_equal(run(h, api, NULL, NULL, 0, 200, &o), 0);
    expect_error(&o, BRD_E_TIMEOUT, "the workflow's deadline passed");
    assert_in_range(o.elapsed_ms, 150, 1000);
    outcome_clear(&o);
    assert_int_equal(run(h, api, NULL, NULL, 200, 200, &o), 0);
    expect_error(&o, BRD_E_TIMEOUT, "the workflow's deadline passed");
    outcome_clear(&o);
    /* The node's budget, shorter than the workflow's: API_TIMEOUT. */
    assert_int_equal(run(h, api, NULL, NULL, 200, 5000, &o), 0);
    expect_error(&o, BRD_E_API_TIMEOUT, "the node's time budget ran out");
    assert_in_range(o.elapsed_ms, 150, 1000);
    outcome_clear(&o);

    /* A deadline already gone: nothing starts. */
    /* One clock reading for both: two could put the node's deadline a
     * microsecond before the workflow's and give API_TIMEOUT. */
    int64_t gone = now_us() - 1000;
    struct brd_http_args a = {.api = api, .deadline_us = gone, .workflow_deadline_us = gone};
    struct brd_http_call *c = NULL;
    assert_int_equal(brd_http_start(h, &a, &c, &o.err), -1);
    assert_int_equal(o.err.code, BRD_E_TIMEOUT);
    assert_int_equal(brd_http_in_flight(h), 0);
    brd_api_free(api);
    brd_http_free(h);
}

static void retries(void **state)
{
    (void)state;
    struct brd_http *h = new_http();
    struct outcome o;
    struct brd_api *api = api_def("flaky",
        "{\"url\": \"${env.BRD_TEST_BACKEND}/flaky\", \"params\": {\"key\": {}, \"fail\": {\"type\": \"int\"}},"
        " \"retry\": {\"attempts\": 3, \"backoff_ms\": 20, \"on\": [\"5xx\"]}}");
    /* Two 503s, then success on the third attempt. */
    assert_int_equal(run(h, api, "{\"key\": \"k1\", \"fail\": 2}", NULL, 0, 0, &o), 0);
    expect_ok(&o);
    expect_json(o.raw, "{\"attempt\":3}");
    assert_int_equal(o.attempts, 3);
    /* Backoff 20 ms then 40 ms. */
    assert_true(o.elapsed_ms >= 55);
    outcome_clear(&o);
    /* Still failing after every attempt: the last error, with the count. */
    assert_int_equal(run(h, api, "{\"key\": \"k2\", \"fail\": 5}", NULL, 0, 0, &o), 0);
    expect_error(&o, BRD_E_API_ERROR, "HTTP 503");
    assert_non_null(strstr(o.err.msg, "(after 3 attempts)"));
    assert_int_equal(o.attempts, 3);
    outcome_clear(&o);
    brd_api_free(api);

    /* A condition not listed is not retried; neither is a 4xx. */
    api = api_def("flaky_connect_only",
        "{\"url\": \"${env.BRD_TEST_BACKEND}/flaky\", \"params\": {\"key\": {}, \"fail\": {\"type\": \"int\"}},"
        " \"retry\": {\"attempts\": 3, \"backoff_ms\": 1, \"on\": [\"connect\"]}}");
    assert_int_equal(run(h, api, "{\"key\": \"k3\", \"fail\": 1}", NULL, 0, 0, &o), 0);
    expect_error(&o, BRD_E_API_ERROR, "HTTP 503");
    assert_int_equal(o.attempts, 1);
    outcome_clear(&o);
    brd_api_free(api);
    api = api_def("st_retry", "{\"url\": \"${env.BRD_TEST_BACKEND}/status/404\", \"retry\": {\"attempts\": 3, \"backoff_ms\": 1}}");
    assert_int_equal(run(h, api, NULL, NULL, 0, 0, &o), 0);
    expect_error(&o, BRD_E_API_ERROR, "HTTP 404");
    assert_int_equal(o.attempts, 1);
    outcome_clear(&o);
    brd_api_free(api);

    /* Connect failures and timeouts, when listed. */
    api = api_def("refused_retry", "{\"url\": \"${env.BRD_TEST_REFUSED}/x\", \"retry\": {\"attempts\": 3, \"backoff_ms\": 10, \"on\": [\"connect\"]}}");
    assert_int_equal(run(h, api, NULL, NULL, 0, 0, &o), 0);
    expect_error(&o, BRD_E_API_ERROR, "cannot connect");
    assert_int_equal(o.attempts, 3);
    outcome_clear(&o);
    brd_api_free(api);
    api = api_def("timeout_retry", "{\"url\": \"${env.BRD_TEST_BACKEND}/slow?ms=1000\", \"timeout_ms\": 100,"
                                   " \"retry\": {\"attempts\": 2, \"backoff_ms\": 10, \"on\": [\"timeout\"]}}");
    assert_int_equal(run(h, api, NULL, NULL, 0, 0, &o), 0);
    expect_error(&o, BRD_E_API_TIMEOUT, "no response within 100 ms");
    assert_int_equal(o.attempts, 2);
    assert_in_range(o.elapsed_ms, 190, 900);
    outcome_clear(&o);
    brd_api_free(api);
    brd_http_free(h);
}

static void backoff_never_passes_the_deadline(void **state)
{
    (void)state;
    struct brd_http *h = new_http();
    struct outcome o;
    struct brd_api *api = api_def("flaky_slow_backoff",
        "{\"url\": \"${env.BRD_TEST_BACKEND}/flaky\", \"params\": {\"key\": {}, \"fail\": {\"type\": \"int\"}},"
        " \"retry\": {\"attempts\": 5, \"backoff_ms\": 300, \"on\": [\"5xx\"]}}");
    /* Attempt 1 at 0 ms, attempt 2 after 300 ms; the next backoff (600 ms)
     * would end past the 500 ms budget: give up at once with the 503. */
    assert_int_equal(run(h, api, "{\"key\": \"k4\", \"fail\": 100}", NULL, 500, 5000, &o), 0);
    expect_error(&o, BRD_E_API_ERROR, "HTTP 503");
    assert_int_equal(o.attempts, 2);
    assert_in_range(o.elapsed_ms, 290, 499);
    outcome_clear(&o);
    brd_api_free(api);
    brd_http_free(h);
}

static int connections(struct brd_http *h, const struct brd_api *api)
{
    struct outcome o;
    assert_int_equal(run(h, api, NULL, NULL, 0, 0, &o), 0);
    expect_ok(&o);
    int n = (int)json_object_get_int64(get(o.raw, "accepted"));
    outcome_clear(&o);
    return n;
}

static void keep_alive_connections_are_reused(void **state)
{
    (void)state;
    struct brd_http *h = new_http();
    struct brd_api *conn = api_def("conn", "{\"url\": \"${env.BRD_TEST_BACKEND}/connections\"}");
    struct brd_api *user = api_def("user",
        "{\"url\": \"${env.BRD_TEST_BACKEND}/users/{id}\", \"params\": {\"id\": {\"in\": \"path\", \"required\": true}}}");
    struct brd_api *post = api_def("post", "{\"url\": \"${env.BRD_TEST_BACKEND}/echo\", \"method\": \"POST\","
                                           " \"params\": {\"a\": {}}}");
    int before = connections(h, conn);
    struct outcome o;
    for (int i = 0; i < 6; i++) {
        char p[32];
        snprintf(p, sizeof p, "{\"id\": %d, \"a\": %d}", i, i);
        assert_int_equal(run(h, i % 2 ? post : user, p, NULL, 0, 0, &o), 0);
        expect_ok(&o);
        outcome_clear(&o);
    }
    /* An error response keeps the connection too. */
    struct brd_api *st = api_def("st404", "{\"url\": \"${env.BRD_TEST_BACKEND}/status/404\"}");
    assert_int_equal(run(h, st, NULL, NULL, 0, 0, &o), 0);
    outcome_clear(&o);
    int after = connections(h, conn);
    assert_int_equal(after, before);
    brd_api_free(st);
    brd_api_free(conn);
    brd_api_free(user);
    brd_api_free(post);
    brd_http_free(h);
}

static void parallel_calls_overlap(void **state)
{
    (void)state;
    struct brd_http *h = new_http();
    struct brd_api *api = api_def("slow300", "{\"url\": \"${env.BRD_TEST_BACKEND}/slow?ms=300\"}");
    int users[3];
    struct brd_http_call *calls[3];
    struct brd_error err;
    int64_t t0 = now_us();
    for (int i = 0; i < 3; i++) {
        struct brd_http_args a = {.api = api, .request_id = "par", .user = &users[i],
                                  .deadline_us = t0 + 5000000, .workflow_deadline_us = t0 + 5000000};
        assert_int_equal(brd_http_start(h, &a, &calls[i], &err), 0);
    }
    assert_int_equal(brd_http_in_flight(h), 3);
    int seen = 0;
    for (int n = 0; n < 3; n++) {
        struct brd_http_call *c = wait_done(h, 5000);
        int *u = brd_http_user(c);
        assert_true(u >= users && u < users + 3);
        seen |= 1 << (u - users);
        struct json_object *raw = NULL;
        assert_int_equal(brd_http_result(c, &raw, &err), 0);
        expect_json(raw, "{\"slept_ms\":300}");
        json_object_put(raw);
        brd_http_call_free(c);
    }
    int64_t ms = (now_us() - t0) / 1000;
    print_message("three parallel 300 ms calls took %lld ms\n", (long long)ms);
    assert_int_equal(seen, 7);
    assert_in_range(ms, 290, 599);
    assert_int_equal(brd_http_in_flight(h), 0);
    brd_api_free(api);
    brd_http_free(h);
}

static void response_size_is_capped(void **state)
{
    (void)state;
    struct brd_http *h = new_http();
    struct brd_api *api = api_def("big", "{\"url\": \"${env.BRD_TEST_BACKEND}/big\", \"params\": {\"bytes\": {\"type\": \"int\"}}}");
    struct outcome o;
    assert_int_equal(run(h, api, "{\"bytes\": 1000000}", NULL, 0, 0, &o), 0);
    expect_ok(&o);
    assert_int_equal(json_object_get_string_len(o.raw), 999998);
    outcome_clear(&o);
    assert_int_equal(run(h, api, "{\"bytes\": 8388608}", NULL, 0, 0, &o), 0);
    expect_ok(&o);
    outcome_clear(&o);
    assert_int_equal(run(h, api, "{\"bytes\": 8388609}", NULL, 0, 0, &o), 0);
    expect_error(&o, BRD_E_API_ERROR, "is larger than 8 MiB");
    outcome_clear(&o);
    brd_api_free(api);
    brd_http_free(h);
}

static void cancel_and_free_with_calls_in_flight(void **state)
{
    (void)state;
    struct brd_http *h = new_http();
    struct brd_api *api = api_def("slow_c", "{\"url\": \"${env.BRD_TEST_BACKEND}/slow?ms=1000\"}");
    struct brd_api *fast = api_def("fast_c", "{\"url\": \"${env.BRD_TEST_BACKEND}/users/1\"}");
    struct brd_api *flaky = api_def("flaky_c", "{\"url\": \"${env.BRD_TEST_BACKEND}/flaky?key=kc&fail=100\","
                                               " \"retry\": {\"attempts\": 5, \"backoff_ms\": 5000}}");
    struct brd_http_args a = {.api = api};
    struct brd_http_call *c1, *c2, *c3, *c4;
    struct brd_error err;
    assert_int_equal(brd_http_start(h, &a, &c1, &err), 0);
    assert_int_equal(brd_http_start(h, &a, &c2, &err), 0);
    a.api = fast;
    assert_int_equal(brd_http_start(h, &a, &c3, &err), 0);
    a.api = flaky;
    assert_int_equal(brd_http_start(h, &a, &c4, &err), 0);
    assert_int_equal(brd_http_in_flight(h), 4);
    /* The fast one finishes and the flaky one goes into its long backoff;
     * the slow ones are still running. */
    int64_t end = now_us() + 3000000;
    while (brd_http_in_flight(h) > 3 || !brd_http_attempts(c4) || now_us() < end - 2800000) {
        assert_int_equal(brd_http_wait(h, NULL, 0, 50, &err), 0);
        assert_true(now_us() < end);
    }
    assert_int_equal(brd_http_in_flight(h), 3);
    assert_int_equal(brd_http_attempts(c4), 1);
    brd_http_cancel(c1);
    assert_int_equal(brd_http_in_flight(h), 2);
    brd_http_cancel(c4);   /* waiting for its retry */
    assert_int_equal(brd_http_in_flight(h), 1);
    /* c3 is finished and queued, c2 still running: brd_http_free frees both. */
    brd_http_free(h);
    brd_api_free(api);
    brd_api_free(fast);
    brd_api_free(flaky);
}

static void extra_fds_are_waited_on(void **state)
{
    (void)state;
    struct brd_http *h = new_http();
    struct brd_error err;
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct pollfd fds[1] = {{p[0], POLLIN, 0}};
    /* Nothing ready: the full timeout passes. */
    int64_t t0 = now_us();
    assert_int_equal(brd_http_wait(h, fds, 1, 100, &err), 0);
    assert_true(now_us() - t0 >= 90000);
    assert_int_equal(fds[0].revents, 0);
    /* Data: back at once with POLLIN. */
    assert_int_equal(write(p[1], "x", 1), 1);
    t0 = now_us();
    assert_int_equal(brd_http_wait(h, fds, 1, 5000, &err), 0);
    assert_true(now_us() - t0 < 1000000);
    assert_true(fds[0].revents & POLLIN);
    char ch;
    assert_int_equal(read(p[0], &ch, 1), 1);
    /* The writer gone: POLLHUP, which curl alone would not report. */
    close(p[1]);
    fds[0].revents = 0;
    t0 = now_us();
    assert_int_equal(brd_http_wait(h, fds, 1, 5000, &err), 0);
    assert_true(now_us() - t0 < 1000000);
    assert_true(fds[0].revents & POLLHUP);
    close(p[0]);

    /* While a call runs, the pipe still wakes the wait. */
    struct brd_api *api = api_def("slow_x", "{\"url\": \"${env.BRD_TEST_BACKEND}/slow?ms=300\"}");
    struct brd_http_args a = {.api = api};
    struct brd_http_call *c;
    assert_int_equal(pipe(p), 0);
    fds[0] = (struct pollfd){p[0], POLLIN, 0};
    assert_int_equal(brd_http_start(h, &a, &c, &err), 0);
    assert_int_equal(write(p[1], "y", 1), 1);
    t0 = now_us();
    assert_int_equal(brd_http_wait(h, fds, 1, 5000, &err), 0);
    assert_true(now_us() - t0 < 250000);
    assert_true(fds[0].revents & POLLIN);
    assert_null(brd_http_next_done(h));
    assert_ptr_equal(wait_done(h, 5000), c);
    brd_http_call_free(c);
    close(p[0]);
    close(p[1]);
    brd_api_free(api);
    brd_http_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(get_with_a_path_parameter),
        cmocka_unit_test(secrets_stay_out_of_traces_and_messages),
        cmocka_unit_test(every_method),
        cmocka_unit_test(awkward_values_are_encoded),
        cmocka_unit_test(header_and_body_parameters),
        cmocka_unit_test(same_name_mapping_defaults_and_missing),
        cmocka_unit_test(upstream_errors),
        cmocka_unit_test(timeouts),
        cmocka_unit_test(retries),
        cmocka_unit_test(backoff_never_passes_the_deadline),
        cmocka_unit_test(keep_alive_connections_are_reused),
        cmocka_unit_test(parallel_calls_overlap),
        cmocka_unit_test(response_size_is_capped),
        cmocka_unit_test(cancel_and_free_with_calls_in_flight),
        cmocka_unit_test(extra_fds_are_waited_on),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
