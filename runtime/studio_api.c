/* studio_api.c — the Studio's check and Test run over the engine (see
 * studio_api.h). */
#include "studio_api.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "exec.h"
#include "service.h"
#include "testcase.h"

/* The folders a message's file may be in (the loader names files relative
 * to the service directory). */
static bool is_file(const char *s, size_t n)
{
    static const char *const folders[] = {"apis/", "datasources/", "functions/", "workflows/",
                                          "tests/", "layouts/"};
    if (memchr(s, ' ', n))
        return false;
    for (size_t i = 0; i < sizeof folders / sizeof folders[0]; i++)
        if (n > strlen(folders[i]) && !strncmp(s, folders[i], strlen(folders[i])))
            return true;
    return false;
}

/* A field path as the loader writes it: params, on_error, branches[0].next,
 * headers.X-Token — lower case first, no spaces, quotes or colons. */
static bool is_field(const char *s, size_t n)
{
    if (n == 0 || n > 128 || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] == ' ' || s[i] == '"' || s[i] == ':' || (unsigned char)s[i] < 0x20)
            return false;
    return true;
}

static struct json_object *string_or_null(const char *s, size_t n)
{
    return s ? json_object_new_string_len(s, (int)n) : NULL;
}

struct json_object *brd_studio_problem(const char *dir, const char *msg)
{
    const char *p = msg, *file = NULL, *node = NULL, *field = NULL, *e;
    size_t nfile = 0, nnode = 0, nfield = 0;
    /* A function's compile errors name its path ("DIR/functions/f.py:1:13: ..."). */
    size_t ndir = strlen(dir);
    while (ndir > 1 && dir[ndir - 1] == '/')
        ndir--;
    if (!strncmp(p, dir, ndir) && p[ndir] == '/')
        p += ndir + 1;
    if ((e = strchr(p, ':')) && is_file(p, (size_t)(e - p))) {
        file = p;
        nfile = (size_t)(e - p);
        p = e + (e[1] == ' ' ? 2 : 1);   /* "f.py:3: ..." keeps its "3: ..." */
    } else {
        p = msg;
    }
    if (file && !strncmp(p, "node ", 5) && (e = strstr(p + 5, ": ")) && e > p + 5 &&
        !memchr(p + 5, ' ', (size_t)(e - p - 5))) {
        node = p + 5;
        nnode = (size_t)(e - node);
        p = e + 2;
    }
    if (file && (e = strstr(p, ": ")) && is_field(p, (size_t)(e - p))) {
        field = p;
        nfield = (size_t)(e - p);
        p = e + 2;
    }
    struct json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    int rc = brd_json_add(o, "file", string_or_null(file, nfile));
    rc |= brd_json_add(o, "node", string_or_null(node, nnode));
    rc |= brd_json_add(o, "field", string_or_null(field, nfield));
    rc |= brd_json_add(o, "message", json_object_new_string(*p ? p : msg));
    /* A member that could not be made is stored as null: check each. */
    if (rc || (file && !json_object_object_get(o, "file")) || (node && !json_object_object_get(o, "node")) ||
        (field && !json_object_object_get(o, "field")) || !json_object_object_get(o, "message")) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

/* The diags as an array of problems (a new reference) or NULL. */
static struct json_object *problems_of(const char *dir, const struct brd_diags *d)
{
    struct json_object *arr = json_object_new_array();
    if (!arr || d->nomem) {
        json_object_put(arr);
        return NULL;
    }
    for (size_t i = 0; i < d->count; i++) {
        struct json_object *p = brd_studio_problem(dir, d->msgs[i]);
        if (!p || brd_json_append(arr, p) != 0) {
            json_object_put(arr);
            return NULL;
        }
    }
    return arr;
}

int brd_studio_check(const char *dir, const struct brd_fn_runner *runner, struct json_object **errors)
{
    struct brd_diags d = {0};
    struct brd_service *s = NULL;
    if (brd_service_load(dir, runner, &s, &d) == 0) {
        struct brd_testsuite t = {0};
        brd_tests_load(dir, s, NULL, &t, &d);
        brd_tests_free(&t);
        brd_service_free(s);
    }
    *errors = problems_of(dir, &d);
    brd_diags_free(&d);
    return *errors ? 0 : -1;
}

/* {"error": {"code", "message"}} (a new reference) or NULL. */
static struct json_object *error_body(const char *code, const char *message)
{
    struct json_object *o = json_object_new_object(), *e = json_object_new_object();
    if (!o || !e) {
        json_object_put(o);
        json_object_put(e);
        return NULL;
    }
    int rc = brd_json_add(e, "code", json_object_new_string(code));
    rc |= brd_json_add(e, "message", json_object_new_string(message));
    rc |= brd_json_add(o, "error", e);
    if (rc) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

/* The 200 body of a finished run (a new reference) or NULL. */
static struct json_object *run_body(const struct brd_run_result *res, struct json_object *record)
{
    struct json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    int rc = 0;
    if (res->status == 0) {
        rc |= brd_json_add(o, "result", brd_json_ref(res->result));
    } else {
        struct json_object *eb = brd_run_error_json(res);
        struct json_object *e = eb ? json_object_object_get(eb, "error") : NULL;
        rc |= !e || brd_json_add(o, "error", brd_json_ref(e));
        json_object_put(eb);
    }
    rc |= brd_json_add(o, "trace", res->trace ? brd_json_ref(res->trace) : json_object_new_array());
    rc |= brd_json_add(o, "recorded", brd_json_ref(record));
    if (rc || !json_object_object_get(o, "trace")) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

int brd_studio_run(const char *dir, const struct brd_fn_runner *runner, const char *workflow,
                   struct json_object *input, struct json_object **body, struct brd_error *err)
{
    *body = NULL;
    struct brd_diags d = {0};
    struct brd_service *s = NULL;
    if (brd_service_load(dir, runner, &s, &d) != 0) {
        struct json_object *errors = problems_of(dir, &d), *o = errors ? json_object_new_object() : NULL;
        brd_diags_free(&d);
        if (!o || brd_json_add(o, "errors", errors) != 0) {
            if (!o)
                json_object_put(errors);
            json_object_put(o);
            return brd_error_nomem(err), 500;
        }
        *body = o;
        return 422;
    }
    brd_diags_free(&d);
    const struct brd_workflow *wf = brd_service_workflow(s, workflow);
    if (!wf) {
        char msg[200];
        snprintf(msg, sizeof msg, "no workflow \"%.64s\" (no workflows/%.64s.json)", workflow, workflow);
        brd_service_free(s);
        *body = error_body("NOT_FOUND", msg);
        return *body ? 404 : (brd_error_nomem(err), 500);
    }
    struct brd_engine *e = NULL;
    struct json_object *record = json_object_new_object();
    if (!record || brd_engine_new(&e, err) != 0) {
        if (!record)
            brd_error_nomem(err);
        json_object_put(record);
        brd_service_free(s);
        return 500;
    }
    struct brd_run_opts opts = {NULL, true, NULL, record};
    struct brd_run_result res;
    brd_engine_run(e, s, wf, input, &opts, &res);
    *body = run_body(&res, record);
    brd_run_result_clear(&res);
    json_object_put(record);
    brd_engine_free(e);
    brd_service_free(s);
    if (!*body)
        return brd_error_nomem(err), 500;
    return 200;
}
