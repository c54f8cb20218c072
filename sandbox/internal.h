/* internal.h — what the sandbox's own files share: the pipe protocol, the
 * zygote's messages, the global options.  Never included outside sandbox/. */
#ifndef BRD_SANDBOX_INTERNAL_H
#define BRD_SANDBOX_INTERNAL_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "clock.h"
#include "error.h"
#include "sandbox.h"

/* ---- dropping root (sandbox/privs.c) ---------------------------------------- */

/* Who a sandboxed process becomes.  switch_user only when braid runs as
 * root; otherwise the process keeps braid's uid (and only its capabilities
 * are dropped). */
struct brd_sbx_privs {
    bool switch_user;
    uid_t uid;
    gid_t gid;
};

/* In the master: resolves BRAID_SANDBOX_USER (a name, or "uid:gid";
 * default "nobody").  A user that does not exist, root as the sandbox user,
 * or root without CAP_SETUID/CAP_SETGID are BRD_E_USAGE errors. */
int brd_privs_configure(struct brd_sbx_privs *out, struct brd_error *err);

/* In the zygote, before any fork: the highest capability number of the
 * kernel (/proc/sys/kernel/cap_last_cap, checked with PR_CAPBSET_READ);
 * -1 if it cannot be found. */
int brd_privs_last_cap(void);

/* In a sandboxed process, before seccomp: empties the bounding set (EPERM
 * accepted only without CAP_SETPCAP), the ambient set, switches to p's
 * user (setgroups(0), setresgid, setresuid) when asked, empties every
 * capability set, and reads the result back.  0, or -1 when anything is
 * not as it must be. */
int brd_privs_drop(const struct brd_sbx_privs *p, int last_cap);

/* ---- global state set by brd_sandbox_init (sandbox/pyfn.c) ---------------- */

struct brd_sbx_global {
    bool inited;
    enum brd_sandbox_layers layers;
    size_t result_max, output_max, traceback_max;
    struct sock_filter *bpf;      /* the compiled seccomp filter */
    unsigned short bpf_len;
    struct brd_sbx_privs privs;   /* who sandboxed processes become */
};
extern struct brd_sbx_global brd_sbx_g;

/* Initialises CPython in isolated mode in this process (master or zygote). */
int brd_pyfn_py_init(struct brd_error *err);

/* ---- the function object (sandbox/pyfn.c) --------------------------------- */

struct brd_pyfn {
    char *name;
    char *modname;                /* __name__ inside the sandbox */
    char *filename;               /* co_filename: "functions/NAME.py" */
    char *source;                 /* for traceback lines */
    size_t source_len;
    char *code;                   /* marshal of the module's code object */
    size_t code_len;
    struct brd_pyfn_settings settings;
};

/* ---- seccomp (sandbox/policy.c) -------------------------------------------- */

/* Compiles the allow-list to BPF: *prog is malloc'd, *len instructions. */
int brd_policy_compile(struct sock_filter **prog, unsigned short *len, struct brd_error *err);

/* Loads a compiled filter into this process (after no_new_privs).  Only
 * async-signal-safe calls: used in the freshly forked child.  0 or -errno. */
int brd_policy_load(const struct sock_filter *prog, unsigned short len);

/* ---- the pipe protocol between the pool and one sandboxed process ---------- */

/* The call socket's descriptor number inside a sandboxed process. */
#define BRD_SBX_FD 3

/* RLIMIT_CPU's hard limit for a sandboxed process (seconds).  The soft
 * limit starts at one call's budget and the owner raises it before each
 * later call of a reused process; raising a soft limit up to the hard one
 * needs no privilege (raising the hard one would need CAP_SYS_RESOURCE,
 * which a worker does not have).  The process cannot change either: its
 * seccomp filter allows no setrlimit/prlimit. */
#define BRD_SBX_CPU_HARD ((rlim_t)24 * 3600)

#define BRD_PROTO_MAGIC 0x31445242u        /* "BRD1" */

enum brd_proto_type {
    BRD_PROTO_INIT = 1,   /* pool→child: len0 marshalled code, len1 source,
                             len2 module name, len3 filename;
                             arg = result_max, aux = output_max,
                             seq = traceback_max */
    BRD_PROTO_CALL,       /* pool→child: len0 event, len1 request_id,
                             len2 workflow, len3 node (a length of
                             UINT32_MAX = None); arg = deadline (Unix ms) */
    BRD_PROTO_READY,      /* child→pool, once: arg = 0 when the module ran and
                             defines handler, else a brd_code; len0 message,
                             len1 print output, len2 traceback */
    BRD_PROTO_RESULT,     /* child→pool, once per CALL: arg = 0 (len0 = result
                             JSON) or a brd_code (len0 = message); len1 print
                             output, len2 traceback; aux = output bytes dropped */
};

#define BRD_PROTO_NONE UINT32_MAX           /* a CALL string that is None */

struct brd_proto_hdr {
    uint32_t magic;
    uint32_t type;
    uint64_t seq;                 /* CALL/RESULT: the call's number */
    int64_t arg;
    uint32_t aux;
    uint32_t len[4];
    uint32_t pad;
};

/* Sum of the payload lengths (NONE counts 0); SIZE_MAX if it overflows. */
size_t brd_proto_payload(const struct brd_proto_hdr *h);

/* Appends a frame (header + the parts whose lens are neither 0 nor
 * BRD_PROTO_NONE) to the malloc'd *buf of *len bytes.  0, or -1 when out
 * of memory (then *buf may end in part of the frame: discard it). */
int brd_proto_append(char **buf, size_t *len, uint32_t type, uint64_t seq, int64_t arg,
                     uint32_t aux, const char *const parts[4], const uint32_t lens[4]);

/* Validates a header a child sent: magic, type READY or RESULT, an arg
 * that is 0 or a function error code, lengths within the caps. */
int brd_proto_check_reply(const struct brd_proto_hdr *h, size_t result_max,
                          size_t output_max, size_t traceback_max);

/* ---- zygote control messages (SOCK_SEQPACKET) ------------------------------ */

#define BRD_ZYGOTE_ARGV0 "braid-sandbox-zygote"

enum brd_zmsg_type {
    BRD_Z_HELLO = 1,      /* pool→zygote: arg = layers, aux = 1 to switch the
                             user, seq = uid << 32 | gid; the BPF program
                             follows */
    BRD_Z_READY,          /* zygote→pool: warmed up (arg = VmSize bytes) or
                             failed (arg < 0, message follows) */
    BRD_Z_SPAWN,          /* pool→zygote: start a process; SCM_RIGHTS = its
                             socket; arg = memory_mb, aux = timeout_ms */
    BRD_Z_SPAWNED,        /* zygote→pool: arg = pid, or -errno */
};

struct brd_zmsg {
    uint32_t magic;
    uint32_t type;
    uint64_t seq;
    int64_t arg;
    uint32_t aux;
    uint32_t len;                 /* bytes following the header */
};

/* ---- the zygote and its children (sandbox/zygote.c, sandbox/runner.c) ----- */

/* Runs the zygote's warm-up: CPython, the allowed modules imported and
 * exercised, warnings/unraisable hooks.  In the zygote only. */
int brd_runner_warmup(enum brd_sandbox_layers layers, struct brd_error *err);

/* In a freshly forked process, after PyOS_AfterFork_Child: reseeds the
 * random module (the warm-up keeps its at-fork hook out).  0, or -1. */
int brd_runner_after_fork(void);

/* The sandboxed process's life after fork: reads INIT, seals itself (the
 * seccomp filter last), runs the module, then serves CALLs on BRD_SBX_FD
 * until EOF.  Never returns. */
__attribute__((noreturn)) void brd_runner_main(enum brd_sandbox_layers layers,
                                               const struct sock_filter *bpf,
                                               unsigned short bpf_len);

/* Starts a zygote for this process: *pid, *ctl = its control socket (the
 * HELLO already sent, READY read).  *vsz = its address-space size. */
int brd_zygote_start(pid_t *pid, int *ctl, struct brd_error *err);

#endif
