/* admin_http.c — the admin port's request-line and header parser
 * (admin_http.h), after RFC 9112 sections 2–5: strict where leniency has
 * caused request smuggling elsewhere (bare CR, whitespace before a colon,
 * obs-fold), lenient where the RFC allows it (bare LF, leading empty
 * lines).  A cursor over the bytes received so far; running out of them
 * anywhere is "need more". */
#include "admin_http.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#define MORE (-1) /* internal: the bytes end before the request does */

struct cursor {
    const unsigned char *b;
    size_t len, i;
};

/* RFC 9110 5.6.2 tchar. */
static bool tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* A line end: CRLF or a bare LF.  0, MORE or 400. */
static int eol(struct cursor *c)
{
    if (c->i == c->len)
        return MORE;
    if (c->b[c->i] == '\n') {
        c->i++;
        return 0;
    }
    if (c->b[c->i] != '\r')
        return 400;
    if (c->i + 1 == c->len)
        return MORE;
    if (c->b[c->i + 1] != '\n')
        return 400; /* a bare CR */
    c->i += 2;
    return 0;
}

/* Expects the literal s. */
static int literal(struct cursor *c, const char *s)
{
    for (; *s; s++, c->i++) {
        if (c->i == c->len)
            return MORE;
        if (c->b[c->i] != (unsigned char)*s)
            return 400;
    }
    return 0;
}

static int digit(struct cursor *c, int *out)
{
    if (c->i == c->len)
        return MORE;
    unsigned char d = c->b[c->i];
    if (d < '0' || d > '9')
        return 400;
    c->i++;
    *out = d - '0';
    return 0;
}

/* The path of a request-target t[0..n): origin form "/p?q", or absolute
 * form "http://host/p?q" (which a server must accept, RFC 9112 3.2.2). */
static int target_path(const char *t, size_t n, char *path)
{
    size_t skip = 0;
    if (n >= 7 && strncasecmp(t, "http://", 7) == 0)
        skip = 7;
    else if (n >= 8 && strncasecmp(t, "https://", 8) == 0)
        skip = 8;
    else if (n == 0 || t[0] != '/')
        return 400; /* "*", "healthz", ... */
    if (skip) {
        size_t host = skip;
        while (skip < n && t[skip] != '/' && t[skip] != '?')
            skip++;
        if (skip == host)
            return 400; /* no authority: "http:///x" */
    }
    /* Here t[skip] is '/', '?' or the end. */
    size_t e = skip;
    while (e < n && t[e] != '?')
        e++;
    if (e == skip) { /* "http://host" or "http://host?q" */
        strcpy(path, "/");
        return 0;
    }
    memcpy(path, t + skip, e - skip);
    path[e - skip] = '\0';
    return 0;
}

static int request_line(struct cursor *c, struct brd_admin_http_req *r)
{
    /* Leading empty lines are skipped (RFC 9112 2.2). */
    while (c->i < c->len && (c->b[c->i] == '\r' || c->b[c->i] == '\n')) {
        int st = eol(c);
        if (st)
            return st;
    }
    size_t m0 = c->i;
    while (c->i < c->len && tchar(c->b[c->i]))
        if (++c->i - m0 > BRD_ADMIN_HTTP_METHOD_MAX)
            return 501; /* longer than any method there is to serve */
    if (c->i == c->len)
        return MORE;
    if (c->b[c->i] != ' ' || c->i == m0)
        return 400;
    memcpy(r->method, c->b + m0, c->i - m0);
    r->method[c->i - m0] = '\0';
    c->i++;

    size_t t0 = c->i;
    while (c->i < c->len && c->b[c->i] > 0x20 && c->b[c->i] < 0x7F)
        if (++c->i - t0 > BRD_ADMIN_HTTP_TARGET_MAX)
            return 414;
    if (c->i == c->len)
        return MORE;
    if (c->b[c->i] != ' ' || c->i == t0)
        return 400;
    size_t t1 = c->i++;

    int major, st;
    if ((st = literal(c, "HTTP/")) || (st = digit(c, &major)) || (st = literal(c, ".")) ||
        (st = digit(c, &r->minor)) || (st = eol(c)))
        return st;
    if (major != 1)
        return 505;
    return target_path((const char *)c->b + t0, t1 - t0, r->path);
}

/* Header lines up to the empty line: "name:" then a value without control
 * bytes (HTAB and obs-text allowed); never interpreted. */
static int headers(struct cursor *c)
{
    for (int count = 0;; count++) {
        if (c->i == c->len)
            return MORE;
        unsigned char ch = c->b[c->i];
        if (ch == '\r' || ch == '\n')
            return eol(c); /* the empty line: the end */
        if (ch == ' ' || ch == '\t')
            return 400; /* obs-fold (RFC 9112 5.2) */
        if (count == BRD_ADMIN_HTTP_HEADERS_MAX)
            return 431;
        size_t n0 = c->i;
        while (c->i < c->len && tchar(c->b[c->i]))
            c->i++;
        if (c->i == c->len)
            return MORE;
        if (c->b[c->i] != ':' || c->i == n0)
            return 400; /* no name, or whitespace before the colon (RFC 9112 5.1) */
        c->i++;
        for (; c->i < c->len && c->b[c->i] != '\r' && c->b[c->i] != '\n'; c->i++) {
            unsigned char v = c->b[c->i];
            if ((v < 0x20 && v != '\t') || v == 0x7F)
                return 400;
        }
        int st = eol(c);
        if (st)
            return st;
    }
}

int brd_admin_http_parse(const char *buf, size_t len, struct brd_admin_http_req *req)
{
    if (len > BRD_ADMIN_HTTP_MAX)
        len = BRD_ADMIN_HTTP_MAX;
    struct cursor c = {(const unsigned char *)buf, len, 0};
    struct brd_admin_http_req r;
    int st = request_line(&c, &r);
    if (st == 0)
        st = headers(&c);
    if (st == MORE)
        return len >= BRD_ADMIN_HTTP_MAX ? 431 : 0;
    if (st != 0)
        return st;
    *req = r;
    return 200;
}

const char *brd_admin_http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
    }
}
