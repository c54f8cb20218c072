"""`braid expr`: values on stdout, exit 2 with a caret for syntax errors,
exit 1 for evaluation errors, --input from text, a file or stdin."""
import json


def test_prints_value_as_json(braid):
    r = braid("expr", "$.user_id != 1 && ${START.uid} > 0",
              "--input", '{"user_id": 2, "uid": 2}')
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) is True


def test_default_input_is_empty_object(braid):
    r = braid("expr", "$")
    assert r.returncode == 0
    assert json.loads(r.stdout) == {}


def test_division_gives_double(braid):
    r = braid("expr", "4 / 2")
    assert r.stdout.strip() == "2.0"


def test_syntax_error_exits_2_with_caret(braid):
    r = braid("expr", "$.a = 1")
    assert r.returncode == 2
    lines = r.stderr.splitlines()
    assert "byte 4" in lines[0]
    assert lines[1].strip() == "$.a = 1"
    assert lines[2].index("^") == lines[1].index("=")
    assert r.stdout == ""


def test_evaluation_error_exits_1(braid):
    r = braid("expr", "$.x < 1", "--input", '{"x": null}')
    assert r.returncode == 1
    assert "EXPRESSION_ERROR" in r.stderr
    assert "cannot compare null with number" in r.stderr
    assert r.stdout == ""


def test_unknown_node_reference_is_an_evaluation_error(braid):
    r = braid("expr", "${API1.x} == 1")
    assert r.returncode == 1
    assert "START" in r.stderr


def test_input_from_file_and_stdin(braid, tmp_path):
    f = tmp_path / "in.json"
    f.write_text('{"a": [1, 2, 3]}')
    r = braid("expr", "$.a", "--input", "@" + str(f))
    assert json.loads(r.stdout) == [1, 2, 3]
    r = braid("expr", "$.a[1] * 10", "--input", "@-", input='{"a": [1, 2, 3]}')
    assert json.loads(r.stdout) == 20


def test_bad_input_json_exits_2(braid):
    r = braid("expr", "$", "--input", "{'a': 1}")
    assert r.returncode == 2
    assert "invalid JSON" in r.stderr


def test_missing_input_file_exits_2(braid, tmp_path):
    r = braid("expr", "$", "--input", "@" + str(tmp_path / "nope.json"))
    assert r.returncode == 2
    assert "cannot open" in r.stderr


def test_help_and_usage(braid):
    r = braid("expr", "--help")
    assert r.returncode == 0 and "usage: braid expr" in r.stdout
    r = braid("expr")
    assert r.returncode == 2 and "usage" in r.stderr
    r = braid("expr", "1", "--bogus")
    assert r.returncode == 2


def test_top_level_help_lists_commands(braid):
    r = braid("--help")
    assert r.returncode == 0
    assert "braid expr" in r.stdout
    r = braid("no-such-command")
    assert r.returncode == 2
