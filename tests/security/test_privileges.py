"""A sandboxed process gives up root (issue 10, item 5): no capability in
any set, not the root user, no supplementary groups.  A function cannot
open /proc/self/status, so the test reads it from outside while the
function sleeps inside a call: the sandboxed process is the latest-started
child of `braid call` that runs as the zygote's program."""
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import BRAID, assert_next_call_ok, call, write_function
from procinfo import ZYGOTE_ARGV0, children, status

SLEEPER = """
import time
def handler(event, context):
    time.sleep(30)
    return {"slept": True}
"""

def sandboxed_status(directory, layers, env_extra=None, prefix=()):
    """Starts the sleeping function and returns the /proc status of its
    sandboxed process once it is sealed (seccomp on: user code can run)."""
    env = dict(os.environ)
    env["BRAID_SANDBOX_LAYERS"] = layers
    if env_extra:
        env.update(env_extra)
    proc = subprocess.Popen([*prefix, BRAID, "call", str(directory), "sleeper", "--event", "{}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            kids = children(proc.pid, ZYGOTE_ARGV0)
            if len(kids) >= 2:  # the zygote and the sandboxed process
                st = status(kids[-1].pid)
                if st.get("Seccomp") == "2":
                    time.sleep(0.2)  # into the handler's sleep
                    return status(kids[-1].pid)
            time.sleep(0.02)
        pytest.fail("no sealed sandboxed process appeared")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()


def assert_unprivileged(st, uid, gid):
    assert st["Uid"].split() == [str(uid)] * 4, st["Uid"]
    assert st["Gid"].split() == [str(gid)] * 4, st["Gid"]
    assert st["Groups"].strip() == "", st["Groups"]
    for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(st[key], 16) == 0, (key, st[key])
    assert st["NoNewPrivs"] == "1"
    assert st["Seccomp"] == "2"


@pytest.fixture
def sleeper(svc):
    write_function(svc, "sleeper", SLEEPER, {"timeout_ms": 60000})
    return svc


def own_caps():
    return int(status("self")["CapEff"], 16)


CAP_SYS_RESOURCE = 24


@pytest.mark.skipif(os.geteuid() != 0, reason="the user switch happens only when braid runs as root")
def test_root_becomes_nobody_without_capabilities(sleeper, layers):
    """By default: nobody, when the worker can still raise the process's CPU
    limit (CAP_SYS_RESOURCE, as a root on bare metal has); else uid 0 with
    no capability at all (docs/sandbox.md)."""
    ids = 65534 if own_caps() >> CAP_SYS_RESOURCE & 1 else 0
    assert_unprivileged(sandboxed_status(sleeper, layers), ids, ids)
    assert_next_call_ok(sleeper, layers)


@pytest.mark.skipif(os.geteuid() != 0, reason="the user switch happens only when braid runs as root")
def test_sandbox_user_by_name(sleeper, layers):
    st = sandboxed_status(sleeper, layers, {"BRAID_SANDBOX_USER": "nobody"})
    assert_unprivileged(st, 65534, 65534)


@pytest.mark.skipif(os.geteuid() != 0, reason="the user switch happens only when braid runs as root")
def test_sandbox_user_as_numbers(sleeper, layers):
    st = sandboxed_status(sleeper, layers, {"BRAID_SANDBOX_USER": "23456:34567"})
    assert_unprivileged(st, 23456, 34567)
    out = call(sleeper, "normal", {"after": 1}, layers=layers,
               env_extra={"BRAID_SANDBOX_USER": "23456:34567"})
    assert out.rc == 0, out
    assert out.result == {"ok": True, "event": {"after": 1}}


@pytest.mark.parametrize("user, words", [
    ("no-such-user-b7e1", "no such user"),
    ("root", "must not be root"),
    ("0:0", "must not be root"),
    ("12:0", "must not be root"),
])
def test_bad_sandbox_user_is_a_startup_error(svc, layers, user, words):
    out = call(svc, "normal", {"a": 1}, layers=layers, env_extra={"BRAID_SANDBOX_USER": user})
    assert out.rc != 0, out
    assert out.result is None
    assert "BRAID_SANDBOX_USER=" + user in out.stderr, out
    assert words in out.stderr, out


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to start braid as another user")
def test_not_root_keeps_its_uid_and_drops_capabilities(layers):
    """braid started as uid 10001 (as in the container image): the process
    keeps that uid and has no capability; its bounding set stays the
    inherited one (without CAP_SETPCAP it cannot change, docs/sandbox.md)."""
    if subprocess.run(["sh", "-c", "command -v setpriv"], capture_output=True).returncode != 0:
        pytest.skip("no setpriv")
    d = tempfile.mkdtemp(prefix="braid-privs-")
    try:
        os.chmod(d, 0o755)
        write_function(d, "sleeper", SLEEPER, {"timeout_ms": 60000})
        os.chmod(os.path.join(d, "functions"), 0o755)
        os.chmod(os.path.join(d, "functions", "sleeper.py"), 0o644)
        os.chmod(os.path.join(d, "functions", "sleeper.json"), 0o644)
        prefix = ["setpriv", "--reuid", "10001", "--regid", "10001", "--clear-groups"]
        if subprocess.run(prefix + [BRAID, "--help"], capture_output=True).returncode == 126:
            pytest.skip("uid 10001 cannot run " + BRAID)
        st = sandboxed_status(d, layers, prefix=prefix)
    finally:
        shutil.rmtree(d)
    assert st["Uid"].split() == ["10001"] * 4, st["Uid"]
    assert st["Gid"].split() == ["10001"] * 4, st["Gid"]
    for key in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
        assert int(st[key], 16) == 0, (key, st[key])
    assert st["NoNewPrivs"] == "1"
    assert st["Seccomp"] == "2"
