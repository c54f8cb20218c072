/* strbuf.h — a growable byte string for building text (URLs, templates,
 * header lines).  Failure is sticky: after an allocation fails every later
 * append is ignored, so a builder can append freely and check once. */
#ifndef BRD_STRBUF_H
#define BRD_STRBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct brd_strbuf {
    char *p;        /* NUL-terminated once anything was added (owned) */
    size_t len, cap;
    bool failed;    /* an allocation failed */
};

/* Appends s[0..n).  Returns 0, or -1 when this or an earlier append failed. */
int brd_strbuf_add(struct brd_strbuf *b, const char *s, size_t n);

static inline int brd_strbuf_str(struct brd_strbuf *b, const char *s)
{
    return brd_strbuf_add(b, s, strlen(s));
}

static inline void brd_strbuf_free(struct brd_strbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

#endif
