/* expr_cases.c — runs the table of expression cases in tests/cases/expr.cases
 * (argv[2] is the cases folder) and prints "N passed, N failed".
 *
 * Case file format: blocks separated by blank lines, '#' starts a comment.
 *   expr: EXPRESSION            the text after "expr: " up to the line's end
 *   input: JSON                 optional, what `$` and ${START} read (default {})
 *   nodes: {"ID": JSON, ...}    optional, outputs that ${ID...} references read
 *   value: JSON                 expected value (deep equality; 2 and 2.0 differ)
 *   error: CODE [TEXT]          expected evaluation error code and message part
 *   syntax: POS [TEXT]          expected parse error at byte POS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"

struct kase {
    int line;
    char *expr, *input, *nodes, *value, *error, *syntax;
};

static int lookup(void *ctx, const struct brd_ref *ref, struct json_object **out,
                  struct brd_error *err)
{
    struct json_object **env = ctx; /* env[0] = input, env[1] = nodes */
    if (env[1] && json_object_object_get_ex(env[1], ref->id, out))
        return 0;
    if (strcmp(ref->id, "START") == 0) {
        *out = env[0];
        return 0;
    }
    return brd_error_set(err, BRD_E_EXPRESSION_ERROR, "unknown node '%s'", ref->id);
}

static struct json_object *parse_or_die(const char *text, int line)
{
    struct json_object *v = NULL;
    struct brd_error err;
    if (brd_json_parse(text, strlen(text), &v, &err) != 0) {
        fprintf(stderr, "expr.cases:%d: bad JSON in case file: %s\n", line, err.msg);
        return (struct json_object *)-1;
    }
    return v;
}

/* Like brd_json_equal, but an integer never equals a double: the cases pin
 * down when arithmetic gives 2 and when 2.0. */
static int same_json(struct json_object *a, struct json_object *b)
{
    enum json_type t = json_object_get_type(a);
    if (t != json_object_get_type(b))
        return 0;
    if (t == json_type_double)
        return json_object_get_double(a) == json_object_get_double(b);
    if (t == json_type_array) {
        size_t n = json_object_array_length(a);
        if (n != json_object_array_length(b))
            return 0;
        for (size_t i = 0; i < n; i++)
            if (!same_json(json_object_array_get_idx(a, i), json_object_array_get_idx(b, i)))
                return 0;
        return 1;
    }
    if (t == json_type_object) {
        if (json_object_object_length(a) != json_object_object_length(b))
            return 0;
        json_object_object_foreach(a, key, va) {
            struct json_object *vb;
            if (!json_object_object_get_ex(b, key, &vb) || !same_json(va, vb))
                return 0;
        }
        return 1;
    }
    return brd_json_equal(a, b);
}

/* Returns 1 when the case holds, 0 when not (with a message on stdout). */
static int run_case(const struct kase *k)
{
    struct brd_error err;
    brd_error_clear(&err);
    struct brd_expr *e = NULL;
    int ok = 0;
    struct json_object *env[2] = {NULL, NULL}, *got = NULL;
    int rc = brd_expr_compile(k->expr, strlen(k->expr), &e, &err);
    if (k->syntax) {
        long pos = strtol(k->syntax, NULL, 10);
        const char *text = strchr(k->syntax, ' ');
        if (rc == 0)
            printf("FAIL line %d: %s: compiled, expected a syntax error at %ld\n", k->line, k->expr, pos);
        else if (err.code != BRD_E_SYNTAX || err.pos != pos)
            printf("FAIL line %d: %s: syntax error at %ld (%s), expected at %ld\n", k->line,
                   k->expr, err.pos, err.msg, pos);
        else if (text && !strstr(err.msg, text + 1))
            printf("FAIL line %d: %s: message \"%s\" lacks \"%s\"\n", k->line, k->expr, err.msg, text + 1);
        else
            ok = 1;
        brd_expr_free(e);
        return ok;
    }
    if (rc != 0) {
        printf("FAIL line %d: %s: did not compile: %s\n", k->line, k->expr, err.msg);
        return 0;
    }
    env[0] = k->input ? parse_or_die(k->input, k->line) : json_object_new_object();
    env[1] = k->nodes ? parse_or_die(k->nodes, k->line) : NULL;
    if (env[0] == (void *)-1 || env[1] == (void *)-1)
        goto out;
    rc = brd_expr_eval(e, env[0], lookup, env, &got, &err);
    if (k->value) {
        struct json_object *want = parse_or_die(k->value, k->line);
        if (want == (void *)-1)
            goto out;
        const char *w = brd_json_compact(want, NULL);
        if (rc != 0)
            printf("FAIL line %d: %s: error %s (%s), expected %s\n", k->line, k->expr,
                   brd_code_name(err.code), err.msg, w);
        else if (!same_json(got, want))
            printf("FAIL line %d: %s: got %s, expected %s\n", k->line, k->expr,
                   brd_json_compact(got, NULL), w);
        else
            ok = 1;
        json_object_put(want);
    } else if (k->error) {
        char code[64];
        sscanf(k->error, "%63s", code);
        const char *text = strchr(k->error, ' ');
        if (rc == 0)
            printf("FAIL line %d: %s: got %s, expected error %s\n", k->line, k->expr,
                   brd_json_compact(got, NULL), code);
        else if (strcmp(brd_code_name(err.code), code) != 0)
            printf("FAIL line %d: %s: error %s, expected %s\n", k->line, k->expr,
                   brd_code_name(err.code), code);
        else if (text && !strstr(err.msg, text + 1))
            printf("FAIL line %d: %s: message \"%s\" lacks \"%s\"\n", k->line, k->expr, err.msg, text + 1);
        else
            ok = 1;
    } else {
        printf("FAIL line %d: case has no value/error/syntax line\n", k->line);
    }
out:
    json_object_put(got);
    if (env[0] != (void *)-1)
        json_object_put(env[0]);
    if (env[1] != (void *)-1)
        json_object_put(env[1]);
    brd_expr_free(e);
    return ok;
}

static char *field(char *line, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(line, name, n) == 0 && line[n] == ':' && line[n + 1] == ' ')
        return strdup(line + n + 2);
    return NULL;
}

int main(int argc, char **argv)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/expr.cases", argc > 2 ? argv[2] : "tests/cases");
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return 1;
    }
    char line[8192];
    struct kase k = {0};
    int lineno = 0, passed = 0, failed = 0;
    for (;;) {
        char *got = fgets(line, sizeof line, f);
        if (got) {
            lineno++;
            line[strcspn(line, "\n")] = '\0';
        }
        if (!got || line[0] == '\0') {
            if (k.expr) {
                if (run_case(&k))
                    passed++;
                else
                    failed++;
            } else if (k.input || k.value || k.error || k.syntax || k.nodes) {
                printf("FAIL line %d: case without an expr line\n", k.line);
                failed++;
            }
            free(k.expr), free(k.input), free(k.nodes), free(k.value), free(k.error), free(k.syntax);
            memset(&k, 0, sizeof k);
            if (!got)
                break;
            continue;
        }
        if (line[0] == '#')
            continue;
        if (!k.line)
            k.line = lineno;
        char *v;
        if ((v = field(line, "expr")))
            free(k.expr), k.expr = v;
        else if ((v = field(line, "input")))
            free(k.input), k.input = v;
        else if ((v = field(line, "nodes")))
            free(k.nodes), k.nodes = v;
        else if ((v = field(line, "value")))
            free(k.value), k.value = v;
        else if ((v = field(line, "error")))
            free(k.error), k.error = v;
        else if ((v = field(line, "syntax")))
            free(k.syntax), k.syntax = v;
        else {
            printf("FAIL line %d: unknown line \"%s\"\n", lineno, line);
            failed++;
        }
    }
    fclose(f);
    printf("expr: %d passed, %d failed\n", passed, failed);
    return failed || !passed ? 1 : 0;
}
