"""The two bundled examples, as shipped:

- examples/seed: the original product's walkthrough over a SQLite data
  source made from its checked-in data/users.sql — no server besides braid.
- examples/fanout: registered HTTP APIs, one order fanned out to three
  services in parallel and joined by a function, with on_error fallbacks —
  against its own backend (examples/fanout/backend/nginx.conf, the files
  beside it) started here on a free port, the copy's URLs pointed there.
"""
import json
import os
import shutil
import subprocess
import time

import pytest

from conftest import ROOT, error_of, free_port, run, run_workflow, seed_copy, wait_for

FANOUT = os.path.join(ROOT, "examples", "fanout")
SEED = os.path.join(ROOT, "examples", "seed")


# ---- the seed: SQLite, self-contained ----------------------------------------------

def test_seed_has_no_binary_database_in_git():
    # Tracked, or would be by `git add` (not ignored).
    tracked = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "examples"],
                             cwd=ROOT, capture_output=True, text=True).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    assert "examples/seed/data/users.sql" in tracked
    assert not [f for f in tracked if f.endswith((".db", ".sqlite", ".sqlite3"))], tracked


def test_seed_reads_its_users_from_sqlite(tmp_path):
    d = seed_copy(str(tmp_path / "seed"))
    with open(os.path.join(d, "datasources", "app.json")) as f:
        assert json.load(f)["type"] == "sqlite"
    with open(os.path.join(d, "apis", "get_user.json")) as f:
        assert json.load(f)["type"] == "sql"
    rc, out, err = run_workflow(d, "user_lookup", {"uid": 1})
    assert rc == 0, err
    assert out == {"user_id": 1, "name": "alice", "role": "admin", "vip": True}
    rc, out, err = run_workflow(d, "user_lookup", {"uid": 2})
    assert rc == 0, err
    assert out == {"user_id": 2, "name": "bob", "role": "user", "vip": False}
    # The trace shows the statement and the bound value.
    rc, out, err = run_workflow(d, "user_lookup", {"uid": 3}, "--trace")
    assert rc == 0, err
    api = next(t for t in out["trace"] if t["id"] == "API1")
    assert api["input"]["sql"].startswith("SELECT id, name FROM users")
    assert api["input"]["params"] == {"id": 3}
    assert out["result"]["name"] == "carol"


def test_seed_checks_and_its_database_is_built_by_make(braid):
    # `make build` ran before the integration tests (make test, make run).
    assert os.path.getsize(os.path.join(SEED, "data", "users.db")) > 0
    r = braid("check", SEED)
    assert r.returncode == 0, r.stderr
    assert "1 data source" in r.stdout


def test_seed_without_its_database_is_a_clear_load_error(tmp_path):
    d = seed_copy(str(tmp_path / "seed"))
    os.remove(os.path.join(d, "data", "users.db"))
    r = run("check", d)
    assert r.returncode == 1
    assert "datasources/app.json" in r.stderr and "users.db" in r.stderr, r.stderr


# ---- the fanout example: HTTP APIs in parallel, a join, on_error ----------------------

@pytest.fixture(scope="module")
def fanout_backend(tmp_path_factory):
    """examples/fanout/backend served by nginx on a free loopback port, as
    `make fanout-backend` serves it on 8081."""
    tmp = tmp_path_factory.mktemp("fanout-backend")
    port = free_port()
    with open(os.path.join(FANOUT, "backend", "nginx.conf")) as f:
        conf = f.read()
    conf = (conf.replace("BRAID_BACKEND_ROOT", os.path.join(FANOUT, "backend"))
                .replace("BRAID_BACKEND_TMP", str(tmp))
                .replace("127.0.0.1:8081", "127.0.0.1:%d" % port))
    if os.getuid() == 0:
        conf = "user root;\n" + conf
    (tmp / "nginx.conf").write_text(conf)
    proc = subprocess.Popen(["nginx", "-p", str(tmp), "-c", str(tmp / "nginx.conf"),
                             "-g", "daemon off; pid %s/nginx.pid;" % tmp],
                            stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    import urllib.request

    def up():
        try:
            return urllib.request.urlopen("http://127.0.0.1:%d/orders/1001" % port, timeout=1).status == 200
        except OSError:
            return False
    wait_for(up, 10, 0.05, what="the fanout backend")
    yield port
    proc.terminate()
    proc.wait(10)


def fanout_copy(dest, port):
    """examples/fanout with its APIs pointed at 127.0.0.1:port."""
    for sub in ("apis", "functions", "workflows"):
        shutil.copytree(os.path.join(FANOUT, sub), os.path.join(dest, sub))
    for name in os.listdir(os.path.join(dest, "apis")):
        p = os.path.join(dest, "apis", name)
        with open(p) as f:
            spec = json.load(f)
        assert spec["url"].startswith("http://127.0.0.1:8081/")
        spec["url"] = spec["url"].replace("127.0.0.1:8081", "127.0.0.1:%d" % port)
        with open(p, "w") as f:
            json.dump(spec, f)
    return dest


def test_fanout_example_checks(braid):
    r = braid("check", FANOUT)
    assert r.returncode == 0, r.stderr
    assert "4 apis" in r.stdout and "5 nodes" in r.stdout


def test_fanout_joins_three_parallel_calls(tmp_path, fanout_backend):
    d = fanout_copy(str(tmp_path / "fanout"), fanout_backend)
    rc, out, err = run_workflow(d, "order_summary", {"order_id": 1001}, "--trace")
    assert rc == 0, err
    assert out["result"] == {
        "order_id": 1001,
        "items": [{"sku": "KB-01", "qty": 1, "price": 49.5}, {"sku": "MS-07", "qty": 2, "price": 12.0}],
        "customer": "alice", "email": "alice@example.com",
        "shipping": "shipped", "eta": "2026-12-08", "tier": "gold", "discount": 0.1}
    trace = {t["id"]: t for t in out["trace"]}
    branches = [trace[n] for n in ("CUSTOMER", "SHIPPING", "LOYALTY")]
    assert all(t["state"] == "succeeded" for t in branches)
    # In parallel: each branch starts before any other has finished.
    first_end = min(t["start_us"] + t["duration_us"] for t in branches)
    assert all(t["start_us"] < first_end for t in branches), branches
    assert trace["SUMMARY"]["start_us"] >= max(t["start_us"] + t["duration_us"] for t in branches)


def test_fanout_on_error_fallbacks(tmp_path, fanout_backend):
    d = fanout_copy(str(tmp_path / "fanout"), fanout_backend)
    # Customer 2 has no loyalty record (404): the fallback tier "none".
    rc, out, err = run_workflow(d, "order_summary", {"order_id": 1002}, "--trace")
    assert rc == 0, err
    assert (out["result"]["tier"], out["result"]["discount"]) == ("none", 0.0)
    loyalty = next(t for t in out["trace"] if t["id"] == "LOYALTY")
    assert loyalty["state"] == "failed" and loyalty["error"]["code"] == "API_ERROR"
    # Order 1003 has no shipping record: status "unknown", eta null.
    rc, out, err = run_workflow(d, "order_summary", {"order_id": 1003})
    assert rc == 0, err
    assert (out["shipping"], out["eta"], out["tier"]) == ("unknown", None, "silver")


def test_fanout_unknown_order_fails_with_api_error(tmp_path, fanout_backend):
    d = fanout_copy(str(tmp_path / "fanout"), fanout_backend)
    rc, out, err = run_workflow(d, "order_summary", {"order_id": 4242})
    assert rc != 0
    e = error_of(err)
    assert (e["code"], e["node"]) == ("API_ERROR", "ORDER")
    assert "404" in e["message"]


def test_fanout_backend_down_is_a_clear_error(tmp_path):
    d = fanout_copy(str(tmp_path / "fanout"), free_port())   # nothing listens there
    t0 = time.monotonic()
    rc, out, err = run_workflow(d, "order_summary", {"order_id": 1001})
    assert rc != 0
    e = error_of(err)
    assert (e["code"], e["node"]) == ("API_ERROR", "ORDER"), e
    assert time.monotonic() - t0 < 5


def test_fanout_through_nginx(serve, tmp_path, fanout_backend):
    d = fanout_copy(str(tmp_path / "fanout"), fanout_backend)
    s = serve(d)
    st, body, _ = s.json("GET", "/order_summary?order_id=1003")
    assert st == 200, body
    assert body["customer"] == "carol" and body["shipping"] == "unknown"
    st, body, _ = s.json("GET", "/order_summary?order_id=x")
    assert st == 400 and body["error"]["code"] == "BAD_REQUEST"
