/* fuzz_form.c — libFuzzer harness for runtime/form.c: arbitrary bytes as a
 * form (query string or body), as a request path, and through the percent
 * decoder, checking what each promises: decoded text no longer than its
 * input, names non-empty UTF-8 without NUL, values UTF-8 strings (or arrays
 * of them), paths without NUL or a ".." segment. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "form.h"

static void check_string(struct json_object *v, size_t size)
{
    if (!json_object_is_type(v, json_type_string))
        abort();
    size_t n = (size_t)json_object_get_string_len(v);
    if (n > size || !brd_form_utf8_valid(json_object_get_string(v), n))
        abort();
}

static void check_form(struct json_object *o, size_t size)
{
    json_object_object_foreach(o, k, v)
    {
        size_t kn = strlen(k);
        if (kn == 0 || kn > size || !brd_form_utf8_valid(k, kn))
            abort();
        if (json_object_is_type(v, json_type_array)) {
            size_t n = json_object_array_length(v);
            if (n < 2)
                abort(); /* an array only for a repeated name */
            for (size_t i = 0; i < n; i++)
                check_string(json_object_array_get_idx(v, i), size);
        } else {
            check_string(v, size);
        }
    }
}

static void check_path(const char *p, size_t size)
{
    size_t n = strlen(p);
    if (n > size || !brd_form_utf8_valid(p, n))
        abort();
    for (const char *s = p; (s = strstr(s, "..")) != NULL; s += 2)
        if ((s == p || s[-1] == '/') && (s[2] == '\0' || s[2] == '/'))
            abort();
}

/* Every byte of the decoded text, escaped again as %XX, decodes to itself. */
static void check_roundtrip(const char *d, size_t n)
{
    static const char hex[] = "0123456789aBcDeF";
    char *enc = malloc(3 * n + 1), *back = malloc(3 * n + 1);
    size_t m;
    struct brd_error err;
    if (!enc || !back)
        abort();
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)d[i];
        enc[3 * i] = '%';
        enc[3 * i + 1] = hex[c >> 4];
        enc[3 * i + 2] = hex[c & 15];
    }
    if (brd_form_unescape(enc, 3 * n, true, back, &m, &err) != 0 || m != n ||
        memcmp(back, d, n) != 0)
        abort();
    free(enc);
    free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct brd_error err;

    struct json_object *o = json_object_new_object();
    if (!o)
        return 0;
    if (brd_form_parse(text, size, "fuzz", o, &err) == 0)
        check_form(o, size);
    else if (err.code != BRD_E_BAD_REQUEST && err.code != BRD_E_NOMEM)
        abort();
    json_object_put(o);

    char *p = NULL;
    if (brd_form_decode_path(text, size, &p, &err) == 0) {
        check_path(p, size);
        free(p);
    } else if (p || (err.code != BRD_E_BAD_REQUEST && err.code != BRD_E_NOMEM)) {
        abort();
    }

    char *out = malloc(size + 1);
    if (!out)
        return 0;
    for (int plus = 0; plus < 2; plus++) {
        size_t n;
        if (brd_form_unescape(text, size, plus, out, &n, &err) == 0) {
            if (n > size || out[n] != '\0')
                abort();
            check_roundtrip(out, n);
        } else if (err.pos < 0 || (size_t)err.pos >= size || text[err.pos] != '%') {
            abort();
        }
    }
    free(out);
    return 0;
}
