/* testcase.h — recorded test cases (SPEC section 12):
 * `tests/<workflow>/<case>.json` holding an input, what each API and SQL
 * node's transfer gave ("recorded") and the outcome expected ("expect").
 * Loading checks a case against its workflow (`braid check` and `braid
 * test` share it); comparing names the first difference as a normalized
 * JSONPath; the text of a case file is stable, so re-recording unchanged
 * backends rewrites it byte for byte.  Running cases is `braid test`
 * (runtime/cmd_test.c) over the engine's replay and record options.
 */
#ifndef BRD_TESTCASE_H
#define BRD_TESTCASE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/diag.h"
#include "base/jsonutil.h"
#include "exec.h"
#include "service.h"

struct brd_testcase {
    char *file;                       /* "tests/user_lookup/admin.json" (in the service dir) */
    char *name;                       /* "admin" */
    const struct brd_workflow *wf;    /* borrowed from the service */
    struct json_object *doc;          /* the file (owned) */
    struct json_object *input;        /* the request (owned reference): {} when absent */
    struct json_object *recorded;     /* node id -> {"result"} | {"error"} (owned reference;
                                         {} when absent) */
    struct json_object *expect;       /* {"result": V} | {"error": {"code": C}} (borrowed
                                         from doc), NULL when absent */
};

struct brd_testsuite {
    struct brd_testcase **cases;      /* by workflow name, then case name */
    size_t count;
};

/* Reads every case under dir/tests (only the folder of workflow `only`
 * when it is not NULL) and checks each against s: a folder that names no
 * workflow, a file that is not a JSON object, an unknown member, an input
 * that is not an object, a recorded node id that is not an API or SQL node
 * of the workflow, a recording that is not {"result": V} or {"error":
 * {"code": C, "message": M}}, an expect that is not {"result": V} or
 * {"error": {"code": C}} with C a SPEC error code.  Every problem goes to
 * d naming the file.  0 with *out (free with brd_tests_free), or -1. */
int brd_tests_load(const char *dir, const struct brd_service *s, const char *only,
                   struct brd_testsuite *out, struct brd_diags *d);

void brd_tests_free(struct brd_testsuite *t);

/* Whether res is what expect asks for.  0 when it is; 1 when not, with
 * *why (the caller frees) naming the first difference, e.g.
 * `$['role']: expected "admin", got "user"`; -1 when out of memory. */
int brd_testcase_compare(struct json_object *expect, const struct brd_run_result *res, char **why);

/* The expect of an outcome: {"result": V} or {"error": {"code": C}} (a new
 * reference; NULL when out of memory). */
struct json_object *brd_testcase_expect_of(const struct brd_run_result *res);

/* A case file's text: two-space indented JSON with the members input,
 * recorded (its node ids sorted), expect — in that order — and a final
 * newline.  The caller frees it; NULL when out of memory. */
char *brd_testcase_text(struct json_object *input, struct json_object *recorded, struct json_object *expect);

#endif
