/* test_jsonpath.c — the JSONPath engine beyond what the CTS pins down:
 * singularity, brd_jsonpath_value, error positions and messages, "$.",
 * nodelist reuse, path escaping, names with NUL, I-Regexp translation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "iregexp.h"
#include "jsonpath.h"

static struct json_object *parse(const char *s)
{
    struct json_object *v = NULL;
    struct brd_error err;
    assert_int_equal(brd_json_parse(s, strlen(s), &v, &err), 0);
    return v;
}

static struct brd_jsonpath *compile(const char *s)
{
    struct brd_jsonpath *q = NULL;
    struct brd_error err;
    if (brd_jsonpath_compile(s, strlen(s), &q, &err) != 0)
        fail_msg("'%s' does not compile: %s", s, err.msg);
    return q;
}

/* Evaluates s over doc and returns the compact JSON of the values. */
static char *eval_str(const char *s, struct json_object *doc)
{
    struct brd_jsonpath *q = compile(s);
    struct brd_nodelist *list = brd_nodelist_new();
    struct brd_error err;
    assert_int_equal(brd_jsonpath_eval(q, doc, list, 0, &err), 0);
    struct json_object *arr = json_object_new_array();
    for (size_t i = 0; i < brd_nodelist_count(list); i++)
        brd_json_append(arr, brd_json_ref(brd_nodelist_value(list, i)));
    char *out = strdup(brd_json_compact(arr, NULL));
    json_object_put(arr);
    brd_nodelist_free(list);
    brd_jsonpath_free(q);
    return out;
}

static void assert_eval(const char *query, const char *doc_text, const char *expected)
{
    struct json_object *doc = parse(doc_text);
    char *got = eval_str(query, doc);
    if (strcmp(got, expected) != 0)
        fail_msg("%s over %s: got %s, expected %s", query, doc_text, got, expected);
    free(got);
    json_object_put(doc);
}

static void is_singular_follows_the_rfc_grammar(void **state)
{
    (void)state;
    static const struct {
        const char *q;
        bool singular;
    } table[] = {
        {"$", true},
        {"$.", true},
        {"$.a", true},
        {"$['a']", true},
        {"$[\"a\"]", true},
        {"$[0]", true},
        {"$[-1]", true},
        {"$.a[0].b['c'][-2]", true},
        {"$ .a", true},                 /* blank space between segments is fine */
        {"$.a\n[0]", true},
        {"$[ 'a' ]", false},            /* but not inside the brackets (§2.3.5.1) */
        {"$[0 ]", false},
        {"$.*", false},
        {"$[*]", false},
        {"$..a", false},
        {"$[0,1]", false},
        {"$['a','b']", false},
        {"$[0:1]", false},
        {"$[?@.a]", false},
        {"$.a..b", false},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        struct brd_jsonpath *q = compile(table[i].q);
        if (brd_jsonpath_is_singular(q) != table[i].singular)
            fail_msg("is_singular(%s) should be %d", table[i].q, table[i].singular);
        brd_jsonpath_free(q);
    }
}

static void value_of_singular_and_non_singular_queries(void **state)
{
    (void)state;
    struct json_object *doc = parse("{\"data\":[{\"id\":7,\"n\":null},{\"id\":8}],\"s\":\"x\"}");
    struct brd_error err;
    struct json_object *v = (struct json_object *)1;

    struct brd_jsonpath *q = compile("$.data[0].id");
    assert_int_equal(brd_jsonpath_value(q, doc, &v, &err), 0);
    assert_int_equal(json_object_get_int(v), 7);
    json_object_put(v);
    brd_jsonpath_free(q);

    /* Singular with no match: null (NULL) and success. */
    q = compile("$.data[5].id");
    v = (struct json_object *)1;
    assert_int_equal(brd_jsonpath_value(q, doc, &v, &err), 0);
    assert_null(v);
    brd_jsonpath_free(q);

    /* Singular matching JSON null: also NULL. */
    q = compile("$.data[0].n");
    v = (struct json_object *)1;
    assert_int_equal(brd_jsonpath_value(q, doc, &v, &err), 0);
    assert_null(v);
    brd_jsonpath_free(q);

    /* Non-singular: always an array, even empty or with one element. */
    q = compile("$..id");
    assert_int_equal(brd_jsonpath_value(q, doc, &v, &err), 0);
    assert_string_equal(brd_json_compact(v, NULL), "[7,8]");
    json_object_put(v);
    brd_jsonpath_free(q);
    q = compile("$.nothing[*]");
    assert_int_equal(brd_jsonpath_value(q, doc, &v, &err), 0);
    assert_string_equal(brd_json_compact(v, NULL), "[]");
    json_object_put(v);
    brd_jsonpath_free(q);
    q = compile("$.data[0].n.*");
    assert_int_equal(brd_jsonpath_value(q, doc, &v, &err), 0);
    assert_string_equal(brd_json_compact(v, NULL), "[]");
    json_object_put(v);
    brd_jsonpath_free(q);
    q = compile("$.data[?@.n == null]");
    assert_int_equal(brd_jsonpath_value(q, doc, &v, &err), 0);
    assert_string_equal(brd_json_compact(v, NULL), "[{\"id\":7,\"n\":null}]");
    json_object_put(v);
    brd_jsonpath_free(q);

    /* The document may itself be null. */
    q = compile("$");
    v = (struct json_object *)1;
    assert_int_equal(brd_jsonpath_value(q, NULL, &v, &err), 0);
    assert_null(v);
    brd_jsonpath_free(q);
    json_object_put(doc);
}

static void dataworks_dollar_dot_is_root(void **state)
{
    (void)state;
    struct json_object *doc = parse("{\"a\":1}");
    struct brd_jsonpath *q = compile("$.");
    assert_true(brd_jsonpath_is_singular(q));
    size_t len;
    assert_memory_equal(brd_jsonpath_text(q, &len), "$.", 2);
    assert_int_equal(len, 2);
    struct json_object *v;
    struct brd_error err;
    assert_int_equal(brd_jsonpath_value(q, doc, &v, &err), 0);
    assert_ptr_equal(v, doc);
    json_object_put(v);
    struct brd_nodelist *list = brd_nodelist_new();
    assert_int_equal(brd_jsonpath_eval(q, doc, list, BRD_JSONPATH_PATHS, &err), 0);
    assert_int_equal(brd_nodelist_count(list), 1);
    char *path;
    assert_int_equal(brd_nodelist_path(list, 0, &path, &err), 0);
    assert_string_equal(path, "$");
    free(path);
    brd_nodelist_free(list);
    brd_jsonpath_free(q);
    json_object_put(doc);
    /* Only exactly "$.": these stay invalid. */
    struct brd_jsonpath *bad = NULL;
    assert_int_equal(brd_jsonpath_compile("$.a.", 4, &bad, &err), -1);
    assert_int_equal(brd_jsonpath_compile("$. ", 3, &bad, &err), -1);
    assert_int_equal(brd_jsonpath_compile("$..", 3, &bad, &err), -1);
    assert_null(bad);
}

static void errors_name_position_and_expectation(void **state)
{
    (void)state;
    static const struct {
        const char *q;
        long pos;
        const char *msg;
    } table[] = {
        {"", 0, "expected '$'"},
        {"a.b", 0, "expected '$'"},
        {"$[0 2]", 4, "expected ']' or ',' at byte 4"},
        {"$.a ", 3, "expected '.', '[' or the end of the query at byte 3"},
        {"$. a", 2, "expected a name or '*' after '.'"},
        {"$..", 3, "after '..'"},
        {"$[01]", 2, "leading zeros"},
        {"$[-0]", 2, "'-0'"},
        {"$[9007199254740992]", 2, "out of range"},
        {"$[?length(@.a,@.b)==1]", 3, "function 'length' takes 1 argument"},
        {"$[?match(@.a)]", 3, "function 'match' takes 2 arguments"},
        {"$[?@.*==1]", 3, "non-singular query cannot be compared"},
        {"$[?1==@..a]", 6, "non-singular query cannot be compared"},
        {"$[?@[ 'a' ]==1]", 3, "non-singular query cannot be compared"},
        {"$[?match(@.a,'x')==true]", 3, "'match' cannot be compared"},
        {"$[?length(@.a)]", 3, "'length' must be compared"},
        {"$[?length(@.*)==1]", 10, "argument 1 of 'length' must be a singular query"},
        {"$[?count(1)==1]", 9, "argument 1 of 'count' must be a query"},
        {"$[?foo(@)]", 3, "unknown function 'foo'"},
        {"$[?@.a==1 && 2]", 13, "a literal must be compared"},
        {"$[?true]", 3, "a literal must be compared"},
        {"$[?@==True]", 6, "expected a literal, a query or a function call"},
        {"$[?!@.a==1]", 7, "expected ']' or ','"},
        {"$['\\uD800']", 9, "expected '\\u' and a low surrogate"},
        {"$['\\uDC00']", 3, "lone low surrogate"},
        {"$['\\x']", 3, "invalid escape"},
        {"$['a", 2, "unterminated string"},
        {"$[?(@.a]", 7, "expected ')'"},
        {"$[?@.a==1.]", 10, "expected a digit after '.'"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        struct brd_jsonpath *q = (struct brd_jsonpath *)1;
        struct brd_error err;
        brd_error_clear(&err);
        int rc = brd_jsonpath_compile(table[i].q, strlen(table[i].q), &q, &err);
        if (rc != -1)
            fail_msg("'%s' should not compile", table[i].q);
        assert_null(q);
        assert_int_equal(err.code, BRD_E_SYNTAX);
        if (err.pos != table[i].pos || !strstr(err.msg, table[i].msg))
            fail_msg("'%s': got pos %ld \"%s\", expected pos %ld \"%s\"", table[i].q, err.pos,
                     err.msg, table[i].pos, table[i].msg);
    }
}

static void nesting_is_bounded_and_long_chains_are_flat(void **state)
{
    (void)state;
    /* 200 nested parentheses: rejected, not a stack overflow. */
    char deep[1024] = "$[?";
    for (int i = 0; i < 200; i++)
        strcat(deep, "(");
    strcat(deep, "@");
    for (int i = 0; i < 200; i++)
        strcat(deep, ")");
    strcat(deep, "]");
    struct brd_jsonpath *q = NULL;
    struct brd_error err;
    assert_int_equal(brd_jsonpath_compile(deep, strlen(deep), &q, &err), -1);
    assert_non_null(strstr(err.msg, "nested too deeply"));

    /* A chain of 20000 && operands is one flat node: fine to compile,
     * evaluate and free. */
    size_t n = 20000, cap = n * 12 + 16, len = 0;
    char *chain = malloc(cap);
    len += (size_t)snprintf(chain + len, cap - len, "$[?@.a");
    for (size_t i = 1; i < n; i++)
        len += (size_t)snprintf(chain + len, cap - len, i % 2 ? " && @.a" : " || @.b");
    len += (size_t)snprintf(chain + len, cap - len, "]");
    assert_int_equal(brd_jsonpath_compile(chain, len, &q, &err), 0);
    struct json_object *doc = parse("[{\"a\":1},{\"b\":2},3]");
    struct brd_nodelist *list = brd_nodelist_new();
    assert_int_equal(brd_jsonpath_eval(q, doc, list, 0, &err), 0);
    assert_int_equal(brd_nodelist_count(list), 1);
    brd_nodelist_free(list);
    brd_jsonpath_free(q);
    json_object_put(doc);
    free(chain);
}

static void nodelist_is_reused_across_evaluations(void **state)
{
    (void)state;
    struct json_object *doc = parse("{\"a\":[1,2,3,{\"b\":[4,5]}],\"c\":{\"d\":6}}");
    struct brd_jsonpath *all = compile("$..*"), *one = compile("$.c.d");
    struct brd_jsonpath *filt = compile("$.a[?@ > 1 || count(@..*) == 3]");
    struct brd_nodelist *list = brd_nodelist_new();
    struct brd_error err;
    assert_int_equal(brd_nodelist_count(list), 0);
    assert_null(brd_nodelist_value(list, 0));

    assert_int_equal(brd_jsonpath_eval(all, doc, list, BRD_JSONPATH_PATHS, &err), 0);
    assert_int_equal(brd_nodelist_count(list), 10);
    /* A smaller result replaces a larger one entirely. */
    assert_int_equal(brd_jsonpath_eval(one, doc, list, 0, &err), 0);
    assert_int_equal(brd_nodelist_count(list), 1);
    assert_int_equal(json_object_get_int(brd_nodelist_value(list, 0)), 6);
    assert_null(brd_nodelist_value(list, 1));
    /* Paths were not asked for this time: asking is an error, not stale data. */
    char *path = (char *)1;
    assert_int_equal(brd_nodelist_path(list, 0, &path, &err), -1);
    assert_null(path);
    assert_int_equal(brd_jsonpath_eval(filt, doc, list, BRD_JSONPATH_PATHS, &err), 0);
    assert_int_equal(brd_nodelist_count(list), 3);
    assert_int_equal(brd_nodelist_path(list, 2, &path, &err), 0);
    assert_string_equal(path, "$['a'][3]");
    free(path);
    assert_int_equal(brd_nodelist_path(list, 3, &path, &err), -1);

    /* Warm evaluations allocate nothing: the heap in use does not move.
     * (Under AddressSanitizer mallinfo2 reports nothing; the bench counts
     * allocations directly.) */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(brd_jsonpath_eval(all, doc, list, BRD_JSONPATH_PATHS, &err), 0);
        assert_int_equal(brd_jsonpath_eval(filt, doc, list, 0, &err), 0);
    }
    size_t before = mallinfo2().uordblks;
    for (int i = 0; i < 100; i++) {
        assert_int_equal(brd_jsonpath_eval(all, doc, list, BRD_JSONPATH_PATHS, &err), 0);
        assert_int_equal(brd_jsonpath_eval(filt, doc, list, 0, &err), 0);
        assert_int_equal(brd_jsonpath_eval(one, doc, list, 0, &err), 0);
    }
    assert_int_equal(mallinfo2().uordblks, before);

    brd_nodelist_free(list);
    brd_jsonpath_free(all);
    brd_jsonpath_free(one);
    brd_jsonpath_free(filt);
    json_object_put(doc);
}

static void paths_escape_names_as_section_2_7_says(void **state)
{
    (void)state;
    struct json_object *doc = parse(
        "{\"a'b\":1,\"back\\\\slash\":2,\"\\u0001\\u001f\":3,\"t\\tn\\nr\\rb\\bf\\f\":4,"
        "\"\\u00e9\\u2028/\\\"\":5,\"\\u000b\":6,\"x\":[[0,{\"y\":7}]]}");
    struct brd_jsonpath *q = compile("$..*");
    struct brd_nodelist *list = brd_nodelist_new();
    struct brd_error err;
    assert_int_equal(brd_jsonpath_eval(q, doc, list, BRD_JSONPATH_PATHS, &err), 0);
    static const char *const expected[] = {
        "$['a\\'b']",
        "$['back\\\\slash']",
        "$['\\u0001\\u001f']",
        "$['t\\tn\\nr\\rb\\bf\\f']",
        "$['\xc3\xa9\xe2\x80\xa8/\"']",
        "$['\\u000b']",
        "$['x']",
        "$['x'][0]",
        "$['x'][0][0]",
        "$['x'][0][1]",
        "$['x'][0][1]['y']",
    };
    assert_int_equal(brd_nodelist_count(list), sizeof expected / sizeof expected[0]);
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        char *path;
        assert_int_equal(brd_nodelist_path(list, i, &path, &err), 0);
        assert_string_equal(path, expected[i]);
        free(path);
    }
    brd_nodelist_free(list);
    brd_jsonpath_free(q);
    json_object_put(doc);
}

static void paths_outlive_the_query(void **state)
{
    (void)state;
    struct json_object *doc = parse("{\"key\":{\"k2\":1}}");
    struct brd_jsonpath *q = compile("$['key'].k2");
    struct brd_nodelist *list = brd_nodelist_new();
    struct brd_error err;
    assert_int_equal(brd_jsonpath_eval(q, doc, list, BRD_JSONPATH_PATHS, &err), 0);
    brd_jsonpath_free(q);
    char *path;
    assert_int_equal(brd_nodelist_path(list, 0, &path, &err), 0);
    assert_string_equal(path, "$['key']['k2']");
    free(path);
    brd_nodelist_free(list);
    json_object_put(doc);
}

static void name_with_nul_matches_nothing(void **state)
{
    (void)state;
    /* json-c cannot hold a key with U+0000, so such a name matches nothing
     * — in particular not the key cut at the NUL. */
    struct json_object *doc = json_object_new_object();
    brd_json_add(doc, "a", json_object_new_int(1));
    brd_json_add(doc, "", json_object_new_int(2));
    static const char q1[] = "$['a\\u0000b']";
    static const char q2[] = "$[\"\\u0000\"]";
    static const char q3[] = "$[?@['a\\u0000'] == 1]";
    const char *qs[] = {q1, q2, q3};
    for (size_t i = 0; i < 3; i++) {
        struct brd_jsonpath *q = NULL;
        struct brd_error err;
        assert_int_equal(brd_jsonpath_compile(qs[i], strlen(qs[i]), &q, &err), 0);
        struct brd_nodelist *list = brd_nodelist_new();
        assert_int_equal(brd_jsonpath_eval(q, doc, list, BRD_JSONPATH_PATHS, &err), 0);
        assert_int_equal(brd_nodelist_count(list), 0);
        struct json_object *v = (struct json_object *)1;
        assert_int_equal(brd_jsonpath_value(q, doc, &v, &err), 0);
        if (brd_jsonpath_is_singular(q))
            assert_null(v);
        else
            json_object_put(v);
        brd_nodelist_free(list);
        brd_jsonpath_free(q);
    }
    /* A raw NUL in the text is a syntax error at its byte (length-aware). */
    struct brd_jsonpath *q = NULL;
    struct brd_error err;
    assert_int_equal(brd_jsonpath_compile("$['a\0']", 7, &q, &err), -1);
    assert_int_equal(err.pos, 4);
    assert_int_equal(brd_jsonpath_compile("$.a\0", 4, &q, &err), -1);
    assert_int_equal(err.pos, 3);
    json_object_put(doc);
}

static void compile_prefix_stops_at_the_end_of_the_query(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t used;
    } table[] = {
        {"$.user_id != 1", 9},
        {"$.a[0] && x", 6},
        {"$ == 1", 1},
        {"$..id)", 5},
        {"$.a .b + 2", 6},
        {"$[?@.x > 1].y < 3", 13},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        struct brd_jsonpath *q = NULL;
        struct brd_error err;
        size_t used = 0;
        assert_int_equal(brd_jsonpath_compile_prefix(table[i].text, strlen(table[i].text), &used,
                                                     &q, &err), 0);
        if (used != table[i].used)
            fail_msg("prefix of '%s': used %zu, expected %zu", table[i].text, used, table[i].used);
        size_t len;
        assert_memory_equal(brd_jsonpath_text(q, &len), table[i].text, table[i].used);
        assert_int_equal(len, table[i].used);
        brd_jsonpath_free(q);
    }
}

static void filter_semantics_beyond_the_cts(void **state)
{
    (void)state;
    /* Function results (integers) against JSON numbers of both kinds. */
    assert_eval("$[?length(@) == 2.0]", "[\"ab\",[1,2],{\"a\":1,\"b\":2},2,\"abc\"]",
                "[\"ab\",[1,2],{\"a\":1,\"b\":2}]");
    assert_eval("$[?length(@) < 2.5]", "[\"ab\",\"abc\",\"\\u00e9\\u00e9\"]",
                "[\"ab\",\"\xc3\xa9\xc3\xa9\"]");
    assert_eval("$[?count(@.*) >= 2]", "[[1],[1,2],{\"a\":1,\"b\":2},3]", "[[1,2],{\"a\":1,\"b\":2}]");
    /* value() of several nodes is Nothing, equal only to Nothing. */
    assert_eval("$[?value(@.*) == @.missing]", "[[1,2],[3],[]]", "[[1,2],[]]");
    /* Absolute queries inside filters, and string order by code point. */
    assert_eval("$.a[?@ > $.min]", "{\"min\":\"b\",\"a\":[\"a\",\"c\",\"\\u00e9\",\"B\"]}",
                "[\"c\",\"\xc3\xa9\"]");
    /* Large integers compare exactly, not through doubles. */
    assert_eval("$[?@ == 9007199254740993]", "[9007199254740992,9007199254740993]",
                "[9007199254740993]");
    /* Regexes: literal (compiled once) and from the document (each time). */
    assert_eval("$[?match(@, '[a-c]+')]", "[\"abc\",\"abd\",1,null]", "[\"abc\"]");
    assert_eval("$.v[?search(@, $.re)]", "{\"re\":\"b.\",\"v\":[\"ab\",\"abc\",\"b\\n\"]}", "[\"abc\"]");
    assert_eval("$[?match(@, '(')]", "[\"(\"]", "[]");                /* invalid: false */
    assert_eval("$.v[?match(@, $.re)]", "{\"re\":\"a{2,1}\",\"v\":[\"aa\"]}", "[]");
    assert_eval("$[?match(@, '\\\\p{Lu}\\\\P{Lu}')]", "[\"Ab\",\"AB\",\"\\u00c9\\u00e9\"]",
                "[\"Ab\",\"\xc3\x89\xc3\xa9\"]");
    /* Slices with extreme bounds and steps. */
    assert_eval("$[-9007199254740991:9007199254740991:9007199254740991]", "[1,2,3]", "[1]");
    assert_eval("$[9007199254740991:-9007199254740991:-9007199254740991]", "[1,2,3]", "[3]");
    assert_eval("$[::-1]", "[1,2,3]", "[3,2,1]");
    assert_eval("$[1:2:0]", "[1,2,3]", "[]");
}

static void iregexp_translation(void **state)
{
    (void)state;
    static const struct {
        const char *re;
        const char *pcre;       /* NULL: not an I-Regexp */
    } table[] = {
        {"a.c", "\\A(?:a[^\\n\\r]c)\\z"},
        {"(ab|c)*", "\\A(?:(?:ab|c)*)\\z"},
        {"[^a-z\\-.]", "\\A(?:[^a-z\\-\\.])\\z"},
        {"[-a]", "\\A(?:[\\-a])\\z"},
        {"[a-]", "\\A(?:[a\\-])\\z"},
        {"\\p{Lu}+x{2,3}", "\\A(?:\\p{Lu}+x{2,3})\\z"},
        {"#/", "\\A(?:\\#\\/)\\z"},
        {"", "\\A(?:)\\z"},
        {"(", NULL},
        {")", NULL},
        {"a**", NULL},
        {"*a", NULL},
        {"a*?", NULL},
        {"\\d", NULL},
        {"\\w+", NULL},
        {"(?:a)", NULL},
        {"(?=a)", NULL},
        {"[]", NULL},
        {"[a-b-c]", NULL},
        {"[z-a]", NULL},
        {"a{,2}", NULL},
        {"a{2", NULL},
        {"\\p{IsBasicLatin}", NULL},
        {"\\p{Lx}", NULL},
        {"\\", NULL},
        {"]", NULL},
        {"\xff", NULL},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        char *out = NULL;
        size_t len;
        int rc = brd_iregexp_translate(table[i].re, strlen(table[i].re), true, &out, &len);
        if (!table[i].pcre) {
            if (rc != 1)
                fail_msg("'%s' should be rejected, got %s", table[i].re, out ? out : "?");
            continue;
        }
        if (rc != 0 || strcmp(out, table[i].pcre) != 0)
            fail_msg("'%s': got %s, expected %s", table[i].re, rc == 0 ? out : "rejected",
                     table[i].pcre);
        free(out);
    }
    /* Nesting beyond BRD_IREGEXP_MAX_NESTING is refused, not recursed into. */
    char deep[2 * (BRD_IREGEXP_MAX_NESTING + 1) + 1];
    memset(deep, '(', BRD_IREGEXP_MAX_NESTING + 1);
    memset(deep + BRD_IREGEXP_MAX_NESTING + 1, ')', BRD_IREGEXP_MAX_NESTING + 1);
    deep[sizeof deep - 1] = '\0';
    char *out = NULL;
    size_t len;
    assert_int_equal(brd_iregexp_translate(deep, strlen(deep), false, &out, &len), 1);
    assert_null(out);
}

/* Found by fuzz_jsonpath: nested descendant filters do work N^k in the
 * size of the document, and an evaluation ran for minutes.  The nodelist's
 * step limit now stops it with an error. */
static void runaway_evaluation_stops_at_the_step_limit(void **state)
{
    (void)state;
    struct json_object *doc = parse("{\"a\":[1,[2,[3]],{\"b\":{\"c\":[4,5,6]}}],\"d\":[7,8,9,10]}");
    struct brd_jsonpath *nested = compile("$..[?$..[?$..[?$..[?$..*]]]]");
    struct brd_jsonpath *plain = compile("$.d[*]");
    struct brd_nodelist *list = brd_nodelist_new();
    struct brd_error err;
    brd_nodelist_set_limit(list, 100000);
    assert_int_equal(brd_jsonpath_eval(nested, doc, list, 0, &err), -1);
    assert_int_equal(err.code, BRD_E_INTERNAL);
    assert_non_null(strstr(err.msg, "stopped after 100000 steps"));
    assert_int_equal(brd_nodelist_count(list), 0);
    /* The list is fine afterwards.  "$.d[*]" is 6 steps: $, d and its 4 children. */
    brd_nodelist_set_limit(list, 6);
    assert_int_equal(brd_jsonpath_eval(plain, doc, list, BRD_JSONPATH_PATHS, &err), 0);
    assert_int_equal(brd_nodelist_count(list), 4);
    brd_nodelist_set_limit(list, 5);
    assert_int_equal(brd_jsonpath_eval(plain, doc, list, 0, &err), -1);
    assert_int_equal(brd_nodelist_count(list), 0);
    brd_nodelist_set_limit(list, 0);        /* back to the default */
    assert_int_equal(brd_jsonpath_eval(plain, doc, list, 0, &err), 0);
    assert_int_equal(brd_nodelist_count(list), 4);
    brd_nodelist_free(list);
    brd_jsonpath_free(nested);
    brd_jsonpath_free(plain);
    json_object_put(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(is_singular_follows_the_rfc_grammar),
        cmocka_unit_test(value_of_singular_and_non_singular_queries),
        cmocka_unit_test(dataworks_dollar_dot_is_root),
        cmocka_unit_test(errors_name_position_and_expectation),
        cmocka_unit_test(nesting_is_bounded_and_long_chains_are_flat),
        cmocka_unit_test(nodelist_is_reused_across_evaluations),
        cmocka_unit_test(paths_escape_names_as_section_2_7_says),
        cmocka_unit_test(paths_outlive_the_query),
        cmocka_unit_test(name_with_nul_matches_nothing),
        cmocka_unit_test(compile_prefix_stops_at_the_end_of_the_query),
        cmocka_unit_test(filter_semantics_beyond_the_cts),
        cmocka_unit_test(iregexp_translation),
        cmocka_unit_test(runaway_evaluation_stops_at_the_step_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
