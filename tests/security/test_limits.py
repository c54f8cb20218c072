"""Bounded damage: memory bombs, CPU spins, sleeping forever, deep
recursion, huge or non-JSON results, exceptions that misbehave.  Each ends
with its exact code, quickly, and the next normal call succeeds; with all
layers and with seccomp alone."""
import time

import pytest

from conftest import assert_next_call_ok, call, write_function


def run_case(svc, layers, source, code, settings=None, max_seconds=10, event=None):
    write_function(svc, "evil", source, settings)
    t0 = time.monotonic()
    out = call(svc, "evil", event if event is not None else {}, layers=layers)
    elapsed = time.monotonic() - t0
    assert out.rc == 1, out
    assert out.code == code, out
    assert elapsed < max_seconds, elapsed
    assert_next_call_ok(svc, layers)
    return out


MEMORY_BOMBS = {
    "string": "return 'x' * (10 ** 10)",
    "list": "return [0] * (10 ** 9)",
    "grow": "l = []\n    while True:\n        l.append(bytearray(1 << 20))",
    "bytes_grow": "b = b'x'\n    while True:\n        b = b + b",
    "dict_grow": "d = {}\n    i = 0\n    while True:\n        d[i] = str(i) * 10\n        i += 1",
}


@pytest.mark.parametrize("case", sorted(MEMORY_BOMBS))
def test_memory_bomb(svc, layers, case):
    src = "def handler(event, context):\n    " + MEMORY_BOMBS[case] + "\n"
    out = run_case(svc, layers, src, "FUNCTION_MEMORY", settings={"memory_mb": 64, "timeout_ms": 8000})
    assert "memory_mb=64" in out.error["message"]


def test_memory_bomb_at_module_level(svc, layers):
    src = "big = 'x' * (10 ** 10)\ndef handler(event, context):\n    return 1\n"
    run_case(svc, layers, src, "FUNCTION_MEMORY")


def test_memory_within_limit_is_fine(svc, layers):
    src = "def handler(event, context):\n    return len(bytearray(40 << 20))\n"
    write_function(svc, "fine", src, {"memory_mb": 64})
    out = call(svc, "fine", {}, layers=layers)
    assert out.rc == 0 and out.result == 40 << 20, out


def test_cpu_spin(svc, layers):
    src = "def handler(event, context):\n    while True:\n        pass\n"
    out = run_case(svc, layers, src, "FUNCTION_TIMEOUT", settings={"timeout_ms": 300}, max_seconds=3)
    assert "timeout_ms=300" in out.error["message"]


def test_cpu_spin_catching_everything(svc, layers):
    src = """
def handler(event, context):
    while True:
        try:
            while True:
                pass
        except BaseException:
            pass
"""
    run_case(svc, layers, src, "FUNCTION_TIMEOUT", settings={"timeout_ms": 300}, max_seconds=3)


def test_sleep_forever(svc, layers):
    src = "import time\ndef handler(event, context):\n    time.sleep(10 ** 6)\n"
    run_case(svc, layers, src, "FUNCTION_TIMEOUT", settings={"timeout_ms": 300}, max_seconds=3)


def test_spin_at_module_level(svc, layers):
    src = "while True:\n    pass\ndef handler(event, context):\n    return 1\n"
    run_case(svc, layers, src, "FUNCTION_TIMEOUT", settings={"timeout_ms": 300}, max_seconds=3)


def test_deep_recursion(svc, layers):
    src = "def f(n):\n    return f(n + 1)\ndef handler(event, context):\n    return f(0)\n"
    out = run_case(svc, layers, src, "FUNCTION_ERROR")
    assert "RecursionError" in out.error["message"]


def test_deep_recursion_crash(svc, layers):
    # Raising the recursion limit lets nested repr() overflow the C stack:
    # the process dies (SIGSEGV), the call fails, nothing else does.
    src = """
import pickle
def handler(event, context):
    pickle.sys.setrecursionlimit(10 ** 7)
    x = []
    for _ in range(3 * 10 ** 5):
        x = [x]
    return repr(x)
"""
    out = run_case(svc, layers, src, "FUNCTION_ERROR", settings={"memory_mb": 512, "timeout_ms": 8000})
    assert "crashed" in out.error["message"] or "Recursion" in out.error["message"]


def test_huge_result(svc, layers):
    src = "def handler(event, context):\n    return 'x' * (2 * 1024 * 1024)\n"
    out = run_case(svc, layers, src, "FUNCTION_ERROR")
    assert "limit" in out.error["message"]


NON_JSON = {
    "set": "{1, 2}",
    "nan": "float('nan')",
    "inf": "[float('inf')]",
    "object": "object()",
    "bytes": "b'x'",
    "surrogate": "'\\ud800'",
    "circular": "(lambda l: (l.append(l), l)[1])([])",
    "function": "handler",
}


@pytest.mark.parametrize("case", sorted(NON_JSON))
def test_non_json_result(svc, layers, case):
    src = "def handler(event, context):\n    return " + NON_JSON[case] + "\n"
    out = run_case(svc, layers, src, "FUNCTION_ERROR")
    assert "JSON" in out.error["message"]


BAD_STR = {
    "raises": "raise RuntimeError('nope')",
    "not_str": "return 42",
    "huge": "return 'y' * (50 * 1024 * 1024)",
    "exits": "raise SystemExit(3)",
    "recursive": "return str(self)",
}


@pytest.mark.parametrize("case", sorted(BAD_STR))
def test_exception_with_bad_str(svc, layers, case):
    src = f"""
class Bad(Exception):
    def __str__(self):
        {BAD_STR[case]}
def handler(event, context):
    raise Bad()
"""
    out = run_case(svc, layers, src, "FUNCTION_ERROR", settings={"memory_mb": 256})
    assert out.error["message"].startswith("Bad")
    assert len(out.error["message"]) < 600


def test_exception_with_looping_str(svc, layers):
    src = """
class Bad(Exception):
    def __str__(self):
        while True:
            pass
def handler(event, context):
    raise Bad()
"""
    run_case(svc, layers, src, "FUNCTION_TIMEOUT", settings={"timeout_ms": 300}, max_seconds=3)


def test_system_exit_is_an_error(svc, layers):
    src = "import pickle\ndef handler(event, context):\n    pickle.sys.exit(0)\n"
    run_case(svc, layers, src, "FUNCTION_ERROR")


def test_exception_reports_type_message_traceback(svc, layers):
    src = "def handler(event, context):\n    x = {}\n    return x['missing']\n"
    out = run_case(svc, layers, src, "FUNCTION_ERROR")
    assert out.error["message"] == "KeyError: 'missing'"
    assert 'File "functions/evil.py", line 3, in handler' in out.trace["traceback"]
    assert "return x['missing']" in out.trace["traceback"]


@pytest.mark.parametrize("text", ["line", "lïné€"])
def test_print_output_is_capped(svc, layers, text):
    src = f"def handler(event, context):\n    for i in range(100000):\n        print('{text}', i)\n    return 1\n"
    write_function(svc, "chatty", src)
    out = call(svc, "chatty", {}, layers=layers)
    assert out.rc == 0 and out.result == 1, out
    assert out.trace["print"].startswith(text + " 0\n")
    assert len(out.trace["print"].encode()) <= 64 * 1024
    assert out.trace.get("print_truncated") is True


def test_large_event_and_result_within_cap(svc, tmp_path):
    # 5 MB in (more than a socket buffer: written as the process reads),
    # just under 1 MiB out.
    src = "import json\ndef handler(event, context):\n    return {'len': len(event), 'out': 'y' * 1000000}\n"
    write_function(svc, "big", src)
    ev = tmp_path / "ev.json"
    ev.write_text('{"pad": "' + "x" * 5000000 + '"}')
    import subprocess
    from conftest import BRAID
    p = subprocess.run([BRAID, "call", str(svc), "big", "--event", "@" + str(ev)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr[:500]
    import json
    r = json.loads(p.stdout)
    assert r["len"] == 5000010 and len(r["out"]) == 1000000
