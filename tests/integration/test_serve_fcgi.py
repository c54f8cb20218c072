"""`braid serve` spoken to in raw FastCGI (tests/integration/fcgi_client.py),
as anyone who can reach its socket may: records no front server sends
(name-value lengths of 2 GiB, lengths past the record, truncated records,
unknown types and versions, management records before and inside a request)
close the connection and never cost a worker; and connections the front
server keeps open (FCGI_KEEP_CONN) are answered request after request, by a
raw client and by nginx with `fastcgi_keep_conn on` + upstream keepalive as
well as with the shipped config (off), without pinning the pool."""
import json
import os
import signal
import socket
import struct
import subprocess
import time

import pytest

import fcgi_client as fc
from conftest import (BRAID, NGINX_FASTCGI_CONF, Served, concurrently, free_port, http_request,
                      standard_service, wait_for)


@pytest.fixture
def svc(service, backend):
    return standard_service(service, backend)


def intact(s, pids):
    """No worker died or was replaced since pids were taken."""
    time.sleep(0.3)  # a crash is reaped and logged on the master's next 100 ms tick
    exits = s.events("worker_exit")
    assert exits == [], exits
    st = s.status()
    assert st["restarts"] == 0
    assert sorted(w["pid"] for w in st["workers"]) == pids


def answered(s, n=1):
    """A normal request, raw and through nginx, is answered."""
    r = fc.get(s.upstream, "/echo?n=%d" % n)
    assert (r.status, json.loads(r.body)) == (200, {"n": n})
    st, body, _ = s.json("GET", "/echo?n=%d" % n)
    assert (st, body) == (200, {"n": n})


def params(content, rid=1):
    return fc.record(fc.PARAMS, rid, content)


HUGE = 0x7ffffffe
# What follows a valid BEGIN_REQUEST (request id 1) on the connection, and
# whether the client then half-closes.  The first ones made libfcgi call
# malloc(2 GiB or more) and abort the worker.
HOSTILE = {
    # The 18-byte record: name length 0x7ffffffe, value length 0.
    "name_length_2gib": params(struct.pack(">IB", HUGE | 0x80000000, 0) + b"x"),
    "value_length_2gib": params(b"\x01" + struct.pack(">I", 0x7fffffff | 0x80000000) + b"A"),
    "both_lengths_1gib": params(struct.pack(">II", 0xc0000000, 0xc0000000) + b"ab"),
    "value_length_2gib_in_a_later_pair": params(fc.pair("A", "b") + b"\x01" +
                                                struct.pack(">I", 0xfffffff0) + b"C"),
    # Lengths past what the params stream holds, then its end.
    "lengths_past_the_content": params(b"\x7f\x00abcde") + params(b"") +
    fc.record(fc.STDIN, 1),
    "pair_cut_by_the_end_of_params": params(b"\x05") + params(b""),
    # A record announcing more content than is sent (the client half-closes).
    "truncated_record": fc.header(fc.PARAMS, 1, 100) + fc.pair("A", "b"),
    "truncated_header": b"\x01\x04\x00",
    "unknown_record_type": fc.record(0x55, 1, b"12345678"),
    "bad_version": fc.header(fc.PARAMS, 1, 8, version=2) + b"12345678",
    "stdin_before_params_end": params(fc.pair("A", "b")) + fc.record(fc.STDIN, 1, b"xy"),
    "a_second_begin_request": params(fc.pair("A", "b")) + fc.begin(2),
    "another_request_id": fc.record(fc.PARAMS, 7, fc.pair("A", "b")),
    "abort_request": fc.record(fc.ABORT_REQUEST, 1),
    "get_values_2gib_inside_params": params(fc.pair("A", "b")) + fc.record(
        fc.GET_VALUES, 0, struct.pack(">IB", HUGE | 0x80000000, 0) + b"x"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_records_close_the_connection_and_cost_no_worker(serve, svc, name):
    s = serve(svc, workers=2)
    pids = sorted(s.workers())
    with fc.Conn(s.upstream, timeout=8) as c:
        c.send(fc.begin(1) + HOSTILE[name])
        c.sock.shutdown(socket.SHUT_WR)
        assert c.closed_by_server()
    intact(s, pids)
    answered(s)
    intact(s, pids)


def test_get_values_2gib_before_begin_request(serve, svc):
    s = serve(svc, workers=2)
    pids = sorted(s.workers())
    with fc.Conn(s.upstream, timeout=8) as c:
        c.send(fc.record(fc.GET_VALUES, 0, struct.pack(">IB", HUGE | 0x80000000, 0) + b"x"))
        assert c.closed_by_server()
    intact(s, pids)
    answered(s)


def test_get_values_2gib_inside_the_body(serve, svc):
    """A management record in the middle of stdin: libfcgi parses it with
    the same name-value code, while the handler reads the body."""
    s = serve(svc, workers=2)
    pids = sorted(s.workers())
    body = b'{"n": 5}'
    head = fc.request_head("/echo", method="POST", body=body, content_type="application/json")
    with fc.Conn(s.upstream, timeout=8) as c:
        c.send(head + fc.record(fc.STDIN, 1, body[:3]) +
               fc.record(fc.GET_VALUES, 0, struct.pack(">IB", HUGE | 0x80000000, 0) + b"x") +
               fc.record(fc.STDIN, 1, body[3:]) + fc.record(fc.STDIN, 1))
        assert c.closed_by_server()
    intact(s, pids)
    answered(s)


def test_twelve_hostile_records_in_a_burst_kill_no_worker(serve, svc):
    s = serve(svc, workers=2)
    pids = sorted(s.workers())
    conns = []
    t0 = time.monotonic()
    for _ in range(12):
        c = fc.Conn(s.upstream, timeout=8)
        c.send(fc.begin(1) + HOSTILE["name_length_2gib"])
        conns.append(c)
    assert time.monotonic() - t0 < 2
    for c in conns:
        assert c.closed_by_server()
        c.close()
    intact(s, pids)
    for i in range(4):
        answered(s, i)
    intact(s, pids)


def random_stream(rng):
    """A valid head's prefix, then random records: random types, request
    ids, lengths (1- and 4-byte pair lengths of any size), contents."""
    out = fc.begin(1, keep=rng.random() < 0.5) if rng.random() < 0.8 else b""
    for _ in range(rng.randint(1, 6)):
        kind = rng.random()
        if kind < 0.5:
            content = b""
            for _ in range(rng.randint(1, 4)):
                for _ in range(2):
                    content += (bytes([rng.randint(0, 0x7f)]) if rng.random() < 0.5 else
                                struct.pack(">I", rng.getrandbits(32) | 0x80000000))
                content += os.urandom(rng.randint(0, 40))
            out += fc.record(rng.choice([fc.PARAMS, fc.PARAMS, fc.GET_VALUES, fc.STDIN]),
                             rng.choice([1, 1, 0, 2]), content[:65535])
        elif kind < 0.7:
            out += fc.record(fc.PARAMS, 1) + fc.record(fc.STDIN, 1, os.urandom(rng.randint(0, 30)))
        elif kind < 0.9:
            out += fc.header(rng.randint(0, 255), rng.randint(0, 3), rng.randint(0, 65535),
                             rng.randint(0, 255), version=rng.choice([1, 1, 0, 2]))
            out += os.urandom(rng.randint(0, 64))
        else:
            out += os.urandom(rng.randint(1, 64))
    return out


def test_random_records_cost_no_worker(serve, svc):
    import random
    rng = random.Random(1234)
    s = serve(svc, workers=2)
    pids = sorted(s.workers())
    for _ in range(150):
        with fc.Conn(s.upstream, timeout=8) as c:
            try:
                c.send(random_stream(rng))
                c.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # closed by braid while sending: that is an answer too
            assert c.closed_by_server()
    intact(s, pids)
    answered(s)


def test_a_silent_connection_is_dropped(serve, svc):
    """A client that connects and sends half a request holds a worker for
    a few seconds at most, not until --request-timeout."""
    s = serve(svc, workers=1)
    pids = sorted(s.workers())
    with fc.Conn(s.upstream, timeout=15) as c:
        c.send(fc.begin(1) + fc.header(fc.PARAMS, 1, 64))
        t0 = time.monotonic()
        assert c.closed_by_server()
        assert time.monotonic() - t0 < 10
    intact(s, pids)
    answered(s)


def test_large_params_are_accepted(serve, svc):
    """A params stream over one record (64 KiB), with a 100 KB value split
    across records, as an HTTP header that large would be."""
    s = serve(svc, workers=1)
    content = b"".join(fc.pair(k, v) for k, v in fc.params_for("/echo?n=3").items())
    content += fc.pair("HTTP_X_BIG", "v" * 100000)
    recs = b"".join(params(content[i:i + 65528]) for i in range(0, len(content), 65528))
    with fc.Conn(s.upstream) as c:
        c.send(fc.begin(1) + recs + params(b"") + fc.record(fc.STDIN, 1))
        r = c.response()
    assert (r.status, json.loads(r.body)) == (200, {"n": 3})


# ---- FCGI_WEB_SERVER_ADDRS ------------------------------------------------------------


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as t:
            t.bind(("::1", 0))
        return True
    except OSError:
        return False


class Bare:
    """`braid serve DIR --listen ADDR` alone (no nginx), with env added."""

    def __init__(self, tmp, directory, listen, env):
        self.upstream = listen
        self.admin_port = free_port()
        e = dict(os.environ)
        e.update(env)
        self.stderr = open(os.path.join(str(tmp), "bare.stderr"), "w+")
        self.proc = subprocess.Popen([BRAID, "serve", directory, "--workers", "1", "--listen",
                                      listen, "--admin", "127.0.0.1:%d" % self.admin_port],
                                     stdout=subprocess.DEVNULL, stderr=self.stderr, env=e)

        def ready():
            assert self.proc.poll() is None, "braid serve exited"
            try:
                st, _, body = http_request(self.admin_port, "GET", "/status", timeout=2)
            except OSError:
                return False
            return st == 200 and any(w["state"] == "idle" for w in json.loads(body)["workers"])
        wait_for(ready, 15, what="an idle worker")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(20)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.stderr.close()


@pytest.fixture
def bare(tmp_path):
    started = []

    def make(directory, listen, env):
        b = Bare(tmp_path, directory, listen, env)
        started.append(b)
        return b
    yield make
    for b in started:
        b.stop()


def refused(address):
    with fc.Conn(address, timeout=8) as c:
        try:
            c.send(fc.request("/echo?n=1"))
        except OSError:
            return True
        return c.closed_by_server()


@pytest.mark.parametrize("v6", [False, True], ids=["ipv4", "ipv6"])
def test_fcgi_web_server_addrs_is_honoured(bare, svc, v6):
    """Only the listed front-server addresses may connect over TCP, IPv6
    peers included (braid accepts connections itself, not libfcgi)."""
    if v6 and not ipv6_loopback():
        pytest.skip("no IPv6 loopback here")
    host, me = ("[::1]", "::1") if v6 else ("127.0.0.1", "127.0.0.1")
    b = bare(svc, "%s:%d" % (host, free_port()), {"FCGI_WEB_SERVER_ADDRS": "10.9.9.9, 10::9"})
    assert refused(b.upstream)
    b2 = bare(svc, "%s:%d" % (host, free_port()), {"FCGI_WEB_SERVER_ADDRS": "10.9.9.9," + me})
    r = fc.get(b2.upstream, "/echo?n=2")
    assert (r.status, json.loads(r.body)) == (200, {"n": 2})
    assert b.stop() == 0 and b2.stop() == 0


# ---- FCGI_KEEP_CONN -------------------------------------------------------------------


def test_two_requests_on_one_kept_connection(serve, svc):
    s = serve(svc, workers=2)
    with fc.Conn(s.upstream) as c:
        for i, rid in ((1, 1), (2, 1), (3, 2)):
            c.send(fc.request("/echo?n=%d" % i, rid=rid, keep=True))
            r = c.response(rid)
            assert (r.status, json.loads(r.body), r.protocol_status) == (200, {"n": i}, 0)
        # Without the flag: answered, then closed by braid.
        c.send(fc.request("/echo?n=4", rid=3, keep=False))
        r = c.response(3)
        assert (r.status, json.loads(r.body)) == (200, {"n": 4})
        assert c.closed_by_server()


def test_pipelined_requests_on_one_kept_connection(serve, svc):
    s = serve(svc, workers=1)
    body = b'{"n": 9}'
    with fc.Conn(s.upstream) as c:
        c.send(fc.request("/echo?n=1", keep=True) +
               fc.request("/echo", keep=True, method="POST", body=body,
                          content_type="application/json") +
               fc.request("/echo?n=3", keep=True))
        got = [json.loads(c.response().body) for _ in range(3)]
    assert got == [{"n": 1}, {"n": 9}, {"n": 3}]


def test_idle_kept_connections_do_not_starve_the_pool(serve, svc):
    """Each of the two workers holds an idle kept connection: a new
    connection is still answered at once (a worker lets its idle kept
    connection go when another one needs it)."""
    s = serve(svc, workers=2)
    kept = []
    for i in range(2):
        c = fc.Conn(s.upstream)
        c.send(fc.request("/echo?n=%d" % i, keep=True))
        assert json.loads(c.response().body) == {"n": i}
        kept.append(c)
    t0 = time.monotonic()
    for i in range(4):
        answered(s, i)
    assert time.monotonic() - t0 < 3
    for c in kept:
        c.close()


def test_a_kept_connection_is_answered_after_a_pause(serve, svc):
    s = serve(svc, workers=2)
    with fc.Conn(s.upstream) as c:
        c.send(fc.request("/echo?n=1", keep=True))
        assert json.loads(c.response().body) == {"n": 1}
        time.sleep(1.0)
        c.send(fc.request("/echo?n=2", keep=True))
        assert json.loads(c.response().body) == {"n": 2}


def test_drain_closes_idle_kept_connections(serve, svc):
    s = serve(svc, workers=2)
    with fc.Conn(s.upstream) as c:
        c.send(fc.request("/echo?n=1", keep=True))
        assert json.loads(c.response().body) == {"n": 1}
        t0 = time.monotonic()
        assert s.stop() == 0
        assert time.monotonic() - t0 < 8
        assert c.closed_by_server()


# ---- nginx in front, fastcgi_keep_conn on and off ----------------------------------------


class KeepConnServed(Served):
    """Served with nginx keeping its FastCGI connections: an upstream with a
    keepalive pool and the shipped settings with fastcgi_keep_conn on."""

    def start_nginx(self):
        with open(NGINX_FASTCGI_CONF) as f:
            conf = f.read()
        assert "fastcgi_keep_conn off;" in conf
        inc = os.path.join(self.tmp, "braid_fastcgi_keep.conf")
        with open(inc, "w") as f:
            f.write(conf.replace("fastcgi_keep_conn off;", "fastcgi_keep_conn on;"))
        super().start_nginx(inc=inc, keepalive=8)


@pytest.fixture
def serve_keep(tmp_path):
    started = []

    def make(directory, *flags, workers=2, tcp=False):
        s = KeepConnServed(tmp_path / ("keep%d" % len(started)), directory, flags,
                           workers=workers, tcp=tcp)
        started.append(s)
        return s
    yield make
    for s in started:
        s.stop()


def sequential(s, n):
    """n GETs one after the other, and a POST after every fifth."""
    for i in range(n):
        st, _, data = s.request("GET", "/echo?n=%d" % i)
        assert (st, data) == (200, b'{"n":%d}' % i), (i, st, data, s.nginx_errors())
        if i % 5 == 0:
            st, _, data = s.request("POST", "/echo", {"n": i},
                                    {"Content-Type": "application/json"})
            assert (st, data) == (200, b'{"n":%d}' % i), (i, st, data, s.nginx_errors())


def upstream_trouble(s):
    return [line for line in s.nginx_errors().splitlines()
            if "upstream" in line and ("[error]" in line or "[crit]" in line)]


@pytest.mark.parametrize("tcp", [False, True], ids=["unix", "tcp"])
def test_nginx_keep_conn_on(serve_keep, svc, tcp):
    s = serve_keep(svc, workers=2, tcp=tcp)
    # One client: nginx sends every request on the connection it keeps, and
    # braid answers them all there (no connection is ever dropped).
    sequential(s, 300)
    assert upstream_trouble(s) == []
    # More clients than workers: nginx opens more connections than there are
    # workers; a worker that takes a new one lets its idle kept one go, and
    # nginx sends again a GET it was sending there.  Every answer is right.
    res = concurrently(lambda i: s.json("GET", "/echo?n=%d" % i)[:2], range(60), threads=4)
    assert res == [(200, {"n": i}) for i in range(60)]
    sequential(s, 20)
    assert s.status()["restarts"] == 0
    assert sum(w["requests"] for w in s.status()["workers"]) >= 300 + 60 + 60 + 20 + 4


@pytest.mark.parametrize("tcp", [False, True], ids=["unix", "tcp"])
def test_nginx_keep_conn_off(serve, svc, tcp):
    s = serve(svc, workers=2, tcp=tcp)
    sequential(s, 150)
    res = concurrently(lambda i: s.json("GET", "/echo?n=%d" % i)[:2], range(60), threads=4)
    assert res == [(200, {"n": i}) for i in range(60)]
    assert upstream_trouble(s) == []
    assert s.status()["restarts"] == 0
