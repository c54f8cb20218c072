/* policy.c — the seccomp allow-list of a sandboxed process: compiled once
 * (libseccomp → BPF) where brd_sandbox_init runs, loaded last in every
 * sandboxed process, right before any user code.  docs/sandbox.md has the
 * same list as a table, with the reasons. */
#include <errno.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* What the filter does with a call it refuses:
 *  - KILL (the filter's default): SIGSYS → SANDBOX_VIOLATION.  For every
 *    call, and every argument, that neither CPython nor glibc makes once
 *    the process is sealed — only hostile code would.
 *  - EINVAL, the kernel's own answer to a clock or an advice it does not
 *    know: for the clock ids and madvise advice outside the list.  A clock
 *    id is data Python code passes as it likes (time.clock_gettime(n)); an
 *    advice is a hint allocators may try and do without.  Every refused id
 *    gets the same EINVAL, which the kernel also gives for a pid that does
 *    not exist: another process's CPU clock looks exactly like no process.
 *
 * Every argument checked is an int (or a set of flags below bit 32), and
 * the kernel reads only its low 32 bits: so does the filter (masked
 * compares with 0xffffffff), whatever the caller left in the upper half. */

#define LOW32 0xffffffffull

/* System calls with no argument worth checking: memory given back, time
 * without a choice of clock, randomness (getrandom: GRND_RANDOM has had no
 * effect since Linux 5.6, other flags are refused by the kernel), the
 * process's own ids, leaving. */
static const int plain[] = {
    SCMP_SYS(brk),         SCMP_SYS(munmap),         SCMP_SYS(nanosleep),
    SCMP_SYS(gettimeofday), SCMP_SYS(time),          SCMP_SYS(getrandom),
    SCMP_SYS(exit_group),  SCMP_SYS(exit),           SCMP_SYS(rt_sigreturn),
    SCMP_SYS(restart_syscall), SCMP_SYS(sched_yield), SCMP_SYS(getpid),
    SCMP_SYS(gettid),
};

/* The clocks a process reads for itself (fixed ids, all below 16):
 * CPython's time(), monotonic(), perf_counter(), process_time(),
 * thread_time() and the CLOCK_* names of its time module, plus the coarse
 * clocks glibc's vDSO may fall back on.  Not the dynamic ids (negative:
 * another process's or thread's CPU clock, a clock device's fd — the
 * pid-0 encodings of one's own CPU clock too, which nothing here uses:
 * CLOCK_PROCESS_CPUTIME_ID is the same clock), not the alarm clocks. */
static const uint32_t clocks_read[] = {
    CLOCK_REALTIME,        CLOCK_MONOTONIC,        CLOCK_PROCESS_CPUTIME_ID,
    CLOCK_THREAD_CPUTIME_ID, CLOCK_MONOTONIC_RAW,  CLOCK_REALTIME_COARSE,
    CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME,        CLOCK_TAI,
};

/* time.sleep() sleeps on CLOCK_MONOTONIC, glibc's nanosleep() on
 * CLOCK_REALTIME.  A sleep until another process's CPU clock reaches a
 * value would be the same channel as reading it. */
static const uint32_t clocks_sleep[] = {CLOCK_REALTIME, CLOCK_MONOTONIC};

/* glibc's malloc gives memory back with MADV_DONTNEED (MADV_HUGEPAGE only
 * under a tunable, and the environment is empty); the rest are harmless
 * hints about one's own pages.  Refused, among others: MADV_HWPOISON and
 * MADV_SOFT_OFFLINE (take a physical page away from the machine),
 * MADV_MERGEABLE (KSM merging is a timing channel between processes),
 * MADV_PAGEOUT/COLD (push on the host's memory), MADV_REMOVE, the fork and
 * dump controls, MADV_POPULATE_*, MADV_COLLAPSE. */
static const uint32_t madvise_ok[] = {
    MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MADV_DONTNEED,
    MADV_FREE,   MADV_HUGEPAGE, MADV_NOHUGEPAGE,
};

/* The values checked by allow_only() are all below this. */
#define SMALL_VALUES 16u

static int rule(scmp_filter_ctx ctx, uint32_t action, int sys, unsigned arg, uint64_t mask, uint64_t value)
{
    struct scmp_arg_cmp cmp = SCMP_CMP(arg, SCMP_CMP_MASKED_EQ, mask, value);
    return seccomp_rule_add_array(ctx, action, sys, 1, &cmp);
}

/* Allows sys when the low 32 bits of argument arg are one of vals (each
 * below SMALL_VALUES) and answers `refuse` (an SCMP_ACT_ERRNO) for every
 * other value.  libseccomp has no "otherwise" for one system call, and
 * one unconditional rule would override the others, so the complement is
 * spelled out: each other value below SMALL_VALUES, and any value with a
 * bit at or above log2(SMALL_VALUES) set.  The allowed and refused sets
 * are disjoint, so the order of the rules in the BPF does not matter. */
static int allow_only(scmp_filter_ctx ctx, int sys, unsigned arg, const uint32_t *vals, size_t n,
                      uint32_t refuse)
{
    uint32_t allowed = 0;
    for (size_t i = 0; i < n; i++) {
        if (vals[i] >= SMALL_VALUES)
            return -EINVAL;
        allowed |= 1u << vals[i];
    }
    int rc = 0;
    for (uint32_t v = 0; v < SMALL_VALUES && rc == 0; v++)
        rc = rule(ctx, (allowed >> v) & 1 ? SCMP_ACT_ALLOW : refuse, sys, arg, LOW32, v);
    for (unsigned bit = 4; bit < 32 && rc == 0; bit++)
        rc = rule(ctx, refuse, sys, arg, 1ull << bit, 1ull << bit);
    return rc;
}

/* The rest of the list; 0 or a negative errno from libseccomp. */
static int add_rules(scmp_filter_ctx ctx)
{
    int rc = 0;
    for (size_t i = 0; i < sizeof plain / sizeof plain[0] && rc == 0; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, plain[i], 0);

    /* Reads and writes on the call socket only (fd 2 is closed; a write
     * there by CPython's fatal-error path just fails). */
    if (rc == 0)
        rc = rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(read), 0, LOW32, BRD_SBX_FD);
    if (rc == 0)
        rc = rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 0, LOW32, BRD_SBX_FD);
    if (rc == 0)
        rc = rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 0, LOW32, 2);

    /* Clocks: see clocks_read / clocks_sleep. */
    const uint32_t einval = SCMP_ACT_ERRNO(EINVAL);
    size_t nread = sizeof clocks_read / sizeof clocks_read[0];
    if (rc == 0)
        rc = allow_only(ctx, SCMP_SYS(clock_gettime), 0, clocks_read, nread, einval);
    if (rc == 0)
        rc = allow_only(ctx, SCMP_SYS(clock_getres), 0, clocks_read, nread, einval);
    if (rc == 0)
        rc = allow_only(ctx, SCMP_SYS(clock_nanosleep), 0, clocks_sleep,
                        sizeof clocks_sleep / sizeof clocks_sleep[0], einval);

    /* madvise(addr, len, advice): see madvise_ok. */
    if (rc == 0)
        rc = allow_only(ctx, SCMP_SYS(madvise), 2, madvise_ok, sizeof madvise_ok / sizeof madvise_ok[0],
                        einval);

    /* mmap(addr, len, prot, flags, fd, off): private anonymous memory,
     * readable and writable at most — never executable, never shared (not
     * even anonymously), no file, no huge pages from the host's pool, no
     * locked or prefaulted memory, no fixed address, no uninitialised
     * pages.  MAP_NORESERVE (malloc's arenas) and MAP_STACK may be set. */
    const uint64_t prot_any = LOW32 & ~(uint64_t)(PROT_READ | PROT_WRITE);
    const uint64_t map_must = LOW32 & ~(uint64_t)(MAP_NORESERVE | MAP_STACK);
    if (rc == 0) {
        struct scmp_arg_cmp mm[] = {
            SCMP_CMP(2, SCMP_CMP_MASKED_EQ, prot_any, 0),
            SCMP_CMP(3, SCMP_CMP_MASKED_EQ, map_must, MAP_PRIVATE | MAP_ANONYMOUS),
        };
        rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 2, mm);
    }
    /* mprotect(addr, len, prot): read/write at most (no PROT_EXEC, no
     * PROT_GROWSDOWN/UP, no PROT_SEM).  pkey_mprotect is not allowed. */
    if (rc == 0)
        rc = rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 2, prot_any, 0);
    /* mremap(old, old_len, new_len, flags): resize, or move where the
     * kernel likes (realloc of a big block) — no MREMAP_FIXED, no
     * MREMAP_DONTUNMAP. */
    if (rc == 0)
        rc = rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mremap), 3, LOW32, 0);
    if (rc == 0)
        rc = rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mremap), 3, LOW32, MREMAP_MAYMOVE);

    /* futex(uaddr, op, ...): wait and wake (glibc's locks and condition
     * variables; the process has one thread, so in practice none), private
     * or not, any clock.  No requeue, wake-op or priority-inheritance op:
     * code no one here needs and the futex code's worst history. */
    static const uint32_t futex_ops[] = {FUTEX_WAIT, FUTEX_WAKE, FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET};
    const uint64_t futex_cmd = LOW32 & ~(uint64_t)(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    for (size_t i = 0; i < sizeof futex_ops / sizeof futex_ops[0] && rc == 0; i++)
        rc = rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(futex), 1, futex_cmd, futex_ops[i]);

    /* rt_sigprocmask(how, set, old): reading the mask (set NULL, glibc's
     * sigsetjmp and friends) and unblocking (abort()).  Never blocking: a
     * blocked SIGXCPU would switch off the RLIMIT_CPU backstop. */
    if (rc == 0) {
        struct scmp_arg_cmp query = SCMP_CMP(1, SCMP_CMP_EQ, 0);
        rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(rt_sigprocmask), 1, &query);
    }
    if (rc == 0)
        rc = rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(rt_sigprocmask), 0, LOW32, SIG_UNBLOCK);
    return rc;
}

int brd_policy_compile(struct sock_filter **prog, unsigned short *len, struct brd_error *err)
{
    *prog = NULL;
    *len = 0;
    /* Anything not allowed below kills the process (SIGSYS → SANDBOX_VIOLATION). */
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
    if (!ctx)
        return brd_error_set(err, BRD_E_INTERNAL, "seccomp_init failed");
    /* A binary tree of system call numbers: read, write and the memory
     * calls do not walk past the clock rules' long chains. */
    int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    if (rc == 0)
        rc = add_rules(ctx);
    if (rc != 0) {
        seccomp_release(ctx);
        return brd_error_set(err, BRD_E_INTERNAL, "seccomp rule: %s", strerror(-rc));
    }
    /* libseccomp 2.5 exports to a descriptor only: go through a memfd. */
    int fd = memfd_create("braid-seccomp", MFD_CLOEXEC);
    if (fd < 0) {
        seccomp_release(ctx);
        return brd_error_set(err, BRD_E_INTERNAL, "memfd_create: %s", strerror(errno));
    }
    rc = seccomp_export_bpf(ctx, fd);
    seccomp_release(ctx);
    off_t size = rc == 0 ? lseek(fd, 0, SEEK_END) : -1;
    if (size <= 0 || size % (off_t)sizeof(struct sock_filter) != 0 ||
        size / (off_t)sizeof(struct sock_filter) > 4096) {
        close(fd);
        return brd_error_set(err, BRD_E_INTERNAL, "seccomp export failed");
    }
    struct sock_filter *f = malloc((size_t)size);
    if (!f) {
        close(fd);
        return brd_error_nomem(err);
    }
    if (pread(fd, f, (size_t)size, 0) != size) {
        free(f);
        close(fd);
        return brd_error_set(err, BRD_E_INTERNAL, "seccomp export: short read");
    }
    close(fd);
    *prog = f;
    *len = (unsigned short)(size / (off_t)sizeof(struct sock_filter));
    return 0;
}

int brd_policy_load(const struct sock_filter *prog, unsigned short len)
{
    struct sock_fprog fprog = {.len = len, .filter = (struct sock_filter *)prog};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -errno;
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0)
        return -errno;
    return 0;
}
