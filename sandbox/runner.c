/* runner.c — the Python inside the sandbox: the zygote's warm-up, and the
 * life of one sandboxed process (import policy, trimmed builtins, audit
 * hook, print capture, the seccomp seal, the call loop on its socket). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h>
#include <marshal.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* What user code may import (SPEC §3).  Their own internals are already
 * loaded by the warm-up and keep working. */
static const char *const allowed[] = {"json", "time", "random", "pickle", "re", "math"};
#define ALLOWED_LIST "json, time, random, pickle, re, math"

/* Modules that C code inside the allowed modules imports by name through
 * the caller's __import__ (PyImport_Import): `time.strptime` → _strptime,
 * pickle → builtins, copyreg, _codecs and the function's own module.  For
 * them the policy answers None: PyImport_Import then takes the module from
 * sys.modules itself, while `import builtins` in user code binds None and
 * hands out nothing. */
static const char *const quiet[] = {"_strptime", "builtins", "copyreg", "_codecs"};

static enum brd_sandbox_layers g_layers;
static PyObject *g_encoder;       /* json.JSONEncoder(ensure_ascii=False, allow_nan=False, ...) */
static PyObject *g_capture;       /* the sys.stdout / sys.stderr object */
static char g_modname[96];
static const char *g_source;      /* the function's source, for traceback lines */
static size_t g_source_len;
static char g_filename[96];
static int g_sealed;              /* user code may have run: the audit hook bites */
static int g_in_call;             /* 0 during module init, 1 while serving a CALL */
static uint64_t g_seq;            /* the CALL being served */

/* ---- I/O on the call socket ------------------------------------------------- */

static int write_all(const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(BRD_SBX_FD, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(void *buf, size_t n)
{
    char *p = buf;
    while (n > 0) {
        ssize_t r = read(BRD_SBX_FD, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* ---- print() capture ------------------------------------------------------------ */

static char *cap_buf;
static size_t cap_len, cap_max, cap_dropped;

/* How much of s[0..n) fits in room bytes without cutting a UTF-8 sequence
 * (the trace is JSON: it must stay valid UTF-8). */
static size_t utf8_fit(const char *s, size_t n, size_t room)
{
    if (n <= room)
        return n;
    size_t take = room;
    while (take > 0 && ((unsigned char)s[take] & 0xC0) == 0x80)
        take--;
    return take;
}

static void cap_append(const char *s, size_t n)
{
    if (cap_dropped) { /* once full, later text would read out of order */
        cap_dropped += n;
        return;
    }
    size_t take = utf8_fit(s, n, cap_max - cap_len);
    if (take)
        memcpy(cap_buf + cap_len, s, take);
    cap_len += take;
    cap_dropped += n - take;
}

static void cap_append_str(PyObject *u)
{
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(u, &n);
    if (s) {
        cap_append(s, (size_t)n);
        return;
    }
    /* Lone surrogates cannot be UTF-8: escape them instead of failing. */
    PyErr_Clear();
    PyObject *b = PyUnicode_AsEncodedString(u, "utf-8", "backslashreplace");
    if (b) {
        cap_append(PyBytes_AS_STRING(b), (size_t)PyBytes_GET_SIZE(b));
        Py_DECREF(b);
    } else {
        PyErr_Clear();
    }
}

static PyObject *capture_write(PyObject *self, PyObject *arg)
{
    (void)self;
    if (!PyUnicode_Check(arg))
        return PyErr_Format(PyExc_TypeError, "write() argument must be str, not %.100s",
                            Py_TYPE(arg)->tp_name);
    cap_append_str(arg);
    return PyLong_FromSsize_t(PyUnicode_GET_LENGTH(arg));
}

static PyObject *capture_none(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    Py_RETURN_NONE;
}

static PyObject *capture_false(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    Py_RETURN_FALSE;
}

static PyMethodDef capture_methods[] = {
    {"write", capture_write, METH_O, "Keep text for the trace."},
    {"flush", capture_none, METH_NOARGS, "Nothing to flush."},
    {"isatty", capture_false, METH_NOARGS, "Not a terminal."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject capture_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "braid.PrintCapture",
    .tp_basicsize = sizeof(PyObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_methods = capture_methods,
    .tp_new = NULL,
};

/* ---- replies -------------------------------------------------------------------- */

static char *tb_buf;
static size_t tb_len, tb_max;

/* Sends READY or RESULT with code (0 = ok) and first = the result or the
 * message; the captured output and the traceback go along and are reset. */
static int send_reply(uint32_t type, int64_t code, const char *first, size_t first_len)
{
    struct brd_proto_hdr h = {
        .magic = BRD_PROTO_MAGIC,
        .type = type,
        .seq = type == BRD_PROTO_RESULT ? g_seq : 0,
        .arg = code,
        .aux = cap_dropped > UINT32_MAX ? UINT32_MAX : (uint32_t)cap_dropped,
        .len = {(uint32_t)first_len, (uint32_t)cap_len, (uint32_t)tb_len, 0},
    };
    int rc = write_all(&h, sizeof h);
    if (rc == 0 && first_len)
        rc = write_all(first, first_len);
    if (rc == 0 && cap_len)
        rc = write_all(cap_buf, cap_len);
    if (rc == 0 && tb_len)
        rc = write_all(tb_buf, tb_len);
    cap_len = cap_dropped = tb_len = 0;
    return rc;
}

/* Ends the call (or the module's init) as a SANDBOX_VIOLATION and the
 * process with it: nothing user code does can catch this.  Only C and
 * static buffers: it may run deep inside anything. */
__attribute__((noreturn)) static void violation(const char *what)
{
    char msg[400];
    int n = snprintf(msg, sizeof msg, "forbidden in a sandboxed function: %s", what);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof msg)
        n = sizeof msg - 1;
    tb_len = 0;
    send_reply(g_in_call ? BRD_PROTO_RESULT : BRD_PROTO_READY, BRD_E_SANDBOX_VIOLATION, msg,
               (size_t)n);
    _exit(0);
}

/* ---- formatting exceptions (in C: the traceback module would read files) ------ */

static void tb_append(const char *s, size_t n)
{
    n = utf8_fit(s, n, tb_max - tb_len);
    memcpy(tb_buf + tb_len, s, n);
    tb_len += n;
}

static void tb_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void tb_printf(const char *fmt, ...)
{
    char line[600];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0)
        tb_append(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* The source line `lineno` of the function's own file, trimmed. */
static void source_line(int lineno, const char **s, size_t *n)
{
    *s = NULL;
    *n = 0;
    const char *p = g_source, *end = g_source + g_source_len;
    for (int l = 1; l < lineno && p < end; l++) {
        p = memchr(p, '\n', (size_t)(end - p));
        if (!p)
            return;
        p++;
    }
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (!g_source || p >= end)
        return;
    const char *e = memchr(p, '\n', (size_t)(end - p));
    if (!e)
        e = end;
    while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        e--;
    *s = p;
    *n = (size_t)(e - p);
}

static const char *utf8_or(PyObject *u, const char *fallback)
{
    const char *s = u && PyUnicode_Check(u) ? PyUnicode_AsUTF8(u) : NULL;
    if (!s)
        PyErr_Clear();
    return s ? s : fallback;
}

/* "Type: message" of an exception into buf; str() runs user code, so every
 * way it can misbehave (raise, return a non-str, return megabytes) ends in
 * a fallback rather than a failure. */
static void exc_message(PyObject *type, PyObject *value, char *buf, size_t size)
{
    const char *tname = type && PyType_Check(type) ? ((PyTypeObject *)type)->tp_name : "Exception";
    PyObject *s = value ? PyObject_Str(value) : NULL;
    if (!s) {
        PyErr_Clear();
        snprintf(buf, size, "%s: <str() of the exception failed>", tname);
        return;
    }
    Py_ssize_t n = 0;
    const char *text = PyUnicode_Check(s) ? PyUnicode_AsUTF8AndSize(s, &n) : NULL;
    if (!text) {
        PyErr_Clear();
        text = "<exception message is not printable>";
        n = (Py_ssize_t)strlen(text);
    }
    if (n == 0)
        snprintf(buf, size, "%s", tname);
    else {
        size_t max = size > 64 ? size - 64 : 0;
        size_t take = (size_t)n < max ? (size_t)n : max;
        while (take > 0 && take < (size_t)n && ((unsigned char)text[take] & 0xC0) == 0x80)
            take--; /* do not cut a UTF-8 sequence */
        snprintf(buf, size, "%s: %.*s%s", tname, (int)take, text, take < (size_t)n ? "..." : "");
    }
    Py_DECREF(s);
}

static void format_traceback(PyObject *tb, const char *message)
{
    tb_len = 0;
    tb_printf("Traceback (most recent call last):\n");
    for (PyTracebackObject *t = (PyTracebackObject *)tb; t && PyTraceBack_Check((PyObject *)t);
         t = t->tb_next) {
        PyCodeObject *code = PyFrame_GetCode(t->tb_frame);
        int line = t->tb_lineno >= 0 ? t->tb_lineno : PyCode_Addr2Line(code, t->tb_lasti);
        const char *file = utf8_or(code->co_filename, "?");
        tb_printf("  File \"%s\", line %d, in %s\n", file, line, utf8_or(code->co_name, "?"));
        if (strcmp(file, g_filename) == 0) {
            const char *s;
            size_t n;
            source_line(line, &s, &n);
            if (n)
                tb_printf("    %.*s\n", (int)(n > 200 ? 200 : n), s);
        }
        Py_DECREF(code);
    }
    tb_printf("%s\n", message);
}

/* Sends the pending exception as the reply (READY or RESULT). */
static void send_exception(uint32_t type, const char *prefix)
{
    PyObject *etype, *value, *tb;
    PyErr_Fetch(&etype, &value, &tb);
    PyErr_NormalizeException(&etype, &value, &tb);
    int64_t code = BRD_E_FUNCTION_ERROR;
    char msg[420];
    if (etype && PyErr_GivenExceptionMatches(etype, PyExc_MemoryError)) {
        /* Drop the frames (and what they hold) before anything allocates. */
        code = BRD_E_FUNCTION_MEMORY;
        Py_XDECREF(tb);
        tb = NULL;
        snprintf(msg, sizeof msg, "%sMemoryError", prefix);
        tb_len = 0;
    } else {
        char m[400];
        exc_message(etype, value, m, sizeof m);
        snprintf(msg, sizeof msg, "%s%s", prefix, m);
        format_traceback(tb, m);
    }
    PyErr_Clear();
    Py_XDECREF(etype);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    if (send_reply(type, code, msg, strlen(msg)) != 0)
        _exit(0);
    if (code == BRD_E_FUNCTION_MEMORY)
        _exit(0); /* a process that ran out of memory is not reused */
}

/* ---- the Python layers ------------------------------------------------------------- */

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

/* builtins.__import__ for user code, in C so that nothing in Python can
 * reach or undo it. */
static PyObject *policy_import(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"name", "globals", "locals", "fromlist", "level", NULL};
    PyObject *name, *globals = NULL, *locals = NULL, *fromlist = NULL;
    int level = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "U|OOOi:__import__", kwlist, &name, &globals,
                                     &locals, &fromlist, &level))
        return NULL;
    const char *s = PyUnicode_AsUTF8(name);
    if (!s)
        return NULL;
    if (level != 0) {
        PyErr_SetString(PyExc_ImportError,
                        "relative imports are not available in a sandboxed function");
        return NULL;
    }
    char root[64];
    size_t rl = strcspn(s, ".");
    if (rl < sizeof root) {
        memcpy(root, s, rl);
        root[rl] = '\0';
        if (in_list(root, allowed, sizeof allowed / sizeof allowed[0]))
            return PyImport_ImportModuleLevelObject(name, globals, locals, fromlist, 0);
    }
    if (strcmp(s, g_modname) == 0 || in_list(s, quiet, sizeof quiet / sizeof quiet[0])) {
        PyObject *m = PyImport_GetModule(name);
        if (m) {
            Py_DECREF(m);
            Py_RETURN_NONE;
        }
        PyErr_Clear();
    }
    PyObject *msg = PyUnicode_FromFormat(
        "import of '%s' is not allowed in a sandboxed function (allowed: " ALLOWED_LIST ")", s);
    if (msg) {
        PyErr_SetImportError(msg, name, NULL);
        Py_DECREF(msg);
    }
    return NULL;
}

static PyObject *policy_open(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    (void)kwds;
    PyObject *path = PyTuple_Check(args) && PyTuple_GET_SIZE(args) > 0 ? PyTuple_GET_ITEM(args, 0) : NULL;
    PyObject *r = path ? PyObject_Repr(path) : NULL;
    char what[300];
    snprintf(what, sizeof what, "open(%.200s): functions have no files", r ? utf8_or(r, "...") : "");
    violation(what);
}

static PyMethodDef import_def = {"__import__", (PyCFunction)(void (*)(void))policy_import,
                                 METH_VARARGS | METH_KEYWORDS,
                                 "Import one of the modules a function may use."};
static PyMethodDef open_def = {"open", (PyCFunction)(void (*)(void))policy_open,
                               METH_VARARGS | METH_KEYWORDS, "Functions cannot open files."};

/* Globals that pickle may look up (audit event pickle.find_class). */
static bool pickle_global_ok(const char *mod, const char *name)
{
    static const char *const builtin_types[] = {
        "set", "frozenset", "list", "dict", "tuple", "bytearray", "bytes", "str", "int",
        "float", "complex", "bool", "object", "range", "slice",
    };
    if (strcmp(mod, g_modname) == 0) {
        /* The function's own classes, nested ones by dotted path; never
         * a dunder (no walking to __globals__ or __code__). */
        for (const char *p = name; *p; p = strchr(p, '.') ? strchr(p, '.') + 1 : p + strlen(p))
            if (p[0] == '_' && p[1] == '_')
                return false;
        return true;
    }
    if (strchr(name, '.'))
        return false;
    if (strcmp(mod, "builtins") == 0 || strcmp(mod, "__builtin__") == 0) {
        if (in_list(name, builtin_types, sizeof builtin_types / sizeof builtin_types[0]))
            return true;
        PyObject *bm = PyImport_AddModule("builtins"); /* borrowed */
        PyObject *v = bm ? PyDict_GetItemString(PyModule_GetDict(bm), name) : NULL;
        return v && PyType_Check(v) && PyType_IsSubtype((PyTypeObject *)v, (PyTypeObject *)PyExc_BaseException);
    }
    if (strcmp(mod, "copyreg") == 0 || strcmp(mod, "copy_reg") == 0)
        return strcmp(name, "_reconstructor") == 0 || strcmp(name, "__newobj__") == 0 ||
               strcmp(name, "__newobj_ex__") == 0;
    if (strcmp(mod, "_codecs") == 0)
        return strcmp(name, "encode") == 0;
    if (strcmp(mod, "re") == 0 && strcmp(name, "_compile") == 0)
        return true;
    if (in_list(mod, allowed, sizeof allowed / sizeof allowed[0]) && strcmp(mod, "pickle") != 0)
        return name[0] != '_';
    return false;
}

/* Runtime audit events that code in a sandboxed function may raise; any
 * other event after the seal is a violation (ends the process). */
static int audit_hook(const char *event, PyObject *args, void *data)
{
    (void)data;
    if (!g_sealed)
        return 0;
    if (strcmp(event, "exec") == 0 || strcmp(event, "compile") == 0 ||
        strcmp(event, "time.sleep") == 0 || strcmp(event, "builtins.id") == 0 ||
        strcmp(event, "marshal.dumps") == 0)
        return 0;
    if (strcmp(event, "import") == 0) {
        /* Only a module that is not loaded yet raises this: nothing the
         * warm-up did not load can be loaded (there are no files). */
        PyObject *m = PyTuple_Check(args) && PyTuple_GET_SIZE(args) > 0 ? PyTuple_GET_ITEM(args, 0) : NULL;
        PyErr_Format(PyExc_ImportError,
                     "module '%s' is not available in a sandboxed function (allowed: " ALLOWED_LIST ")",
                     utf8_or(m, "?"));
        return -1;
    }
    char what[300];
    if (strcmp(event, "pickle.find_class") == 0 && PyTuple_Check(args) && PyTuple_GET_SIZE(args) == 2) {
        const char *mod = utf8_or(PyTuple_GET_ITEM(args, 0), "?");
        const char *name = utf8_or(PyTuple_GET_ITEM(args, 1), "?");
        if (pickle_global_ok(mod, name))
            return 0;
        snprintf(what, sizeof what, "unpickling the global %.100s.%.100s", mod, name);
        violation(what);
    }
    if ((strcmp(event, "object.__setattr__") == 0 || strcmp(event, "object.__delattr__") == 0) &&
        PyTuple_Check(args) && PyTuple_GET_SIZE(args) >= 2 &&
        strcmp(utf8_or(PyTuple_GET_ITEM(args, 1), ""), "__code__") != 0)
        return 0;
    if (strcmp(event, "object.__getattr__") == 0 && PyTuple_Check(args) && PyTuple_GET_SIZE(args) >= 2) {
        snprintf(what, sizeof what, "reading the attribute %.100s (frames and code objects are off limits)",
                 utf8_or(PyTuple_GET_ITEM(args, 1), "?"));
        violation(what);
    }
    snprintf(what, sizeof what, "%.200s (audit event)", event);
    violation(what);
}

/* warnings.showwarning and sys.unraisablehook replacements: the defaults
 * read source files to print a line of context. */
static PyObject *show_warning(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"message", "category", "filename", "lineno", "file", "line", NULL};
    PyObject *message, *category, *filename, *lineno, *file = NULL, *line = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOO|OO", kwlist, &message, &category, &filename,
                                     &lineno, &file, &line))
        return NULL;
    PyObject *s = PyUnicode_FromFormat("%S:%S: %s: %S\n", filename, lineno,
                                       PyType_Check(category) ? ((PyTypeObject *)category)->tp_name : "Warning",
                                       message);
    if (!s)
        return NULL;
    cap_append_str(s);
    Py_DECREF(s);
    Py_RETURN_NONE;
}

static PyObject *unraisable_hook(PyObject *self, PyObject *u)
{
    (void)self;
    PyObject *t = PyObject_GetAttrString(u, "exc_type");
    PyObject *v = PyObject_GetAttrString(u, "exc_value");
    PyErr_Clear();
    char m[400];
    exc_message(t, v, m, sizeof m);
    Py_XDECREF(t);
    Py_XDECREF(v);
    cap_append("Exception ignored: ", 19);
    cap_append(m, strlen(m));
    cap_append("\n", 1);
    Py_RETURN_NONE;
}

static PyMethodDef warn_def = {"showwarning", (PyCFunction)(void (*)(void))show_warning,
                               METH_VARARGS | METH_KEYWORDS, "Print a warning to the capture."};
static PyMethodDef unraisable_def = {"unraisablehook", unraisable_hook, METH_O,
                                     "Print an unraisable exception to the capture."};

/* ---- the zygote's warm-up --------------------------------------------------------- */

/* Imports everything a function may use, and runs the paths that load more
 * on first use (strptime, codecs, pickle of user classes, regex flags),
 * so that nothing needs a file once the process is sealed. */
static const char warmup_py[] =
    "import json, time, random, pickle, re, math, copyreg, _strptime, warnings\n"
    "import encodings\n"
    "for _e in ('utf_8', 'utf_8_sig', 'utf_16', 'utf_16_le', 'utf_16_be', 'utf_32', 'utf_32_le',\n"
    "           'utf_32_be', 'latin_1', 'ascii', 'cp1252', 'cp1251', 'cp437', 'iso8859_2',\n"
    "           'iso8859_15', 'koi8_r', 'mac_roman', 'utf_7', 'unicode_escape',\n"
    "           'raw_unicode_escape', 'idna', 'punycode', 'hex_codec', 'base64_codec',\n"
    "           'charmap'):\n"
    "    __import__('encodings.' + _e)\n"
    "for _e in ('utf-8', 'utf-16', 'utf-32', 'latin-1', 'ascii', 'cp1252', 'utf-7'):\n"
    "    'x\\xe9'.encode(_e, 'replace').decode(_e, 'replace')\n"
    "time.strptime('2024-01-02 03:04:05', '%Y-%m-%d %H:%M:%S')\n"
    "time.strftime('%c %Z', time.localtime()); time.mktime(time.localtime()); time.tzset()\n"
    "time.gmtime(); time.asctime(); time.process_time(); time.get_clock_info('monotonic')\n"
    "class _C:\n"
    "    pass\n"
    "for _p in range(pickle.HIGHEST_PROTOCOL + 1):\n"
    "    pickle.loads(pickle.dumps([{1, 2}, frozenset([3]), b'x', bytearray(b'y'), 1.5, 2j, (1,),\n"
    "                              ValueError('e'), range(3), slice(1)], protocol=_p))\n"
    "re.compile(r'(?i)\\w+\\s*[a-z]\\d{1,3}(?P<n>x)|\\b', re.M | re.S | re.X)\n"
    "re.compile(rb'(?L)\\w', re.L); re.sub(r'(a)', r'\\1', 'a'); re.split(r'\\W', 'a b')\n"
    "json.loads(json.dumps({'a': [1, 2.5, None, True, 'x\\u00e9']}, indent=1, sort_keys=True))\n"
    "random.Random(1).random(); random.seed('s'); random.choice([1]); random.gauss(0, 1)\n"
    "random.SystemRandom().random(); random.shuffle([1, 2]); random.sample(range(9), 2)\n"
    "math.factorial(20); format(1234.5, ',.2f'); '{:n}'.format(1); '%s %r %d' % ('a', 'b', 1)\n"
    "int('12'); float('1e5'); str(2**100); hash('x'); sorted({'b': 1, 'a': 2}.items())\n";

int brd_runner_warmup(enum brd_sandbox_layers layers, struct brd_error *err)
{
    g_layers = layers;
    /* TZ fixed (and its data loaded now: later there are no files). */
    setenv("TZ", "UTC", 1);
    tzset();
    if (brd_pyfn_py_init(err) != 0)
        return -1;
    PyObject *g = PyDict_New();
    if (!g || PyDict_SetItemString(g, "__builtins__", PyEval_GetBuiltins()) != 0)
        goto fail;
    PyObject *r = PyRun_String(warmup_py, Py_file_input, g, g);
    if (!r)
        goto fail;
    Py_DECREF(r);
    r = PyRun_String("json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(',', ':'))",
                     Py_eval_input, g, g);
    if (!r)
        goto fail;
    g_encoder = r;
    Py_DECREF(g);
    g = NULL;

    if (PyType_Ready(&capture_type) != 0)
        goto fail;
    g_capture = PyType_GenericAlloc(&capture_type, 0);
    if (!g_capture)
        goto fail;
    PyObject *warnings = PyImport_ImportModule("warnings");
    PyObject *sw = PyCFunction_NewEx(&warn_def, NULL, NULL);
    PyObject *uh = PyCFunction_NewEx(&unraisable_def, NULL, NULL);
    if (!warnings || !sw || !uh || PyObject_SetAttrString(warnings, "showwarning", sw) != 0 ||
        PySys_SetObject("unraisablehook", uh) != 0) {
        Py_XDECREF(warnings);
        Py_XDECREF(sw);
        Py_XDECREF(uh);
        goto fail;
    }
    Py_DECREF(warnings);
    Py_DECREF(sw);
    Py_DECREF(uh);
    return 0;
fail:
    Py_XDECREF(g);
    {
        PyObject *t, *v, *tb;
        PyErr_Fetch(&t, &v, &tb);
        PyErr_NormalizeException(&t, &v, &tb);
        char m[400];
        exc_message(t, v, m, sizeof m);
        Py_XDECREF(t);
        Py_XDECREF(v);
        Py_XDECREF(tb);
        return brd_error_set(err, BRD_E_INTERNAL, "sandbox warm-up failed: %s", m);
    }
}

/* ---- one sandboxed process ------------------------------------------------------------ */

/* Reads one frame; the payload is malloc'd (NUL-terminated). */
static int read_frame(struct brd_proto_hdr *h, char **payload)
{
    if (read_all(h, sizeof *h) != 0 || h->magic != BRD_PROTO_MAGIC)
        return -1;
    size_t n = brd_proto_payload(h);
    if (n == SIZE_MAX || n > ((size_t)1 << 31))
        return -1;
    char *p = malloc(n + 1);
    if (!p)
        return -1;
    if (read_all(p, n) != 0) {
        free(p);
        return -1;
    }
    p[n] = '\0';
    *payload = p;
    return 0;
}

/* A Python str from a CALL field (None for BRD_PROTO_NONE). */
static PyObject *field(const char **p, uint32_t len)
{
    if (len == BRD_PROTO_NONE)
        Py_RETURN_NONE;
    PyObject *s = PyUnicode_DecodeUTF8(*p, len, "replace");
    *p += len;
    return s;
}

static PyObject *context_dict(const struct brd_proto_hdr *h, const char *p)
{
    p += h->len[0];
    PyObject *d = PyDict_New();
    PyObject *rid = field(&p, h->len[1]);
    PyObject *wf = field(&p, h->len[2]);
    PyObject *node = field(&p, h->len[3]);
    PyObject *dl = PyLong_FromLongLong(h->arg);
    if (!d || !rid || !wf || !node || !dl || PyDict_SetItemString(d, "request_id", rid) != 0 ||
        PyDict_SetItemString(d, "workflow", wf) != 0 || PyDict_SetItemString(d, "node", node) != 0 ||
        PyDict_SetItemString(d, "deadline_ms", dl) != 0) {
        Py_CLEAR(d);
    }
    Py_XDECREF(rid);
    Py_XDECREF(wf);
    Py_XDECREF(node);
    Py_XDECREF(dl);
    return d;
}

static void serve_call(PyObject *handler, const struct brd_proto_hdr *h, const char *payload)
{
    g_seq = h->seq;
    g_in_call = 1;
    PyObject *event = PyUnicode_DecodeUTF8(payload, h->len[0], "strict");
    PyObject *ctx = event ? context_dict(h, payload) : NULL;
    if (!event || !ctx) {
        Py_XDECREF(event);
        send_exception(BRD_PROTO_RESULT, "cannot pass the event: ");
        return;
    }
    PyObject *res = PyObject_CallFunctionObjArgs(handler, event, ctx, NULL);
    Py_DECREF(event);
    Py_DECREF(ctx);
    if (!res) {
        send_exception(BRD_PROTO_RESULT, "");
        return;
    }
    PyObject *text = PyObject_CallMethod(g_encoder, "encode", "O", res);
    Py_DECREF(res);
    if (!text) {
        send_exception(BRD_PROTO_RESULT, "the result cannot be converted to JSON: ");
        return;
    }
    Py_ssize_t n;
    const char *s = PyUnicode_Check(text) ? PyUnicode_AsUTF8AndSize(text, &n) : NULL;
    if (!s) {
        Py_DECREF(text);
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "the JSON encoder did not return a str");
        send_exception(BRD_PROTO_RESULT, "the result cannot be converted to JSON: ");
        return;
    }
    if ((size_t)n > brd_sbx_g.result_max) {
        char msg[200];
        int m = snprintf(msg, sizeof msg,
                         "the function's result is %zd bytes of JSON, over the limit of %zu bytes",
                         n, brd_sbx_g.result_max);
        Py_DECREF(text);
        tb_len = 0;
        send_reply(BRD_PROTO_RESULT, BRD_E_FUNCTION_ERROR, msg, (size_t)m);
        return;
    }
    int rc = send_reply(BRD_PROTO_RESULT, 0, s, (size_t)n);
    Py_DECREF(text);
    if (rc != 0)
        _exit(0);
}

/* Walks the call path once without user code (event text, context dict,
 * result encoding), so that its copy-on-write page faults happen now, while
 * the process waits for its first call, rather than during that call. */
static void dry_run(void)
{
    static const char fake[] = "{\"a\": [1, 2.5, \"x\"]}rn";
    struct brd_proto_hdr h = {.len = {sizeof fake - 3, 1, 1, BRD_PROTO_NONE}, .arg = 1};
    PyObject *event = PyUnicode_DecodeUTF8(fake, h.len[0], "strict");
    PyObject *ctx = context_dict(&h, fake);
    PyObject *text = ctx ? PyObject_CallMethod(g_encoder, "encode", "O", ctx) : NULL;
    Py_ssize_t n;
    if (text)
        (void)PyUnicode_AsUTF8AndSize(text, &n);
    Py_XDECREF(text);
    Py_XDECREF(ctx);
    Py_XDECREF(event);
    PyErr_Clear();
}

void brd_runner_main(enum brd_sandbox_layers layers, const struct sock_filter *bpf,
                     unsigned short bpf_len)
{
    struct brd_proto_hdr h;
    char *payload;
    if (read_frame(&h, &payload) != 0 || h.type != BRD_PROTO_INIT)
        _exit(0);
    brd_sbx_g.result_max = (size_t)h.arg;
    cap_max = h.aux;
    tb_max = h.seq > 0 && h.seq < (1u << 24) ? (size_t)h.seq : 16 * 1024;
    cap_buf = malloc(cap_max + 1);
    tb_buf = malloc(tb_max + 1);
    const char *code_bytes = payload;
    g_source = payload + h.len[0];
    g_source_len = h.len[1];
    snprintf(g_modname, sizeof g_modname, "%.*s", (int)h.len[2], g_source + h.len[1]);
    snprintf(g_filename, sizeof g_filename, "%.*s", (int)h.len[3], g_source + h.len[1] + h.len[2]);
    if (!cap_buf || !tb_buf)
        _exit(125);

    PyObject *code = PyMarshal_ReadObjectFromString(code_bytes, h.len[0]);
    PyObject *modules = PySys_GetObject("modules"); /* borrowed */
    if (!code || !PyCode_Check(code) || !modules)
        _exit(125);
    /* The module's name is the function's, unless that shadows a loaded
     * module (a function called "random"). */
    PyObject *existing = PyDict_GetItemString(modules, g_modname);
    if (existing) {
        char tmp[sizeof g_modname];
        memcpy(tmp, g_modname, sizeof tmp);
        snprintf(g_modname, sizeof g_modname, "functions.%.80s", tmp);
    }
    PyObject *module = PyModule_New(g_modname);
    PyObject *globals = module ? PyModule_GetDict(module) : NULL; /* borrowed */
    PyObject *fname = PyUnicode_FromString(g_filename);
    if (!globals || !fname || PyDict_SetItemString(globals, "__file__", fname) != 0 ||
        PyDict_SetItemString(modules, g_modname, module) != 0)
        _exit(125);
    Py_DECREF(fname);

    PyObject *real_builtins = PyImport_AddModule("builtins"); /* borrowed */
    if (!real_builtins)
        _exit(125);
    if (layers == BRD_SANDBOX_ALL) {
        /* Trimmed builtins: the import policy, open() that reports a
         * violation, nothing that reads the terminal or starts a debugger. */
        PyObject *b = PyDict_Copy(PyModule_GetDict(real_builtins));
        PyObject *imp = PyCFunction_NewEx(&import_def, NULL, NULL);
        PyObject *op = PyCFunction_NewEx(&open_def, NULL, NULL);
        if (!b || !imp || !op || PyDict_SetItemString(b, "__import__", imp) != 0 ||
            PyDict_SetItemString(b, "open", op) != 0)
            _exit(125);
        static const char *const drop[] = {"input", "breakpoint", "help", "exit", "quit",
                                           "copyright", "credits", "license"};
        for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
            if (PyDict_DelItemString(b, drop[i]) != 0)
                PyErr_Clear();
        Py_DECREF(imp);
        Py_DECREF(op);
        if (PyDict_SetItemString(globals, "__builtins__", b) != 0)
            _exit(125);
        Py_DECREF(b);
    } else if (PyDict_SetItemString(globals, "__builtins__", real_builtins) != 0) {
        _exit(125);
    }
    if (PySys_SetObject("stdout", g_capture) != 0 || PySys_SetObject("stderr", g_capture) != 0 ||
        PySys_SetObject("__stdout__", g_capture) != 0 || PySys_SetObject("__stderr__", g_capture) != 0 ||
        PySys_SetObject("stdin", Py_None) != 0 || PySys_SetObject("__stdin__", Py_None) != 0)
        _exit(125);
    if (layers == BRD_SANDBOX_ALL && PySys_AddAuditHook(audit_hook, NULL) != 0)
        _exit(125);

    /* The seal: from here on the process can only compute and use fd 3. */
    if (brd_policy_load(bpf, bpf_len) != 0)
        _exit(126);
    g_sealed = 1;
    g_in_call = 0;

    PyObject *r = PyEval_EvalCode(code, globals, globals);
    Py_DECREF(code);
    if (!r) {
        send_exception(BRD_PROTO_READY, "error while loading the module: ");
        _exit(0);
    }
    Py_DECREF(r);
    PyObject *handler = PyDict_GetItemString(globals, "handler");
    if (!handler || !PyCallable_Check(handler)) {
        static const char msg[] = "the module defines no callable `handler`";
        send_reply(BRD_PROTO_READY, BRD_E_FUNCTION_ERROR, msg, sizeof msg - 1);
        _exit(0);
    }
    Py_INCREF(handler);
    free(payload);
    /* Top-level print() output stays in the capture for the first call. */
    struct brd_proto_hdr ready = {.magic = BRD_PROTO_MAGIC, .type = BRD_PROTO_READY};
    if (write_all(&ready, sizeof ready) != 0)
        _exit(0);
    dry_run();

    for (;;) {
        if (read_frame(&h, &payload) != 0)
            _exit(0);
        if (h.type != BRD_PROTO_CALL)
            _exit(0);
        serve_call(handler, &h, payload);
        free(payload);
    }
}
