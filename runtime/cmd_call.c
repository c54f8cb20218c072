/* cmd_call.c — `braid call DIR FUNCTION [--event JSON|@FILE] [--trace]`:
 * runs one function in the sandbox exactly as a workflow node would. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "cli.h"
#include "commands.h"
#include "base/jsonutil.h"
#include "sandbox.h"

static const char usage_text[] =
    "usage: braid call DIR FUNCTION [--event JSON|@FILE] [--trace]\n"
    "\n"
    "Loads DIR/functions/FUNCTION.py (and FUNCTION.json, its settings) and runs\n"
    "handler(event, context) once in the sandbox, as a workflow would.\n"
    "\n"
    "  --event JSON|@FILE  the event (default {}); @- reads standard input\n"
    "  --trace             also print the node's trace (JSON) on stderr\n"
    "\n"
    "Prints the result as compact JSON on stdout and exits 0.  A failing call\n"
    "prints {\"error\": {...}} on stderr and exits 1; so does a function that\n"
    "does not load.  Bad usage exits 2.\n";

static void request_id(char out[33])
{
    unsigned char r[16];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        memcpy(r, &ts, sizeof r < sizeof ts ? sizeof r : sizeof ts);
    }
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", r[i]);
}

static struct json_object *error_object(const struct brd_error *err, const char *node, const char *rid)
{
    struct json_object *e = json_object_new_object();
    brd_json_add(e, "code", json_object_new_string(brd_code_name(err->code)));
    brd_json_add(e, "message", json_object_new_string(err->msg));
    brd_json_add(e, "node", json_object_new_string(node));
    brd_json_add(e, "request_id", json_object_new_string(rid));
    return e;
}

static void print_trace(const char *name, struct json_object *event, const struct brd_sandbox_result *res,
                        const char *rid)
{
    struct json_object *n = json_object_new_object();
    brd_json_add(n, "id", json_object_new_string(name));
    brd_json_add(n, "type", json_object_new_string("function"));
    brd_json_add(n, "state", json_object_new_string(res->ok ? "succeeded" : "failed"));
    brd_json_add(n, "start", json_object_new_int64(0));
    brd_json_add(n, "duration_us", json_object_new_int64(res->duration_us));
    brd_json_add(n, "attempts", json_object_new_int(1));
    brd_json_add(n, "input", brd_json_ref(event));
    if (res->ok) {
        brd_json_add(n, "output", brd_json_ref(res->value));
    } else {
        struct json_object *e = error_object(&res->err, name, rid);
        brd_json_add(n, "error", e);
    }
    brd_json_add(n, "print",
                           json_object_new_string_len(res->output ? res->output : "", (int)res->output_len));
    if (res->output_truncated)
        brd_json_add(n, "print_truncated", json_object_new_boolean(1));
    if (res->traceback)
        brd_json_add(n, "traceback", json_object_new_string(res->traceback));
    struct json_object *arr = json_object_new_array();
    brd_json_append(arr, n);
    struct json_object *top = json_object_new_object();
    brd_json_add(top, "trace", arr);
    fprintf(stderr, "%s\n", brd_json_compact(top, NULL));
    json_object_put(top);
}

int brd_cmd_call(int argc, char **argv)
{
    const char *dir = NULL, *name = NULL, *event_arg = "{}";
    bool trace = false;
    for (int i = 1; i < argc; i++) {
        if (brd_cli_is_help(argv[i])) {
            fputs(usage_text, stdout);
            return 0;
        } else if (strcmp(argv[i], "--trace") == 0) {
            trace = true;
        } else if (strcmp(argv[i], "--event") == 0) {
            if (++i >= argc) {
                fputs("braid call: --event needs a value\n", stderr);
                return 2;
            }
            event_arg = argv[i];
        } else if (strncmp(argv[i], "--event=", 8) == 0) {
            event_arg = argv[i] + 8;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "braid call: unknown option '%s'\n%s", argv[i], usage_text);
            return 2;
        } else if (!dir) {
            dir = argv[i];
        } else if (!name) {
            name = argv[i];
        } else {
            fprintf(stderr, "braid call: unexpected argument '%s'\n%s", argv[i], usage_text);
            return 2;
        }
    }
    if (!dir || !name) {
        fputs(usage_text, stderr);
        return 2;
    }

    struct brd_error err;
    brd_error_clear(&err);
    struct json_object *event;
    if (brd_cli_json_arg(event_arg, &event, &err) != 0) {
        brd_cli_print_error("call", &err, event_arg[0] == '@' ? NULL : event_arg, strlen(event_arg));
        return 2;
    }
    if (brd_sandbox_init(NULL, &err) != 0) {
        brd_cli_print_error("call", &err, NULL, 0);
        json_object_put(event);
        return err.code == BRD_E_USAGE ? 2 : 1;
    }
    struct brd_pyfn *fn;
    if (brd_pyfn_load(dir, name, &fn, &err) != 0) {
        brd_cli_print_error("call", &err, NULL, 0);
        json_object_put(event);
        return 1;
    }
    char rid[33];
    request_id(rid);
    struct brd_sandbox_pool *pool = NULL;
    struct brd_sandbox_call *call = NULL;
    struct brd_sandbox_result res;
    memset(&res, 0, sizeof res);
    int status = 1;
    if (brd_sandbox_pool_new(&pool, &err) == 0) {
        size_t elen;
        const char *etext = brd_json_compact(event, &elen);
        struct brd_sandbox_context ctx = {.request_id = rid, .workflow = NULL, .node = name};
        if (brd_sandbox_call_start(pool, fn, etext, elen, &ctx, &call, &err) == 0) {
            brd_sandbox_call_wait(call);
            if (brd_sandbox_call_collect(call, &res) == 0)
                status = 0;
            brd_sandbox_call_free(call);
        } else {
            res.err = err;
        }
    } else {
        res.err = err;
    }
    if (status == 0) {
        printf("%s\n", res.json);
        fflush(stdout);
    } else {
        struct json_object *top = json_object_new_object();
        brd_json_add(top, "error", error_object(&res.err, name, rid));
        fprintf(stderr, "%s\n", brd_json_compact(top, NULL));
        json_object_put(top);
    }
    if (trace)
        print_trace(name, event, &res, rid);
    brd_sandbox_result_free(&res);
    brd_sandbox_pool_free(pool);
    brd_pyfn_free(fn);
    json_object_put(event);
    return status;
}
