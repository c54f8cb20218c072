/* policy.c — the seccomp allow-list of a sandboxed process: compiled once
 * (libseccomp → BPF) where brd_sandbox_init runs, loaded last in every
 * sandboxed process, right before any user code. */
#include <errno.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

/* System calls CPython needs to compute, allocate, sleep and talk over its
 * socket — nothing that names a file, a socket, a process or a signal
 * target.  Anything else kills the process (SIGSYS → SANDBOX_VIOLATION). */
static const int plain[] = {
    SCMP_SYS(brk),          SCMP_SYS(munmap),        SCMP_SYS(mremap),
    SCMP_SYS(madvise),      SCMP_SYS(futex),         SCMP_SYS(clock_gettime),
    SCMP_SYS(clock_getres), SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep),
    SCMP_SYS(gettimeofday), SCMP_SYS(time),          SCMP_SYS(getrandom),
    SCMP_SYS(exit_group),   SCMP_SYS(exit),          SCMP_SYS(rt_sigreturn),
    SCMP_SYS(rt_sigprocmask), SCMP_SYS(restart_syscall), SCMP_SYS(sched_yield),
    SCMP_SYS(getpid),       SCMP_SYS(gettid),
};

int brd_policy_compile(struct sock_filter **prog, unsigned short *len, struct brd_error *err)
{
    *prog = NULL;
    *len = 0;
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
    if (!ctx)
        return brd_error_set(err, BRD_E_INTERNAL, "seccomp_init failed");
    int rc = 0;
    for (size_t i = 0; i < sizeof plain / sizeof plain[0] && rc == 0; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, plain[i], 0);
    /* Reads and writes on the call socket only (fd 2 is closed; a write
     * there by CPython's fatal-error path just fails). */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(read), 1, SCMP_A0(SCMP_CMP_EQ, BRD_SBX_FD));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 1, SCMP_A0(SCMP_CMP_EQ, BRD_SBX_FD));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 1, SCMP_A0(SCMP_CMP_EQ, 2));
    /* Anonymous, non-executable memory only. */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 2,
                              SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0),
                              SCMP_A3(SCMP_CMP_MASKED_EQ, MAP_ANONYMOUS, MAP_ANONYMOUS));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
                              SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
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
