/* diag.c — the list of load-time problems (see diag.h). */
#include "diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int brd_diag_add(struct brd_diags *d, const char *fmt, ...)
{
    if (d->count == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        char **msgs = realloc(d->msgs, cap * sizeof *msgs);
        if (!msgs) {
            d->nomem = 1;
            return -1;
        }
        d->msgs = msgs;
        d->cap = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&d->msgs[d->count], fmt, ap);
    va_end(ap);
    if (n < 0) {
        d->nomem = 1;
        return -1;
    }
    d->count++;
    return -1;
}

int brd_diag_error(struct brd_diags *d, const char *prefix, const struct brd_error *err)
{
    return brd_diag_add(d, "%s: %s", prefix, err->msg);
}

void brd_diags_free(struct brd_diags *d)
{
    for (size_t i = 0; i < d->count; i++)
        free(d->msgs[i]);
    free(d->msgs);
    d->msgs = NULL;
    d->count = d->cap = 0;
}
