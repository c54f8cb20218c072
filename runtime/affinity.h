/* affinity.h — a worker and its sandboxed processes on one CPU.
 *
 * Every function call hands the request from the worker to its sandboxed
 * process and back.  On the same CPU that hand-off is a plain context
 * switch; across CPUs it is a wake-up IPI each way and cold caches (on the
 * 2-vCPU development VM: ~13% more requests per second, docs/performance.md).
 * With `--cpu-affinity auto` (the default) and exactly one worker per CPU
 * this process may run on (N of them: the default --workers, or a
 * container's cpuset), worker slot i is pinned to the (i mod N)-th of those
 * CPUs before it starts its zygote, which (and every sandboxed process it
 * forks) inherits the mask — as nginx's `worker_cpu_affinity auto`.  With
 * any other count nothing is pinned: more workers than CPUs are the
 * scheduler's to balance, and fewer (2 workers in a pod that sees a
 * 64-CPU node) must not all land on the node's first CPUs. */
#ifndef BRD_AFFINITY_H
#define BRD_AFFINITY_H

#include "base/error.h"

/* 1 when pinned (*cpu set), 0 when workers != CPUs, -1
 * with err when the kernel refused (the worker goes on unpinned). */
int brd_affinity_pin_worker(int slot, int workers, int *cpu, struct brd_error *err);

#endif
