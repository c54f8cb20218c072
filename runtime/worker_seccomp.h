/* worker_seccomp.h — the worker's own system call filter: a deny-list of
 * what a FastCGI worker never needs (executing programs, debugging other
 * processes, kernel modules, mounts, BPF, ...), so a bug in request handling
 * cannot be turned into any of them.  The function sandboxes have their own,
 * far stricter allow-list (sandbox/policy.c). */
#ifndef BRD_WORKER_SECCOMP_H
#define BRD_WORKER_SECCOMP_H

#include "base/error.h"

/* Loads the filter into the calling process (sets no_new_privs first).
 * Irreversible; everything that needs execve (the sandbox zygote) must have
 * been started before.  Denied calls fail with EPERM (ENOSYS for clone3, so
 * that libc falls back to clone, whose namespace flags are checked). */
int brd_worker_seccomp_install(struct brd_error *err);

#endif
