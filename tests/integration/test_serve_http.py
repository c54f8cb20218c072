"""`braid serve` through a real nginx: every HTTP rule of SPEC section 7 —
routing (with and without --base-path), 404, 405 + Allow, START from the
query string and from JSON or form bodies, declared parameters, the body
limit, bad bodies, X-Request-Id, the error body, the trace with --debug —
and the pool unharmed by any of it."""
import json
import urllib.parse

import pytest

from conftest import standard_service

JSON_CT = "application/json; charset=utf-8"


@pytest.fixture
def svc(service, backend):
    return standard_service(service, backend)


@pytest.fixture
def served(serve, svc):
    return serve(svc, "--debug")


def error_body(body, code):
    e = body["error"]
    assert e["code"] == code, body
    assert set(e) == {"code", "message", "node", "request_id"}
    assert e["message"]
    return e


def test_success_status_headers_and_body(served):
    st, hd, data = served.get("/user?uid=3")
    assert st == 200
    assert hd["content-type"] == JSON_CT
    assert json.loads(data) == {"user_id": 3, "name": "user3"}
    assert int(hd["content-length"]) == len(data)
    assert 1 <= len(hd["x-request-id"]) <= 64


def test_routes_only_known_paths(served):
    st, body, hd = served.json("GET", "/nope")
    e = error_body(body, "NOT_FOUND")
    assert st == 404 and hd["content-type"] == JSON_CT
    assert e["request_id"] == hd["x-request-id"]
    # The path is exact: no prefix match, no trailing slash.
    assert served.get("/user/")[0] == 404
    assert served.get("/user/x?uid=1")[0] == 404
    assert served.get("/")[0] == 404
    # Percent-decoded before routing.
    assert served.get("/%75ser?uid=2")[0] == 200


def test_bad_paths_are_400(served):
    assert served.get("/us%zzer")[0] == 400
    st, body, _ = served.json("GET", "/a/%2e%2e/user?uid=1")
    assert st == 400 and "'..'" in body["error"]["message"]
    # (nginx refuses an encoded NUL itself; Braid would too.)
    assert served.get("/user%00?uid=1")[0] == 400
    assert served.get("/%ff%fe")[0] == 400


def test_base_path(serve, svc):
    s = serve(svc, "--base-path", "/api/v1/")
    assert s.json("GET", "/api/v1/user?uid=4")[:2] == (200, {"user_id": 4, "name": "user4"})
    assert s.get("/user?uid=4")[0] == 404
    assert s.get("/api/v1user?uid=4")[0] == 404
    st, body, _ = s.json("GET", "/api/v2/user?uid=4")
    assert st == 404 and "base path /api/v1" in body["error"]["message"]


def test_method_not_allowed_carries_allow(served):
    st, hd, data = served.request("DELETE", "/echo")
    assert st == 405 and hd["allow"] == "GET, POST"
    error_body(json.loads(data), "METHOD_NOT_ALLOWED")
    st, hd, data = served.get("/postonly")
    assert st == 405 and hd["allow"] == "POST"
    st, hd, _ = served.request("PUT", "/echo", body={"a": 1},
                               headers={"Content-Type": "application/json"})
    assert st == 405 and hd["allow"] == "GET, POST"
    # POST where allowed.
    assert served.json("POST", "/postonly", {"a": 1},
                       {"Content-Type": "application/json"})[:2] == (200, {"a": 1})


def test_get_query_becomes_start(served):
    st, body, _ = served.json("GET", "/echo?a=1&b=x+y&c=%C3%A9%2B&a=2&e=&f&a=3")
    assert st == 200
    assert body == {"a": ["1", "2", "3"], "b": "x y", "c": "\u00e9+", "e": "", "f": ""}
    # Declared parameters are converted; undeclared ones pass as strings.
    assert served.json("GET", "/echo?n=7&m=7")[1] == {"n": 7, "m": "7"}
    assert served.json("GET", "/echo")[1] == {}
    # A GET's body is not START's input.
    st, body, _ = served.json("GET", "/echo?q=1", headers={"Content-Type": "application/json"})
    assert body == {"q": "1"}


def test_bad_query_strings_are_400(served):
    st, body, _ = served.json("GET", "/echo?a=%zz")
    assert st == 400 and "percent" in error_body(body, "BAD_REQUEST")["message"]
    assert served.get("/echo?a=%C3")[0] == 400          # not UTF-8
    assert served.get("/echo?%C3=1")[0] == 400


def test_declared_params_are_checked(served):
    st, body, _ = served.json("GET", "/echo?n=abc")
    assert st == 400 and "'n'" in error_body(body, "BAD_REQUEST")["message"]
    st, body, _ = served.json("GET", "/user")
    assert st == 400 and "uid" in error_body(body, "BAD_REQUEST")["message"]
    st, body, _ = served.json("POST", "/echo", {"n": "2.5"}, {"Content-Type": "application/json"})
    assert st == 400


def test_post_json_overlays_the_query(served):
    st, body, _ = served.json("POST", "/echo?a=1&b=2&n=1", {"b": {"deep": [1]}, "n": "5"},
                              {"Content-Type": "application/json"})
    assert st == 200 and body == {"a": "1", "b": {"deep": [1]}, "n": 5}
    # application/*+json and parameters in the type are JSON too.
    assert served.json("POST", "/echo", {"x": True},
                       {"Content-Type": "application/merge-patch+json"})[1] == {"x": True}
    assert served.json("POST", "/echo", {"x": None},
                       {"Content-Type": "Application/JSON ; charset=UTF-8"})[1] == {"x": None}
    # An empty body is no body: the query alone.
    assert served.json("POST", "/echo?k=v", b"", {"Content-Type": "text/plain"})[1] == {"k": "v"}


def test_post_form(served):
    form = urllib.parse.urlencode([("a", "1"), ("a", "2"), ("s", "x y&z"), ("n", "3")])
    st, body, _ = served.json("POST", "/echo?a=0&q=1", form,
                              {"Content-Type": "application/x-www-form-urlencoded"})
    assert st == 200 and body == {"a": ["1", "2"], "s": "x y&z", "n": 3, "q": "1"}
    st, body, _ = served.json("POST", "/echo", "a=%G1",
                              {"Content-Type": "application/x-www-form-urlencoded"})
    assert st == 400 and "form body" in body["error"]["message"]


def test_bad_bodies_are_400(served):
    st, body, _ = served.json("POST", "/echo", '{"a": 1,', {"Content-Type": "application/json"})
    assert st == 400 and "not valid JSON" in error_body(body, "BAD_REQUEST")["message"]
    for text, kind in (("[1, 2]", "array"), ("3", "number"), ("null", "null"), ('"s"', "string")):
        st, body, _ = served.json("POST", "/echo", text, {"Content-Type": "application/json"})
        assert st == 400 and kind in body["error"]["message"], body
    st, body, _ = served.json("POST", "/echo", "a,b", {"Content-Type": "text/csv"})
    msg = error_body(body, "BAD_REQUEST")["message"]
    assert st == 400 and "text/csv" in msg and "application/json" in msg
    assert "application/x-www-form-urlencoded" in msg
    st, body, _ = served.json("POST", "/echo", "x=1")   # no Content-Type at all
    assert st == 400
    # Invalid UTF-8 inside a JSON body.
    st, body, _ = served.json("POST", "/echo", b'{"a": "\xff"}', {"Content-Type": "application/json"})
    assert st == 400


def test_body_limit_is_413(serve, svc):
    s = serve(svc, "--max-body", "1k")
    ok = json.dumps({"p": "x" * 900})
    assert s.json("POST", "/echo", ok, {"Content-Type": "application/json"})[0] == 200
    big = json.dumps({"p": "x" * 1100})
    st, body, hd = s.json("POST", "/echo", big, {"Content-Type": "application/json"})
    assert st == 413 and hd["content-type"] == JSON_CT
    assert "1024" in error_body(body, "PAYLOAD_TOO_LARGE")["message"]
    # Much bigger than the socket buffers: still our 413, and the worker lives.
    huge = b'{"p": "' + b"y" * (3 << 20) + b'"}'
    assert s.json("POST", "/echo", huge, {"Content-Type": "application/json"})[0] == 413
    assert s.json("GET", "/echo?a=1")[:2] == (200, {"a": "1"})
    assert s.status()["restarts"] == 0


def test_default_body_limit_is_1mib(served):
    body = b'{"p": "' + b"z" * (1 << 20) + b'"}'
    assert served.request("POST", "/echo", body, {"Content-Type": "application/json"})[0] == 413
    body = b'{"p": "' + b"z" * ((1 << 20) - 100) + b'"}'
    st, _, data = served.request("POST", "/echo", body, {"Content-Type": "application/json"})
    assert st == 200 and len(data) > (1 << 20) - 100


def test_request_id_taken_when_sane(served):
    rid = "req-1.2:3_AB"
    st, body, hd = served.json("GET", "/fwd", headers={"X-Request-Id": rid})
    assert st == 200 and hd["x-request-id"] == rid
    # ...and forwarded to the API call.
    assert body["headers"]["x-request-id"] == rid
    # Errors carry it in the body too.
    st, body, hd = served.json("GET", "/nope", headers={"X-Request-Id": rid})
    assert hd["x-request-id"] == rid and body["error"]["request_id"] == rid
    # Up to 128 characters are kept whole.
    long_id = "a" * 128
    st, body, hd = served.json("GET", "/fwd", headers={"X-Request-Id": long_id})
    assert hd["x-request-id"] == long_id and body["headers"]["x-request-id"] == long_id


@pytest.mark.parametrize("bad", ["has space", "x" * 129, "x" * 200, "semi;colon", "quote\"", "\u00e9t\u00e9"])
def test_request_id_generated_when_not_sane(served, bad):
    st, body, hd = served.json("GET", "/fwd", headers={"X-Request-Id": bad.encode("utf-8")})
    rid = hd["x-request-id"]
    assert st == 200 and rid != bad and len(rid) == 32
    assert body["headers"]["x-request-id"] == rid


def test_request_ids_differ_per_request(served):
    ids = {served.get("/echo")[1]["x-request-id"] for _ in range(5)}
    assert len(ids) == 5


def test_engine_errors_map_to_spec_statuses(served):
    st, body, _ = served.json("GET", "/dead")
    assert st == 502 and error_body(body, "API_ERROR")["node"] == "A"
    st, body, _ = served.json("GET", "/slowapi?ms=2000")
    assert st == 504 and error_body(body, "API_TIMEOUT")["node"] == "A"
    st, body, _ = served.json("GET", "/crash")
    assert st == 500 and "boom" in error_body(body, "FUNCTION_ERROR")["message"]
    st, body, _ = served.json("GET", "/spin")
    assert st == 500 and error_body(body, "FUNCTION_TIMEOUT")["node"] == "F"


def test_trace_with_debug(served):
    st, body, _ = served.json("GET", "/user?uid=2", headers={"X-Braid-Trace": "1"})
    assert st == 200 and body["result"] == {"user_id": 2, "name": "user2"}
    ids = [t["id"] for t in body["trace"]]
    assert "A" in ids
    a = body["trace"][ids.index("A")]
    assert a["state"] == "succeeded" and a["type"] == "api"
    # Failures: {"error": ..., "trace": [...]} with the error's status.
    st, body, _ = served.json("GET", "/crash", headers={"X-Braid-Trace": "1"})
    assert st == 500 and body["error"]["code"] == "FUNCTION_ERROR" and body["trace"]
    # Errors before the run keep the same shape.
    st, body, _ = served.json("GET", "/nope", headers={"X-Braid-Trace": "1"})
    assert st == 404 and body["trace"] == [] and body["error"]["code"] == "NOT_FOUND"
    # Anything but "1" is no trace.
    assert served.json("GET", "/user?uid=2", headers={"X-Braid-Trace": "yes"})[1] == \
        {"user_id": 2, "name": "user2"}


def test_no_trace_without_debug(serve, svc):
    s = serve(svc)
    st, body, _ = s.json("GET", "/user?uid=2", headers={"X-Braid-Trace": "1"})
    assert st == 200 and body == {"user_id": 2, "name": "user2"}


def test_one_log_line_per_request(served):
    served.get("/user?uid=5", headers={"X-Request-Id": "log-me-1"})
    served.get("/nope?secret=1", headers={"X-Request-Id": "log-me-2"})
    served.request("POST", "/echo", "[1]", {"Content-Type": "application/json",
                                           "X-Request-Id": "log-me-3"})

    def lines():
        got = {e["request_id"]: e for e in served.log_lines() if "request_id" in e}
        return got if {"log-me-1", "log-me-2", "log-me-3"} <= set(got) else None
    from conftest import wait_for
    got = wait_for(lines, 5, what="log lines")
    a, b, c = got["log-me-1"], got["log-me-2"], got["log-me-3"]
    assert set(a) >= {"time", "request_id", "method", "path", "workflow", "status",
                      "duration_ms", "error"}
    assert a["time"].endswith("Z") and len(a["time"]) == len("2024-01-01T00:00:00.000Z")
    assert (a["method"], a["path"], a["workflow"], a["status"], a["error"]) == \
        ("GET", "/user", "user", 200, None)
    assert a["duration_ms"] >= 0
    assert (b["path"], b["workflow"], b["status"], b["error"]) == ("/nope", None, 404, "NOT_FOUND")
    assert (c["method"], c["workflow"], c["status"], c["error"]) == \
        ("POST", "echo", 400, "BAD_REQUEST")


def test_bad_input_leaves_the_pool_unharmed(served):
    pids = sorted(served.workers())
    for path, method, body, ct in [
            ("/echo", "POST", "{", "application/json"),
            ("/echo", "POST", "[]", "application/json"),
            ("/echo", "POST", "x", "text/plain"),
            ("/%%", "GET", None, None),
            ("/echo?n=q", "GET", None, None),
            ("/echo", "PATCH", None, None),
            ("/zzz", "GET", None, None)]:
        st, _, _ = served.request(method, path, body, {"Content-Type": ct} if ct else {})
        assert 400 <= st < 500
    assert sorted(served.workers()) == pids
    assert served.status()["restarts"] == 0
