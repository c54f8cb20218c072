/* affinity.c — pinning a worker to its CPU (affinity.h). */
#include "affinity.h"

#include <errno.h>
#include <sched.h>
#include <string.h>

int brd_affinity_pin_worker(int slot, int workers, int *cpu, struct brd_error *err)
{
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0)
        return brd_error_set(err, BRD_E_INTERNAL, "sched_getaffinity: %s", strerror(errno));
    int n = CPU_COUNT(&allowed);
    if (slot < 0 || n < 1 || workers != n)
        return 0;
    /* Slots above the worker count (a reload's new workers while the old
     * ones finish) wrap round. */
    int want = slot % n, seen = 0;
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (!CPU_ISSET(c, &allowed) || seen++ != want)
            continue;
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(c, &one);
        if (sched_setaffinity(0, sizeof one, &one) != 0)
            return brd_error_set(err, BRD_E_INTERNAL, "sched_setaffinity(CPU %d): %s", c,
                                 strerror(errno));
        *cpu = c;
        return 1;
    }
    return 0;
}
