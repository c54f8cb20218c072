/* sandbox.h — running untrusted Python functions in sandboxed processes.
 *
 * The shape (docs/sandbox.md has the why):
 *   master:  brd_sandbox_init() once, then brd_pyfn_load() per function
 *            (compiles the source; never runs it);
 *   worker:  brd_sandbox_pool_new() once (starts this process's zygote),
 *            then per function call:
 *              brd_sandbox_call_start() → poll(brd_sandbox_call_fd(), POLLIN)
 *              → brd_sandbox_call_step() until it returns 1
 *              → brd_sandbox_call_collect() → brd_sandbox_call_free().
 *            Several calls may be in flight at once; each runs in its own
 *            process, a child of the pool's owner.
 *
 * Ownership: every object returned through an `out` pointer belongs to the
 * caller and has a matching _free.  Strings passed in are copied (or only
 * read during the call).  A struct brd_pyfn is immutable once loaded and
 * may be shared by any number of pools and calls, but must outlive them
 * (or be brd_sandbox_pool_forget()-ten by every pool that used it).
 *
 * Errors: fallible functions return 0 or -1 and fill a struct brd_error.
 * The outcome of a call is never a -1 from step(): it is a finished call
 * whose result carries one of the SPEC codes FUNCTION_ERROR,
 * FUNCTION_TIMEOUT, FUNCTION_MEMORY, SANDBOX_VIOLATION or INTERNAL.
 *
 * Processes: the pool's processes are children of the process that owns
 * the pool.  That process must not set SIGCHLD to SIG_IGN and must not
 * reap them with waitpid(-1, ...) — the pool reaps its own by pid.  Idle
 * processes are stopped (SIGSTOP) and continued for their next call: an
 * owner with a SIGCHLD handler installed without SA_NOCLDSTOP gets a
 * SIGCHLD for each (SIG_DFL, as the worker has it, gets none).
 */
#ifndef BRD_SANDBOX_H
#define BRD_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "jsonutil.h"

/* ---- one-time set-up ---------------------------------------------------- */

enum brd_sandbox_layers {
    BRD_SANDBOX_ALL = 0,          /* seccomp + rlimits + the Python layers */
    BRD_SANDBOX_SECCOMP_ONLY,     /* tests only: no import policy, no trimmed
                                     builtins, no audit hook */
};

struct brd_sandbox_options {
    size_t result_max;            /* bytes of result JSON; 0 = 1 MiB */
    size_t output_max;            /* bytes of print() output kept; 0 = 64 KiB */
    size_t traceback_max;         /* bytes of traceback kept; 0 = 16 KiB */
};

/* Initialises the sandbox in this process: CPython (isolated mode, used
 * here only to compile function sources), the seccomp filter (compiled
 * once to BPF, loaded later in every sandboxed process) and the options.
 * opt may be NULL (defaults).  The environment variable
 * BRAID_SANDBOX_LAYERS=seccomp-only (tests only) turns the Python layers
 * off; any other value but "all" or empty is an error.  Call once, in the
 * master, before forking; later calls return 0 and change nothing. */
int brd_sandbox_init(const struct brd_sandbox_options *opt, struct brd_error *err);

/* To be called in a child forked from a process that ran brd_sandbox_init
 * (a worker) before it uses CPython or the pool: re-initialises CPython's
 * per-process state (PyOS_AfterFork_Child).  Harmless when not needed. */
void brd_sandbox_after_fork(void);

/* Which layers are on (decided by brd_sandbox_init). */
enum brd_sandbox_layers brd_sandbox_layers(void);

/* ---- functions ------------------------------------------------------------ */

enum brd_pyfn_isolation {
    BRD_PYFN_WARM = 0,            /* one reusable process per function */
    BRD_PYFN_CALL,                /* a fresh process for every call */
};

struct brd_pyfn_settings {
    int timeout_ms;               /* default 1000; 1..600000 */
    int memory_mb;                /* default 128; 8..65536 */
    enum brd_pyfn_isolation isolation;  /* default warm */
    int max_calls;                /* default 1000; 1..1000000000 (warm only) */
};

struct brd_pyfn;

/* The defaults above. */
void brd_pyfn_settings_default(struct brd_pyfn_settings *s);

/* Parses a settings file's text (a JSON object with only the keys above).
 * path names the file in messages.  Unknown keys, wrong types and values
 * out of range are BRD_E_LOAD errors naming the file, the line and the key.
 * *out is filled with the defaults first. */
int brd_pyfn_settings_parse(const char *text, size_t len, const char *path,
                            struct brd_pyfn_settings *out, struct brd_error *err);

/* Loads DIR/functions/NAME.py and the optional DIR/functions/NAME.json.
 * The source is compiled (never run) and checked for a top-level
 * `handler` that can take (event, context).  Errors are BRD_E_LOAD with a
 * message "PATH:LINE: ..." (a missing file: "unknown function").  Needs
 * brd_sandbox_init.  *out is the caller's (brd_pyfn_free). */
int brd_pyfn_load(const char *dir, const char *name, struct brd_pyfn **out,
                  struct brd_error *err);

/* Same from memory: name is the function's name, path only names the
 * source in messages, settings may be NULL (defaults). */
int brd_pyfn_compile(const char *name, const char *path, const char *src, size_t len,
                     const struct brd_pyfn_settings *settings, struct brd_pyfn **out,
                     struct brd_error *err);

void brd_pyfn_free(struct brd_pyfn *fn);
const char *brd_pyfn_name(const struct brd_pyfn *fn);
const struct brd_pyfn_settings *brd_pyfn_get_settings(const struct brd_pyfn *fn);

/* ---- the pool and its calls -------------------------------------------------- */

struct brd_sandbox_pool;
struct brd_sandbox_call;

/* What the function is told about its call (SPEC §3 `context`). */
struct brd_sandbox_context {
    const char *request_id;       /* may be NULL (→ None) */
    const char *workflow;         /* may be NULL */
    const char *node;             /* may be NULL */
    int64_t deadline_ns;          /* absolute CLOCK_MONOTONIC time, 0 = none;
                                     the call is also bounded by timeout_ms */
};

struct brd_sandbox_result {
    bool ok;                      /* true: json/value hold the result */
    char *json;                   /* compact JSON text, NUL-terminated, or NULL */
    size_t json_len;
    struct json_object *value;    /* the parsed result (one reference; NULL is
                                     also JSON null — look at ok) */
    struct brd_error err;         /* when !ok: code and message */
    char *output;                 /* captured print() output ("" if none) */
    size_t output_len;
    bool output_truncated;
    char *traceback;              /* NULL, or the exception's traceback */
    int64_t duration_us;          /* start → finish, as seen by the caller */
    pid_t pid;                    /* process that ran it (0 if none) */
    unsigned process_calls;       /* 1 = first call that process served */
};

/* A pool for this process: starts its zygote (exec'd from /proc/self/exe
 * with an empty environment) and waits until it is ready (~50 ms).  Needs
 * brd_sandbox_init (in this process or before fork).  *out is the
 * caller's (brd_sandbox_pool_free). */
int brd_sandbox_pool_new(struct brd_sandbox_pool **out, struct brd_error *err);

/* Kills every process of the pool (and its zygote) and reaps them.  All
 * calls of the pool must have been freed first.  pool may be NULL. */
void brd_sandbox_pool_free(struct brd_sandbox_pool *pool);

/* Starts fn's next process ahead of its first call (its module's
 * top-level code runs then, inside the sandbox).  Optional. */
int brd_sandbox_pool_prewarm(struct brd_sandbox_pool *pool, const struct brd_pyfn *fn,
                             struct brd_error *err);

/* Kills the pool's processes for fn and drops every pointer to it (no call
 * of fn may be in flight).  Needed before brd_pyfn_free when the pool
 * lives on. */
void brd_sandbox_pool_forget(struct brd_sandbox_pool *pool, const struct brd_pyfn *fn);

/* Reaps the pool's processes that have exited since: those retired after
 * max_calls or an anomaly (killed when retired), and idle or spare ones
 * killed from outside.  Never blocks.  brd_sandbox_call_start does it too;
 * an owner that may sit idle calls it from its wait loop (the worker does,
 * through brd_fnrunner_usable, at least once a second), so that no
 * process stays a zombie while no call comes. */
void brd_sandbox_pool_reap(struct brd_sandbox_pool *pool);

/* The zygote's pid (for measurements). */
pid_t brd_sandbox_pool_zygote_pid(const struct brd_sandbox_pool *pool);

/* False when the pool's zygote has died (noticed without trying a spawn):
 * a caller that cannot start a new one (a worker under its seccomp filter
 * cannot exec) should stop taking work before a call fails for it. */
bool brd_sandbox_pool_healthy(const struct brd_sandbox_pool *pool);

/* Starts a call of fn with event[0..event_len) (a JSON text, not checked
 * here) and ctx (its strings are copied).  Never blocks on the function.
 * -1 only when the call cannot be started at all (out of memory, the
 * zygote cannot be (re)started): err says why (INTERNAL).  *out is the
 * caller's (brd_sandbox_call_free). */
int brd_sandbox_call_start(struct brd_sandbox_pool *pool, const struct brd_pyfn *fn,
                           const char *event, size_t event_len,
                           const struct brd_sandbox_context *ctx,
                           struct brd_sandbox_call **out, struct brd_error *err);

/* The descriptor to wait on (poll for POLLIN) until the call has
 * finished.  It becomes readable when the reply arrives, when the request
 * can be written further, and when the call's own time limit passes. The
 * call owns it; do not close it; stop polling it once the call finished. */
int brd_sandbox_call_fd(const struct brd_sandbox_call *call);

/* Latest absolute CLOCK_MONOTONIC time at which step() must run even if
 * the fd stayed quiet (the call's own time limit); for poll timeouts. */
int64_t brd_sandbox_call_deadline_ns(const struct brd_sandbox_call *call);

/* Does the non-blocking work the fd announced.  Returns 1 once the call
 * has finished (then collect), 0 while it has not.  Enforces the
 * wall-clock limit: past it, the process is killed and the call finishes
 * with FUNCTION_TIMEOUT. */
int brd_sandbox_call_step(struct brd_sandbox_call *call);

/* True once the call has finished. */
bool brd_sandbox_call_done(const struct brd_sandbox_call *call);

/* The caller's deadline passed: kills the process (a warm one is
 * replaced later) and finishes the call with FUNCTION_TIMEOUT.  No-op on
 * a finished call. */
void brd_sandbox_call_timeout(struct brd_sandbox_call *call);

/* Abandons the call: kills its process; the call finishes with INTERNAL
 * "cancelled".  No-op on a finished call. */
void brd_sandbox_call_cancel(struct brd_sandbox_call *call);

/* Blocking helper (CLI, tests, bench): polls and steps until finished. */
void brd_sandbox_call_wait(struct brd_sandbox_call *call);

/* Moves the finished call's result into *out (the caller then owns its
 * strings and value: brd_sandbox_result_free).  Returns 0 when the
 * function succeeded, -1 when it failed (out->err says how), and -1 with
 * INTERNAL if the call has not finished or was already collected. */
int brd_sandbox_call_collect(struct brd_sandbox_call *call, struct brd_sandbox_result *out);

/* Frees a call (cancelling it first if it has not finished).  NULL ok. */
void brd_sandbox_call_free(struct brd_sandbox_call *call);

/* Frees what a result owns and zeroes it.  NULL ok. */
void brd_sandbox_result_free(struct brd_sandbox_result *res);

/* ---- pieces exposed for tests ------------------------------------------------ */

/* Checks a result text sent by a sandboxed process: at most max bytes,
 * strict JSON (brd_json_parse).  On success *value is a new reference.
 * Errors are FUNCTION_ERROR with a message naming the problem. */
int brd_sandbox_check_result(const char *text, size_t len, size_t max,
                             struct json_object **value, struct brd_error *err);

#endif
