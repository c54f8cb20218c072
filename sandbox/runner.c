/* runner.c — the Python inside the sandbox: the zygote's warm-up, and the
 * life of one sandboxed process (INIT, the module, the seccomp seal, the
 * call loop on its socket, replies and the print capture).  The guard
 * layers are in guard.c, exceptions as text in pyerror.c. */
#include "runner.h"

#include <marshal.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exitcodes.h"

static PyObject *g_encoder;       /* json.JSONEncoder(ensure_ascii=False, allow_nan=False, ...) */
static PyObject *g_capture;       /* the sys.stdout / sys.stderr object */
static PyObject *g_random;        /* random._inst, the module's generator */
static PyObject *g_random_seed;   /* _random.Random.seed (the C method) */
static char g_modname[96];
static char g_filename[96];
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

/* What was read past the last frame (the worker may queue a CALL behind
 * INIT): frames are read in one read each when they fit. */
static char g_rbuf[16384];
static size_t g_rlen, g_roff;

static int read_all(void *buf, size_t n)
{
    char *p = buf;
    size_t have = g_rlen - g_roff;
    if (have) {
        size_t k = have < n ? have : n;
        memcpy(p, g_rbuf + g_roff, k);
        g_roff += k;
        p += k;
        n -= k;
    }
    if (n > 0 && n < sizeof g_rbuf) {
        /* Read ahead: the rest of this frame usually came with it. */
        g_roff = g_rlen = 0;
        while (g_rlen < n) {
            ssize_t r = read(BRD_SBX_FD, g_rbuf + g_rlen, sizeof g_rbuf - g_rlen);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                return -1;
            g_rlen += (size_t)r;
        }
        memcpy(p, g_rbuf, n);
        g_roff = n;
        return 0;
    }
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

static void cap_append(const char *s, size_t n)
{
    if (cap_dropped) { /* once full, later text would read out of order */
        cap_dropped += n;
        return;
    }
    size_t take = brd_runner_utf8_fit(s, n, cap_max - cap_len);
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



/* warnings.showwarning and sys.unraisablehook replacements, writing to the
 * capture: the defaults read source files to print a line of context. */
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
    brd_pyerr_message(t, v, m, sizeof m);
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

/* ---- replies -------------------------------------------------------------------- */

/* Sends READY or RESULT with code (0 = ok), first = the result or the
 * message, and tb (may be NULL); the captured output goes along and is reset. */
static int send_reply(uint32_t type, int64_t code, const char *first, size_t first_len,
                      const char *tb, size_t tb_len)
{
    struct brd_proto_hdr h = {
        .magic = BRD_PROTO_MAGIC,
        .type = type,
        .seq = type == BRD_PROTO_RESULT ? g_seq : 0,
        .arg = code,
        .aux = cap_dropped > UINT32_MAX ? UINT32_MAX : (uint32_t)cap_dropped,
        .len = {(uint32_t)first_len, (uint32_t)cap_len, (uint32_t)tb_len, 0},
    };
    /* One write for a reply that fits (most do), else one per part. */
    static char one[16384];
    size_t total = sizeof h + first_len + cap_len + tb_len;
    int rc;
    if (total <= sizeof one) {
        size_t n = 0;
        memcpy(one, &h, sizeof h);
        n += sizeof h;
        if (first_len)
            memcpy(one + n, first, first_len);
        n += first_len;
        if (cap_len)
            memcpy(one + n, cap_buf, cap_len);
        n += cap_len;
        if (tb_len)
            memcpy(one + n, tb, tb_len);
        rc = write_all(one, total);
    } else {
        rc = write_all(&h, sizeof h);
        if (rc == 0 && first_len)
            rc = write_all(first, first_len);
        if (rc == 0 && cap_len)
            rc = write_all(cap_buf, cap_len);
        if (rc == 0 && tb_len)
            rc = write_all(tb, tb_len);
    }
    cap_len = cap_dropped = 0;
    return rc;
}

void brd_runner_violation(const char *what)
{
    char msg[400];
    int n = snprintf(msg, sizeof msg, "forbidden in a sandboxed function: %s", what);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof msg)
        n = sizeof msg - 1;
    send_reply(g_in_call ? BRD_PROTO_RESULT : BRD_PROTO_READY, BRD_E_SANDBOX_VIOLATION, msg,
               (size_t)n, NULL, 0);
    _exit(BRD_SBX_EXIT_DONE);
}

/* Sends the pending exception as the reply (READY or RESULT). */
static void send_exception(uint32_t type, const char *prefix)
{
    struct brd_pyerr e;
    brd_pyerr_take(prefix, &e);
    if (send_reply(type, e.code, e.msg, strlen(e.msg), e.tb, e.tb_len) != 0)
        _exit(BRD_SBX_EXIT_DONE);
    if (e.code == BRD_E_FUNCTION_MEMORY)
        _exit(BRD_SBX_EXIT_DONE); /* a process that ran out of memory is not reused */
}

/* ---- the zygote's warm-up --------------------------------------------------------- */

/* Imports everything a function may use, and runs the paths that load more
 * on first use (strptime, codecs, pickle of user classes, regex flags),
 * so that nothing needs a file once the process is sealed. */
static const char warmup_py[] =
    /* random without its at-fork hook: a Python-level seed() run by
     * PyOS_AfterFork_Child in every process costs it ~50 copied pages;
     * brd_runner_after_fork reseeds from C instead. */
    "import os as _os\n"
    "_reg, _os.register_at_fork = _os.register_at_fork, lambda **_k: None\n"
    "try:\n"
    "    import random\n"
    "finally:\n"
    "    _os.register_at_fork = _reg\n"
    "del _os, _reg\n"
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
    (void)layers; /* one warm-up for both: the layers are put on per process */
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
    g_random = PyRun_String("random._inst", Py_eval_input, g, g);
    if (!g_random)
        goto fail;
    g_random_seed = PyRun_String("__import__('_random').Random.seed", Py_eval_input, g, g);
    if (!g_random_seed)
        goto fail;
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
    /* The capture as sys.stdout and sys.stderr, and no stdin, from here
     * on: set in every sandboxed process, the replaced io objects would be
     * freed there, copying the pages they touch.  The zygote prints
     * nothing (its capture has no room: cap_max is 0 until INIT). */
    if (PySys_SetObject("stdout", g_capture) != 0 || PySys_SetObject("stderr", g_capture) != 0 ||
        PySys_SetObject("__stdout__", g_capture) != 0 || PySys_SetObject("__stderr__", g_capture) != 0 ||
        PySys_SetObject("stdin", Py_None) != 0 || PySys_SetObject("__stdin__", Py_None) != 0)
        goto fail;
    if (brd_guard_prepare() != 0)
        goto fail;
    /* Everything the warm-up made moves to the GC's permanent generation:
     * a collection in a sandboxed process then never walks (and so never
     * writes to, copying their pages) the zygote's objects, only its own.
     * The collector stays on for the function's objects. */
    PyObject *gc = PyImport_ImportModule("gc");
    PyObject *rc = gc ? PyObject_CallMethod(gc, "collect", NULL) : NULL;
    Py_XDECREF(rc);
    rc = rc ? PyObject_CallMethod(gc, "freeze", NULL) : NULL;
    Py_XDECREF(gc);
    if (!rc)
        goto fail;
    Py_DECREF(rc);
    return 0;
fail:
    Py_XDECREF(g);
    {
        PyObject *t, *v, *tb;
        PyErr_Fetch(&t, &v, &tb);
        PyErr_NormalizeException(&t, &v, &tb);
        char m[400];
        brd_pyerr_message(t, v, m, sizeof m);
        Py_XDECREF(t);
        Py_XDECREF(v);
        Py_XDECREF(tb);
        return brd_error_set(err, BRD_E_INTERNAL, "sandbox warm-up failed: %s", m);
    }
}

/* ---- one sandboxed process ------------------------------------------------------------ */

int brd_runner_after_fork(void)
{
    /* What random's own at-fork hook (Random.seed()) does: a new state from
     * the system's random source, and no gauss() value carried over from
     * the zygote's warm-up.  No two processes share a random stream. */
    PyObject *r = PyObject_CallOneArg(g_random_seed, g_random);
    if (!r)
        return -1;
    Py_DECREF(r);
    return PyObject_SetAttrString(g_random, "gauss_next", Py_None);
}

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
        send_reply(BRD_PROTO_RESULT, BRD_E_FUNCTION_ERROR, msg, (size_t)m, NULL, 0);
        return;
    }
    int rc = send_reply(BRD_PROTO_RESULT, 0, s, (size_t)n, NULL, 0);
    Py_DECREF(text);
    if (rc != 0)
        _exit(BRD_SBX_EXIT_DONE);
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

/* From INIT (h, payload): the function's module, registered in sys.modules,
 * its globals with the builtins of the layers (the capture is sys.stdout
 * and sys.stderr since the warm-up).  *code is the module's code (not run yet).  0, or -1:
 * then the process must not run user code. */
static int setup_module(enum brd_sandbox_layers layers, const struct brd_proto_hdr *h,
                        const char *payload, PyObject **code, PyObject **globals_out)
{
    const char *code_bytes = payload;
    const char *source = payload + h->len[0];
    snprintf(g_modname, sizeof g_modname, "%.*s", (int)h->len[2], source + h->len[1]);
    snprintf(g_filename, sizeof g_filename, "%.*s", (int)h->len[3], source + h->len[1] + h->len[2]);
    size_t tb_max = h->seq > 0 && h->seq < (1u << 24) ? (size_t)h->seq : 16 * 1024;
    /* The source is copied: payload is freed once the module is set up,
     * and tracebacks of later calls still quote it. */
    if (brd_pyerr_setup(tb_max, g_filename, source, h->len[1]) != 0)
        return -1;

    *code = PyMarshal_ReadObjectFromString(code_bytes, h->len[0]);
    PyObject *modules = PySys_GetObject("modules"); /* borrowed */
    if (!*code || !PyCode_Check(*code) || !modules)
        return -1;
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
        return -1;
    Py_DECREF(fname);

    if (layers == BRD_SANDBOX_ALL) {
        if (brd_guard_install(globals, g_modname) != 0)
            return -1;
    } else {
        PyObject *real_builtins = PyImport_AddModule("builtins"); /* borrowed */
        if (!real_builtins || PyDict_SetItemString(globals, "__builtins__", real_builtins) != 0)
            return -1;
    }
    *globals_out = globals;
    return 0;
}

void brd_runner_main(enum brd_sandbox_layers layers, const struct sock_filter *bpf,
                     unsigned short bpf_len)
{
    struct brd_proto_hdr h;
    char *payload;
    if (read_frame(&h, &payload) != 0 || h.type != BRD_PROTO_INIT)
        _exit(BRD_SBX_EXIT_DONE); /* the pool is gone (or not a pool) */
    brd_sbx_g.result_max = (size_t)h.arg;
    cap_max = h.aux;
    cap_len = cap_dropped = 0; /* nothing of the zygote's (it prints nothing) */
    cap_buf = malloc(cap_max + 1);
    PyObject *code = NULL, *globals = NULL;
    if (!cap_buf || setup_module(layers, &h, payload, &code, &globals) != 0)
        _exit(BRD_SBX_EXIT_SETUP);

    /* The seal: from here on the process can only compute and use fd 3. */
    if (brd_policy_load(bpf, bpf_len) != 0)
        _exit(BRD_SBX_EXIT_SEAL);
    brd_guard_seal();
    g_in_call = 0;
    dry_run();

    /* No user code runs before the first CALL (docs/sandbox.md, "No code
     * without a call"): the module's top-level code runs inside that call's
     * time budget, which the pool enforces.  A spare or prewarmed process
     * waits here having run none of it. */
    free(payload);
    if (read_frame(&h, &payload) != 0 || h.type != BRD_PROTO_CALL)
        _exit(BRD_SBX_EXIT_DONE);
    PyObject *r = PyEval_EvalCode(code, globals, globals);
    Py_DECREF(code);
    if (!r) {
        send_exception(BRD_PROTO_READY, "error while loading the module: ");
        _exit(BRD_SBX_EXIT_DONE);
    }
    Py_DECREF(r);
    PyObject *handler = PyDict_GetItemString(globals, "handler");
    if (!handler || !PyCallable_Check(handler)) {
        static const char msg[] = "the module defines no callable `handler`";
        send_reply(BRD_PROTO_READY, BRD_E_FUNCTION_ERROR, msg, sizeof msg - 1, NULL, 0);
        _exit(BRD_SBX_EXIT_DONE);
    }
    Py_INCREF(handler);
    /* Top-level print() output stays in the capture for the first call. */
    struct brd_proto_hdr ready = {.magic = BRD_PROTO_MAGIC, .type = BRD_PROTO_READY};
    if (write_all(&ready, sizeof ready) != 0)
        _exit(BRD_SBX_EXIT_DONE);

    for (;;) {
        serve_call(handler, &h, payload);
        free(payload);
        if (read_frame(&h, &payload) != 0)
            _exit(BRD_SBX_EXIT_DONE);
        if (h.type != BRD_PROTO_CALL)
            _exit(BRD_SBX_EXIT_DONE);
    }
}
