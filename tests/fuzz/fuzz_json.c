/* fuzz_json.c — libFuzzer harness for the strict JSON reader
 * (src/base/json_parse.c), which reads every request body, API answer and
 * function result.  Properties: no crash or leak on any bytes; a text that
 * parses serialises to compact JSON that parses again to an equal value
 * with the same serialisation (nothing changes on a second trip). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct json_object *v = NULL;
    struct brd_error err;
    if (brd_json_parse((const char *)data, size, &v, &err) != 0) {
        if (err.code != BRD_E_SYNTAX && err.code != BRD_E_NOMEM)
            abort();
        return 0;
    }
    size_t n = 0;
    const char *text = brd_json_compact(v, &n);
    char *copy = malloc(n + 1);
    if (!copy)
        abort();
    memcpy(copy, text, n + 1);
    struct json_object *w = NULL;
    if (brd_json_parse(copy, n, &w, &err) != 0)
        abort(); /* what we write must read back */
    size_t m = 0;
    const char *again = brd_json_compact(w, &m);
    if (m != n || memcmp(again, copy, n) != 0)
        abort(); /* and say the same thing the second time */
    if (!brd_json_equal(v, w))
        abort();
    free(copy);
    json_object_put(v);
    json_object_put(w);
    return 0;
}
