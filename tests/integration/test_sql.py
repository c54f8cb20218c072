"""SQLite data sources and SQL APIs (SPEC section 2b) through the built
braid: `braid check` load errors, `braid run` of workflows with SQL nodes
(beside real sandboxed functions), the trace, errors and their HTTP status
through `braid serve` behind nginx.  Databases are made here with Python's
sqlite3 module in a temporary folder."""
import json
import os
import sqlite3
import time

import pytest

from conftest import error_of, run, run_workflow

SCHEMA = """
CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL, role TEXT, active BOOLEAN,
                   created DATETIME, meta JSON, pic BLOB, score REAL);
INSERT INTO users VALUES (1, 'alice', 'admin', 1, '2026-12-02 14:05:00', '{"tags": ["a"]}', x'00ff10', 1.5);
INSERT INTO users VALUES (2, 'bob', 'user', 0, NULL, NULL, NULL, NULL);
"""

ROLE_FN = ("import json\ndef handler(event, context):\n"
           "    o = json.loads(event)\n    o['role'] = '%s'\n    return o\n")


def make_db(path, script=SCHEMA):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    db = sqlite3.connect(path)
    db.executescript(script)
    db.commit()
    db.close()


def sql_api(sql, params=None, datasource="app", **extra):
    d = {"type": "sql", "datasource": datasource, "sql": sql}
    if params is not None:
        d["params"] = params
    d.update(extra)
    return d


GET_USER = sql_api("SELECT id, name, role FROM users WHERE id = :id",
                   {"id": {"type": "int", "required": True}})

SEED = {
    "datasources/app.json": {"type": "sqlite", "path": "data/app.db"},
    "apis/get_user.json": GET_USER,
    "functions/regular_user.py": ROLE_FN % "user",
    "functions/admin_user.py": ROLE_FN % "admin",
    "workflows/user_lookup.json": {
        "params": {"uid": {"type": "int", "required": True}},
        "nodes": [
            {"id": "API1", "type": "api", "api": "get_user",
             "params": {"id": "${START.uid}"}, "output": {"user_id": "$.data[0].id"}},
            {"id": "SWITCH2", "type": "switch", "branches": [
                {"when": "$.user_id != 1", "next": "PYTHON1"},
                {"when": "$.user_id == 1", "next": "PYTHON2"}]},
            {"id": "PYTHON1", "type": "function", "function": "regular_user"},
            {"id": "PYTHON2", "type": "function", "function": "admin_user"}],
        "edges": [["START", "API1"], ["API1", "SWITCH2"], ["PYTHON1", "END"], ["PYTHON2", "END"]],
        "result": {"user_id": "${API1.user_id}", "role": "$.role"}},
}


@pytest.fixture
def sql_service(service):
    """sql_service(extra files, drop=[paths]) → a service directory with the
    seed workflow over a SQLite database made in it."""
    def make(extra=None, drop=()):
        files = dict(SEED)
        files.update(extra or {})
        for p in drop:
            files.pop(p, None)
        d = service(files)
        make_db(os.path.join(d, "data", "app.db"))
        return d
    return make


def check(d, *extra):
    r = run("check", d, *extra)
    return r.returncode, r.stdout, r.stderr


# ---- braid check ----------------------------------------------------------------

def test_check_passes_and_counts_data_sources(sql_service):
    code, out, err = check(sql_service())
    assert code == 0, err
    assert "1 workflow" in out and "1 api" in out and "1 data source" in out
    # --connect is accepted (SQLite statements are always checked live).
    assert check(sql_service(), "--connect")[0] == 0


LOAD_ERRORS = [
    ("syntax error", {"apis/get_user.json": sql_api("SELEC id FROM users")},
     'apis/get_user.json: sql: near "SELEC": syntax error'),
    ("unknown table", {"apis/get_user.json": sql_api("SELECT id FROM nope WHERE id = :id", {"id": {}})},
     "apis/get_user.json: sql: no such table: nope"),
    ("unknown column", {"apis/get_user.json": sql_api("SELECT nope FROM users WHERE id = :id", {"id": {}})},
     "apis/get_user.json: sql: no such column: nope"),
    ("undeclared placeholder", {"apis/get_user.json": sql_api("SELECT id FROM users WHERE id = :id")},
     "apis/get_user.json: sql: :id is not declared in params"),
    ("unused param", {"apis/get_user.json": sql_api("SELECT 1 AS id", {"id": {}})},
     "apis/get_user.json: params.id: declared but not used in sql"),
    ("write on a read-only source", {"apis/get_user.json": sql_api("DELETE FROM users WHERE id = :id", {"id": {}})},
     'data source "app" is read-only (add "write": true to datasources/app.json)'),
    ("two statements", {"apis/get_user.json": sql_api("SELECT 1 AS id; DROP TABLE users")},
     "apis/get_user.json: sql: only one statement is allowed"),
    ("unknown api field", {"apis/get_user.json": dict(GET_USER, method="GET")},
     'apis/get_user.json: unknown field "method"'),
    ("unknown data source field", {"datasources/app.json": {"path": "data/app.db", "pool": 2}},
     'datasources/app.json: unknown field "pool"'),
    ("missing database", {"datasources/app.json": {"path": "data/nope.db"}},
     'datasources/app.json: path: cannot open "data/nope.db"'),
    ("postgresql", {"datasources/app.json": {"type": "postgresql", "dsn": "host=h password='pw"}},
     'datasources/app.json: dsn: not a valid libpq connection string'),
    ("mysql", {"datasources/app.json": {"type": "mysql", "host": "127.0.0.1", "password": "pw"}},
     'datasources/app.json: user: missing'),
    ("unknown data source", {"apis/get_user.json": dict(GET_USER, datasource="other")},
     'apis/get_user.json: datasource: unknown data source "other"'),
]


@pytest.mark.parametrize("name,files,message", LOAD_ERRORS, ids=[c[0] for c in LOAD_ERRORS])
def test_check_reports_sql_load_errors(sql_service, name, files, message):
    code, out, err = check(sql_service(files))
    assert code == 1, out
    assert message in err, err
    assert "problem" in err.splitlines()[-1]


def test_check_never_prints_a_password(sql_service):
    code, _, err = check(sql_service({"datasources/app.json": {
        "type": "mysql", "host": "127.0.0.1", "port": 1, "user": "u", "password": "s3cret-pw"}}), "--connect")
    assert code == 1 and "s3cret-pw" not in err


def test_env_substitution_in_the_path(sql_service, tmp_path):
    d = sql_service({"datasources/app.json": {"path": "${env.BRAID_TEST_DB_PATH}"}})
    env = dict(os.environ, BRAID_TEST_DB_PATH=os.path.join(d, "data", "app.db"))
    r = run("check", d, env=env)
    assert r.returncode == 0, r.stderr
    r = run("check", d, env={k: v for k, v in env.items() if k != "BRAID_TEST_DB_PATH"})
    assert r.returncode == 1 and "environment variable BRAID_TEST_DB_PATH is not set" in r.stderr


# ---- braid run ---------------------------------------------------------------------

def test_seed_workflow_over_sqlite_takes_both_branches(sql_service):
    d = sql_service()
    assert run_workflow(d, "user_lookup", {"uid": 1})[:2] == (0, {"user_id": 1, "role": "admin"})
    assert run_workflow(d, "user_lookup", {"uid": 2})[:2] == (0, {"user_id": 2, "role": "user"})
    assert run_workflow(d, "user_lookup", {"uid": "2"})[:2] == (0, {"user_id": 2, "role": "user"})


def test_raw_result_maps_types(sql_service):
    d = sql_service({
        "apis/all.json": sql_api("SELECT * FROM users ORDER BY id"),
        "workflows/all.json": {"nodes": [{"id": "A", "type": "api", "api": "all"}],
                               "edges": [["START", "A"], ["A", "END"]]}})
    code, out, err = run_workflow(d, "all", {})
    assert code == 0, err
    assert out == {"data": [
        {"id": 1, "name": "alice", "role": "admin", "active": True, "created": "2026-12-02T14:05:00",
         "meta": {"tags": ["a"]}, "pic": "AP8Q", "score": 1.5},
        {"id": 2, "name": "bob", "role": "user", "active": False, "created": None, "meta": None,
         "pic": None, "score": None}]}


def test_filter_function_replaces_the_raw_result(sql_service):
    d = sql_service({
        "apis/named.json": sql_api("SELECT name FROM users WHERE id = :id", {"id": {"type": "int"}},
                                   filter="first_name"),
        "functions/first_name.py": "import json\ndef handler(event, context):\n"
                                   "    return {'name': json.loads(event)['data'][0]['name'].upper()}\n",
        "workflows/named.json": {"nodes": [{"id": "A", "type": "api", "api": "named"}],
                                 "edges": [["START", "A"], ["A", "END"]]}})
    assert run_workflow(d, "named", {"id": 2})[:2] == (0, {"name": "BOB"})


def test_trace_shows_statement_bound_values_and_row_count(sql_service):
    d = sql_service()
    code, out, err = run_workflow(d, "user_lookup", {"uid": 1}, "--trace")
    assert code == 0, err
    api1 = [t for t in out["trace"] if t["id"] == "API1"][0]
    assert api1["input"] == {"datasource": "app", "sql": GET_USER["sql"], "params": {"id": 1}}
    assert api1["rows"] == 1 and api1["state"] == "succeeded"
    assert "app.db" not in json.dumps(out["trace"])


def test_missing_required_param_is_PARAM_MISSING(sql_service):
    d = sql_service({"workflows/raw.json": {
        "nodes": [{"id": "A", "type": "api", "api": "get_user"}],
        "edges": [["START", "A"], ["A", "END"]]}})
    code, _, err = run_workflow(d, "raw", {})
    e = error_of(err)
    assert code == 1 and e["code"] == "PARAM_MISSING" and e["node"] == "A"
    assert "required parameter 'id'" in e["message"]


def test_injection_attempts_leave_the_table_intact(sql_service, tmp_path):
    d = sql_service({
        "apis/by_name.json": sql_api("SELECT id FROM users WHERE name = :name", {"name": {"type": "string"}}),
        "workflows/by_name.json": {"nodes": [{"id": "A", "type": "api", "api": "by_name"}],
                                   "edges": [["START", "A"], ["A", "END"]]}})
    for attempt in ["1 OR 1=1", "' OR '1'='1", "'; DROP TABLE users; --", "alice\x00' OR 1=1 --"]:
        code, out, err = run_workflow(d, "by_name", {"name": attempt})
        assert (code, out) == (0, {"data": []}), err[:300]
    # A 1 MB value, too long for a command line: --input @FILE.
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"name": "'; DROP TABLE users; --" + "x" * (1 << 20)}))
    code, out, err = run_workflow(d, "by_name", None, "--input", "@" + str(big))
    assert (code, out) == (0, {"data": []}), err[:300]
    assert run_workflow(d, "by_name", {"name": "bob"})[:2] == (0, {"data": [{"id": 2}]})
    db = sqlite3.connect(os.path.join(d, "data", "app.db"))
    assert db.execute("SELECT count(*) FROM users").fetchone()[0] == 2
    db.close()


def test_write_source_returns_rows_and_affected_rows(sql_service):
    d = sql_service({
        "datasources/rw.json": {"type": "sqlite", "path": "data/app.db", "write": True},
        "apis/add.json": sql_api("INSERT INTO users(name, role) VALUES (:name, 'user') RETURNING id, name",
                                 {"name": {"type": "string", "required": True}}, datasource="rw"),
        "workflows/add.json": {"nodes": [{"id": "A", "type": "api", "api": "add"}],
                               "edges": [["START", "A"], ["A", "END"]]}})
    code, out, err = run_workflow(d, "add", {"name": "carol"})
    assert code == 0, err
    assert out == {"data": [{"id": 3, "name": "carol"}], "affected_rows": 1}
    db = sqlite3.connect(os.path.join(d, "data", "app.db"))
    assert db.execute("SELECT name FROM users WHERE id = 3").fetchone()[0] == "carol"
    db.close()


def test_max_rows_and_timeout_errors(sql_service):
    spin = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT max(x) AS m FROM c"
    d = sql_service({
        "apis/many.json": sql_api("SELECT id FROM users", max_rows=1),
        "apis/spin.json": sql_api(spin, timeout_ms=150),
        "workflows/many.json": {"nodes": [{"id": "A", "type": "api", "api": "many"}],
                                "edges": [["START", "A"], ["A", "END"]]},
        "workflows/spin.json": {"nodes": [{"id": "A", "type": "api", "api": "spin"}],
                                "edges": [["START", "A"], ["A", "END"]]}})
    code, _, err = run_workflow(d, "many", {})
    e = error_of(err)
    assert code == 1 and e["code"] == "DATASOURCE_ERROR" and "more than max_rows=1" in e["message"]
    t0 = time.monotonic()
    code, _, err = run_workflow(d, "spin", {})
    took = time.monotonic() - t0
    e = error_of(err)
    assert code == 1 and e["code"] == "DATASOURCE_TIMEOUT" and "timeout_ms=150" in e["message"]
    assert took < 5, took


# ---- braid serve behind nginx: HTTP statuses ------------------------------------------

def test_served_sql_workflow_statuses(sql_service, serve):
    d = sql_service({
        "apis/many.json": sql_api("SELECT id FROM users", max_rows=1),
        "workflows/raw.json": {"nodes": [{"id": "A", "type": "api", "api": "get_user"}],
                               "edges": [["START", "A"], ["A", "END"]]},
        "workflows/many.json": {"nodes": [{"id": "A", "type": "api", "api": "many"}],
                                "edges": [["START", "A"], ["A", "END"]]}})
    s = serve(d, workers=1)
    st, body, _ = s.json("GET", "/user_lookup?uid=1")
    assert (st, body) == (200, {"user_id": 1, "role": "admin"})
    st, body, _ = s.json("GET", "/user_lookup?uid=2")
    assert (st, body) == (200, {"user_id": 2, "role": "user"})
    st, body, _ = s.json("GET", "/raw")
    assert st == 400 and body["error"]["code"] == "PARAM_MISSING"
    st, body, _ = s.json("GET", "/raw?id=1")
    assert (st, body) == (200, {"data": [{"id": 1, "name": "alice", "role": "admin"}]})
    st, body, _ = s.json("GET", "/many")
    assert st == 502 and body["error"]["code"] == "DATASOURCE_ERROR"
