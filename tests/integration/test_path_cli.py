"""test_path_cli.py — `braid path` end to end: every RFC 9535 CTS case
through the binary (values and --paths), plus the command's own behaviour
(help, stdin vs file, "$.", bad documents, bad options)."""
import json
import os
import re
import subprocess

import pytest

BRAID = os.environ.get("BRAID_BIN", "./braid")
SHARED = os.environ.get("BRAID_SHARED", "../shared")
CTS_PATH = os.path.join(SHARED, "conformance", "jsonpath", "cts.json")

with open(CTS_PATH, encoding="utf-8") as f:
    CASES = json.load(f)["tests"]


def run(args, stdin=None):
    return subprocess.run([BRAID, "path", *args], input=stdin, capture_output=True, timeout=30)


def json_eq(a, b):
    """JSON equality: numbers by value, booleans distinct from numbers,
    objects unordered, arrays ordered."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_eq(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_eq(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def argv_selector(case):
    # argv cannot carry U+0000 (two CTS selectors contain one): pass what a
    # shell would, the selector cut at the NUL; those cases are invalid
    # either way.
    sel = case["selector"]
    return sel.split("\0", 1)[0]


def has_caret_line(stderr):
    return any(re.fullmatch(r"\s*\^", line) for line in stderr.decode("utf-8", "replace").splitlines())


def case_id(case):
    return case["name"]


@pytest.mark.parametrize("case", CASES, ids=case_id)
@pytest.mark.parametrize("paths", [False, True], ids=["values", "paths"])
def test_cts(case, paths):
    sel = argv_selector(case)
    args = (["--paths"] if paths else []) + [sel]
    if case.get("invalid_selector"):
        proc = run(args + ["-"], stdin=b"{}")
        assert proc.returncode == 2, proc.stdout
        assert proc.stdout == b""
        assert has_caret_line(proc.stderr), proc.stderr
        return
    doc = json.dumps(case["document"]).encode()
    proc = run(args, stdin=doc)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.endswith(b"\n") and proc.stdout.count(b"\n") == 1
    got = json.loads(proc.stdout)
    if "result" in case:
        expected = [case["result_paths"] if paths else case["result"]]
    else:
        expected = case["results_paths"] if paths else case["results"]
    assert any(json_eq(got, e) for e in expected), (got, expected)


def test_values_and_paths_belong_to_the_same_alternative():
    for case in CASES:
        if "results" not in case:
            continue
        doc = json.dumps(case["document"]).encode()
        values = json.loads(run([case["selector"]], stdin=doc).stdout)
        paths = json.loads(run(["--paths", case["selector"]], stdin=doc).stdout)
        assert any(json_eq(values, v) and paths == p
                   for v, p in zip(case["results"], case["results_paths"])), case["name"]


def test_help():
    for flag in ("--help", "-h"):
        proc = run([flag])
        assert proc.returncode == 0
        assert b"usage: braid path" in proc.stdout
    proc = subprocess.run([BRAID, "--help"], capture_output=True)
    assert b"path [--paths] JSONPATH" in proc.stdout


def test_unknown_option_is_usage_error():
    proc = run(["--bogus", "$"])
    assert proc.returncode == 2
    assert b"usage: braid path" in proc.stderr
    assert proc.stdout == b""


def test_missing_query_is_usage_error():
    proc = run([])
    assert proc.returncode == 2
    assert b"usage: braid path" in proc.stderr


def test_stdin_and_file_agree(tmp_path):
    doc = b'{"a": [1, {"b": "x"}, [true, null]], "c": 2.5}'
    f = tmp_path / "doc.json"
    f.write_bytes(doc)
    for args in (["$..*"], ["--paths", "$..*"], ["$.a[1].b"]):
        from_file = run(args + [str(f)])
        from_stdin = run(args, stdin=doc)
        from_dash = run(args + ["-"], stdin=doc)
        assert from_file.returncode == 0, from_file.stderr
        assert from_file.stdout == from_stdin.stdout == from_dash.stdout
    assert json.loads(run(["$.a[1].b", str(f)]).stdout) == ["x"]


def test_dataworks_dollar_dot_means_root():
    doc = b'{"k": [1, 2]}'
    proc = run(["$."], stdin=doc)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [{"k": [1, 2]}]
    assert json.loads(run(["--paths", "$."], stdin=doc).stdout) == ["$"]
    # Only "$." alone: a dot followed by nothing else inside a query is invalid.
    assert run(["$.k."], stdin=doc).returncode == 2


def test_document_that_is_not_json(tmp_path):
    for bad in (b"", b"{", b"{'a': 1}", b"[1,]", b"nul", b"[1] 2"):
        proc = run(["$"], stdin=bad)
        assert proc.returncode == 2, bad
        assert proc.stdout == b""
        assert b"invalid JSON" in proc.stderr or b"JSON" in proc.stderr
    f = tmp_path / "bad.json"
    f.write_bytes(b"{\"a\": }")
    proc = run(["$", str(f)])
    assert proc.returncode == 2
    assert str(f).encode() in proc.stderr


def test_missing_file():
    proc = run(["$", "/nonexistent/braid-test.json"])
    assert proc.returncode == 2
    assert b"/nonexistent/braid-test.json" in proc.stderr


def test_invalid_query_error_names_position():
    proc = run(["$[0 2]"], stdin=b"[]")
    assert proc.returncode == 2
    lines = proc.stderr.decode().splitlines()
    assert "expected ']' or ','" in lines[0] and "byte 4" in lines[0]
    assert lines[1].strip() == "$[0 2]"
    # The caret sits under byte 4 (the text is indented by the same amount).
    assert lines[2].index("^") - lines[1].index("$") == 4


def test_output_is_compact_with_unicode_and_escapes():
    doc = json.dumps({"k'\n": "é/\"", "n": [1.5, -0, 1e300]}).encode()
    proc = run(["--paths", "$.*"], stdin=doc)
    assert json.loads(proc.stdout) == ["$['k\\'\\n']", "$['n']"]
    proc = run(["$.*"], stdin=doc)
    assert b" " not in proc.stdout
    assert json_eq(json.loads(proc.stdout), ["é/\"", [1.5, 0, 1e300]])


def test_runaway_query_stops_with_exit_1():
    # Nested descendant filters do work N^k in the document's size; the
    # engine's step limit stops them (found by fuzz_jsonpath).
    doc = json.dumps({"a": [1, [2, [3, [4]]], {"b": {"c": list(range(20))}}]}).encode()
    proc = run(["$..[?$..[?$..[?$..[?$..[?$..*]]]]]"], stdin=doc)
    assert proc.returncode == 1
    assert b"stopped after" in proc.stderr
    assert proc.stdout == b""
