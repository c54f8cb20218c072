/* pyfn.c — loading a function: settings, compiling the source (never running
 * it), the handler check; and the sandbox's one-time initialisation. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <marshal.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "jsonutil.h"
#include "file.h"
#include "name.h"
#include "sandbox.h"

struct brd_sbx_global brd_sbx_g;

/* ---- CPython ---------------------------------------------------------------- */

int brd_pyfn_py_init(struct brd_error *err)
{
    if (Py_IsInitialized())
        return 0;
    /* Isolated: no environment variables, no site, no user directory, no
     * current directory on sys.path, no bytecode files written. */
    PyConfig config;
    PyConfig_InitIsolatedConfig(&config);
    config.site_import = 0;
    config.write_bytecode = 0;
    config.install_signal_handlers = 0;
    config.parse_argv = 0;
    config.pathconfig_warnings = 0;
    PyStatus st = PyConfig_SetString(&config, &config.program_name, L"braid");
    if (!PyStatus_Exception(st))
        st = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(st))
        return brd_error_set(err, BRD_E_INTERNAL, "cannot initialise Python: %s",
                             st.err_msg ? st.err_msg : "unknown error");
    return 0;
}

int brd_sandbox_init(const struct brd_sandbox_options *opt, struct brd_error *err)
{
    if (brd_sbx_g.inited)
        return 0;
    const char *layers = getenv("BRAID_SANDBOX_LAYERS");
    if (!layers || !*layers || strcmp(layers, "all") == 0)
        brd_sbx_g.layers = BRD_SANDBOX_ALL;
    else if (strcmp(layers, "seccomp-only") == 0)
        brd_sbx_g.layers = BRD_SANDBOX_SECCOMP_ONLY;
    else
        return brd_error_set(err, BRD_E_USAGE,
                             "BRAID_SANDBOX_LAYERS must be 'all' or 'seccomp-only', not '%s'",
                             layers);
    if (brd_privs_configure(&brd_sbx_g.privs, err) != 0)
        return -1;
    brd_sbx_g.result_max = opt && opt->result_max ? opt->result_max : 1024 * 1024;
    brd_sbx_g.output_max = opt && opt->output_max ? opt->output_max : 64 * 1024;
    brd_sbx_g.traceback_max = opt && opt->traceback_max ? opt->traceback_max : 16 * 1024;
    if (brd_policy_compile(&brd_sbx_g.bpf, &brd_sbx_g.bpf_len, err) != 0)
        return -1;
    if (brd_pyfn_py_init(err) != 0) {
        free(brd_sbx_g.bpf);
        brd_sbx_g.bpf = NULL;
        return -1;
    }
    brd_sbx_g.inited = true;
    return 0;
}

void brd_sandbox_after_fork(void)
{
    if (Py_IsInitialized())
        PyOS_AfterFork_Child();
}

enum brd_sandbox_layers brd_sandbox_layers(void)
{
    return brd_sbx_g.layers;
}

/* ---- settings ------------------------------------------------------------------ */

void brd_pyfn_settings_default(struct brd_pyfn_settings *s)
{
    s->timeout_ms = 1000;
    s->memory_mb = 128;
    s->isolation = BRD_PYFN_WARM;
    s->max_calls = 1000;
}

/* 1-based line of the first `"key"` in text (where a reader will look). */
static int key_line(const char *text, size_t len, const char *key)
{
    size_t klen = strlen(key);
    for (size_t i = 0; i + klen + 2 <= len; i++) {
        if (text[i] == '"' && memcmp(text + i + 1, key, klen) == 0 && text[i + 1 + klen] == '"') {
            int line = 1;
            for (size_t j = 0; j < i; j++)
                line += text[j] == '\n';
            return line;
        }
    }
    return 1;
}

static int int_setting(struct json_object *v, const char *text, size_t len, const char *path,
                       const char *key, long lo, long hi, int *out, struct brd_error *err)
{
    if (!v || !json_object_is_type(v, json_type_int))
        return brd_error_set(err, BRD_E_LOAD, "%s:%d: \"%s\" must be an integer from %ld to %ld",
                             path, key_line(text, len, key), key, lo, hi);
    int64_t n = json_object_get_int64(v);
    if (n < lo || n > hi)
        return brd_error_set(err, BRD_E_LOAD, "%s:%d: \"%s\" is %lld; it must be from %ld to %ld",
                             path, key_line(text, len, key), key, (long long)n, lo, hi);
    *out = (int)n;
    return 0;
}

int brd_pyfn_settings_parse(const char *text, size_t len, const char *path,
                            struct brd_pyfn_settings *out, struct brd_error *err)
{
    brd_pyfn_settings_default(out);
    struct json_object *obj;
    struct brd_error scratch;
    if (!err)
        err = &scratch;
    if (brd_json_parse(text, len, &obj, err) != 0) {
        int line = 1;
        for (long i = 0; i < err->pos && (size_t)i < len; i++)
            line += text[i] == '\n';
        brd_error_prefix(err, "%s:%d", path, line);
        err->code = BRD_E_LOAD;
        return -1;
    }
    int rc = 0;
    if (!json_object_is_type(obj, json_type_object)) {
        rc = brd_error_set(err, BRD_E_LOAD,
                           "%s:1: settings must be a JSON object like "
                           "{\"timeout_ms\": 1000, \"memory_mb\": 128, \"isolation\": \"warm\", "
                           "\"max_calls\": 1000}",
                           path);
        goto done;
    }
    json_object_object_foreach(obj, key, v) {
        if (strcmp(key, "timeout_ms") == 0)
            rc = int_setting(v, text, len, path, key, 1, 600000, &out->timeout_ms, err);
        else if (strcmp(key, "memory_mb") == 0)
            rc = int_setting(v, text, len, path, key, 8, 65536, &out->memory_mb, err);
        else if (strcmp(key, "max_calls") == 0)
            rc = int_setting(v, text, len, path, key, 1, 1000000000, &out->max_calls, err);
        else if (strcmp(key, "isolation") == 0) {
            const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
            if (s && strcmp(s, "warm") == 0)
                out->isolation = BRD_PYFN_WARM;
            else if (s && strcmp(s, "call") == 0)
                out->isolation = BRD_PYFN_CALL;
            else
                rc = brd_error_set(err, BRD_E_LOAD,
                                   "%s:%d: \"isolation\" must be \"warm\" or \"call\"", path,
                                   key_line(text, len, key));
        } else {
            rc = brd_error_set(err, BRD_E_LOAD,
                               "%s:%d: unknown setting \"%.64s\" (known: timeout_ms, memory_mb, "
                               "isolation, max_calls)",
                               path, key_line(text, len, key), key);
        }
        if (rc != 0)
            break;
    }
done:
    json_object_put(obj);
    return rc;
}

/* ---- compiling ------------------------------------------------------------------ */

static char *dupn(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* Turns the pending Python exception (from compile) into a load error. */
static int compile_error(const char *path, struct brd_error *err)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    long line = 1, col = 0;
    const char *tname = type ? ((PyTypeObject *)type)->tp_name : "Error";
    char msg[300] = "";
    if (value) {
        PyObject *o = PyObject_GetAttrString(value, "lineno");
        if (o && PyLong_Check(o))
            line = PyLong_AsLong(o);
        Py_XDECREF(o);
        o = PyObject_GetAttrString(value, "offset");
        if (o && PyLong_Check(o))
            col = PyLong_AsLong(o);
        Py_XDECREF(o);
        o = PyObject_GetAttrString(value, "msg");
        if (!o || !PyUnicode_Check(o)) {
            Py_XDECREF(o);
            PyErr_Clear();
            o = PyObject_Str(value);
        }
        const char *s = o ? PyUnicode_AsUTF8(o) : NULL;
        snprintf(msg, sizeof msg, "%s", s ? s : "invalid source");
        Py_XDECREF(o);
    }
    PyErr_Clear();
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    if (line < 1)
        line = 1;
    if (col > 0)
        return brd_error_set(err, BRD_E_LOAD, "%s:%ld:%ld: %s: %s", path, line, col, tname, msg);
    return brd_error_set(err, BRD_E_LOAD, "%s:%ld: %s: %s", path, line, tname, msg);
}

static long attr_long(PyObject *o, const char *name)
{
    PyObject *v = PyObject_GetAttrString(o, name);
    long n = v && PyLong_Check(v) ? PyLong_AsLong(v) : 0;
    Py_XDECREF(v);
    PyErr_Clear();
    return n;
}

static Py_ssize_t attr_len(PyObject *o, const char *name)
{
    PyObject *v = PyObject_GetAttrString(o, name);
    Py_ssize_t n = v && PyList_Check(v) ? PyList_GET_SIZE(v) : 0;
    Py_XDECREF(v);
    PyErr_Clear();
    return n;
}

static bool attr_is(PyObject *o, const char *name, const char *want)
{
    PyObject *v = PyObject_GetAttrString(o, name);
    bool is = v && PyUnicode_Check(v) && PyUnicode_CompareWithASCIIString(v, want) == 0;
    Py_XDECREF(v);
    PyErr_Clear();
    return is;
}

static bool node_is(PyObject *node, const char *type)
{
    return strcmp(Py_TYPE(node)->tp_name, type) == 0;
}

/* Does an assignment target bind `handler`? */
static bool target_binds(PyObject *t)
{
    if (node_is(t, "Name"))
        return attr_is(t, "id", "handler");
    if (node_is(t, "Tuple") || node_is(t, "List")) {
        PyObject *elts = PyObject_GetAttrString(t, "elts");
        bool found = false;
        for (Py_ssize_t i = 0; elts && PyList_Check(elts) && i < PyList_GET_SIZE(elts); i++)
            found = found || target_binds(PyList_GET_ITEM(elts, i));
        Py_XDECREF(elts);
        PyErr_Clear();
        return found;
    }
    return false;
}

/* Walks a statement list (and the bodies of compound statements) for the
 * last binding of `handler`; stores a new reference to it in *found. */
static void find_handler(PyObject *stmts, PyObject **found)
{
    if (!stmts || !PyList_Check(stmts))
        return;
    static const char *bodies[] = {"body", "orelse", "finalbody", "handlers"};
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(stmts); i++) {
        PyObject *s = PyList_GET_ITEM(stmts, i);
        bool binds = false;
        if (node_is(s, "FunctionDef") || node_is(s, "AsyncFunctionDef") || node_is(s, "ClassDef"))
            binds = attr_is(s, "name", "handler");
        else if (node_is(s, "Assign")) {
            PyObject *ts = PyObject_GetAttrString(s, "targets");
            for (Py_ssize_t j = 0; ts && PyList_Check(ts) && j < PyList_GET_SIZE(ts); j++)
                binds = binds || target_binds(PyList_GET_ITEM(ts, j));
            Py_XDECREF(ts);
        } else if (node_is(s, "AnnAssign")) {
            PyObject *t = PyObject_GetAttrString(s, "target");
            PyObject *v = PyObject_GetAttrString(s, "value");
            binds = t && v && v != Py_None && target_binds(t);
            Py_XDECREF(t);
            Py_XDECREF(v);
        } else if (node_is(s, "ImportFrom") || node_is(s, "Import")) {
            PyObject *names = PyObject_GetAttrString(s, "names");
            for (Py_ssize_t j = 0; names && PyList_Check(names) && j < PyList_GET_SIZE(names); j++) {
                PyObject *a = PyList_GET_ITEM(names, j);
                PyObject *as = PyObject_GetAttrString(a, "asname");
                binds = binds || (as && as != Py_None ? attr_is(a, "asname", "handler")
                                                     : attr_is(a, "name", "handler"));
                Py_XDECREF(as);
            }
            Py_XDECREF(names);
        }
        PyErr_Clear();
        if (binds) {
            Py_XDECREF(*found);
            Py_INCREF(s);
            *found = s;
        }
        if (node_is(s, "If") || node_is(s, "Try") || node_is(s, "TryStar") || node_is(s, "With") ||
            node_is(s, "ExceptHandler")) {
            for (size_t b = 0; b < sizeof bodies / sizeof bodies[0]; b++) {
                PyObject *body = PyObject_GetAttrString(s, bodies[b]);
                PyErr_Clear();
                find_handler(body, found);
                Py_XDECREF(body);
            }
        }
    }
}

/* The handler check on the AST: a top-level binding of `handler`, and a
 * `def` that can be called as handler(event, context). */
static int check_handler(PyObject *module, const char *path, struct brd_error *err)
{
    PyObject *body = PyObject_GetAttrString(module, "body");
    PyObject *found = NULL;
    PyErr_Clear();
    find_handler(body, &found);
    Py_XDECREF(body);
    if (!found)
        return brd_error_set(err, BRD_E_LOAD,
                             "%s:1: no handler: define `def handler(event, context):` at the "
                             "top level",
                             path);
    long line = attr_long(found, "lineno");
    int rc = 0;
    if (node_is(found, "AsyncFunctionDef"))
        rc = brd_error_set(err, BRD_E_LOAD, "%s:%ld: handler must be a plain `def`, not `async def`",
                           path, line);
    else if (node_is(found, "FunctionDef")) {
        PyObject *a = PyObject_GetAttrString(found, "args");
        if (a) {
            Py_ssize_t npos = attr_len(a, "posonlyargs") + attr_len(a, "args");
            Py_ssize_t required = npos - attr_len(a, "defaults");
            PyObject *va = PyObject_GetAttrString(a, "vararg");
            bool var = va && va != Py_None;
            Py_XDECREF(va);
            Py_ssize_t kwreq = 0;
            PyObject *kwd = PyObject_GetAttrString(a, "kw_defaults");
            for (Py_ssize_t i = 0; kwd && PyList_Check(kwd) && i < PyList_GET_SIZE(kwd); i++)
                kwreq += PyList_GET_ITEM(kwd, i) == Py_None;
            Py_XDECREF(kwd);
            PyErr_Clear();
            if (required > 2 || (npos < 2 && !var) || kwreq > 0)
                rc = brd_error_set(err, BRD_E_LOAD,
                                   "%s:%ld: handler must accept two arguments: "
                                   "def handler(event, context)",
                                   path, line);
            Py_DECREF(a);
        }
        PyErr_Clear();
    }
    Py_DECREF(found);
    return rc;
}

int brd_pyfn_compile(const char *name, const char *path, const char *src, size_t len,
                     const struct brd_pyfn_settings *settings, struct brd_pyfn **out,
                     struct brd_error *err)
{
    *out = NULL;
    if (!brd_sbx_g.inited)
        return brd_error_set(err, BRD_E_INTERNAL, "brd_sandbox_init has not been called");
    const char *nul = memchr(src, '\0', len);
    if (nul) {
        int line = 1;
        for (const char *p = src; p < nul; p++)
            line += *p == '\n';
        return brd_error_set(err, BRD_E_LOAD, "%s:%d: SyntaxError: source contains a NUL byte",
                             path, line);
    }
    struct brd_pyfn *fn = calloc(1, sizeof *fn);
    if (!fn)
        return brd_error_nomem(err);
    if (settings)
        fn->settings = *settings;
    else
        brd_pyfn_settings_default(&fn->settings);
    fn->name = strdup(name);
    fn->source = dupn(src, len);
    fn->source_len = len;
    size_t flen = strlen(name) + sizeof "functions/.py";
    fn->filename = malloc(flen);
    if (!fn->name || !fn->source || !fn->filename) {
        brd_pyfn_free(fn);
        return brd_error_nomem(err);
    }
    snprintf(fn->filename, flen, "functions/%s.py", name);
    fn->modname = strdup(name);
    if (!fn->modname) {
        brd_pyfn_free(fn);
        return brd_error_nomem(err);
    }

    PyCompilerFlags flags = _PyCompilerFlags_INIT;
    PyObject *code = Py_CompileStringExFlags(fn->source, fn->filename, Py_file_input, &flags, -1);
    if (!code) {
        brd_pyfn_free(fn);
        return compile_error(path, err);
    }
    PyCompilerFlags astflags = _PyCompilerFlags_INIT;
    astflags.cf_flags = PyCF_ONLY_AST;
    PyObject *ast = Py_CompileStringExFlags(fn->source, fn->filename, Py_file_input, &astflags, -1);
    if (!ast || check_handler(ast, path, err) != 0) {
        if (!ast)
            compile_error(path, err);
        Py_XDECREF(ast);
        Py_DECREF(code);
        brd_pyfn_free(fn);
        return -1;
    }
    Py_DECREF(ast);
    PyObject *bytes = PyMarshal_WriteObjectToString(code, Py_MARSHAL_VERSION);
    Py_DECREF(code);
    if (!bytes) {
        PyErr_Clear();
        brd_pyfn_free(fn);
        return brd_error_set(err, BRD_E_INTERNAL, "%s: cannot serialise the compiled code", path);
    }
    fn->code_len = (size_t)PyBytes_GET_SIZE(bytes);
    fn->code = dupn(PyBytes_AS_STRING(bytes), fn->code_len);
    Py_DECREF(bytes);
    if (!fn->code) {
        brd_pyfn_free(fn);
        return brd_error_nomem(err);
    }
    *out = fn;
    return 0;
}

/* Reads a whole file (at most 64 MiB); 1 when it does not exist. */
static int read_all(const char *path, char **buf, size_t *len, struct brd_error *err)
{
    if (brd_file_read(path, (size_t)64 << 20, buf, len, err) == 0)
        return 0;
    if (err && err->pos == ENOENT)
        return 1;
    if (err) {
        err->code = BRD_E_LOAD;
        err->pos = -1;
    }
    return brd_error_prefix(err, "%s", path);
}

int brd_pyfn_load(const char *dir, const char *name, struct brd_pyfn **out,
                  struct brd_error *err)
{
    *out = NULL;
    if (!brd_valid_name(name))
        return brd_error_set(err, BRD_E_LOAD,
                             "invalid function name '%.80s': names match [A-Za-z0-9_-]{1,64}", name);
    char path[PATH_MAX], jpath[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/functions/%s.py", dir, name) >= (int)sizeof path ||
        snprintf(jpath, sizeof jpath, "%s/functions/%s.json", dir, name) >= (int)sizeof jpath)
        return brd_error_set(err, BRD_E_LOAD, "%s: path too long", dir);
    struct brd_pyfn_settings settings;
    char *text;
    size_t len;
    int rc = read_all(jpath, &text, &len, err);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        rc = brd_pyfn_settings_parse(text, len, jpath, &settings, err);
        free(text);
        if (rc != 0)
            return -1;
    } else {
        brd_pyfn_settings_default(&settings);
    }
    rc = read_all(path, &text, &len, err);
    if (rc < 0)
        return -1;
    if (rc == 1)
        return brd_error_set(err, BRD_E_LOAD, "%s: unknown function '%s' (no such file)", path, name);
    rc = brd_pyfn_compile(name, path, text, len, &settings, out, err);
    free(text);
    return rc;
}

void brd_pyfn_free(struct brd_pyfn *fn)
{
    if (!fn)
        return;
    free(fn->name);
    free(fn->modname);
    free(fn->filename);
    free(fn->source);
    free(fn->code);
    free(fn);
}

const char *brd_pyfn_name(const struct brd_pyfn *fn)
{
    return fn->name;
}

const struct brd_pyfn_settings *brd_pyfn_get_settings(const struct brd_pyfn *fn)
{
    return &fn->settings;
}
