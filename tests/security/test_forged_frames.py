"""Everything the host takes from a sandboxed process is untrusted: a
function that writes its own reply frame to the pipe (possible once only
seccomp stands, as in BRAID_SANDBOX_LAYERS=seccomp-only, where `random._os`
is reachable) must not get invalid UTF-8 into braid's JSON output.  The
host replaces every invalid byte: U+FFFD in print output and tracebacks,
'?' in error messages (issue 10, item 3).  Before, the bytes were copied as
they came and a client received text that is not JSON."""
import json
import os
import re

from conftest import ROOT, call, write_function


def code_number(name):
    """The value of BRD_E_<name> in enum brd_code (src/base/error.h)."""
    with open(os.path.join(ROOT, "src", "base", "error.h")) as f:
        body = re.search(r"enum brd_code \{(.*?)\};", f.read(), re.S).group(1)
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    names = [n.split("=")[0].strip() for n in body.split(",") if n.strip()]
    return names.index("BRD_E_" + name)

# The frame of sandbox/internal.h: magic, type, seq, arg, aux, len[4], pad.
# A `braid call` is its pool's first call: seq 1.
FORGE = """
import random, time
def le(n, size):
    return n.to_bytes(size, "little", signed=n < 0)
def frame(arg, parts):
    hdr = (le(0x31445242, 4) + le(4, 4) + le(1, 8) + le(arg, 8) + le(0, 4)
           + b"".join(le(len(p), 4) for p in parts) + le(0, 4) * (4 - len(parts)) + le(0, 4))
    return hdr + b"".join(parts)
def handler(event, context):
    random._os.write(3, frame(ARG, PARTS))
    time.sleep(5)   # the host has its reply; it ends this process
"""

BAD = ["\\xff\\xfe", "\\xc0\\xaf", "\\xed\\xa0\\x80", "\\xe2\\x82"]


def forged(tmp_path, arg, parts):
    src = FORGE.replace("ARG", str(arg)).replace("PARTS", "[" + ", ".join(parts) + "]")
    write_function(tmp_path, "f", src)
    return call(tmp_path, "f", layers="seccomp-only", trace=True, timeout=30)


def json_lines(out):
    """Every line braid wrote parses as strict JSON text (bytes, not str)."""
    lines = [l for l in (out.stdout + "\n" + out.stderr).splitlines() if l.strip().startswith("{")]
    assert lines, out
    for line in lines:
        raw = line.encode("utf-8", "surrogateescape")
        raw.decode("utf-8")          # valid UTF-8, strictly
        json.loads(raw)
    return lines


def test_invalid_utf8_in_print_output_and_traceback_is_replaced(tmp_path):
    parts = ['b"\\"ok\\""'] + ['b"print ' + "".join(BAD) + ' end"', 'b"tb ' + "".join(BAD) + '"']
    out = forged(tmp_path, 0, parts)
    json_lines(out)
    assert out.rc == 0, out
    assert out.trace is not None, out
    assert out.trace["print"].startswith("print \ufffd"), out.trace
    assert out.trace["print"].endswith(" end")
    assert "\ufffd" in out.trace.get("traceback", ""), out.trace


def test_invalid_utf8_in_an_error_message_is_replaced(tmp_path):
    # arg = FUNCTION_ERROR's number; the message is the first part.
    parts = ['b"boom ' + "".join(BAD) + ' end"', 'b"out \\xff"', 'b"tb \\xc3"']
    out = forged(tmp_path, code_number("FUNCTION_ERROR"), parts)
    json_lines(out)
    assert out.rc == 1, out
    assert out.code == "FUNCTION_ERROR", out
    assert out.error["message"].startswith("boom ?"), out.error
    assert out.error["message"].endswith(" end")
