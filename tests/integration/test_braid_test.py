"""`braid test` (SPEC section 12): recorded cases replayed offline, --record
and --update against a real backend (tests/backend/backend.py, started per
test and stopped before the replays, so a replay that touched the network
would fail), the messages of each kind of failure, malformed directories
and case files (exit 2), JUnit reports, and `braid check` over tests/."""
import json
import os
import subprocess
import xml.etree.ElementTree as ET

import pytest

from conftest import BACKEND, run, write_service

SUMMARIZE = """import json
def handler(event, context):
    e = json.loads(event)
    return {"a": e["a"], "b": e["b"], "both": e["a"]["name"] + "+" + e["b"]["name"], "who": e.get("who")}
"""
TAG = """import json
def handler(event, context):
    raw = json.loads(event)
    raw["tagged"] = True
    return raw
"""


@pytest.fixture
def live_backend():
    """A backend this test may stop: {"url", "stop"}."""
    proc = subprocess.Popen(["/usr/bin/python3", BACKEND, "--port", "0"], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().split()
    assert line and line[0] == "PORT"

    def stop():
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    yield {"url": "http://127.0.0.1:%s" % line[1], "stop": stop}
    stop()


def make_service(root, url):
    """A fan-out of two user lookups (one through a filter) joined by a
    function, a switch on the join, an on_error fallback on a 404."""
    return write_service(root, {
        "apis/user.json": {"url": url + "/users/{id}", "method": "GET",
                           "params": {"id": {"in": "path", "type": "int", "required": True}}},
        "apis/tagged_user.json": {"url": url + "/users/{id}", "method": "GET", "filter": "tag",
                                  "params": {"id": {"in": "path", "type": "int", "required": True}}},
        "apis/gone.json": {"url": url + "/status/404", "method": "GET"},
        "functions/summarize.py": SUMMARIZE,
        "functions/tag.py": TAG,
        "workflows/pair.json": {
            "params": {"x": {"type": "int", "required": True}, "y": {"type": "int", "required": True}},
            "nodes": [
                {"id": "A", "type": "api", "api": "user", "params": {"id": "${START.x}"},
                 "output": {"a": "$.data[0]", "who": "A"}},
                {"id": "B", "type": "api", "api": "tagged_user", "params": {"id": "${START.y}"},
                 "output": {"b": "$.data[0]", "tagged": "$.tagged", "who": "B"}},
                {"id": "G", "type": "api", "api": "gone",
                 "on_error": {"output": {"gone": "fallback"}}},
                {"id": "J", "type": "function", "function": "summarize"},
                {"id": "S", "type": "switch", "branches": [
                    {"when": "$.a.id == 1", "next": "ONE"}], "default": "OTHER"},
                {"id": "ONE", "type": "function", "function": "summarize",
                 "params": {"a": "${J.a}", "b": "${J.b}"}},
                {"id": "OTHER", "type": "function", "function": "summarize",
                 "params": {"a": "${J.b}", "b": "${J.a}"}}],
            "edges": [["START", "A"], ["START", "B"], ["START", "G"],
                      ["A", "J"], ["B", "J"], ["G", "J"], ["J", "S"],
                      ["ONE", "END"], ["OTHER", "END"]],
            "result": {"both": "$.both", "tagged": "${B.tagged}", "gone": "${G.gone}", "who": "${J.who}"}},
    })


def case(d, name, doc, wf="pair"):
    path = os.path.join(d, "tests", wf, name + ".json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def read(path):
    with open(path, "rb") as f:
        return f.read()


def braid_test(d, *args):
    return run("test", d, *args, timeout=120)


def recorded_service(tmp_path, live_backend):
    """The service with two cases recorded live, then the backend stopped."""
    d = make_service(tmp_path / "svc", live_backend["url"])
    case(d, "one", {"input": {"x": 1, "y": 2}})
    case(d, "other", {"input": {"x": 3, "y": 4}})
    r = braid_test(d, "pair", "--record")
    assert r.returncode == 0, r.stdout + r.stderr
    live_backend["stop"]()
    return d


def test_record_then_replay_offline(tmp_path, live_backend):
    d = recorded_service(tmp_path, live_backend)
    doc = json.loads(read(os.path.join(d, "tests", "pair", "one.json")))
    assert list(doc) == ["input", "recorded", "expect"]
    assert list(doc["recorded"]) == ["A", "B", "G"]           # sorted node ids
    # The raw results, before B's filter and the outputs.
    assert doc["recorded"]["A"] == {"result": {"data": [{"id": 1, "name": "user1"}]}}
    assert doc["recorded"]["B"] == {"result": {"data": [{"id": 2, "name": "user2"}]}}
    assert doc["recorded"]["G"]["error"]["code"] == "API_ERROR"
    assert "404" in doc["recorded"]["G"]["error"]["message"]
    # The join merged A, B, G in edge order, later wins: "who" is B's.
    assert doc["expect"] == {"result": {"both": "user1+user2", "tagged": True, "gone": "fallback", "who": "B"}}
    other = json.loads(read(os.path.join(d, "tests", "pair", "other.json")))
    assert other["expect"]["result"]["both"] == "user4+user3"   # the switch's default way

    # The backend is gone: the replay touches no network and still passes.
    r = braid_test(d)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines() == ["ok   pair one", "ok   pair other", "2 passed, 0 failed"]
    # ... while a live run fails for want of it.
    live = run("run", d, "pair", "--input", '{"x": 1, "y": 2}')
    assert live.returncode == 1 and "API_ERROR" in live.stderr


def test_rerecording_unchanged_backends_is_byte_identical(tmp_path, live_backend):
    d = make_service(tmp_path / "svc", live_backend["url"])
    p = case(d, "one", {"input": {"x": 1, "y": 2}})
    assert braid_test(d, "pair", "--record").returncode == 0
    first = read(p)
    assert first.endswith(b"}\n") and b'\n  "recorded": {\n' in first
    mtime = os.stat(p).st_mtime_ns
    r = braid_test(d, "pair", "--record")
    assert r.returncode == 0, r.stdout + r.stderr
    assert read(p) == first
    assert os.stat(p).st_mtime_ns == mtime     # not even rewritten
    assert not [f for f in os.listdir(os.path.dirname(p)) if ".tmp" in f]


def test_record_does_not_overwrite_a_contradicted_expect_without_update(tmp_path, live_backend):
    d = make_service(tmp_path / "svc", live_backend["url"])
    wrong = {"input": {"x": 1, "y": 2}, "expect": {"result": {"both": "nobody", "tagged": True,
                                                                "gone": "fallback", "who": "B"}}}
    p = case(d, "one", wrong)
    before = read(p)
    r = braid_test(d, "pair", "--record")
    assert r.returncode == 1
    assert "FAIL pair one: $['both']: expected \"nobody\", got \"user1+user2\"" in r.stdout
    assert r.stdout.splitlines()[-1] == "0 passed, 1 failed"
    assert read(p) == before
    r = braid_test(d, "pair", "--record", "--update")
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(read(p))["expect"]["result"]["both"] == "user1+user2"
    assert "A" in json.loads(read(p))["recorded"]


def test_failures_name_the_first_difference(tmp_path, live_backend):
    d = recorded_service(tmp_path, live_backend)
    base = json.loads(read(os.path.join(d, "tests", "pair", "one.json")))

    def variant(name, **change):
        doc = json.loads(json.dumps(base))
        doc.update(change)
        case(d, name, doc)

    variant("wrong_value", expect={"result": {"both": "user1+user2", "tagged": False, "gone": "fallback",
                                              "who": "B"}})
    variant("missing_member", expect={"result": {"both": "user1+user2", "tagged": True, "gone": "fallback",
                                                 "who": "B", "extra": [1]}})
    variant("extra_member", expect={"result": {"both": "user1+user2", "tagged": True, "who": "B"}})
    variant("want_error", expect={"error": {"code": "API_ERROR"}})
    rec = dict(base["recorded"])
    rec["A"] = {"error": {"code": "API_TIMEOUT", "message": "api user: timed out (recorded)"}}
    variant("got_error", recorded=rec)
    rec2 = dict(base["recorded"])
    rec2["A"] = {"result": {"data": [{"id": 1, "name": "zed"}]}}
    variant("nested", recorded=rec2)
    rec3 = {k: v for k, v in base["recorded"].items() if k != "B"}
    variant("no_recording", recorded=rec3)
    r = braid_test(d, "pair")
    assert r.returncode == 1
    out = r.stdout.splitlines()
    assert "FAIL pair wrong_value: $['tagged']: expected false, got true" in out
    assert "FAIL pair missing_member: $['extra']: expected [1], got nothing (absent)" in out
    assert "FAIL pair extra_member: $['gone']: expected nothing (absent), got \"fallback\"" in out
    assert any(l.startswith("FAIL pair want_error: expected the error API_ERROR, got the result {") for l in out)
    got_error = next(l for l in out if l.startswith("FAIL pair got_error:"))
    assert "expected a result, got the error API_TIMEOUT at node A: api user: timed out (recorded)" in got_error
    assert "FAIL pair nested: $['both']: expected \"user1+user2\", got \"zed+user2\"" in out
    missing = next(l for l in out if l.startswith("FAIL pair no_recording:"))
    assert "node B ran, but the case has no recording for it" in missing
    assert "ok   pair one" in out and "ok   pair other" in out
    assert out[-1] == "2 passed, 7 failed"


def test_replayed_errors_reach_on_error(tmp_path, live_backend):
    d = recorded_service(tmp_path, live_backend)
    base = json.loads(read(os.path.join(d, "tests", "pair", "one.json")))
    # G's recorded failure is handled by its on_error; a recorded success
    # instead flows through G's (absent) output.
    base["recorded"]["G"] = {"result": {"gone": "answered"}}
    base["expect"]["result"]["gone"] = "answered"
    case(d, "g_answers", base)
    r = braid_test(d, "pair")
    assert r.returncode == 0, r.stdout
    assert "ok   pair g_answers" in r.stdout


def test_junit_report(tmp_path, live_backend):
    d = recorded_service(tmp_path, live_backend)
    doc = json.loads(read(os.path.join(d, "tests", "pair", "one.json")))
    doc["expect"]["result"]["both"] = "<&>"
    case(d, "bad", doc)
    report = str(tmp_path / "junit.xml")
    r = braid_test(d, "--junit", report)
    assert r.returncode == 1
    root = ET.parse(report).getroot()
    assert root.tag == "testsuites" and root.get("tests") == "3" and root.get("failures") == "1"
    cases = root.findall("./testsuite/testcase")
    assert [c.get("name") for c in cases] == ["bad", "one", "other"]
    assert all(c.get("classname") == "pair" for c in cases)
    failure = cases[0].find("failure")
    assert failure is not None and "$['both']: expected \"<&>\"" in failure.get("message")
    assert cases[1].find("failure") is None


@pytest.mark.parametrize("content, reason", [
    ("{not json", "tests/pair/bad.json"),
    ("[1, 2]", "a test case must be a JSON object"),
    ('{"input": [1]}', "input must be an object"),
    ('{"input": {}, "surprise": 1}', "unknown member \"surprise\""),
    ('{"recorded": {"J": {"result": 1}}}', "\"J\" is not an API or SQL node of workflow pair"),
    ('{"recorded": {"NOPE": {"result": 1}}}', "\"NOPE\" is not an API or SQL node"),
    ('{"recorded": {"A": {"result": 1, "error": {"code": "API_ERROR"}}}}', "exactly one of"),
    ('{"recorded": {"A": {"error": {"code": "OOPS"}}}}', "is not an error code"),
    ('{"expect": {"error": {"code": "API_ERROR", "detail": "x"}}}', "unknown member \"detail\""),
    ('{"expect": {"error": {"message": "x"}}}', "has no \"code\""),
    ('{"expect": {"value": 1}}', "unknown member \"value\""),
])
def test_malformed_case_is_exit_2_naming_the_file(tmp_path, content, reason):
    d = make_service(tmp_path / "svc", "http://127.0.0.1:9")
    case(d, "bad", content)
    r = braid_test(d)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "tests/pair/bad.json" in r.stderr and reason in r.stderr, r.stderr
    c = run("check", d)
    assert c.returncode == 1 and reason in c.stderr, c.stderr


def test_folder_naming_no_workflow(tmp_path):
    d = make_service(tmp_path / "svc", "http://127.0.0.1:9")
    case(d, "x", {"input": {}}, wf="nosuch")
    r = braid_test(d)
    assert r.returncode == 2
    assert "tests/nosuch/: names no workflow" in r.stderr
    c = run("check", d)
    assert c.returncode == 1 and "tests/nosuch/" in c.stderr


def test_usage_and_unknown_workflow(tmp_path):
    d = make_service(tmp_path / "svc", "http://127.0.0.1:9")
    assert braid_test(d, "--update").returncode == 2
    r = braid_test(d, "nosuch")
    assert r.returncode == 2 and "no workflow 'nosuch'" in r.stderr
    assert run("test").returncode == 2
    h = run("test", "--help")
    assert h.returncode == 0 and "--record" in h.stdout
    # A case without expect is reported, not guessed.
    case(d, "unrecorded", {"input": {"x": 1, "y": 2}})
    r = braid_test(d)
    assert r.returncode == 1
    assert "FAIL pair unrecorded: the case has no \"expect\"" in r.stdout


def test_examples_pass_offline():
    root = os.path.dirname(BACKEND)
    for ex in ("seed", "fanout"):
        d = os.path.join(root, "..", "..", "examples", ex)
        r = braid_test(d)
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.splitlines()[-1].endswith(" passed, 0 failed")
        assert run("check", d).returncode == 0
