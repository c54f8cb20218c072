/* cts.c — runs the RFC 9535 JSONPath Compliance Test Suite
 * (<shared>/conformance/jsonpath/cts.json) against src/jsonpath*: values
 * and normalized paths, every case; ends with "N passed, N failed". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonpath.h"

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf)
            break;
        if (n == cap) {
            char *bigger = realloc(buf, cap *= 2);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        if (got == 0)
            break;
        n += got;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* A JSON array of the nodelist's values (new reference). */
static struct json_object *values_of(const struct brd_nodelist *list)
{
    struct json_object *arr = json_object_new_array();
    for (size_t i = 0; i < brd_nodelist_count(list); i++)
        brd_json_append(arr, brd_json_ref(brd_nodelist_value(list, i)));
    return arr;
}

/* A JSON array of the nodelist's normalized paths (new reference). */
static struct json_object *paths_of(const struct brd_nodelist *list)
{
    struct json_object *arr = json_object_new_array();
    for (size_t i = 0; i < brd_nodelist_count(list); i++) {
        char *p = NULL;
        struct brd_error err;
        if (brd_nodelist_path(list, i, &p, &err) != 0) {
            brd_json_append(arr, json_object_new_string(err.msg));
            continue;
        }
        brd_json_append(arr, json_object_new_string(p));
        free(p);
    }
    return arr;
}

/* Ordered equality of two arrays of paths (strings compared exactly). */
static bool same_strings(struct json_object *a, struct json_object *b)
{
    return brd_json_equal(a, b);
}

static void show(const char *what, struct json_object *v)
{
    printf("    %s: %s\n", what, brd_json_compact(v, NULL));
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s SHARED_DIR\n", argv[0]);
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/conformance/jsonpath/cts.json", argv[1]);
    size_t len;
    char *text = read_all(path, &len);
    if (!text) {
        fprintf(stderr, "cts: cannot read %s\n", path);
        return 2;
    }
    struct json_object *suite;
    struct brd_error err;
    if (brd_json_parse(text, len, &suite, &err) != 0) {
        fprintf(stderr, "cts: %s: %s\n", path, err.msg);
        free(text);
        return 2;
    }
    free(text);
    struct json_object *tests = json_object_object_get(suite, "tests");
    struct brd_nodelist *list = brd_nodelist_new();
    if (!tests || !list) {
        fprintf(stderr, "cts: no \"tests\" in %s\n", path);
        return 2;
    }
    int passed = 0, failed = 0;
    size_t n = json_object_array_length(tests);
    for (size_t t = 0; t < n; t++) {
        struct json_object *tc = json_object_array_get_idx(tests, t);
        const char *name = json_object_get_string(json_object_object_get(tc, "name"));
        struct json_object *jsel = json_object_object_get(tc, "selector");
        const char *sel = json_object_get_string(jsel);
        size_t sel_len = (size_t)json_object_get_string_len(jsel);
        bool invalid = json_object_get_boolean(json_object_object_get(tc, "invalid_selector"));
        struct brd_jsonpath *q = NULL;
        int rc = brd_jsonpath_compile(sel, sel_len, &q, &err);
        if (invalid) {
            if (rc == 0) {
                printf("FAIL %s\n    selector %s compiled but is invalid\n", name,
                       brd_json_compact(jsel, NULL));
                failed++;
                brd_jsonpath_free(q);
            } else {
                passed++;
            }
            continue;
        }
        if (rc != 0) {
            printf("FAIL %s\n    selector %s: %s\n", name, brd_json_compact(jsel, NULL), err.msg);
            failed++;
            continue;
        }
        struct json_object *doc = json_object_object_get(tc, "document");
        bool ok = true;
        /* Values without paths first, then with: both modes must agree. */
        struct json_object *plain = NULL, *vals = NULL, *paths = NULL;
        if (brd_jsonpath_eval(q, doc, list, 0, &err) != 0) {
            printf("FAIL %s\n    eval: %s\n", name, err.msg);
            ok = false;
        } else {
            plain = values_of(list);
        }
        if (ok && brd_jsonpath_eval(q, doc, list, BRD_JSONPATH_PATHS, &err) != 0) {
            printf("FAIL %s\n    eval with paths: %s\n", name, err.msg);
            ok = false;
        }
        if (ok) {
            vals = values_of(list);
            paths = paths_of(list);
            struct json_object *result = json_object_object_get(tc, "result");
            bool matched = false;
            if (result) {
                matched = brd_json_equal(vals, result) &&
                          same_strings(paths, json_object_object_get(tc, "result_paths"));
            } else {
                struct json_object *results = json_object_object_get(tc, "results");
                struct json_object *rpaths = json_object_object_get(tc, "results_paths");
                for (size_t i = 0; i < json_object_array_length(results) && !matched; i++)
                    matched = brd_json_equal(vals, json_object_array_get_idx(results, i)) &&
                              same_strings(paths, json_object_array_get_idx(rpaths, i));
            }
            if (!brd_json_equal(plain, vals)) {
                printf("FAIL %s\n    values differ with and without paths\n", name);
                show("without", plain);
                show("with", vals);
                ok = false;
            } else if (!matched) {
                printf("FAIL %s\n    selector %s\n", name, brd_json_compact(jsel, NULL));
                show("got values", vals);
                show("got paths", paths);
                if (result) {
                    show("expected values", result);
                    show("expected paths", json_object_object_get(tc, "result_paths"));
                } else {
                    show("expected one of", json_object_object_get(tc, "results"));
                    show("with paths", json_object_object_get(tc, "results_paths"));
                }
                ok = false;
            }
        }
        json_object_put(plain);
        json_object_put(vals);
        json_object_put(paths);
        brd_jsonpath_free(q);
        if (ok)
            passed++;
        else
            failed++;
    }
    brd_nodelist_free(list);
    json_object_put(suite);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
