/* test_exec.c — the executor's rules with a stand-in function runner (named
 * as such: the real sandbox is exercised by tests/integration and
 * tests/security).  The stand-in answers at once through an eventfd, so
 * these tests pin down the engine's own logic — previous output, joins,
 * switches and dead paths, on_error, the trace — under ASan as well. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "exec.h"

/* ---- the stand-in runner: functions are named behaviours ---------------- */

struct fake_call {
    int fd;
    char name[64];
    struct json_object *event;
};

static int fake_load(void *self, const char *dir, const char *name, void **fn, struct brd_diags *d)
{
    (void)self;
    (void)dir;
    (void)d;
    *fn = strdup(name);
    return *fn ? 0 : -1;
}

static void fake_unload(void *self, void *fn)
{
    (void)self;
    free(fn);
}

static int fake_start(void *self, void *fn, const char *event, size_t len,
                      const struct brd_fn_ctx *ctx, struct brd_fn_call **call, struct brd_error *err)
{
    (void)self;
    (void)ctx;
    struct fake_call *c = calloc(1, sizeof *c);
    if (!c)
        return brd_error_nomem(err);
    snprintf(c->name, sizeof c->name, "%s", (const char *)fn);
    if (brd_json_parse(event, len, &c->event, err) != 0) {
        free(c);
        return -1;
    }
    c->fd = eventfd(1, EFD_NONBLOCK);
    *call = (struct brd_fn_call *)c;
    return 0;
}

static int fake_fd(struct brd_fn_call *call)
{
    return ((struct fake_call *)call)->fd;
}

static int64_t fake_deadline(struct brd_fn_call *call)
{
    (void)call;
    return INT64_MAX;
}

static void fake_step(struct brd_fn_call *call, bool timed_out, bool *done)
{
    (void)call;
    (void)timed_out;
    *done = true;
}

static void fake_free(struct fake_call *c)
{
    close(c->fd);
    json_object_put(c->event);
    free(c);
}

static void fake_finish(struct brd_fn_call *call, struct brd_fn_result *res)
{
    struct fake_call *c = (struct fake_call *)call;
    memset(res, 0, sizeof *res);
    if (strcmp(c->name, "fail") == 0) {
        res->status = -1;
        brd_error_set(&res->err, BRD_E_FUNCTION_ERROR, "ValueError: planned failure");
    } else if (strcmp(c->name, "tag") == 0) {
        /* Adds "seen": true to an object event. */
        res->value = json_object_new_object();
        json_object_object_foreach(c->event, k, v) brd_json_add(res->value, k, brd_json_ref(v));
        brd_json_add(res->value, "seen", json_object_new_boolean(1));
        res->output = strdup("tagged\n");
    } else {
        res->value = brd_json_ref(c->event);
    }
    fake_free(c);
}

static void fake_cancel(struct brd_fn_call *call)
{
    fake_free((struct fake_call *)call);
}

static const struct brd_fn_runner_ops fake_ops = {fake_load, fake_unload, fake_start, fake_fd,
                                                  fake_deadline, fake_step, fake_finish, fake_cancel};

/* ---- fixtures --------------------------------------------------------- */

static char dir[64];

static void put(const char *rel, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    mkdir(path, 0700);
    *slash = '/';
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/braid-test-exec-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    put("functions/echo.py", "");
    put("functions/fail.py", "");
    put("functions/tag.py", "");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

struct ran {
    struct brd_service *s;
    struct brd_engine *e;
    struct brd_run_result res;
};

/* Recorded tests: the replay and record objects the next run_wf passes. */
static struct json_object *g_replay, *g_record;

/* Writes workflows/w.json, loads the directory, runs w with input. */
static void run_wf(struct ran *r, const char *workflow, const char *input, bool trace)
{
    put("workflows/w.json", workflow);
    struct brd_fn_runner runner = {&fake_ops, NULL};
    struct brd_diags d = {0};
    if (brd_service_load(dir, &runner, &r->s, &d) != 0)
        fail_msg("load: %s", d.count ? d.msgs[0] : "?");
    struct brd_error err;
    assert_int_equal(brd_engine_new(&r->e, &err), 0);
    struct json_object *in = NULL;
    assert_int_equal(brd_json_parse(input, strlen(input), &in, &err), 0);
    struct brd_run_opts opts = {"rid-1", trace, g_replay, g_record};
    brd_engine_run(r->e, r->s, brd_service_workflow(r->s, "w"), in, &opts, &r->res);
    json_object_put(in);
}

static void done(struct ran *r)
{
    brd_run_result_clear(&r->res);
    brd_engine_free(r->e);
    brd_service_free(r->s);
}

static void assert_json(struct json_object *got, const char *want)
{
    struct json_object *w = NULL;
    struct brd_error err;
    assert_int_equal(brd_json_parse(want, strlen(want), &w, &err), 0);
    if (!brd_json_equal(got, w))
        fail_msg("got %s, expected %s", brd_json_compact(got, NULL), want);
    json_object_put(w);
}

static struct json_object *trace_entry(struct json_object *trace, const char *id)
{
    for (size_t i = 0; i < json_object_array_length(trace); i++) {
        struct json_object *t = json_object_array_get_idx(trace, i);
        if (strcmp(json_object_get_string(json_object_object_get(t, "id")), id) == 0)
            return t;
    }
    fail_msg("no trace entry for %s", id);
    return NULL;
}

static const char *state_of(struct json_object *trace, const char *id)
{
    return json_object_get_string(json_object_object_get(trace_entry(trace, id), "state"));
}

/* ---- tests ------------------------------------------------------------- */

static void chain_hands_on_outputs_and_result_defaults_to_previous(void **state)
{
    (void)state;
    struct ran r;
    run_wf(&r, "{\"nodes\":[{\"id\":\"A\",\"type\":\"function\",\"function\":\"tag\"},"
               "{\"id\":\"B\",\"type\":\"function\",\"function\":\"echo\"}],"
               "\"edges\":[[\"START\",\"A\"],[\"A\",\"B\"],[\"B\",\"END\"]]}",
           "{\"x\": 1}", false);
    assert_int_equal(r.res.status, 0);
    assert_json(r.res.result, "{\"x\": 1, \"seen\": true}");
    assert_string_equal(r.res.request_id, "rid-1");
    done(&r);
}

static void params_output_and_result_templates(void **state)
{
    (void)state;
    struct ran r;
    run_wf(&r, "{\"nodes\":[{\"id\":\"A\",\"type\":\"function\",\"function\":\"echo\","
               "\"params\":{\"v\":\"${START.x}\",\"s\":\"x=${START.x}\"},\"output\":{\"vv\":\"$.v\"}},"
               "{\"id\":\"B\",\"type\":\"function\",\"function\":\"echo\"}],"
               "\"edges\":[[\"START\",\"A\"],[\"A\",\"B\"],[\"B\",\"END\"]],"
               "\"result\":{\"from_a\":\"${A.vv}\",\"prev\":\"$\",\"start\":\"${START}\"}}",
           "{\"x\": 5}", false);
    assert_int_equal(r.res.status, 0);
    assert_json(r.res.result, "{\"from_a\": 5, \"prev\": {\"vv\": 5}, \"start\": {\"x\": 5}}");
    done(&r);
}

static void join_merges_objects_in_edges_order(void **state)
{
    (void)state;
    struct ran r;
    run_wf(&r, "{\"nodes\":[{\"id\":\"A\",\"type\":\"function\",\"function\":\"echo\",\"params\":{\"k\":\"a\",\"a\":1}},"
               "{\"id\":\"B\",\"type\":\"function\",\"function\":\"echo\",\"params\":{\"k\":\"b\",\"b\":2}},"
               "{\"id\":\"J\",\"type\":\"function\",\"function\":\"echo\"}],"
               "\"edges\":[[\"START\",\"B\"],[\"START\",\"A\"],[\"A\",\"J\"],[\"B\",\"J\"],[\"J\",\"END\"]]}",
           "{}", false);
    assert_int_equal(r.res.status, 0);
    /* A's edge to J is listed first, so B's "k" wins. */
    assert_json(r.res.result, "{\"k\": \"b\", \"a\": 1, \"b\": 2}");
    done(&r);
}

static const char *switch_wf =
    "{\"nodes\":[{\"id\":\"S\",\"type\":\"switch\",\"branches\":["
    "{\"when\":\"$.v == 1\",\"next\":\"ONE\"},{\"when\":\"$.v == 2\",\"next\":\"TWO\"}]%s},"
    "{\"id\":\"ONE\",\"type\":\"function\",\"function\":\"echo\",\"params\":{\"took\":\"one\"}},"
    "{\"id\":\"TWO\",\"type\":\"function\",\"function\":\"echo\",\"params\":{\"took\":\"two\"}},"
    "{\"id\":\"T2\",\"type\":\"function\",\"function\":\"tag\"},"
    "{\"id\":\"J\",\"type\":\"function\",\"function\":\"echo\"}],"
    "\"edges\":[[\"START\",\"S\"],[\"TWO\",\"T2\"],[\"ONE\",\"J\"],[\"T2\",\"J\"],[\"J\",\"END\"]]}";

static void switch_skips_dead_paths_and_join_runs_on_one_live_edge(void **state)
{
    (void)state;
    char wf[2048];
    snprintf(wf, sizeof wf, switch_wf, "");
    struct ran r;
    run_wf(&r, wf, "{\"v\": 1}", true);
    assert_int_equal(r.res.status, 0);
    assert_json(r.res.result, "{\"took\": \"one\"}");
    assert_string_equal(state_of(r.res.trace, "TWO"), "skipped");
    assert_string_equal(state_of(r.res.trace, "T2"), "skipped");
    assert_string_equal(state_of(r.res.trace, "J"), "succeeded");
    struct json_object *branch = json_object_object_get(trace_entry(r.res.trace, "S"), "branch");
    assert_string_equal(json_object_get_string(json_object_object_get(branch, "taken")), "ONE");
    done(&r);
    run_wf(&r, wf, "{\"v\": 2}", true);
    assert_json(r.res.result, "{\"took\": \"two\", \"seen\": true}");
    assert_string_equal(state_of(r.res.trace, "ONE"), "skipped");
    assert_string_equal(json_object_get_string(json_object_object_get(trace_entry(r.res.trace, "T2"), "print")),
                        "tagged\n");
    done(&r);
}

static void no_branch_matched_and_default(void **state)
{
    (void)state;
    char wf[2048];
    snprintf(wf, sizeof wf, switch_wf, "");
    struct ran r;
    run_wf(&r, wf, "{\"v\": 3}", false);
    assert_int_equal(r.res.status, -1);
    assert_int_equal(r.res.err.code, BRD_E_NO_BRANCH_MATCHED);
    assert_string_equal(r.res.err.node, "S");
    struct json_object *body = brd_run_error_json(&r.res);
    struct json_object *e = json_object_object_get(body, "error");
    assert_string_equal(json_object_get_string(json_object_object_get(e, "code")), "NO_BRANCH_MATCHED");
    assert_string_equal(json_object_get_string(json_object_object_get(e, "request_id")), "rid-1");
    json_object_put(body);
    done(&r);
    snprintf(wf, sizeof wf, switch_wf, ",\"default\":\"ONE\"");
    run_wf(&r, wf, "{\"v\": 3}", false);
    assert_int_equal(r.res.status, 0);
    assert_json(r.res.result, "{\"took\": \"one\"}");
    done(&r);
}

static void failure_fails_the_run_unless_on_error(void **state)
{
    (void)state;
    struct ran r;
    run_wf(&r, "{\"nodes\":[{\"id\":\"F\",\"type\":\"function\",\"function\":\"fail\"}],"
               "\"edges\":[[\"START\",\"F\"],[\"F\",\"END\"]]}", "{}", true);
    assert_int_equal(r.res.status, -1);
    assert_int_equal(r.res.err.code, BRD_E_FUNCTION_ERROR);
    assert_string_equal(r.res.err.node, "F");
    assert_string_equal(state_of(r.res.trace, "F"), "failed");
    assert_string_equal(state_of(r.res.trace, "END"), "pending");
    done(&r);
    run_wf(&r, "{\"nodes\":[{\"id\":\"F\",\"type\":\"function\",\"function\":\"fail\","
               "\"on_error\":{\"output\":{\"fallback\":\"${START.x}\"}}},"
               "{\"id\":\"G\",\"type\":\"function\",\"function\":\"tag\"}],"
               "\"edges\":[[\"START\",\"F\"],[\"F\",\"G\"],[\"G\",\"END\"]]}", "{\"x\": 9}", true);
    assert_int_equal(r.res.status, 0);
    assert_json(r.res.result, "{\"fallback\": 9, \"seen\": true}");
    assert_string_equal(state_of(r.res.trace, "F"), "failed");
    done(&r);
}

static void declared_params_are_checked_and_converted(void **state)
{
    (void)state;
    const char *wf = "{\"params\":{\"n\":{\"type\":\"int\",\"required\":true}},"
                     "\"nodes\":[{\"id\":\"F\",\"type\":\"function\",\"function\":\"echo\"}],"
                     "\"edges\":[[\"START\",\"F\"],[\"F\",\"END\"]]}";
    struct ran r;
    run_wf(&r, wf, "{\"n\": \"7\", \"extra\": true}", false);
    assert_int_equal(r.res.status, 0);
    assert_json(r.res.result, "{\"n\": 7, \"extra\": true}");
    done(&r);
    run_wf(&r, wf, "{\"n\": \"seven\"}", false);
    assert_int_equal(r.res.status, -1);
    assert_int_equal(r.res.err.code, BRD_E_BAD_REQUEST);
    done(&r);
    run_wf(&r, wf, "{}", false);
    assert_int_equal(r.res.err.code, BRD_E_BAD_REQUEST);
    done(&r);
}

/* More calls in flight than the wait loop keeps on its stack (16). */
static void twenty_parallel_functions_join(void **state)
{
    (void)state;
    char wf[8192] = "{\"nodes\":[";
    char edges[4096] = "";
    for (int i = 0; i < 20; i++) {
        snprintf(wf + strlen(wf), sizeof wf - strlen(wf),
                 "%s{\"id\":\"F%d\",\"type\":\"function\",\"function\":\"echo\","
                 "\"params\":{\"k%d\":%d}}", i ? "," : "", i, i, i);
        snprintf(edges + strlen(edges), sizeof edges - strlen(edges),
                 "[\"START\",\"F%d\"],[\"F%d\",\"END\"],", i, i);
    }
    edges[strlen(edges) - 1] = '\0';
    snprintf(wf + strlen(wf), sizeof wf - strlen(wf), "],\"edges\":[%s]}", edges);
    struct ran r;
    run_wf(&r, wf, "{}", false);
    assert_int_equal(r.res.status, 0);
    assert_int_equal(json_object_object_length(r.res.result), 20);
    assert_int_equal(json_object_get_int(json_object_object_get(r.res.result, "k19")), 19);
    done(&r);
}

static void one_engine_serves_many_runs(void **state)
{
    (void)state;
    char wf[2048];
    snprintf(wf, sizeof wf, switch_wf, ",\"default\":\"TWO\"");
    put("workflows/w.json", wf);
    struct brd_fn_runner runner = {&fake_ops, NULL};
    struct brd_diags d = {0};
    struct brd_service *s = NULL;
    struct brd_engine *e = NULL;
    struct brd_error err;
    assert_int_equal(brd_service_load(dir, &runner, &s, &d), 0);
    assert_int_equal(brd_engine_new(&e, &err), 0);
    for (int i = 0; i < 200; i++) {
        char in[32];
        snprintf(in, sizeof in, "{\"v\": %d}", i % 3);
        struct json_object *input = NULL;
        assert_int_equal(brd_json_parse(in, strlen(in), &input, &err), 0);
        struct brd_run_result res;
        struct brd_run_opts opts = {NULL, i % 2 == 0};
        assert_int_equal(brd_engine_run(e, s, brd_service_workflow(s, "w"), input, &opts, &res), 0);
        assert_int_equal(strlen(res.request_id), 32);
        brd_run_result_clear(&res);
        json_object_put(input);
    }
    brd_engine_free(e);
    brd_service_free(s);
}

/* An API on a port nobody listens on: replayed, it answers from the
 * recording (its output mapping live, the trace says so); recorded live,
 * its failure is kept as {"error": {code, message}}. */
static void replay_answers_api_nodes_and_record_keeps_failures(void **state)
{
    (void)state;
    put("apis/down.json", "{\"url\": \"http://127.0.0.1:9/x/{id}\", \"method\": \"GET\","
                          "\"params\": {\"id\": {\"in\": \"path\", \"type\": \"int\", \"required\": true}}}");
    const char *w = "{\"nodes\":[{\"id\":\"A\",\"type\":\"api\",\"api\":\"down\","
                    "\"params\":{\"id\":\"${START.id}\"},\"output\":{\"n\":\"$.data[0]\"}}],"
                    "\"edges\":[[\"START\",\"A\"],[\"A\",\"END\"]]}";
    struct brd_error err;
    const char *rec = "{\"A\": {\"result\": {\"data\": [7]}}}";
    assert_int_equal(brd_json_parse(rec, strlen(rec), &g_replay, &err), 0);
    struct ran r;
    run_wf(&r, w, "{\"id\": 3}", true);
    assert_int_equal(r.res.status, 0);
    assert_json(r.res.result, "{\"n\": 7}");
    struct json_object *a = trace_entry(r.res.trace, "A");
    assert_true(json_object_get_boolean(json_object_object_get(a, "replayed")));
    assert_json(json_object_object_get(a, "input"), "{\"id\": 3}");
    done(&r);
    /* A missing required parameter fails as live, before any recording. */
    run_wf(&r, w, "{}", false);
    assert_int_equal(r.res.err.code, BRD_E_PARAM_MISSING);
    done(&r);
    json_object_put(g_replay);
    g_replay = NULL;

    g_record = json_object_new_object();
    run_wf(&r, w, "{\"id\": 3}", false);
    assert_int_equal(r.res.status, -1);
    assert_int_equal(r.res.err.code, BRD_E_API_ERROR);
    struct json_object *e = json_object_object_get(json_object_object_get(g_record, "A"), "error");
    assert_string_equal(json_object_get_string(json_object_object_get(e, "code")), "API_ERROR");
    assert_non_null(strstr(json_object_get_string(json_object_object_get(e, "message")), "127.0.0.1:9"));
    done(&r);
    json_object_put(g_record);
    g_record = NULL;
    char path[128];
    snprintf(path, sizeof path, "%s/apis/down.json", dir);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(chain_hands_on_outputs_and_result_defaults_to_previous),
        cmocka_unit_test(params_output_and_result_templates),
        cmocka_unit_test(join_merges_objects_in_edges_order),
        cmocka_unit_test(switch_skips_dead_paths_and_join_runs_on_one_live_edge),
        cmocka_unit_test(no_branch_matched_and_default),
        cmocka_unit_test(failure_fails_the_run_unless_on_error),
        cmocka_unit_test(declared_params_are_checked_and_converted),
        cmocka_unit_test(twenty_parallel_functions_join),
        cmocka_unit_test(one_engine_serves_many_runs),
        cmocka_unit_test(replay_answers_api_nodes_and_record_keeps_failures),
    };
    return cmocka_run_group_tests_name("exec", tests, setup, teardown);
}
