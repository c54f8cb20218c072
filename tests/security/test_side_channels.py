"""What a function can learn about other processes through the system calls
it is allowed to make, and what two functions can tell each other that way.
SPEC section 3: nothing one function does is ever visible to another.

The clock calls take a clock id, and a negative id names another process's
CPU clock ((~pid << 3) | kind): the allow-list admits only the fixed
CLOCK_* ids, and answers EINVAL to every other (as the kernel answers for a
process that does not exist), so a function sees the same thing for every
other pid: nothing.  With all layers and with seccomp alone."""
import errno
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import BRAID, assert_next_call_ok, assert_no_secret, call, write_function

SV = "SANDBOX_VIOLATION"

READ_CLOCKS = """
import json, time
def handler(event, context):
    out = {}
    for name, pid in json.loads(event)["pids"].items():
        for kind in (0, 1, 2, 6):          # PROF, VIRT, SCHED, SCHED of thread `pid`
            cid = (~pid << 3) | kind
            for fn in ("clock_gettime", "clock_getres"):
                try:
                    out[f"{fn} {name} {kind}"] = getattr(time, fn)(cid)
                except OSError as e:
                    out[f"{fn} {name} {kind}"] = "errno %d" % e.errno
    return out
"""


def free_pid():
    """A pid that no process has (a child's, once reaped)."""
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


@pytest.fixture
def busy_victim():
    p = subprocess.Popen(["/usr/bin/python3", "-c", "while True: pass"])
    time.sleep(0.2)
    yield p.pid
    p.kill()
    p.wait()


def test_cpu_clocks_of_other_processes(svc, layers, busy_victim):
    # The test process (plenty of CPU time), init, a process spinning right
    # now, a pid nobody has, and the function's own pid-0 encoding: every
    # one is EINVAL, for reading the clock and for its resolution (which
    # would otherwise tell which pids exist).
    pids = {"pytest": os.getpid(), "init": 1, "victim": busy_victim, "nobody": free_pid(), "self0": 0}
    write_function(svc, "peek", READ_CLOCKS)
    out = call(svc, "peek", {"pids": pids}, layers=layers)
    assert out.rc == 0, out
    assert len(out.result) == len(pids) * 4 * 2
    refused = "errno %d" % errno.EINVAL
    assert {k: v for k, v in out.result.items() if v != refused} == {}
    assert_next_call_ok(svc, layers)


def test_own_clocks_work(svc, layers):
    src = """
import time
def handler(event, context):
    t0, c0 = time.monotonic(), time.process_time()
    x = 0
    for i in range(300000):
        x += i
    time.sleep(0.05)
    ids = {n: getattr(time, n) for n in ("CLOCK_REALTIME", "CLOCK_MONOTONIC", "CLOCK_PROCESS_CPUTIME_ID",
           "CLOCK_THREAD_CPUTIME_ID", "CLOCK_MONOTONIC_RAW", "CLOCK_BOOTTIME", "CLOCK_TAI")}
    ids.update(CLOCK_REALTIME_COARSE=5, CLOCK_MONOTONIC_COARSE=6)
    out = {n: [time.clock_gettime(c) >= 0, time.clock_getres(c) > 0] for n, c in ids.items()}
    out["info"] = sorted(time.get_clock_info(n).implementation for n in
                         ("time", "monotonic", "perf_counter", "process_time", "thread_time"))
    out["slept"] = time.monotonic() - t0 >= 0.05
    out["cpu"] = time.process_time() > c0 and time.thread_time() > 0
    out["ns"] = all(f() > 0 for f in (time.time_ns, time.monotonic_ns, time.perf_counter_ns,
                                      time.process_time_ns, time.thread_time_ns))
    out["now"] = time.time()
    try:
        time.clock_gettime(8)              # CLOCK_REALTIME_ALARM: not a clock a function needs
        out["alarm"] = "read"
    except OSError as e:
        out["alarm"] = e.errno
    return out
"""
    write_function(svc, "clocks", src)
    out = call(svc, "clocks", {}, layers=layers)
    assert out.rc == 0, out
    r = out.result
    for name in ("CLOCK_REALTIME", "CLOCK_MONOTONIC", "CLOCK_PROCESS_CPUTIME_ID", "CLOCK_THREAD_CPUTIME_ID",
                 "CLOCK_MONOTONIC_RAW", "CLOCK_BOOTTIME", "CLOCK_TAI", "CLOCK_REALTIME_COARSE",
                 "CLOCK_MONOTONIC_COARSE"):
        assert r[name] == [True, True], (name, r)
    assert r["info"] == sorted(["clock_gettime(CLOCK_REALTIME)", "clock_gettime(CLOCK_MONOTONIC)",
                                "clock_gettime(CLOCK_MONOTONIC)", "clock_gettime(CLOCK_PROCESS_CPUTIME_ID)",
                                "clock_gettime(CLOCK_THREAD_CPUTIME_ID)"])
    assert r["slept"] and r["cpu"] and r["ns"]
    assert abs(r["now"] - time.time()) < 30
    assert r["alarm"] == errno.EINVAL


# ---- a covert channel between two functions ---------------------------------------

SENDER = """
import json, time
def handler(event, context):
    ev = json.loads(event)
    # Spin until this process's CPU time encodes the secret, then hold still.
    target = ev["base"] + (ev["secret"] + 0.5) * ev["quantum"]
    while time.process_time() < target:
        pass
    time.sleep(ev["hold"])
    return "sent"
"""

RECEIVER = """
import json, time
def handler(event, context):
    ev = json.loads(event)
    clock = (~ev["pid"] << 3) | 2
    try:
        last = time.clock_gettime(clock)
        still = time.monotonic()
        end = still + ev["wait"]
        while time.monotonic() < end:
            time.sleep(0.02)
            now = time.clock_gettime(clock)
            if now - last > 0.001:
                last, still = now, time.monotonic()
            elif now > ev["base"] and time.monotonic() - still > 0.25:
                break
        return {"secret": int((last - ev["base"]) // ev["quantum"]), "cpu": last}
    except OSError as e:
        return {"errno": e.errno}
"""


def sealed_children(parent):
    """Pids of parent's children that run under a seccomp filter."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid != parent:
                continue
            with open(f"/proc/{d}/status") as f:
                if "\nSeccomp:\t2\n" in f.read():
                    found.append(int(d))
        except (OSError, ValueError, IndexError):
            continue
    return found


def test_covert_channel_through_cpu_clock(svc, layers):
    # Function A spins until its CPU time is base + 5.5 quanta and sleeps;
    # function B, in another braid process, reads A's CPU clock and decodes
    # 5.  The pid is handed to B here; a real B would find it by scanning
    # pids (which the same refusal prevents: see the test above).
    secret, base, quantum = 5, 0.2, 0.05
    write_function(svc, "sender", SENDER, {"timeout_ms": 10000})
    write_function(svc, "receiver", RECEIVER, {"timeout_ms": 10000})
    env = dict(os.environ, BRAID_SANDBOX_LAYERS=layers)
    ev = {"secret": secret, "base": base, "quantum": quantum, "hold": 2.5}
    sender = subprocess.Popen([BRAID, "call", str(svc), "sender", "--event", json.dumps(ev)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        pids = []
        deadline = time.monotonic() + 10
        while not pids and time.monotonic() < deadline:
            time.sleep(0.02)
            pids = sealed_children(sender.pid)
        assert len(pids) == 1, pids
        out = call(svc, "receiver", {"pid": pids[0], "base": base, "quantum": quantum, "wait": 2.0},
                   layers=layers)
        assert out.rc == 0, out
        assert out.result == {"errno": errno.EINVAL}, out.result
        stdout, stderr = sender.communicate(timeout=30)
        assert sender.returncode == 0, stderr
        assert json.loads(stdout) == "sent"
    finally:
        if sender.poll() is None:
            sender.send_signal(signal.SIGKILL)
            sender.wait()


# ---- calls about other processes: not in the allow-list at all --------------------

OTHER_PROCESS_CASES = {
    "sysconf_prlimit": "return os.sysconf('SC_OPEN_MAX')",          # prlimit64(0, NOFILE)
    "times": "return list(os.times())",                             # times(): children's CPU too
    "getppid": "return os.getppid()",
    "getpriority": "return os.getpriority(os.PRIO_PROCESS, ev['pid'])",
    "setpriority": "os.setpriority(os.PRIO_PROCESS, ev['pid'], 19)",
    "sched_getaffinity": "return sorted(os.sched_getaffinity(ev['pid']))",
    "getsid": "return os.getsid(ev['pid'])",
    "kill_probe": "os.kill(ev['pid'], 0)",
}


@pytest.mark.parametrize("case", sorted(OTHER_PROCESS_CASES))
def test_calls_about_other_processes(svc, layers, busy_victim, case):
    src = f"""
import json, random
os = random._os
def handler(event, context):
    ev = json.loads(event)
    {OTHER_PROCESS_CASES[case]}
"""
    nice = os.getpriority(os.PRIO_PROCESS, busy_victim)
    write_function(svc, "evil", src)
    out = call(svc, "evil", {"pid": busy_victim}, layers=layers)
    assert out.rc == 1, out
    assert out.code == SV, out
    assert_no_secret(out)
    assert os.getpriority(os.PRIO_PROCESS, busy_victim) == nice
    assert_next_call_ok(svc, layers)
