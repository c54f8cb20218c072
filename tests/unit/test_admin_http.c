/* test_admin_http.c — runtime/admin_http.c, the admin port's request
 * parser, without sockets: complete and partial requests (every prefix,
 * byte by byte), request-line syntax, bad and over-long methods, targets
 * (origin and absolute form, 414), versions (505), header syntax (bare CR,
 * obs-fold, whitespace before the colon), header count and size (431). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "admin_http.h"

static int parse_n(const char *buf, size_t len, struct brd_admin_http_req *r)
{
    return brd_admin_http_parse(buf, len, r);
}

static int parse(const char *s, struct brd_admin_http_req *r)
{
    return parse_n(s, strlen(s), r);
}

/* s is a complete request giving method and path; every proper prefix of
 * it is incomplete. */
static void complete(const char *s, const char *method, const char *path)
{
    struct brd_admin_http_req r;
    size_t n = strlen(s);
    int st = parse_n(s, n, &r);
    if (st != 200)
        fail_msg("%s: status %d", s, st);
    assert_string_equal(r.method, method);
    assert_string_equal(r.path, path);
    for (size_t k = 0; k < n; k++) {
        /* Past the empty line a body may follow: still complete there. */
        int pst = parse_n(s, k, &r);
        if (pst != 0 && pst != 200)
            fail_msg("%s: prefix of %zu bytes gives %d", s, k, pst);
    }
}

static void fails(const char *s, size_t n, int want)
{
    struct brd_admin_http_req r;
    memset(&r, 0x5a, sizeof r);
    int st = parse_n(s, n, &r);
    if (st != want)
        fail_msg("'%.*s': status %d, expected %d", (int)(n < 80 ? n : 80), s, st, want);
    /* Nothing is filled unless complete. */
    assert_int_equal((unsigned char)r.method[0], 0x5a);
}

#define FAILS(s, want) fails(s, sizeof s - 1, want)

static void well_formed_requests(void **state)
{
    (void)state;
    complete("GET /healthz HTTP/1.0\r\n\r\n", "GET", "/healthz");
    complete("GET /status HTTP/1.1\r\nHost: 127.0.0.1:9100\r\nUser-Agent: kube-probe/1.29\r\n"
             "Accept: */*\r\nConnection: close\r\n\r\n",
             "GET", "/status");
    complete("GET /metrics HTTP/1.1\nHost: x\n\n", "GET", "/metrics");     /* bare LF */
    complete("GET /metrics HTTP/1.1\r\nHost: x\n\r\n", "GET", "/metrics"); /* mixed */
    complete("POST /status HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello", "POST", "/status");
    complete("\r\n\r\nGET / HTTP/1.0\r\n\r\n", "GET", "/");               /* leading empty lines */
    complete("\nGET / HTTP/1.0\n\n", "GET", "/");
    complete("get /healthz HTTP/1.0\r\n\r\n", "get", "/healthz");         /* a token: 405 later */
}

static void tokens_and_targets(void **state)
{
    (void)state;
    struct brd_admin_http_req r;
    assert_int_equal(parse("GET /metrics?x=1&y HTTP/1.1\r\n\r\n", &r), 200);
    assert_string_equal(r.path, "/metrics");
    assert_int_equal(r.minor, 1);
    assert_int_equal(parse("GET /?a HTTP/1.0\r\n\r\n", &r), 200);
    assert_string_equal(r.path, "/");
    assert_int_equal(r.minor, 0);
    /* Not decoded: admin paths are plain names. */
    assert_int_equal(parse("GET /%68ealthz HTTP/1.0\r\n\r\n", &r), 200);
    assert_string_equal(r.path, "/%68ealthz");
    /* The absolute form (RFC 9112 3.2.2). */
    assert_int_equal(parse("GET http://127.0.0.1:9100/healthz?x HTTP/1.1\r\n\r\n", &r), 200);
    assert_string_equal(r.path, "/healthz");
    assert_int_equal(parse("GET HTTPS://h/status HTTP/1.1\r\n\r\n", &r), 200);
    assert_string_equal(r.path, "/status");
    assert_int_equal(parse("GET http://h HTTP/1.1\r\n\r\n", &r), 200);
    assert_string_equal(r.path, "/");
    assert_int_equal(parse("GET http://h?q HTTP/1.1\r\n\r\n", &r), 200);
    assert_string_equal(r.path, "/");
    FAILS("GET http:///x HTTP/1.1\r\n\r\n", 400);
    FAILS("GET http:// HTTP/1.1\r\n\r\n", 400);
    FAILS("GET ftp://h/x HTTP/1.1\r\n\r\n", 400);
    FAILS("OPTIONS * HTTP/1.1\r\n\r\n", 400);
    FAILS("GET healthz HTTP/1.0\r\n\r\n", 400);
    FAILS("GET ?x HTTP/1.0\r\n\r\n", 400);
    /* The longest method and target there is room for. */
    char buf[BRD_ADMIN_HTTP_MAX];
    int n = snprintf(buf, sizeof buf, "ABCDEFGHIJKLMNO /%0*d HTTP/1.0\r\n\r\n",
                     BRD_ADMIN_HTTP_TARGET_MAX - 1, 0);
    assert_int_equal(parse_n(buf, (size_t)n, &r), 200);
    assert_string_equal(r.method, "ABCDEFGHIJKLMNO");
    assert_int_equal(strlen(r.path), BRD_ADMIN_HTTP_TARGET_MAX);
}

static void partial_requests_need_more(void **state)
{
    (void)state;
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\r\n";
    struct brd_admin_http_req r;
    for (size_t k = 0; k < sizeof req - 1; k++)
        if (parse_n(req, k, &r) != 0)
            fail_msg("prefix %zu is not 'more'", k);
    assert_int_equal(parse_n(req, sizeof req - 1, &r), 200);
    assert_int_equal(parse("", &r), 0);
    assert_int_equal(parse("\r", &r), 0);
    assert_int_equal(parse("GET / HTTP/1.0\r", &r), 0);
    assert_int_equal(parse("GET / HTTP/1.0\r\nA: b\r", &r), 0);
    assert_int_equal(parse("GET / HTTP/1.0\r\n\r", &r), 0);
}

static void bad_request_lines(void **state)
{
    (void)state;
    FAILS("NONSENSE\r\n\r\n", 400);
    FAILS("GET /healthz\r\n\r\n", 400);                /* HTTP/0.9 */
    FAILS("GET\r\n\r\n", 400);
    FAILS("GET  /healthz HTTP/1.0\r\n\r\n", 400);      /* two spaces */
    FAILS("GET\t/healthz HTTP/1.0\r\n\r\n", 400);
    FAILS("GET /healthz\tHTTP/1.0\r\n\r\n", 400);
    FAILS(" GET / HTTP/1.0\r\n\r\n", 400);
    FAILS("GET / HTTP/1.0 \r\n\r\n", 400);
    FAILS("GET / http/1.0\r\n\r\n", 400);
    FAILS("GET / HTTP/1.10\r\n\r\n", 400);
    FAILS("GET / HTTP/1\r\n\r\n", 400);
    FAILS("GET / HTTP/1.\r\n\r\n", 400);
    FAILS("GET / HTTP/a.1\r\n\r\n", 400);
    FAILS("GET / HTTP/1.0 extra\r\n\r\n", 400);
    FAILS("GET / HTTP/1.0\rX\r\n\r\n", 400);           /* a bare CR */
    FAILS("\rGET / HTTP/1.0\r\n\r\n", 400);
    /* Errors are known before the headers arrive. */
    FAILS("GET  ", 400);
    FAILS("GET /x HTTP/1.0 ", 400);
    FAILS("GET /x HTTX", 400);
}

static void bad_and_long_methods(void **state)
{
    (void)state;
    FAILS(" / HTTP/1.0\r\n\r\n", 400);                 /* empty */
    FAILS("G(T / HTTP/1.0\r\n\r\n", 400);
    FAILS("GE,T / HTTP/1.0\r\n\r\n", 400);
    FAILS("G\xc3\x89T / HTTP/1.0\r\n\r\n", 400);
    FAILS("GET\0 / HTTP/1.0\r\n\r\n", 400);
    FAILS("\0", 400);
    FAILS("ABCDEFGHIJKLMNOP / HTTP/1.0\r\n\r\n", 501); /* 16 characters */
    FAILS("ABCDEFGHIJKLMNOP", 501);                    /* as soon as it is certain */
    char big[BRD_ADMIN_HTTP_MAX];
    memset(big, 'A', sizeof big);
    fails(big, sizeof big, 501);
}

static void bad_and_long_targets(void **state)
{
    (void)state;
    FAILS("GET /a\x01 HTTP/1.0\r\n\r\n", 400);
    FAILS("GET /a\x7f HTTP/1.0\r\n\r\n", 400);
    FAILS("GET /\xc3\xa9 HTTP/1.0\r\n\r\n", 400);
    FAILS("GET /a\0b HTTP/1.0\r\n\r\n", 400);
    FAILS("GET /a\r\n\r\n", 400);
    char buf[BRD_ADMIN_HTTP_MAX];
    int n = snprintf(buf, sizeof buf, "GET /%0*d HTTP/1.0\r\n\r\n", BRD_ADMIN_HTTP_TARGET_MAX, 0);
    fails(buf, (size_t)n, 414);
    /* Known as soon as the target passes the limit. */
    fails(buf, 4 + BRD_ADMIN_HTTP_TARGET_MAX + 1, 414);
    struct brd_admin_http_req r;
    assert_int_equal(parse_n(buf, 4 + BRD_ADMIN_HTTP_TARGET_MAX, &r), 0);
}

static void versions(void **state)
{
    (void)state;
    FAILS("GET / HTTP/2.0\r\n\r\n", 505);
    FAILS("GET / HTTP/0.9\r\n\r\n", 505);
    FAILS("GET / HTTP/3.0\r\n\r\n", 505);
    FAILS("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505);     /* the HTTP/2 preface */
    struct brd_admin_http_req r;
    assert_int_equal(parse("GET / HTTP/1.9\r\n\r\n", &r), 200);
    assert_int_equal(r.minor, 9);
}

static void bad_header_lines(void **state)
{
    (void)state;
    FAILS("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400);  /* space before the colon */
    FAILS("GET / HTTP/1.1\r\nHost\t: x\r\n\r\n", 400);
    FAILS("GET / HTTP/1.1\r\nHost\r\n\r\n", 400);      /* no colon */
    FAILS("GET / HTTP/1.1\r\n: x\r\n\r\n", 400);       /* no name */
    FAILS("GET / HTTP/1.1\r\nA(b: x\r\n\r\n", 400);
    FAILS("GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", 400);   /* obs-fold */
    FAILS("GET / HTTP/1.1\r\n\tA: b\r\n\r\n", 400);
    FAILS("GET / HTTP/1.1\r\nA: b\0c\r\n\r\n", 400);   /* NUL */
    FAILS("GET / HTTP/1.1\r\nA: b\x01\r\n\r\n", 400);
    FAILS("GET / HTTP/1.1\r\nA: b\x7f\r\n\r\n", 400);
    FAILS("GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", 400);   /* a bare CR */
    FAILS("GET / HTTP/1.1\r\nA: b\r\n\rx", 400);
    /* What a value may hold. */
    struct brd_admin_http_req r;
    assert_int_equal(parse("GET / HTTP/1.1\r\nA:\r\nB: \t x \t\r\nC: \xc3\xa9\xff\r\n"
                           "D: ()<>@,;:\\\"/[]?={}\r\n\r\n", &r), 200);
}

static void header_count_and_size_limits(void **state)
{
    (void)state;
    char buf[BRD_ADMIN_HTTP_MAX + 64];
    struct brd_admin_http_req r;
    /* BRD_ADMIN_HTTP_HEADERS_MAX lines pass, one more is 431. */
    size_t n = (size_t)snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < BRD_ADMIN_HTTP_HEADERS_MAX; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "H%d: v\r\n", i);
    memcpy(buf + n, "\r\n", 2);
    assert_int_equal(parse_n(buf, n + 2, &r), 200);
    memcpy(buf + n, "X: y\r\n\r\n", 8);
    fails(buf, n + 8, 431);
    fails(buf, n + 1, 431);          /* as soon as the extra line begins */

    /* No end of headers within BRD_ADMIN_HTTP_MAX bytes: 431. */
    n = (size_t)snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nBig: ");
    memset(buf + n, 'v', sizeof buf - n);
    assert_int_equal(parse_n(buf, BRD_ADMIN_HTTP_MAX - 1, &r), 0);
    fails(buf, BRD_ADMIN_HTTP_MAX, 431);
    /* More than that is looked at only up to the limit. */
    memcpy(buf + BRD_ADMIN_HTTP_MAX + 10, "\r\n\r\n", 4);
    fails(buf, BRD_ADMIN_HTTP_MAX + 14, 431);
    /* A request ending exactly at the limit is complete. */
    memcpy(buf + BRD_ADMIN_HTTP_MAX - 4, "\r\n\r\n", 4);
    assert_int_equal(parse_n(buf, BRD_ADMIN_HTTP_MAX, &r), 200);

    /* Nothing but empty lines, up to the limit. */
    for (size_t i = 0; i < BRD_ADMIN_HTTP_MAX; i += 2)
        memcpy(buf + i, "\r\n", 2);
    fails(buf, BRD_ADMIN_HTTP_MAX, 431);
}

static void reasons(void **state)
{
    (void)state;
    assert_string_equal(brd_admin_http_reason(200), "OK");
    assert_string_equal(brd_admin_http_reason(400), "Bad Request");
    assert_string_equal(brd_admin_http_reason(414), "URI Too Long");
    assert_string_equal(brd_admin_http_reason(431), "Request Header Fields Too Large");
    assert_string_equal(brd_admin_http_reason(501), "Not Implemented");
    assert_string_equal(brd_admin_http_reason(505), "HTTP Version Not Supported");
    assert_string_equal(brd_admin_http_reason(999), "Error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(well_formed_requests),
        cmocka_unit_test(tokens_and_targets),
        cmocka_unit_test(partial_requests_need_more),
        cmocka_unit_test(bad_request_lines),
        cmocka_unit_test(bad_and_long_methods),
        cmocka_unit_test(bad_and_long_targets),
        cmocka_unit_test(versions),
        cmocka_unit_test(bad_header_lines),
        cmocka_unit_test(header_count_and_size_limits),
        cmocka_unit_test(reasons),
    };
    return cmocka_run_group_tests_name("admin_http", tests, NULL, NULL);
}
