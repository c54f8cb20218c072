/* json_parse.c — the one strict JSON reader (brd_json_parse, jsonutil.h).
 *
 * Every JSON text Braid takes in — request bodies, API answers, definitions,
 * the results a sandboxed function sends back — is read here, in one pass
 * that checks RFC 8259 and builds the json-c value.  It replaced
 * json_tokener because that reader changes values silently where JSON does
 * not: an integer outside int64/uint64 was clamped (10**30 became
 * 18446744073709551615), and an object key containing U+0000 was cut at the
 * NUL, so {"role": "user", "role\u0000x": "admin"} set role to admin.  Here:
 *   - an integer that fits int64 (or, when positive, uint64) is an integer;
 *     one that does not is kept as a number whose serialisation is the
 *     original text, so it passes through exactly;
 *   - a number with a fraction or exponent is a double that also keeps its
 *     original text (as json-c did);
 *   - U+0000 in a key is an error (json-c keys are C strings); in a string
 *     value it is kept (json-c strings carry their length);
 *   - strings must be valid UTF-8 (no overlongs, no UTF-8-encoded
 *     surrogates, nothing past U+10FFFF); a \u escape of a lone surrogate
 *     becomes U+FFFD, as json-c did.
 * Errors name the byte offset of the first bad byte. */
#include "jsonutil.h"
#include "utf8.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct reader {
    const char *s;
    size_t len, i;
    const char *what;   /* the problem, once one is found */
    long bad;           /* its offset */
    char *buf;          /* decoded string scratch (owned) */
    size_t cap;
    bool nomem;
};

static bool fail(struct reader *r, size_t at, const char *what)
{
    if (r->bad < 0) {
        r->bad = (long)at;
        r->what = what;
    }
    return false;
}

static bool reserve(struct reader *r, size_t n)
{
    if (n <= r->cap)
        return true;
    size_t cap = r->cap ? r->cap : 64;
    while (cap < n)
        cap *= 2;
    char *b = realloc(r->buf, cap);
    if (!b) {
        r->nomem = true;
        return fail(r, r->i, "out of memory");
    }
    r->buf = b;
    r->cap = cap;
    return true;
}

static void ws(struct reader *r)
{
    while (r->i < r->len && (r->s[r->i] == ' ' || r->s[r->i] == '\t' ||
                             r->s[r->i] == '\n' || r->s[r->i] == '\r'))
        r->i++;
}

static int hex4(const char *p)
{
    int v = 0;
    for (int k = 0; k < 4; k++) {
        int d = brd_hexval((unsigned char)p[k]);
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Reads the string at r->i (a '"') into r->buf[0..*n).  *has_nul tells
 * whether it decoded a U+0000. */
static bool read_string(struct reader *r, size_t *n, bool *has_nul)
{
    const char *s = r->s;
    size_t o = 0;
    *has_nul = false;
    r->i++;
    for (;;) {
        /* Room for the longest step (4 bytes) and the NUL, grown as the
         * string needs it: never the size of the whole text. */
        if (!reserve(r, o + 5))
            return false;
        if (r->i >= r->len)
            return fail(r, r->i, "unterminated string");
        unsigned char u = (unsigned char)s[r->i];
        if (u == '"') {
            r->i++;
            r->buf[o] = '\0';
            *n = o;
            return true;
        }
        if (u < 0x20)
            return fail(r, r->i, "control character in string");
        if (u != '\\') {
            size_t k = brd_utf8_seq((const unsigned char *)s + r->i, r->len - r->i);
            if (!k)
                return fail(r, r->i, "invalid UTF-8 in string");
            memcpy(r->buf + o, s + r->i, k);
            o += k;
            r->i += k;
            continue;
        }
        r->i++;
        if (r->i >= r->len)
            return fail(r, r->i, "unterminated string");
        char e = s[r->i];
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            static const char out[] = "\"\\/\b\f\n\r\t";
            r->buf[o++] = out[simple - "\"\\/bfnrt"];
            r->i++;
            continue;
        }
        if (e != 'u')
            return fail(r, r->i, "bad escape in string");
        int cp = r->i + 4 < r->len ? hex4(s + r->i + 1) : -1;
        if (cp < 0)
            return fail(r, r->i, "bad \\u escape");
        r->i += 5;
        if (cp >= 0xD800 && cp <= 0xDBFF && r->i + 5 < r->len && s[r->i] == '\\' && s[r->i + 1] == 'u') {
            int lo = hex4(s + r->i + 2);
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                r->i += 6;
            }
        }
        if (cp >= 0xD800 && cp <= 0xDFFF)
            cp = 0xFFFD; /* a lone surrogate */
        if (cp == 0)
            *has_nul = true;
        o += brd_utf8_put(r->buf + o, (uint32_t)cp);
    }
}

/* Reads the number at r->i into a new value (*v; NULL only on no memory). */
static bool read_number(struct reader *r, struct json_object **v)
{
    const char *s = r->s;
    size_t at = r->i, i = r->i;
    bool integer = true;
    if (s[i] == '-')
        i++;
    if (i < r->len && s[i] == '0')
        i++;
    else if (i < r->len && s[i] >= '1' && s[i] <= '9')
        while (i < r->len && s[i] >= '0' && s[i] <= '9') i++;
    else
        return fail(r, at, "bad number");
    if (i < r->len && s[i] == '.') {
        integer = false;
        i++;
        if (i >= r->len || s[i] < '0' || s[i] > '9')
            return fail(r, i, "bad number");
        while (i < r->len && s[i] >= '0' && s[i] <= '9') i++;
    }
    if (i < r->len && (s[i] == 'e' || s[i] == 'E')) {
        integer = false;
        i++;
        if (i < r->len && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= r->len || s[i] < '0' || s[i] > '9')
            return fail(r, i, "bad number");
        while (i < r->len && s[i] >= '0' && s[i] <= '9') i++;
    }
    r->i = i;
    size_t n = i - at;
    char small[64], *text = n < sizeof small ? small : malloc(n + 1);
    if (!text) {
        r->nomem = true;
        return fail(r, at, "out of memory");
    }
    memcpy(text, s + at, n);
    text[n] = '\0';
    bool exact = false;
    if (integer) {
        errno = 0;
        if (text[0] == '-') {
            long long x = strtoll(text, NULL, 10);
            if (errno == 0) {
                *v = json_object_new_int64(x);
                exact = true;
            }
        } else {
            unsigned long long x = strtoull(text, NULL, 10);
            if (errno == 0) {
                *v = x <= INT64_MAX ? json_object_new_int64((int64_t)x) : json_object_new_uint64(x);
                exact = true;
            }
        }
    }
    if (!exact) /* a fraction, an exponent, or an integer too big for 64 bits */
        *v = json_object_new_double_s(strtod(text, NULL), text);
    if (text != small)
        free(text);
    if (!*v) {
        r->nomem = true;
        return fail(r, at, "out of memory");
    }
    return true;
}

struct frame {
    struct json_object *c;
    char *key;     /* pending key of an object, owned */
};

/* Stores v (consumed) into the innermost container, or as the root. */
static bool attach(struct reader *r, struct frame *st, int depth, struct json_object **root,
                   struct json_object *v)
{
    if (depth == 0) {
        *root = v;
        return true;
    }
    struct frame *f = &st[depth - 1];
    int rc;
    if (json_object_is_type(f->c, json_type_array)) {
        rc = brd_json_append(f->c, v);
    } else {
        rc = brd_json_add(f->c, f->key, v);
        free(f->key);
        f->key = NULL;
    }
    if (rc != 0) {
        r->nomem = true;
        return fail(r, r->i, "out of memory");
    }
    return true;
}

static struct json_object *read_text(struct reader *r)
{
    struct frame st[BRD_JSON_MAX_DEPTH];
    int depth = 0;
    struct json_object *root = NULL;
    enum { VALUE, AFTER_VALUE, KEY } want = VALUE;
    const char *s = r->s;
    bool ok = true;
    while (ok) {
        ws(r);
        if (want == KEY) {
            if (r->i >= r->len || s[r->i] != '"') {
                ok = fail(r, r->i, "expected a string key");
                break;
            }
            size_t at = r->i, n;
            bool nul;
            if (!(ok = read_string(r, &n, &nul)))
                break;
            if (nul) {
                ok = fail(r, at, "object key contains U+0000 (\\u0000)");
                break;
            }
            ws(r);
            if (r->i >= r->len || s[r->i] != ':') {
                ok = fail(r, r->i, "expected ':'");
                break;
            }
            r->i++;
            if (!(st[depth - 1].key = strdup(r->buf))) {
                r->nomem = true;
                ok = fail(r, at, "out of memory");
                break;
            }
            want = VALUE;
            continue;
        }
        if (want == AFTER_VALUE) {
            if (depth == 0) {
                if (r->i != r->len)
                    ok = fail(r, r->i, "unexpected data after the value");
                break;
            }
            bool obj = json_object_is_type(st[depth - 1].c, json_type_object);
            if (r->i < r->len && s[r->i] == ',') {
                r->i++;
                want = obj ? KEY : VALUE;
                continue;
            }
            if (r->i < r->len && s[r->i] == (obj ? '}' : ']')) {
                r->i++;
                struct json_object *done = st[--depth].c;
                if (!(ok = attach(r, st, depth, &root, done)))
                    break;
                continue;
            }
            ok = fail(r, r->i, obj ? "expected ',' or '}'" : "expected ',' or ']'");
            break;
        }
        if (r->i >= r->len) {
            ok = fail(r, r->i, "unexpected end of input");
            break;
        }
        char c = s[r->i];
        struct json_object *v = NULL;
        if (c == '{' || c == '[') {
            if (depth == BRD_JSON_MAX_DEPTH) {
                ok = fail(r, r->i, "nesting too deep");
                break;
            }
            struct json_object *box = c == '{' ? json_object_new_object() : json_object_new_array();
            if (!box) {
                r->nomem = true;
                ok = fail(r, r->i, "out of memory");
                break;
            }
            st[depth].c = box;
            st[depth].key = NULL;
            depth++;
            r->i++;
            ws(r);
            if (r->i < r->len && s[r->i] == (c == '{' ? '}' : ']')) {
                r->i++;
                depth--;
                if (!(ok = attach(r, st, depth, &root, box)))
                    break;
                want = AFTER_VALUE;
                continue;
            }
            want = c == '{' ? KEY : VALUE;
            continue;
        }
        if (c == '"') {
            size_t n;
            bool nul;
            if (!(ok = read_string(r, &n, &nul)))
                break;
            if (!(v = json_object_new_string_len(r->buf, (int)n))) {
                r->nomem = true;
                ok = fail(r, r->i, "out of memory");
                break;
            }
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            if (!(ok = read_number(r, &v)))
                break;
        } else if (r->len - r->i >= 4 && memcmp(s + r->i, "true", 4) == 0) {
            r->i += 4;
            v = json_object_new_boolean(1);
        } else if (r->len - r->i >= 5 && memcmp(s + r->i, "false", 5) == 0) {
            r->i += 5;
            v = json_object_new_boolean(0);
        } else if (r->len - r->i >= 4 && memcmp(s + r->i, "null", 4) == 0) {
            r->i += 4;
            v = NULL;
        } else {
            ok = fail(r, r->i, "expected a JSON value");
            break;
        }
        if ((c == 't' || c == 'f') && !v) {
            r->nomem = true;
            ok = fail(r, r->i, "out of memory");
            break;
        }
        if (!(ok = attach(r, st, depth, &root, v)))
            break;
        want = AFTER_VALUE;
    }
    if (!ok) {
        /* An open container is attached to its parent only when it closes:
         * each is freed on its own. */
        for (int k = 0; k < depth; k++) {
            free(st[k].key);
            json_object_put(st[k].c);
        }
        json_object_put(root);
        return NULL;
    }
    return root;
}

int brd_json_parse(const char *text, size_t len, struct json_object **out,
                   struct brd_error *err)
{
    *out = NULL;
    if (len > (size_t)INT32_MAX)
        return brd_error_set(err, BRD_E_SYNTAX, "JSON text too large (%zu bytes)", len);
    struct reader r = {.s = text, .len = len, .bad = -1};
    struct json_object *v = read_text(&r);
    free(r.buf);
    if (r.nomem)
        return brd_error_nomem(err);
    if (r.bad >= 0)
        return brd_error_at(err, BRD_E_SYNTAX, r.bad, "invalid JSON at byte %ld: %s", r.bad, r.what);
    *out = v;
    return 0;
}
