"""Escape attempts: each must end with the exact error code, leave no trace
outside (no file created, no canary read, no process signalled, no
connection made), and the next call to a normal function must succeed.
Every test runs twice: with all layers, and with seccomp alone
(BRAID_SANDBOX_LAYERS=seccomp-only turns the Python layers off)."""
import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import SECRET, assert_next_call_ok, assert_no_secret, call, write_function

SV = "SANDBOX_VIOLATION"
FE = "FUNCTION_ERROR"


@pytest.fixture
def canary(tmp_path):
    p = tmp_path / "canary.txt"
    p.write_text(SECRET)
    return str(p)


@pytest.fixture
def marker(tmp_path):
    return str(tmp_path / "pwned")


def run_case(svc, layers, source, event, expect, settings=None):
    write_function(svc, "evil", source, settings)
    out = call(svc, "evil", event, layers=layers)
    want = expect[layers] if isinstance(expect, dict) else expect
    assert out.rc == 1, out
    assert out.code == want, out
    assert out.error["node"] == "evil"
    assert_no_secret(out)
    assert_next_call_ok(svc, layers)
    return out


# ---- reaching os / sys / builtins through the allowed modules' globals -------

GLOBALS_CASES = {
    "random_os_system": """
import random, json
def handler(event, context):
    random._os.system("touch " + json.loads(event)["marker"])
""",
    "pickle_sys_modules_os": """
import pickle, json
def handler(event, context):
    os = pickle.sys.modules["os"]
    os.system("touch " + json.loads(event)["marker"])
""",
    "json_module_builtins_import": """
import json
def handler(event, context):
    b = json.__dict__["__builtins__"]
    b["__import__"]("os").system("touch " + json.loads(event)["marker"])
""",
    "re_globals_reach": """
import re, json
def handler(event, context):
    g = re.compile.__globals__
    b = g["__builtins__"]
    b["__import__"]("os").system("touch " + json.loads(event)["marker"])
""",
    "json_builtins_open_canary": """
import json
def handler(event, context):
    b = json.__dict__["__builtins__"]
    return b["open"](json.loads(event)["canary"]).read()
""",
}


@pytest.mark.parametrize("case", sorted(GLOBALS_CASES))
def test_allowed_module_globals(svc, layers, canary, marker, case):
    run_case(svc, layers, GLOBALS_CASES[case], {"marker": marker, "canary": canary}, SV)
    assert not os.path.exists(marker)


def test_import_forbidden_module(svc, layers, marker):
    src = """
import json
import os
def handler(event, context):
    os.system("touch " + json.loads(event)["marker"])
"""
    # With the Python layers: ImportError at load (module top level) →
    # FUNCTION_ERROR naming the allowed list; seccomp alone: os.system dies.
    out = run_case(svc, layers, src, {"marker": marker}, {"all": FE, "seccomp-only": SV})
    if layers == "all":
        assert "json, time, random, pickle, re, math" in out.error["message"]
    assert not os.path.exists(marker)


def test_subclasses_walk(svc, layers, marker):
    src = """
import json
def handler(event, context):
    for cls in ().__class__.__base__.__subclasses__():
        if cls.__name__ == "_wrap_close":
            cls.__init__.__globals__["system"]("touch " + json.loads(event)["marker"])
    return "not found"
"""
    run_case(svc, layers, src, {"marker": marker}, SV)
    assert not os.path.exists(marker)


def test_subclasses_file_loader(svc, layers, canary):
    src = """
import json
def handler(event, context):
    for cls in object.__subclasses__():
        if cls.__name__ == "FileLoader":
            return cls("x", json.loads(event)["canary"]).get_data(json.loads(event)["canary"]).decode()
    for cls in object.__subclasses__():
        for sub in cls.__subclasses__():
            if sub.__name__ == "FileLoader":
                return sub("x", json.loads(event)["canary"]).get_data(json.loads(event)["canary"]).decode()
    return "not found"
"""
    run_case(svc, layers, src, {"canary": canary}, SV)


# ---- frames, generator frames, code objects --------------------------------------

def test_traceback_frame_builtins(svc, layers, marker):
    src = """
import json
def handler(event, context):
    try:
        1 / 0
    except ZeroDivisionError as e:
        frame = e.__traceback__.tb_frame
    frame.f_builtins["__import__"]("os").system("touch " + json.loads(event)["marker"])
"""
    run_case(svc, layers, src, {"marker": marker}, SV)
    assert not os.path.exists(marker)


def test_generator_frame(svc, layers, marker):
    src = """
import json
def gen():
    yield 1
def handler(event, context):
    g = gen()
    next(g)
    f = g.gi_frame
    f.f_builtins["__import__"]("os").system("touch " + json.loads(event)["marker"])
"""
    run_case(svc, layers, src, {"marker": marker}, SV)
    assert not os.path.exists(marker)


def test_stdlib_caller_frame(svc, layers, canary):
    # A hook called from json's Python code looks at its caller's frame,
    # whose builtins are the real ones.
    src = """
import json, pickle
def handler(event, context):
    path = json.loads(event)["canary"]
    def hook(obj):
        frame = pickle.sys._getframe(1)
        return frame.f_builtins["open"](path).read()
    return json.loads('{"a": 1}', object_hook=hook)
"""
    run_case(svc, layers, src, {"canary": canary}, SV)


def test_code_object_constructed(svc, layers, marker):
    src = """
import json
def handler(event, context):
    c = handler.__code__
    evil = compile("__import__('os').system(cmd)", "x", "exec")
    code = type(c)(0, 0, 0, 0, 4, 0, evil.co_code, evil.co_consts, evil.co_names, (), "x", "x", "x",
                   1, evil.co_linetable, evil.co_exceptiontable)
    exec(code, {"cmd": "touch " + json.loads(event)["marker"]})
"""
    run_case(svc, layers, src, {"marker": marker}, SV)
    assert not os.path.exists(marker)


def test_code_object_bytecode_swap(svc, layers, marker):
    # Replacing a function's code: an audit violation with the layers; the
    # replacement code itself runs into seccomp without them.
    src = """
import json
def victim():
    pass
def handler(event, context):
    cmd = "touch " + json.loads(event)["marker"]
    evil = compile("__import__('os').system(cmd)", "x", "exec")
    victim.__code__ = evil.replace(co_name="victim")
    exec(victim.__code__, {"cmd": cmd})
"""
    run_case(svc, layers, src, {"marker": marker}, SV)
    assert not os.path.exists(marker)


def test_marshal_code_object(svc, layers, marker):
    src = """
import json, pickle
def handler(event, context):
    marshal = pickle.sys.modules["marshal"]
    code = marshal.loads(marshal.dumps(compile("__import__('os').system(cmd)", "x", "exec")))
    exec(code, {"cmd": "touch " + json.loads(event)["marker"]})
"""
    run_case(svc, layers, src, {"marker": marker}, SV)
    assert not os.path.exists(marker)


def test_ctypes(svc, layers, marker):
    src = """
import json
def handler(event, context):
    import ctypes
    ctypes.CDLL(None).system(("touch " + json.loads(event)["marker"]).encode())
"""
    run_case(svc, layers, src, {"marker": marker}, {"all": FE, "seccomp-only": SV})
    assert not os.path.exists(marker)


def test_ctypes_through_sys_modules(svc, layers, marker):
    src = """
import json, pickle
def handler(event, context):
    imp = pickle.sys.modules["builtins"].__import__
    ctypes = imp("ctypes")
    ctypes.CDLL(None).system(("touch " + json.loads(event)["marker"]).encode())
"""
    run_case(svc, layers, src, {"marker": marker}, {"all": FE, "seccomp-only": SV})
    assert not os.path.exists(marker)


# ---- pickle payloads -------------------------------------------------------------------

PICKLES = {
    "os_system": b"cos\nsystem\n(S'touch MARKER'\ntR.",
    "posix_system": b"cposix\nsystem\n(S'touch MARKER'\ntR.",
    "builtins_eval": b"cbuiltins\neval\n(S'__import__(\"os\").system(\"touch MARKER\")'\ntR.",
    "subprocess": b"csubprocess\ncheck_call\n((S'touch'\nS'MARKER'\nltR.",
    "builtins_getattr": b"cbuiltins\ngetattr\n(cbuiltins\n__import__\n(S'os'\ntRS'system'\ntR(S'touch MARKER'\ntR.",
}


@pytest.mark.parametrize("case", sorted(PICKLES))
def test_pickle_payload(svc, layers, marker, case):
    payload = PICKLES[case].replace(b"MARKER", marker.encode())
    src = """
import json, pickle
def handler(event, context):
    return pickle.loads(json.loads(event)["p"].encode("latin-1"))
"""
    run_case(svc, layers, src, {"p": payload.decode("latin-1")}, SV)
    assert not os.path.exists(marker)


def test_pickle_of_user_classes_and_sets_works(svc, layers):
    src = """
import pickle
class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y
def handler(event, context):
    out = []
    for proto in range(pickle.HIGHEST_PROTOCOL + 1):
        p = pickle.loads(pickle.dumps(Point(1, {2, 3}), protocol=proto))
        s = pickle.loads(pickle.dumps({1, 2, frozenset([3])}, protocol=proto))
        out.append([p.x, sorted(p.y), len(s)])
    return out
"""
    write_function(svc, "ok", src)
    out = call(svc, "ok", {}, layers=layers)
    assert out.rc == 0, out
    assert out.result == [[1, [2, 3], 3]] * 6


# ---- files, directories, the environment -----------------------------------------------------

def test_open_file(svc, layers, canary):
    src = """
import json
def handler(event, context):
    return open(json.loads(event)["canary"]).read()
"""
    run_case(svc, layers, src, {"canary": canary}, SV)


def test_create_file(svc, layers, marker):
    src = """
import json
def handler(event, context):
    with open(json.loads(event)["marker"], "w") as f:
        f.write("x")
"""
    run_case(svc, layers, src, {"marker": marker}, SV)
    assert not os.path.exists(marker)


def test_open_by_descriptor(svc, layers):
    src = """
def handler(event, context):
    return open(0).read()
"""
    run_case(svc, layers, src, {}, SV)


def test_list_directory(svc, layers, tmp_path):
    src = """
import random, json
def handler(event, context):
    return random._os.listdir(json.loads(event)["dir"])
"""
    run_case(svc, layers, src, {"dir": str(tmp_path)}, SV)


def test_scandir_root(svc, layers):
    src = """
import random
def handler(event, context):
    return [e.name for e in random._os.scandir("/")]
"""
    run_case(svc, layers, src, {}, SV)


def test_proc_self_environ(svc, layers):
    src = """
def handler(event, context):
    return open("/proc/self/environ", "rb").read().decode()
"""
    run_case(svc, layers, src, {}, SV)


def test_environment_is_empty(svc, layers):
    # Reading os.environ is allowed; it holds nothing of braid's environment.
    src = """
import random
def handler(event, context):
    return dict(random._os.environ)
"""
    write_function(svc, "env", src)
    out = call(svc, "env", {}, layers=layers)
    assert out.rc == 0, out
    assert out.result == {"TZ": "UTC"}
    assert_no_secret(out)


# ---- network, processes, threads, signals, descriptors -----------------------------------

def test_socket_connect(svc, layers):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    try:
        src = """
import json
def handler(event, context):
    import socket
    s = socket.create_connection(("127.0.0.1", json.loads(event)["port"]))
    s.sendall(b"leak")
"""
        run_case(svc, layers, src, {"port": port}, {"all": FE, "seccomp-only": SV})
        time.sleep(0.05)
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()


def test_socket_through_sys_modules(svc, layers):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    try:
        src = """
import json, pickle
def handler(event, context):
    sock = pickle.sys.modules["builtins"].__import__("_socket")
    s = sock.socket()
    s.connect(("127.0.0.1", json.loads(event)["port"]))
"""
        run_case(svc, layers, src, {"port": port}, {"all": FE, "seccomp-only": SV})
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()


PROCESS_CASES = {
    "fork": "random._os.fork()\n    open(ev['marker'], 'w')",
    "execv": "random._os.execv('/bin/sh', ['sh', '-c', 'touch ' + ev['marker']])",
    "posix_spawn": "random._os.posix_spawn('/bin/sh', ['sh', '-c', 'touch ' + ev['marker']], {})",
    "system": "random._os.system('touch ' + ev['marker'])",
    "popen": "random._os.popen('touch ' + ev['marker']).read()",
    "thread": "pickle.sys.modules['_thread'].start_new_thread(print, ('x',))\n    random._os.system('touch ' + ev['marker'])",
}


@pytest.mark.parametrize("case", sorted(PROCESS_CASES))
def test_new_processes_and_threads(svc, layers, marker, case):
    src = f"""
import json, random, pickle
def handler(event, context):
    ev = json.loads(event)
    {PROCESS_CASES[case]}
    return "still here"
"""
    # os.popen imports subprocess, which is not loaded: an ImportError with
    # the layers; without them the import itself needs files (seccomp).
    expect = {"all": FE, "seccomp-only": SV} if case == "popen" else SV
    run_case(svc, layers, src, {"marker": marker}, expect)
    time.sleep(0.05)
    assert not os.path.exists(marker)


def test_signal_to_other_process(svc, layers):
    victim = subprocess.Popen(["sleep", "30"])
    try:
        src = """
import json, random
def handler(event, context):
    random._os.kill(json.loads(event)["pid"], 9)
"""
        run_case(svc, layers, src, {"pid": victim.pid}, SV)
        assert victim.poll() is None
    finally:
        victim.kill()
        victim.wait()


def test_signal_to_parent(svc, layers):
    # The braid process that runs the call must survive to print the error.
    src = """
import random
def handler(event, context):
    os = random._os
    os.kill(os.getppid(), 9)
"""
    out = run_case(svc, layers, src, {}, SV)
    assert out.rc == 1


def test_signal_to_process_group(svc, layers):
    src = """
import random
def handler(event, context):
    random._os.kill(0, 15)
"""
    run_case(svc, layers, src, {}, SV)


def test_fd_scan_fstat(svc, layers):
    src = """
import random
def handler(event, context):
    found = []
    for fd in range(256):
        try:
            random._os.fstat(fd)
            found.append(fd)
        except OSError:
            pass
    return found
"""
    run_case(svc, layers, src, {}, SV)


def test_fd_scan_read(svc, layers):
    src = """
import random
def handler(event, context):
    data = []
    for fd in (0, 1, 2, 4, 5, 6, 7, 8, 9, 10):
        try:
            data.append(random._os.read(fd, 100).decode("latin-1"))
        except OSError:
            pass
    return data
"""
    run_case(svc, layers, src, {}, SV)


def test_result_pipe_garbage(svc, layers):
    src = """
import random
def handler(event, context):
    random._os.write(3, b"garbage that is not a frame" * 10)
    return 1
"""
    run_case(svc, layers, src, {}, SV)


def test_result_pipe_forged_reply(svc, layers):
    # A well-formed reply with a made-up call number.
    src = """
import random
def handler(event, context):
    body = b"42"
    le = lambda n, size: n.to_bytes(size, "little")
    hdr = (le(0x31445242, 4) + le(4, 4) + le(999999, 8) + le(0, 8) + le(0, 4)
           + le(len(body), 4) + le(0, 4) * 3 + le(0, 4))
    random._os.write(3, hdr + body)
    return 1
"""
    run_case(svc, layers, src, {}, SV)


def test_result_pipe_read_out_of_turn(svc, layers):
    src = """
import random
def handler(event, context):
    return random._os.read(3, 10).decode("latin-1")
"""
    run_case(svc, layers, src, {}, {"all": "FUNCTION_TIMEOUT", "seccomp-only": "FUNCTION_TIMEOUT"},
             settings={"timeout_ms": 300})


def test_audit_hook_cannot_be_replaced(svc, layers, marker):
    src = """
import pickle, random, json
def handler(event, context):
    try:
        pickle.sys.addaudithook(lambda *a: None)
    except Exception:
        pass
    random._os.system("touch " + json.loads(event)["marker"])
"""
    run_case(svc, layers, src, {"marker": marker}, SV)
    assert not os.path.exists(marker)


# ---- state poisoning across two different functions -------------------------------------------

def test_state_poisoning_between_functions(svc, layers):
    poison = """
import json, random, re, pickle
def handler(event, context):
    json.dumps = lambda *a, **k: '"poisoned"'
    json.loads = lambda *a, **k: "poisoned"
    random.seed(1)
    pickle.sys.modules["builtins"].len = lambda x: -1
    b = __builtins__ if isinstance(__builtins__, dict) else vars(__builtins__)
    b["sorted"] = None
    re.compile = None
    return "done"
"""
    check = """
import json, random, re
def handler(event, context):
    return {"loads": json.loads('{"a": 1}'), "len": len([1, 2]), "sorted": sorted([2, 1]),
            "re": bool(re.compile("a").match("a")), "seed_differs": random.random() != 0.13436424411240122}
"""
    write_function(svc, "poison", poison)
    write_function(svc, "check", check)
    out = call(svc, "poison", {}, layers=layers)
    assert out.rc == 0 and out.result == "done", out
    out = call(svc, "check", {}, layers=layers)
    assert out.rc == 0, out
    assert out.result == {"loads": {"a": 1}, "len": 2, "sorted": [1, 2], "re": True, "seed_differs": True}
