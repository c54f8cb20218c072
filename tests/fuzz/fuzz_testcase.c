/* fuzz_testcase.c — libFuzzer harness for recorded test cases (SPEC section
 * 12): arbitrary bytes are loaded as tests/w/fuzz.json of a service whose
 * workflow w has two API nodes (on a port nobody listens on, so only a
 * replay can answer them), an on_error fallback and a switch.  Whatever
 * loads is replayed through the engine, compared with its expect, and
 * written back as a case file's text, which must read back to the same
 * input, recording and expect. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec.h"
#include "service.h"
#include "testcase.h"

static char dir[64];
static char case_path[160];
static struct brd_service *service;
static struct brd_engine *engine;

static void write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "w");
    if (!f || fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
}

static void put(const char *rel, const char *text)
{
    char path[160];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    write_file(path, text, strlen(text));
}

static void init(void)
{
    snprintf(dir, sizeof dir, "/tmp/braid-fuzz-case-XXXXXX");
    if (!mkdtemp(dir))
        abort();
    const char *subs[] = {"apis", "workflows", "tests", "tests/w"};
    for (size_t i = 0; i < sizeof subs / sizeof *subs; i++) {
        char path[160];
        snprintf(path, sizeof path, "%s/%s", dir, subs[i]);
        mkdir(path, 0700);
    }
    put("apis/a.json", "{\"url\": \"http://127.0.0.1:9/a/{id}\", \"method\": \"GET\","
                       " \"params\": {\"id\": {\"in\": \"path\", \"type\": \"int\", \"required\": true}}}");
    put("apis/b.json", "{\"url\": \"http://127.0.0.1:9/b\", \"method\": \"GET\"}");
    put("workflows/w.json",
        "{\"params\": {\"id\": {\"type\": \"int\"}},"
        " \"nodes\": [{\"id\": \"A\", \"type\": \"api\", \"api\": \"a\", \"params\": {\"id\": \"${START.id}\"},"
        "              \"output\": {\"x\": \"$.data[0]\"}},"
        "             {\"id\": \"B\", \"type\": \"api\", \"api\": \"b\", \"on_error\": {\"output\": {\"y\": 0}}},"
        "             {\"id\": \"S\", \"type\": \"switch\", \"branches\": [{\"when\": \"$.x > 1\", \"next\": \"C\"}],"
        "              \"default\": \"D\"},"
        "             {\"id\": \"C\", \"type\": \"api\", \"api\": \"b\"},"
        "             {\"id\": \"D\", \"type\": \"api\", \"api\": \"b\"}],"
        " \"edges\": [[\"START\", \"A\"], [\"START\", \"B\"], [\"A\", \"S\"], [\"B\", \"S\"],"
        "           [\"C\", \"END\"], [\"D\", \"END\"]]}");
    struct brd_fn_runner runner = {NULL, NULL};
    struct brd_diags d = {0};
    struct brd_error err;
    if (brd_service_load(dir, &runner, &service, &d) != 0 || brd_engine_new(&engine, &err) != 0) {
        for (size_t i = 0; i < d.count; i++)
            fprintf(stderr, "fuzz_testcase: %s\n", d.msgs[i]);
        abort();
    }
    brd_diags_free(&d);
    snprintf(case_path, sizeof case_path, "%s/tests/w/fuzz.json", dir);
}

/* The case's text reads back as the same three members. */
static void check_round_trip(const struct brd_testcase *c)
{
    char *text = brd_testcase_text(c->input, c->recorded, c->expect);
    if (!text)
        return;   /* out of memory */
    struct json_object *back = NULL;
    struct brd_error err;
    if (brd_json_parse(text, strlen(text), &back, &err) != 0)
        abort();
    if (!brd_json_equal(json_object_object_get(back, "input"), c->input) ||
        !brd_json_equal(json_object_object_get(back, "recorded"), c->recorded) ||
        (c->expect && !brd_json_equal(json_object_object_get(back, "expect"), c->expect)))
        abort();
    json_object_put(back);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!service)
        init();
    write_file(case_path, data, size);
    struct brd_testsuite t = {0};
    struct brd_diags d = {0};
    if (brd_tests_load(dir, service, NULL, &t, &d) == 0) {
        for (size_t i = 0; i < t.count; i++) {
            const struct brd_testcase *c = t.cases[i];
            struct brd_run_opts opts = {"fuzz", true, c->recorded, NULL};
            struct brd_run_result res;
            brd_engine_run(engine, service, c->wf, c->input, &opts, &res);
            /* A replay never reaches the network: an API_ERROR can only be
             * the failing node's own recorded error. */
            if (res.status != 0 && res.err.code == BRD_E_API_ERROR) {
                struct json_object *rec = NULL;
                if (!json_object_object_get_ex(c->recorded, res.err.node, &rec) ||
                    !json_object_object_get_ex(rec, "error", NULL))
                    abort();
            }
            if (c->expect) {
                char *why = NULL;
                int rc = brd_testcase_compare(c->expect, &res, &why);
                if (rc == 1 && !why)
                    abort();
                free(why);
            }
            brd_run_result_clear(&res);
            check_round_trip(c);
        }
        brd_tests_free(&t);
    } else if (d.count == 0 && !d.nomem) {
        abort(); /* a refusal always says why */
    }
    brd_diags_free(&d);
    return 0;
}
