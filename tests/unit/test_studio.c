/* test_studio.c — the Studio's pieces that need no server: load messages
 * split into file/node/field (runtime/studio_api.c), kinds and names,
 * etags, guarded writes and deletes (runtime/studio_files.c), and the
 * canonical pretty JSON they write (brd_json_pretty). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/file.h"
#include "studio_api.h"
#include "studio_files.h"

static void problem_is(const char *msg, const char *want)
{
    struct json_object *p = brd_studio_problem("/srv/svc/", msg), *w = NULL;
    struct brd_error err;
    assert_non_null(p);
    assert_int_equal(brd_json_parse(want, strlen(want), &w, &err), 0);
    if (!brd_json_equal(p, w))
        fail_msg("%s: got %s, expected %s", msg, brd_json_compact(p, NULL), want);
    json_object_put(p);
    json_object_put(w);
}

static void problems_name_file_node_and_field(void **state)
{
    (void)state;
    problem_is("workflows/x.json: node A: params: id: unknown node \"B\"",
               "{\"file\": \"workflows/x.json\", \"node\": \"A\", \"field\": \"params\", "
               "\"message\": \"id: unknown node \\\"B\\\"\"}");
    problem_is("workflows/x.json: node S: branches[0].next: unknown node \"N\"",
               "{\"file\": \"workflows/x.json\", \"node\": \"S\", \"field\": \"branches[0].next\", "
               "\"message\": \"unknown node \\\"N\\\"\"}");
    problem_is("workflows/x.json: node A: unknown field \"q\" for a api node",
               "{\"file\": \"workflows/x.json\", \"node\": \"A\", \"field\": null, "
               "\"message\": \"unknown field \\\"q\\\" for a api node\"}");
    problem_is("apis/a.json: url: must start with http://",
               "{\"file\": \"apis/a.json\", \"node\": null, \"field\": \"url\", \"message\": \"must start with http://\"}");
    problem_is("/srv/svc/functions/f.py:1:13: SyntaxError: invalid syntax",
               "{\"file\": \"functions/f.py\", \"node\": null, \"field\": null, "
               "\"message\": \"1:13: SyntaxError: invalid syntax\"}");
    problem_is("out of memory", "{\"file\": null, \"node\": null, \"field\": null, \"message\": \"out of memory\"}");
    problem_is("/elsewhere: cannot open the service directory: No such file",
               "{\"file\": null, \"node\": null, \"field\": null, "
               "\"message\": \"/elsewhere: cannot open the service directory: No such file\"}");
}

static void kinds_and_names(void **state)
{
    (void)state;
    struct brd_studio_file f;
    struct brd_error err;
    assert_int_equal(brd_studio_file_resolve("workflows", "w_1-x", &f, &err), 0);
    assert_string_equal(f.rel, "workflows/w_1-x.json");
    assert_int_equal(brd_studio_file_resolve("functions", "f", &f, &err), 0);
    assert_string_equal(f.rel, "functions/f.py");
    assert_false(f.json);
    assert_int_equal(brd_studio_file_resolve("function-settings", "f", &f, &err), 0);
    assert_string_equal(f.rel, "functions/f.json");
    assert_int_equal(brd_studio_file_resolve("tests", "wf/case", &f, &err), 0);
    assert_string_equal(f.rel, "tests/wf/case.json");
    assert_string_equal(f.folder, "tests/wf");
    assert_int_equal(brd_studio_file_resolve("nope", "x", &f, &err), 404);
    assert_int_equal(brd_studio_file_resolve("apis", "a.b", &f, &err), 400);
    assert_int_equal(brd_studio_file_resolve("apis", "", &f, &err), 400);
    assert_int_equal(brd_studio_file_resolve("apis", "../x", &f, &err), 400);
    assert_int_equal(brd_studio_file_resolve("tests", "wf", &f, &err), 400);
    assert_int_equal(brd_studio_file_resolve("tests", "wf/a/b", &f, &err), 400);
    assert_int_equal(brd_studio_file_resolve("tests", "/a", &f, &err), 400);
}

static void pretty_is_json_stringify_2(void **state)
{
    (void)state;
    const char *in = "{\"z\": 1, \"a\": [1, {}, [], {\"k\": \"v/\\u00e9\"}], \"m\": {}, \"n\": null, \"d\": 1.5}";
    struct json_object *v = NULL;
    struct brd_error err;
    assert_int_equal(brd_json_parse(in, strlen(in), &v, &err), 0);
    char *t = brd_json_pretty(v);
    assert_non_null(t);
    assert_string_equal(t, "{\n  \"z\": 1,\n  \"a\": [\n    1,\n    {},\n    [],\n    {\n      \"k\": \"v/\xc3\xa9\"\n"
                           "    }\n  ],\n  \"m\": {},\n  \"n\": null,\n  \"d\": 1.5\n}\n");
    free(t);
    json_object_put(v);
}

static char *read_all(const char *path)
{
    char *buf = NULL;
    size_t len;
    struct brd_error err;
    return brd_file_read(path, 0, &buf, &len, &err) == 0 ? buf : NULL;
}

static void put_and_delete_are_guarded_by_etags(void **state)
{
    (void)state;
    char dir[] = "/tmp/braid-studio-unit-XXXXXX", path[256];
    assert_non_null(mkdtemp(dir));
    struct brd_studio_file f;
    struct brd_error err;
    char e1[BRD_STUDIO_ETAG_LEN + 1], e2[BRD_STUDIO_ETAG_LEN + 1];
    assert_int_equal(brd_studio_file_resolve("tests", "wf/c", &f, &err), 0);
    assert_int_equal(brd_studio_put(dir, &f, "{\"b\":1,\"a\":2}", 13, NULL, e1, &err), 0);
    snprintf(path, sizeof path, "%s/tests/wf/c.json", dir);
    char *text = read_all(path);
    assert_non_null(text);
    assert_string_equal(text, "{\n  \"b\": 1,\n  \"a\": 2\n}\n");
    char want[BRD_STUDIO_ETAG_LEN + 1];
    brd_studio_etag(text, strlen(text), want);
    assert_string_equal(e1, want);
    free(text);
    assert_int_equal(brd_studio_put(dir, &f, "{}", 2, NULL, e2, &err), 409);
    assert_int_equal(brd_studio_put(dir, &f, "{}", 2, "0000000000000000", e2, &err), 409);
    assert_int_equal(brd_studio_put(dir, &f, "{", 1, e1, e2, &err), 400);
    char quoted[32];
    snprintf(quoted, sizeof quoted, "\"%s\"", e1);
    assert_int_equal(brd_studio_put(dir, &f, "{}", 2, quoted, e2, &err), 0);
    assert_string_not_equal(e1, e2);
    assert_int_equal(brd_studio_delete(dir, &f, e1, &err), 409);
    assert_int_equal(brd_studio_delete(dir, &f, NULL, &err), 409);
    assert_int_equal(brd_studio_delete(dir, &f, e2, &err), 0);
    assert_int_equal(brd_studio_delete(dir, &f, e2, &err), 404);
    assert_int_equal(brd_studio_put(dir, &f, "{}", 2, e2, e1, &err), 409); /* gone: not a new file */
    snprintf(path, sizeof path, "%s/tests/wf", dir);
    struct stat st;
    assert_int_not_equal(stat(path, &st), 0);   /* the empty case folder went with its last case */
    snprintf(path, sizeof path, "%s/tests", dir);
    rmdir(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(problems_name_file_node_and_field),
        cmocka_unit_test(kinds_and_names),
        cmocka_unit_test(pretty_is_json_stringify_2),
        cmocka_unit_test(put_and_delete_are_guarded_by_etags),
    };
    return cmocka_run_group_tests_name("studio", tests, NULL, NULL);
}
