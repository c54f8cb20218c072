"""`braid serve` under concurrent load while things go wrong: a worker
killed with SIGKILL, functions that crash or time out, dead and slow
backends, reloads with a good and a bad directory, a drain with requests in
flight, recycling after --max-requests, a request stuck past
--request-timeout, and a worker whose sandbox zygote is gone.  Every load
is bounded in count and time (2 shared cores)."""
import json
import os
import signal
import threading
import time

import pytest

from conftest import FN_ECHO, concurrently, standard_service, wait_for


@pytest.fixture
def svc(service, backend):
    return standard_service(service, backend)


class Load:
    """threads clients, each sending path in a loop until stop() (at most
    max_each requests each, at most seconds): records every status."""

    def __init__(self, served, path, threads=3, max_each=400, seconds=20):
        self.results = []
        self.lock = threading.Lock()
        self.done = threading.Event()
        deadline = time.monotonic() + seconds

        def client():
            for _ in range(max_each):
                if self.done.is_set() or time.monotonic() > deadline:
                    return
                try:
                    st, _, body = served.get(path, timeout=15)
                except Exception as e:  # noqa: BLE001 — counted as a failure
                    st, body = repr(e), b""
                with self.lock:
                    self.results.append((st, body))
        self.threads = [threading.Thread(target=client) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def count(self):
        with self.lock:
            return len(self.results)

    def stop(self):
        self.done.set()
        for t in self.threads:
            t.join(30)
        return self.results

    def failures(self):
        return [r for r in self.results if r[0] != 200]


def serving_worker(s, exclude):
    """Waits for a worker not in exclude that is idle or busy (serving)."""
    def new():
        return [w["pid"] for w in s.status()["workers"]
                if w["pid"] not in exclude and w["state"] in ("idle", "busy")]
    return wait_for(new, 10, what="a new serving worker")


def busy_worker(s):
    return wait_for(lambda: s.workers("busy"), 10, what="a busy worker")[0]


def test_kill_9_of_a_busy_worker(serve, svc):
    s = serve(svc, workers=2)
    before = set(s.workers())
    slow = {}
    t = threading.Thread(target=lambda: slow.setdefault("r", s.get("/slow?ms=4000")))
    t.start()
    victim = busy_worker(s)
    load = Load(s, "/user?uid=1", threads=2, max_each=200, seconds=15)
    wait_for(lambda: load.count() >= 5, 10, what="some load")
    os.kill(victim, signal.SIGKILL)
    killed_at = time.monotonic()
    fresh = serving_worker(s, before)
    assert time.monotonic() - killed_at < 1.0, "no new worker within a second"
    # The new worker serves: keep the survivor busy and ask again.
    survivor = (before - {victim}).pop()
    n0 = {w["pid"]: w["requests"] for w in s.status()["workers"]}.get(fresh[0], 0)
    concurrently(lambda _: s.get("/slow?ms=300"), range(4), threads=4)
    wait_for(lambda: {w["pid"]: w["requests"] for w in s.status()["workers"]}[fresh[0]] > n0,
             5, what="the new worker serving")
    results = load.stop()
    t.join(20)
    # Only the killed worker's request failed (nginx: 502); everything else passed.
    assert slow["r"][0] == 502
    assert results and not [r for r in results if r[0] != 200]
    st = s.status()
    assert st["restarts"] == 1 and survivor in s.workers()
    ex = [e for e in s.events("worker_exit") if e["worker"] == victim][0]
    assert ex["signal"] == "SIGKILL" and ex["reason"] == "crashed"


def test_repeated_kills_never_take_the_master_down(serve, svc):
    s = serve(svc, workers=1)
    seen = set()
    for _ in range(5):
        pid = s.wait_workers(1, timeout=10, exclude=seen)[0]
        seen.add(pid)
        os.kill(pid, signal.SIGKILL)
    s.wait_workers(1, timeout=10, exclude=seen)
    assert s.get("/echo?a=1")[0] == 200
    assert s.status()["restarts"] == 5 and s.proc.poll() is None


def test_function_crash_and_timeout_under_load(serve, svc):
    s = serve(svc, workers=2)
    pids = sorted(s.workers())
    paths = ["/crash", "/spin", "/user?uid=2", "/echo?n=1"] * 5
    out = concurrently(lambda p: (p, s.json("GET", p)), paths, threads=6)
    for p, (st, body, _) in out:
        if p == "/crash":
            assert (st, body["error"]["code"]) == (500, "FUNCTION_ERROR")
        elif p == "/spin":
            assert (st, body["error"]["code"]) == (500, "FUNCTION_TIMEOUT")
        else:
            assert st == 200, body
    assert sorted(s.workers()) == pids and s.status()["restarts"] == 0


def test_dead_and_slow_backends_under_load(serve, svc):
    s = serve(svc, workers=2)
    paths = ["/dead", "/slowapi?ms=2000", "/user?uid=3", "/user?uid=4"] * 4
    t0 = time.monotonic()
    out = concurrently(lambda p: (p, s.json("GET", p)), paths, threads=6)
    for p, (st, body, _) in out:
        if p == "/dead":
            assert (st, body["error"]["code"]) == (502, "API_ERROR")
        elif p.startswith("/slowapi"):
            assert (st, body["error"]["code"]) == (504, "API_TIMEOUT")
        else:
            assert st == 200
    # 4 API timeouts of 300 ms on 2 workers: nowhere near the backend's 2 s.
    assert time.monotonic() - t0 < 8
    assert s.status()["restarts"] == 0


def test_sighup_with_a_good_directory(serve, svc):
    s = serve(svc, workers=2)
    old = set(s.workers())
    load = Load(s, "/user?uid=1", threads=3, max_each=300, seconds=20)
    wait_for(lambda: load.count() >= 10, 10, what="some load")
    with open(os.path.join(svc, "workflows", "added.json"), "w") as f:
        json.dump({"path": "/added", "nodes": [{"id": "F", "type": "function", "function": "echo"}],
                   "edges": [["START", "F"], ["F", "END"]]}, f)
    s.signal(signal.SIGHUP)
    wait_for(lambda: s.events("reload"), 10, what="the reload")
    # The old workers leave once the new ones are ready.
    wait_for(lambda: not (set(s.workers()) & old) and len(s.workers("idle") + s.workers("busy")) == 2,
             15, what="the new generation")
    n = load.count()
    wait_for(lambda: load.count() >= n + 10, 10, what="load on the new workers")
    results = load.stop()
    assert not load.failures(), load.failures()[:3]
    assert len(results) > 20
    assert s.json("GET", "/added?x=1")[:2] == (200, {"x": "1"})
    st = s.status()
    assert (st["reloads"], st["generation"], st["restarts"]) == (1, 2, 0)
    assert {e["reason"] for e in s.events("worker_exit")} == {"retired"}


def test_sighup_with_a_bad_directory(serve, svc):
    s = serve(svc, workers=2)
    pids = sorted(s.workers())
    load = Load(s, "/user?uid=1", threads=3, max_each=300, seconds=20)
    wait_for(lambda: load.count() >= 10, 10, what="some load")
    with open(os.path.join(svc, "workflows", "broken.json"), "w") as f:
        f.write('{"nodes": [')
    os.remove(os.path.join(svc, "functions", "crash.py"))
    s.signal(signal.SIGHUP)
    ev = wait_for(lambda: s.events("reload_failed"), 10, what="the refused reload")[0]
    n = load.count()
    wait_for(lambda: load.count() >= n + 10, 10, what="more load")
    load.stop()
    assert not load.failures(), load.failures()[:3]
    assert "still serving generation 1" in ev["reason"]
    probs = " ".join(ev["problems"])
    assert "broken.json" in probs and "crash" in probs
    # The old version goes on, all of it.
    assert sorted(s.workers()) == pids
    assert s.json("GET", "/crash")[1]["error"]["code"] == "FUNCTION_ERROR"
    st = s.status()
    assert (st["reloads"], st["reload_failures"], st["generation"]) == (0, 1, 1)


def test_sigterm_lets_in_flight_requests_finish(serve, svc):
    s = serve(svc, workers=2)
    out = []
    threads = [threading.Thread(target=lambda: out.append(s.get("/slow?ms=800")))
               for _ in range(4)]
    for t in threads:
        t.start()
    wait_for(lambda: len(s.workers("busy")) == 2, 10, what="two busy workers")
    time.sleep(0.1)  # the other two are queued on the socket by now
    s.signal(signal.SIGTERM)
    for t in threads:
        t.join(20)
    assert [r[0] for r in out] == [200] * 4
    assert s.proc.wait(15) == 0
    assert not os.path.exists(s.sock)
    assert {e["reason"] for e in s.events("worker_exit")} == {"drained"}


def test_recycling_after_max_requests(serve, svc):
    s = serve(svc, "--max-requests", "3", workers=2)
    out = concurrently(lambda i: s.get("/user?uid=%d" % (i % 5 + 1))[0], range(30), threads=4)
    assert out == [200] * 30
    wait_for(lambda: s.status()["recycles"] >= 8, 10, what="recycles")
    recycled = [e for e in s.events("worker_exit") if e["reason"] == "recycled"]
    assert recycled and all(e["requests"] == 3 for e in recycled)
    assert s.status()["restarts"] == 0


def test_request_past_the_timeout_kills_only_its_worker(serve, svc):
    s = serve(svc, "--request-timeout", "1000", workers=2)
    before = set(s.workers())
    res = {}

    def stuck():
        t0 = time.monotonic()
        res["r"] = s.get("/slow?ms=5000")
        res["t"] = time.monotonic() - t0
    t = threading.Thread(target=stuck)
    t.start()
    busy_worker(s)
    others = concurrently(lambda i: s.get("/user?uid=1")[0], range(10), threads=2)
    t.join(15)
    assert res["r"][0] == 502 and 0.9 <= res["t"] < 3.0
    assert others == [200] * 10
    ev = wait_for(lambda: s.events("worker_timeout"), 5, what="the timeout event")[0]
    assert ev["workflow"] == "slow" and ev["limit_ms"] == 1000
    s.wait_workers(2, timeout=5)
    assert len(set(s.workers()) - before) == 1
    st = s.status()
    assert st["timeouts"] == 1 and st["restarts"] == 0


def zygote_of(pid):
    """pid of the sandbox zygote whose parent is pid, or None.  Its sandboxed
    processes are the worker's children too (CLONE_PARENT) and carry the
    same argv[0]; the zygote is the one without a seccomp filter."""
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open("/proc/%s/cmdline" % p, "rb") as f:
                argv0 = f.read().split(b"\0")[0]
            with open("/proc/%s/status" % p) as f:
                filtered = "Seccomp:\t0" not in f.read()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid and argv0 == b"braid-sandbox-zygote" and not filtered:
            return int(p)
    return None


def test_a_worker_whose_zygote_is_gone_is_replaced(serve, svc):
    """The worker's seccomp filter forbids execve, so it cannot start a new
    zygote: it must leave, and the master starts a fresh worker, without a
    request failing for it."""
    s = serve(svc, workers=1)
    worker = s.workers()[0]
    os.kill(wait_for(lambda: zygote_of(worker), 5, what="the worker's zygote"), signal.SIGKILL)
    # A timed-out call's process is replaced through the zygote.
    for _ in range(3):
        st, body, _ = s.json("GET", "/spin")
        assert (st, body["error"]["code"]) == (500, "FUNCTION_TIMEOUT")
    fresh = s.wait_workers(1, timeout=10, exclude={worker})
    assert fresh and s.json("GET", "/echo?a=1")[:2] == (200, {"a": "1"})
    assert zygote_of(fresh[0])
    ex = [e for e in s.events("worker_exit") if e["worker"] == worker][0]
    assert ex["reason"] == "sandbox lost" and ex["exit_status"] == 3


def test_a_second_stop_signal_stops_at_once(serve, svc):
    s = serve(svc, workers=1)
    res = {}
    t = threading.Thread(target=lambda: res.setdefault("r", s.get("/slow?ms=5000")))
    t.start()
    busy_worker(s)
    t0 = time.monotonic()
    s.signal(signal.SIGINT)
    wait_for(lambda: s.events("drain"), 5, what="the drain")
    s.signal(signal.SIGINT)
    assert s.proc.wait(10) == 1 and time.monotonic() - t0 < 3
    t.join(10)
    assert res["r"][0] == 502
    assert s.events("stop_now") and not os.path.exists(s.sock)
