/* fnrunner.h — the sandbox as the engine's function runner (src/fnrun.h):
 * runtime/ is the one layer that knows both, so it wires them here. */
#ifndef BRD_FNRUNNER_H
#define BRD_FNRUNNER_H

#include "fnrun.h"

/* Initialises the sandbox (once per process, before any fork) and fills
 * *runner.  The pool of sandboxed processes is created on first use, in
 * the process that makes the call (so each worker gets its own). */
int brd_fnrunner_init(struct brd_fn_runner *runner, struct brd_error *err);

/* In a worker, before it serves: creates this process's pool now (its
 * zygote is exec'd, so this must run before the worker's seccomp filter
 * forbids execve) and starts one process ahead for each of the n function
 * handles fns (a service's `functions`), so the first request pays for
 * neither.  fns may be NULL when n is 0 (then no pool is made). */
int brd_fnrunner_prewarm(void *const *fns, size_t n, struct brd_error *err);

/* False once this process's pool has lost its zygote and could not start
 * a new one (a worker under its seccomp filter cannot exec): function calls
 * can only fail from then on, so the worker should exit and be replaced.
 * True when this process has no pool.  Also reaps the sandboxed processes
 * that have exited (call it from the idle loop: none stays a zombie). */
bool brd_fnrunner_usable(void);

/* Kills this process's sandboxed processes (before exit, or in a freshly
 * forked worker that must not touch its parent's pool). */
void brd_fnrunner_shutdown(void);

#endif
