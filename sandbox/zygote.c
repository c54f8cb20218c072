/* zygote.c — the lean, pre-warmed process that forks the sandboxed ones.
 *
 * A pool starts its zygote by exec'ing /proc/self/exe with an empty
 * environment and argv[0] = "braid-sandbox-zygote": a constructor below
 * catches that before main() and runs the zygote instead.  Exec'ing (rather
 * than forking the worker) means no secret of the worker (API tokens from
 * its environment, other functions' code, sockets) is in the memory that
 * untrusted code runs in, and /proc/self/environ shows nothing.  The zygote
 * forks each sandboxed process with CLONE_PARENT, so the process is the
 * pool owner's child: the owner reaps it and reads its exact exit status. */
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exitcodes.h"
#include "internal.h"

/* ---- in the zygote ------------------------------------------------------------- */

static int zsend(int fd, uint32_t type, uint64_t seq, int64_t arg, const void *extra, uint32_t len)
{
    char buf[sizeof(struct brd_zmsg) + 512];
    struct brd_zmsg m = {.magic = BRD_PROTO_MAGIC, .type = type, .seq = seq, .arg = arg, .len = len};
    if (len > 512)
        len = m.len = 512;
    memcpy(buf, &m, sizeof m);
    if (len)
        memcpy(buf + sizeof m, extra, len);
    return send(fd, buf, sizeof m + len, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

static long vm_size(void)
{
    long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    return pages * sysconf(_SC_PAGESIZE);
}

/* glibc caches the thread id in its thread descriptor; a raw clone() must
 * refresh it in the child the way fork() does (CLONE_CHILD_SETTID), or
 * raise() and friends would use the zygote's.  The offset is glibc's
 * (2.36, x86-64); it is checked against gettid() before use. */
static pid_t *tid_slot(void)
{
#if defined(__x86_64__) && defined(__GLIBC__)
    pid_t *slot = (pid_t *)((char *)pthread_self() + 720);
    if (*slot == (pid_t)syscall(SYS_gettid))
        return slot;
#endif
    return NULL;
}

struct zstate {
    enum brd_sandbox_layers layers;
    struct brd_sbx_privs privs;   /* who the children become */
    int last_cap;
    struct sock_filter *bpf;
    unsigned short bpf_len;
    long base_vsz;
    pid_t owner;
};

/* Sets a resource limit, never looser than the one inherited: when the
 * zygote's own hard limit is below ours (a container's ulimit; raising a
 * hard limit needs CAP_SYS_RESOURCE) the tighter of both is kept instead of
 * leaving the inherited soft limit in place.  0, or -1 when refused. */
static int set_limit(int res, rlim_t soft, rlim_t hard)
{
    struct rlimit rl = {.rlim_cur = soft, .rlim_max = hard};
    if (setrlimit(res, &rl) == 0)
        return 0;
    struct rlimit cur;
    if (errno != EPERM || getrlimit(res, &cur) != 0 || cur.rlim_max >= hard)
        return -1;
    rl.rlim_max = cur.rlim_max;
    rl.rlim_cur = soft < cur.rlim_max ? soft : cur.rlim_max;
    return setrlimit(res, &rl);
}

/* The child's side of a spawn: the order of DESIGN §3 — every other fd
 * closed, rlimits, root and every capability given up, no-new-privs; then
 * the runner seals with seccomp last.
 * Every step is checked: a process that cannot put a protection in place
 * exits with its reason (exitcodes.h) before any user code, and the pool
 * turns that into an INTERNAL error for the call. */
__attribute__((noreturn)) static void child_main(struct zstate *z, int sock, long memory_mb,
                                                 long timeout_ms)
{
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
        _exit(BRD_SBX_EXIT_PRCTL);
    if (getppid() != z->owner)
        _exit(BRD_SBX_EXIT_SETUP); /* the owner died before we could notice */
    /* Its name in ps, top and perf (cosmetic: a failure changes nothing). */
    (void)prctl(PR_SET_NAME, "braid-sandbox", 0, 0, 0);
    if (sock != BRD_SBX_FD) {
        if (dup2(sock, BRD_SBX_FD) < 0)
            _exit(BRD_SBX_EXIT_SETUP);
    } else if (fcntl(sock, F_SETFD, 0) != 0) {
        _exit(BRD_SBX_EXIT_SETUP);
    }
    /* 0..2 too: fd 2 is the worker's stderr, and seccomp allows write(2). */
    if (close_range(BRD_SBX_FD + 1, ~0U, 0) != 0 || close_range(0, BRD_SBX_FD - 1, 0) != 0)
        _exit(BRD_SBX_EXIT_FDS);
    rlim_t as = (rlim_t)z->base_vsz + ((rlim_t)16 << 20) + ((rlim_t)memory_mb << 20);
    rlim_t cpu = (rlim_t)(timeout_ms + 999) / 1000 + 1;
    if (set_limit(RLIMIT_AS, as, as) != 0 || set_limit(RLIMIT_CPU, cpu, BRD_SBX_CPU_HARD) != 0 ||
        set_limit(RLIMIT_FSIZE, 0, 0) != 0 ||
        set_limit(RLIMIT_NOFILE, BRD_SBX_FD + 1, BRD_SBX_FD + 1) != 0 ||
        set_limit(RLIMIT_CORE, 0, 0) != 0 || set_limit(RLIMIT_NPROC, 0, 0) != 0 ||
        set_limit(RLIMIT_MEMLOCK, 0, 0) != 0 || set_limit(RLIMIT_MSGQUEUE, 0, 0) != 0)
        _exit(BRD_SBX_EXIT_LIMITS);
    /* RLIMIT_NPROC 0 does not stop setresuid (since Linux 3.1 the kernel
     * only flags the next execve, which seccomp forbids anyway). */
    if (brd_privs_drop(&z->privs, z->last_cap) != 0)
        _exit(BRD_SBX_EXIT_PRIVS);
    /* A new euid clears the parent-death signal and resets dumpable: set
     * both (again) after it, and check the owner is still there. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
        _exit(BRD_SBX_EXIT_PRCTL);
    if (getppid() != z->owner)
        _exit(BRD_SBX_EXIT_SETUP);
    if (prctl(PR_SET_DUMPABLE, 0) != 0)
        _exit(BRD_SBX_EXIT_PRCTL);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        _exit(BRD_SBX_EXIT_SEAL);

    /* CPython's after-fork work, then random reseeded (its own at-fork
     * hook is not registered), so no two processes share a random stream. */
    PyOS_AfterFork_Child();
    if (brd_runner_after_fork() != 0)
        _exit(BRD_SBX_EXIT_SETUP);
    brd_runner_main(z->layers, z->bpf, z->bpf_len);
}

static void spawn(struct zstate *z, int ctl, const struct brd_zmsg *m, int sock, pid_t *tid)
{
    unsigned long flags = CLONE_PARENT | SIGCHLD | (tid ? CLONE_CHILD_SETTID : 0);
    PyOS_BeforeFork();
    /* x86-64 order: flags, stack, parent_tid, child_tid, tls. */
    long pid = syscall(SYS_clone, flags, NULL, NULL, tid, 0);
    if (pid == 0)
        child_main(z, sock, (long)m->arg, (long)m->aux);
    int e = errno;
    PyOS_AfterFork_Parent();
    close(sock);
    zsend(ctl, BRD_Z_SPAWNED, m->seq, pid > 0 ? pid : -e, NULL, 0);
}

__attribute__((noreturn)) static void zygote_main(pid_t owner)
{
    int ctl = BRD_SBX_FD;
    /* The zygote dies with its pool's owner; if it cannot be made to, it
     * says so in its READY (below) rather than outlive the worker. */
    int pdeath_errno = prctl(PR_SET_PDEATHSIG, SIGKILL) == 0 ? 0 : errno;
    if (getppid() != owner)
        _exit(BRD_ZYGOTE_EXIT_FAILED);
    /* exec'd as /proc/self/exe, it would show as "exe" in ps, top and perf
     * (cosmetic: a failure changes nothing). */
    (void)prctl(PR_SET_NAME, "braid-zygote", 0, 0, 0);
    struct zstate z = {.owner = owner};
    char buf[sizeof(struct brd_zmsg) + 65536];
    ssize_t n = recv(ctl, buf, sizeof buf, 0);
    struct brd_zmsg m;
    if (n < (ssize_t)sizeof m)
        _exit(BRD_ZYGOTE_EXIT_FAILED);
    memcpy(&m, buf, sizeof m);
    if (m.magic != BRD_PROTO_MAGIC || m.type != BRD_Z_HELLO || m.len != n - (ssize_t)sizeof m ||
        m.len % sizeof(struct sock_filter) != 0 || m.len == 0)
        _exit(BRD_ZYGOTE_EXIT_FAILED);
    z.layers = (enum brd_sandbox_layers)m.arg;
    z.privs.switch_user = m.aux == 1;
    z.privs.uid = (uid_t)(m.seq >> 32);
    z.privs.gid = (gid_t)(m.seq & 0xffffffffu);
    z.last_cap = brd_privs_last_cap();
    z.bpf_len = (unsigned short)(m.len / sizeof(struct sock_filter));
    z.bpf = malloc(m.len);
    if (!z.bpf)
        _exit(BRD_ZYGOTE_EXIT_FAILED);
    memcpy(z.bpf, buf + sizeof m, m.len);

    struct brd_error err;
    brd_error_clear(&err);
    if (pdeath_errno != 0)
        brd_error_set(&err, BRD_E_INTERNAL, "prctl(PR_SET_PDEATHSIG) failed: %s", strerror(pdeath_errno));
    else if (z.last_cap < 0)
        brd_error_set(&err, BRD_E_INTERNAL, "cannot find the kernel's last capability (cap_last_cap)");
    if (pdeath_errno != 0 || z.last_cap < 0 || brd_runner_warmup(z.layers, &err) != 0) {
        zsend(ctl, BRD_Z_READY, 0, -1, err.msg, (uint32_t)strlen(err.msg));
        _exit(BRD_ZYGOTE_EXIT_FAILED);
    }
    z.base_vsz = vm_size();
    pid_t *tid = tid_slot();
    zsend(ctl, BRD_Z_READY, 0, z.base_vsz, NULL, 0);

    for (;;) {
        char cbuf[CMSG_SPACE(sizeof(int))];
        struct iovec iov = {.iov_base = &m, .iov_len = sizeof m};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                            .msg_controllen = sizeof cbuf};
        n = recvmsg(ctl, &mh, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            _exit(BRD_ZYGOTE_EXIT_DONE); /* the pool is gone */
        int sock = -1;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
                memcpy(&sock, CMSG_DATA(c), sizeof sock);
        if (n != (ssize_t)sizeof m || m.magic != BRD_PROTO_MAGIC || m.type != BRD_Z_SPAWN || sock < 0) {
            if (sock >= 0)
                close(sock);
            zsend(ctl, BRD_Z_SPAWNED, m.seq, -EINVAL, NULL, 0);
            continue;
        }
        spawn(&z, ctl, &m, sock, tid);
    }
}

/* glibc passes (argc, argv, envp) to constructors. */
__attribute__((constructor)) static void brd_zygote_hook(int argc, char **argv, char **envp)
{
    (void)envp;
    if (argc != 2 || !argv || !argv[0] || strcmp(argv[0], BRD_ZYGOTE_ARGV0) != 0)
        return;
    /* The dynamic linker has read it (see brd_zygote_start); no function
     * ever sees it in os.environ. */
    if (unsetenv("LD_BIND_NOW") != 0)
        _exit(BRD_ZYGOTE_EXIT_FAILED);
    zygote_main((pid_t)atol(argv[1]));
}

/* ---- in the pool's owner ------------------------------------------------------------ */

int brd_zygote_start(pid_t *pid_out, int *ctl_out, struct brd_error *err)
{
    *pid_out = 0;
    *ctl_out = -1;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return brd_error_set(err, BRD_E_INTERNAL, "socketpair: %s", strerror(errno));
    if (sv[1] == BRD_SBX_FD) { /* dup2(3, 3) would keep close-on-exec */
        int d = fcntl(sv[1], F_DUPFD_CLOEXEC, BRD_SBX_FD + 1);
        close(sv[1]);
        sv[1] = d;
        if (d < 0) {
            close(sv[0]);
            return brd_error_set(err, BRD_E_INTERNAL, "fcntl: %s", strerror(errno));
        }
    }
    /* The zygote gets its control socket on fd 3, /dev/null on 0 and 1,
     * the worker's stderr on 2 (CPython's fatal errors), nothing else, and
     * default signal dispositions.  Every step is checked: a zygote that
     * would inherit the worker's other descriptors must not start. */
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc != 0) {
        close(sv[0]);
        close(sv[1]);
        return brd_error_set(err, BRD_E_INTERNAL, "cannot start the sandbox zygote: %s", strerror(rc));
    }
    rc = posix_spawnattr_init(&attr);
    if (rc != 0) {
        posix_spawn_file_actions_destroy(&fa);
        close(sv[0]);
        close(sv[1]);
        return brd_error_set(err, BRD_E_INTERNAL, "cannot start the sandbox zygote: %s", strerror(rc));
    }
    sigset_t none, all;
    if (sigemptyset(&none) != 0 || sigfillset(&all) != 0)
        rc = EINVAL;
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&fa, sv[1], BRD_SBX_FD);
    if (rc == 0)
        rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (rc == 0)
        rc = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (rc == 0)
        rc = posix_spawn_file_actions_addclosefrom_np(&fa, BRD_SBX_FD + 1);
    if (rc == 0)
        rc = posix_spawnattr_setsigmask(&attr, &none);
    if (rc == 0)
        rc = posix_spawnattr_setsigdefault(&attr, &all);
    if (rc == 0)
        rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    char owner[24];
    snprintf(owner, sizeof owner, "%ld", (long)getpid());
    char *argv[] = {(char *)BRD_ZYGOTE_ARGV0, owner, NULL};
    /* An empty environment from the start, but for LD_BIND_NOW: the
     * dynamic linker binds every symbol of braid and libpython once, in
     * the zygote, instead of each sandboxed process resolving (and
     * copying the GOT pages of) the ones it calls first.  The hook below
     * removes it before anything reads the environment. */
    char *envp[] = {(char *)"LD_BIND_NOW=1", NULL};
    pid_t pid;
    if (rc == 0)
        rc = posix_spawn(&pid, "/proc/self/exe", &fa, &attr, argv, envp);
    if (rc == ENOENT || rc == EACCES) {
        /* No /proc (some containers): the path this program was exec'd by. */
        const char *self = (const char *)getauxval(AT_EXECFN);
        if (self)
            rc = posix_spawn(&pid, self, &fa, &attr, argv, envp);
    }
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(sv[1]);
    if (rc != 0) {
        close(sv[0]);
        return brd_error_set(err, BRD_E_INTERNAL, "cannot start the sandbox zygote: %s", strerror(rc));
    }
    /* HELLO: the layers and the compiled seccomp filter. */
    size_t blen = (size_t)brd_sbx_g.bpf_len * sizeof(struct sock_filter);
    char *hello = malloc(sizeof(struct brd_zmsg) + blen);
    if (!hello) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(sv[0]);
        return brd_error_nomem(err);
    }
    struct brd_zmsg m = {.magic = BRD_PROTO_MAGIC, .type = BRD_Z_HELLO, .arg = brd_sbx_g.layers,
                         .aux = brd_sbx_g.privs.switch_user ? 1 : 0,
                         .seq = (uint64_t)brd_sbx_g.privs.uid << 32 | brd_sbx_g.privs.gid,
                         .len = (uint32_t)blen};
    memcpy(hello, &m, sizeof m);
    memcpy(hello + sizeof m, brd_sbx_g.bpf, blen);
    ssize_t sent = send(sv[0], hello, sizeof m + blen, MSG_NOSIGNAL);
    free(hello);
    char buf[sizeof(struct brd_zmsg) + 513];
    ssize_t n = -1;
    if (sent > 0) {
        struct pollfd p = {.fd = sv[0], .events = POLLIN};
        int pr;
        do
            pr = poll(&p, 1, 20000);
        while (pr < 0 && errno == EINTR);
        if (pr > 0)
            n = recv(sv[0], buf, sizeof buf - 1, 0);
    }
    memcpy(&m, buf, sizeof m);
    if (n < (ssize_t)sizeof m || m.magic != BRD_PROTO_MAGIC || m.type != BRD_Z_READY || m.arg < 0) {
        buf[n > 0 ? n : 0] = '\0';
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(sv[0]);
        return brd_error_set(err, BRD_E_INTERNAL, "the sandbox zygote did not start%s%s",
                             n > (ssize_t)sizeof m ? ": " : "",
                             n > (ssize_t)sizeof m ? buf + sizeof m : "");
    }
    *pid_out = pid;
    *ctl_out = sv[0];
    return 0;
}
