"""`braid studio DIR` (SPEC section 11): the page and its embedded assets,
the token and Host checks, the file API with etags, check, and Test runs
on the real engine and sandbox — a real server on a real socket."""
import http.client
import json
import os
import re
import signal
import subprocess

import pytest

from conftest import BRAID, run, seed_copy

URL_LINE = re.compile(r"^Braid Studio: http://127\.0\.0\.1:(\d+)/\?token=([0-9a-f]{32})$")


class Studio:
    """A running `braid studio DIR --listen 127.0.0.1:0`."""

    def __init__(self, directory, tmp):
        self.dir = directory
        self.stderr = open(os.path.join(str(tmp), "studio.stderr"), "w+")
        self.proc = subprocess.Popen([BRAID, "studio", directory, "--listen", "127.0.0.1:0"],
                                     stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        line = self.proc.stdout.readline().rstrip("\n")
        m = URL_LINE.match(line)
        assert m, "unexpected first line: %r (stderr: %s)" % (line, self.log())
        self.port, self.token = int(m.group(1)), m.group(2)

    def log(self):
        self.stderr.seek(0)
        return self.stderr.read()

    def request(self, method, path, body=None, headers=None, token=True):
        """(status, headers, body bytes) of one request on a fresh connection."""
        h = {}
        if token:
            h["Authorization"] = "Bearer " + (self.token if token is True else token)
        h.update(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def api(self, method, path, body=None, headers=None):
        """(status, parsed JSON body) of an authorised /api/ call."""
        status, _, data = self.request(method, path, body, headers)
        return status, json.loads(data) if data else None

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=20)
        self.stderr.close()
        return rc


@pytest.fixture
def studio(tmp_path):
    started = []

    def start(directory):
        s = Studio(directory, tmp_path)
        started.append(s)
        return s
    yield start
    for s in started:
        if s.proc.poll() is None:
            assert s.stop() == 0


@pytest.fixture
def seed(tmp_path):
    return seed_copy(str(tmp_path / "seed"))


def test_page_and_assets_without_token(studio, seed):
    s = studio(seed)
    status, h, body = s.request("GET", "/?token=" + s.token, token=False)
    assert status == 200 and h["content-type"].startswith("text/html")
    page = body.decode()
    assert "/app.js" in page and "/app.css" in page
    status, h, js = s.request("GET", "/app.js", token=False)
    assert status == 200 and h["content-type"].startswith("text/javascript") and len(js) > 1000
    status, h, css = s.request("GET", "/app.css", token=False)
    assert status == 200 and h["content-type"].startswith("text/css") and css
    status, h, body = s.request("GET", "/nothing.js", token=False)
    assert status == 404 and json.loads(body)["error"]["code"] == "NOT_FOUND"


def test_token_and_host_are_checked(studio, seed):
    s = studio(seed)
    for token in (False, "0" * 32, s.token[:-1]):
        status, h, body = s.request("GET", "/api/service", token=token)
        assert status == 401, token
        assert json.loads(body)["error"]["code"] == "UNAUTHORIZED"
    status, _, body = s.request("GET", "/api/service", headers={"Host": "evil.example:%d" % s.port})
    assert status == 403 and json.loads(body)["error"]["code"] == "FORBIDDEN"
    for host in ("localhost:%d" % s.port, "127.0.0.1:%d" % s.port):
        assert s.request("GET", "/api/service", headers={"Host": host})[0] == 200


def test_service_lists_every_kind_with_etags(studio, seed):
    os.makedirs(os.path.join(seed, "layouts"))
    with open(os.path.join(seed, "layouts", "user_lookup.json"), "w") as f:
        json.dump({"nodes": {"API1": {"x": 1, "y": 2}}}, f)
    with open(os.path.join(seed, "functions", "admin_user.json"), "w") as f:
        json.dump({"timeout_ms": 500}, f)
    os.makedirs(os.path.join(seed, "tests", "user_lookup"))
    with open(os.path.join(seed, "tests", "user_lookup", "admin.json"), "w") as f:
        f.write("{not json")
    s = studio(seed)
    status, svc = s.api("GET", "/api/service")
    assert status == 200
    assert set(svc) == {"apis", "datasources", "functions", "workflows", "layouts", "tests"}
    assert svc["apis"]["get_user"]["content"]["type"] == "sql"
    assert svc["datasources"]["app"]["content"]["type"] == "sqlite"
    assert svc["workflows"]["user_lookup"]["content"]["path"] == "/user_lookup"
    assert svc["layouts"]["user_lookup"]["content"] == {"nodes": {"API1": {"x": 1, "y": 2}}}
    fn = svc["functions"]["admin_user"]
    assert "def handler" in fn["source"] and fn["settings"] == {"timeout_ms": 500}
    assert svc["functions"]["regular_user"]["settings"] is None
    bad = svc["tests"]["user_lookup/admin"]
    assert bad["content"] is None and bad["text"] == "{not json"
    for kind in svc.values():
        for entry in kind.values():
            assert re.fullmatch(r"[0-9a-f]{16}", entry["etag"])


def test_put_new_then_conflicts_then_update(studio, seed):
    s = studio(seed)
    api = {"url": "http://127.0.0.1:9/x", "method": "GET", "timeout_ms": 100, "z": 1, "a": [1, {}]}
    status, r = s.api("PUT", "/api/files/apis/other", json.dumps(api))
    assert status == 200 and r["errors"] == [] or status == 200, r
    path = os.path.join(seed, "apis", "other.json")
    with open(path) as f:
        assert f.read() == json.dumps(api, indent=2) + "\n"   # pretty, key order kept
    etag = r["etag"]
    # Again without If-Match: it exists now.
    assert s.api("PUT", "/api/files/apis/other", json.dumps(api))[0] == 409
    # A stale etag.
    assert s.api("PUT", "/api/files/apis/other", json.dumps(api), {"If-Match": "0" * 16})[0] == 409
    api["timeout_ms"] = 200
    status, r2 = s.api("PUT", "/api/files/apis/other", json.dumps(api), {"If-Match": etag})
    assert status == 200 and r2["etag"] != etag
    assert json.load(open(path))["timeout_ms"] == 200
    status, svc = s.api("GET", "/api/service")
    assert svc["apis"]["other"]["etag"] == r2["etag"]
    # No temporary file is left beside it.
    assert sorted(os.listdir(os.path.join(seed, "apis"))) == ["get_user.json", "other.json"]


def test_put_refusals(studio, seed):
    s = studio(seed)
    assert s.api("PUT", "/api/files/apis/x", "{nope")[0] == 400
    assert s.api("PUT", "/api/files/apis/bad.name", "{}")[0] == 400
    assert s.api("PUT", "/api/files/apis/" + "a" * 65, "{}")[0] == 400
    assert s.api("PUT", "/api/files/tests/onlyone", "{}")[0] == 400
    status, r = s.api("PUT", "/api/files/secrets/x", "{}")
    assert status == 404 and r["error"]["code"] == "NOT_FOUND"
    status, _, body = s.request("PUT", "/api/files/apis/big", b"x" * (9 * 1024 * 1024))
    assert status == 413 and json.loads(body)["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert not os.path.exists(os.path.join(seed, "apis", "x.json"))


def test_saving_an_invalid_workflow_saves_it_and_names_the_problem(studio, seed):
    s = studio(seed)
    _, svc = s.api("GET", "/api/service")
    wf = svc["workflows"]["user_lookup"]
    doc = wf["content"]
    doc["nodes"][0]["params"] = {"id": "${NOWHERE.uid}"}
    status, r = s.api("PUT", "/api/files/workflows/user_lookup", json.dumps(doc), {"If-Match": wf["etag"]})
    assert status == 200
    with open(os.path.join(seed, "workflows", "user_lookup.json")) as f:
        assert "NOWHERE" in f.read()
    mine = [e for e in r["errors"] if e["file"] == "workflows/user_lookup.json"]
    assert mine and mine[0]["node"] == "API1" and mine[0]["field"].split(".")[0] == "params", r
    status, c = s.api("POST", "/api/check", "{}")
    assert status == 200 and c["errors"] == r["errors"]
    # A run of a directory that does not validate.
    status, r = s.api("POST", "/api/run/user_lookup", {"input": {"uid": 1}})
    assert status == 422 and r["errors"]


def test_function_and_settings_and_tests_kinds(studio, seed):
    s = studio(seed)
    src = "def handler(event, context):\n    print('hello from the sandbox')\n    return {'ok': True}\n"
    status, r = s.api("PUT", "/api/files/functions/hello", src)
    assert status == 200
    with open(os.path.join(seed, "functions", "hello.py")) as f:
        assert f.read() == src
    assert s.api("PUT", "/api/files/function-settings/hello", '{"timeout_ms": 800}')[0] == 200
    case = {"input": {"uid": 1}, "recorded": {}, "expect": {"result": {}}}
    status, r = s.api("PUT", "/api/files/tests/user_lookup/new_case", json.dumps(case))
    assert status == 200
    assert os.path.exists(os.path.join(seed, "tests", "user_lookup", "new_case.json"))
    _, svc = s.api("GET", "/api/service")
    assert svc["functions"]["hello"]["settings"] == {"timeout_ms": 800}
    assert svc["tests"]["user_lookup/new_case"]["content"] == case


def test_delete_with_etags(studio, seed):
    s = studio(seed)
    status, r = s.api("PUT", "/api/files/layouts/user_lookup", '{"a": 1}')
    assert status == 200
    assert s.api("DELETE", "/api/files/layouts/user_lookup", headers={"If-Match": "f" * 16})[0] == 409
    assert s.api("DELETE", "/api/files/layouts/user_lookup")[0] == 409
    status, d = s.api("DELETE", "/api/files/layouts/user_lookup", headers={"If-Match": r["etag"]})
    assert status == 200 and d["errors"] == []
    assert not os.path.exists(os.path.join(seed, "layouts", "user_lookup.json"))
    assert s.api("DELETE", "/api/files/layouts/user_lookup", headers={"If-Match": r["etag"]})[0] == 404


def test_check_of_a_valid_directory(studio, seed):
    s = studio(seed)
    assert s.api("POST", "/api/check", "{}") == (200, {"errors": []})


def test_run_the_seed(studio, seed):
    s = studio(seed)
    status, r = s.api("POST", "/api/run/user_lookup", {"input": {"uid": 1}})
    assert status == 200, r
    assert r["result"] == {"user_id": 1, "name": "alice", "role": "admin", "vip": True}
    states = {t["id"]: t["state"] for t in r["trace"]}
    assert states["API1"] == "succeeded" and states["PYTHON2"] == "succeeded"
    assert states["PYTHON1"] == "skipped"
    assert r["recorded"] == {"API1": {"result": {"data": [{"id": 1, "name": "alice"}]}}}
    # An error outcome still has its trace.
    status, r = s.api("POST", "/api/run/user_lookup", {"input": {}})
    assert status == 200 and r["error"]["code"] in ("PARAM_MISSING", "BAD_REQUEST") and "trace" in r
    status, r = s.api("POST", "/api/run/nothing", {"input": {}})
    assert status == 404
    assert s.api("POST", "/api/run/user_lookup", "[1]")[0] == 400


def test_print_output_in_the_trace(studio, service):
    d = service({
        "functions/talk.py": "def handler(event, context):\n    print('said', 42)\n    return {'n': 1}\n",
        "workflows/talk.json": {"path": "/talk", "nodes": [{"id": "F", "type": "function", "function": "talk"}],
                                "edges": [["START", "F"], ["F", "END"]], "result": "$"},
    })
    s = studio(d)
    status, r = s.api("POST", "/api/run/talk", {"input": {}})
    assert status == 200 and r["result"] == {"n": 1}, r
    f = [t for t in r["trace"] if t["id"] == "F"][0]
    assert "said 42" in f["print"]


def test_usage_help_and_remote_refusal(tmp_path, seed):
    r = run("studio", "--help")
    assert r.returncode == 0 and "braid studio DIR" in r.stdout and "--allow-remote" in r.stdout
    r = run("studio", seed, "--listen", "0.0.0.0:0")
    assert r.returncode == 2 and "--allow-remote" in r.stderr
    r = run("studio", seed, "--listen", "nonsense")
    assert r.returncode == 2
    r = run("studio")
    assert r.returncode == 2
    assert "studio" in run("--help").stdout


def test_problems_name_their_file_relative_to_the_directory(studio, seed):
    s = studio(seed)
    status, r = s.api("PUT", "/api/files/functions/broken", "def handler(:\n")
    assert status == 200
    mine = [e for e in r["errors"] if e["file"] == "functions/broken.py"]
    assert mine and "SyntaxError" in mine[0]["message"] and mine[0]["node"] is None, r
    status, r = s.api("PUT", "/api/files/apis/bad", '{"url": "ftp://x"}')
    bad = [e for e in r["errors"] if e["file"] == "apis/bad.json"]
    assert bad and bad[0]["field"] == "url", r
