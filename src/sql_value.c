/* sql_value.c — database values as JSON: declared kinds, ISO 8601 dates,
 * base64, UTF-8 (see sql_value.h). */
#include "sql_value.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum brd_sqlval_kind brd_sqlval_kind_of(const char *declared)
{
    if (!declared)
        return BRD_SQLVAL_PLAIN;
    while (isspace((unsigned char)*declared))
        declared++;
    size_t n = 0;
    while (isalnum((unsigned char)declared[n]) || declared[n] == '_')
        n++;
    static const struct {
        const char *word;
        enum brd_sqlval_kind kind;
    } words[] = {
        {"BOOL", BRD_SQLVAL_BOOL},         {"BOOLEAN", BRD_SQLVAL_BOOL},
        {"DATE", BRD_SQLVAL_DATETIME},     {"DATETIME", BRD_SQLVAL_DATETIME},
        {"TIMESTAMP", BRD_SQLVAL_DATETIME}, {"TIMESTAMPTZ", BRD_SQLVAL_DATETIME},
        {"JSON", BRD_SQLVAL_JSON},
    };
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (strlen(words[i].word) == n && !strncasecmp(declared, words[i].word, n))
            return words[i].kind;
    return BRD_SQLVAL_PLAIN;
}

/* True when s[0..n) matches the digit/separator pattern pat ('d' a digit). */
static bool shaped(const char *s, const char *pat, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (pat[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != pat[i])
            return false;
    }
    return true;
}

int brd_sqlval_datetime(const char *s, size_t n, struct json_object **out)
{
    /* "YYYY-MM-DD HH:MM": 16 bytes at least, the space at 10. */
    static const char pat[] = "dddd-dd-dd dd:dd";
    *out = NULL;
    if (n >= sizeof pat - 1 && shaped(s, pat, sizeof pat - 1)) {
        char *copy = malloc(n);
        if (!copy)
            return -1;
        memcpy(copy, s, n);
        copy[10] = 'T';
        *out = json_object_new_string_len(copy, (int)n);
        free(copy);
    } else {
        *out = json_object_new_string_len(s, (int)n);
    }
    return *out ? 0 : -1;
}

int brd_sqlval_base64(const void *p, size_t n, struct json_object **out)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *in = p;
    *out = NULL;
    size_t len = (n + 2) / 3 * 4;
    char *buf = malloc(len + 1);
    if (!buf)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        buf[o++] = alphabet[(v >> 18) & 63];
        buf[o++] = alphabet[(v >> 12) & 63];
        buf[o++] = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
        buf[o++] = i + 2 < n ? alphabet[v & 63] : '=';
    }
    buf[o] = '\0';
    *out = json_object_new_string_len(buf, (int)o);
    free(buf);
    return *out ? 0 : -1;
}

bool brd_sqlval_utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned c = u[i];
        size_t len;
        unsigned cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            len = 2, cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3, cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4, cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((u[i + k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (u[i + k] & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

struct json_object *brd_sqlval_decimal(const char *s, size_t n)
{
    char norm[80];
    if (n == 0 || n >= sizeof norm)
        return json_object_new_string_len(s, (int)n);
    memcpy(norm, s, n);
    norm[n] = '\0';
    /* Trailing zeros of the fraction say nothing about the value. */
    char *dot = strchr(norm, '.');
    if (dot) {
        char *end = norm + n;
        while (end > dot + 1 && end[-1] == '0')
            *--end = '\0';
        if (end == dot + 1)
            *dot = '\0';
    }
    if (!strcmp(norm, "-0"))
        strcpy(norm, "0");
    if (!strchr(norm, '.')) {
        errno = 0;
        char *end = NULL;
        long long x = strtoll(norm, &end, 10);
        if (errno == 0 && end && *end == '\0' && end != norm)
            return json_object_new_int64(x);
        return json_object_new_string_len(s, (int)n);
    }
    double d = strtod(norm, NULL);
    struct json_object *o = brd_json_new_double(d);
    if (!o)
        return json_object_new_string_len(s, (int)n);
    const char *back = json_object_to_json_string(o);
    /* The shortest text of the double is the decimal itself (leading
     * zero before the point written the same way by both). */
    if (back && !strcmp(back, norm))
        return o;
    json_object_put(o);
    return json_object_new_string_len(s, (int)n);
}
