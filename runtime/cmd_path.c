/* cmd_path.c — `braid path [--paths] JSONPATH [FILE|-]`: runs one RFC 9535
 * query over a JSON document and prints the matches (or their normalized
 * paths) as one compact JSON array. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "jsonpath.h"

static const char usage_text[] =
    "usage: braid path [--paths] JSONPATH [FILE|-]\n"
    "\n"
    "Runs an RFC 9535 JSONPath query over the JSON document in FILE (default:\n"
    "standard input) and prints the matched values as one JSON array.\n"
    "\"$.\" alone means \"$\".\n"
    "\n"
    "  --paths    print the normalized paths of the matches instead ($['a'][0])\n"
    "\n"
    "exit status: 0 ok, 1 evaluation failed, 2 bad usage, an invalid query or a\n"
    "document that is not JSON\n"
    "example: echo '{\"a\":[1,2,3]}' | braid path '$.a[?@ > 1]'\n";

/* The result as a new JSON array: the values, or their paths. */
static int build_output(const struct brd_nodelist *list, bool paths, struct json_object **out,
                        struct brd_error *err)
{
    size_t n = brd_nodelist_count(list);
    struct json_object *arr = json_object_new_array_ext(n ? (int)n : 1);
    if (!arr)
        return brd_error_nomem(err);
    for (size_t i = 0; i < n; i++) {
        struct json_object *item;
        if (paths) {
            char *p;
            if (brd_nodelist_path(list, i, &p, err) != 0) {
                json_object_put(arr);
                return -1;
            }
            item = json_object_new_string(p);
            free(p);
            if (!item) {
                json_object_put(arr);
                return brd_error_nomem(err);
            }
        } else {
            item = brd_json_ref(brd_nodelist_value(list, i));
        }
        if (brd_json_append(arr, item) != 0) {
            json_object_put(arr);
            return brd_error_nomem(err);
        }
    }
    *out = arr;
    return 0;
}

int brd_cmd_path(int argc, char **argv)
{
    const char *query = NULL, *file = NULL;
    bool paths = false, options = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (options && brd_cli_is_help(a)) {
            fputs(usage_text, stdout);
            return 0;
        }
        if (options && strcmp(a, "--paths") == 0) {
            paths = true;
        } else if (options && strcmp(a, "--") == 0) {
            options = false;
        } else if (options && a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "braid path: unknown option '%s'\n\n%s", a, usage_text);
            return 2;
        } else if (!query) {
            query = a;
        } else if (!file) {
            file = a;
        } else {
            fprintf(stderr, "braid path: unexpected argument '%s'\n\n%s", a, usage_text);
            return 2;
        }
    }
    if (!query) {
        fputs(usage_text, stderr);
        return 2;
    }

    struct brd_error err;
    brd_error_clear(&err);
    struct brd_jsonpath *q;
    size_t qlen = strlen(query);
    if (brd_jsonpath_compile(query, qlen, &q, &err) != 0) {
        brd_cli_print_error("path", &err, query, qlen);
        return 2;
    }

    char *text;
    size_t len;
    const char *source = file ? file : "-";
    if (brd_cli_read_file(source, &text, &len, &err) != 0) {
        fprintf(stderr, "braid path: %s\n", err.msg);
        brd_jsonpath_free(q);
        return 2;
    }
    struct json_object *doc;
    int rc = brd_json_parse(text, len, &doc, &err);
    free(text);
    if (rc != 0) {
        fprintf(stderr, "braid path: %s: %s\n",
                strcmp(source, "-") == 0 ? "standard input" : source, err.msg);
        brd_jsonpath_free(q);
        return 2;
    }

    int status = 0;
    struct brd_nodelist *list = brd_nodelist_new();
    struct json_object *out = NULL;
    if (!list) {
        brd_error_nomem(&err);
        status = 1;
    } else if (brd_jsonpath_eval(q, doc, list, paths ? BRD_JSONPATH_PATHS : 0, &err) != 0 ||
               build_output(list, paths, &out, &err) != 0) {
        status = 1;
    }
    if (status == 0) {
        size_t n;
        const char *s = brd_json_compact(out, &n);
        fwrite(s, 1, n, stdout);
        fputc('\n', stdout);
        if (fflush(stdout) != 0) {
            fputs("braid path: cannot write the output\n", stderr);
            status = 1;
        }
    } else {
        fprintf(stderr, "braid path: %s\n", err.msg);
    }
    json_object_put(out);
    brd_nodelist_free(list);
    json_object_put(doc);
    brd_jsonpath_free(q);
    return status;
}
