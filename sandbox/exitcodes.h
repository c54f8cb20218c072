/* exitcodes.h — the exit statuses a sandboxed process ends with on its own
 * (zygote.c's child_main, runner.c) and what they mean to the pool that
 * reaps it (call.c); and the zygote's own.  Never included outside sandbox/.
 *
 * 121..126 are set-up failures: the process refused to run user code
 * because one of its protections could not be put in place; the pool turns
 * them into INTERNAL "the sandboxed process could not set itself up: …".
 * User code that reaches os._exit could end with the same numbers; that only
 * fails its own call, and the process is not reused either way. */
#ifndef BRD_SANDBOX_EXITCODES_H
#define BRD_SANDBOX_EXITCODES_H

#include <stddef.h>

enum brd_sbx_exit {
    /* Its work is over: EOF on the socket (the pool is done with it), a
     * write to the pool failed, or its last reply is sent (a violation, a
     * MemoryError, a module that failed to load). */
    BRD_SBX_EXIT_DONE = 0,
    /* Root or a capability could not be given up (privs.c): the bounding,
     * ambient or other capability sets, the groups, the uid/gid. */
    BRD_SBX_EXIT_PRIVS = 121,
    /* A resource limit (setrlimit: address space, CPU, files, processes,
     * core dumps, …) could not be set. */
    BRD_SBX_EXIT_LIMITS = 122,
    /* prctl could not make it non-dumpable or give it its parent-death
     * signal. */
    BRD_SBX_EXIT_PRCTL = 123,
    /* The descriptors it inherited from the zygote could not be closed. */
    BRD_SBX_EXIT_FDS = 124,
    /* Anything else of its set-up before user code: the pool's owner gone,
     * the call socket, memory, the INIT frame, the module object, trimmed
     * builtins, the audit hook, the print capture. */
    BRD_SBX_EXIT_SETUP = 125,
    /* no-new-privs or the seccomp filter could not be applied. */
    BRD_SBX_EXIT_SEAL = 126,
};

/* The zygote's own statuses.  Nobody reads them (the pool reaps it without
 * looking; a zygote that fails to start says why in its READY message when
 * it can), but they are named here with the rest. */
enum brd_zygote_exit {
    BRD_ZYGOTE_EXIT_DONE = 0,     /* the pool closed its control socket */
    BRD_ZYGOTE_EXIT_FAILED = 1,   /* could not start (no HELLO, warm-up failed, …) */
};

/* What a set-up failure status means, for messages; NULL for any other
 * status (0, or whatever user code passed to os._exit). */
static inline const char *brd_sbx_exit_reason(int status)
{
    switch (status) {
    case BRD_SBX_EXIT_PRIVS: return "its capabilities or root (uid, gid, groups) could not be dropped";
    case BRD_SBX_EXIT_LIMITS: return "a resource limit (setrlimit) could not be set";
    case BRD_SBX_EXIT_PRCTL: return "prctl (not dumpable, parent-death signal) failed";
    case BRD_SBX_EXIT_FDS: return "its inherited descriptors could not be closed";
    case BRD_SBX_EXIT_SETUP: return "its set-up failed before any user code ran";
    case BRD_SBX_EXIT_SEAL: return "no-new-privs or the seccomp filter could not be applied";
    default: return NULL;
    }
}

#endif
