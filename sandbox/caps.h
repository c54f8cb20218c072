/* caps.h — the process's capability sets, read and written with the raw
 * capget/capset system calls (no libcap): used by the sandboxed processes
 * (privs.c) and by the workers (runtime/worker_caps.c). */
#ifndef BRD_CAPS_H
#define BRD_CAPS_H

#include <stdint.h>

/* One bit per capability number (CAP_KILL = bit 5, ...). */
struct brd_caps {
    uint64_t eff, prm, inh;
};

/* This process's sets.  0, or -1 with errno. */
int brd_caps_get(struct brd_caps *c);

/* Sets this process's sets (only ever to fewer).  0, or -1 with errno. */
int brd_caps_set(const struct brd_caps *c);

#endif
