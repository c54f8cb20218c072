"""Issue 10, items 2 and 8 through `braid call`: top-level code runs only
inside a call's budget (a module that never finishes fails the call with a
clear error), and a process killed from outside is reported as killed by
its signal — not as a CPU timeout; the CPU and memory limits keep their own
codes.  With all layers and with seccomp alone."""
import os
import signal
import subprocess
import time

from conftest import BRAID, Outcome, assert_next_call_ok, call, write_function
from procinfo import children


def test_top_level_code_that_never_ends_fails_its_call(svc, layers):
    write_function(svc, "forever", "while True:\n    pass\ndef handler(event, context):\n    return 1\n",
                   {"timeout_ms": 300})
    t0 = time.monotonic()
    out = call(svc, "forever", {}, layers=layers)
    assert time.monotonic() - t0 < 5
    assert out.code == "FUNCTION_TIMEOUT", out
    assert "top-level code" in out.error["message"] and "timeout_ms=300" in out.error["message"], out
    assert_next_call_ok(svc, layers)


def test_kill_9_from_outside_names_the_signal(svc, layers):
    write_function(svc, "victim", "import time\ndef handler(event, context):\n    time.sleep(30)\n",
                   {"timeout_ms": 20000})
    env = dict(os.environ, BRAID_SANDBOX_LAYERS=layers)
    proc = subprocess.Popen([BRAID, "call", str(svc), "victim", "--event", "{}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        # braid's children: its zygote, then the sandboxed process (the youngest).
        deadline = time.monotonic() + 10
        while len(children(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        kids = children(proc.pid)
        assert len(kids) == 2, kids
        time.sleep(0.3)
        os.kill(kids[-1].pid, signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out = Outcome(subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr))
    assert out.code == "FUNCTION_ERROR", out
    assert "signal 9" in out.error["message"], out
    assert "CPU" not in out.error["message"], out


def test_cpu_and_memory_limits_keep_their_codes(svc, layers):
    write_function(svc, "spin", "def handler(event, context):\n    while True:\n        pass\n",
                   {"timeout_ms": 300})
    assert call(svc, "spin", {}, layers=layers).code == "FUNCTION_TIMEOUT"
    write_function(svc, "hog", "def handler(event, context):\n    l = []\n    while True:\n"
                   "        l.append(bytearray(1 << 20))\n", {"memory_mb": 64, "timeout_ms": 8000})
    out = call(svc, "hog", {}, layers=layers)
    assert out.code == "FUNCTION_MEMORY", out
    assert_next_call_ok(svc, layers)
