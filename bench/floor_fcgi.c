/* floor_fcgi.c — the floor bench/run.sh races: the seed workflow by hand.
 *
 * What a competent engineer would write for examples/seed's user_lookup
 * without an engine and without a sandbox: N processes (forked after one
 * FCGX_Init, like braid's workers and bench/hello_fcgi.c) share one
 * listening unix socket; each opens the seed's SQLite database read-only
 * with the SELECT prepared once, and embeds CPython (in the process, no
 * sandbox) with the seed's two functions compiled once into their own
 * modules.  Per request: uid from the query string, the SQL lookup
 * (apis/get_user.json), the switch on user_id (1 → admin_user, else
 * regular_user), the function's handler(event, None) with the row as JSON
 * text (braid's function contract), the result {user_id, name, role, vip}
 * serialised with json-c — the same bytes `braid serve` answers, with the
 * same head (Status, Content-Type, Content-Length, X-Request-Id).
 * Errors answer as braid would (400 BAD_REQUEST, 404, 405, 500
 * FUNCTION_ERROR, 502 DATASOURCE_ERROR), never crash the process.
 *
 * With FLOOR_API_URL set (bench/run.sh BENCH_SHAPE=http) the lookup is an
 * HTTP GET of that URL with the uid appended instead — libcurl, one easy
 * handle per process, so one kept connection — and the user is the
 * answer's $.data[0], as the workflow's output mapping reads it.
 *
 * Usage: build/bench/floor_fcgi SOCKET_PATH SEED_DIR [PROCESSES]  (default 2)
 * SIGTERM or SIGINT stops every process and removes the socket; a process
 * that ends otherwise is reported on stderr.  Without arguments it prints
 * its usage and exits 0 (`make bench` runs every bench program; this one is
 * only useful under bench/run.sh).  Its processes are named "bench-floor"
 * (comm, what ps -c and pkill see): a `pkill floor_fcgi` meant for another
 * session's copy on this shared machine once ended one mid-run.
 */
#include <Python.h>

#include <ctype.h>
#include <errno.h>
#include <curl/curl.h>
#include <fcgiapp.h>
#include <json-c/json.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/jsonutil.h"   /* brd_json_add/append: json-c adds that free on failure */

#define MAX_PROCS 256
#define ROUTE "/user_lookup"
#define SQL "SELECT id, name FROM users WHERE id = :id"
#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
    stop_signal = sig;
}

/* ---- one process's state: the statement and the two handlers -------------- */

struct floor {
    const char *api_url;        /* FLOOR_API_URL: the HTTP shape's users URL (uid appended), or NULL */
    CURL *curl;                 /* its one easy handle: connections kept alive */
    char *body;                 /* the last answer's bytes */
    size_t body_len, body_cap;
    sqlite3 *db;
    sqlite3_stmt *stmt;
    int id_index;               /* :id's bind index */
    PyObject *regular_user;     /* handler of functions/regular_user.py */
    PyObject *admin_user;       /* handler of functions/admin_user.py */
};

/* A failure's code and message, then answered as braid's error body. */
struct failure {
    int status;
    const char *code;
    const char *node;           /* the workflow node that failed, or NULL */
    char message[512];
};

static int fail(struct failure *f, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(struct failure *f, int status, const char *code, const char *fmt, ...)
{
    f->status = status;
    f->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->message, sizeof f->message, fmt, ap);
    va_end(ap);
    return -1;
}

/* The current Python exception as "[WHAT: ]Type: message" into f (and cleared). */
static int fail_python(struct failure *f, const char *what)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    const char *tname = type ? ((PyTypeObject *)type)->tp_name : "Exception";
    PyObject *s = value ? PyObject_Str(value) : NULL;
    const char *msg = s ? PyUnicode_AsUTF8(s) : NULL;
    if (!msg)
        PyErr_Clear();
    fail(f, 500, "FUNCTION_ERROR", "%s%s%s: %s", what ? what : "", what ? ": " : "", tname,
         msg ? msg : "(no message)");
    Py_XDECREF(s);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    return -1;
}

/* A whole file into a NUL-terminated malloc'd string, or NULL. */
static char *read_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0, n;
    char chunk[8192];
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0) {
        if (len + n + 1 > cap) {
            size_t ncap = (len + n + 1) * 2;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                fclose(fp);
                return NULL;
            }
            buf = nb;
            cap = ncap;
        }
        memcpy(buf + len, chunk, n);
        len += n;
    }
    bool bad = ferror(fp);
    fclose(fp);
    if (bad) {
        free(buf);
        return NULL;
    }
    if (!buf && !(buf = malloc(1)))
        return NULL;
    buf[len] = '\0';
    return buf;
}

/* SEED_DIR/functions/NAME.py compiled and run as module NAME; its handler
 * (a new reference) or NULL with a message in f. */
static PyObject *load_handler(const char *seed, const char *name, struct failure *f)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/functions/%s.py", seed, name);
    char *src = read_file(path);
    if (!src) {
        fail(f, 500, "INTERNAL", "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    PyObject *code = Py_CompileString(src, path, Py_file_input);
    free(src);
    if (!code)
        return fail_python(f, path), NULL;
    PyObject *mod = PyModule_New(name);   /* its own module dict */
    PyObject *dict = mod ? PyModule_GetDict(mod) : NULL;
    PyObject *ret = NULL, *handler = NULL;
    if (dict && PyDict_SetItemString(dict, "__builtins__", PyEval_GetBuiltins()) == 0 &&
        PyModule_AddStringConstant(mod, "__file__", path) == 0)
        ret = PyEval_EvalCode(code, dict, dict);
    if (ret) {
        handler = PyDict_GetItemString(dict, "handler");   /* borrowed */
        if (handler && PyCallable_Check(handler))
            Py_INCREF(handler);
        else {
            handler = NULL;
            fail(f, 500, "INTERNAL", "%s defines no callable handler", path);
        }
    } else {
        fail_python(f, path);
    }
    Py_XDECREF(ret);
    Py_XDECREF(mod);     /* the handler's __globals__ keeps the dict */
    Py_DECREF(code);
    return handler;
}

/* Opens the database and the interpreter; 0, or -1 with a message in f. */
static int floor_open(struct floor *fl, const char *seed, struct failure *f)
{
    memset(fl, 0, sizeof *fl);
    const char *url = getenv("FLOOR_API_URL");
    if (url && *url) {
        fl->api_url = url;
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || !(fl->curl = curl_easy_init()))
            return fail(f, 500, "INTERNAL", "libcurl cannot start");
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/data/users.db", seed);
    if (!fl->api_url && sqlite3_open_v2(path, &fl->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return fail(f, 500, "INTERNAL", "cannot open %s: %s", path,
                    fl->db ? sqlite3_errmsg(fl->db) : "out of memory");
    if (!fl->api_url && sqlite3_prepare_v3(fl->db, SQL, -1, SQLITE_PREPARE_PERSISTENT, &fl->stmt, NULL) != SQLITE_OK)
        return fail(f, 500, "INTERNAL", "cannot prepare the SELECT: %s", sqlite3_errmsg(fl->db));
    fl->id_index = fl->api_url ? -1 : sqlite3_bind_parameter_index(fl->stmt, ":id");
    if (fl->id_index == 0)
        return fail(f, 500, "INTERNAL", "the SELECT has no :id");

    Py_InitializeEx(0);   /* no signal handlers: SIGTERM simply ends the process */
    fl->regular_user = load_handler(seed, "regular_user", f);
    if (!fl->regular_user)
        return -1;
    fl->admin_user = load_handler(seed, "admin_user", f);
    return fl->admin_user ? 0 : -1;
}

/* ---- the request ---------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The first value of KEY in a query string, percent-decoded into out
 * (truncated to outsz - 1); false when the key is absent. */
static bool query_value(const char *q, const char *key, char *out, size_t outsz)
{
    size_t klen = strlen(key);
    while (q && *q) {
        size_t plen = strcspn(q, "&;");
        if (plen >= klen && strncmp(q, key, klen) == 0 && (plen == klen || q[klen] == '=')) {
            const char *v = q + klen + (plen > klen), *e = q + plen;
            size_t n = 0;
            while (v < e && n + 1 < outsz) {
                int hi, lo;
                if (*v == '+') {
                    out[n++] = ' ';
                    v++;
                } else if (*v == '%' && e - v >= 3 && (hi = hexval(v[1])) >= 0 && (lo = hexval(v[2])) >= 0) {
                    out[n++] = (char)(hi * 16 + lo);
                    v += 3;
                } else {
                    out[n++] = *v++;
                }
            }
            out[n] = '\0';
            return true;
        }
        q += plen;
        if (*q)
            q++;
    }
    return false;
}

/* uid from the query string, as the workflow's params declare it
 * ({"type": "int", "required": true}). */
static int parse_uid(const char *query, int64_t *uid, struct failure *f)
{
    char v[256];
    if (!query_value(query, "uid", v, sizeof v))
        return fail(f, 400, "BAD_REQUEST", "missing required parameter 'uid'");
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (!v[0] || *end || errno || v[0] == ' ' || v[0] == '+' || v[0] == '\t') {
        struct json_object *s = json_object_new_string(v);
        fail(f, 400, "BAD_REQUEST", "parameter 'uid': expected int, got %s",
             s ? json_object_to_json_string_ext(s, JSON_FLAGS) : "?");
        json_object_put(s);
        return -1;
    }
    *uid = n;
    return 0;
}

/* A SQLite column as JSON (NULL → null); false when out of memory. */
static bool column_json(sqlite3_stmt *st, int i, struct json_object **out)
{
    *out = NULL;
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER: *out = json_object_new_int64(sqlite3_column_int64(st, i)); break;
    case SQLITE_FLOAT: *out = json_object_new_double(sqlite3_column_double(st, i)); break;
    case SQLITE_NULL: return true;
    default:
        *out = json_object_new_string_len((const char *)sqlite3_column_text(st, i),
                                          sqlite3_column_bytes(st, i));
    }
    return *out != NULL;
}

/* Adds v under key (always consumed: freed on failure); false when out of memory. */
static bool add(struct json_object *o, const char *key, struct json_object *v)
{
    return brd_json_add(o, key, v) == 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *user)
{
    struct floor *fl = user;
    size_t k = size * n;
    if (fl->body_len + k + 1 > fl->body_cap) {
        size_t cap = (fl->body_len + k + 1) * 2;
        char *b = realloc(fl->body, cap);
        if (!b)
            return 0; /* curl reports a write error */
        fl->body = b;
        fl->body_cap = cap;
    }
    memcpy(fl->body + fl->body_len, p, k);
    fl->body_len += k;
    fl->body[fl->body_len] = '\0';
    return k;
}

/* The HTTP shape's API node: GET FLOOR_API_URL + uid on the kept
 * connection, the answer's $.data[0].id and .name, as the SQL node's. */
static int lookup_http(struct floor *fl, int64_t uid, struct json_object **row, struct failure *f)
{
    char url[4200];
    snprintf(url, sizeof url, "%s%lld", fl->api_url, (long long)uid);
    fl->body_len = 0;
    curl_easy_setopt(fl->curl, CURLOPT_URL, url);
    curl_easy_setopt(fl->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(fl->curl, CURLOPT_WRITEDATA, fl);
    curl_easy_setopt(fl->curl, CURLOPT_TIMEOUT_MS, 1000L);
    curl_easy_setopt(fl->curl, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(fl->curl);
    long status = 0;
    curl_easy_getinfo(fl->curl, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK || status < 200 || status > 299)
        return fail(f, 502, "API_ERROR", "GET %s: %s (status %ld)", url,
                    rc != CURLE_OK ? curl_easy_strerror(rc) : "not 2xx", status);
    struct json_object *doc = json_tokener_parse(fl->body_len ? fl->body : "");
    struct json_object *data = NULL, *first = NULL, *id = NULL, *name = NULL;
    if (!doc)
        return fail(f, 502, "API_ERROR", "GET %s: the answer is not JSON", url);
    if (json_object_object_get_ex(doc, "data", &data) && json_object_is_type(data, json_type_array) &&
        (first = json_object_array_get_idx(data, 0)) != NULL) {
        json_object_object_get_ex(first, "id", &id);
        json_object_object_get_ex(first, "name", &name);
    }
    struct json_object *o = json_object_new_object();
    bool ok = o && add(o, "user_id", json_object_get(id)) && add(o, "name", json_object_get(name));
    json_object_put(doc);
    if (!ok) {
        json_object_put(o);
        return fail(f, 500, "INTERNAL", "out of memory");
    }
    *row = o;
    return 0;
}

/* The SQL node: {"user_id": id, "name": name} of the row (nulls when there
 * is none, as the workflow's $.data[0].id gives), a new object. */
static int lookup(struct floor *fl, int64_t uid, struct json_object **row, struct failure *f)
{
    *row = NULL;
    if (fl->api_url)
        return lookup_http(fl, uid, row, f);
    struct json_object *o = json_object_new_object();
    if (!o)
        return fail(f, 500, "INTERNAL", "out of memory");
    int rc = sqlite3_bind_int64(fl->stmt, fl->id_index, uid);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(fl->stmt);
    struct json_object *id = NULL, *name = NULL;
    bool ok = true;
    if (rc == SQLITE_ROW)
        ok = column_json(fl->stmt, 0, &id) && column_json(fl->stmt, 1, &name);
    else if (rc != SQLITE_DONE)
        fail(f, 502, "DATASOURCE_ERROR", "SQLite: %s", sqlite3_errmsg(fl->db));
    sqlite3_reset(fl->stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        json_object_put(o);
        return -1;
    }
    if (!ok || !add(o, "user_id", id) || !add(o, "name", name)) {
        if (!ok) {
            json_object_put(id);
            json_object_put(name);
        }
        json_object_put(o);
        return fail(f, 500, "INTERNAL", "out of memory");
    }
    *row = o;
    return 0;
}

/* A Python value the handler returned as JSON (a new object; *out NULL is
 * JSON null); -1 with a message for what JSON cannot hold. */
static int py_to_json(PyObject *v, struct json_object **out, int depth, struct failure *f)
{
    *out = NULL;
    if (depth > 64)
        return fail(f, 500, "FUNCTION_ERROR", "the result nests too deep");
    if (v == Py_None)
        return 0;
    if (PyBool_Check(v))
        *out = json_object_new_boolean(v == Py_True);
    else if (PyLong_Check(v)) {
        int overflow;
        long long n = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (overflow || (n == -1 && PyErr_Occurred())) {
            PyErr_Clear();
            return fail(f, 500, "FUNCTION_ERROR", "the result holds an int out of the 64-bit range");
        }
        *out = json_object_new_int64(n);
    } else if (PyFloat_Check(v))
        *out = json_object_new_double(PyFloat_AS_DOUBLE(v));
    else if (PyUnicode_Check(v)) {
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(v, &n);
        if (!s)
            return fail_python(f, "the result");
        *out = json_object_new_string_len(s, (int)n);
    } else if (PyDict_Check(v)) {
        if (!(*out = json_object_new_object()))
            return fail(f, 500, "INTERNAL", "out of memory");
        PyObject *k, *item;
        Py_ssize_t pos = 0;
        while (PyDict_Next(v, &pos, &k, &item)) {
            const char *key = PyUnicode_Check(k) ? PyUnicode_AsUTF8(k) : NULL;
            struct json_object *j;
            if (!key) {
                PyErr_Clear();
                json_object_put(*out);
                *out = NULL;
                return fail(f, 500, "FUNCTION_ERROR", "the result has a key that is not a str");
            }
            if (py_to_json(item, &j, depth + 1, f) != 0 || !add(*out, key, j)) {
                json_object_put(*out);
                *out = NULL;
                return f->code ? -1 : fail(f, 500, "INTERNAL", "out of memory");
            }
        }
        return 0;
    } else if (PyList_Check(v) || PyTuple_Check(v)) {
        if (!(*out = json_object_new_array()))
            return fail(f, 500, "INTERNAL", "out of memory");
        Py_ssize_t n = PySequence_Fast_GET_SIZE(v);
        for (Py_ssize_t i = 0; i < n; i++) {
            struct json_object *j;
            if (py_to_json(PySequence_Fast_GET_ITEM(v, i), &j, depth + 1, f) != 0 ||
                brd_json_append(*out, j) != 0) {
                json_object_put(*out);
                *out = NULL;
                return f->code ? -1 : fail(f, 500, "INTERNAL", "out of memory");
            }
        }
        return 0;
    } else {
        return fail(f, 500, "FUNCTION_ERROR", "the result holds a %s, which JSON cannot hold",
                    Py_TYPE(v)->tp_name);
    }
    return *out ? 0 : fail(f, 500, "INTERNAL", "out of memory");
}

/* The function node: handler(event, None) with event the row as JSON text;
 * its dict back as a new PyObject. */
static int call_function(PyObject *handler, struct json_object *row, PyObject **res, struct failure *f)
{
    size_t len;
    const char *text = json_object_to_json_string_length(row, JSON_FLAGS, &len);
    if (!text)
        return fail(f, 500, "INTERNAL", "out of memory");
    PyObject *event = PyUnicode_FromStringAndSize(text, (Py_ssize_t)len);
    if (!event)
        return fail_python(f, "the event");
    *res = PyObject_CallFunctionObjArgs(handler, event, Py_None, NULL);
    Py_DECREF(event);
    if (!*res)
        return fail_python(f, NULL);   /* braid's message: "ValueError: boom" */
    if (!PyDict_Check(*res)) {
        fail(f, 500, "FUNCTION_ERROR", "handler returned a %s, not a dict", Py_TYPE(*res)->tp_name);
        Py_CLEAR(*res);
        return -1;
    }
    return 0;
}

/* result.KEY = the handler's dict[KEY] (null when absent). */
static int take(struct json_object *result, PyObject *dict, const char *key, struct failure *f)
{
    PyObject *v = PyDict_GetItemString(dict, key);   /* borrowed */
    struct json_object *j = NULL;
    if (v && py_to_json(v, &j, 0, f) != 0)
        return -1;
    return add(result, key, j) ? 0 : fail(f, 500, "INTERNAL", "out of memory");
}

/* The workflow: the result object (a new reference) or -1 with f filled. */
static int run_workflow(struct floor *fl, const char *query, struct json_object **result,
                        struct failure *f)
{
    *result = NULL;
    int64_t uid = 0;
    struct json_object *row;
    if (parse_uid(query, &uid, f) != 0)
        return -1;
    if (lookup(fl, uid, &row, f) != 0) {
        f->node = "API1";
        return -1;
    }
    struct json_object *uid_v = json_object_object_get(row, "user_id");   /* borrowed */
    bool admin = uid_v && json_object_is_type(uid_v, json_type_int) && json_object_get_int64(uid_v) == 1;
    PyObject *out;
    if (call_function(admin ? fl->admin_user : fl->regular_user, row, &out, f) != 0) {
        f->node = admin ? "PYTHON2" : "PYTHON1";
        json_object_put(row);
        return -1;
    }
    struct json_object *r = json_object_new_object();
    int rc = r ? 0 : fail(f, 500, "INTERNAL", "out of memory");
    if (rc == 0 && !add(r, "user_id", json_object_get(uid_v)))
        rc = fail(f, 500, "INTERNAL", "out of memory");
    if (rc == 0)
        rc = take(r, out, "name", f);
    if (rc == 0)
        rc = take(r, out, "role", f);
    if (rc == 0)
        rc = take(r, out, "vip", f);
    Py_DECREF(out);
    json_object_put(row);
    if (rc != 0) {
        f->node = admin ? "PYTHON2" : "PYTHON1";
        json_object_put(r);
        return -1;
    }
    *result = r;
    return 0;
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    default: return "Error";
    }
}

static void respond(FCGX_Request *req, int status, const char *request_id, const char *allow,
                    const char *body, size_t len)
{
    char head[512];
    int n = snprintf(head, sizeof head,
                     "Status: %d %s\r\n"
                     "Content-Type: application/json; charset=utf-8\r\n"
                     "Content-Length: %zu\r\n"
                     "X-Request-Id: %s\r\n"
                     "%s%s%s"
                     "\r\n",
                     status, reason(status), len, request_id, allow ? "Allow: " : "",
                     allow ? allow : "", allow ? "\r\n" : "");
    FCGX_PutStr(head, n, req->out);
    FCGX_PutStr(body, (int)len, req->out);
}

/* braid's error body: {"error": {"code", "message", "node", "request_id"}}. */
static void respond_failure(FCGX_Request *req, const struct failure *f, const char *request_id,
                            const char *allow)
{
    const char *node = f->node;
    struct json_object *e = json_object_new_object(), *body = json_object_new_object();
    if (e && body && add(e, "code", json_object_new_string(f->code)) &&
        add(e, "message", json_object_new_string(f->message)) &&
        add(e, "node", node ? json_object_new_string(node) : NULL) &&
        add(e, "request_id", json_object_new_string(request_id)) && add(body, "error", e)) {
        size_t len;
        const char *text = json_object_to_json_string_length(body, JSON_FLAGS, &len);
        if (text) {
            respond(req, f->status, request_id, allow, text, len);
            json_object_put(body);
            return;
        }
        e = NULL;   /* body owns it */
    }
    json_object_put(e);
    json_object_put(body);
    static const char oom[] = "{\"error\":{\"code\":\"INTERNAL\",\"message\":\"out of memory\"}}";
    respond(req, 500, request_id, NULL, oom, sizeof oom - 1);
}

/* X-Request-Id: the client's when sane (as braid takes it), else 32 random hex digits. */
static void request_id(FCGX_Request *req, char id[65])
{
    const char *given = FCGX_GetParam("HTTP_X_REQUEST_ID", req->envp);
    size_t n = 0;
    if (given) {
        while (n < 64 && given[n] && (isalnum((unsigned char)given[n]) || strchr("._:-", given[n])))
            n++;
        if (n >= 1 && n < 64 && !given[n]) {
            memcpy(id, given, n + 1);
            return;
        }
    }
    unsigned char raw[16];
    if (getrandom(raw, sizeof raw, GRND_NONBLOCK) != (ssize_t)sizeof raw) {
        uint64_t a = (uint64_t)time(NULL), b = (uint64_t)(uintptr_t)id ^ (uint64_t)clock();
        memcpy(raw, &a, 8);
        memcpy(raw + 8, &b, 8);
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof raw; i++) {
        id[2 * i] = hex[raw[i] >> 4];
        id[2 * i + 1] = hex[raw[i] & 15];
    }
    id[32] = '\0';
}

static void handle(struct floor *fl, FCGX_Request *req)
{
    char id[65];
    request_id(req, id);
    const char *method = FCGX_GetParam("REQUEST_METHOD", req->envp);
    const char *uri = FCGX_GetParam("REQUEST_URI", req->envp);
    const char *query = FCGX_GetParam("QUERY_STRING", req->envp);
    size_t plen = uri ? strcspn(uri, "?#") : 0;
    struct failure f = {0};
    if (!uri || plen != strlen(ROUTE) || strncmp(uri, ROUTE, plen) != 0) {
        fail(&f, 404, "NOT_FOUND", "no workflow is served at %.*s", (int)(plen < 200 ? plen : 200),
             uri ? uri : "");
        respond_failure(req, &f, id, NULL);
        return;
    }
    if (!method || (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)) {
        fail(&f, 405, "METHOD_NOT_ALLOWED", "%s is not allowed on " ROUTE " (allowed: GET, POST)",
             method ? method : "?");
        respond_failure(req, &f, id, "GET, POST");
        return;
    }
    struct json_object *result;
    if (run_workflow(fl, query ? query : "", &result, &f) != 0) {
        respond_failure(req, &f, id, NULL);
        return;
    }
    size_t len;
    const char *text = json_object_to_json_string_length(result, JSON_FLAGS, &len);
    if (text)
        respond(req, 200, id, NULL, text, len);
    else {
        fail(&f, 500, "INTERNAL", "out of memory");
        respond_failure(req, &f, id, NULL);
    }
    json_object_put(result);
}

/* One process's accept loop: never returns. */
static void serve(int fd, const char *seed)
{
    struct floor fl;
    struct failure f = {0};
    if (floor_open(&fl, seed, &f) != 0) {
        fprintf(stderr, "floor_fcgi: %s\n", f.message);
        _exit(1);
    }
    FCGX_Request req;
    if (FCGX_InitRequest(&req, fd, 0) != 0)
        _exit(1);
    while (FCGX_Accept_r(&req) >= 0) {
        handle(&fl, &req);
        FCGX_Finish_r(&req);
    }
    _exit(0);
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        printf("floor_fcgi: the seed workflow by hand (C, SQLite, Python in-process, no sandbox),\n"
               "the floor of bench/run.sh (make bench-http);\n"
               "usage: %s SOCKET_PATH SEED_DIR [PROCESSES]\n"
               "FLOOR_API_URL=http://HOST:PORT/users/ fetches the user there (uid appended,\n"
               "libcurl, one kept connection) instead of SQLite: the HTTP shape.\n", argv[0]);
        return 0;
    }
    const char *path = argv[1], *seed = argv[2];
    int nprocs = argc == 4 ? atoi(argv[3]) : 2;
    if (nprocs < 1 || nprocs > MAX_PROCS) {
        fprintf(stderr, "floor_fcgi: PROCESSES must be 1..%d\n", MAX_PROCS);
        return 2;
    }

    (void)prctl(PR_SET_NAME, "bench-floor", 0, 0, 0);   /* inherited by the children */
    if (FCGX_Init() != 0) {
        fprintf(stderr, "floor_fcgi: FCGX_Init failed\n");
        return 1;
    }
    unlink(path);
    int fd = FCGX_OpenSocket(path, 1024);
    if (fd < 0) {
        fprintf(stderr, "floor_fcgi: cannot listen on %s\n", path);
        return 1;
    }
    chmod(path, 0666);

    /* The parent's handlers are installed before forking but the children
     * restore the defaults: SIGTERM simply ends a child. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    pid_t pids[MAX_PROCS];
    for (int i = 0; i < nprocs; i++) {
        pids[i] = fork();
        if (pids[i] < 0) {
            perror("floor_fcgi: fork");
            nprocs = i;
            stop_signal = SIGTERM;
            break;
        }
        if (pids[i] == 0) {
            signal(SIGTERM, SIG_DFL);
            signal(SIGINT, SIG_DFL);
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (getppid() == 1)
                _exit(0);
            serve(fd, seed);
        }
    }

    /* Wait for a stop signal (or for every child to be gone). */
    int alive = nprocs;
    while (!stop_signal && alive > 0) {
        int st;
        pid_t p = wait(&st);
        if (p > 0) {
            alive--;
            if (WIFSIGNALED(st))
                fprintf(stderr, "floor_fcgi: process %d ended by signal %d\n", (int)p, WTERMSIG(st));
            else
                fprintf(stderr, "floor_fcgi: process %d exited with status %d\n", (int)p, WEXITSTATUS(st));
        } else if (errno == ECHILD) {
            break;
        }
    }
    for (int i = 0; i < nprocs; i++)
        kill(pids[i], SIGTERM);
    while (wait(NULL) > 0 || errno == EINTR)
        ;
    unlink(path);
    return 0;
}
