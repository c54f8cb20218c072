"""Shared fixtures for the integration tests: the built binary, a real HTTP
backend on a free loopback port (tests/backend/backend.py), and service
directories written into temporary folders."""
import json
import os
import subprocess
import sys

import pytest

# tests/procinfo.py (shared by both suites) is importable from any test.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BRAID = os.environ.get("BRAID_BIN") or os.path.join(ROOT, "braid")
BACKEND = os.path.join(ROOT, "tests", "backend", "backend.py")


def run(*args, input=None, timeout=60, env=None):
    """Runs braid with args; returns CompletedProcess with text output."""
    return subprocess.run([BRAID, *args], input=input, capture_output=True,
                          text=True, timeout=timeout, env=env)


@pytest.fixture
def braid():
    return run


@pytest.fixture(scope="session")
def backend():
    """Base URL of a real HTTP/1.1 backend started for this test session."""
    proc = subprocess.Popen(["/usr/bin/python3", BACKEND, "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().split()
    assert line and line[0] == "PORT", "backend did not start"
    yield "http://127.0.0.1:%s" % line[1]
    proc.kill()
    proc.wait()


def write_service(root, files):
    """Writes {relative path: dict (JSON) or str} under root; returns root."""
    for rel, content in files.items():
        path = os.path.join(str(root), rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            if isinstance(content, str):
                f.write(content)
            else:
                json.dump(content, f)
    return str(root)


@pytest.fixture
def service(tmp_path):
    """service(files) → the path of a service directory holding files."""
    counter = [0]

    def make(files):
        counter[0] += 1
        return write_service(tmp_path / ("svc%d" % counter[0]), files)
    return make


def run_workflow(directory, workflow, inp=None, *extra, timeout=60):
    """Runs `braid run`; returns (exit status, parsed stdout or None, stderr)."""
    args = ["run", directory, workflow]
    if inp is not None:
        args += ["--input", json.dumps(inp)]
    r = run(*args, *extra, timeout=timeout)
    out = None
    if r.stdout.strip():
        out = json.loads(r.stdout)
    return r.returncode, out, r.stderr


def error_of(stderr):
    """The SPEC error object printed on stderr by a failed `braid run`."""
    for line in reversed(stderr.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)["error"]
    raise AssertionError("no error object in: " + stderr)


# ---- `braid serve` behind a real nginx (tests/integration/test_serve_*.py) ----
#
# Each Served is one `braid serve` master listening on a unix socket in a
# temporary folder, logging JSON lines to a file there, with its admin
# endpoint on a free loopback port, and an nginx in front of it that
# includes docker/nginx/braid_fastcgi.conf (the shipped settings) and
# listens on another free loopback port.

import http.client
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor

NGINX_FASTCGI_CONF = os.path.join(ROOT, "docker", "nginx", "braid_fastcgi.conf")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond, timeout=10.0, interval=0.02, what="condition"):
    """Polls cond() until it returns a true value (returned), or fails."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(interval)


def http_request(port, method, path, body=None, headers=None, timeout=30):
    """One request on a fresh connection: (status, {lower-case header: value}, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


class Served:
    """A running `braid serve DIR` with nginx in front (see above)."""

    def __init__(self, tmp, directory, flags=(), env=None, workers=2, spawner=None, tcp=False):
        self.tmp = str(tmp)
        os.makedirs(self.tmp, exist_ok=True)
        self.dir = directory
        self.sock = os.path.join(self.tmp, "braid.sock")
        # fastcgi_pass target: the unix socket, or a loopback TCP port.
        self.upstream = "127.0.0.1:%d" % free_port() if tcp else "unix:" + self.sock
        self.log = os.path.join(self.tmp, "braid.log")
        self.admin_port = free_port()
        self.port = None
        self.nginx = None
        cmd = [BRAID, "serve", directory, "--workers", str(workers),
               "--admin", "127.0.0.1:%d" % self.admin_port, "--log-file", self.log, *flags]
        if spawner is None:
            cmd += ["--listen", self.upstream, "--socket-mode", "0666"]
        else:
            cmd = [*spawner(self.sock), "--", *cmd]
        self.stderr = open(os.path.join(self.tmp, "braid.stderr"), "w+")
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.stderr,
                                     env=full_env)
        self.wait_workers(workers)
        self.start_nginx()

    # -- the servers --------------------------------------------------------

    def start_nginx(self, inc=NGINX_FASTCGI_CONF, keepalive=0):
        """nginx in front on a free port, with the FastCGI settings of inc;
        keepalive > 0 passes through an upstream with that many idle
        connections kept (for fastcgi_keep_conn on)."""
        self.port = free_port()
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(os.path.join(self.tmp, "nginx", sub), exist_ok=True)
        conf = os.path.join(self.tmp, "nginx", "nginx.conf")
        t = os.path.join(self.tmp, "nginx")
        with open(conf, "w") as f:
            f.write("""daemon off;
%(user)s
worker_processes 1;
pid %(t)s/nginx.pid;
error_log %(t)s/error.log info;
events { worker_connections 512; }
http {
    access_log off;
    client_body_temp_path %(t)s/body;
    proxy_temp_path %(t)s/proxy;
    fastcgi_temp_path %(t)s/fastcgi;
    uwsgi_temp_path %(t)s/uwsgi;
    scgi_temp_path %(t)s/scgi;
    %(pool)s
    server {
        listen 127.0.0.1:%(port)d;
        location / {
            include %(inc)s;
            fastcgi_pass %(pass)s;
        }
    }
}
""" % {"t": t, "port": self.port, "inc": inc,
       "pool": "upstream braid { server %s; keepalive %d; }" % (self.upstream, keepalive) if keepalive else "",
       "pass": "braid" if keepalive else self.upstream,
       # nginx's workers run as nobody when started by root; the socket
       # lives in a folder only its owner may enter.
       "user": "user root;" if os.geteuid() == 0 else ""})
        self.nginx = subprocess.Popen(["nginx", "-p", t, "-c", conf],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def up():
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return True
            except OSError:
                assert self.nginx.poll() is None, "nginx exited: " + self.nginx_errors()
                return False
        wait_for(up, 10, what="nginx")

    def nginx_errors(self):
        try:
            with open(os.path.join(self.tmp, "nginx", "error.log")) as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def stop(self, timeout=20):
        """Drains braid (SIGTERM) and stops nginx; returns braid's exit status."""
        rc = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
        else:
            rc = self.proc.returncode
        if self.nginx and self.nginx.poll() is None:
            self.nginx.terminate()
            try:
                self.nginx.wait(10)
            except subprocess.TimeoutExpired:
                self.nginx.kill()
                self.nginx.wait()
        self.stderr.close()
        return rc

    def signal(self, sig):
        self.proc.send_signal(sig)

    # -- requests --------------------------------------------------------------

    def request(self, method, path, body=None, headers=None, timeout=30):
        return http_request(self.port, method, path, body, headers, timeout)

    def get(self, path, headers=None, timeout=30):
        return self.request("GET", path, headers=headers, timeout=timeout)

    def json(self, method, path, body=None, headers=None, timeout=30):
        """(status, parsed JSON body, headers)."""
        st, hd, data = self.request(method, path, body, headers, timeout)
        return st, json.loads(data), hd

    def admin(self, path, method="GET"):
        return http_request(self.admin_port, method, path, timeout=10)

    def status(self):
        st, _, data = self.admin("/status")
        assert st == 200
        return json.loads(data)

    def workers(self, state=None):
        """pids of the workers (in that state)."""
        return [w["pid"] for w in self.status()["workers"] if state in (None, w["state"])]

    def wait_workers(self, n, timeout=15, exclude=()):
        """Waits until n workers are idle (none of them in exclude)."""
        def ready():
            assert self.proc.poll() is None, "braid serve exited: " + self.stderr_text()
            try:
                idle = [p for p in self.workers("idle") if p not in exclude]
            except (OSError, AssertionError, ValueError, http.client.HTTPException):
                return None
            return idle if len(idle) >= n else None
        return wait_for(ready, timeout, what="%d idle workers" % n)

    def stderr_text(self):
        self.stderr.flush()
        with open(self.stderr.name) as f:
            return f.read()

    def log_lines(self):
        """Every JSON line logged so far."""
        out = []
        try:
            with open(self.log) as f:
                for line in f:
                    if line.strip():
                        out.append(json.loads(line))
        except FileNotFoundError:
            pass
        return out

    def events(self, name):
        return [e for e in self.log_lines() if e.get("event") == name]


@pytest.fixture
def serve(tmp_path):
    """serve(directory, *flags, env=None, workers=2, spawner=None, tcp=False) → a Served,
    stopped (drained) at the end of the test."""
    started = []

    def make(directory, *flags, env=None, workers=2, spawner=None, tcp=False):
        s = Served(tmp_path / ("serve%d" % len(started)), directory, flags, env=env,
                   workers=workers, spawner=spawner, tcp=tcp)
        started.append(s)
        return s
    yield make
    for s in started:
        s.stop()


def concurrently(fn, args, threads=8, timeout=60):
    """Runs fn(arg) for each arg on a bounded thread pool; returns the results
    in order (an exception is returned as its value, not raised)."""
    def safe(a):
        try:
            return fn(a)
        except Exception as e:  # noqa: BLE001 — the caller counts failures
            return e
    with ThreadPoolExecutor(max_workers=threads) as ex:
        futs = [ex.submit(safe, a) for a in args]
        return [f.result(timeout=timeout) for f in futs]


FN_ECHO = "import json\ndef handler(event, context):\n    return json.loads(event)\n"


def standard_service(service, backend, extra=None):
    """A service directory for the serve tests: workflows
      echo     GET/POST → START as given ({"n": int} declared, optional)
      user     GET /users/{uid} → {"user_id", "name"} (uid: int, required)
      fwd      GET → the backend's /echo of the API call (headers included)
      slow     GET → the backend's /slow?ms=MS (api timeout 10 s)
      slowapi  GET → /slow?ms=MS through an API with a 300 ms timeout
      dead     GET → an API on a closed port
      crash    GET → a function that raises
      spin     GET → a function that loops past its 300 ms limit
      postonly POST only → START
    plus extra {relative path: content}."""
    files = {
        "apis/user.json": {"url": backend + "/users/{id}", "method": "GET",
                           "params": {"id": {"in": "path", "type": "int", "required": True}}},
        "apis/echo.json": {"url": backend + "/echo", "method": "GET"},
        "apis/slow.json": {"url": backend + "/slow", "method": "GET", "timeout_ms": 10000,
                           "params": {"ms": {"in": "query", "type": "int"}}},
        "apis/slowapi.json": {"url": backend + "/slow", "method": "GET", "timeout_ms": 300,
                              "params": {"ms": {"in": "query", "type": "int"}}},
        "apis/dead.json": {"url": "http://127.0.0.1:%d/x" % free_port(), "method": "GET",
                           "timeout_ms": 1000},
        "functions/echo.py": FN_ECHO,
        "functions/crash.py": "def handler(event, context):\n    raise RuntimeError('boom')\n",
        "functions/spin.py": "def handler(event, context):\n    while True:\n        pass\n",
        "functions/spin.json": {"timeout_ms": 300},
        "workflows/echo.json": {
            "params": {"n": {"type": "int"}},
            "nodes": [{"id": "F", "type": "function", "function": "echo"}],
            "edges": [["START", "F"], ["F", "END"]]},
        "workflows/user.json": {
            "params": {"uid": {"type": "int", "required": True}},
            "nodes": [{"id": "A", "type": "api", "api": "user", "params": {"id": "${START.uid}"},
                       "output": {"user_id": "$.data[0].id", "name": "$.data[0].name"}}],
            "edges": [["START", "A"], ["A", "END"]]},
        "workflows/fwd.json": {
            "nodes": [{"id": "A", "type": "api", "api": "echo"}],
            "edges": [["START", "A"], ["A", "END"]]},
        "workflows/slow.json": {
            "timeout_ms": 20000,
            "nodes": [{"id": "A", "type": "api", "api": "slow"}],
            "edges": [["START", "A"], ["A", "END"]]},
        "workflows/slowapi.json": {
            "nodes": [{"id": "A", "type": "api", "api": "slowapi"}],
            "edges": [["START", "A"], ["A", "END"]]},
        "workflows/dead.json": {
            "nodes": [{"id": "A", "type": "api", "api": "dead"}],
            "edges": [["START", "A"], ["A", "END"]]},
        "workflows/crash.json": {
            "nodes": [{"id": "F", "type": "function", "function": "crash"}],
            "edges": [["START", "F"], ["F", "END"]]},
        "workflows/spin.json": {
            "nodes": [{"id": "F", "type": "function", "function": "spin"}],
            "edges": [["START", "F"], ["F", "END"]]},
        "workflows/postonly.json": {
            "methods": ["POST"],
            "nodes": [{"id": "F", "type": "function", "function": "echo"}],
            "edges": [["START", "F"], ["F", "END"]]},
    }
    files.update(extra or {})
    return service(files)


# ---- the seed example behind each front server (test_front_servers.py) --------------
#
# A copy of the seed example (examples/seed): its one API reads the users
# from a SQLite database, built here from the checked-in data/users.sql
# (as `make build` does), so the copy needs no backend and no fixed port.
# uid 1 (alice) takes the admin branch, any other the user one.
#
# Apache drops root for a real user (it refuses to serve as root), so its
# processes must reach braid's socket: FrontServer tests keep everything in
# a folder that others may traverse (/tmp/braid-front-*, mode 0711) instead
# of pytest's private tmp_path.

import shutil
import sqlite3
import tempfile

SEED_DIR = os.path.join(ROOT, "examples", "seed")
APACHE_CONF = os.path.join(ROOT, "docker", "apache", "braid.conf")
LIGHTTPD_CONF = os.path.join(ROOT, "docker", "lighttpd", "braid.conf")
APACHE_MODULES = "/usr/lib/apache2/modules"


def seed_copy(dest, isolation=None):
    """Copies examples/seed (workflows, functions, apis, datasources) to
    dest and builds its data/users.db from data/users.sql; with isolation,
    every function gets functions/<name>.json {"isolation": isolation}.
    The copy's folders are readable by others (Apache's user).  Returns dest."""
    for sub in ("workflows", "functions", "apis", "datasources"):
        shutil.copytree(os.path.join(SEED_DIR, sub), os.path.join(dest, sub))
    os.makedirs(os.path.join(dest, "data"))
    with open(os.path.join(SEED_DIR, "data", "users.sql")) as f:
        script = f.read()
    db = sqlite3.connect(os.path.join(dest, "data", "users.db"))
    db.executescript(script)
    db.close()
    if isolation:
        for name in os.listdir(os.path.join(dest, "functions")):
            if name.endswith(".py"):
                with open(os.path.join(dest, "functions", name[:-3] + ".json"), "w") as f:
                    json.dump({"isolation": isolation}, f)
    return dest


@pytest.fixture
def open_tmp():
    """A fresh folder under /tmp that other users may traverse (0711), removed after the test."""
    d = tempfile.mkdtemp(prefix="braid-front-", dir="/tmp")
    os.chmod(d, 0o711)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def seed_service(open_tmp):
    """A copy of examples/seed with its SQLite database."""
    return seed_copy(os.path.join(open_tmp, "seed"))


class FrontServer:
    """A front server (apache2 or lighttpd) run in the foreground from a
    config written into a folder of its own, on a free loopback port,
    passing every path to braid's unix socket `sock` through the shipped
    config in docker/."""

    def __init__(self, kind, tmp, sock):
        self.kind = kind
        self.tmp = os.path.join(tmp, kind)
        os.makedirs(self.tmp)
        os.chmod(self.tmp, 0o755)
        self.port = free_port()
        self.errlog = os.path.join(self.tmp, "error.log")
        conf = os.path.join(self.tmp, kind + ".conf")
        with open(conf, "w") as f:
            f.write(getattr(self, "_" + kind + "_conf")(sock))
        if kind == "apache":
            cmd = ["apache2", "-DFOREGROUND", "-f", conf]
        else:
            cmd = ["lighttpd", "-D", "-f", conf]
        self.out = open(os.path.join(self.tmp, "stdout"), "w+")
        self.proc = subprocess.Popen(cmd, stdout=self.out, stderr=subprocess.STDOUT,
                                     start_new_session=True)

        def up():
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return True
            except OSError:
                assert self.proc.poll() is None, "%s exited: %s" % (kind, self.errors())
                return False
        wait_for(up, 15, what=kind)

    def _apache_conf(self, sock):
        m = APACHE_MODULES
        return """# Self-contained: nothing from /etc/apache2 is read.
ServerRoot "%(t)s"
ServerName 127.0.0.1
Listen 127.0.0.1:%(port)d
PidFile %(t)s/httpd.pid
ErrorLog %(t)s/error.log
LogLevel warn
DefaultRuntimeDir %(t)s
Mutex file:%(t)s default
# Apache refuses to serve as root; ignored when not started as root.
User nobody
Group %(group)s
LoadModule mpm_event_module %(m)s/mod_mpm_event.so
LoadModule authz_core_module %(m)s/mod_authz_core.so
LoadModule reqtimeout_module %(m)s/mod_reqtimeout.so
LoadModule headers_module %(m)s/mod_headers.so
LoadModule proxy_module %(m)s/mod_proxy.so
LoadModule proxy_fcgi_module %(m)s/mod_proxy_fcgi.so
StartServers 1
ServerLimit 1
ThreadsPerChild 16
MaxRequestWorkers 16
MinSpareThreads 1
MaxSpareThreads 16
Define BRAID_SOCKET %(sock)s
Include %(inc)s
""" % {"t": self.tmp, "port": self.port, "m": m, "sock": sock, "inc": APACHE_CONF,
       "group": _nobody_group()}

    def _lighttpd_conf(self, sock):
        return """server.document-root = "%(t)s"
server.bind = "127.0.0.1"
server.port = %(port)d
server.pid-file = "%(t)s/lighttpd.pid"
server.errorlog = "%(t)s/error.log"
server.upload-dirs = ( "%(t)s" )
var.braid_socket = "%(sock)s"
include "%(inc)s"
""" % {"t": self.tmp, "port": self.port, "sock": sock, "inc": LIGHTTPD_CONF}

    def errors(self):
        text = ""
        for path in (self.errlog, self.out.name):
            try:
                with open(path) as f:
                    text += f.read()[-3000:]
            except OSError:
                pass
        return text

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.out.close()


def _nobody_group():
    import grp
    for name in ("nogroup", "nobody"):
        try:
            grp.getgrnam(name)
            return name
        except KeyError:
            pass
    return "#65534"


@pytest.fixture
def front(open_tmp):
    """front(kind, sock) → a running FrontServer ("apache" or "lighttpd"),
    stopped at the end of the test."""
    started = []

    def make(kind, sock):
        s = FrontServer(kind, open_tmp, sock)
        started.append(s)
        return s
    yield make
    for s in started:
        s.stop()


@pytest.fixture
def serve_open(open_tmp):
    """Like serve, but braid's socket and files live in open_tmp (see FrontServer)."""
    started = []

    def make(directory, *flags, env=None, workers=2, spawner=None):
        s = Served(os.path.join(open_tmp, "serve%d" % len(started)), directory, flags,
                   env=env, workers=workers, spawner=spawner)
        os.chmod(s.tmp, 0o711)
        started.append(s)
        return s
    yield make
    for s in started:
        s.stop()
