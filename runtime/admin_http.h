/* admin_http.h — the admin port's HTTP/1.x request parser: the bytes a
 * client has sent so far → "need more", or the method and path of a
 * complete request, or the error status to answer.  Pure (no sockets, no
 * allocation), so tests and the fuzzer drive it directly; admin.c owns
 * the connection. */
#ifndef BRD_ADMIN_HTTP_H
#define BRD_ADMIN_HTTP_H

#include <stddef.h>

/* The request line and headers together may take this many bytes. */
#define BRD_ADMIN_HTTP_MAX 4096
/* Longest request-target (414 beyond), method (501) and header count (431). */
#define BRD_ADMIN_HTTP_TARGET_MAX 1024
#define BRD_ADMIN_HTTP_METHOD_MAX 15
#define BRD_ADMIN_HTTP_HEADERS_MAX 64

struct brd_admin_http_req {
    char method[BRD_ADMIN_HTTP_METHOD_MAX + 1];
    char path[BRD_ADMIN_HTTP_TARGET_MAX + 1];  /* the target's path: no query, not decoded */
    int minor;                                 /* HTTP/1.<minor> */
};

/* Parses buf[0..len), everything received so far (len <= BRD_ADMIN_HTTP_MAX):
 *   request-line = method SP request-target SP "HTTP/1." DIGIT, lines
 *   ending in CRLF or LF; then header lines ("name: value") up to an empty
 *   line.  Leading empty lines are skipped (RFC 9112 2.2).  Headers are
 *   checked for syntax and counted, never interpreted; bytes after the
 *   empty line (a body) are ignored.
 * Returns
 *   0    incomplete: read more (never when len >= BRD_ADMIN_HTTP_MAX);
 *   200  complete and well-formed: req filled (the target in origin form
 *        "/p?q" or absolute form "http://h/p?q" gives path "/p");
 *   400  malformed (bad request line or header line, a NUL, a bare CR,
 *        a control or non-ASCII byte in the target, obs-fold);
 *   414  the target is over BRD_ADMIN_HTTP_TARGET_MAX;
 *   431  no end of headers within BRD_ADMIN_HTTP_MAX bytes, or over
 *        BRD_ADMIN_HTTP_HEADERS_MAX header lines;
 *   501  a method over BRD_ADMIN_HTTP_METHOD_MAX (none is that long);
 *   505  an HTTP version other than 1.x.
 * Errors are reported as soon as they are certain (a bad request line
 * before its headers arrive).  req is filled only on 200. */
int brd_admin_http_parse(const char *buf, size_t len, struct brd_admin_http_req *req);

/* The reason phrase of the statuses above (and 200, 404, 405, 503). */
const char *brd_admin_http_reason(int status);

#endif
