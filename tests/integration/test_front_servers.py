"""The seed workflow (examples/seed) through each front server Braid ships a
config for — nginx (docker/nginx/braid_fastcgi.conf), Apache 2.4 with
mod_proxy_fcgi (docker/apache/braid.conf), lighttpd with mod_fastcgi
(docker/lighttpd/braid.conf) — and with spawn-fcgi handing braid its
socket on fd 0.  Each front server must carry both branches of the seed
workflow, Braid's own JSON 404, 405 (with Allow) and 413 (the front
server's body limit is above braid's --max-body), and X-Request-Id."""
import json
import shutil

import pytest

from conftest import http_request, wait_for

JSON_CT = "application/json; charset=utf-8"
MAX_BODY = "16k"


def error_code(data):
    return json.loads(data)["error"]["code"]


def check_seed(port):
    """The seed workflow's behaviour, seen through the server on port."""
    st, hd, data = http_request(port, "GET", "/user_lookup?uid=1")
    assert st == 200, data
    assert hd["content-type"] == JSON_CT
    assert json.loads(data) == {"user_id": 1, "name": "alice", "role": "admin", "vip": True}

    st, hd, data = http_request(port, "GET", "/user_lookup?uid=2",
                                headers={"X-Request-Id": "front-test-2"})
    assert st == 200, data
    assert json.loads(data) == {"user_id": 2, "name": "bob", "role": "user", "vip": False}
    assert hd["x-request-id"] == "front-test-2"

    # A JSON body reaches START too.
    st, _, data = http_request(port, "POST", "/user_lookup", body={"uid": 1},
                               headers={"Content-Type": "application/json"})
    assert st == 200 and json.loads(data)["role"] == "admin", data

    st, hd, data = http_request(port, "GET", "/nope")
    assert st == 404 and hd["content-type"] == JSON_CT
    assert error_code(data) == "NOT_FOUND"

    st, hd, data = http_request(port, "DELETE", "/user_lookup")
    assert st == 405 and hd["allow"] == "GET, POST"
    assert error_code(data) == "METHOD_NOT_ALLOWED"

    # Over braid's --max-body (16 KiB) but under the front server's limit
    # (8 MiB): braid's JSON 413, also for a body far larger than the socket
    # buffers (braid reads the rest and discards it).
    for size in (20 * 1024, 2 * 1024 * 1024):
        body = b'{"uid": 1, "pad": "' + b"x" * size + b'"}'
        st, hd, data = http_request(port, "POST", "/user_lookup", body=body,
                                    headers={"Content-Type": "application/json"})
        assert st == 413, (size, st, data[:300])
        assert hd["content-type"] == JSON_CT
        assert error_code(data) == "PAYLOAD_TOO_LARGE"

    # The pool is unharmed.
    st, _, data = http_request(port, "GET", "/user_lookup?uid=2")
    assert st == 200 and json.loads(data)["role"] == "user"


def all_idle(served):
    """Every worker goes back to idle (a worker logs and counts a request
    just after the client has its response, so this is waited for)."""
    wait_for(lambda: sorted(w["state"] for w in served.status()["workers"]) == ["idle", "idle"],
             5, what="both workers idle")


def test_nginx(serve, seed_service):
    s = serve(seed_service, "--max-body", MAX_BODY)
    check_seed(s.port)
    assert s.stop() == 0


@pytest.mark.skipif(not shutil.which("apache2"), reason="apache2 is not installed")
def test_apache_mod_proxy_fcgi(serve_open, front, seed_service):
    s = serve_open(seed_service, "--max-body", MAX_BODY)
    apache = front("apache", s.sock)
    check_seed(apache.port)
    # Apache closed each FastCGI connection (no enablereuse): every worker
    # is idle again, none held by an idle connection.
    all_idle(s)
    log = [line for line in s.log_lines() if "status" in line]
    assert {line["status"] for line in log} == {200, 404, 405, 413}
    apache.stop()
    assert s.stop() == 0


@pytest.mark.skipif(not shutil.which("lighttpd"), reason="lighttpd is not installed")
def test_lighttpd_mod_fastcgi(serve_open, front, seed_service):
    s = serve_open(seed_service, "--max-body", MAX_BODY)
    lighttpd = front("lighttpd", s.sock)
    check_seed(lighttpd.port)
    all_idle(s)
    lighttpd.stop()
    assert s.stop() == 0


@pytest.mark.skipif(not shutil.which("spawn-fcgi"), reason="spawn-fcgi is not installed")
def test_spawn_fcgi_behind_nginx(serve, seed_service):
    s = serve(seed_service, "--max-body", MAX_BODY,
              spawner=lambda sock: ["spawn-fcgi", "-n", "-s", sock, "-M", "0666"])
    assert s.events("start")[0]["listen"] == "fd 0"
    check_seed(s.port)
    assert s.stop() == 0
