/* fuzz_expr.c — libFuzzer harness for the expression parser and evaluator:
 * arbitrary bytes are compiled; what compiles is evaluated against a fixed
 * document with a resolver for ${START...} and ${A...}. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "expr.h"
#include "jsonpath.h"

static struct json_object *doc;

static int lookup(void *ctx, const struct brd_ref *ref, struct json_object **out,
                  struct brd_error *err)
{
    (void)ctx;
    if (strcmp(ref->id, "START") == 0 || strcmp(ref->id, "A") == 0) {
        *out = doc;
        return 0;
    }
    return brd_error_set(err, BRD_E_EXPRESSION_ERROR, "unknown node");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!doc) {
        /* Instrumented steps are ~20x slower: keep each input fast, as the
         * JSONPath fuzzer does with its own nodelist. */
        brd_jsonpath_set_default_limit(20000);
        static const char text[] =
            "{\"a\":1,\"b\":[1,2.5,\"x\",null,true,{\"c\":\"d\"}],\"s\":\"str\","
            "\"n\":null,\"big\":9223372036854775807,\"neg\":-9223372036854775808,"
            "\"o\":{\"a\":{\"a\":[0]}},\"f\":0.1}";
        struct brd_error err;
        if (brd_json_parse(text, sizeof text - 1, &doc, &err) != 0)
            return 0;
    }
    struct brd_expr *e = NULL;
    struct brd_error err;
    if (brd_expr_compile((const char *)data, size, &e, &err) != 0)
        return 0;
    struct json_object *out = NULL;
    if (brd_expr_eval(e, doc, lookup, NULL, &out, &err) == 0) {
        brd_json_compact(out, NULL);
        json_object_put(out);
    }
    bool taken;
    brd_expr_test(e, doc, lookup, NULL, &taken, &err);
    brd_expr_free(e);
    return 0;
}
