/* cmd_test.c — `braid test DIR [WORKFLOW]`: runs the recorded test cases
 * (SPEC section 12) with every API and SQL node answered from its
 * recording — no network, no database — and everything after the
 * transfer live; `--record` runs the inputs live and writes what the
 * nodes gave.  The case files and the comparison are src/testcase.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/file.h"
#include "cli.h"
#include "commands.h"
#include "exec.h"
#include "fnrunner.h"
#include "junit.h"
#include "service.h"
#include "testcase.h"

static const char usage_text[] =
    "usage: braid test DIR [WORKFLOW] [--record [--update]] [--junit FILE]\n"
    "\n"
    "Runs the recorded test cases DIR/tests/WORKFLOW/CASE.json (every workflow's, or\n"
    "WORKFLOW's): API and SQL nodes answer from the case's \"recorded\" without touching\n"
    "the network or a database; filters, output mappings, switches, joins and functions\n"
    "run as live.  Prints one line per case (ok / FAIL with the first difference), then\n"
    "\"N passed, M failed\".\n"
    "\n"
    "  --record      run each case's input live instead, write what every API and SQL\n"
    "                node gave into \"recorded\" and the outcome into \"expect\" when the\n"
    "                case has none; a case whose expect the live run contradicts is\n"
    "                reported, counted as failed and left as it is\n"
    "  --update      with --record: overwrite a contradicted expect too\n"
    "  --junit FILE  also write a JUnit XML report (one testcase per case)\n"
    "\n"
    "exit status: 0 all passed, 1 a case failed, 2 bad usage or a malformed\n"
    "directory or case file\n";

struct opts {
    const char *dir, *workflow, *junit;
    bool record, update;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Writes text to dir/file through a temporary file renamed over it; an
 * unchanged file is left alone.  0, or -1 with a message printed. */
static int write_case(const char *dir, const char *file, const char *text)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    char *old = NULL;
    size_t oldlen = 0;
    struct brd_error err;
    if (brd_file_read(path, 0, &old, &oldlen, &err) == 0 && oldlen == strlen(text) && !memcmp(old, text, oldlen)) {
        free(old);
        return 0;
    }
    free(old);
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "braid test: %s: cannot write: %s\n", path, strerror(errno));
        return -1;
    }
    int bad = fputs(text, f) < 0;
    bad |= fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        fprintf(stderr, "braid test: %s: cannot write: %s\n", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* One case: 1 passed, 0 failed, -1 could not be run (out of memory, a
 * file not written).  *why gets the failure's reason (owned). */
static int run_case(struct brd_engine *e, const struct brd_service *s, const struct opts *o,
                    const struct brd_testcase *c, char **why)
{
    *why = NULL;
    struct json_object *record = o->record ? json_object_new_object() : NULL;
    if (o->record && !record)
        return -1;
    if (!o->record && !c->expect) {
        *why = strdup("the case has no \"expect\" (record one: braid test DIR WORKFLOW --record)");
        return *why ? 0 : -1;
    }
    struct brd_run_opts ro = {NULL, false, o->record ? NULL : c->recorded, record};
    struct brd_run_result res;
    brd_engine_run(e, s, c->wf, c->input, &ro, &res);
    int verdict = 1;
    if (c->expect) {
        int rc = brd_testcase_compare(c->expect, &res, why);
        verdict = rc < 0 ? -1 : rc == 0;
    }
    if (o->record && verdict >= 0 && (verdict == 1 || o->update)) {
        struct json_object *expect = verdict == 1 && c->expect ? brd_json_ref(c->expect)
                                                               : brd_testcase_expect_of(&res);
        char *text = expect ? brd_testcase_text(c->input, record, expect) : NULL;
        if (!text || write_case(s->dir, c->file, text) != 0)
            verdict = -1;
        else if (o->update)
            verdict = 1;    /* --update: the live run is the new expectation */
        free(text);
        json_object_put(expect);
    }
    brd_run_result_clear(&res);
    json_object_put(record);
    return verdict;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (brd_cli_is_help(a)) {
            fputs(usage_text, stdout);
            return 0;
        } else if (!strcmp(a, "--record")) {
            o->record = true;
        } else if (!strcmp(a, "--update")) {
            o->update = true;
        } else if (!strcmp(a, "--junit") && i + 1 < argc) {
            o->junit = argv[++i];
        } else if (!strncmp(a, "--junit=", 8) && a[8]) {
            o->junit = a + 8;
        } else if (a[0] != '-' && !o->dir) {
            o->dir = a;
        } else if (a[0] != '-' && !o->workflow) {
            o->workflow = a;
        } else {
            fprintf(stderr, "braid test: unexpected argument '%s'\n\n%s", a, usage_text);
            return BRD_CMD_EXIT_USAGE;
        }
    }
    if (!o->dir) {
        fputs(usage_text, stderr);
        return BRD_CMD_EXIT_USAGE;
    }
    if (o->update && !o->record) {
        fprintf(stderr, "braid test: --update goes with --record\n\n%s", usage_text);
        return BRD_CMD_EXIT_USAGE;
    }
    return -1;
}

static int run_suite(struct brd_engine *e, const struct brd_service *s, const struct opts *o,
                     const struct brd_testsuite *t)
{
    struct brd_junit junit = {0};
    size_t passed = 0, failed = 0;
    int status = BRD_CMD_EXIT_OK;
    for (size_t i = 0; i < t->count; i++) {
        const struct brd_testcase *c = t->cases[i];
        char *why = NULL;
        double t0 = now_s();
        int v = run_case(e, s, o, c, &why);
        double secs = now_s() - t0;
        if (v < 0) {
            fprintf(stderr, "braid test: %s: could not be run (out of memory or not written)\n", c->file);
            status = BRD_CMD_EXIT_USAGE;
            free(why);
            break;
        }
        if (v == 1) {
            passed++;
            printf("ok   %s %s%s\n", c->wf->name, c->name, o->record ? " (recorded)" : "");
        } else {
            failed++;
            printf("FAIL %s %s: %s%s\n", c->wf->name, c->name, why,
                   o->record ? " (not written: --update overwrites the expect)" : "");
        }
        fflush(stdout);
        if (o->junit && brd_junit_add(&junit, c->wf->name, c->name, v == 1 ? NULL : why, secs) != 0)
            status = BRD_CMD_EXIT_USAGE;
        free(why);
    }
    printf("%zu passed, %zu failed\n", passed, failed);
    if (o->junit && status == BRD_CMD_EXIT_OK) {
        struct brd_error err;
        brd_error_clear(&err);
        if (brd_junit_write(&junit, o->junit, &err) != 0) {
            fprintf(stderr, "braid test: --junit: %s\n", err.msg);
            status = BRD_CMD_EXIT_USAGE;
        }
    }
    brd_junit_free(&junit);
    if (status == BRD_CMD_EXIT_OK && failed)
        status = BRD_CMD_EXIT_FAILED;
    return status;
}

int brd_cmd_test(int argc, char **argv)
{
    struct opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    struct brd_service *s = NULL;
    if (brd_cli_load_service("test", o.dir, &s) != 0)
        return BRD_CMD_EXIT_USAGE;
    int status = BRD_CMD_EXIT_USAGE;
    struct brd_testsuite t = {0};
    struct brd_diags d = {0};
    struct brd_engine *e = NULL;
    struct brd_error err;
    brd_error_clear(&err);
    if (o.workflow && !brd_service_workflow(s, o.workflow)) {
        fprintf(stderr, "braid test: no workflow '%s' in %s\n", o.workflow, o.dir);
    } else if (brd_tests_load(o.dir, s, o.workflow, &t, &d) != 0) {
        for (size_t i = 0; i < d.count; i++)
            fprintf(stderr, "%s\n", d.msgs[i]);
        fprintf(stderr, "braid test: %zu problem%s in %s/tests\n", d.count, d.count == 1 ? "" : "s", o.dir);
    } else if (brd_engine_new(&e, &err) != 0) {
        fprintf(stderr, "braid test: %s\n", err.msg);
    } else {
        if (!t.count)
            fprintf(stderr, "braid test: no test cases in %s/tests%s%s\n", o.dir, o.workflow ? "/" : "",
                    o.workflow ? o.workflow : "");
        status = run_suite(e, s, &o, &t);
    }
    brd_engine_free(e);
    brd_tests_free(&t);
    brd_diags_free(&d);
    brd_service_free(s);
    brd_fnrunner_shutdown();
    return status;
}
