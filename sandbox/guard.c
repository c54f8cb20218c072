/* guard.c — the Python guard layers of a sandboxed process (a security
 * surface, as policy.c is for seccomp): the C import policy, trimmed
 * builtins with an open() that reports a violation, the allow-list of
 * globals pickle may look up, and the audit hook that ends the process on
 * anything else.  They exist for clear messages; seccomp holds alone
 * (docs/sandbox.md, "The layers").  Off with BRAID_SANDBOX_LAYERS=seccomp-only. */
#include "runner.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

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

static char modname[96];          /* the function's module (__name__) */
static int sealed;                /* user code may have run: the audit hook bites */

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

/* ---- import policy and open() ------------------------------------------------------ */

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
    if (strcmp(s, modname) == 0 || in_list(s, quiet, sizeof quiet / sizeof quiet[0])) {
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
    snprintf(what, sizeof what, "open(%.200s): functions have no files",
             r ? brd_pyerr_utf8_or(r, "...") : "");
    brd_runner_violation(what);
}

static PyMethodDef import_def = {"__import__", (PyCFunction)(void (*)(void))policy_import,
                                 METH_VARARGS | METH_KEYWORDS,
                                 "Import one of the modules a function may use."};
static PyMethodDef open_def = {"open", (PyCFunction)(void (*)(void))policy_open,
                               METH_VARARGS | METH_KEYWORDS, "Functions cannot open files."};

/* ---- the audit hook ---------------------------------------------------------------- */

/* Globals that pickle may look up (audit event pickle.find_class). */
static bool pickle_global_ok(const char *mod, const char *name)
{
    static const char *const builtin_types[] = {
        "set", "frozenset", "list", "dict", "tuple", "bytearray", "bytes", "str", "int",
        "float", "complex", "bool", "object", "range", "slice",
    };
    if (strcmp(mod, modname) == 0) {
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
    if (!sealed)
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
                     brd_pyerr_utf8_or(m, "?"));
        return -1;
    }
    char what[300];
    if (strcmp(event, "pickle.find_class") == 0 && PyTuple_Check(args) && PyTuple_GET_SIZE(args) == 2) {
        const char *mod = brd_pyerr_utf8_or(PyTuple_GET_ITEM(args, 0), "?");
        const char *name = brd_pyerr_utf8_or(PyTuple_GET_ITEM(args, 1), "?");
        if (pickle_global_ok(mod, name))
            return 0;
        snprintf(what, sizeof what, "unpickling the global %.100s.%.100s", mod, name);
        brd_runner_violation(what);
    }
    if ((strcmp(event, "object.__setattr__") == 0 || strcmp(event, "object.__delattr__") == 0) &&
        PyTuple_Check(args) && PyTuple_GET_SIZE(args) >= 2 &&
        strcmp(brd_pyerr_utf8_or(PyTuple_GET_ITEM(args, 1), ""), "__code__") != 0)
        return 0;
    if (strcmp(event, "object.__getattr__") == 0 && PyTuple_Check(args) && PyTuple_GET_SIZE(args) >= 2) {
        snprintf(what, sizeof what, "reading the attribute %.100s (frames and code objects are off limits)",
                 brd_pyerr_utf8_or(PyTuple_GET_ITEM(args, 1), "?"));
        brd_runner_violation(what);
    }
    snprintf(what, sizeof what, "%.200s (audit event)", event);
    brd_runner_violation(what);
}

/* ---- installing them ---------------------------------------------------------------- */

static PyObject *trimmed;         /* the builtins of user code, made once in the zygote */

int brd_guard_prepare(void)
{
    PyObject *real_builtins = PyImport_AddModule("builtins"); /* borrowed */
    if (!real_builtins)
        return -1;
    /* Trimmed builtins: the import policy, open() that reports a
     * violation, nothing that reads the terminal or starts a debugger. */
    PyObject *b = PyDict_Copy(PyModule_GetDict(real_builtins));
    PyObject *imp = PyCFunction_NewEx(&import_def, NULL, NULL);
    PyObject *op = PyCFunction_NewEx(&open_def, NULL, NULL);
    int rc = -1;
    if (!b || !imp || !op || PyDict_SetItemString(b, "__import__", imp) != 0 ||
        PyDict_SetItemString(b, "open", op) != 0)
        goto out;
    static const char *const drop[] = {"input", "breakpoint", "help", "exit", "quit",
                                       "copyright", "credits", "license"};
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
        if (PyDict_DelItemString(b, drop[i]) != 0)
            PyErr_Clear();
    trimmed = b;
    b = NULL;
    rc = 0;
out:
    Py_XDECREF(b);
    Py_XDECREF(imp);
    Py_XDECREF(op);
    return rc;
}

int brd_guard_install(PyObject *globals, const char *name)
{
    snprintf(modname, sizeof modname, "%s", name);
    if (!trimmed || PyDict_SetItemString(globals, "__builtins__", trimmed) != 0)
        return -1;
    /* The audit hook cannot be removed; until the seal it lets all pass. */
    return PySys_AddAuditHook(audit_hook, NULL) == 0 ? 0 : -1;
}

void brd_guard_seal(void)
{
    sealed = 1;
}
