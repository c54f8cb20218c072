/* error.c — filling and naming struct brd_error (see error.h). */
#include "error.h"
#include "utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void brd_error_clear(struct brd_error *err)
{
    if (!err)
        return;
    err->code = BRD_OK;
    err->pos = -1;
    err->node[0] = '\0';
    err->msg[0] = '\0';
}

static int fill(struct brd_error *err, enum brd_code code, long pos,
                const char *fmt, va_list ap)
{
    if (!err)
        return -1;
    err->code = code;
    err->pos = pos;
    err->node[0] = '\0';
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    /* Messages quote untrusted bytes (an upstream's body, a sandbox's
     * reply) and truncation may cut a sequence: they are always UTF-8, so
     * that every JSON text that carries one is valid. */
    brd_utf8_scrub(err->msg, strlen(err->msg));
    if (!err->msg[0])
        snprintf(err->msg, sizeof err->msg, "%s", brd_code_name(code));
    return -1;
}

int brd_error_set(struct brd_error *err, enum brd_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fill(err, code, -1, fmt, ap);
    va_end(ap);
    return -1;
}

int brd_error_at(struct brd_error *err, enum brd_code code, long pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fill(err, code, pos, fmt, ap);
    va_end(ap);
    return -1;
}

int brd_error_prefix(struct brd_error *err, const char *fmt, ...)
{
    if (!err)
        return -1;
    char prefix[BRD_ERROR_MSG_MAX], old[BRD_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
    return -1;
}

int brd_error_nomem(struct brd_error *err)
{
    return brd_error_set(err, BRD_E_NOMEM, "out of memory");
}

static const struct {
    const char *name;
    int status;
} codes[] = {
    [BRD_OK] = {"OK", 200},
    [BRD_E_BAD_REQUEST] = {"BAD_REQUEST", 400},
    [BRD_E_PARAM_MISSING] = {"PARAM_MISSING", 400},
    [BRD_E_NOT_FOUND] = {"NOT_FOUND", 404},
    [BRD_E_METHOD_NOT_ALLOWED] = {"METHOD_NOT_ALLOWED", 405},
    [BRD_E_PAYLOAD_TOO_LARGE] = {"PAYLOAD_TOO_LARGE", 413},
    [BRD_E_API_ERROR] = {"API_ERROR", 502},
    [BRD_E_API_TIMEOUT] = {"API_TIMEOUT", 504},
    [BRD_E_TIMEOUT] = {"TIMEOUT", 504},
    [BRD_E_DATASOURCE_ERROR] = {"DATASOURCE_ERROR", 502},
    [BRD_E_DATASOURCE_TIMEOUT] = {"DATASOURCE_TIMEOUT", 504},
    [BRD_E_FUNCTION_ERROR] = {"FUNCTION_ERROR", 500},
    [BRD_E_FUNCTION_TIMEOUT] = {"FUNCTION_TIMEOUT", 500},
    [BRD_E_FUNCTION_MEMORY] = {"FUNCTION_MEMORY", 500},
    [BRD_E_SANDBOX_VIOLATION] = {"SANDBOX_VIOLATION", 500},
    [BRD_E_EXPRESSION_ERROR] = {"EXPRESSION_ERROR", 500},
    [BRD_E_NO_BRANCH_MATCHED] = {"NO_BRANCH_MATCHED", 500},
    [BRD_E_INTERNAL] = {"INTERNAL", 500},
    [BRD_E_SYNTAX] = {"SYNTAX", 500},
    [BRD_E_LOAD] = {"LOAD", 500},
    [BRD_E_IO] = {"IO", 500},
    [BRD_E_NOMEM] = {"INTERNAL", 500},
    [BRD_E_USAGE] = {"USAGE", 500},
};

const char *brd_code_name(enum brd_code code)
{
    if ((unsigned)code >= sizeof codes / sizeof codes[0])
        return "INTERNAL";
    return codes[code].name;
}

enum brd_code brd_code_from_name(const char *name)
{
    for (int c = BRD_E_BAD_REQUEST; c <= BRD_E_INTERNAL; c++)
        if (name && !strcmp(name, codes[c].name))
            return (enum brd_code)c;
    return BRD_OK;
}

int brd_code_http_status(enum brd_code code)
{
    if ((unsigned)code >= sizeof codes / sizeof codes[0])
        return 500;
    return codes[code].status;
}
