"""Helpers for the sandbox escape tests: write a function into a fresh
service directory, run it with `braid call`, and read the outcome."""
import json
import os
import subprocess
import sys

import pytest

# tests/procinfo.py (shared by both suites) is importable from any test.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BRAID = os.environ.get("BRAID_BIN", os.path.join(ROOT, "braid"))
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")

# A secret the environment of braid holds: no function may ever see it.
SECRET = "braid-test-secret-6f1d2c"

NORMAL = """
import json
def handler(event, context):
    return {"ok": True, "event": json.loads(event)}
"""


class Outcome:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.result = None
        self.error = None
        self.trace = None
        if self.rc == 0 and proc.stdout.strip():
            self.result = json.loads(proc.stdout)
        for line in proc.stderr.splitlines():
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict) and "error" in obj:
                self.error = obj["error"]
            if isinstance(obj, dict) and "trace" in obj:
                self.trace = obj["trace"][0]

    @property
    def code(self):
        return self.error["code"] if self.error else None

    def __repr__(self):
        return f"Outcome(rc={self.rc}, stdout={self.stdout[:300]!r}, stderr={self.stderr[:600]!r})"


def call(directory, name, event=None, layers="all", timeout=60, trace=True, env_extra=None):
    """Runs `braid call` and returns its Outcome."""
    env = dict(os.environ)
    env["BRAID_SANDBOX_LAYERS"] = layers
    env["SECRET_TOKEN"] = SECRET
    env["AWS_SECRET_ACCESS_KEY"] = SECRET
    if env_extra:
        env.update(env_extra)
    argv = [BRAID, "call", str(directory), name]
    if event is not None:
        argv += ["--event", json.dumps(event)]
    if trace:
        argv.append("--trace")
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
    return Outcome(proc)


def write_function(directory, name, source, settings=None):
    fdir = os.path.join(str(directory), "functions")
    os.makedirs(fdir, exist_ok=True)
    with open(os.path.join(fdir, name + ".py"), "w") as f:
        f.write(source)
    if settings is not None:
        with open(os.path.join(fdir, name + ".json"), "w") as f:
            json.dump(settings, f)


@pytest.fixture(params=["all", "seccomp-only"])
def layers(request):
    """Every escape test runs with all layers and with seccomp alone."""
    return request.param


@pytest.fixture
def svc(tmp_path):
    d = tmp_path / "svc"
    d.mkdir()
    write_function(d, "normal", NORMAL)
    return d


def assert_next_call_ok(directory, layers):
    out = call(directory, "normal", {"after": 1}, layers=layers)
    assert out.rc == 0, out
    assert out.result == {"ok": True, "event": {"after": 1}}


def assert_no_secret(out):
    for text in (out.stdout, out.stderr):
        assert SECRET not in text
