"""MySQL/MariaDB data sources (SPEC section 2b) against a real MariaDB 10.11
started for this module (mariadbserver.py): type mapping, bound parameters
against injection, max_rows, server-side timeouts that really stop the
query, errors without the password, the server going away and coming back
under the same `braid serve`, parallel statements, `braid check --connect`,
writes with RETURNING, read-only sessions, and connections counted on the
server under load behind nginx."""
import json
import os
import threading
import time

import pytest

from conftest import concurrently, error_of, run, run_workflow, wait_for
import mariadbserver
from mariadbserver import PASSWORD, MariaDB, wait_gone

if mariadbserver.available():
    pytest.skip(mariadbserver.available(), allow_module_level=True)

SCHEMA = """
CREATE TABLE users(id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, role VARCHAR(20));
INSERT INTO users VALUES (1, 'alice', 'admin'), (2, 'bob', 'user'), (3, 'carol', 'user');
CREATE TABLE notes(id INT AUTO_INCREMENT PRIMARY KEY, body MEDIUMTEXT);
CREATE TABLE types(
  id INT PRIMARY KEY, flag BOOLEAN, tiny TINYINT, small SMALLINT, big BIGINT,
  ubig BIGINT UNSIGNED, fl FLOAT, dbl DOUBLE, dec_exact DECIMAL(10,2), dec_long DECIMAL(30,10),
  d DATE, dt DATETIME, dt6 DATETIME(6), ts TIMESTAMP NULL, tm TIME, yr YEAR, js JSON,
  bl BLOB, vb VARBINARY(10), bits BIT(12), txt TEXT, ch CHAR(3), en ENUM('a','b'));
INSERT INTO types VALUES (
  1, TRUE, -5, 300, -9000000000000000000, 18446744073709551615, 1.5, 0.1, 12.50,
  12345678901234567890.1234567891, '2026-12-02', '2026-12-02 14:05:00', '2026-12-02 14:05:00.123456',
  '2026-12-02 14:05:00', '-838:59:59', 2026, '{"tags": ["a", "b"], "n": 1}', x'00ff10', x'0102', b'101000000001',
  'h\u00e9llo \u20ac', 'abc', 'b');
INSERT INTO types(id) VALUES (2);
"""

EXPECTED_TYPES = [
    {"id": 1, "flag": True, "tiny": -5, "small": 300, "big": -9000000000000000000,
     "ubig": "18446744073709551615", "fl": 1.5, "dbl": 0.1, "dec_exact": 12.5,
     "dec_long": "12345678901234567890.1234567891", "d": "2026-12-02", "dt": "2026-12-02T14:05:00",
     "dt6": "2026-12-02T14:05:00.123456", "ts": "2026-12-02T14:05:00", "tm": "-838:59:59", "yr": 2026,
     "js": {"tags": ["a", "b"], "n": 1}, "bl": "AP8Q", "vb": "AQI=", "bits": 2561,
     "txt": "h\u00e9llo \u20ac", "ch": "abc", "en": "b"},
    {"id": 2, "flag": None, "tiny": None, "small": None, "big": None, "ubig": None, "fl": None, "dbl": None,
     "dec_exact": None, "dec_long": None, "d": None, "dt": None, "dt6": None, "ts": None, "tm": None,
     "yr": None, "js": None, "bl": None, "vb": None, "bits": None, "txt": None, "ch": None, "en": None},
]


@pytest.fixture(scope="module")
def maria():
    m = MariaDB()
    os.environ["APP_DB_PASSWORD"] = PASSWORD
    m.sql(SCHEMA, "app")
    yield m
    m.close()


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


def source(maria, tcp=False, **extra):
    ds = {"type": "mysql", "user": "app", "password": "${env.APP_DB_PASSWORD}", "database": "app"}
    if tcp:
        ds.update(host="127.0.0.1", port=maria.port)
    else:
        ds["socket"] = maria.socket
    ds.update(extra)
    return ds


GET_USER = sql_api("SELECT id, name, role FROM users WHERE id = :id", {"id": {"type": "int", "required": True}})


@pytest.fixture
def my_service(service, maria):
    """my_service(extra files, tcp=False, ds={extra source fields}) → a service directory
    with source `app` (read-only) and `rw` (write: true) on the module's MariaDB."""
    def make(extra=None, tcp=False, ds=None):
        files = {
            "datasources/app.json": source(maria, tcp, **(ds or {})),
            "datasources/rw.json": source(maria, tcp, write=True),
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


# ---- load and check -------------------------------------------------------------------

LOAD_ERRORS = [
    ("host and socket", {"type": "mysql", "host": "127.0.0.1", "socket": "/s", "user": "app"},
     "give exactly one of host"),
    ("neither", {"type": "mysql", "user": "app"}, "give exactly one of host"),
    ("port with socket", {"type": "mysql", "socket": "/s", "port": 3306, "user": "app"}, "port: only with host"),
    ("bad port", {"type": "mysql", "host": "127.0.0.1", "port": 0, "user": "app"}, "port: must be a whole number"),
    ("no user", {"type": "mysql", "host": "127.0.0.1"}, "user: missing"),
    ("unknown field", {"type": "mysql", "host": "127.0.0.1", "user": "app", "dsn": "x"}, 'unknown field "dsn"'),
    ("bad timeout", {"type": "mysql", "host": "127.0.0.1", "user": "app", "connect_timeout_ms": "2s"},
     "connect_timeout_ms: must be a whole number"),
    ("unset env", {"type": "mysql", "host": "127.0.0.1", "user": "app", "password": "${env.BRD_MY_NOPE}"},
     "environment variable BRD_MY_NOPE is not set"),
]


@pytest.mark.parametrize("name,ds,message", LOAD_ERRORS, ids=[c[0] for c in LOAD_ERRORS])
def test_load_errors_name_the_file(service, name, ds, message):
    d = service({"datasources/app.json": ds, "apis/get_user.json": GET_USER})
    code, out, err = check(d)
    assert code == 1, out
    assert "datasources/app.json: " in err and message in err, err


def test_check_connect_finds_an_unknown_column_and_passes_a_good_dir(my_service):
    good = my_service()
    assert check(good)[0] == 0
    code, out, err = check(good, "--connect")
    assert code == 0, err
    bad = my_service({"apis/get_user.json": sql_api("SELECT nope FROM users WHERE id = :id", {"id": {}})})
    assert check(bad)[0] == 0   # no server contact without --connect
    code, out, err = check(bad, "--connect")
    assert code == 1
    assert "apis/get_user.json: sql: on data source app: Unknown column 'nope'" in err, err
    assert PASSWORD not in out + err


def test_check_connect_with_a_wrong_password_says_so_without_it(my_service):
    d = my_service(ds={"password": "wrong-" + PASSWORD})
    code, out, err = check(d, "--connect")
    assert code == 1
    assert "Access denied for user 'app'" in err, err
    assert PASSWORD not in out + err


# ---- values -----------------------------------------------------------------------------

@pytest.mark.parametrize("tcp", [False, True], ids=["socket", "tcp"])
def test_every_type_maps_to_json(my_service, tcp):
    d = my_service({"apis/types.json": sql_api("SELECT * FROM types ORDER BY id"), "workflows/types.json":
                    one("types")}, tcp=tcp)
    code, out, err = run_workflow(d, "types", {})
    assert code == 0, err
    assert out == {"data": EXPECTED_TYPES}
    assert list(out["data"][0]) == list(EXPECTED_TYPES[0])   # select order


def test_computed_values_and_decimals_both_ways(my_service):
    sql = ("SELECT 1 = 1 AS t, CAST(7 AS UNSIGNED) AS u, CAST(2.25 AS DECIMAL(6,3)) AS exact, "
           "CAST(0.1 AS DECIMAL(20,19)) AS tenth, CAST('1.0000000000000000001' AS DECIMAL(30,19)) AS long_dec, "
           "NULL AS nothing, JSON_OBJECT('k', :v) AS js, :v AS echo")
    d = my_service({"apis/c.json": sql_api(sql, {"v": {"type": "string"}}), "workflows/c.json": one(
        "c", {"v": "x"})})
    code, out, err = run_workflow(d, "c", {})
    assert code == 0, err
    row = out["data"][0]
    assert row["t"] == 1 and row["u"] == 7
    assert row["exact"] == 2.25 and row["tenth"] == 0.1
    assert row["long_dec"] == "1.0000000000000000001"
    assert row["nothing"] is None and row["echo"] == "x"
    # MariaDB marks what JSON functions give as json in the extended metadata.
    assert row["js"] == {"k": "x"}


# ---- parameters ---------------------------------------------------------------------------

def test_missing_required_param_is_PARAM_MISSING(my_service):
    d = my_service({"workflows/raw.json": one("get_user")})
    code, _, err = run_workflow(d, "raw", {})
    e = error_of(err)
    assert code == 1 and e["code"] == "PARAM_MISSING" and e["node"] == "A"


def test_every_param_type_is_bound(my_service):
    sql = ("SELECT :i AS i, :n AS n, :b AS b, :s AS s, :o AS o, :a AS a, :z AS z, "
           "LENGTH(:s) AS s_len")
    params = {"i": {"type": "int"}, "n": {"type": "number"}, "b": {"type": "bool"}, "s": {"type": "string"},
              "o": {"type": "object"}, "a": {"type": "array"}, "z": {"type": "string"}}
    d = my_service({"apis/p.json": sql_api(sql, params), "workflows/p.json": one(
        "p", {k: "${START.%s}" % k for k in params})})
    code, out, err = run_workflow(d, "p", {"i": -42, "n": 2.5, "b": True, "s": "a\u00e9", "o": {"k": [1]},
                                          "a": [1, "x"]})
    assert code == 0, err
    row = out["data"][0]
    assert row["i"] == -42 and row["n"] == 2.5 and row["b"] == 1
    assert row["s"] == "a\u00e9" and row["s_len"] == 3
    assert json.loads(row["o"]) == {"k": [1]} and json.loads(row["a"]) == [1, "x"]
    assert row["z"] is None


def test_injection_attempts_select_only_what_the_value_selects(my_service, maria, tmp_path):
    d = my_service({
        "apis/by_name.json": sql_api("SELECT id FROM users WHERE name = :name", {"name": {"type": "string"}}),
        "apis/by_id.json": sql_api("SELECT id FROM users WHERE id = :id", {"id": {"type": "int"}}),
        "apis/by_score.json": sql_api("SELECT id FROM users WHERE id = :x", {"x": {"type": "number"}}),
        "workflows/by_name.json": one("by_name", {"name": "${START.name}"}),
        "workflows/by_id.json": one("by_id", {"id": "${START.id}"}),
        "workflows/by_score.json": one("by_score", {"x": "${START.x}"})})
    for attempt in ["1 OR 1=1", "' OR '1'='1", "'; DROP TABLE users; --", "alice\x00' OR 1=1 --",
                    "alice' -- ", "\\'; DROP TABLE users; #"]:
        code, out, err = run_workflow(d, "by_name", {"name": attempt})
        assert (code, out) == (0, {"data": []}), err[:300]
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"name": "'; DROP TABLE users; --" + "x" * (1 << 20)}))
    code, out, err = run_workflow(d, "by_name", None, "--input", "@" + str(big))
    assert (code, out) == (0, {"data": []}), err[:300]
    for wf, bad in (("by_id", {"id": "1 OR 1=1"}), ("by_score", {"x": "1; DROP TABLE users"})):
        code, _, err = run_workflow(d, wf, bad)
        assert code == 1 and error_of(err)["code"] == "BAD_REQUEST", err
    assert run_workflow(d, "by_name", {"name": "bob"})[:2] == (0, {"data": [{"id": 2}]})
    assert run_workflow(d, "by_id", {"id": 3})[:2] == (0, {"data": [{"id": 3}]})
    assert maria.sql("SELECT COUNT(*) FROM users", "app") == [["3"]]


def test_nul_bytes_and_a_1mb_string_are_stored_exactly(my_service, maria, tmp_path):
    d = my_service({
        "apis/add.json": sql_api("INSERT INTO notes(body) VALUES (:body) RETURNING id, LENGTH(body) AS n, "
                                 "HEX(LEFT(body, 3)) AS head", {"body": {"type": "string", "required": True}},
                                 datasource="rw"),
        "workflows/add.json": one("add", {"body": "${START.body}"})})
    code, out, err = run_workflow(d, "add", {"body": "a\x00b"})
    assert code == 0, err
    assert out["data"][0]["n"] == 3 and out["data"][0]["head"] == "610062"
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"body": "'\x00" + "y" * (1 << 20)}))
    code, out, err = run_workflow(d, "add", None, "--input", "@" + str(big))
    assert code == 0, err[:300]
    assert out["data"][0]["n"] == (1 << 20) + 2 and out["affected_rows"] == 1
    maria.sql("DELETE FROM notes", "app")


# ---- errors, limits, timeouts -----------------------------------------------------------------

def test_max_rows_exceeded_is_DATASOURCE_ERROR(my_service):
    d = my_service({"apis/many.json": sql_api("SELECT id FROM users", max_rows=2), "workflows/many.json":
                    one("many")})
    code, _, err = run_workflow(d, "many", {})
    e = error_of(err)
    assert code == 1 and e["code"] == "DATASOURCE_ERROR" and "more than max_rows=2" in e["message"]


def test_unknown_table_names_the_server_message(my_service):
    d = my_service({"apis/nope.json": sql_api("SELECT x FROM no_such_table"), "workflows/nope.json": one("nope")})
    code, _, err = run_workflow(d, "nope", {})
    e = error_of(err)
    assert code == 1 and e["code"] == "DATASOURCE_ERROR", e
    assert "Table 'app.no_such_table' doesn't exist" in e["message"], e


def test_timeout_stops_the_query_on_the_server(my_service, maria):
    d = my_service({"apis/sleepy.json": sql_api("SELECT SLEEP(5) AS s", timeout_ms=300),
                    "workflows/sleepy.json": one("sleepy")})
    t0 = time.monotonic()
    code, _, err = run_workflow(d, "sleepy", {})
    took = time.monotonic() - t0
    e = error_of(err)
    assert code == 1 and e["code"] == "DATASOURCE_TIMEOUT", e
    assert "timeout_ms=300" in e["message"]
    assert took < 1.5, took
    assert wait_gone(lambda: not maria.running("SLEEP(5)"), 2), maria.running("SLEEP")


def test_the_server_side_limit_stops_a_read_when_braid_is_gone(my_service, maria):
    import signal
    import subprocess
    from conftest import BRAID
    d = my_service({"apis/sleepy.json": sql_api("SELECT SLEEP(7) AS s", timeout_ms=1000),
                    "workflows/sleepy.json": one("sleepy")})
    p = subprocess.Popen([BRAID, "run", d, "sleepy"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: maria.running("SLEEP(7)"), 5, what="the query on the server")
        # Written into the prepared text: the limit travels with the statement.
        assert "max_statement_time=1.000" in maria.running("SLEEP(7)")[0][0]
    finally:
        p.send_signal(signal.SIGKILL)   # no KILL QUERY from braid now
        p.wait()
    t0 = time.monotonic()
    assert wait_gone(lambda: not maria.running("SLEEP(7)"), 3), maria.running("SLEEP")
    assert time.monotonic() - t0 < 1.5


@pytest.mark.parametrize("tcp", [False, True], ids=["socket", "tcp"])
def test_timeout_under_serve_kills_the_query_and_the_worker_goes_on(my_service, maria, serve, tcp):
    # The KILL QUERY connection is opened from a worker, under its seccomp policy.
    d = my_service({"apis/sleepy.json": sql_api("SELECT SLEEP(5) AS s", timeout_ms=300),
                    "workflows/sleepy.json": one("sleepy")}, tcp=tcp)
    s = serve(d, workers=1)
    t0 = time.monotonic()
    st, body, _ = s.json("GET", "/sleepy")
    took = time.monotonic() - t0
    assert st == 504 and body["error"]["code"] == "DATASOURCE_TIMEOUT", body
    assert took < 1.5, took
    # Braid is still running here: the server-side query must be gone by itself.
    assert wait_gone(lambda: not maria.running("SLEEP(5)"), 2), maria.running("SLEEP")
    st, body, _ = s.json("GET", "/user?uid=1")
    assert (st, body) == (200, {"data": [{"id": 1, "name": "alice", "role": "admin"}]})


def test_the_workflow_deadline_shrinks_the_statement_budget(my_service, maria):
    import subprocess
    from conftest import BRAID
    # timeout_ms (and so the server-side limit) is 10 s: only braid's KILL QUERY
    # at the workflow's 400 ms deadline can stop the query this early.
    d = my_service({"apis/sleepy.json": sql_api("SELECT SLEEP(3) AS s", timeout_ms=10000),
                    "workflows/sleepy.json": one("sleepy", timeout_ms=400)})
    t0 = time.monotonic()
    p = subprocess.Popen([BRAID, "run", d, "sleepy"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = wait_gone(lambda: maria.running("SLEEP(3)"), 2)
    _, err = p.communicate(timeout=10)
    took = time.monotonic() - t0
    assert seen, "the query never showed on the server"
    e = error_of(err)
    assert p.returncode == 1 and e["code"] == "TIMEOUT", e
    assert "workflow's deadline" in e["message"]
    assert took < 1.5, took
    assert wait_gone(lambda: not maria.running("SLEEP(3)"), 1), maria.running("SLEEP")


def test_a_write_stopped_or_over_max_rows_changes_nothing(my_service, maria):
    d = my_service({
        "apis/slow_rename.json": sql_api("UPDATE users SET name = CONCAT(name, SLEEP(2)) WHERE id = :id",
                                         {"id": {"type": "int"}}, datasource="rw", timeout_ms=300),
        "apis/drop_all.json": sql_api("DELETE FROM users WHERE id >= :id RETURNING id", {"id": {"type": "int"}},
                                      datasource="rw", max_rows=1),
        "workflows/slow_rename.json": one("slow_rename", {"id": 1}),
        "workflows/drop_all.json": one("drop_all", {"id": 2})})
    code, _, err = run_workflow(d, "slow_rename", {})
    e = error_of(err)
    assert code == 1 and e["code"] == "DATASOURCE_TIMEOUT" and "nothing was changed" in e["message"], e
    code, _, err = run_workflow(d, "drop_all", {})
    e = error_of(err)
    assert code == 1 and e["code"] == "DATASOURCE_ERROR" and "more than max_rows=1" in e["message"], e
    # The server rolls back what the dropped connections left open.
    assert wait_gone(lambda: maria.sql("SELECT name FROM users ORDER BY id", "app") ==
                     [["alice"], ["bob"], ["carol"]], 5), maria.sql("SELECT name FROM users", "app")


def test_two_slow_queries_overlap_on_a_pool_of_two(my_service):
    slow = sql_api("SELECT SLEEP(0.3) AS s, :n AS n", {"n": {"type": "int"}})
    wf = {"nodes": [{"id": "A", "type": "api", "api": "slow", "params": {"n": 1}},
                    {"id": "B", "type": "api", "api": "slow", "params": {"n": 2}}],
          "edges": [["START", "A"], ["START", "B"], ["A", "END"], ["B", "END"]],
          "result": {"a": "${A.data[0].n}", "b": "${B.data[0].n}"}}
    d = my_service({"apis/slow.json": slow, "workflows/par.json": wf}, ds={"pool": 2})
    code, out, err = run_workflow(d, "par", {}, "--trace", "--json")
    assert code == 0, err
    assert out["result"] == {"a": 1, "b": 2}
    nodes = {t["id"]: t for t in out["trace"] if t["id"] in ("A", "B")}
    first = min(t["start_us"] for t in nodes.values())
    last = max(t["start_us"] + t["duration_us"] for t in nodes.values())
    assert all(t["duration_us"] >= 290000 for t in nodes.values()), nodes
    # Both 0.3 s statements (connecting included) within ~one of them: they overlapped.
    assert last - first < 500000, nodes


def test_wrong_password_is_a_clear_error_without_the_password(my_service, serve):
    wrong = "Wr0ng-" + PASSWORD
    d = my_service(ds={"password": wrong})
    code, out, err = run_workflow(d, "user", {"uid": 1}, "--trace", "--json")
    assert code == 1
    text = json.dumps(out) + err
    assert "Access denied for user 'app'" in text, text
    assert wrong not in text and PASSWORD not in text
    s = serve(d, workers=1)
    st, hd, body = s.request("GET", "/user?uid=1")
    assert st == 502 and json.loads(body)["error"]["code"] == "DATASOURCE_ERROR"
    assert wrong.encode() not in body
    s.stop()
    with open(s.log) as f:
        log = f.read()
    assert wrong not in log and PASSWORD not in log
    with open(s.stderr.name) as f:
        assert wrong not in f.read()


# ---- writes and read-only sessions --------------------------------------------------------

def test_writes_return_rows_and_affected_rows(my_service, maria):
    d = my_service({
        "apis/add.json": sql_api("INSERT INTO users(id, name, role) VALUES (:id, :name, 'user') RETURNING id, name",
                                 {"id": {"type": "int"}, "name": {"type": "string"}}, datasource="rw"),
        "apis/promote.json": sql_api("UPDATE users SET role = 'admin' WHERE id >= :id", {"id": {"type": "int"}},
                                     datasource="rw"),
        "apis/drop.json": sql_api("DELETE FROM users WHERE id >= :id RETURNING id", {"id": {"type": "int"}},
                                  datasource="rw"),
        "workflows/add.json": one("add", {"id": "${START.id}", "name": "${START.name}"}),
        "workflows/promote.json": one("promote", {"id": "${START.id}"}),
        "workflows/drop.json": one("drop", {"id": "${START.id}"})})
    code, out, err = run_workflow(d, "add", {"id": 10, "name": "dave"})
    assert code == 0, err
    assert out == {"data": [{"id": 10, "name": "dave"}], "affected_rows": 1}
    code, out, err = run_workflow(d, "add", {"id": 10, "name": "again"})
    e = error_of(err)
    assert code == 1 and e["code"] == "DATASOURCE_ERROR" and "Duplicate entry" in e["message"], e
    assert run_workflow(d, "promote", {"id": 10})[1] == {"data": [], "affected_rows": 1}
    code, out, err = run_workflow(d, "drop", {"id": 10})
    assert code == 0, err
    assert out == {"data": [{"id": 10}], "affected_rows": 1}
    assert maria.sql("SELECT COUNT(*) FROM users", "app") == [["3"]]


def test_a_read_only_source_has_a_read_only_session(my_service, maria):
    d = my_service({
        "apis/ro.json": sql_api("SELECT @@session.tx_read_only AS ro"),
        "apis/rw_ro.json": sql_api("SELECT @@session.tx_read_only AS ro", datasource="rw"),
        # Looks like a read to the load-time check, but takes write locks: the
        # session itself refuses it.
        "apis/sneaky.json": sql_api("SELECT id FROM users WHERE id = 1 FOR UPDATE"),
        "workflows/ro.json": one("ro"), "workflows/rw_ro.json": one("rw_ro"),
        "workflows/sneaky.json": one("sneaky")})
    assert run_workflow(d, "ro", {})[1] == {"data": [{"ro": 1}]}
    assert run_workflow(d, "rw_ro", {})[1] == {"data": [{"ro": 0}]}
    code, out, err = run_workflow(d, "sneaky", {})
    e = error_of(err)
    assert code == 1 and e["code"] == "DATASOURCE_ERROR" and "READ ONLY transaction" in e["message"], e
    bad = my_service({"apis/w.json": sql_api("DELETE FROM users")})
    code, out, err = check(bad)
    assert code == 1 and "is read-only" in err


# ---- braid serve behind nginx -------------------------------------------------------------

@pytest.mark.parametrize("tcp", [False, True], ids=["socket", "tcp"])
def test_load_without_connection_leaks(my_service, maria, serve, tcp):
    d = my_service(ds={"pool": 2}, tcp=tcp)
    assert wait_gone(lambda: maria.app_connections() == 0, 5)
    s = serve(d, workers=2)
    peak = [0]
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            peak[0] = max(peak[0], maria.app_connections())
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
    assert s.stop() == 0
    assert wait_gone(lambda: maria.app_connections() == 0, 5), maria.app_connections()


def test_recycled_workers_close_their_connections(my_service, maria, serve):
    d = my_service(ds={"pool": 2})
    assert wait_gone(lambda: maria.app_connections() == 0, 5)
    s = serve(d, "--max-requests", "5", workers=2)
    results = concurrently(lambda i: s.json("GET", "/user?uid=1")[0], range(60), threads=4)
    assert results == [200] * 60
    # Recycled workers took theirs with them: at most the live workers' pools remain.
    assert wait_gone(lambda: maria.app_connections() <= 2 * 2, 5), maria.app_connections()
    assert s.stop() == 0
    assert wait_gone(lambda: maria.app_connections() == 0, 5), maria.app_connections()


def test_the_database_going_away_and_coming_back(my_service, maria, serve):
    d = my_service({"apis/slow.json": sql_api("SELECT SLEEP(3) AS s", timeout_ms=8000),
                    "workflows/slow.json": one("slow")})
    s = serve(d, workers=2)
    assert s.json("GET", "/user?uid=2")[0] == 200
    # A statement in flight when the server goes down.
    got = {}
    t = threading.Thread(target=lambda: got.update(r=s.json("GET", "/slow", timeout=20)))
    t.start()
    wait_for(lambda: maria.running("SLEEP(3)"), 5, what="the slow query")
    t0 = time.monotonic()
    maria.stop()
    try:
        t.join(20)
        st, body, _ = got["r"]
        assert st == 502 and body["error"]["code"] == "DATASOURCE_ERROR", body
        assert time.monotonic() - t0 < 2.5
        st, body, _ = s.json("GET", "/user?uid=2")
        assert st == 502 and body["error"]["code"] == "DATASOURCE_ERROR", body
        assert PASSWORD not in json.dumps(body)
    finally:
        maria.start()
    # The same braid serve, a new connection.
    st, body, _ = s.json("GET", "/user?uid=2")
    assert (st, body) == (200, {"data": [{"id": 2, "name": "bob", "role": "user"}]})
    # And a server restart between two requests is survived by the one reconnect.
    assert s.json("GET", "/user?uid=3")[0] == 200
    maria.stop()
    maria.start()
    st, body, _ = s.json("GET", "/user?uid=3")
    assert st == 200, body
    assert wait_for(lambda: True)
