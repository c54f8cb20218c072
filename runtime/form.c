/* form.c — percent-decoding, query strings and form bodies, and the
 * request path (form.h).  Every byte here comes from the network: each
 * function is bounded by its length argument and never reads past it. */
#include "form.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

int brd_form_unescape(const char *s, size_t n, bool plus, char *out, size_t *outlen,
                      struct brd_error *err)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            int a = i + 2 < n ? brd_hexval((unsigned char)s[i + 1]) : -1;
            int b = i + 2 < n ? brd_hexval((unsigned char)s[i + 2]) : -1;
            if (a < 0 || b < 0)
                return brd_error_at(err, BRD_E_BAD_REQUEST, (long)i, "invalid percent escape");
            out[o++] = (char)(a * 16 + b);
            i += 2;
        } else if (c == '+' && plus) {
            out[o++] = ' ';
        } else {
            out[o++] = c;
        }
    }
    out[o] = '\0';
    *outlen = o;
    return 0;
}

bool brd_form_utf8_valid(const char *text, size_t n)
{
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t len;
        unsigned min, cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            len = 2, min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3, min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4, min = 0x10000;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        cp = c & (0x7F >> len);
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

/* obj[key] = val, or appended to the array of a repeated key. */
static int add_field(struct json_object *obj, const char *key, const char *val, size_t vlen,
                     struct brd_error *err)
{
    struct json_object *v = json_object_new_string_len(val, (int)vlen), *old;
    if (!v)
        return brd_error_nomem(err);
    if (!json_object_object_get_ex(obj, key, &old))
        return brd_json_add(obj, key, v) == 0 ? 0 : brd_error_nomem(err);
    /* A repeated key: its values, in order, as an array. */
    if (json_object_is_type(old, json_type_array))
        return brd_json_append(old, v) == 0 ? 0 : brd_error_nomem(err);
    struct json_object *arr = json_object_new_array();
    if (!arr || brd_json_append(arr, brd_json_ref(old)) != 0) {
        json_object_put(arr);
        json_object_put(v);
        return brd_error_nomem(err);
    }
    if (brd_json_append(arr, v) != 0) {
        json_object_put(arr);
        return brd_error_nomem(err);
    }
    return brd_json_add(obj, key, arr) == 0 ? 0 : brd_error_nomem(err);
}

/* One "name=value" pair, p[0..n) (n > 0, no '&'); buf has room for n + 1. */
static int parse_pair(const char *p, size_t n, const char *what, char *buf,
                      struct json_object *obj, struct brd_error *err)
{
    const char *eq = memchr(p, '=', n);
    size_t klen = eq ? (size_t)(eq - p) : n, kd, vd;
    if (brd_form_unescape(p, klen, true, buf, &kd, err) != 0)
        return brd_error_set(err, BRD_E_BAD_REQUEST, "%s: invalid percent escape in a name", what);
    if (memchr(buf, '\0', kd))
        return brd_error_set(err, BRD_E_BAD_REQUEST, "%s: a name contains a NUL byte (%%00)",
                             what);
    if (!brd_form_utf8_valid(buf, kd))
        return brd_error_set(err, BRD_E_BAD_REQUEST, "%s: a name is not valid UTF-8 text", what);
    char *key = strndup(buf, kd);
    if (!key)
        return brd_error_nomem(err);
    size_t voff = eq ? klen + 1 : n;
    int rc = 0;
    if (brd_form_unescape(p + voff, n - voff, true, buf, &vd, err) != 0)
        rc = brd_error_set(err, BRD_E_BAD_REQUEST,
                           "%s: invalid percent escape in the value of '%.64s'", what, key);
    else if (!brd_form_utf8_valid(buf, vd))
        rc = brd_error_set(err, BRD_E_BAD_REQUEST,
                           "%s: the value of '%.64s' is not valid UTF-8 text", what, key);
    else if (kd > 0) /* "=v" has no name to go by */
        rc = add_field(obj, key, buf, vd, err);
    free(key);
    return rc;
}

int brd_form_parse(const char *text, size_t len, const char *what, struct json_object *obj,
                   struct brd_error *err)
{
    /* json-c's string lengths are ints; callers' limits (--max-body, the
     * front server's header size) are far below this. */
    if (len > (size_t)INT_MAX - 2)
        return brd_error_set(err, BRD_E_BAD_REQUEST, "%s: too long", what);
    char *buf = malloc(len + 1);
    if (!buf)
        return brd_error_nomem(err);
    int rc = 0;
    for (size_t i = 0; i < len && rc == 0;) {
        const char *amp = memchr(text + i, '&', len - i);
        size_t j = amp ? (size_t)(amp - text) : len;
        if (j > i) /* "a&&b": empty pairs are skipped */
            rc = parse_pair(text + i, j - i, what, buf, obj, err);
        i = j + 1;
    }
    free(buf);
    return rc;
}

int brd_form_decode_path(const char *raw, size_t n, char **out, struct brd_error *err)
{
    *out = NULL;
    char *p = malloc(n + 1);
    if (!p)
        return brd_error_nomem(err);
    size_t d;
    const char *bad = NULL;
    if (brd_form_unescape(raw, n, false, p, &d, err) != 0)
        bad = "the request path has an invalid percent escape";
    else if (memchr(p, '\0', d))
        bad = "the request path contains a NUL byte (%00)";
    else if (!brd_form_utf8_valid(p, d))
        bad = "the request path is not valid UTF-8 text";
    /* No ".." segment may reach a lookup, even one that would only match
     * nothing: routes are plain names, and paths are compared as given. */
    for (const char *s = p; !bad && (s = strstr(s, "..")) != NULL; s += 2)
        if ((s == p || s[-1] == '/') && (s[2] == '\0' || s[2] == '/'))
            bad = "the request path has a '..' segment";
    if (bad) {
        free(p);
        return brd_error_set(err, BRD_E_BAD_REQUEST, "%s", bad);
    }
    *out = p;
    return 0;
}
