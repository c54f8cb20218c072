"""What a function returns reaches the workflow unchanged, or fails the call:
the host never alters a value (issue 10, item 4).  Before the strict reader,
10**30 came back as 18446744073709551615 and a key "role\\0x" overwrote
"role"."""
import json

from conftest import call, write_function


def test_integers_beyond_64_bits_pass_through_exactly(tmp_path, layers):
    write_function(tmp_path, "f", """
def handler(event, context):
    return {"big": 10**30, "neg": -10**30, "u64": 2**64, "max": 2**64 - 1,
            "min": -2**63, "list": [10**40, -(2**63) - 1]}
""")
    out = call(tmp_path, "f", layers=layers, trace=False)
    assert out.rc == 0, out
    # The exact digits, as JSON allows; a float would have lost them.
    assert '"big":1000000000000000000000000000000' in out.stdout
    assert '"neg":-1000000000000000000000000000000' in out.stdout
    assert '"u64":18446744073709551616' in out.stdout
    assert '"max":18446744073709551615' in out.stdout
    assert '"min":-9223372036854775808' in out.stdout
    assert '"list":[10000000000000000000000000000000000000000,-9223372036854775809]' in out.stdout
    assert json.loads(out.stdout)["big"] == 10**30


def test_nul_in_a_key_fails_the_call_and_overwrites_nothing(tmp_path, layers):
    write_function(tmp_path, "f", """
def handler(event, context):
    return {"role": "user", "role\\0x": "admin"}
""")
    out = call(tmp_path, "f", layers=layers, trace=False)
    assert out.rc == 1, out
    assert out.code == "FUNCTION_ERROR"
    assert "U+0000" in out.error["message"]
    assert "admin" not in out.stdout


def test_nul_in_a_string_value_is_kept(tmp_path, layers):
    write_function(tmp_path, "f", """
def handler(event, context):
    return {"s": "a\\0b", "k": ["\\0"]}
""")
    out = call(tmp_path, "f", layers=layers, trace=False)
    assert out.rc == 0, out
    assert out.result == {"s": "a\0b", "k": ["\0"]}
