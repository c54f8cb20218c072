"""`braid call`: output and exit codes, load errors that name the file and
line, settings validation, what a function can use."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import BRAID, FIXTURES, call, write_function

SVC = os.path.join(FIXTURES, "svc")


def run(*args, stdin=None):
    return subprocess.run([BRAID, *args], capture_output=True, text=True, input=stdin, timeout=60)


def test_seed_example():
    p = run("call", SVC, "enrich", "--event", '{"user_id": 1}')
    assert p.returncode == 0, p.stderr
    assert p.stdout == '{"user_id":1,"vip":true}\n'
    assert p.stderr == ""


def test_default_event_is_empty_object():
    p = run("call", SVC, "enrich")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == {"vip": False}


def test_event_from_file(tmp_path):
    f = tmp_path / "ev.json"
    f.write_text('{"user_id": 2}')
    p = run("call", SVC, "enrich", "--event", "@" + str(f))
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == {"user_id": 2, "vip": False}
    p = run("call", SVC, "enrich", "--event", "@-", stdin='{"user_id": 1}')
    assert json.loads(p.stdout) == {"user_id": 1, "vip": True}


@pytest.mark.parametrize("layers", ["all", "seccomp-only"])
def test_allowed_modules_and_their_internals(layers):
    out = call(SVC, "stdlib", {"x": 1}, layers=layers)
    assert out.rc == 0, out
    r = out.result
    assert r["strptime"] == [2024, 2, 29, 12]
    assert r["strftime"] == "1970-01-01T00:00:00+0000"
    assert r["tz"] == "UTC"
    assert r["pickled"] == [1, 2, 3]
    assert r["re"] == ["Hello", "big", "World"]
    assert r["math"] == 1 << 20
    assert r["random"] is True
    assert r["json"] == {"é": [1.5, None]}
    assert r["utf16"] == "é"
    assert r["context"] == ["deadline_ms", "node", "request_id", "workflow"]
    assert r["node"] == "stdlib"
    assert r["deadline"] is True
    assert out.trace["print"] == 'module loaded\ncalled with {"x":1}\n'
    assert out.trace["state"] == "succeeded"
    assert out.trace["type"] == "function"
    assert out.trace["input"] == {"x": 1}
    assert out.trace["output"] == r
    assert out.trace["attempts"] == 1
    assert isinstance(out.trace["duration_us"], int)


def test_isolation_call_starts_clean():
    a = call(SVC, "percall", {})
    b = call(SVC, "percall", {})
    assert a.rc == 0 and b.rc == 0
    assert a.result["calls"] == 1 and b.result["calls"] == 1
    assert a.result["r"] != b.result["r"]


def test_random_differs_between_processes(tmp_path):
    write_function(tmp_path, "rnd", "import random\ndef handler(e, c):\n    return random.getrandbits(64)\n")
    values = {call(tmp_path, "rnd", {}).result for _ in range(3)}
    assert len(values) == 3


def test_error_object_on_stderr(tmp_path):
    write_function(tmp_path, "boom", "def handler(event, context):\n    raise ValueError('bad input')\n")
    p = run("call", str(tmp_path), "boom")
    assert p.returncode == 1
    assert p.stdout == ""
    err = json.loads(p.stderr)["error"]
    assert err["code"] == "FUNCTION_ERROR"
    assert err["message"] == "ValueError: bad input"
    assert err["node"] == "boom"
    assert len(err["request_id"]) >= 8


def test_forbidden_import_names_the_allowed_list(tmp_path):
    write_function(tmp_path, "imp", "def handler(event, context):\n    import subprocess\n")
    out = call(tmp_path, "imp", {})
    assert out.code == "FUNCTION_ERROR"
    assert out.error["message"] == (
        "ImportError: import of 'subprocess' is not allowed in a sandboxed function "
        "(allowed: json, time, random, pickle, re, math)")


def test_function_named_like_a_module(tmp_path):
    write_function(tmp_path, "random", "import random\ndef handler(event, context):\n    return random.randint(1, 1)\n")
    out = call(tmp_path, "random", {})
    assert out.rc == 0 and out.result == 1, out


# ---- load errors ----------------------------------------------------------------------

def load_error(tmp_path, name, source=None, settings=None):
    fdir = tmp_path / "functions"
    fdir.mkdir(exist_ok=True)
    if source is not None:
        (fdir / (name + ".py")).write_text(source)
    if settings is not None:
        (fdir / (name + ".json")).write_text(settings)
    p = run("call", str(tmp_path), name)
    assert p.returncode == 1, p
    assert p.stdout == ""
    return p.stderr


def test_syntax_error_names_file_and_line(tmp_path):
    msg = load_error(tmp_path, "bad", "import json\n\ndef handler(event, context)\n    return 1\n")
    assert f"{tmp_path}/functions/bad.py:3:" in msg
    assert "SyntaxError" in msg


def test_indentation_error(tmp_path):
    msg = load_error(tmp_path, "bad", "def handler(event, context):\nreturn 1\n")
    assert "bad.py:2:" in msg and "IndentationError" in msg


def test_missing_handler(tmp_path):
    msg = load_error(tmp_path, "nohandler", "import json\ndef handle(event, context):\n    return 1\n")
    assert "nohandler.py:1:" in msg and "handler" in msg


def test_handler_with_wrong_arity(tmp_path):
    msg = load_error(tmp_path, "arity", "x = 1\n\ndef handler(event):\n    return 1\n")
    assert "arity.py:3:" in msg and "two arguments" in msg


def test_async_handler(tmp_path):
    msg = load_error(tmp_path, "asy", "async def handler(event, context):\n    return 1\n")
    assert "asy.py:1:" in msg and "async" in msg


def test_top_level_code_does_not_run_at_load(tmp_path):
    # Loading compiles only: the exception happens in the sandbox, at call time.
    write_function(tmp_path, "top", "raise RuntimeError('at import')\ndef handler(e, c):\n    return 1\n")
    out = call(tmp_path, "top", {})
    assert out.code == "FUNCTION_ERROR"
    assert "RuntimeError: at import" in out.error["message"]


def test_unknown_function(tmp_path):
    (tmp_path / "functions").mkdir()
    msg = load_error(tmp_path, "ghost")
    assert "ghost.py" in msg and "unknown function" in msg


@pytest.mark.parametrize("settings,needle", [
    ('{"timout_ms": 10}', 'unknown setting "timout_ms"'),
    ('{"timeout_ms": "fast"}', '"timeout_ms" must be an integer'),
    ('{"timeout_ms": 0}', '"timeout_ms" is 0'),
    ('{"memory_mb": 1.5}', '"memory_mb" must be an integer'),
    ('{"isolation": "cold"}', '"isolation" must be "warm" or "call"'),
    ('{"max_calls": -1}', '"max_calls" is -1'),
    ('[1]', 'settings must be a JSON object'),
    ('{"timeout_ms": 10,}', 'fn.json:1'),
])
def test_bad_settings(tmp_path, settings, needle):
    msg = load_error(tmp_path, "fn", "def handler(e, c):\n    return 1\n", settings)
    assert needle in msg
    assert "fn.json" in msg


def test_settings_error_names_the_line(tmp_path):
    msg = load_error(tmp_path, "fn", "def handler(e, c):\n    return 1\n", '{\n  "timeout_ms": 5,\n  "colour": 1\n}')
    assert "fn.json:3:" in msg


# ---- usage --------------------------------------------------------------------------------

def test_usage_errors_exit_2():
    assert run("call").returncode == 2
    assert run("call", SVC).returncode == 2
    assert run("call", SVC, "enrich", "--bogus").returncode == 2
    assert run("call", SVC, "enrich", "--event").returncode == 2
    assert run("call", SVC, "enrich", "--event", "{not json").returncode == 2
    assert run("call", SVC, "enrich", "extra").returncode == 2


def test_help():
    p = run("call", "--help")
    assert p.returncode == 0
    assert "braid call DIR FUNCTION" in p.stdout
