/* cmd_run.c — `braid run DIR WORKFLOW`: runs one workflow exactly as it is
 * served (the original product's "Test" button), optionally with a trace. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "exec.h"
#include "fnrunner.h"
#include "service.h"

static const char usage_text[] =
    "usage: braid run DIR WORKFLOW [--input JSON|@FILE] [--trace] [--json]\n"
    "                 [--request-id ID]\n"
    "\n"
    "Runs WORKFLOW (its name, or the path it is served at) of the service\n"
    "directory DIR once, as `braid serve` would, and prints the result as JSON.\n"
    "On failure prints the error object {\"error\": {...}} on stderr.\n"
    "\n"
    "  --input JSON|@FILE  the request parameters, a JSON object (default {}; @- = stdin)\n"
    "  --trace             also show each node: state, timing, input, output, errors,\n"
    "                      print() output; a table on a terminal, JSON when piped\n"
    "  --json              with --trace, always JSON: {\"result\"|\"error\", \"trace\"}\n"
    "  --request-id ID     the X-Request-Id to forward (default: a random one)\n"
    "\n"
    "exit status: 0 ok, 1 the workflow failed or DIR is invalid, 2 bad usage\n";

static void print_trace_text(FILE *f, struct json_object *trace)
{
    fprintf(f, "%-16s %-9s %-10s %10s %12s %8s\n", "NODE", "TYPE", "STATE", "START_US",
            "DURATION_US", "ATTEMPTS");
    size_t n = json_object_array_length(trace);
    for (size_t i = 0; i < n; i++) {
        struct json_object *t = json_object_array_get_idx(trace, i), *v;
        const char *get[3] = {"id", "type", "state"};
        const char *s[3];
        for (int k = 0; k < 3; k++)
            s[k] = json_object_object_get_ex(t, get[k], &v) ? json_object_get_string(v) : "";
        char start[24] = "-", dur[24] = "-", att[24] = "";
        if (json_object_object_get_ex(t, "start_us", &v))
            snprintf(start, sizeof start, "%lld", (long long)json_object_get_int64(v));
        if (json_object_object_get_ex(t, "duration_us", &v))
            snprintf(dur, sizeof dur, "%lld", (long long)json_object_get_int64(v));
        if (json_object_object_get_ex(t, "attempts", &v))
            snprintf(att, sizeof att, "%d", json_object_get_int(v));
        fprintf(f, "%-16s %-9s %-10s %10s %12s %8s\n", s[0], s[1], s[2], start, dur, att);
        static const char *const details[] = {"input", "raw", "output", "branch", "error",
                                              "print", "traceback"};
        for (size_t k = 0; k < sizeof details / sizeof *details; k++) {
            if (!json_object_object_get_ex(t, details[k], &v))
                continue;
            const char *text = json_object_is_type(v, json_type_string)
                                   ? json_object_get_string(v)
                                   : brd_json_compact(v, NULL);
            fprintf(f, "    %-9s ", details[k]);
            /* Indent continuation lines of multi-line text (print, traceback). */
            for (const char *p = text; *p; p++) {
                fputc(*p, f);
                if (*p == '\n' && p[1])
                    fputs("              ", f);
            }
            if (!*text || text[strlen(text) - 1] != '\n')
                fputc('\n', f);
        }
    }
}

int brd_cmd_run(int argc, char **argv)
{
    const char *dir = NULL, *name = NULL, *input_arg = NULL, *request_id = NULL;
    bool trace = false, json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (brd_cli_is_help(a)) {
            fputs(usage_text, stdout);
            return 0;
        } else if (strcmp(a, "--input") == 0 && i + 1 < argc) {
            input_arg = argv[++i];
        } else if (strncmp(a, "--input=", 8) == 0) {
            input_arg = a + 8;
        } else if (strcmp(a, "--request-id") == 0 && i + 1 < argc) {
            request_id = argv[++i];
        } else if (strcmp(a, "--trace") == 0) {
            trace = true;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (a[0] != '-' && !dir) {
            dir = a;
        } else if (a[0] != '-' && !name) {
            name = a;
        } else {
            fprintf(stderr, "braid run: unexpected argument '%s'\n\n%s", a, usage_text);
            return 2;
        }
    }
    if (!dir || !name) {
        fputs(usage_text, stderr);
        return 2;
    }
    struct brd_error err;
    brd_error_clear(&err);
    struct json_object *input = NULL;
    if (input_arg ? brd_cli_json_arg(input_arg, &input, &err) != 0
                  : !(input = json_object_new_object())) {
        fprintf(stderr, "braid run: --input: %s\n", input_arg ? err.msg : "out of memory");
        return 2;
    }
    if (!json_object_is_type(input, json_type_object)) {
        fprintf(stderr, "braid run: --input must be a JSON object, not %s\n",
                brd_json_type_name(input));
        json_object_put(input);
        return 2;
    }
    struct brd_service *s = NULL;
    if (brd_cli_load_service("run", dir, &s) != 0) {
        json_object_put(input);
        return 1;
    }
    const struct brd_workflow *wf = name[0] == '/' ? brd_service_route(s, name)
                                                   : brd_service_workflow(s, name);
    int status = 2;
    struct brd_engine *e = NULL;
    if (!wf) {
        fprintf(stderr, "braid run: no workflow '%s' in %s (there are:", name, dir);
        for (size_t i = 0; i < s->nworkflows; i++)
            fprintf(stderr, " %s", s->workflows[i]->name);
        fprintf(stderr, "%s)\n", s->nworkflows ? "" : " none");
    } else if (brd_engine_new(&e, &err) != 0) {
        fprintf(stderr, "braid run: %s\n", err.msg);
        status = 1;
    } else {
        struct brd_run_opts opts = {request_id, trace};
        struct brd_run_result res;
        brd_engine_run(e, s, wf, input, &opts, &res);
        struct json_object *body = res.status == 0 ? brd_json_ref(res.result)
                                                   : brd_run_error_json(&res);
        if (trace && (json || !isatty(STDOUT_FILENO))) {
            struct json_object *both = json_object_new_object();
            brd_json_add(both, res.status == 0 ? "result" : "error",
                                   res.status == 0 ? brd_json_ref(body)
                                                   : brd_json_ref(json_object_object_get(body, "error")));
            brd_json_add(both, "trace", brd_json_ref(res.trace));
            puts(brd_json_compact(both, NULL));
            json_object_put(both);
        } else {
            if (trace && res.trace)
                print_trace_text(stdout, res.trace);
            if (res.status == 0)
                puts(brd_json_compact(body, NULL));
            else
                fprintf(stderr, "%s\n", brd_json_compact(body, NULL));
        }
        status = res.status == 0 ? 0 : 1;
        json_object_put(body);
        brd_run_result_clear(&res);
    }
    brd_engine_free(e);
    brd_service_free(s);
    brd_fnrunner_shutdown();
    json_object_put(input);
    return status;
}
