/* policy_probe.c — runs raw system calls under the sandbox's real seccomp
 * filter (sandbox/policy.c, compiled and loaded exactly as a sandboxed
 * process does) and prints what became of each: "ok", the errno name, or
 * "kill" (SIGSYS).  Built and driven by test_policy_probe.py: most of these
 * calls (madvise advice, mmap flags, futex ops, a signal mask) cannot be
 * made from Python inside the sandbox at all, so only a C probe can check
 * that the filter refuses them.  Each case runs in a child of its own;
 * every case is harmless even where a broken filter lets it through
 * (MADV_HWPOISON is asked for zero bytes, which the kernel accepts and
 * does nothing with). */
#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "internal.h"

#ifndef MADV_SOFT_OFFLINE
#define MADV_SOFT_OFFLINE 101
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#ifndef MAP_UNINITIALIZED
#define MAP_UNINITIALIZED 0x4000000
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

/* State each case may use, set up before the filter is loaded. */
static pid_t g_parent;           /* the probe itself: "another process" */
static pid_t g_tid;              /* the child's own thread id */
static char *g_page;             /* one private anonymous page, mapped rw */
static char *g_big;              /* 4 pages, for mremap */
static uint32_t g_futex;         /* a private futex word (value 0) */
static const long PAGE = 4096;

/* The clock id of another process's CPU clock (glibc's MAKE_PROCESS_CPUCLOCK). */
static long cpuclock(pid_t pid, int kind)
{
    return (long)(int)((~(unsigned)pid << 3) | (unsigned)kind);
}

static struct timespec g_ts;

/* ---- the cases: each returns a raw syscall's result (-1 + errno) --------- */

#define CLOCK_CASE(fn, id) static long fn(void) { return syscall(SYS_clock_gettime, (long)(id), &g_ts); }
CLOCK_CASE(cg_realtime, CLOCK_REALTIME)
CLOCK_CASE(cg_monotonic, CLOCK_MONOTONIC)
CLOCK_CASE(cg_process_cputime, CLOCK_PROCESS_CPUTIME_ID)
CLOCK_CASE(cg_thread_cputime, CLOCK_THREAD_CPUTIME_ID)
CLOCK_CASE(cg_monotonic_raw, CLOCK_MONOTONIC_RAW)
CLOCK_CASE(cg_realtime_coarse, CLOCK_REALTIME_COARSE)
CLOCK_CASE(cg_monotonic_coarse, CLOCK_MONOTONIC_COARSE)
CLOCK_CASE(cg_boottime, CLOCK_BOOTTIME)
CLOCK_CASE(cg_tai, CLOCK_TAI)
CLOCK_CASE(cg_realtime_alarm, CLOCK_REALTIME_ALARM)
CLOCK_CASE(cg_boottime_alarm, CLOCK_BOOTTIME_ALARM)
CLOCK_CASE(cg_16, 16)
CLOCK_CASE(cg_int_max, 0x7fffffffL)
CLOCK_CASE(cg_pid1_sched, cpuclock(1, 2))
CLOCK_CASE(cg_self_pid0_sched, cpuclock(0, 2))
CLOCK_CASE(cg_self_pid0_prof, cpuclock(0, 0))
static long cg_parent_sched(void) { return syscall(SYS_clock_gettime, cpuclock(g_parent, 2), &g_ts); }
static long cg_parent_prof(void) { return syscall(SYS_clock_gettime, cpuclock(g_parent, 0), &g_ts); }
static long cg_parent_virt(void) { return syscall(SYS_clock_gettime, cpuclock(g_parent, 1), &g_ts); }
static long cg_own_thread(void) { return syscall(SYS_clock_gettime, cpuclock(g_tid, 6), &g_ts); }
/* The kernel reads a clockid_t (32 bits): the filter must judge the same bits. */
static long cg_parent_zero_extended(void)
{
    return syscall(SYS_clock_gettime, (long)(uint32_t)cpuclock(g_parent, 2), &g_ts);
}
static long cg_realtime_high_bits(void) { return syscall(SYS_clock_gettime, 0x500000000L | CLOCK_REALTIME, &g_ts); }
static long cg_parent_high_bits(void)
{
    return syscall(SYS_clock_gettime, 0x500000000L | (uint32_t)cpuclock(g_parent, 2), &g_ts);
}
static long cr_process_cputime(void) { return syscall(SYS_clock_getres, (long)CLOCK_PROCESS_CPUTIME_ID, &g_ts); }
static long cr_monotonic(void) { return syscall(SYS_clock_getres, (long)CLOCK_MONOTONIC, &g_ts); }
static long cr_parent_sched(void) { return syscall(SYS_clock_getres, cpuclock(g_parent, 2), &g_ts); }
static long cr_pid1_sched(void) { return syscall(SYS_clock_getres, cpuclock(1, 2), NULL); }

static long cn(long clock, long flags)
{
    struct timespec t = {0, 0};
    return syscall(SYS_clock_nanosleep, clock, flags, &t, NULL);
}
static long cn_monotonic_abs(void) { return cn(CLOCK_MONOTONIC, TIMER_ABSTIME); }
static long cn_realtime_rel(void) { return cn(CLOCK_REALTIME, 0); }
static long cn_boottime_abs(void) { return cn(CLOCK_BOOTTIME, TIMER_ABSTIME); }
static long cn_process_cputime(void) { return cn(CLOCK_PROCESS_CPUTIME_ID, TIMER_ABSTIME); }
static long cn_parent_sched(void) { return cn(cpuclock(g_parent, 2), TIMER_ABSTIME); }
static long nanosleep_zero(void)
{
    struct timespec t = {0, 0};
    return syscall(SYS_nanosleep, &t, NULL);
}

#define MADV_CASE(fn, advice, len) \
    static long fn(void) { return syscall(SYS_madvise, g_page, (long)(len), (long)(advice)); }
MADV_CASE(ma_normal, MADV_NORMAL, PAGE)
MADV_CASE(ma_random, MADV_RANDOM, PAGE)
MADV_CASE(ma_sequential, MADV_SEQUENTIAL, PAGE)
MADV_CASE(ma_willneed, MADV_WILLNEED, PAGE)
MADV_CASE(ma_dontneed, MADV_DONTNEED, PAGE)
MADV_CASE(ma_free, MADV_FREE, PAGE)
MADV_CASE(ma_dontneed_high_bits, 0x700000000L | MADV_DONTNEED, PAGE)
/* Refused ones with length 0: the kernel would answer 0 and do nothing. */
MADV_CASE(ma_hwpoison, MADV_HWPOISON, 0)
MADV_CASE(ma_hwpoison_high_bits, 0x700000000L | MADV_HWPOISON, 0)
MADV_CASE(ma_soft_offline, MADV_SOFT_OFFLINE, 0)
MADV_CASE(ma_mergeable, MADV_MERGEABLE, 0)
MADV_CASE(ma_remove, MADV_REMOVE, 0)
MADV_CASE(ma_dontfork, MADV_DONTFORK, 0)
MADV_CASE(ma_wipeonfork, MADV_WIPEONFORK, 0)
MADV_CASE(ma_cold, MADV_COLD, 0)
MADV_CASE(ma_pageout, MADV_PAGEOUT, 0)
MADV_CASE(ma_populate_write, MADV_POPULATE_WRITE, 0)
MADV_CASE(ma_collapse, MADV_COLLAPSE, 0)
MADV_CASE(ma_minus_one, -1L, 0)

static long mm(long prot, long flags, long fd)
{
    long r = syscall(SYS_mmap, 0L, PAGE, prot, flags, fd, 0L);
    return r == -1 ? -1 : 0;
}
static long mm_rw(void) { return mm(PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1); }
static long mm_none(void) { return mm(PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1); }
static long mm_noreserve(void) { return mm(PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1); }
static long mm_stack(void) { return mm(PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1); }
static long mm_exec(void) { return mm(PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1); }
static long mm_shared_anon(void) { return mm(PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1); }
static long mm_shared_validate(void) { return mm(PROT_READ, MAP_SHARED_VALIDATE | MAP_ANONYMOUS, -1); }
static long mm_file_fd3(void) { return mm(PROT_READ, MAP_PRIVATE, BRD_SBX_FD); }
static long mm_hugetlb(void) { return mm(PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1); }
static long mm_locked(void) { return mm(PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1); }
static long mm_populate(void) { return mm(PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1); }
static long mm_uninitialized(void)
{
    return mm(PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_UNINITIALIZED, -1);
}
static long mm_growsdown(void) { return mm(PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN, -1); }
static long mm_fixed(void)
{
    return syscall(SYS_mmap, g_page, PAGE, (long)(PROT_READ | PROT_WRITE),
                   (long)(MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED), -1L, 0L) == -1 ? -1 : 0;
}
static long mm_exec_high_bits(void)
{
    return mm(0x100000000L | PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1);
}

#define MPROT_CASE(fn, prot) static long fn(void) { return syscall(SYS_mprotect, g_page, PAGE, (long)(prot)); }
MPROT_CASE(mp_rw, PROT_READ | PROT_WRITE)
MPROT_CASE(mp_read, PROT_READ)
MPROT_CASE(mp_none, PROT_NONE)
MPROT_CASE(mp_exec, PROT_READ | PROT_EXEC)
MPROT_CASE(mp_rwx, PROT_READ | PROT_WRITE | PROT_EXEC)
MPROT_CASE(mp_growsdown, PROT_READ | PROT_GROWSDOWN)
static long pkey_mprotect_exec(void)
{
    return syscall(SYS_pkey_mprotect, g_page, PAGE, (long)(PROT_READ | PROT_EXEC), -1L);
}

static long mr(long old, long new, long flags, void *to)
{
    long r = syscall(SYS_mremap, g_big, old, new, flags, to);
    return r == -1 ? -1 : 0;
}
static long mr_shrink(void) { return mr(4 * PAGE, 2 * PAGE, 0, NULL); }
static long mr_maymove(void) { return mr(4 * PAGE, 64 * PAGE, MREMAP_MAYMOVE, NULL); }
static long mr_fixed(void) { return mr(PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, g_page); }
static long mr_dontunmap(void) { return mr(PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL); }

static long fx(long op, long val)
{
    struct timespec t = {0, 0};
    return syscall(SYS_futex, &g_futex, op, val, &t, &g_futex, 0L);
}
static long fx_wake_private(void) { return fx(FUTEX_WAKE_PRIVATE, 1); }
static long fx_wake(void) { return fx(FUTEX_WAKE, 1); }
static long fx_wait_private(void) { return fx(FUTEX_WAIT_PRIVATE, 1); }   /* value differs: EAGAIN */
static long fx_wait_bitset_realtime(void)
{
    return syscall(SYS_futex, &g_futex, (long)(FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME), 1L,
                   NULL, NULL, (long)FUTEX_BITSET_MATCH_ANY);
}
static long fx_wake_bitset(void)
{
    return syscall(SYS_futex, &g_futex, (long)FUTEX_WAKE_BITSET_PRIVATE, 1L, NULL, NULL,
                   (long)FUTEX_BITSET_MATCH_ANY);
}
static long fx_lock_pi(void) { return fx(FUTEX_LOCK_PI_PRIVATE, 0); }
static long fx_trylock_pi(void) { return fx(FUTEX_TRYLOCK_PI, 0); }
static long fx_cmp_requeue(void) { return fx(FUTEX_CMP_REQUEUE_PRIVATE, 1); }
static long fx_requeue(void) { return fx(FUTEX_REQUEUE, 1); }
static long fx_wake_op(void) { return fx(FUTEX_WAKE_OP_PRIVATE, 1); }
static long fx_cmp_requeue_pi(void) { return fx(FUTEX_CMP_REQUEUE_PI, 1); }

static long sm(long how, int sig, int with_set)
{
    uint64_t set = sig ? (uint64_t)1 << (sig - 1) : 0, old = 0;
    return syscall(SYS_rt_sigprocmask, how, with_set ? &set : NULL, &old, 8L);
}
static long sm_query(void) { return sm(SIG_BLOCK, 0, 0); }
static long sm_unblock_xcpu(void) { return sm(SIG_UNBLOCK, SIGXCPU, 1); }
static long sm_block_xcpu(void) { return sm(SIG_BLOCK, SIGXCPU, 1); }
static long sm_setmask_xcpu(void) { return sm(SIG_SETMASK, SIGXCPU, 1); }

static long gr(long flags)
{
    char buf[16];
    return syscall(SYS_getrandom, buf, sizeof buf, flags);
}
static long gr_default(void) { return gr(0); }
static long gr_nonblock(void) { return gr(GRND_NONBLOCK); }
static long gr_random(void) { return gr(GRND_RANDOM); }

static long wr_fd3(void) { return syscall(SYS_write, (long)BRD_SBX_FD, "x", 1L); }
static long wr_fd1(void) { return syscall(SYS_write, 1L, "x", 1L); }
static long rd_fd0(void) { char c; return syscall(SYS_read, 0L, &c, 1L); }

static long prlimit_parent(void)
{
    struct rlimit rl;
    return syscall(SYS_prlimit64, (long)g_parent, (long)RLIMIT_CPU, NULL, &rl);
}
static long prlimit_self(void)
{
    struct rlimit rl;
    return syscall(SYS_prlimit64, 0L, (long)RLIMIT_CPU, NULL, &rl);
}
static long prlimit_raise_self(void)
{
    struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
    return syscall(SYS_prlimit64, 0L, (long)RLIMIT_CPU, &rl, NULL);
}
static long getrusage_self(void) { struct rusage ru; return syscall(SYS_getrusage, (long)RUSAGE_SELF, &ru); }
static long getrusage_children(void) { struct rusage ru; return syscall(SYS_getrusage, (long)RUSAGE_CHILDREN, &ru); }
static long times_(void) { char buf[64]; return syscall(SYS_times, buf); }
static long getppid_(void) { return syscall(SYS_getppid); }
static long kill_parent_0(void) { return syscall(SYS_kill, (long)g_parent, 0L); }
static long sched_getaffinity_parent(void)
{
    char mask[128];
    return syscall(SYS_sched_getaffinity, (long)g_parent, sizeof mask, mask);
}
static long timer_create_parent_clock(void)
{
    int id;
    return syscall(SYS_timer_create, cpuclock(g_parent, 2), NULL, &id);
}
static long process_madvise_(void) { return syscall(SYS_process_madvise, -1L, NULL, 0L, (long)MADV_COLD, 0L); }
/* An invalid time (tv_nsec -1): even a filter that let it through changes no clock. */
static long clock_settime_(void)
{
    struct timespec t = {0, -1};
    return syscall(SYS_clock_settime, (long)CLOCK_REALTIME, &t);
}
/* modes 0: a read-only query. */
static long clock_adjtime_(void) { char buf[256] = {0}; return syscall(SYS_clock_adjtime, (long)CLOCK_REALTIME, buf); }
static long getpid_(void) { return syscall(SYS_getpid); }
static long sched_yield_(void) { return syscall(SYS_sched_yield); }

struct probe_case {
    const char *name;
    long (*fn)(void);
};

#define C(fn) {#fn, fn}
static const struct probe_case cases[] = {
    C(cg_realtime), C(cg_monotonic), C(cg_process_cputime), C(cg_thread_cputime), C(cg_monotonic_raw),
    C(cg_realtime_coarse), C(cg_monotonic_coarse), C(cg_boottime), C(cg_tai), C(cg_realtime_alarm),
    C(cg_boottime_alarm), C(cg_16), C(cg_int_max), C(cg_pid1_sched), C(cg_self_pid0_sched),
    C(cg_self_pid0_prof), C(cg_parent_sched), C(cg_parent_prof), C(cg_parent_virt), C(cg_own_thread),
    C(cg_parent_zero_extended), C(cg_realtime_high_bits), C(cg_parent_high_bits),
    C(cr_process_cputime), C(cr_monotonic), C(cr_parent_sched), C(cr_pid1_sched),
    C(cn_monotonic_abs), C(cn_realtime_rel), C(cn_boottime_abs), C(cn_process_cputime), C(cn_parent_sched),
    C(nanosleep_zero),
    C(ma_normal), C(ma_random), C(ma_sequential), C(ma_willneed), C(ma_dontneed), C(ma_free),
    C(ma_dontneed_high_bits), C(ma_hwpoison), C(ma_hwpoison_high_bits), C(ma_soft_offline),
    C(ma_mergeable), C(ma_remove), C(ma_dontfork), C(ma_wipeonfork), C(ma_cold), C(ma_pageout),
    C(ma_populate_write), C(ma_collapse), C(ma_minus_one),
    C(mm_rw), C(mm_none), C(mm_noreserve), C(mm_stack), C(mm_exec), C(mm_shared_anon),
    C(mm_shared_validate), C(mm_file_fd3), C(mm_hugetlb), C(mm_locked), C(mm_populate),
    C(mm_uninitialized), C(mm_growsdown), C(mm_fixed), C(mm_exec_high_bits),
    C(mp_rw), C(mp_read), C(mp_none), C(mp_exec), C(mp_rwx), C(mp_growsdown), C(pkey_mprotect_exec),
    C(mr_shrink), C(mr_maymove), C(mr_fixed), C(mr_dontunmap),
    C(fx_wake_private), C(fx_wake), C(fx_wait_private), C(fx_wait_bitset_realtime), C(fx_wake_bitset),
    C(fx_lock_pi), C(fx_trylock_pi), C(fx_cmp_requeue), C(fx_requeue), C(fx_wake_op), C(fx_cmp_requeue_pi),
    C(sm_query), C(sm_unblock_xcpu), C(sm_block_xcpu), C(sm_setmask_xcpu),
    C(gr_default), C(gr_nonblock), C(gr_random),
    C(wr_fd3), C(wr_fd1), C(rd_fd0),
    C(prlimit_parent), C(prlimit_self), C(prlimit_raise_self), C(getrusage_self), C(getrusage_children),
    C(times_), C(getppid_), C(kill_parent_0), C(sched_getaffinity_parent), C(timer_create_parent_clock),
    C(process_madvise_), C(clock_settime_), C(clock_adjtime_), C(getpid_), C(sched_yield_),
};

/* In the child: set up, seal, run one case, exit with 0 (ok) or its errno. */
static void run_child(const struct probe_case *c, const struct sock_filter *prog, unsigned short len, int out_fd)
{
    if (dup2(out_fd, BRD_SBX_FD) != BRD_SBX_FD)
        _exit(254);
    g_tid = (pid_t)syscall(SYS_gettid);
    g_page = mmap(NULL, (size_t)PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    g_big = mmap(NULL, (size_t)(4 * PAGE), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g_page == MAP_FAILED || g_big == MAP_FAILED)
        _exit(254);
    g_page[0] = 1;
    g_big[0] = 1;
    if (brd_policy_load(prog, len) != 0)
        _exit(253);
    errno = 0;
    long r = c->fn();
    _exit(r >= 0 ? 0 : (errno > 0 && errno < 250 ? errno : 252));
}

int main(int argc, char **argv)
{
    struct brd_error err;
    struct sock_filter *prog;
    unsigned short len;
    if (brd_policy_compile(&prog, &len, &err) != 0) {
        fprintf(stderr, "policy_probe: %s\n", err.msg);
        return 2;
    }
    printf("bpf_len %u\n", len);
    g_parent = getpid();
    int fds[2];
    if (pipe(fds) != 0) {
        perror("pipe");
        return 2;
    }
    int status_all = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct probe_case *c = &cases[i];
        if (argc > 1) {
            int wanted = 0;
            for (int a = 1; a < argc; a++)
                wanted |= strcmp(argv[a], c->name) == 0;
            if (!wanted)
                continue;
        }
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 2;
        }
        if (pid == 0)
            run_child(c, prog, len, fds[1]);
        int st;
        if (waitpid(pid, &st, 0) != pid) {
            perror("waitpid");
            return 2;
        }
        if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS)
            printf("%s kill\n", c->name);
        else if (WIFSIGNALED(st))
            printf("%s signal-%d\n", c->name, WTERMSIG(st));
        else if (WEXITSTATUS(st) == 0)
            printf("%s ok\n", c->name);
        else if (WEXITSTATUS(st) >= 250) {
            printf("%s setup-failed-%d\n", c->name, WEXITSTATUS(st));
            status_all = 1;
        } else {
            const char *name = strerrorname_np(WEXITSTATUS(st));
            printf("%s %s\n", c->name, name ? name : "errno?");
        }
    }
    free(prog);
    return status_all;
}
