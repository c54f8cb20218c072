"""Issue 10, item 5: a worker keeps no capability it does not need.  With
`braid serve` run as root, each worker (and the sandbox zygote it execs)
holds at most CAP_KILL, CAP_SETGID, CAP_SETUID, CAP_SETPCAP and
CAP_SYS_RESOURCE in its effective, permitted and bounding sets, none
inheritable or ambient — and functions still run: warm, per call, and one
that hits its timeout (the worker kills it).  /proc/<pid>/status is read
from outside, as tests/security/test_privileges.py does."""
import os

import pytest

from conftest import FN_ECHO, standard_service
from procinfo import ZYGOTE_ARGV0, children, status

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: a non-root worker has no capability")

CAP_KILL, CAP_SETGID, CAP_SETUID, CAP_SETPCAP, CAP_SYS_RESOURCE = 5, 6, 7, 8, 24
ALLOWED = (1 << CAP_KILL | 1 << CAP_SETGID | 1 << CAP_SETUID | 1 << CAP_SETPCAP |
           1 << CAP_SYS_RESOURCE)
def assert_limited(pid, what):
    st = status(pid)
    for field in ("CapEff", "CapPrm", "CapBnd"):
        extra = int(st[field], 16) & ~ALLOWED
        assert extra == 0, "%s %d: %s %s holds capabilities %s beyond the allowed set" % (
            what, pid, field, st[field], [b for b in range(64) if extra >> b & 1])
    assert int(st["CapInh"], 16) == 0, (what, st["CapInh"])
    assert int(st["CapAmb"], 16) == 0, (what, st["CapAmb"])
    return st


@pytest.mark.parametrize("sandbox_user", [None, "nobody"])
def test_workers_and_zygotes_keep_only_what_they_need(service, backend, serve, sandbox_user):
    d = standard_service(service, backend, {
        "functions/once.py": FN_ECHO,
        "functions/once.json": {"isolation": "call"},
        "functions/spinonce.py": "def handler(event, context):\n    while True:\n        pass\n",
        "functions/spinonce.json": {"isolation": "call", "timeout_ms": 300},
        "workflows/once.json": {
            "params": {"n": {"type": "int"}},
            "nodes": [{"id": "F", "type": "function", "function": "once"}],
            "edges": [["START", "F"], ["F", "END"]]},
        "workflows/spinonce.json": {
            "nodes": [{"id": "F", "type": "function", "function": "spinonce"}],
            "edges": [["START", "F"], ["F", "END"]]},
    })
    env = {"BRAID_SANDBOX_USER": sandbox_user} if sandbox_user else {}
    s = serve(d, env=env, workers=2)
    workers = s.workers()
    assert len(workers) == 2
    for w in workers:
        assert_limited(w, "worker")
        zs = [p.pid for p in children(w, ZYGOTE_ARGV0)]
        assert zs, w
        assert_limited(zs[0], "zygote")
        for p in zs[1:]:  # the warm sandboxed processes: nothing at all
            st = status(p)
            assert int(st["CapEff"], 16) == int(st["CapPrm"], 16) == int(st["CapBnd"], 16) == 0, st

    # Functions still run, and the timeout's kill still works (twice each:
    # a reused warm process, a fresh one per call).
    for i in range(4):
        st, body, _ = s.json("GET", "/echo?n=%d" % i)
        assert st == 200 and body == {"n": i}, body
        st, body, _ = s.json("GET", "/once?n=%d" % i)
        assert st == 200 and body == {"n": i}, body
    for path in ("/spin", "/spinonce", "/spin", "/spinonce"):
        st, body, _ = s.json("GET", path)
        assert st == 500 and body["error"]["code"] == "FUNCTION_TIMEOUT", (path, body)
    st, body, _ = s.json("GET", "/echo?n=9")
    assert st == 200 and body == {"n": 9}, body
    # No worker died on the way (a failed drop or kill would show here). A
    # worker marks itself idle just after its reply is sent, so wait for both.
    assert sorted(s.wait_workers(2)) == sorted(workers)
    assert s.events("worker_error") == []
