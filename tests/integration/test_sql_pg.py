"""PostgreSQL data sources (SPEC section 2b) against a real PostgreSQL 15
started for this module (pgserver.py): load errors, `braid check --connect`,
type mapping, typed bound parameters against injection, max_rows,
server-side timeouts that really stop the query, errors without the
password or the DSN, the server going away and coming back under the same
`braid serve`, parallel statements, writes with RETURNING, read-only
sessions, and connections counted on the server under load behind nginx.
The DSN comes from ${env.APP_PG_DSN} (keyword/value over TCP), or
${env.APP_PG_URI} (a URI) / ${env.APP_PG_SOCK} (the unix socket folder)."""
import hashlib
import json
import os
import signal
import subprocess
import threading
import time

import pytest

from conftest import BRAID, concurrently, error_of, free_port, run, run_workflow, wait_for
import pgserver
from pgserver import PASSWORD, Postgres, wait_gone

if pgserver.available():
    pytest.skip(pgserver.available(), allow_module_level=True)

SCHEMA = """
CREATE TABLE users(id int PRIMARY KEY, name varchar(100) NOT NULL, role text);
CREATE TABLE notes(id serial PRIMARY KEY, body text);
CREATE SEQUENCE counter;
CREATE FUNCTION bump() RETURNS int LANGUAGE sql AS
  $$ UPDATE users SET role = 'bumped' WHERE id = 1 RETURNING 1 $$;
CREATE TABLE types(
  id int PRIMARY KEY, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8,
  dec_exact numeric(10,2), dec_long numeric(30,10), txt text, vc varchar(10), ch char(3),
  yes bool, no bool, d date, ts timestamp, ts6 timestamp(6), tstz timestamptz,
  js json, jb jsonb, bin bytea, u uuid);
INSERT INTO types VALUES (
  1, -5, 300, -9000000000000000000, 1.5, 0.1, 12.50, 12345678901234567890.1234567891,
  'h\u00e9llo \u20ac', 'abc', 'xyz', true, false, '2026-12-02', '2026-12-02 14:05:00',
  '2026-12-02 14:05:00.123456', '2026-12-02 14:05:00+01', '{"tags": ["a", "b"], "n": 1}',
  '{"b": [1, null], "a": true}', '\\x00ff10', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
INSERT INTO types(id) VALUES (2);
GRANT ALL ON ALL TABLES IN SCHEMA public TO app;
GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO app;
"""

USERS = [["1", "alice", "admin"], ["2", "bob", "user"], ["3", "carol", "user"]]

EXPECTED_TYPES = [
    {"id": 1, "i2": -5, "i4": 300, "i8": -9000000000000000000, "f4": 1.5, "f8": 0.1, "dec_exact": 12.5,
     "dec_long": "12345678901234567890.1234567891", "txt": "h\u00e9llo \u20ac", "vc": "abc", "ch": "xyz",
     "yes": True, "no": False, "d": "2026-12-02", "ts": "2026-12-02T14:05:00",
     "ts6": "2026-12-02T14:05:00.123456", "tstz": "2026-12-02T13:05:00+00:00",
     "js": {"tags": ["a", "b"], "n": 1}, "jb": {"a": True, "b": [1, None]}, "bin": "AP8Q",
     "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
    {"id": 2, "i2": None, "i4": None, "i8": None, "f4": None, "f8": None, "dec_exact": None, "dec_long": None,
     "txt": None, "vc": None, "ch": None, "yes": None, "no": None, "d": None, "ts": None, "ts6": None,
     "tstz": None, "js": None, "jb": None, "bin": None, "u": None},
]

# The forms of DSN, each from its environment variable.
FORMS = {"kv": "APP_PG_DSN", "uri": "APP_PG_URI", "socket": "APP_PG_SOCK"}


@pytest.fixture(scope="module")
def pg():
    p = Postgres()
    try:
        p.sql(SCHEMA, "app")
        p.sql("ALTER TABLE users OWNER TO app; ALTER TABLE notes OWNER TO app; ALTER TABLE types OWNER TO app",
              "app")
        os.environ["APP_PG_DSN"] = p.dsn
        os.environ["APP_PG_URI"] = p.uri
        os.environ["APP_PG_SOCK"] = p.socket_dsn
        os.environ["APP_PG_BAD_DSN"] = p.dsn.replace(PASSWORD, WRONG)
        yield p
    finally:
        p.close()


@pytest.fixture
def fresh(pg):
    """The module's server with table users as SCHEMA has it and notes empty (each test its own)."""
    if pg.proc is None:
        pg.start()
    pg.sql("DELETE FROM users; INSERT INTO users VALUES (1, 'alice', 'admin'), (2, 'bob', 'user'), "
           "(3, 'carol', 'user'); TRUNCATE notes RESTART IDENTITY; SELECT setval('counter', 1, false)", "app")
    return pg


def sql_api(sql, params=None, datasource="app", **extra):
    d = {"type": "sql", "datasource": datasource, "sql": sql}
    if params is not None:
        d["params"] = params
    d.update(extra)
    return d


def one(api, bind=None, **extra):
    """A workflow of one node calling api (its params from bind), its raw result as the result;
    extra: workflow fields."""
    node = {"id": "A", "type": "api", "api": api}
    if bind:
        node["params"] = bind
    wf = {"nodes": [node], "edges": [["START", "A"], ["A", "END"]]}
    wf.update(extra)
    return wf


def chain(*apis):
    """A workflow calling apis one after the other (nodes A, B, ...); the last one's raw result."""
    ids = [chr(ord("A") + i) for i in range(len(apis))]
    nodes = [{"id": i, "type": "api", "api": a} for i, a in zip(ids, apis)]
    edges = [["START", ids[0]]] + [[a, b] for a, b in zip(ids, ids[1:])] + [[ids[-1], "END"]]
    return {"nodes": nodes, "edges": edges}


def source(form="kv", **extra):
    ds = {"type": "postgresql", "dsn": "${env.%s}" % FORMS[form]}
    ds.update(extra)
    return ds


GET_USER = sql_api("SELECT id, name, role FROM users WHERE id = :id", {"id": {"type": "int", "required": True}})
WRONG = "Wr0ng-" + PASSWORD


@pytest.fixture
def pg_service(service, fresh):
    """pg_service(extra files, form="kv", ds={extra source fields}) → a service directory
    with source `app` (read-only) and `rw` (write: true) on the module's PostgreSQL."""
    def make(extra=None, form="kv", ds=None):
        files = {
            "datasources/app.json": source(form, **(ds or {})),
            "datasources/rw.json": source(form, write=True),
            "apis/get_user.json": GET_USER,
            "workflows/user.json": one("get_user", {"id": "${START.uid}"},
                                       params={"uid": {"type": "int", "required": True}}),
        }
        files.update(extra or {})
        return service(files)
    return make


def check(d, *extra):
    r = run("check", d, *extra)
    return r.returncode, r.stdout, r.stderr


def users(pg):
    return pg.sql("SELECT id, name, role FROM users ORDER BY id", "app")


# ---- load and check -------------------------------------------------------------------

LOAD_ERRORS = [
    ("missing dsn", {"type": "postgresql"}, "dsn: missing"),
    ("dsn not a string", {"type": "postgresql", "dsn": 5432}, "dsn: must be a string"),
    ("dsn an object", {"type": "postgresql", "dsn": {"host": "127.0.0.1"}}, "dsn: must be a string"),
    ("empty dsn", {"type": "postgresql", "dsn": ""}, "dsn: must not be empty"),
    ("unknown field", {"type": "postgresql", "dsn": "host=127.0.0.1", "host": "127.0.0.1"},
     'unknown field "host"'),
    ("pool zero", {"type": "postgresql", "dsn": "host=127.0.0.1", "pool": 0}, "pool: must be a whole number"),
    ("pool too big", {"type": "postgresql", "dsn": "host=127.0.0.1", "pool": 65}, "pool: must be a whole number"),
    ("pool a string", {"type": "postgresql", "dsn": "host=127.0.0.1", "pool": "2"},
     "pool: must be a whole number"),
    ("bad connect timeout", {"type": "postgresql", "dsn": "host=127.0.0.1", "connect_timeout_ms": "2s"},
     "connect_timeout_ms: must be a whole number"),
    ("negative connect timeout", {"type": "postgresql", "dsn": "host=127.0.0.1", "connect_timeout_ms": -1},
     "connect_timeout_ms: must be a whole number"),
    ("write not a bool", {"type": "postgresql", "dsn": "host=127.0.0.1", "write": "yes"},
     "write: must be true or false"),
    ("unset env", {"type": "postgresql", "dsn": "${env.BRD_PG_NOPE}"},
     "dsn: environment variable BRD_PG_NOPE is not set"),
    # libpq's own messages may quote the text around the mistake: the password must not follow.
    ("missing =", {"type": "postgresql", "dsn": "host=127.0.0.1 password=%s bogus" % PASSWORD}, "dsn: "),
    ("unterminated quote", {"type": "postgresql", "dsn": "host=127.0.0.1 password='%s" % PASSWORD}, "dsn: "),
    ("unknown keyword", {"type": "postgresql", "dsn": "password=%s nosuchkey=1" % PASSWORD}, "dsn: "),
    ("bad uri", {"type": "postgresql", "dsn": "postgresql://app:%s@[::1/app" % PASSWORD}, "dsn: "),
    ("bad uri parameter", {"type": "postgresql", "dsn": "postgresql://app:%s@127.0.0.1/app?nosuch=1" % PASSWORD},
     "dsn: "),
]


@pytest.mark.parametrize("name,ds,message", LOAD_ERRORS, ids=[c[0] for c in LOAD_ERRORS])
def test_load_errors_name_the_file(service, name, ds, message):
    d = service({"datasources/app.json": ds, "apis/get_user.json": GET_USER})
    code, out, err = check(d)
    assert code == 1, out
    assert "datasources/app.json: " + message in err, err
    assert PASSWORD not in out + err, err


def test_a_dsn_from_the_environment_with_a_bad_password_field_hides_it(service, pg):
    # The same, with the broken DSN read from ${env.X} as it would be in production.
    d = service({"datasources/app.json": {"type": "postgresql", "dsn": "${env.BRD_PG_BROKEN}"},
                 "apis/get_user.json": GET_USER})
    env = dict(os.environ, BRD_PG_BROKEN="host=127.0.0.1 password='%s user=app" % PASSWORD)
    r = run("check", d, env=env)
    assert r.returncode == 1, r.stdout
    assert "datasources/app.json: dsn: " in r.stderr, r.stderr
    assert PASSWORD not in r.stdout + r.stderr


@pytest.mark.parametrize("form", list(FORMS))
def test_check_connect_passes_a_good_dir(pg_service, form):
    d = pg_service(form=form)
    assert check(d)[0] == 0
    code, out, err = check(d, "--connect")
    assert code == 0, err
    assert PASSWORD not in out + err


def test_check_connect_finds_an_unknown_column_or_table(pg_service, pg):
    bad = pg_service({"apis/get_user.json": sql_api("SELECT nope FROM users WHERE id = :id",
                                                    {"id": {"type": "int"}})})
    assert check(bad)[0] == 0   # no server contact without --connect
    code, out, err = check(bad, "--connect")
    assert code == 1
    assert "apis/get_user.json: sql: on data source app: " in err and 'column "nope" does not exist' in err, err
    assert PASSWORD not in out + err and pg.dsn not in out + err
    bad = pg_service({"apis/get_user.json": sql_api("SELECT id FROM no_such_table WHERE id = :id",
                                                    {"id": {"type": "int"}})})
    assert check(bad)[0] == 0
    code, out, err = check(bad, "--connect")
    assert code == 1
    assert "apis/get_user.json: " in err and 'relation "no_such_table" does not exist' in err, err
    # A parameter whose declared type the statement cannot take (int8 compared with a uuid).
    bad = pg_service({"apis/get_user.json": sql_api("SELECT id FROM types WHERE u = :id",
                                                    {"id": {"type": "int"}})})
    code, out, err = check(bad, "--connect")
    assert code == 1 and "apis/get_user.json: " in err and "operator does not exist: uuid = bigint" in err, err


def test_check_connect_with_a_wrong_password_says_so_without_it(pg_service, pg):
    d = pg_service(ds={"dsn": "${env.APP_PG_BAD_DSN}"})
    code, out, err = check(d, "--connect")
    assert code == 1
    assert 'password authentication failed for user "app"' in err, err
    assert WRONG not in out + err and PASSWORD not in out + err
    assert os.environ["APP_PG_BAD_DSN"] not in out + err


# ---- values -----------------------------------------------------------------------------

@pytest.mark.parametrize("form", list(FORMS))
def test_every_type_maps_to_json(pg_service, form):
    d = pg_service({"apis/types.json": sql_api("SELECT * FROM types ORDER BY id"),
                    "workflows/types.json": one("types")}, form=form)
    code, out, err = run_workflow(d, "types", {})
    assert code == 0, err
    assert out == {"data": EXPECTED_TYPES}
    assert list(out["data"][0]) == list(EXPECTED_TYPES[0])   # select order
    assert isinstance(out["data"][0]["i8"], int) and isinstance(out["data"][0]["f4"], float)


def test_computed_values_and_decimals_both_ways(pg_service):
    sql = ("SELECT 1 = 1 AS t, 1 = 2 AS f, 2.25::numeric(6,3) AS exact, 0.1::numeric(20,19) AS tenth, "
           "'1.0000000000000000001'::numeric AS long_dec, 123456789012345678901234567890::numeric AS huge, "
           "NULL::int AS nothing, json_build_object('k', :v::text) AS js, :v AS echo, "
           "'NaN'::float8 AS nan, 7::oid AS o, '{1,2}'::int[] AS arr, '2026-12-02'::date + 1 AS tomorrow")
    d = pg_service({"apis/c.json": sql_api(sql, {"v": {"type": "string"}}),
                    "workflows/c.json": one("c", {"v": "x"})})
    code, out, err = run_workflow(d, "c", {})
    assert code == 0, err
    row = out["data"][0]
    assert row["t"] is True and row["f"] is False
    assert row["exact"] == 2.25 and row["tenth"] == 0.1
    assert row["long_dec"] == "1.0000000000000000001"
    assert row["huge"] == "123456789012345678901234567890"
    assert row["nothing"] is None and row["echo"] == "x" and row["js"] == {"k": "x"}
    assert row["nan"] == "NaN" and row["o"] == 7 and row["arr"] == "{1,2}"
    assert row["tomorrow"] == "2026-12-03"


# ---- parameters ---------------------------------------------------------------------------

def test_missing_required_param_is_PARAM_MISSING(pg_service):
    d = pg_service({"workflows/raw.json": one("get_user")})
    code, _, err = run_workflow(d, "raw", {})
    e = error_of(err)
    assert code == 1 and e["code"] == "PARAM_MISSING" and e["node"] == "A", e


def test_missing_required_param_through_serve_is_400(pg_service, serve):
    d = pg_service({"workflows/raw.json": one("get_user")})
    s = serve(d, workers=1)
    st, body, _ = s.json("GET", "/raw")
    assert st == 400 and body["error"]["code"] == "PARAM_MISSING", body
    assert s.json("GET", "/raw?id=2")[:2] == (200, {"data": [{"id": 2, "name": "bob", "role": "user"}]})


def test_every_param_type_is_bound_typed(pg_service):
    sql = ("SELECT :i AS i, :n AS n, :b AS b, :s AS s, :o::jsonb AS o, :a::json AS a, :z AS z, "
           "length(:s) AS s_len, pg_typeof(:i)::text AS ti, pg_typeof(:n)::text AS tn, "
           "pg_typeof(:b)::text AS tb, :i + 1 AS i1, :n * 2 AS n2, NOT :b AS nb")
    params = {"i": {"type": "int"}, "n": {"type": "number"}, "b": {"type": "bool"}, "s": {"type": "string"},
              "o": {"type": "object"}, "a": {"type": "array"}, "z": {"type": "string"}}
    d = pg_service({"apis/p.json": sql_api(sql, params),
                    "workflows/p.json": one("p", {k: "${START.%s}" % k for k in params})})
    code, out, err = run_workflow(d, "p", {"i": -9000000000000000000, "n": 2.5, "b": True, "s": "a\u00e9'\"\\",
                                          "o": {"k": [1]}, "a": [1, "x"]})
    assert code == 0, err
    row = out["data"][0]
    assert row["i"] == -9000000000000000000 and row["n"] == 2.5 and row["b"] is True
    assert (row["ti"], row["tn"], row["tb"]) == ("bigint", "double precision", "boolean")
    assert row["i1"] == -8999999999999999999 and row["n2"] == 5.0 and row["nb"] is False
    assert row["s"] == "a\u00e9'\"\\" and row["s_len"] == 5
    assert row["o"] == {"k": [1]} and row["a"] == [1, "x"]
    assert row["z"] is None


def test_a_name_used_twice_is_one_parameter(pg_service):
    d = pg_service({
        "apis/two.json": sql_api("SELECT id FROM users WHERE id = :id OR id = :id + 1 ORDER BY id",
                                 {"id": {"type": "int", "required": True}}),
        "apis/str.json": sql_api("SELECT :s || '-' || :s AS twice, :s::text = :s AS same",
                                 {"s": {"type": "string"}}),
        "workflows/two.json": one("two", {"id": "${START.id}"}),
        "workflows/str.json": one("str", {"s": "${START.s}"})})
    assert run_workflow(d, "two", {"id": 1})[:2] == (0, {"data": [{"id": 1}, {"id": 2}]})
    assert run_workflow(d, "two", {"id": 3})[:2] == (0, {"data": [{"id": 3}]})
    code, out, err = run_workflow(d, "str", {"s": "ab"})
    assert code == 0, err
    assert out == {"data": [{"twice": "ab-ab", "same": True}]}


def test_a_string_param_takes_the_type_the_statement_gives_it(pg_service):
    d = pg_service({"apis/by_u.json": sql_api("SELECT id FROM types WHERE u = :u", {"u": {"type": "string"}}),
                    "apis/by_d.json": sql_api("SELECT id FROM types WHERE d = :d", {"d": {"type": "string"}}),
                    "workflows/by_u.json": one("by_u", {"u": "${START.u}"}),
                    "workflows/by_d.json": one("by_d", {"d": "${START.d}"})})
    assert run_workflow(d, "by_u", {"u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"})[:2] == (0, {"data": [{"id": 1}]})
    assert run_workflow(d, "by_d", {"d": "2026-12-02"})[:2] == (0, {"data": [{"id": 1}]})
    code, _, err = run_workflow(d, "by_u", {"u": "not-a-uuid"})
    e = error_of(err)
    assert code == 1 and e["code"] == "DATASOURCE_ERROR" and "invalid input syntax for type uuid" in e["message"], e


def test_injection_attempts_select_only_what_the_value_selects(pg_service, pg, tmp_path):
    d = pg_service({
        "apis/by_name.json": sql_api("SELECT id FROM users WHERE name = :name", {"name": {"type": "string"}}),
        "apis/by_id.json": sql_api("SELECT id FROM users WHERE id = :id", {"id": {"type": "int"}}),
        "apis/by_score.json": sql_api("SELECT id FROM users WHERE id = :x", {"x": {"type": "number"}}),
        "apis/by_flag.json": sql_api("SELECT id FROM users WHERE (id = 1) = :f ORDER BY id",
                                     {"f": {"type": "bool"}}),
        "workflows/by_name.json": one("by_name", {"name": "${START.name}"}),
        "workflows/by_id.json": one("by_id", {"id": "${START.id}"}),
        "workflows/by_score.json": one("by_score", {"x": "${START.x}"}),
        "workflows/by_flag.json": one("by_flag", {"f": "${START.f}"})})
    for evil in ("'; DROP TABLE users; --", "bob' OR '1'='1", "bob\\' OR 1=1 --", "$$; DROP TABLE users; $$",
                 "bob'); DELETE FROM users; --", "\u2019 OR 1=1"):
        code, out, err = run_workflow(d, "by_name", {"name": evil})
        assert (code, out) == (0, {"data": []}), (evil, err)
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"name": "'; DROP TABLE users; --" + "x" * (1 << 20)}))
    code, out, err = run_workflow(d, "by_name", None, "--input", "@" + str(big))
    assert (code, out) == (0, {"data": []}), err[:300]
    for wf, bad in (("by_id", {"id": "1 OR 1=1"}), ("by_id", {"id": "1; DROP TABLE users"}),
                    ("by_score", {"x": "1; DROP TABLE users"}), ("by_flag", {"f": "true OR 1=1"}),
                    ("by_name", {"name": "bob\x00' OR 1=1 --"}), ("by_name", {"name": "\x00"})):
        code, _, err = run_workflow(d, wf, bad)
        e = error_of(err)
        assert code == 1 and e["code"] == "BAD_REQUEST", (wf, bad, e)
    assert run_workflow(d, "by_name", {"name": "bob"})[:2] == (0, {"data": [{"id": 2}]})
    assert run_workflow(d, "by_id", {"id": 3})[:2] == (0, {"data": [{"id": 3}]})
    assert run_workflow(d, "by_id", {"id": "3"})[:2] == (0, {"data": [{"id": 3}]})   # converted, then bound
    assert run_workflow(d, "by_score", {"x": 2})[:2] == (0, {"data": [{"id": 2}]})
    assert run_workflow(d, "by_flag", {"f": False})[:2] == (0, {"data": [{"id": 2}, {"id": 3}]})
    assert users(pg) == USERS


def test_a_nul_byte_is_a_bad_request_through_serve_too(pg_service, pg, serve):
    d = pg_service({
        "apis/add.json": sql_api("INSERT INTO notes(body) VALUES (:body) RETURNING id",
                                 {"body": {"type": "string", "required": True}}, datasource="rw"),
        "workflows/add.json": one("add", {"body": "${START.body}"})})
    s = serve(d, workers=1)
    js = {"Content-Type": "application/json"}
    st, body, _ = s.json("POST", "/add", {"body": "a\x00b"}, headers=js)
    assert st == 400 and body["error"]["code"] == "BAD_REQUEST" and "NUL" in body["error"]["message"], body
    assert pg.sql("SELECT count(*) FROM notes", "app") == [["0"]]
    # The worker and its connection go on.
    st, body, _ = s.json("POST", "/add", {"body": "a b"}, headers=js)
    assert (st, body) == (200, {"data": [{"id": 1}], "affected_rows": 1}), body


def test_a_1mb_string_is_stored_exactly(pg_service, pg, tmp_path):
    d = pg_service({
        "apis/add.json": sql_api("INSERT INTO notes(body) VALUES (:body) RETURNING id, length(body) AS n, "
                                 "md5(body) AS h", {"body": {"type": "string", "required": True}},
                                 datasource="rw"),
        "workflows/add.json": one("add", {"body": "${START.body}"})})
    body = "'; DROP TABLE notes; --\u00e9" + "y" * (1 << 20)
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"body": body}))
    code, out, err = run_workflow(d, "add", None, "--input", "@" + str(big))
    assert code == 0, err[:300]
    assert out["affected_rows"] == 1
    assert out["data"][0]["n"] == len(body) and out["data"][0]["h"] == hashlib.md5(body.encode()).hexdigest()


# ---- errors, limits, timeouts -----------------------------------------------------------------

def test_max_rows_exceeded_is_DATASOURCE_ERROR(pg_service, serve):
    d = pg_service({"apis/many.json": sql_api("SELECT id FROM users ORDER BY id", max_rows=2),
                    "apis/lots.json": sql_api("SELECT g FROM generate_series(1, 1000000) g"),
                    "apis/exact.json": sql_api("SELECT id FROM users ORDER BY id", max_rows=3),
                    "workflows/many.json": one("many"), "workflows/lots.json": one("lots"),
                    "workflows/exact.json": one("exact")})
    code, _, err = run_workflow(d, "many", {})
    e = error_of(err)
    assert code == 1 and e["code"] == "DATASOURCE_ERROR" and "max_rows=2" in e["message"], e
    assert run_workflow(d, "exact", {})[:2] == (0, {"data": [{"id": 1}, {"id": 2}, {"id": 3}]})
    # The default max_rows (1000) stops a million-row result early.
    t0 = time.monotonic()
    code, _, err = run_workflow(d, "lots", {})
    e = error_of(err)
    assert code == 1 and e["code"] == "DATASOURCE_ERROR" and "max_rows=1000" in e["message"], e
    assert time.monotonic() - t0 < 3
    s = serve(d, workers=1)
    st, body, _ = s.json("GET", "/many")
    assert st == 502 and body["error"]["code"] == "DATASOURCE_ERROR" and "max_rows" in body["error"]["message"]
    assert s.json("GET", "/user?uid=1")[0] == 200


def test_unknown_table_names_the_server_message(pg_service):
    d = pg_service({"apis/nope.json": sql_api("SELECT x FROM no_such_table"), "workflows/nope.json": one("nope")})
    code, _, err = run_workflow(d, "nope", {})
    e = error_of(err)
    assert code == 1 and e["code"] == "DATASOURCE_ERROR", e
    assert 'relation "no_such_table" does not exist' in e["message"], e
    assert PASSWORD not in err


def test_timeout_stops_the_query_on_the_server(pg_service, pg):
    d = pg_service({"apis/sleepy.json": sql_api("SELECT 1 AS one FROM pg_sleep(5)", timeout_ms=300),
                    "workflows/sleepy.json": one("sleepy")})
    t0 = time.monotonic()
    code, _, err = run_workflow(d, "sleepy", {})
    took = time.monotonic() - t0
    e = error_of(err)
    assert code == 1 and e["code"] == "DATASOURCE_TIMEOUT", e
    assert "timeout_ms=300" in e["message"], e
    assert took < 1.2, took
    assert wait_gone(lambda: not pg.running("pg_sleep(5)"), 1), pg.running("pg_sleep")


def test_the_server_side_limit_stops_a_read_when_braid_is_gone(pg_service, pg):
    d = pg_service({"apis/sleepy.json": sql_api("SELECT 1 AS one FROM pg_sleep(7)", timeout_ms=1000),
                    "workflows/sleepy.json": one("sleepy")})
    p = subprocess.Popen([BRAID, "run", d, "sleepy"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: pg.running("pg_sleep(7)"), 5, what="the query on the server")
        t0 = time.monotonic()
    finally:
        p.send_signal(signal.SIGKILL)   # no cancel request from braid now
        p.wait()
    # statement_timeout (set on the session) ends it on the server by itself.
    assert wait_gone(lambda: not pg.running("pg_sleep(7)"), 3), pg.running("pg_sleep")
    assert time.monotonic() - t0 < 1.6


@pytest.mark.parametrize("form", ["kv", "socket"])
def test_timeout_under_serve_cancels_the_query_and_the_worker_goes_on(pg_service, pg, serve, form):
    # The cancel request is a connection opened from a worker, under its seccomp policy.
    d = pg_service({"apis/sleepy.json": sql_api("SELECT 1 AS one FROM pg_sleep(5)", timeout_ms=300),
                    "workflows/sleepy.json": one("sleepy")}, form=form)
    s = serve(d, workers=1)
    t0 = time.monotonic()
    st, body, _ = s.json("GET", "/sleepy")
    took = time.monotonic() - t0
    assert st == 504 and body["error"]["code"] == "DATASOURCE_TIMEOUT", body
    assert took < 1.2, took
    assert wait_gone(lambda: not pg.running("pg_sleep(5)"), 1), pg.running("pg_sleep")
    st, body, _ = s.json("GET", "/user?uid=1")
    assert (st, body) == (200, {"data": [{"id": 1, "name": "alice", "role": "admin"}]})


def test_the_workflow_deadline_shrinks_the_statement_budget(pg_service, pg):
    # timeout_ms (and so statement_timeout) is 10 s: only braid's cancel request
    # at the workflow's 400 ms deadline can stop the query this early.
    d = pg_service({"apis/sleepy.json": sql_api("SELECT 1 AS one FROM pg_sleep(3)", timeout_ms=10000),
                    "workflows/sleepy.json": one("sleepy", timeout_ms=400)})
    t0 = time.monotonic()
    p = subprocess.Popen([BRAID, "run", d, "sleepy"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = wait_gone(lambda: pg.running("pg_sleep(3)"), 2)
    _, err = p.communicate(timeout=10)
    took = time.monotonic() - t0
    assert seen, "the query never showed on the server"
    e = error_of(err)
    assert p.returncode == 1 and e["code"] == "TIMEOUT", e
    assert "workflow's deadline" in e["message"], e
    assert took < 1.5, took
    assert wait_gone(lambda: not pg.running("pg_sleep(3)"), 1), pg.running("pg_sleep")


def test_the_workflow_deadline_under_serve_is_504_TIMEOUT(pg_service, pg, serve):
    d = pg_service({"apis/sleepy.json": sql_api("SELECT 1 AS one FROM pg_sleep(3)", timeout_ms=10000),
                    "workflows/sleepy.json": one("sleepy", timeout_ms=400)})
    s = serve(d, workers=1)
    t0 = time.monotonic()
    st, body, _ = s.json("GET", "/sleepy")
    assert st == 504 and body["error"]["code"] == "TIMEOUT", body
    assert time.monotonic() - t0 < 1.5
    assert wait_gone(lambda: not pg.running("pg_sleep(3)"), 1), pg.running("pg_sleep")
    assert s.json("GET", "/user?uid=3")[0] == 200


def test_a_write_stopped_or_over_max_rows_changes_nothing(pg_service, pg):
    d = pg_service({
        "apis/slow_rename.json": sql_api("UPDATE users SET name = name || pg_sleep(2)::text || 'x' WHERE id = :id",
                                         {"id": {"type": "int"}}, datasource="rw", timeout_ms=300),
        "apis/slow_add.json": sql_api("INSERT INTO notes(body) SELECT 'n' || g FROM generate_series(1, 3) g, "
                                      "pg_sleep(2)", datasource="rw", timeout_ms=300),
        "apis/drop_all.json": sql_api("DELETE FROM users WHERE id >= :id RETURNING id", {"id": {"type": "int"}},
                                      datasource="rw", max_rows=1),
        "apis/add_many.json": sql_api("INSERT INTO notes(body) SELECT 'n' || g FROM generate_series(1, 5) g "
                                      "RETURNING id", datasource="rw", max_rows=4),
        "workflows/slow_rename.json": one("slow_rename", {"id": 1}),
        "workflows/slow_add.json": one("slow_add"),
        "workflows/drop_all.json": one("drop_all", {"id": 2}),
        "workflows/add_many.json": one("add_many")})
    for wf in ("slow_rename", "slow_add"):
        t0 = time.monotonic()
        code, _, err = run_workflow(d, wf, {})
        e = error_of(err)
        assert code == 1 and e["code"] == "DATASOURCE_TIMEOUT", (wf, e)
        assert "nothing was changed" in e["message"], e
        assert time.monotonic() - t0 < 1.5
    for wf in ("drop_all", "add_many"):
        code, _, err = run_workflow(d, wf, {})
        e = error_of(err)
        assert code == 1 and e["code"] == "DATASOURCE_ERROR" and "max_rows=" in e["message"], (wf, e)
    # The server rolls back what the dropped connections left open.
    assert wait_gone(lambda: users(pg) == USERS, 5), users(pg)
    assert wait_gone(lambda: pg.sql("SELECT count(*) FROM notes", "app") == [["0"]], 5)


def test_two_slow_queries_overlap_on_a_pool_of_two(pg_service):
    slow = sql_api("SELECT :n AS n FROM pg_sleep(0.3)", {"n": {"type": "int"}})
    wf = {"nodes": [{"id": "A", "type": "api", "api": "slow", "params": {"n": 1}},
                    {"id": "B", "type": "api", "api": "slow", "params": {"n": 2}}],
          "edges": [["START", "A"], ["START", "B"], ["A", "END"], ["B", "END"]],
          "result": {"a": "${A.data[0].n}", "b": "${B.data[0].n}"}}
    d = pg_service({"apis/slow.json": slow, "workflows/par.json": wf}, ds={"pool": 2})
    code, out, err = run_workflow(d, "par", {}, "--trace", "--json")
    assert code == 0, err
    assert out["result"] == {"a": 1, "b": 2}
    nodes = {t["id"]: t for t in out["trace"] if t["id"] in ("A", "B")}
    assert len(nodes) == 2, out["trace"]
    first = min(t["start_us"] for t in nodes.values())
    last = max(t["start_us"] + t["duration_us"] for t in nodes.values())
    assert all(t["duration_us"] >= 290000 for t in nodes.values()), nodes
    # Both 0.3 s statements (connecting included) within ~one of them: they overlapped.
    assert last - first < 500000, nodes


def test_a_pool_of_one_runs_them_one_after_the_other(pg_service):
    slow = sql_api("SELECT :n AS n FROM pg_sleep(0.3)", {"n": {"type": "int"}})
    wf = {"nodes": [{"id": "A", "type": "api", "api": "slow", "params": {"n": 1}},
                    {"id": "B", "type": "api", "api": "slow", "params": {"n": 2}}],
          "edges": [["START", "A"], ["START", "B"], ["A", "END"], ["B", "END"]],
          "result": {"a": "${A.data[0].n}", "b": "${B.data[0].n}"}}
    d = pg_service({"apis/slow.json": slow, "workflows/par.json": wf})
    t0 = time.monotonic()
    code, out, err = run_workflow(d, "par", {})
    assert code == 0, err
    assert out == {"a": 1, "b": 2}
    assert time.monotonic() - t0 >= 0.6


def test_wrong_password_is_a_clear_error_without_the_password(pg_service, pg, serve):
    bad_dsn = os.environ["APP_PG_BAD_DSN"]
    d = pg_service(ds={"dsn": "${env.APP_PG_BAD_DSN}"})
    code, out, err = run_workflow(d, "user", {"uid": 1}, "--trace", "--json")
    assert code == 1
    text = json.dumps(out) + err
    e = out["error"]   # with --json, on stdout beside the trace
    assert e["code"] == "DATASOURCE_ERROR" and 'password authentication failed for user "app"' in e["message"], e
    traced = [t for t in out["trace"] if t["id"] == "A"]
    assert 'password authentication failed' in traced[0]["error"]["message"], out
    for secret in (WRONG, PASSWORD, bad_dsn, pg.dsn):
        assert secret not in text, secret
    s = serve(d, "--debug", workers=1)
    st, hd, body = s.request("GET", "/user?uid=1")
    assert st == 502 and json.loads(body)["error"]["code"] == "DATASOURCE_ERROR", body
    st, hd, traced = s.request("GET", "/user?uid=1", headers={"X-Braid-Trace": "1"})
    assert st == 502 and b"password authentication failed" in traced, traced
    for secret in (WRONG, PASSWORD, bad_dsn):
        assert secret.encode() not in body and secret.encode() not in traced
    s.stop()
    with open(s.log) as f:
        log = f.read()
    assert log.strip(), "nothing logged"
    with open(s.stderr.name) as f:
        stderr = f.read()
    for secret in (WRONG, PASSWORD, bad_dsn):
        assert secret not in log and secret not in stderr


def test_a_server_that_is_not_there_is_DATASOURCE_ERROR_within_connect_timeout(service, pg):
    d = service({"datasources/app.json": {"type": "postgresql", "connect_timeout_ms": 500,
                                          "dsn": "host=127.0.0.1 port=%d dbname=app user=app password=%s"
                                                 % (free_port(), PASSWORD)},
                 "apis/get_user.json": GET_USER,
                 "workflows/user.json": one("get_user", {"id": 1})})
    t0 = time.monotonic()
    code, _, err = run_workflow(d, "user", {})
    e = error_of(err)
    assert code == 1 and e["code"] == "DATASOURCE_ERROR", e
    assert time.monotonic() - t0 < 2
    assert PASSWORD not in err


# ---- writes and read-only sessions --------------------------------------------------------

def test_writes_return_rows_and_affected_rows(pg_service, pg):
    d = pg_service({
        "apis/add.json": sql_api("INSERT INTO users(id, name, role) VALUES (:id, :name, 'user') RETURNING id, name",
                                 {"id": {"type": "int"}, "name": {"type": "string"}}, datasource="rw"),
        "apis/promote.json": sql_api("UPDATE users SET role = 'admin' WHERE id >= :id", {"id": {"type": "int"}},
                                     datasource="rw"),
        "apis/drop.json": sql_api("DELETE FROM users WHERE id >= :id RETURNING id", {"id": {"type": "int"}},
                                  datasource="rw"),
        "apis/notes.json": sql_api("INSERT INTO notes(body) SELECT 'n' || g FROM generate_series(1, :n) g",
                                   {"n": {"type": "int"}}, datasource="rw"),
        "workflows/add.json": one("add", {"id": "${START.id}", "name": "${START.name}"}),
        "workflows/promote.json": one("promote", {"id": "${START.id}"}),
        "workflows/drop.json": one("drop", {"id": "${START.id}"}),
        "workflows/notes.json": one("notes", {"n": "${START.n}"})})
    code, out, err = run_workflow(d, "add", {"id": 10, "name": "dave"})
    assert code == 0, err
    assert out == {"data": [{"id": 10, "name": "dave"}], "affected_rows": 1}
    code, out, err = run_workflow(d, "add", {"id": 10, "name": "again"})
    e = error_of(err)
    assert code == 1 and e["code"] == "DATASOURCE_ERROR", e
    assert "duplicate key value violates unique constraint" in e["message"], e
    assert run_workflow(d, "promote", {"id": 2})[:2] == (0, {"data": [], "affected_rows": 3})
    assert run_workflow(d, "promote", {"id": 99})[:2] == (0, {"data": [], "affected_rows": 0})
    assert run_workflow(d, "notes", {"n": 3})[:2] == (0, {"data": [], "affected_rows": 3})
    code, out, err = run_workflow(d, "drop", {"id": 10})
    assert code == 0, err
    assert out == {"data": [{"id": 10}], "affected_rows": 1}
    assert users(pg) == [["1", "alice", "admin"], ["2", "bob", "admin"], ["3", "carol", "admin"]]
    assert pg.sql("SELECT count(*) FROM notes", "app") == [["3"]]


def test_a_write_statement_on_a_read_only_source_is_a_load_error(pg_service):
    for sql in ("DELETE FROM users", "UPDATE users SET role = 'x'", "INSERT INTO notes(body) VALUES ('x')",
                "WITH x AS (INSERT INTO notes(body) VALUES ('cte') RETURNING id) SELECT id FROM x",
                "TRUNCATE users", "DROP TABLE users"):
        bad = pg_service({"apis/w.json": sql_api(sql)})
        code, out, err = check(bad)
        assert code == 1, sql
        assert "apis/w.json: " in err and "is read-only" in err, (sql, err)


def test_a_read_only_source_has_a_read_only_session(pg_service, pg):
    d = pg_service({
        "apis/ro.json": sql_api("SELECT current_setting('default_transaction_read_only') AS ro, "
                                "current_setting('transaction_read_only') AS tro"),
        "apis/rw_ro.json": sql_api("SELECT current_setting('transaction_read_only') AS tro", datasource="rw"),
        # Each looks like a read to the load-time check, but writes: the session refuses it.
        "apis/for_update.json": sql_api("SELECT id FROM users WHERE id = 1 FOR UPDATE"),
        "apis/fn.json": sql_api("SELECT bump() AS b"),
        "apis/seq.json": sql_api("SELECT nextval('counter') AS n"),
        "workflows/ro.json": one("ro"), "workflows/rw_ro.json": one("rw_ro"),
        "workflows/for_update.json": one("for_update"), "workflows/fn.json": one("fn"),
        "workflows/seq.json": one("seq")})
    assert run_workflow(d, "ro", {})[:2] == (0, {"data": [{"ro": "on", "tro": "on"}]})
    assert run_workflow(d, "rw_ro", {})[:2] == (0, {"data": [{"tro": "off"}]})
    for wf in ("for_update", "fn", "seq"):
        code, out, err = run_workflow(d, wf, {})
        e = error_of(err)
        assert code == 1 and e["code"] == "DATASOURCE_ERROR", (wf, e)
        assert "in a read-only transaction" in e["message"], (wf, e)
    assert users(pg) == USERS
    assert pg.sql("SELECT last_value, is_called FROM counter", "app") == [["1", "f"]]


def test_a_read_only_source_cannot_be_talked_into_writing(pg_service, pg):
    """A statement that turns the session's read-only default off, then writes on
    the same connection (pool 1, one after the other), and a data-changing CTE:
    either refused at load or by the server, and nothing changes."""
    d = pg_service({
        "apis/unlock.json": sql_api("SELECT set_config('default_transaction_read_only', 'off', false) AS v"),
        "apis/unlock_tx.json": sql_api("SELECT set_config('transaction_read_only', 'off', false) AS v"),
        "apis/fn.json": sql_api("SELECT bump() AS b"),
        "workflows/sneak.json": chain("unlock", "fn"),
        "workflows/sneak_tx.json": chain("unlock_tx", "fn")})
    code, out, err = check(d)
    if code == 0:
        for wf in ("sneak", "sneak_tx"):
            code, out, err = run_workflow(d, wf, {})
            assert (code, users(pg)) == (1, USERS), (wf, "the read-only source wrote", out)
            e = error_of(err)
            assert e["code"] == "DATASOURCE_ERROR", (wf, e)
    else:
        assert "apis/unlock" in err, err
    assert users(pg) == USERS
    cte = pg_service({
        "apis/cte.json": sql_api("WITH x AS (INSERT INTO notes(body) VALUES ('cte') RETURNING id) "
                                 "SELECT id FROM x"),
        "apis/cte_upd.json": sql_api("WITH x AS (UPDATE users SET role = 'x' RETURNING id) SELECT count(*) AS n "
                                     "FROM x"),
        "workflows/cte.json": one("cte"), "workflows/cte_upd.json": one("cte_upd")})
    code, out, err = check(cte)
    if code == 0:   # not seen at load: the server must refuse it
        for wf in ("cte", "cte_upd"):
            code, _, err = run_workflow(cte, wf, {})
            e = error_of(err)
            assert code == 1 and e["code"] == "DATASOURCE_ERROR" and "read-only transaction" in e["message"], e
    else:
        assert "is read-only" in err, err
    assert users(pg) == USERS
    assert pg.sql("SELECT count(*) FROM notes", "app") == [["0"]]


# ---- braid serve behind nginx -------------------------------------------------------------

@pytest.mark.parametrize("form", ["kv", "socket"])
def test_load_without_connection_leaks(pg_service, pg, serve, form):
    d = pg_service(ds={"pool": 2}, form=form)
    assert wait_gone(lambda: pg.app_connections() == 0, 5), pg.app_connections()
    s = serve(d, workers=2)
    peak = [0]
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            peak[0] = max(peak[0], pg.app_connections())
            time.sleep(0.05)
    w = threading.Thread(target=watch)
    w.start()
    try:
        def one_request(i):
            st, body, _ = s.json("GET", "/user?uid=%d" % (i % 3 + 1))
            return st == 200 and body["data"][0]["id"] == i % 3 + 1
        results = concurrently(one_request, range(200), threads=8)
    finally:
        stop.set()
        w.join()
    assert all(r is True for r in results), [r for r in results if r is not True][:3]
    assert 1 <= peak[0] <= 2 * 2, peak[0]
    assert 1 <= pg.app_connections() <= 2 * 2
    assert s.stop() == 0
    assert wait_gone(lambda: pg.app_connections() == 0, 5), pg.app_connections()


def test_recycled_workers_close_their_connections(pg_service, pg, serve):
    d = pg_service(ds={"pool": 2})
    assert wait_gone(lambda: pg.app_connections() == 0, 5), pg.app_connections()
    s = serve(d, "--max-requests", "5", workers=2)
    results = concurrently(lambda i: s.json("GET", "/user?uid=1")[0], range(60), threads=4)
    assert results == [200] * 60
    # Recycled workers took theirs with them: at most the live workers' pools remain.
    assert wait_gone(lambda: pg.app_connections() <= 2 * 2, 5), pg.app_connections()
    assert s.stop() == 0
    assert wait_gone(lambda: pg.app_connections() == 0, 5), pg.app_connections()


def test_the_database_going_away_and_coming_back(pg_service, pg, serve):
    d = pg_service({"apis/slow.json": sql_api("SELECT 1 AS one FROM pg_sleep(3)", timeout_ms=8000),
                    "workflows/slow.json": one("slow")})
    s = serve(d, workers=2)
    assert s.json("GET", "/user?uid=2")[0] == 200
    # A statement in flight when the server goes down.
    got = {}
    t = threading.Thread(target=lambda: got.update(r=s.json("GET", "/slow", timeout=20)))
    t.start()
    wait_for(lambda: pg.running("pg_sleep(3)"), 5, what="the slow query")
    t0 = time.monotonic()
    pg.stop()
    try:
        t.join(20)
        st, body, _ = got["r"]
        assert st == 502 and body["error"]["code"] == "DATASOURCE_ERROR", body
        assert time.monotonic() - t0 < 2.5
        st, body, _ = s.json("GET", "/user?uid=2")
        assert st == 502 and body["error"]["code"] == "DATASOURCE_ERROR", body
        assert PASSWORD not in json.dumps(body) and pg.dsn not in json.dumps(body)
    finally:
        pg.start()
    # The same braid serve, a new connection.
    st, body, _ = s.json("GET", "/user?uid=2")
    assert (st, body) == (200, {"data": [{"id": 2, "name": "bob", "role": "user"}]})
    # And a server restart between two requests is survived by the one reconnect.
    assert s.json("GET", "/user?uid=3")[0] == 200
    pg.stop()
    pg.start()
    st, body, _ = s.json("GET", "/user?uid=3")
    assert st == 200, body
    assert s.stop() == 0
    with open(s.stderr.name) as f, open(s.log) as g:
        logged = f.read() + g.read()
    assert PASSWORD not in logged and pg.dsn not in logged


# ---- the statement text, sessions and kept connections ---------------------------------------

def test_placeholders_in_strings_comments_and_casts(pg_service):
    sql = ("SELECT ':x' AS lit, $$:y$$ AS dollar, $q$ it's :z $q$ AS tagged, E'\\':w' AS esc, "
           "\"id\" AS \"col:v\", :id::int4 + 0 AS cast, :id::text AS txt /* :c */ FROM users "
           "WHERE id = :id -- :d")
    d = pg_service({"apis/t.json": sql_api(sql, {"id": {"type": "int"}}),
                    "workflows/t.json": one("t", {"id": 2})})
    assert check(d)[0] == 0, check(d)[2]
    code, out, err = run_workflow(d, "t", {})
    assert code == 0, err
    assert out == {"data": [{"lit": ":x", "dollar": ":y", "tagged": " it's :z ", "esc": "':w",
                             "col:v": 2, "cast": 2, "txt": "2"}]}


def test_more_than_one_statement_is_a_load_error(pg_service, pg):
    for sql in ("SELECT id FROM users WHERE id = :id; DROP TABLE users",
                "SELECT 1 AS one; SELECT 2 AS two"):
        bad = pg_service({"apis/get_user.json": sql_api(sql, {"id": {"type": "int"}} if ":id" in sql else None)})
        code, out, err = check(bad)
        assert code == 1 and "apis/get_user.json: sql: " in err, (sql, err)
    assert users(pg) == USERS


def test_duplicate_result_columns_are_found_by_check_connect(pg_service):
    bad = pg_service({"apis/dup.json": sql_api("SELECT id, name AS id FROM users")})
    code, out, err = check(bad, "--connect")
    assert code == 1 and "apis/dup.json: " in err, err


def test_a_kept_connection_killed_on_the_server_is_replaced_for_a_read(pg_service, pg, serve):
    d = pg_service()
    s = serve(d, workers=1)
    assert s.json("GET", "/user?uid=1")[0] == 200
    assert pg.app_connections() == 1
    pg.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'app'")
    assert wait_gone(lambda: pg.app_connections() == 0, 2)
    # The read finds its connection dead and runs once more on a new one.
    st, body, _ = s.json("GET", "/user?uid=2")
    assert (st, body) == (200, {"data": [{"id": 2, "name": "bob", "role": "user"}]})
    assert pg.app_connections() == 1


def test_a_write_on_a_killed_connection_runs_at_most_once(pg_service, pg, serve):
    d = pg_service({
        "apis/add.json": sql_api("INSERT INTO notes(body) VALUES (:body) RETURNING id",
                                 {"body": {"type": "string"}}, datasource="rw"),
        "workflows/add.json": one("add", {"body": "${START.body}"})})
    s = serve(d, workers=1)
    assert s.json("GET", "/add?body=first")[0] == 200
    pg.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'app'")
    assert wait_gone(lambda: pg.app_connections() == 0, 2)
    st, body, _ = s.json("GET", "/add?body=second")
    n = int(pg.sql("SELECT count(*) FROM notes WHERE body = 'second'", "app")[0][0])
    if st == 200:
        assert n == 1, body
    else:
        assert st == 502 and body["error"]["code"] == "DATASOURCE_ERROR" and n == 0, (body, n)
    # Either way the next write has a working connection.
    assert s.json("GET", "/add?body=third")[0] == 200
    assert pg.sql("SELECT count(*) FROM notes WHERE body = 'third'", "app") == [["1"]]


def test_a_failed_write_leaves_the_connection_usable(pg_service, pg, serve):
    d = pg_service({
        "apis/add.json": sql_api("INSERT INTO users(id, name) VALUES (:id, 'x') RETURNING id",
                                 {"id": {"type": "int"}}, datasource="rw"),
        "apis/who.json": sql_api("SELECT count(*) AS n FROM users", datasource="rw"),
        "workflows/add.json": one("add", {"id": "${START.id}"}),
        "workflows/who.json": one("who")})
    s = serve(d, workers=1)
    st, body, _ = s.json("GET", "/add?id=1")
    assert st == 502 and "duplicate key" in body["error"]["message"], body
    # Rolled back: not "current transaction is aborted" on the same connection.
    assert s.json("GET", "/who")[:2] == (200, {"data": [{"n": 3}]})
    assert s.json("GET", "/add?id=4")[:2] == (200, {"data": [{"id": 4}], "affected_rows": 1})
    assert pg.app_connections() == 1


def test_each_statement_gets_its_own_time_limit_on_one_connection(pg_service):
    # One connection (pool 1) runs them in turn: a short limit must not stay on the
    # session for the longer one after it, nor a write's local one.
    d = pg_service({
        "apis/short.json": sql_api("SELECT 1 AS one FROM pg_sleep(0.05)", timeout_ms=300),
        "apis/long.json": sql_api("SELECT 2 AS two FROM pg_sleep(0.5)", timeout_ms=3000),
        "apis/rw_long.json": sql_api("SELECT 3 AS three FROM pg_sleep(0.5)", datasource="rw", timeout_ms=3000),
        "apis/rw_w.json": sql_api("UPDATE users SET role = role WHERE id = 1", datasource="rw", timeout_ms=200),
        "workflows/s_l.json": chain("short", "long"),
        "workflows/w_l.json": chain("rw_w", "rw_long")})
    code, out, err = run_workflow(d, "s_l", {})
    assert (code, out) == (0, {"data": [{"two": 2}]}), err
    code, out, err = run_workflow(d, "w_l", {})
    assert (code, out) == (0, {"data": [{"three": 3}]}), err


def test_a_parallel_section_uses_up_to_pool_connections(pg_service, pg, serve):
    slow = sql_api("SELECT :n AS n FROM pg_sleep(0.1)", {"n": {"type": "int"}})
    wf = {"nodes": [{"id": k, "type": "api", "api": "slow", "params": {"n": i}} for i, k in enumerate("ABC")],
          "edges": [["START", k] for k in "ABC"] + [[k, "END"] for k in "ABC"],
          "result": {"n": ["${A.data[0].n}", "${B.data[0].n}", "${C.data[0].n}"]}}
    d = pg_service({"apis/slow.json": slow, "workflows/par.json": wf}, ds={"pool": 2})
    s = serve(d, workers=1)
    assert wait_gone(lambda: pg.app_connections() == 0, 5)
    for _ in range(3):
        assert s.json("GET", "/par")[:2] == (200, {"n": [0, 1, 2]})
    assert pg.app_connections() == 2


def test_times_intervals_infinities_and_extreme_params(pg_service):
    sql = ("SELECT '14:05:00'::time AS tm, '14:05:00+02'::timetz AS tmz, '1 day 02:00'::interval AS iv, "
           "'infinity'::timestamp AS inf, '-infinity'::float8 AS ninf, "
           "'2026-12-02 14:05:00.5-03:30'::timestamptz AS tz2, '{\"a\": 1}'::json #> '{a}' AS jp, "
           ":i AS i, :n AS n")
    d = pg_service({"apis/c.json": sql_api(sql, {"i": {"type": "int"}, "n": {"type": "number"}}),
                    "workflows/c.json": one("c", {"i": "${START.i}", "n": "${START.n}"})})
    fixed = {"tm": "14:05:00", "tmz": "14:05:00+02:00", "iv": "1 day 02:00:00", "inf": "infinity",
             "ninf": "-Infinity", "tz2": "2026-12-02T17:35:00.5+00:00", "jp": 1}
    for i, n in ((9223372036854775807, 1e300), (-9223372036854775808, 1.5e-300), (0, -0.5)):
        code, out, err = run_workflow(d, "c", {"i": i, "n": n})
        assert code == 0, err
        assert out == {"data": [dict(fixed, i=i, n=n)]}
