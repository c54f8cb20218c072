/* test_form.c — runtime/form.c, the request's text decoders: percent
 * escapes (malformed ones, %00, '+'), UTF-8 validation, query strings and
 * form bodies (repeated keys, empty names and pairs, NUL bytes, long
 * input, lengths that cut the text) and the request path. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "form.h"

static void assert_json(struct json_object *got, const char *want)
{
    struct json_object *w = NULL;
    struct brd_error err;
    assert_int_equal(brd_json_parse(want, strlen(want), &w, &err), 0);
    if (!brd_json_equal(got, w))
        fail_msg("got %s, expected %s", brd_json_compact(got, NULL), want);
    json_object_put(w);
}

/* Parses text as a query string; returns the object (or NULL on failure,
 * err filled). */
static struct json_object *form(const char *text, struct brd_error *err)
{
    struct json_object *o = json_object_new_object();
    assert_non_null(o);
    brd_error_clear(err);
    if (brd_form_parse(text, strlen(text), "query string", o, err) != 0) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

static void form_is(const char *text, const char *want)
{
    struct brd_error err;
    struct json_object *o = form(text, &err);
    if (!o)
        fail_msg("%s: %s", text, err.msg);
    assert_json(o, want);
    json_object_put(o);
}

/* Fails with BRD_E_BAD_REQUEST and a message holding part. */
static void form_fails(const char *text, const char *part)
{
    struct brd_error err;
    struct json_object *o = form(text, &err);
    if (o)
        fail_msg("%s: parsed as %s", text, brd_json_compact(o, NULL));
    assert_int_equal(err.code, BRD_E_BAD_REQUEST);
    if (!strstr(err.msg, part))
        fail_msg("%s: message '%s' lacks '%s'", text, err.msg, part);
}

/* ---- brd_form_unescape ----------------------------------------------------- */

static void unescape_decodes_and_plus_is_space_only_in_forms(void **state)
{
    (void)state;
    char out[32];
    size_t n;
    struct brd_error err;
    assert_int_equal(brd_form_unescape("a%41%62%2b+c", 12, true, out, &n, &err), 0);
    assert_int_equal(n, 6);
    assert_string_equal(out, "aAb+ c");
    assert_int_equal(brd_form_unescape("a%41%62%2b+c", 12, false, out, &n, &err), 0);
    assert_string_equal(out, "aAb++c");
    assert_int_equal(brd_form_unescape("%c3%A9", 6, true, out, &n, &err), 0);
    assert_string_equal(out, "\xc3\xa9");
    assert_int_equal(brd_form_unescape("", 0, true, out, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_string_equal(out, "");
}

static void unescape_keeps_nul_bytes_with_their_length(void **state)
{
    (void)state;
    char out[16];
    size_t n;
    struct brd_error err;
    assert_int_equal(brd_form_unescape("a%00b", 5, true, out, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(out, "a\0b", 4);
}

static void unescape_rejects_malformed_escapes_at_their_position(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        long pos;
    } bad[] = {{"%", 0},  {"%4", 0},   {"%zz", 0}, {"%g1", 0}, {"%1g", 0},
               {"ab%", 2}, {"ab%4", 2}, {"%41%", 3}, {"% 41", 0}, {"%-1", 0}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char out[16];
        size_t n = 99;
        struct brd_error err;
        brd_error_clear(&err);
        if (brd_form_unescape(bad[i].s, strlen(bad[i].s), true, out, &n, &err) != -1)
            fail_msg("%s: decoded", bad[i].s);
        assert_int_equal(err.code, BRD_E_BAD_REQUEST);
        assert_int_equal(err.pos, bad[i].pos);
    }
}

static void unescape_never_reads_past_its_length(void **state)
{
    (void)state;
    /* "%41" cut to "%4": the '1' beyond n must not complete the escape. */
    char out[8];
    size_t n;
    struct brd_error err;
    assert_int_equal(brd_form_unescape("x%41", 3, true, out, &n, &err), -1);
    assert_int_equal(brd_form_unescape("x%41", 4, true, out, &n, &err), 0);
    assert_string_equal(out, "xA");
}

/* ---- brd_form_utf8_valid ---------------------------------------------------------- */

static void utf8_validation(void **state)
{
    (void)state;
#define OK(s) assert_true(brd_form_utf8_valid(s, sizeof s - 1))
#define BAD(s) assert_false(brd_form_utf8_valid(s, sizeof s - 1))
    OK("");
    OK("plain ascii");
    OK("\xc3\xa9");                 /* é */
    OK("\xe2\x82\xac");             /* € */
    OK("\xf0\x9f\x98\x80");         /* U+1F600 */
    OK("\xf4\x8f\xbf\xbf");         /* U+10FFFF */
    OK("a\0b");                     /* NUL is UTF-8 */
    BAD("\xc3");                    /* truncated */
    BAD("\xe2\x82");
    BAD("\xc0\x80");                /* overlong NUL */
    BAD("\xc1\xbf");
    BAD("\xe0\x80\x80");            /* overlong */
    BAD("\xf0\x80\x80\x80");
    BAD("\xed\xa0\x80");            /* a surrogate */
    BAD("\xf4\x90\x80\x80");        /* past U+10FFFF */
    BAD("\xf5\x80\x80\x80");
    BAD("\xff");
    BAD("\x80");                    /* a lone continuation byte */
    BAD("\xc3\x28");                /* not a continuation */
#undef OK
#undef BAD
    /* The length bounds it: a valid sequence cut in the middle is not. */
    assert_false(brd_form_utf8_valid("\xe2\x82\xac", 2));
}

/* ---- brd_form_parse -------------------------------------------------------------------- */

static void form_fields_and_decoding(void **state)
{
    (void)state;
    form_is("a=1&b=x+y&c=%C3%A9%2B", "{\"a\":\"1\",\"b\":\"x y\",\"c\":\"\\u00e9+\"}");
    form_is("a+b=1", "{\"a b\":\"1\"}");
    form_is("%61=%62", "{\"a\":\"b\"}");
    form_is("a=1=2", "{\"a\":\"1=2\"}");        /* only the first '=' splits */
    form_is("a=1;b=2", "{\"a\":\"1;b=2\"}");    /* ';' is no separator */
    form_is("q=%26%3D", "{\"q\":\"&=\"}");
}

static void form_repeated_keys_become_arrays_in_order(void **state)
{
    (void)state;
    form_is("a=1&b=2&a=3&a=4", "{\"a\":[\"1\",\"3\",\"4\"],\"b\":\"2\"}");
    form_is("a&a=&a=x", "{\"a\":[\"\",\"\",\"x\"]}");
    /* %61 is the same name as a. */
    form_is("a=1&%61=2", "{\"a\":[\"1\",\"2\"]}");
}

static void form_empty_names_and_pairs(void **state)
{
    (void)state;
    form_is("", "{}");
    form_is("&", "{}");
    form_is("&&a=1&&&b=2&", "{\"a\":\"1\",\"b\":\"2\"}");
    form_is("a", "{\"a\":\"\"}");
    form_is("a=", "{\"a\":\"\"}");
    form_is("=v&=&b=1", "{\"b\":\"1\"}");   /* no name, dropped */
    form_is("+=1", "{\" \":\"1\"}");        /* a space is a name */
}

static void form_nul_bytes(void **state)
{
    (void)state;
    /* A value may hold NUL (JSON strings can); a name cannot (json-c keys
     * are C strings, so "a%00b" would silently become "a"). */
    struct brd_error err;
    struct json_object *o = form("v=a%00b", &err), *v;
    assert_non_null(o);
    assert_true(json_object_object_get_ex(o, "v", &v));
    assert_int_equal(json_object_get_string_len(v), 3);
    assert_memory_equal(json_object_get_string(v), "a\0b", 3);
    json_object_put(o);
    form_fails("a%00b=1", "NUL");
    form_fails("%00=1", "NUL");
}

static void form_rejects_bad_escapes_and_bad_utf8(void **state)
{
    (void)state;
    form_fails("a=%zz", "query string: invalid percent escape in the value of 'a'");
    form_fails("a=%", "invalid percent escape");
    form_fails("a=1&b=%4", "value of 'b'");
    form_fails("%zz=1", "invalid percent escape in a name");
    form_fails("%=1", "in a name");
    form_fails("a=%C3", "the value of 'a' is not valid UTF-8");
    form_fails("%C3=1", "a name is not valid UTF-8");
    form_fails("a=%C0%80", "UTF-8");                /* overlong */
    form_fails("a=\xff", "UTF-8");                  /* raw, not escaped */
    /* The source is named as the caller says. */
    struct json_object *o = json_object_new_object();
    struct brd_error err;
    assert_int_equal(brd_form_parse("a=%G1", 5, "form body", o, &err), -1);
    assert_non_null(strstr(err.msg, "form body"));
    json_object_put(o);
}

static void form_long_names_are_clipped_in_messages(void **state)
{
    (void)state;
    char text[400];
    memset(text, 'k', 300);
    memcpy(text + 300, "=%zz", 5);
    struct brd_error err;
    assert_null(form(text, &err));
    assert_int_equal(err.code, BRD_E_BAD_REQUEST);
    assert_true(strlen(err.msg) < 160);
}

static void form_over_long_input(void **state)
{
    (void)state;
    /* A 1 MiB value (the default --max-body) and 100,000 repeats of a key. */
    size_t big = (size_t)1 << 20;
    char *text = malloc(big + 3);
    assert_non_null(text);
    memcpy(text, "v=", 2);
    memset(text + 2, 'x', big);
    text[big + 2] = '\0';
    struct brd_error err;
    struct json_object *o = form(text, &err), *v;
    assert_non_null(o);
    assert_true(json_object_object_get_ex(o, "v", &v));
    assert_int_equal(json_object_get_string_len(v), big);
    json_object_put(o);
    free(text);

    size_t reps = 100000;
    text = malloc(reps * 4 + 1);
    assert_non_null(text);
    for (size_t i = 0; i < reps; i++)
        memcpy(text + i * 4, "a=1&", 4);
    text[reps * 4] = '\0';
    o = form(text, &err);
    assert_non_null(o);
    assert_true(json_object_object_get_ex(o, "a", &v));
    assert_true(json_object_is_type(v, json_type_array));
    assert_int_equal(json_object_array_length(v), reps);
    json_object_put(o);
    free(text);
}

static void form_never_reads_past_its_length(void **state)
{
    (void)state;
    struct json_object *o = json_object_new_object();
    struct brd_error err;
    assert_int_equal(brd_form_parse("a=1&b=2", 3, "query string", o, &err), 0);
    assert_json(o, "{\"a\":\"1\"}");
    json_object_put(o);
    o = json_object_new_object();
    assert_int_equal(brd_form_parse("a=%41", 4, "query string", o, &err), -1);
    json_object_put(o);
    /* Bytes past an embedded NUL count when the length says so. */
    o = json_object_new_object();
    assert_int_equal(brd_form_parse("a=1\0&b=2", 8, "query string", o, &err), 0);
    assert_json(o, "{\"a\":\"1\\u0000\",\"b\":\"2\"}");
    json_object_put(o);
}

/* ---- brd_form_decode_path ---------------------------------------------------------------- */

static void path_is(const char *raw, const char *want)
{
    char *p = NULL;
    struct brd_error err;
    if (brd_form_decode_path(raw, strlen(raw), &p, &err) != 0)
        fail_msg("%s: %s", raw, err.msg);
    assert_string_equal(p, want);
    free(p);
}

static void path_fails(const char *raw, const char *part)
{
    char *p = (char *)1;
    struct brd_error err;
    brd_error_clear(&err);
    if (brd_form_decode_path(raw, strlen(raw), &p, &err) == 0)
        fail_msg("%s: decoded as %s", raw, p);
    assert_null(p);
    assert_int_equal(err.code, BRD_E_BAD_REQUEST);
    if (!strstr(err.msg, part))
        fail_msg("%s: message '%s' lacks '%s'", raw, err.msg, part);
}

static void path_decoding(void **state)
{
    (void)state;
    path_is("/%75ser", "/user");
    path_is("/a+b", "/a+b");               /* '+' stays in paths */
    path_is("/a%20b", "/a b");
    path_is("/a%2Fb", "/a/b");
    path_is("/%C3%A9t%C3%A9", "/\xc3\xa9t\xc3\xa9");
    path_is("/...", "/...");
    path_is("/a..b/..c/c..", "/a..b/..c/c..");
    path_is("", "");
    path_is("/", "/");
}

static void path_rejections(void **state)
{
    (void)state;
    path_fails("/us%zzer", "invalid percent escape");
    path_fails("/user%", "invalid percent escape");
    path_fails("/user%0", "invalid percent escape");
    path_fails("/user%00", "NUL");
    path_fails("/%00/x", "NUL");
    path_fails("/%ff%fe", "UTF-8");
    path_fails("/%C3", "UTF-8");
    path_fails("/a/../user", "'..'");
    path_fails("/a/%2e%2e/user", "'..'");
    path_fails("/a/%2E%2e", "'..'");
    path_fails("/..", "'..'");
    path_fails("..", "'..'");
    path_fails("../x", "'..'");
    path_fails("/a%2F..%2Fb", "'..'");       /* decoded first, then checked */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unescape_decodes_and_plus_is_space_only_in_forms),
        cmocka_unit_test(unescape_keeps_nul_bytes_with_their_length),
        cmocka_unit_test(unescape_rejects_malformed_escapes_at_their_position),
        cmocka_unit_test(unescape_never_reads_past_its_length),
        cmocka_unit_test(utf8_validation),
        cmocka_unit_test(form_fields_and_decoding),
        cmocka_unit_test(form_repeated_keys_become_arrays_in_order),
        cmocka_unit_test(form_empty_names_and_pairs),
        cmocka_unit_test(form_nul_bytes),
        cmocka_unit_test(form_rejects_bad_escapes_and_bad_utf8),
        cmocka_unit_test(form_long_names_are_clipped_in_messages),
        cmocka_unit_test(form_over_long_input),
        cmocka_unit_test(form_never_reads_past_its_length),
        cmocka_unit_test(path_decoding),
        cmocka_unit_test(path_rejections),
    };
    return cmocka_run_group_tests_name("form", tests, NULL, NULL);
}
