/* pyerror.c — exceptions as text inside a sandboxed process: "Type:
 * message" and the traceback, formatted in C because the traceback module
 * would read source files (there are none once the process is sealed); the
 * function's own lines come from the copy of its source sent with INIT. */
#include "runner.h"

#include <frameobject.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *tb_buf;              /* the traceback being formatted */
static size_t tb_len, tb_max;
static char *src;                 /* the function's source: our own copy, for
                                     the whole life of the process */
static size_t src_len;
static char filename[96];

int brd_pyerr_setup(size_t traceback_max, const char *fname, const char *source, size_t source_len)
{
    tb_max = traceback_max;
    tb_buf = malloc(tb_max + 1);
    src = malloc(source_len + 1);
    if (!tb_buf || !src)
        return -1;
    if (source_len)
        memcpy(src, source, source_len);
    src[source_len] = '\0';
    src_len = source_len;
    snprintf(filename, sizeof filename, "%s", fname);
    return 0;
}

static void tb_append(const char *s, size_t n)
{
    n = brd_runner_utf8_fit(s, n, tb_max - tb_len);
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
    if (!src)
        return;
    const char *p = src, *end = src + src_len;
    for (int l = 1; l < lineno && p < end; l++) {
        p = memchr(p, '\n', (size_t)(end - p));
        if (!p)
            return;
        p++;
    }
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p >= end)
        return;
    const char *e = memchr(p, '\n', (size_t)(end - p));
    if (!e)
        e = end;
    while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        e--;
    *s = p;
    *n = (size_t)(e - p);
}

const char *brd_pyerr_utf8_or(PyObject *u, const char *fallback)
{
    const char *s = u && PyUnicode_Check(u) ? PyUnicode_AsUTF8(u) : NULL;
    if (!s)
        PyErr_Clear();
    return s ? s : fallback;
}

void brd_pyerr_message(PyObject *type, PyObject *value, char *buf, size_t size)
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
        const char *file = brd_pyerr_utf8_or(code->co_filename, "?");
        tb_printf("  File \"%s\", line %d, in %s\n", file, line, brd_pyerr_utf8_or(code->co_name, "?"));
        if (strcmp(file, filename) == 0) {
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

void brd_pyerr_take(const char *prefix, struct brd_pyerr *out)
{
    PyObject *etype, *value, *tb;
    PyErr_Fetch(&etype, &value, &tb);
    PyErr_NormalizeException(&etype, &value, &tb);
    out->code = BRD_E_FUNCTION_ERROR;
    out->tb = NULL;
    out->tb_len = 0;
    if (etype && PyErr_GivenExceptionMatches(etype, PyExc_MemoryError)) {
        /* Drop the frames (and what they hold) before anything allocates. */
        out->code = BRD_E_FUNCTION_MEMORY;
        Py_XDECREF(tb);
        tb = NULL;
        snprintf(out->msg, sizeof out->msg, "%sMemoryError", prefix);
    } else {
        char m[400];
        brd_pyerr_message(etype, value, m, sizeof m);
        snprintf(out->msg, sizeof out->msg, "%s%s", prefix, m);
        format_traceback(tb, m);
        out->tb = tb_buf;
        out->tb_len = tb_len;
    }
    PyErr_Clear();
    Py_XDECREF(etype);
    Py_XDECREF(value);
    Py_XDECREF(tb);
}
