/* fnrunner.h — the sandbox as the engine's function runner (src/fnrun.h):
 * runtime/ is the one layer that knows both, so it wires them here. */
#ifndef BRD_FNRUNNER_H
#define BRD_FNRUNNER_H

#include "fnrun.h"

/* Initialises the sandbox (once per process, before any fork) and fills
 * *runner.  The pool of sandboxed processes is created on first use, in
 * the process that makes the call (so each worker gets its own). */
int brd_fnrunner_init(struct brd_fn_runner *runner, struct brd_error *err);

/* Kills this process's sandboxed processes (before exit, or in a freshly
 * forked worker that must not touch its parent's pool). */
void brd_fnrunner_shutdown(void);

#endif
