/* testcase.c — recorded test cases: loading and checking them, comparing
 * an outcome with what a case expects, the stable text of a case file
 * (see testcase.h). */
#include "testcase.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"
#include "dirlist.h"
#include "jsonpath.h"

/* ---- loading ------------------------------------------------------------------ */

static void case_free(struct brd_testcase *c)
{
    if (!c)
        return;
    free(c->file);
    free(c->name);
    json_object_put(c->input);
    json_object_put(c->recorded);
    json_object_put(c->doc);
    free(c);
}

void brd_tests_free(struct brd_testsuite *t)
{
    for (size_t i = 0; i < t->count; i++)
        case_free(t->cases[i]);
    free(t->cases);
    t->cases = NULL;
    t->count = 0;
}

static const struct brd_node *node_named(const struct brd_workflow *wf, const char *id)
{
    for (size_t i = 0; i < wf->nnodes; i++)
        if (!strcmp(wf->nodes[i].id, id))
            return &wf->nodes[i];
    return NULL;
}

static bool is_code(struct json_object *v)
{
    return json_object_is_type(v, json_type_string) && brd_code_from_name(json_object_get_string(v)) != BRD_OK;
}

/* {"code": C} with an optional string "message" when message_ok; the
 * problems go to d under what. */
static int check_error_obj(const char *file, const char *what, struct json_object *e, bool message_ok,
                           struct brd_diags *d)
{
    if (!json_object_is_type(e, json_type_object))
        return brd_diag_add(d, "%s: %s must be an object {\"code\": ...}", file, what);
    int rc = 0;
    json_object_object_foreach(e, key, val) {
        if (!strcmp(key, "code")) {
            if (!is_code(val))
                rc = brd_diag_add(d, "%s: %s.code: %s is not an error code of SPEC section 6 "
                                  "(API_ERROR, DATASOURCE_ERROR, ...)", file, what, brd_json_compact(val, NULL));
        } else if (!strcmp(key, "message") && message_ok) {
            if (!json_object_is_type(val, json_type_string))
                rc = brd_diag_add(d, "%s: %s.message must be a string", file, what);
        } else {
            rc = brd_diag_add(d, "%s: %s: unknown member \"%s\"", file, what, key);
        }
    }
    if (!json_object_object_get_ex(e, "code", NULL))
        rc = brd_diag_add(d, "%s: %s has no \"code\"", file, what);
    return rc;
}

/* {"result": V} or {"error": ...}: exactly one of them. */
static int check_outcome(const char *file, const char *what, struct json_object *o, bool message_ok,
                         struct brd_diags *d)
{
    if (!json_object_is_type(o, json_type_object))
        return brd_diag_add(d, "%s: %s must be {\"result\": ...} or {\"error\": {\"code\": ...}}", file, what);
    struct json_object *e = NULL;
    bool has_result = json_object_object_get_ex(o, "result", NULL);
    bool has_error = json_object_object_get_ex(o, "error", &e);
    int rc = 0;
    json_object_object_foreach(o, key, val) {
        (void)val;
        if (strcmp(key, "result") && strcmp(key, "error"))
            rc = brd_diag_add(d, "%s: %s: unknown member \"%s\" (it holds \"result\" or \"error\")", file,
                              what, key);
    }
    if (has_result == has_error)
        return brd_diag_add(d, "%s: %s must hold exactly one of \"result\" and \"error\"", file, what);
    if (has_error) {
        char sub[160];
        snprintf(sub, sizeof sub, "%s.error", what);
        rc |= check_error_obj(file, sub, e, message_ok, d);
    }
    return rc;
}

static int check_case(struct brd_testcase *c, struct brd_diags *d)
{
    const char *f = c->file;
    if (!json_object_is_type(c->doc, json_type_object))
        return brd_diag_add(d, "%s: a test case must be a JSON object {\"input\", \"recorded\", \"expect\"}", f);
    int rc = 0;
    json_object_object_foreach(c->doc, key, val) {
        if (!strcmp(key, "input")) {
            if (!json_object_is_type(val, json_type_object))
                rc = brd_diag_add(d, "%s: input must be an object (the request parameters), not %s", f,
                                  brd_json_type_name(val));
            else
                c->input = brd_json_ref(val);
        } else if (!strcmp(key, "recorded")) {
            if (!json_object_is_type(val, json_type_object)) {
                rc = brd_diag_add(d, "%s: recorded must be an object (node id -> what it gave)", f);
                continue;
            }
            c->recorded = brd_json_ref(val);
            json_object_object_foreach(val, id, rec) {
                const struct brd_node *n = node_named(c->wf, id);
                char what[128];
                snprintf(what, sizeof what, "recorded.%s", id);
                if (!n || n->type != BRD_NODE_API)
                    rc = brd_diag_add(d, "%s: recorded: \"%s\" is not an API or SQL node of workflow %s",
                                      f, id, c->wf->name);
                else
                    rc |= check_outcome(f, what, rec, true, d);
            }
        } else if (!strcmp(key, "expect")) {
            c->expect = val;
            rc |= check_outcome(f, "expect", val, true, d);   /* a message is kept, not compared */
        } else {
            rc = brd_diag_add(d, "%s: unknown member \"%s\" (a case holds input, recorded, expect)", f, key);
        }
    }
    if (!c->input && !(c->input = json_object_new_object()))
        return brd_diag_add(d, "out of memory");
    if (!c->recorded && !(c->recorded = json_object_new_object()))
        return brd_diag_add(d, "out of memory");
    return rc;
}

static int add_case(struct brd_testsuite *t, size_t *cap, struct brd_testcase *c, struct brd_diags *d)
{
    if (t->count == *cap) {
        size_t n = *cap ? *cap * 2 : 16;
        struct brd_testcase **grown = realloc(t->cases, n * sizeof *grown);
        if (!grown) {
            case_free(c);
            return brd_diag_add(d, "out of memory");
        }
        t->cases = grown;
        *cap = n;
    }
    t->cases[t->count++] = c;
    return 0;
}

static int load_case(const char *dir, const char *sub, const char *name, const struct brd_workflow *wf,
                     struct brd_testcase **out, struct brd_diags *d)
{
    *out = NULL;
    struct brd_testcase *c = calloc(1, sizeof *c);
    if (!c)
        return brd_diag_add(d, "out of memory");
    size_t flen = strlen(sub) + strlen(name) + 8;
    c->file = malloc(flen);
    c->name = strdup(name);
    if (!c->file || !c->name) {
        case_free(c);
        return brd_diag_add(d, "out of memory");
    }
    snprintf(c->file, flen, "%s/%s.json", sub, name);
    c->wf = wf;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, c->file);
    struct brd_error err;
    brd_error_clear(&err);
    if (brd_json_read_file(path, &c->doc, &err) != 0) {
        brd_diag_error(d, c->file, &err);
        case_free(c);
        return -1;
    }
    if (check_case(c, d) != 0) {
        case_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

int brd_tests_load(const char *dir, const struct brd_service *s, const char *only,
                   struct brd_testsuite *out, struct brd_diags *d)
{
    memset(out, 0, sizeof *out);
    char **folders = NULL;
    size_t nfolders = 0, cap = 0;
    int rc = brd_dir_names(dir, "tests", NULL, &folders, &nfolders, d);
    for (size_t i = 0; i < nfolders; i++) {
        if (only && strcmp(folders[i], only))
            continue;
        const struct brd_workflow *wf = brd_service_workflow(s, folders[i]);
        if (!wf) {
            rc = brd_diag_add(d, "tests/%s/: names no workflow (there is no workflows/%s.json)", folders[i],
                              folders[i]);
            continue;
        }
        char sub[128], **names = NULL;
        size_t nnames = 0;
        snprintf(sub, sizeof sub, "tests/%s", folders[i]);
        rc |= brd_dir_names(dir, sub, ".json", &names, &nnames, d);
        for (size_t k = 0; k < nnames; k++) {
            struct brd_testcase *c = NULL;
            if (load_case(dir, sub, names[k], wf, &c, d) != 0)
                rc = -1;
            else if (add_case(out, &cap, c, d) != 0)
                rc = -1;
        }
        brd_dir_names_free(names, nnames);
    }
    brd_dir_names_free(folders, nfolders);
    if (rc != 0 || d->nomem) {
        brd_tests_free(out);
        return -1;
    }
    return 0;
}

/* ---- comparing ------------------------------------------------------------------ */

#define SHOW_MAX 200

/* v as compact JSON, cut to SHOW_MAX bytes ("absent" for a missing member). */
static void show(struct brd_strbuf *b, struct json_object *v, bool present)
{
    if (!present) {
        brd_strbuf_str(b, "nothing (absent)");
        return;
    }
    size_t n;
    const char *t = brd_json_compact(v, &n);
    if (n > SHOW_MAX) {
        brd_strbuf_add(b, t, SHOW_MAX);
        brd_strbuf_str(b, "...");
    } else {
        brd_strbuf_add(b, t, n);
    }
}

static int path_member(struct brd_strbuf *p, const char *key)
{
    size_t n = brd_jsonpath_escape_name(key, NULL);
    char *esc = malloc(n + 1);
    if (!esc)
        return -1;
    brd_jsonpath_escape_name(key, esc);
    brd_strbuf_str(p, "['");
    brd_strbuf_add(p, esc, n);
    free(esc);
    return brd_strbuf_str(p, "']");
}

static void difference(struct brd_strbuf *why, const struct brd_strbuf *path, struct json_object *want,
                       bool want_present, struct json_object *got, bool got_present)
{
    brd_strbuf_add(why, path->p, path->len);
    brd_strbuf_str(why, ": expected ");
    show(why, want, want_present);
    brd_strbuf_str(why, ", got ");
    show(why, got, got_present);
}

/* Finds the first place where got differs from want, in want's order
 * (then got's extra members), and writes it to why.  path holds the
 * normalized path of want; returns true when a difference was found. */
static bool first_difference(struct json_object *want, struct json_object *got, struct brd_strbuf *path,
                             struct brd_strbuf *why)
{
    if (brd_json_equal(want, got))
        return false;
    size_t mark = path->len;
    bool found = false;
    if (json_object_is_type(want, json_type_object) && json_object_is_type(got, json_type_object)) {
        json_object_object_foreach(want, key, wv) {
            struct json_object *gv = NULL;
            bool has = json_object_object_get_ex(got, key, &gv);
            path_member(path, key);
            if (!has)
                difference(why, path, wv, true, NULL, false);
            found = !has || first_difference(wv, gv, path, why);
            path->len = mark;
            if (path->p)
                path->p[mark] = 0;
            if (found)
                return true;
        }
        json_object_object_foreach(got, gkey, gval) {
            if (json_object_object_get_ex(want, gkey, NULL))
                continue;
            path_member(path, gkey);
            difference(why, path, NULL, false, gval, true);
            return true;
        }
    } else if (json_object_is_type(want, json_type_array) && json_object_is_type(got, json_type_array)) {
        size_t nw = json_object_array_length(want), ng = json_object_array_length(got);
        for (size_t i = 0; i < nw || i < ng; i++) {
            char idx[32];
            snprintf(idx, sizeof idx, "[%zu]", i);
            brd_strbuf_str(path, idx);
            if (i >= nw || i >= ng) {
                difference(why, path, i < nw ? json_object_array_get_idx(want, i) : NULL, i < nw,
                           i < ng ? json_object_array_get_idx(got, i) : NULL, i < ng);
                return true;
            }
            found = first_difference(json_object_array_get_idx(want, i), json_object_array_get_idx(got, i),
                                     path, why);
            path->len = mark;
            if (path->p)
                path->p[mark] = 0;
            if (found)
                return true;
        }
    }
    difference(why, path, want, true, got, true);
    return true;
}

int brd_testcase_compare(struct json_object *expect, const struct brd_run_result *res, char **why)
{
    *why = NULL;
    struct brd_strbuf b = {0}, path = {0};
    struct json_object *want = NULL, *e = NULL, *code = NULL;
    if (json_object_object_get_ex(expect, "result", &want)) {
        if (res->status != 0) {
            brd_strbuf_str(&b, "expected a result, got the error ");
            brd_strbuf_str(&b, brd_code_name(res->err.code));
            if (res->err.node[0]) {
                brd_strbuf_str(&b, " at node ");
                brd_strbuf_str(&b, res->err.node);
            }
            brd_strbuf_str(&b, ": ");
            brd_strbuf_str(&b, res->err.msg);
        } else {
            brd_strbuf_str(&path, "$");
            bool differs = first_difference(want, res->result, &path, &b);
            brd_strbuf_free(&path);
            if (!differs)
                return 0;
        }
    } else {
        json_object_object_get_ex(expect, "error", &e);
        json_object_object_get_ex(e, "code", &code);
        const char *wanted = json_object_get_string(code);
        if (res->status != 0 && wanted && !strcmp(wanted, brd_code_name(res->err.code)))
            return 0;
        brd_strbuf_str(&b, "expected the error ");
        brd_strbuf_str(&b, wanted ? wanted : "?");
        if (res->status == 0) {
            brd_strbuf_str(&b, ", got the result ");
            show(&b, res->result, true);
        } else {
            brd_strbuf_str(&b, ", got ");
            brd_strbuf_str(&b, brd_code_name(res->err.code));
            brd_strbuf_str(&b, ": ");
            brd_strbuf_str(&b, res->err.msg);
        }
    }
    if (b.failed || !b.p) {
        brd_strbuf_free(&b);
        return -1;
    }
    *why = b.p;
    return 1;
}

struct json_object *brd_testcase_expect_of(const struct brd_run_result *res)
{
    struct json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    int rc;
    if (res->status == 0) {
        rc = brd_json_add(o, "result", brd_json_ref(res->result));
    } else {
        struct json_object *e = json_object_new_object();
        rc = !e || brd_json_add(e, "code", json_object_new_string(brd_code_name(res->err.code)));
        rc |= brd_json_add(o, "error", e);
    }
    if (rc) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

/* ---- the text of a case file -------------------------------------------------------- */

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* recorded with its node ids in sorted order (a new object sharing the values). */
static struct json_object *sorted_recorded(struct json_object *recorded)
{
    size_t n = (size_t)json_object_object_length(recorded), i = 0;
    const char **keys = calloc(n ? n : 1, sizeof *keys);
    struct json_object *o = json_object_new_object();
    if (!keys || !o) {
        free(keys);
        json_object_put(o);
        return NULL;
    }
    json_object_object_foreach(recorded, key, val) {
        (void)val;
        keys[i++] = key;
    }
    qsort(keys, n, sizeof *keys, cmp_key);
    int rc = 0;
    for (i = 0; i < n; i++)
        rc |= brd_json_add(o, keys[i], brd_json_ref(json_object_object_get(recorded, keys[i])));
    free(keys);
    if (rc) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

char *brd_testcase_text(struct json_object *input, struct json_object *recorded, struct json_object *expect)
{
    struct json_object *doc = json_object_new_object(), *rec = sorted_recorded(recorded);
    int rc = !doc || !rec;
    if (!rc) {
        rc |= brd_json_add(doc, "input", brd_json_ref(input));
        rc |= brd_json_add(doc, "recorded", rec);
        rec = NULL;
        if (expect)
            rc |= brd_json_add(doc, "expect", brd_json_ref(expect));
    }
    json_object_put(rec);
    char *text = rc ? NULL : brd_json_pretty(doc);
    json_object_put(doc);
    return text;
}
