"""`make run`, tried as a new user would: start it, curl both branches of
the seed workflow and the admin endpoints, press Ctrl-C (SIGINT to make's
process group), and check that braid drained and that nothing it started
is left running.  Bounded in time at every step."""
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import ROOT, free_port, http_request, wait_for

pytestmark = pytest.mark.skipif(not shutil.which("make") or not shutil.which("nginx"),
                                reason="make and nginx are needed")

BANNER = "Braid is serving examples/seed at"


def session_pids(sid):
    """Every live process in session sid."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        # fields[0] is the state, [3] the session id.
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(entry))
    return pids


def port_free(port):
    """Nothing listens on 127.0.0.1:port (a connection is refused)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return False
    except OSError:
        return True


def test_make_run_serves_the_seed_and_ctrl_c_stops_everything():
    port, admin = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    # A new session: make leads its process group, as at a terminal, and
    # every process it starts stays in the session, where we can find it.
    proc = subprocess.Popen(["make", "--no-print-directory", "run",
                             "RUN_PORT=%d" % port, "RUN_ADMIN_PORT=%d" % admin],
                            cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    out = lambda: "".join(lines)  # noqa: E731
    try:
        wait_for(lambda: BANNER in out() or proc.poll() is not None, 300, 0.1,
                 what="make run to start")
        assert proc.poll() is None, "make run exited:\n" + out()
        assert "http://127.0.0.1:%d" % port in out()
        assert "curl 'http://127.0.0.1:%d/user_lookup?uid=1'" % port in out()
        assert "curl http://127.0.0.1:%d/metrics" % admin in out()

        # Both branches of the seed workflow, through nginx.
        st, hd, data = http_request(port, "GET", "/user_lookup?uid=1")
        assert st == 200, data
        assert json.loads(data) == {"user_id": 1, "name": "alice", "role": "admin", "vip": True}
        st, hd, data = http_request(port, "GET", "/user_lookup?uid=2")
        assert st == 200, data
        assert json.loads(data) == {"user_id": 2, "name": "bob", "role": "user", "vip": False}

        # The admin endpoints.
        st, _, data = http_request(admin, "GET", "/healthz")
        assert (st, data) == (200, b"ok\n") or (st == 200 and data.strip() == b"ok")
        def status():
            st, _, data = http_request(admin, "GET", "/status")
            assert st == 200
            return json.loads(data)
        assert status()["workers"]
        assert status()["workflows"][0]["name"] == "user_lookup"
        # (a worker counts a request just after the client has its answer)
        wait_for(lambda: status()["workflows"][0]["requests"] >= 2, 5, what="2 requests counted")
        st, _, data = http_request(admin, "GET", "/metrics")
        assert st == 200
        assert 'braid_requests_total{workflow="user_lookup",status="200"} 2' in data.decode()

        # braid's JSON log lines are shown in the foreground.
        def logged():
            return [json.loads(l) for l in list(lines) if l.startswith('{"time"')
                    and '"workflow":"user_lookup"' in l]
        wait_for(lambda: len(logged()) >= 2, 10, what="the request log lines")

        running = session_pids(proc.pid)
        cmds = " ".join(open("/proc/%d/cmdline" % p).read() for p in running
                        if os.path.exists("/proc/%d/cmdline" % p))
        assert "braid\0serve" in cmds and "nginx" in cmds
    finally:
        # Ctrl-C: SIGINT to make's process group.
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            left = session_pids(proc.pid)
            for p in left:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            raise AssertionError("make run did not stop within 60 s; killed %s\n%s" % (left, out()))

    # Nothing it started is left: no process in its session, ports and socket free.
    wait_for(lambda: not session_pids(proc.pid), 15, 0.1,
             what="every process of make run to exit (left: %s)" % session_pids(proc.pid))
    reader.join(10)
    text = out()
    assert "make run: stopped" in text, text
    stops = [json.loads(l) for l in lines if '"event":"stop"' in l]
    assert stops and stops[-1]["exit_status"] == 0, text   # braid drained
    assert port_free(port) and port_free(admin)
    assert not os.path.exists(os.path.join(ROOT, "build", "run", "braid.sock"))
    # The seed needs no backend: make run started no server but braid and nginx.
    assert "backend" not in text.lower(), text
