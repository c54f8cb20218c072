"""The seccomp allow-list, call by call and argument by argument.

policy_probe.c is built from the tree's own sandbox/policy.c, loads the
filter exactly as a sandboxed process does, and makes raw system calls
that Python inside the sandbox mostly cannot make (madvise advice, mmap
flags, futex ops, a signal mask): for each, "ok" (the filter let it
through), an errno name (the filter's EINVAL, or the kernel's own answer
to an allowed call), or "kill" (SIGSYS).  One probe run serves every case;
the Python layers play no part here, so these run once, not per layer.
docs/sandbox.md has the table these expectations follow."""
import os
import shutil
import subprocess

import pytest

from conftest import ROOT

OK, KILL, EINVAL = "ok", "kill", "EINVAL"

EXPECT = {
    # clock_gettime: the fixed ids a process needs for itself ...
    "cg_realtime": OK, "cg_monotonic": OK, "cg_process_cputime": OK, "cg_thread_cputime": OK,
    "cg_monotonic_raw": OK, "cg_realtime_coarse": OK, "cg_monotonic_coarse": OK,
    "cg_boottime": OK, "cg_tai": OK,
    # ... and EINVAL for every other id: other processes' CPU clocks, the
    # pid-0 and own-thread encodings, the alarm clocks, ids past the table.
    "cg_realtime_alarm": EINVAL, "cg_boottime_alarm": EINVAL, "cg_16": EINVAL, "cg_int_max": EINVAL,
    "cg_pid1_sched": EINVAL, "cg_self_pid0_sched": EINVAL, "cg_self_pid0_prof": EINVAL,
    "cg_parent_sched": EINVAL, "cg_parent_prof": EINVAL, "cg_parent_virt": EINVAL,
    "cg_own_thread": EINVAL, "cg_parent_zero_extended": EINVAL,
    # the kernel reads 32 bits of a clock id; so does the filter
    "cg_realtime_high_bits": OK, "cg_parent_high_bits": EINVAL,
    "cr_process_cputime": OK, "cr_monotonic": OK, "cr_parent_sched": EINVAL, "cr_pid1_sched": EINVAL,
    # clock_nanosleep: CLOCK_REALTIME and CLOCK_MONOTONIC only
    "cn_monotonic_abs": OK, "cn_realtime_rel": OK, "cn_boottime_abs": EINVAL,
    "cn_process_cputime": EINVAL, "cn_parent_sched": EINVAL, "nanosleep_zero": OK,
    # madvise: what allocators use; anything else is EINVAL
    "ma_normal": OK, "ma_random": OK, "ma_sequential": OK, "ma_willneed": OK, "ma_dontneed": OK,
    "ma_free": OK, "ma_dontneed_high_bits": OK,
    "ma_hwpoison": EINVAL, "ma_hwpoison_high_bits": EINVAL, "ma_soft_offline": EINVAL,
    "ma_mergeable": EINVAL, "ma_remove": EINVAL, "ma_dontfork": EINVAL, "ma_wipeonfork": EINVAL,
    "ma_cold": EINVAL, "ma_pageout": EINVAL, "ma_populate_write": EINVAL, "ma_collapse": EINVAL,
    "ma_minus_one": EINVAL,
    # mmap: private anonymous read/write memory only
    "mm_rw": OK, "mm_none": OK, "mm_noreserve": OK, "mm_stack": OK,
    "mm_exec": KILL, "mm_exec_high_bits": KILL, "mm_shared_anon": KILL, "mm_shared_validate": KILL,
    "mm_file_fd3": KILL, "mm_hugetlb": KILL, "mm_locked": KILL, "mm_populate": KILL,
    "mm_uninitialized": KILL, "mm_growsdown": KILL, "mm_fixed": KILL,
    # mprotect: never executable
    "mp_rw": OK, "mp_read": OK, "mp_none": OK,
    "mp_exec": KILL, "mp_rwx": KILL, "mp_growsdown": KILL, "pkey_mprotect_exec": KILL,
    # mremap: move or resize, nothing else
    "mr_shrink": OK, "mr_maymove": OK, "mr_fixed": KILL, "mr_dontunmap": KILL,
    # futex: wait and wake (EAGAIN: the kernel's answer, the word is not 1)
    "fx_wake_private": OK, "fx_wake": OK, "fx_wait_private": "EAGAIN",
    "fx_wait_bitset_realtime": "EAGAIN", "fx_wake_bitset": OK,
    "fx_lock_pi": KILL, "fx_trylock_pi": KILL, "fx_cmp_requeue": KILL, "fx_requeue": KILL,
    "fx_wake_op": KILL, "fx_cmp_requeue_pi": KILL,
    # rt_sigprocmask: read the mask or unblock; blocking SIGXCPU would
    # switch off the RLIMIT_CPU backstop
    "sm_query": OK, "sm_unblock_xcpu": OK, "sm_block_xcpu": KILL, "sm_setmask_xcpu": KILL,
    "gr_default": OK, "gr_nonblock": OK, "gr_random": OK,
    # the call socket only
    "wr_fd3": OK, "wr_fd1": KILL, "rd_fd0": KILL,
    # not allowed at all: limits, usage, other processes, clocks' settings
    "prlimit_parent": KILL, "prlimit_self": KILL, "prlimit_raise_self": KILL,
    "getrusage_self": KILL, "getrusage_children": KILL, "times_": KILL, "getppid_": KILL,
    "kill_parent_0": KILL, "sched_getaffinity_parent": KILL, "timer_create_parent_clock": KILL,
    "process_madvise_": KILL, "clock_settime_": KILL, "clock_adjtime_": KILL,
    "getpid_": OK, "sched_yield_": OK,
}


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    cc = shutil.which("gcc") or shutil.which("cc")
    if not cc:
        pytest.fail("no C compiler (gcc) to build tests/security/policy_probe.c")
    cflags = subprocess.run(["pkg-config", "--cflags", "json-c"], capture_output=True, text=True).stdout.split()
    exe = str(tmp_path_factory.mktemp("probe") / "policy_probe")
    argv = [cc, "-std=gnu11", "-D_GNU_SOURCE", "-O1", "-Wall", "-Wextra", "-Werror", "-Wshadow",
            "-Wno-missing-field-initializers", "-Wno-format-truncation",
            "-I" + os.path.join(ROOT, "src", "base"), "-I" + os.path.join(ROOT, "sandbox"), *cflags,
            "-o", exe, os.path.join(ROOT, "tests", "security", "policy_probe.c"),
            os.path.join(ROOT, "sandbox", "policy.c"), os.path.join(ROOT, "src", "base", "error.c"),
            os.path.join(ROOT, "src", "base", "utf8.c"),
            "-lseccomp"]
    build = subprocess.run(argv, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([exe], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    results = {}
    for line in run.stdout.splitlines():
        name, _, outcome = line.partition(" ")
        results[name] = outcome
    return results


def test_probe_covers_every_case(probe):
    assert sorted(set(probe) - {"bpf_len"}) == sorted(EXPECT)


def test_filter_fits_the_kernel_limit(probe):
    assert 0 < int(probe["bpf_len"]) <= 4096


@pytest.mark.parametrize("case", sorted(EXPECT))
def test_syscall_argument(probe, case):
    assert probe.get(case) == EXPECT[case], f"{case}: got {probe.get(case)}, want {EXPECT[case]}"
