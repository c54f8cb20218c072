"""`braid run` against a real HTTP backend: every rule of SPEC sections 5 and
6 that a workflow run can show, each runtime error code reachable outside
FastCGI, retries, deadlines, on_error, filters, and real parallelism."""
import json
import time

from conftest import error_of, run, run_workflow

ECHO_FN = "import json\ndef handler(event, context):\n    return json.loads(event)\n"


def api(url, method="GET", params=None, **extra):
    d = {"url": url, "method": method}
    if params is not None:
        d["params"] = params
    d.update(extra)
    return d


def fn(body):
    return "import json\ndef handler(event, context):\n" + body


def test_seed_workflow_takes_both_branches(backend, service):
    d = service({
        "apis/get_user.json": api(backend + "/users/{id}",
                                  params={"id": {"in": "path", "type": "int", "required": True}}),
        "functions/regular_user.py": fn("    o = json.loads(event)\n    o['role'] = 'user'\n    return o\n"),
        "functions/admin_user.py": fn("    o = json.loads(event)\n    o['role'] = 'admin'\n    return o\n"),
        "workflows/user_lookup.json": {
            "params": {"uid": {"type": "int", "required": True}},
            "nodes": [
                {"id": "API1", "type": "api", "api": "get_user",
                 "params": {"id": "${START.uid}"}, "output": {"user_id": "$.data[0].id"}},
                {"id": "SWITCH2", "type": "switch", "branches": [
                    {"when": "$.user_id != 1", "next": "PYTHON1"},
                    {"when": "$.user_id == 1", "next": "PYTHON2"}]},
                {"id": "PYTHON1", "type": "function", "function": "regular_user"},
                {"id": "PYTHON2", "type": "function", "function": "admin_user"}],
            "edges": [["START", "API1"], ["API1", "SWITCH2"],
                      ["PYTHON1", "END"], ["PYTHON2", "END"]],
            "result": {"user_id": "${API1.user_id}", "role": "$.role"}},
    })
    assert run_workflow(d, "user_lookup", {"uid": 1})[:2] == (0, {"user_id": 1, "role": "admin"})
    assert run_workflow(d, "user_lookup", {"uid": 2})[:2] == (0, {"user_id": 2, "role": "user"})
    # A query-string style value is converted by the declared type.
    assert run_workflow(d, "user_lookup", {"uid": "2"})[:2] == (0, {"user_id": 2, "role": "user"})
    # Also by path.
    assert run_workflow(d, "/user_lookup", {"uid": 1})[0] == 0


def echo_service(service, backend, workflow, extra=None):
    files = {
        "apis/echo.json": api(backend + "/echo", "POST", params={
            "a": {"in": "body", "type": "any"},
            "b": {"in": "body", "type": "any"},
            "id": {"in": "query", "type": "int"}}),
        "functions/echo.py": ECHO_FN,
        "workflows/w.json": workflow,
    }
    files.update(extra or {})
    return service(files)


def test_same_name_mapping_from_the_previous_output(backend, service):
    d = echo_service(service, backend, {
        "nodes": [{"id": "E", "type": "api", "api": "echo", "output": "$.body"}],
        "edges": [["START", "E"], ["E", "END"]]})
    code, out, _ = run_workflow(d, "w", {"a": 1, "b": [2], "c": "not declared"})
    assert code == 0
    assert out == {"a": 1, "b": [2]}


def test_params_set_on_the_node_win_over_same_name(backend, service):
    d = echo_service(service, backend, {
        "nodes": [{"id": "E", "type": "api", "api": "echo",
                   "params": {"a": "${START.b}", "id": 7}, "output": {"body": "$.body", "q": "$.query"}}],
        "edges": [["START", "E"], ["E", "END"]]})
    code, out, _ = run_workflow(d, "w", {"a": 1, "b": "bee"})
    assert code == 0
    assert out["body"] == {"a": "bee", "b": "bee"}
    assert out["q"] == {"id": "7"}


def test_references_templates_and_escape(backend, service):
    d = echo_service(service, backend, {
        "nodes": [{"id": "F", "type": "function", "function": "echo",
                   "params": {"greeting": "hello ${START.name}, you are ${START.age}",
                              "literal": "$${START.name}", "whole": "${START}",
                              "obj": "in ${START.tags}", "nul": "[${START.none}]"}}],
        "edges": [["START", "F"], ["F", "END"]]})
    code, out, _ = run_workflow(d, "w", {"name": "Ada", "age": 36, "tags": ["x"], "none": None})
    assert code == 0
    assert out == {"greeting": "hello Ada, you are 36", "literal": "${START.name}",
                   "whole": {"name": "Ada", "age": 36, "tags": ["x"], "none": None},
                   "obj": 'in ["x"]', "nul": "[]"}


def test_singular_and_non_singular_queries(service, backend):
    d = echo_service(service, backend, {
        "nodes": [{"id": "F", "type": "function", "function": "echo",
                   "params": {"one": "$.items[0].id", "none": "$.items[9].id",
                              "all": "$.items[*].id", "deep": "$..id", "filtered": "$.items[?@.id > 1].id",
                              "root": "$.", "ref_all": "${START.items[*].id}"}}],
        "edges": [["START", "F"], ["F", "END"]]})
    code, out, _ = run_workflow(d, "w", {"items": [{"id": 1}, {"id": 2}, {"id": 3}]})
    assert code == 0
    assert out["one"] == 1 and out["none"] is None
    assert out["all"] == [1, 2, 3] and out["deep"] == [1, 2, 3]
    assert out["filtered"] == [2, 3]
    assert out["root"] == {"items": [{"id": 1}, {"id": 2}, {"id": 3}]}
    assert out["ref_all"] == [1, 2, 3]


def test_output_mapping_reads_the_raw_result_and_no_result_means_previous_output(backend, service):
    d = echo_service(service, backend, {
        "nodes": [{"id": "E", "type": "api", "api": "echo", "output": {"method": "$.method", "a": "$.body.a"}}],
        "edges": [["START", "E"], ["E", "END"]]})
    assert run_workflow(d, "w", {"a": 5})[:2] == (0, {"method": "POST", "a": 5})


def test_join_merges_in_edges_order_later_wins(service, backend):
    d = echo_service(service, backend, {
        "nodes": [
            {"id": "A", "type": "function", "function": "echo", "params": {"k": "a", "a": 1}},
            {"id": "B", "type": "function", "function": "echo", "params": {"k": "b", "b": 2}},
            {"id": "J", "type": "function", "function": "echo"}],
        "edges": [["START", "A"], ["START", "B"], ["A", "J"], ["B", "J"], ["J", "END"]]})
    assert run_workflow(d, "w", {})[:2] == (0, {"k": "b", "a": 1, "b": 2})


def branchy(default=None, conds=("$.v == 1", "$.v == 2")):
    sw = {"id": "S", "type": "switch", "branches": [
        {"when": conds[0], "next": "ONE"}, {"when": conds[1], "next": "TWO"}]}
    if default:
        sw["default"] = default
    return {
        "nodes": [sw,
                  {"id": "ONE", "type": "function", "function": "echo", "params": {"took": "one"}},
                  {"id": "TWO", "type": "function", "function": "echo", "params": {"took": "two"}},
                  {"id": "AFTER_TWO", "type": "function", "function": "echo", "params": {"after": "two"}},
                  {"id": "J", "type": "function", "function": "echo"}],
        "edges": [["START", "S"], ["TWO", "AFTER_TWO"], ["ONE", "J"], ["AFTER_TWO", "J"], ["J", "END"]]}


def test_switch_first_match_dead_paths_skipped(service, backend):
    d = echo_service(service, backend, branchy())
    code, out, _ = run_workflow(d, "w", {"v": 1}, "--trace", "--json")
    assert code == 0
    assert out["result"] == {"took": "one"}
    states = {t["id"]: t["state"] for t in out["trace"]}
    assert states["ONE"] == "succeeded"
    assert states["TWO"] == "skipped" and states["AFTER_TWO"] == "skipped"
    assert states["J"] == "succeeded"
    sw = [t for t in out["trace"] if t["id"] == "S"][0]
    assert sw["branch"]["taken"] == "ONE"
    code, out, _ = run_workflow(d, "w", {"v": 2})
    assert (code, out) == (0, {"after": "two"})


def test_first_taken_branch_wins_when_several_match(service, backend):
    d = echo_service(service, backend, branchy(conds=("$.v > 0", "$.v > 1")))
    assert run_workflow(d, "w", {"v": 5})[:2] == (0, {"took": "one"})


def test_switch_default_and_no_branch_matched(service, backend):
    d = echo_service(service, backend, branchy(default="TWO"))
    assert run_workflow(d, "w", {"v": 9})[:2] == (0, {"after": "two"})
    d = echo_service(service, backend, branchy())
    code, out, err = run_workflow(d, "w", {"v": 9})
    assert code == 1 and out is None
    e = error_of(err)
    assert e["code"] == "NO_BRANCH_MATCHED" and e["node"] == "S"
    assert e["request_id"]


def test_expression_error_fails_the_workflow(service, backend):
    d = echo_service(service, backend, branchy(conds=("$.v < 1", "true")))
    code, _, err = run_workflow(d, "w", {"v": None})
    assert code == 1
    e = error_of(err)
    assert e["code"] == "EXPRESSION_ERROR" and "cannot compare null with number" in e["message"]


def test_parallel_api_calls_overlap(backend, service):
    slow = api(backend + "/slow", params={"ms": {"in": "query", "type": "int", "default": 300}})
    d = service({
        "apis/slow.json": slow,
        "workflows/w.json": {
            "nodes": [{"id": n, "type": "api", "api": "slow", "output": {n: "$.slept_ms"}}
                      for n in ("A", "B", "C")],
            "edges": [["START", "A"], ["START", "B"], ["START", "C"],
                      ["A", "END"], ["B", "END"], ["C", "END"]]}})
    t0 = time.monotonic()
    code, out, err = run_workflow(d, "w", {})
    elapsed = time.monotonic() - t0
    assert code == 0, err
    assert out == {"A": 300, "B": 300, "C": 300}
    assert elapsed < 0.75, "three 300 ms calls took %.3f s" % elapsed


def test_workflow_deadline_is_TIMEOUT(backend, service):
    d = service({
        "apis/slow.json": api(backend + "/slow", params={"ms": {"in": "query", "type": "int", "default": 2000}}),
        "workflows/w.json": {"timeout_ms": 300,
                             "nodes": [{"id": "A", "type": "api", "api": "slow"}],
                             "edges": [["START", "A"], ["A", "END"]]}})
    t0 = time.monotonic()
    code, _, err = run_workflow(d, "w", {})
    assert code == 1 and time.monotonic() - t0 < 1.5
    assert error_of(err)["code"] == "TIMEOUT"


def test_api_timeout_is_API_TIMEOUT(backend, service):
    d = service({
        "apis/slow.json": api(backend + "/slow", timeout_ms=200,
                              params={"ms": {"in": "query", "type": "int", "default": 2000}}),
        "workflows/w.json": {"nodes": [{"id": "A", "type": "api", "api": "slow"}],
                             "edges": [["START", "A"], ["A", "END"]]}})
    code, _, err = run_workflow(d, "w", {})
    e = error_of(err)
    assert code == 1 and e["code"] == "API_TIMEOUT" and e["node"] == "A"


def test_node_timeout_bounds_its_call(backend, service):
    d = service({
        "apis/slow.json": api(backend + "/slow", params={"ms": {"in": "query", "type": "int", "default": 2000}}),
        "workflows/w.json": {"nodes": [{"id": "A", "type": "api", "api": "slow", "timeout_ms": 200}],
                             "edges": [["START", "A"], ["A", "END"]]}})
    t0 = time.monotonic()
    code, _, err = run_workflow(d, "w", {})
    assert code == 1 and time.monotonic() - t0 < 1.5
    assert error_of(err)["code"] == "API_TIMEOUT"


def test_retries_on_5xx_then_succeed(backend, service):
    d = service({
        "apis/flaky.json": api(backend + "/flaky", retry={"attempts": 3, "backoff_ms": 10, "on": ["5xx"]},
                               params={"key": {"in": "query", "type": "string"},
                                       "fail": {"in": "query", "type": "int"}}),
        "workflows/w.json": {"nodes": [{"id": "A", "type": "api", "api": "flaky"}],
                             "edges": [["START", "A"], ["A", "END"]]}})
    key = "k%f" % time.time()
    code, out, err = run_workflow(d, "w", {"key": key, "fail": 2}, "--trace", "--json")
    assert code == 0, err
    assert out["result"]["attempt"] == 3
    assert [t for t in out["trace"] if t["id"] == "A"][0]["attempts"] == 3
    code, _, err = run_workflow(d, "w", {"key": key + "x", "fail": 5})
    assert code == 1 and error_of(err)["code"] == "API_ERROR"


def test_upstream_failures_are_API_ERROR(backend, service):
    bad = {"status": backend + "/status/500", "notjson": backend + "/notjson",
           "close": backend + "/close", "refused": "http://127.0.0.1:1/nothing",
           "notfound": backend + "/status/404"}
    files = {"apis/%s.json" % k: api(u) for k, u in bad.items()}
    for k in bad:
        files["workflows/%s.json" % k] = {"nodes": [{"id": "A", "type": "api", "api": k}],
                                          "edges": [["START", "A"], ["A", "END"]]}
    d = service(files)
    for k in bad:
        code, _, err = run_workflow(d, k, {})
        e = error_of(err)
        assert code == 1 and e["code"] == "API_ERROR" and e["node"] == "A", (k, err)


def test_on_error_hands_on_a_value(backend, service):
    d = service({
        "apis/down.json": api(backend + "/status/503"),
        "functions/echo.py": ECHO_FN,
        "workflows/w.json": {
            "nodes": [{"id": "A", "type": "api", "api": "down",
                       "on_error": {"output": {"fallback": True, "uid": "${START.uid}"}}},
                      {"id": "F", "type": "function", "function": "echo"}],
            "edges": [["START", "A"], ["A", "F"], ["F", "END"]]}})
    code, out, _ = run_workflow(d, "w", {"uid": 4}, "--trace", "--json")
    assert code == 0 and out["result"] == {"fallback": True, "uid": 4}
    a = [t for t in out["trace"] if t["id"] == "A"][0]
    assert a["state"] == "failed" and a["error"]["code"] == "API_ERROR"


def test_filter_replaces_the_raw_result(backend, service):
    d = service({
        "apis/u.json": api(backend + "/users/{id}", filter="only_name",
                           params={"id": {"in": "path", "type": "int", "required": True}}),
        "functions/only_name.py": fn("    return {'name': json.loads(event)['data'][0]['name']}\n"),
        "workflows/w.json": {"nodes": [{"id": "A", "type": "api", "api": "u", "output": {"n": "$.name"}}],
                             "edges": [["START", "A"], ["A", "END"]]}})
    assert run_workflow(d, "w", {"id": 3})[:2] == (0, {"n": "user3"})


def test_param_missing_and_bad_request(backend, service):
    d = service({
        "apis/u.json": api(backend + "/users/{id}", params={"id": {"in": "path", "type": "int", "required": True}}),
        "workflows/w.json": {"params": {"n": {"type": "int"}},
                             "nodes": [{"id": "A", "type": "api", "api": "u"}],
                             "edges": [["START", "A"], ["A", "END"]]}})
    code, _, err = run_workflow(d, "w", {})
    assert code == 1 and error_of(err)["code"] == "PARAM_MISSING"
    code, _, err = run_workflow(d, "w", {"id": 1, "n": "abc"})
    assert code == 1 and error_of(err)["code"] == "BAD_REQUEST"


def test_function_error_carries_the_message(service, backend):
    d = service({
        "functions/boom.py": "def handler(event, context):\n    raise ValueError('bad value 42')\n",
        "workflows/w.json": {"nodes": [{"id": "F", "type": "function", "function": "boom"}],
                             "edges": [["START", "F"], ["F", "END"]]}})
    code, _, err = run_workflow(d, "w", {})
    e = error_of(err)
    assert code == 1 and e["code"] == "FUNCTION_ERROR" and "bad value 42" in e["message"]
    assert e["node"] == "F"


def test_request_id_is_forwarded(backend, service):
    d = echo_service(service, backend, {
        "nodes": [{"id": "E", "type": "api", "api": "echo", "output": "$.headers['x-request-id']"}],
        "edges": [["START", "E"], ["E", "END"]]})
    code, out, _ = run_workflow(d, "w", {}, "--request-id", "req-abc-123")
    assert (code, out) == (0, "req-abc-123")


def test_print_output_goes_to_the_trace_not_the_result(service, backend):
    d = service({
        "functions/chatty.py": "def handler(event, context):\n    print('hello from', context['node'])\n    return 1\n",
        "workflows/w.json": {"nodes": [{"id": "F", "type": "function", "function": "chatty"}],
                             "edges": [["START", "F"], ["F", "END"]]}})
    code, out, _ = run_workflow(d, "w", {}, "--trace", "--json")
    assert code == 0 and out["result"] == 1
    f = [t for t in out["trace"] if t["id"] == "F"][0]
    assert "hello from F" in f["print"]
    for key in ("id", "type", "state", "start_us", "duration_us", "attempts", "input", "output"):
        assert key in f
    assert run_workflow(d, "w", {})[:2] == (0, 1)


def test_trace_text_on_request(service, backend):
    d = echo_service(service, backend, branchy())
    r = run("run", d, "w", "--input", '{"v": 1}', "--trace")
    # Not a terminal here, so JSON; the table is for terminals.
    assert r.returncode == 0 and "trace" in json.loads(r.stdout)


def test_unknown_workflow_and_bad_input(service, backend):
    d = echo_service(service, backend, branchy())
    r = run("run", d, "nope")
    assert r.returncode == 2 and "no workflow 'nope'" in r.stderr
    r = run("run", d, "w", "--input", "[1]")
    assert r.returncode == 2
    r = run("run", d, "w", "--input", "{bad")
    assert r.returncode == 2


def test_graph_is_dot(service, backend):
    d = echo_service(service, backend, branchy(default="TWO"))
    r = run("graph", d, "w")
    assert r.returncode == 0
    assert r.stdout.startswith('digraph "w" {')
    assert '"S" -> "ONE" [label="$.v == 1"]' in r.stdout
    assert '"S" -> "TWO" [label="default", style=dashed]' in r.stdout
    assert '"START" -> "S";' in r.stdout and '"J" -> "END";' in r.stdout


def test_function_limits_and_violations_reach_the_error_body(service):
    d = service({
        "functions/spin.py": "def handler(event, context):\n    while True:\n        pass\n",
        "functions/spin.json": {"timeout_ms": 200},
        "functions/hog.py": "def handler(event, context):\n    x = bytearray(512 * 1024 * 1024)\n    return len(x)\n",
        "functions/hog.json": {"memory_mb": 64},
        "functions/sneaky.py": "def handler(event, context):\n    return open('/etc/passwd').read()\n",
        "workflows/spin.json": {"nodes": [{"id": "F", "type": "function", "function": "spin"}],
                                "edges": [["START", "F"], ["F", "END"]]},
        "workflows/hog.json": {"nodes": [{"id": "F", "type": "function", "function": "hog"}],
                               "edges": [["START", "F"], ["F", "END"]]},
        "workflows/sneaky.json": {"nodes": [{"id": "F", "type": "function", "function": "sneaky"}],
                                  "edges": [["START", "F"], ["F", "END"]]},
        "workflows/deadline.json": {"timeout_ms": 300,
                                    "nodes": [{"id": "F", "type": "function", "function": "spin"}],
                                    "edges": [["START", "F"], ["F", "END"]]}})
    for wf, code in (("spin", "FUNCTION_TIMEOUT"), ("hog", "FUNCTION_MEMORY"),
                     ("sneaky", "SANDBOX_VIOLATION")):
        rc, _, err = run_workflow(d, wf, {})
        e = error_of(err)
        assert rc == 1 and e["code"] == code and e["node"] == "F", (wf, err)


def test_workflow_deadline_cuts_a_function_short_as_TIMEOUT(service):
    d = service({
        "functions/spin.py": "def handler(event, context):\n    while True:\n        pass\n",
        "functions/spin.json": {"timeout_ms": 5000},
        "workflows/w.json": {"timeout_ms": 300,
                             "nodes": [{"id": "F", "type": "function", "function": "spin"}],
                             "edges": [["START", "F"], ["F", "END"]]}})
    t0 = time.monotonic()
    rc, _, err = run_workflow(d, "w", {})
    assert rc == 1 and time.monotonic() - t0 < 2
    assert error_of(err)["code"] == "TIMEOUT"


def test_parallel_function_calls_overlap(service):
    d = service({
        "functions/nap.py": "import time\ndef handler(event, context):\n    time.sleep(0.3)\n    return {context['node']: 1}\n",
        "workflows/w.json": {
            "nodes": [{"id": n, "type": "function", "function": "nap"} for n in ("A", "B", "C")],
            "edges": [["START", "A"], ["START", "B"], ["START", "C"],
                      ["A", "END"], ["B", "END"], ["C", "END"]]}})
    run_workflow(d, "w", {})  # the first run also starts the sandbox
    t0 = time.monotonic()
    rc, out, err = run_workflow(d, "w", {})
    elapsed = time.monotonic() - t0
    assert rc == 0, err
    assert out == {"A": 1, "B": 1, "C": 1}
    assert elapsed < 0.85, "three 300 ms functions took %.3f s" % elapsed
