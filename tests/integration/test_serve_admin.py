"""`braid serve` as operated: the admin endpoint (/healthz, /status,
/metrics), the command line and its environment twins, an invalid service
directory, the socket a spawner hands over on fd 0 (spawn-fcgi), the log
file and its reopening."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess

import pytest

from conftest import BRAID, Served, free_port, http_request, run, standard_service, wait_for


@pytest.fixture
def svc(service, backend):
    return standard_service(service, backend)


# ---- the admin endpoint ------------------------------------------------------------


def settled(s, n):
    """Waits until the workers have counted n requests (a worker counts
    right after its response has left, so a client can be a moment ahead)."""
    wait_for(lambda: sum(w["requests"] for w in s.status()["workers"]) >= n, 5,
             what="%d requests counted" % n)


def test_healthz(serve, svc):
    s = serve(svc)
    st, hd, body = s.admin("/healthz")
    assert (st, body) == (200, b"ok\n")
    assert hd["content-type"].startswith("text/plain")


def test_status_fields(serve, svc):
    s = serve(svc, workers=2)
    for _ in range(3):
        assert s.get("/user?uid=1")[0] == 200
    assert s.get("/crash")[0] == 500
    settled(s, 4)
    st, hd, body = s.admin("/status")
    assert st == 200 and hd["content-type"].startswith("application/json")
    j = json.loads(body)
    assert set(j) >= {"version", "pid", "uptime_s", "service", "workflows", "workers",
                      "restarts", "reloads"}
    assert j["pid"] == s.proc.pid and j["service"] == svc
    assert re.match(r"^\d+\.\d+\.\d+", j["version"]) and j["uptime_s"] >= 0
    wfs = {w["name"]: w for w in j["workflows"]}
    assert set(wfs) >= {"user", "echo", "crash"}
    assert wfs["user"]["path"] == "/user"
    assert (wfs["user"]["requests"], wfs["user"]["errors"]) == (3, 0)
    assert (wfs["crash"]["requests"], wfs["crash"]["errors"]) == (1, 1)
    assert 0 < wfs["user"]["p50_ms"] <= wfs["user"]["p99_ms"]
    assert wfs["echo"]["requests"] == 0 and wfs["echo"]["p50_ms"] is None
    assert len(j["workers"]) == 2
    for w in j["workers"]:
        assert set(w) >= {"pid", "state", "requests", "busy_ms"}
        assert w["state"] in ("idle", "busy") and w["pid"] > 0
    assert sum(w["requests"] for w in j["workers"]) == 4
    assert (j["restarts"], j["reloads"]) == (0, 0)


def parse_metrics(text):
    """Prometheus text format 0.0.4 → {(name, frozenset(labels)): value}; checks
    every line's syntax and that each sample's family has a TYPE."""
    types, samples = {}, {}
    line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
    label_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            assert kind in ("counter", "gauge", "histogram")
            types[name] = kind
            continue
        if line.startswith("# HELP ") or not line:
            continue
        m = line_re.match(line)
        assert m, "bad metrics line: " + line
        name, labels, value = m.group(1), m.group(3), float(m.group(4))
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in types or family in types, "no TYPE for " + name
        lab = frozenset(label_re.findall(labels or ""))
        samples[(name, lab)] = value
    return samples


def test_metrics_parse_and_count(serve, svc):
    s = serve(svc)
    for _ in range(4):
        s.get("/user?uid=2")
    s.get("/crash")
    s.get("/nowhere")
    settled(s, 6)
    st, hd, body = s.admin("/metrics")
    assert st == 200 and "version=0.0.4" in hd["content-type"]
    m = parse_metrics(body.decode())

    def v(name, **labels):
        return m.get((name, frozenset(labels.items())))
    assert v("braid_requests_total", workflow="user", status="200") == 4
    assert v("braid_requests_total", workflow="crash", status="500") == 1
    assert v("braid_requests_total", workflow="", status="404") == 1
    assert v("braid_request_errors_total", workflow="crash", code="FUNCTION_ERROR") == 1
    assert v("braid_request_duration_seconds_count", workflow="user") == 4
    assert v("braid_request_duration_seconds_bucket", workflow="user", le="+Inf") == 4
    assert v("braid_request_duration_seconds_sum", workflow="user") > 0
    # Buckets are cumulative.
    buckets = sorted((float(dict(l)["le"]), val) for (n, l), val in m.items()
                     if n == "braid_request_duration_seconds_bucket"
                     and dict(l)["workflow"] == "user" and dict(l)["le"] != "+Inf")
    assert [b[1] for b in buckets] == sorted(b[1] for b in buckets)
    assert v("braid_workers", state="idle") + v("braid_workers", state="busy") == 2
    assert v("braid_worker_restarts_total") == 0
    assert v("braid_reloads_total") == 0


def test_admin_rejects_everything_else(serve, svc):
    s = serve(svc)
    assert s.admin("/nope")[0] == 404
    assert s.admin("/")[0] == 404
    st, hd, _ = s.admin("/status", method="POST")
    assert st == 405 and hd["allow"] == "GET"
    assert s.admin("/healthz", method="DELETE")[0] == 405
    # Garbage and silence do not hang the master.
    with socket.create_connection(("127.0.0.1", s.admin_port), timeout=5) as c:
        c.sendall(b"NONSENSE\r\n\r\n")
        assert c.recv(100).startswith(b"HTTP/1.0 400")
    idle = socket.create_connection(("127.0.0.1", s.admin_port), timeout=5)
    try:
        # Queued behind the silent client for at most its 2 s read timeout.
        assert s.admin("/healthz")[0] == 200
    finally:
        idle.close()


def test_admin_answers_while_every_worker_is_busy(serve, svc):
    import threading
    s = serve(svc, workers=1)
    t = threading.Thread(target=s.get, args=("/slow?ms=1500",))
    t.start()
    try:
        wait_for(lambda: s.workers("busy"), 5, what="a busy worker")
        st, _, body = s.admin("/status")
        busy = [w for w in json.loads(body)["workers"] if w["state"] == "busy"]
        assert st == 200 and len(busy) == 1 and busy[0]["busy_ms"] >= 0
        assert s.admin("/healthz")[0] == 200
    finally:
        t.join(10)


def test_healthz_is_503_while_draining(serve, svc):
    import threading
    s = serve(svc, workers=1)
    t = threading.Thread(target=s.get, args=("/slow?ms=1500",))
    t.start()
    wait_for(lambda: s.workers("busy"), 5, what="a busy worker")
    s.signal(signal.SIGTERM)
    st, _, body = wait_for(lambda: (lambda r: r if r[0] == 503 else None)(s.admin("/healthz")),
                           5, what="503")
    assert body == b"draining\n"
    t.join(10)
    assert s.proc.wait(10) == 0


# ---- command line, environment ------------------------------------------------------


def test_bad_flags_exit_2(svc, tmp_path):
    for args in (["--workers", "0"], ["--workers", "x"], ["--request-timeout", "5"],
                 ["--max-body", "0"], ["--socket-mode", "999"], ["--bogus"],
                 ["--base-path", "no-slash"], ["--debug=maybe"], ["--listen"]):
        r = run("serve", svc, "--listen", "unix:%s/s.sock" % tmp_path, *args, timeout=20)
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.startswith("braid serve: ")
    r = run("serve", timeout=20)
    assert r.returncode == 2
    r = run("serve", "--help", timeout=20)
    assert r.returncode == 0 and "--max-requests" in r.stdout and "BRAID_WORKERS" in r.stdout
    env = dict(os.environ, BRAID_WORKERS="many")
    r = run("serve", svc, "--listen", "unix:%s/s.sock" % tmp_path, env=env, timeout=20)
    assert r.returncode == 2 and "BRAID_WORKERS" in r.stderr


def test_no_listen_and_no_socket_on_fd0_exits_2(svc):
    r = subprocess.run([BRAID, "serve", svc], stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=20)
    assert r.returncode == 2 and "fd 0" in r.stderr


def test_invalid_directory_is_never_served(service, tmp_path):
    d = service({"workflows/w.json": {"nodes": [{"id": "A", "type": "api", "api": "missing"}],
                                      "edges": [["START", "A"], ["A", "END"]]}})
    sock = tmp_path / "s.sock"
    r = run("serve", d, "--listen", "unix:%s" % sock, timeout=30)
    assert r.returncode == 1
    assert "missing" in r.stderr and "problem" in r.stderr
    assert not sock.exists()


def test_socket_in_use_is_refused(serve, svc):
    s = serve(svc, workers=1)
    r = run("serve", svc, "--listen", "unix:" + s.sock, timeout=30)
    assert r.returncode == 1 and "in use" in r.stderr
    assert s.get("/echo")[0] == 200


def test_environment_twins(svc, tmp_path):
    sock = str(tmp_path / "env.sock")
    admin = free_port()
    log = str(tmp_path / "env.log")
    env = dict(os.environ, BRAID_LISTEN="unix:" + sock, BRAID_WORKERS="3",
               BRAID_ADMIN="127.0.0.1:%d" % admin, BRAID_BASE_PATH="/base",
               BRAID_DEBUG="1", BRAID_MAX_BODY="64", BRAID_LOG_FILE=log,
               BRAID_SOCKET_MODE="0600", BRAID_MAX_REQUESTS="1000",
               BRAID_REQUEST_TIMEOUT="5000")
    # A flag wins over its twin: 1 worker, not 3.
    p = subprocess.Popen([BRAID, "serve", svc, "--workers", "1"], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def up():
            try:
                st, _, body = http_request(admin, "GET", "/status", timeout=2)
            except OSError:
                return None
            j = json.loads(body)
            return j if [w["state"] for w in j["workers"]] == ["idle"] else None
        wait_for(up, 15, what="the env-configured server")
        assert oct(os.stat(sock).st_mode & 0o777) == "0o600"
        start = [json.loads(l) for l in open(log) if '"event":"start"' in l][0]
        assert (start["workers"], start["base_path"], start["debug"]) == (1, "/base", True)
        assert (start["max_requests"], start["request_timeout_ms"]) == (1000, 5000)
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(20) == 0
    assert not os.path.exists(sock)


def test_environment_twins_through_nginx(serve, svc):
    s = serve(svc, env={"BRAID_BASE_PATH": "/b", "BRAID_DEBUG": "yes", "BRAID_MAX_BODY": "100"})
    assert s.json("GET", "/b/echo?x=1")[1] == {"x": "1"}
    assert "trace" in s.json("GET", "/b/echo", headers={"X-Braid-Trace": "1"})[1]
    assert s.request("POST", "/b/echo", {"p": "x" * 200},
                     {"Content-Type": "application/json"})[0] == 413


def test_listen_on_tcp(serve, svc):
    s = serve(svc, tcp=True)
    assert s.json("GET", "/user?uid=6")[:2] == (200, {"user_id": 6, "name": "user6"})
    assert s.events("start")[0]["listen"] == s.upstream
    assert s.stop() == 0


def test_responses_survive_unread_bodies_over_tcp(serve, svc):
    """Workers close at once instead of libfcgi's lingering close, but only
    after reading stdin to its end: a GET body Braid ignores, or a body over
    the limit, must never reset the connection before nginx has the reply."""
    s = serve(svc, "--max-body", "64k", tcp=True)
    big = b"x" * (4 << 20)
    for _ in range(3):
        st, _, data = s.request("GET", "/user?uid=6", big)
        assert (st, json.loads(data)) == (200, {"user_id": 6, "name": "user6"})
        st, body, _ = s.json("POST", "/echo", big, {"Content-Type": "application/json"})
        assert st == 413 and body["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert s.stop() == 0


# ---- fd 0 from a spawner ----------------------------------------------------------------


@pytest.mark.skipif(not shutil.which("spawn-fcgi"), reason="spawn-fcgi is not installed")
def test_spawn_fcgi_hands_the_socket_on_fd0(serve, svc):
    s = serve(svc, workers=2,
              spawner=lambda sock: ["spawn-fcgi", "-n", "-s", sock, "-M", "0666"])
    assert s.json("GET", "/user?uid=7")[:2] == (200, {"user_id": 7, "name": "user7"})
    start = s.events("start")[0]
    assert start["listen"] == "fd 0"
    # spawn-fcgi -n execs braid: the master is the process spawn-fcgi became.
    assert s.status()["pid"] == s.proc.pid
    assert s.stop() == 0
    # The socket file is the spawner's, left in place.
    assert os.path.exists(s.sock)


# ---- logs -----------------------------------------------------------------------------------


def test_sigusr1_reopens_the_log(serve, svc):
    s = serve(svc)
    s.get("/echo", headers={"X-Request-Id": "before-rotation"})
    wait_for(lambda: any(e.get("request_id") == "before-rotation" for e in s.log_lines()), 5,
             what="the first line")
    os.rename(s.log, s.log + ".1")
    s.signal(signal.SIGUSR1)
    wait_for(lambda: os.path.exists(s.log), 5, what="a new log file")
    # Each worker reopens on its next turn of the loop.
    def rotated():
        s.get("/echo", headers={"X-Request-Id": "after-rotation"})
        return any(e.get("request_id") == "after-rotation" for e in s.log_lines())
    wait_for(rotated, 10, interval=0.2, what="request lines in the new file")
    with open(s.log + ".1") as f:
        assert "before-rotation" in f.read()
    # The master reopens on its own turn of its loop, which may come after a
    # worker's: wait for its event rather than expect it already written.
    wait_for(lambda: s.events("log_reopened"), 5, what="the master's log_reopened event")


def test_master_events_are_logged(serve, svc):
    s = serve(svc, workers=1)
    start = s.events("start")[0]
    assert start["listen"] == "unix:" + s.sock and start["workers"] == 1
    assert start["time"].endswith("Z") and start["pid"] == s.proc.pid
    assert s.stop() == 0
    ev = [e["event"] for e in s.log_lines() if "event" in e]
    assert ev[0] == "start" and "drain" in ev and ev[-1] == "stop"
    exits = s.events("worker_exit")
    assert exits and exits[0]["reason"] == "drained"
