/* fuzz_admin_http.c — libFuzzer harness for runtime/admin_http.c, the
 * admin port's request parser: arbitrary bytes as what a client sent,
 * checking the statuses it may give, what a complete request holds, and
 * that a verdict given on a prefix stands once more bytes arrive (the
 * master answers as soon as the parser says anything but "more"). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "admin_http.h"

static int parse(const uint8_t *data, size_t size, struct brd_admin_http_req *r)
{
    int st = brd_admin_http_parse((const char *)data, size, r);
    switch (st) {
    case 0:
        if (size >= BRD_ADMIN_HTTP_MAX)
            abort(); /* the buffer is full: a verdict is due */
        break;
    case 200: {
        size_t m = strlen(r->method), p = strlen(r->path);
        if (m == 0 || m > BRD_ADMIN_HTTP_METHOD_MAX || p == 0 || p > BRD_ADMIN_HTTP_TARGET_MAX ||
            r->path[0] != '/' || strchr(r->path, '?') || r->minor < 0 || r->minor > 9)
            abort();
        for (size_t i = 0; i < p; i++)
            if ((unsigned char)r->path[i] <= 0x20 || (unsigned char)r->path[i] >= 0x7F)
                abort();
        break;
    }
    case 400: case 414: case 431: case 501: case 505:
        break;
    default:
        abort();
    }
    return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct brd_admin_http_req whole, part;
    int st = parse(data, size, &whole);
    /* Prefixes: any verdict but "more" is final. */
    size_t cuts[] = {size / 2, size > 0 ? size - 1 : 0, size / 3};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        int ps = parse(data, cuts[i], &part);
        if (ps != 0 && ps != st)
            abort();
        if (ps == 200 && (strcmp(part.method, whole.method) || strcmp(part.path, whole.path)))
            abort();
    }
    return 0;
}
