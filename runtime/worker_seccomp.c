/* worker_seccomp.c — the worker's deny-list seccomp filter (worker_seccomp.h). */
#include "worker_seccomp.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <string.h>

/* Calls a worker has no use for.  EPERM rather than a kill: a denied call
 * is a bug to report (the request fails, the worker lives), not a crash. */
static const char *const denied[] = {
    "execve", "execveat",                                  /* no programs */
    "ptrace", "process_vm_readv", "process_vm_writev",     /* no other processes' memory */
    "mount", "umount2", "pivot_root", "chroot", "fsopen", "fsmount", "move_mount",
    "open_tree", "fsconfig", "fspick", "mount_setattr",
    "init_module", "finit_module", "delete_module",        /* no kernel modules */
    "kexec_load", "kexec_file_load", "reboot",
    "swapon", "swapoff", "acct", "quotactl",
    "bpf", "perf_event_open", "userfaultfd",
    "keyctl", "add_key", "request_key",
    "setns", "unshare",                                    /* no namespaces */
    "open_by_handle_at", "name_to_handle_at",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
    "sethostname", "setdomainname", "syslog", "vhangup",
    "iopl", "ioperm", "uselib", "lookup_dcookie", "personality",
    "fanotify_init",
};

int brd_worker_seccomp_install(struct brd_error *err)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx)
        return brd_error_set(err, BRD_E_INTERNAL, "seccomp_init failed");
    int rc = 0;
    for (size_t i = 0; i < sizeof denied / sizeof *denied && rc == 0; i++) {
        int nr = seccomp_syscall_resolve_name(denied[i]);
        if (nr == __NR_SCMP_ERROR)
            continue; /* not a call on this architecture */
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
    }
    /* New namespaces through clone flags (one rule per flag: any of them
     * set is denied); clone3 hides its flags in memory a filter cannot
     * read, so it answers ENOSYS and libc falls back to clone. */
    static const unsigned long ns[] = {CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET,
                                       CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWCGROUP};
    for (size_t i = 0; i < sizeof ns / sizeof *ns && rc == 0; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, ns[i], ns[i]));
    if (rc == 0) {
        int nr = seccomp_syscall_resolve_name("clone3");
        if (nr != __NR_SCMP_ERROR)
            rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
    }
    if (rc == 0)
        rc = seccomp_load(ctx); /* sets no_new_privs (SCMP_FLTATR_CTL_NNP defaults on) */
    seccomp_release(ctx);
    if (rc != 0)
        return brd_error_set(err, BRD_E_INTERNAL, "cannot install the worker seccomp filter: %s",
                             strerror(-rc));
    return 0;
}
