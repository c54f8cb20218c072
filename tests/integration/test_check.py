"""`braid check`: every load-time error of SPEC sections 1, 2 and 4, each a
clear message naming the file and the node; all errors reported at once."""
import copy

import pytest

from conftest import run

GOOD = {
    "apis/get_user.json": {"url": "http://127.0.0.1:9/users/{id}", "method": "GET",
                           "params": {"id": {"in": "path", "type": "int", "required": True}}},
    "functions/f.py": "import json\ndef handler(event, context):\n    return json.loads(event)\n",
    "workflows/w.json": {
        "nodes": [{"id": "API1", "type": "api", "api": "get_user", "output": {"user_id": "$.data[0].id"}},
                  {"id": "S", "type": "switch", "branches": [{"when": "$.user_id == 1", "next": "F"}],
                   "default": "G"},
                  {"id": "F", "type": "function", "function": "f"},
                  {"id": "G", "type": "function", "function": "f"}],
        "edges": [["START", "API1"], ["API1", "S"], ["F", "END"], ["G", "END"]]},
}


def check(service, mutate=None, extra=None):
    files = copy.deepcopy(GOOD)
    if mutate:
        mutate(files["workflows/w.json"])
    files.update(extra or {})
    r = run("check", service(files))
    return r.returncode, r.stdout, r.stderr


def test_good_directory_passes_with_summary(service):
    code, out, _ = check(service)
    assert code == 0
    assert "ok" in out and "1 workflow" in out and "1 api" in out and "1 function" in out


def test_seed_example_passes(braid):
    r = braid("check", "examples/seed")
    assert r.returncode == 0, r.stderr


def nodes(w):
    return {n["id"]: n for n in w["nodes"]}


CASES = [
    ("unknown id in edge", lambda w: w["edges"].append(["API1", "NOPE"]), 'unknown node "NOPE"'),
    ("duplicate id", lambda w: w["nodes"].append({"id": "F", "type": "function", "function": "f"}),
     'duplicate node id "F"'),
    ("START listed", lambda w: w["nodes"].append({"id": "START", "type": "function", "function": "f"}),
     "START is built in"),
    ("END listed", lambda w: w["nodes"].append({"id": "END", "type": "function", "function": "f"}),
     "END is built in"),
    ("cycle", lambda w: w["edges"].append(["F", "API1"]), "cycle"),
    ("unreachable", lambda w: (w["nodes"].append({"id": "X", "type": "function", "function": "f"}),
                               w["edges"].append(["X", "END"])), "node X is not reachable from START"),
    ("cannot reach END", lambda w: (w["nodes"].append({"id": "X", "type": "function", "function": "f"}),
                                    w["edges"].append(["API1", "X"])), "node X cannot reach END"),
    ("unknown api", lambda w: nodes(w)["API1"].update(api="nope"), 'node API1: api: unknown api "nope"'),
    ("unknown function", lambda w: nodes(w)["F"].update(function="nope"),
     'node F: function: unknown function "nope"'),
    ("bad JSONPath", lambda w: nodes(w)["API1"].update(output={"user_id": "$.data[0"}),
     "node API1: output.user_id"),
    ("bad expression", lambda w: nodes(w)["S"]["branches"][0].update(when="$.user_id = 1"),
     "node S: branches[0].when"),
    ("reference to a non-ancestor", lambda w: nodes(w)["F"].update(params={"x": "${G.y}"}),
     "node F: params.x: \"${G.y}\" refers to node G"),
    ("reference to an unknown node", lambda w: nodes(w)["F"].update(params={"x": "${API9.x}"}),
     'node F: params.x: unknown node "API9" in "${API9.x}"'),
    ("unknown type", lambda w: nodes(w)["F"].update(type="lambda"), 'node F: unknown type "lambda"'),
    ("switch edge listed", lambda w: w["edges"].append(["S", "F"]), "node S is a switch"),
    ("unknown field", lambda w: nodes(w)["F"].update(colour="red"), 'node F: unknown field "colour"'),
    ("unknown api param", lambda w: nodes(w)["API1"].update(params={"idd": 1}),
     "declares no parameter \"idd\""),
    ("bad timeout", lambda w: w.update(timeout_ms=-5), "timeout_ms"),
    ("bad method", lambda w: w.update(methods=["FETCH"]), "unknown method"),
    ("branch to unknown node", lambda w: nodes(w)["S"].update(default="NOPE"), 'unknown node "NOPE"'),
]


@pytest.mark.parametrize("name,mutate,message", CASES, ids=[c[0] for c in CASES])
def test_each_load_error_names_file_and_node(service, name, mutate, message):
    code, out, err = check(service, mutate)
    assert code == 1, out
    assert message in err, err
    assert "workflows/w.json" in err
    assert "problem" in err.splitlines()[-1]


def test_all_errors_are_reported_not_just_the_first(service):
    def many(w):
        nodes(w)["API1"].update(api="nope")
        nodes(w)["F"].update(function="nope")
        nodes(w)["S"]["branches"][0].update(when="(")
    code, _, err = check(service, many)
    assert code == 1
    assert "unknown api" in err and "unknown function" in err and "branches[0].when" in err
    assert "3 problems" in err


def test_function_syntax_error_is_a_load_error(service):
    code, _, err = check(service, extra={"functions/f.py": "def handler(event, context)\n    return 1\n"})
    assert code == 1 and "functions/f.py" in err and ":1" in err


def test_missing_handler_is_a_load_error(service):
    code, _, err = check(service, extra={"functions/f.py": "def other(event, context):\n    return 1\n"})
    assert code == 1 and "functions/f.py" in err and "handler" in err


def test_api_errors_and_missing_env(service):
    bad_api = {"url": "ftp://x/{id}", "method": "FETCH", "params": {"id": {"in": "path"}}}
    code, _, err = check(service, extra={"apis/get_user.json": bad_api})
    assert code == 1 and "apis/get_user.json" in err
    env_api = dict(GOOD["apis/get_user.json"], headers={"X-Token": "${env.BRAID_TEST_SURELY_UNSET}"})
    code, _, err = check(service, extra={"apis/get_user.json": env_api})
    assert code == 1 and "BRAID_TEST_SURELY_UNSET" in err


def test_filter_must_name_a_function(service):
    api = dict(GOOD["apis/get_user.json"], filter="nope")
    code, _, err = check(service, extra={"apis/get_user.json": api})
    assert code == 1 and 'filter: unknown function "nope"' in err


def test_bad_json_file_and_bad_names(service):
    code, _, err = check(service, extra={"workflows/broken.json": "{not json"})
    assert code == 1 and "workflows/broken.json" in err and "invalid JSON" in err
    code, _, err = check(service, extra={"workflows/bad name.json": {"nodes": [], "edges": []}})
    assert code == 1 and "bad name.json" in err


def test_duplicate_paths(service):
    second = copy.deepcopy(GOOD["workflows/w.json"])
    second["path"] = "/w"
    code, _, err = check(service, extra={"workflows/w2.json": second})
    assert code == 1 and 'path "/w" is already served' in err


def test_missing_directory_and_usage(braid, tmp_path):
    r = braid("check", str(tmp_path / "nope"))
    assert r.returncode == 1 and "cannot open" in r.stderr
    r = braid("check")
    assert r.returncode == 2
    r = braid("check", "--help")
    assert r.returncode == 0 and "usage: braid check" in r.stdout
