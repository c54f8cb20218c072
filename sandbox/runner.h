/* runner.h — what the files of a sandboxed process's Python side share:
 * runner.c (the process's life: INIT, the seal, the call loop, replies,
 * print capture), guard.c (the Python guard layers) and pyerror.c
 * (exceptions as text).  Includes Python.h; never included outside
 * sandbox/, and only by files that embed CPython. */
#ifndef BRD_SANDBOX_RUNNER_H
#define BRD_SANDBOX_RUNNER_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

/* How much of s[0..n) fits in room bytes without cutting a UTF-8 sequence
 * (print output and tracebacks end up in JSON: they must stay valid UTF-8). */
static inline size_t brd_runner_utf8_fit(const char *s, size_t n, size_t room)
{
    if (n <= room)
        return n;
    size_t take = room;
    while (take > 0 && ((unsigned char)s[take] & 0xC0) == 0x80)
        take--;
    return take;
}

/* ---- runner.c ----------------------------------------------------------------- */

/* Ends the call (or the module's init) as a SANDBOX_VIOLATION naming what,
 * and the process with it: nothing user code does can catch this.  Only C
 * and static buffers: it may run deep inside anything. */
__attribute__((noreturn)) void brd_runner_violation(const char *what);

/* ---- guard.c: import policy, open(), trimmed builtins, the audit hook --------- */

/* In the zygote's warm-up: makes the trimmed builtins of user code (the C
 * import policy, an open() that reports a violation, no
 * input/breakpoint/help/exit/…) once, so that a sandboxed process does not
 * copy the builtins dict (and the pages of every object in it) itself.
 * 0, or -1 with a Python error set or not. */
int brd_guard_prepare(void);

/* Gives the module's globals the trimmed builtins (brd_guard_prepare) and
 * adds the audit hook (inert until brd_guard_seal).  modname is the
 * module's __name__ (copied).  0, or -1 with a Python error set or not. */
int brd_guard_install(PyObject *globals, const char *modname);

/* From now on user code may run: any audit event outside the allow-list
 * is a violation.  Called right after the seccomp filter is loaded. */
void brd_guard_seal(void);

/* ---- pyerror.c: exceptions and tracebacks as text ------------------------------ */

/* Per process, after INIT: traceback_max bytes of traceback are kept; the
 * function's filename and source (both copied) give traceback lines of its
 * own file.  0, or -1 when out of memory. */
int brd_pyerr_setup(size_t traceback_max, const char *filename, const char *source,
                    size_t source_len);

/* A Python str's UTF-8, or fallback (u NULL, not a str, not encodable);
 * never leaves an exception set.  Borrowed from u. */
const char *brd_pyerr_utf8_or(PyObject *u, const char *fallback);

/* "Type: message" of an exception into buf.  str() runs user code, so
 * every way it can misbehave (raise, return a non-str, return megabytes)
 * ends in a fallback text rather than a failure. */
void brd_pyerr_message(PyObject *type, PyObject *value, char *buf, size_t size);

struct brd_pyerr {
    int64_t code;                 /* BRD_E_FUNCTION_ERROR or BRD_E_FUNCTION_MEMORY */
    char msg[420];                /* prefix + "Type: message" */
    const char *tb;               /* the traceback (pyerror's buffer, valid
                                     until the next brd_pyerr_take), or NULL */
    size_t tb_len;
};

/* Takes the pending exception (clears it) and formats it: a MemoryError
 * drops its frames before anything allocates and has no traceback. */
void brd_pyerr_take(const char *prefix, struct brd_pyerr *out);

#endif
