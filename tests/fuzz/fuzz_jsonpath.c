/* fuzz_jsonpath.c — libFuzzer harness for the JSONPath engine: compiles
 * arbitrary bytes as a query and, when that works, evaluates it (with and
 * without paths) against a fixed document and, if the input carries one
 * after a 0xFF byte, against that document too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonpath.h"

/* A document with a bit of everything the selectors can meet. */
static const char fixed_doc[] =
    "{\"store\":{\"book\":[{\"category\":\"reference\",\"author\":\"Nigel Rees\","
    "\"price\":8.95},{\"category\":\"fiction\",\"author\":\"Evelyn Waugh\",\"price\":12.99,"
    "\"isbn\":\"0-553-21311-3\"}],\"bicycle\":{\"color\":\"red\",\"price\":399}},"
    "\"a\":[1,-2,3.5,1e3,9007199254740993,\"x\",\"\\u00e9\\ud834\\udd1e\",true,false,null,"
    "[],{},[[0]],"
    "{\"a\":{\"a\":[{\"b\":\"ab\"},{\"b\":\"ba\"}]}}],"
    "\"o\":{\"\":0,\"'\":1,\"\\\\\":2,\"\\n\\u0001\":3,\"k k\":{\"x\":[5,6,7,8,9,10]}},"
    "\"re\":\"a.*\",\"bad\":\"(\",\"n\":null,\"t\":true}";

static struct json_object *doc;
static struct brd_nodelist *list;

static void run(const struct brd_jsonpath *q, struct json_object *root)
{
    struct brd_error err;
    /* Values only, then with paths, each path rendered. */
    if (brd_jsonpath_eval(q, root, list, 0, &err) != 0) {
        /* A failed evaluation leaves an empty list and says why. */
        if (brd_nodelist_count(list) != 0 ||
            (err.code != BRD_E_INTERNAL && err.code != BRD_E_NOMEM))
            abort();
        return;
    }
    size_t n = brd_nodelist_count(list);
    for (size_t i = 0; i < n; i++)
        (void)brd_json_type_name(brd_nodelist_value(list, i));
    if (brd_jsonpath_eval(q, root, list, BRD_JSONPATH_PATHS, &err) != 0)
        abort();            /* paths cost no steps: it worked without them */
    if (brd_nodelist_count(list) != n)
        abort();            /* paths must not change what is selected */
    for (size_t i = 0; i < n; i++) {
        char *path;
        if (brd_nodelist_path(list, i, &path, &err) != 0)
            abort();
        if (path[0] != '$')
            abort();
        free(path);
    }
    struct json_object *v = NULL;
    if (brd_jsonpath_value(q, root, &v, &err) == 0) {
        if (!brd_jsonpath_is_singular(q) && json_object_array_length(v) != n)
            abort();        /* brd_jsonpath_value agrees with the nodelist */
        json_object_put(v);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct brd_error err;
    if (!doc) {
        if (brd_json_parse(fixed_doc, sizeof fixed_doc - 1, &doc, &err) != 0)
            abort();
        list = brd_nodelist_new();
        if (!list)
            abort();
        /* Nested descendant filters do work polynomial in the document
         * with a degree set by the nesting; a small step limit keeps every
         * input fast (the limit itself is what gets exercised then). */
        brd_nodelist_set_limit(list, 20000);
    }
    const char *text = (const char *)data;
    const uint8_t *sep = memchr(data, 0xFF, size);
    size_t qlen = sep ? (size_t)(sep - data) : size;

    struct brd_jsonpath *q = NULL;
    if (brd_jsonpath_compile(text, qlen, &q, &err) == 0) {
        size_t len;
        brd_jsonpath_text(q, &len);
        if (len != qlen)
            abort();
        run(q, doc);
        if (sep) {
            struct json_object *own = NULL;
            if (brd_json_parse((const char *)sep + 1, size - qlen - 1, &own, &err) == 0) {
                run(q, own);
                json_object_put(own);
            }
        }
        brd_jsonpath_free(q);
    } else if (err.pos < 0 || (size_t)err.pos > qlen) {
        abort();            /* an error must point into the text */
    }
    /* The same bytes as an embedded query. */
    size_t used;
    if (brd_jsonpath_compile_prefix(text, qlen, &used, &q, &err) == 0) {
        if (used > qlen)
            abort();
        brd_jsonpath_free(q);
    }
    return 0;
}
