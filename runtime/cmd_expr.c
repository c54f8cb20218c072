/* cmd_expr.c — `braid expr EXPRESSION [--input JSON|@FILE]`: evaluates one
 * switch condition the way a workflow would, `$` and `${START...}` both
 * reading the input, and prints the value as JSON. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "expr.h"

static const char usage_text[] =
    "usage: braid expr EXPRESSION [--input JSON|@FILE]\n"
    "\n"
    "Evaluates a switch condition (SPEC section 6) and prints its value as JSON.\n"
    "`$...` queries and `${START...}` references both read the input (default {}).\n"
    "\n"
    "  --input JSON|@FILE   the previous output / request parameters (@- = stdin)\n"
    "\n"
    "exit status: 0 ok, 1 evaluation error, 2 bad usage or a syntax error\n"
    "example: braid expr '$.user_id != 1 && ${START.uid} > 0' --input '{\"user_id\":2,\"uid\":2}'\n";

static int lookup_start(void *ctx, const struct brd_ref *ref, struct json_object **output,
                        struct brd_error *err)
{
    if (strcmp(ref->id, "START") != 0)
        return brd_error_set(err, BRD_E_EXPRESSION_ERROR,
                             "unknown node '%s': braid expr knows only ${START...}", ref->id);
    *output = ctx;
    return 0;
}

int brd_cmd_expr(int argc, char **argv)
{
    const char *text = NULL, *input_arg = NULL;
    for (int i = 1; i < argc; i++) {
        if (brd_cli_is_help(argv[i])) {
            fputs(usage_text, stdout);
            return 0;
        } else if (strcmp(argv[i], "--input") == 0 && i + 1 < argc) {
            input_arg = argv[++i];
        } else if (strncmp(argv[i], "--input=", 8) == 0) {
            input_arg = argv[i] + 8;
        } else if (!text && !(argv[i][0] == '-' && argv[i][1] == '-')) {
            text = argv[i];
        } else {
            fprintf(stderr, "braid expr: unexpected argument '%s'\n\n%s", argv[i], usage_text);
            return 2;
        }
    }
    if (!text) {
        fputs(usage_text, stderr);
        return 2;
    }

    struct brd_error err;
    brd_error_clear(&err);
    struct json_object *input = NULL;
    if (input_arg) {
        if (brd_cli_json_arg(input_arg, &input, &err) != 0) {
            fprintf(stderr, "braid expr: --input: %s\n", err.msg);
            return 2;
        }
    } else if (!(input = json_object_new_object())) {
        fputs("braid expr: out of memory\n", stderr);
        return 1;
    }

    struct brd_expr *e = NULL;
    if (brd_expr_compile(text, strlen(text), &e, &err) != 0) {
        brd_cli_print_error("expr", &err, text, strlen(text));
        json_object_put(input);
        return 2;
    }
    struct json_object *value = NULL;
    int status = 0;
    if (brd_expr_eval(e, input, lookup_start, input, &value, &err) != 0) {
        fprintf(stderr, "braid expr: %s: %s\n", brd_code_name(err.code), err.msg);
        status = 1;
    } else {
        puts(brd_json_compact(value, NULL));
    }
    json_object_put(value);
    brd_expr_free(e);
    json_object_put(input);
    return status;
}
