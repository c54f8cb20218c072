"""--cpu-affinity (docs/runtime.md): with one worker per CPU braid may use,
worker slot i and its zygote and sandboxed processes run on the i-th of
those CPUs (read from outside, /proc/<pid>/status Cpus_allowed_list); with
more or fewer workers than CPUs, or with `off`, nothing is pinned; a bad
value is a usage error (exit 2) naming the flag or its variable."""
import os
import subprocess

import pytest

from conftest import BRAID, FN_ECHO, standard_service
from procinfo import ZYGOTE_ARGV0, children, status

ALLOWED = sorted(os.sched_getaffinity(0))


def cpus_of(pid):
    out = set()
    for part in status(pid)["Cpus_allowed_list"].split(","):
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


def tree(worker):
    """The worker, its zygote and the zygote's sandboxed processes."""
    return [worker] + [p.pid for p in children(worker, ZYGOTE_ARGV0)]


def service_dir(service, backend):
    return standard_service(service, backend, {"functions/once.py": FN_ECHO})


@pytest.mark.skipif(not 2 <= len(ALLOWED) <= 16, reason="needs 2 to 16 CPUs (one worker each)")
def test_each_worker_and_its_sandbox_share_one_cpu(service, backend, serve):
    s = serve(service_dir(service, backend), workers=len(ALLOWED))
    for i in range(4):  # the sandboxed processes exist and serve
        st, body, _ = s.json("GET", "/echo?n=%d" % i)
        assert st == 200 and body == {"n": i}, body
    seen = []
    for w in s.workers():
        procs = tree(w)
        assert len(procs) >= 3, procs  # worker, zygote, at least one sandboxed process
        sets = [cpus_of(p) for p in procs]
        assert all(len(c) == 1 for c in sets), (w, sets)
        assert all(c == sets[0] for c in sets), (w, sets)
        seen.append(next(iter(sets[0])))
    assert sorted(seen) == ALLOWED, seen
    assert s.events("worker_error") == []


@pytest.mark.parametrize("how", ["more-workers", "fewer-workers", "flag-off", "env-off"])
def test_nothing_is_pinned_unless_one_worker_per_cpu(service, backend, serve, how):
    d = service_dir(service, backend)
    if how == "more-workers":
        s = serve(d, workers=len(ALLOWED) + 1)
    elif how == "fewer-workers":
        if len(ALLOWED) < 2:
            pytest.skip("needs two CPUs")
        s = serve(d, workers=len(ALLOWED) - 1)
    elif how == "flag-off":
        s = serve(d, "--cpu-affinity", "off", workers=len(ALLOWED))
    else:
        s = serve(d, env={"BRAID_CPU_AFFINITY": "off"}, workers=len(ALLOWED))
    st, body, _ = s.json("GET", "/echo?n=1")
    assert st == 200 and body == {"n": 1}, body
    for w in s.workers():
        for p in tree(w):
            assert sorted(cpus_of(p)) == ALLOWED, (how, p)


@pytest.mark.parametrize("args,env,named", [
    (["--cpu-affinity", "on"], {}, "--cpu-affinity"),
    (["--cpu-affinity=0"], {}, "--cpu-affinity"),
    ([], {"BRAID_CPU_AFFINITY": "pinned"}, "BRAID_CPU_AFFINITY"),
])
def test_a_bad_value_is_a_usage_error(service, backend, args, env, named):
    d = service_dir(service, backend)
    r = subprocess.run([BRAID, "serve", str(d), "--listen", "unix:%s/x.sock" % d] + args,
                       env=dict(os.environ, **env), capture_output=True, text=True, timeout=20)
    assert r.returncode == 2, r
    assert named in r.stderr and "auto or off" in r.stderr, r.stderr
