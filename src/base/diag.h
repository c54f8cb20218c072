/* diag.h — a list of load-time problems, so that `braid check` can report
 * every error in a service directory rather than stopping at the first.
 * Each message already names its file (and node and field, where known). */
#ifndef BRD_DIAG_H
#define BRD_DIAG_H

#include <stddef.h>

#include "error.h"

struct brd_diags {
    char **msgs;     /* owned */
    size_t count, cap;
    int nomem;       /* set when a message could not be stored */
};

/* Appends a printf-formatted message. Returns -1 (for `return brd_diag_add(..)`). */
int brd_diag_add(struct brd_diags *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends "prefix: err->msg". Returns -1. */
int brd_diag_error(struct brd_diags *d, const char *prefix, const struct brd_error *err);

void brd_diags_free(struct brd_diags *d);

#endif
