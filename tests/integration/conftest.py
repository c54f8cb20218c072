"""Shared fixtures for the integration tests: the built binary, a real HTTP
backend on a free loopback port (tests/backend/backend.py), and service
directories written into temporary folders."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BRAID = os.environ.get("BRAID_BIN") or os.path.join(ROOT, "braid")
BACKEND = os.path.join(ROOT, "tests", "backend", "backend.py")


def run(*args, input=None, timeout=60, env=None):
    """Runs braid with args; returns CompletedProcess with text output."""
    return subprocess.run([BRAID, *args], input=input, capture_output=True,
                          text=True, timeout=timeout, env=env)


@pytest.fixture
def braid():
    return run


@pytest.fixture(scope="session")
def backend():
    """Base URL of a real HTTP/1.1 backend started for this test session."""
    proc = subprocess.Popen(["/usr/bin/python3", BACKEND, "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().split()
    assert line and line[0] == "PORT", "backend did not start"
    yield "http://127.0.0.1:%s" % line[1]
    proc.kill()
    proc.wait()


def write_service(root, files):
    """Writes {relative path: dict (JSON) or str} under root; returns root."""
    for rel, content in files.items():
        path = os.path.join(str(root), rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            if isinstance(content, str):
                f.write(content)
            else:
                json.dump(content, f)
    return str(root)


@pytest.fixture
def service(tmp_path):
    """service(files) → the path of a service directory holding files."""
    counter = [0]

    def make(files):
        counter[0] += 1
        return write_service(tmp_path / ("svc%d" % counter[0]), files)
    return make


def run_workflow(directory, workflow, inp=None, *extra, timeout=60):
    """Runs `braid run`; returns (exit status, parsed stdout or None, stderr)."""
    args = ["run", directory, workflow]
    if inp is not None:
        args += ["--input", json.dumps(inp)]
    r = run(*args, *extra, timeout=timeout)
    out = None
    if r.stdout.strip():
        out = json.loads(r.stdout)
    return r.returncode, out, r.stderr


def error_of(stderr):
    """The SPEC error object printed on stderr by a failed `braid run`."""
    for line in reversed(stderr.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)["error"]
    raise AssertionError("no error object in: " + stderr)
