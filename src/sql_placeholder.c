/* sql_placeholder.c — `:name` to `$k` / `?` (see sql_placeholder.h). */
#include "sql_placeholder.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/strbuf.h"

struct lex {
    const char *s;
    size_t n, i;
    enum brd_sql_dialect d;
    struct brd_strbuf out;
    struct brd_sql_rewrite *r;
    size_t cap;
    int words;                 /* words seen at top level so far */
    bool with;                 /* the statement starts with WITH */
    bool ended;                /* a ';' was seen: only space and comments may follow */
};

static bool name_start(char c)
{
    return isalpha((unsigned char)c) || c == '_';
}

static bool name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '$';
}

static int add_name(struct lex *x, const char *name, size_t len, struct brd_error *err)
{
    struct brd_sql_rewrite *r = x->r;
    if (r->nnames == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 8;
        char **grown = realloc(r->names, cap * sizeof *grown);
        if (!grown)
            return brd_error_nomem(err);
        r->names = grown;
        x->cap = cap;
    }
    char *copy = NULL;
    if (name && !(copy = strndup(name, len)))
        return brd_error_nomem(err);
    r->names[r->nnames++] = copy;
    return 0;
}

/* The 1-based $k of name among the PostgreSQL placeholders so far, or 0. */
static size_t pg_index(const struct brd_sql_rewrite *r, const char *name, size_t len)
{
    for (size_t k = 0; k < r->nnames; k++)
        if (r->names[k] && strlen(r->names[k]) == len && !strncmp(r->names[k], name, len))
            return k + 1;
    return 0;
}

/* A :name at x->i (after the colon); rewrites it. */
static int placeholder(struct lex *x, struct brd_error *err)
{
    size_t start = x->i;
    while (x->i < x->n && name_char(x->s[x->i]) && x->s[x->i] != '$')
        x->i++;
    const char *name = x->s + start;
    size_t len = x->i - start;
    if (x->d == BRD_SQL_MYSQL) {
        if (add_name(x, name, len, err) != 0)
            return -1;
        return brd_strbuf_add(&x->out, "?", 1) ? brd_error_nomem(err) : 0;
    }
    size_t k = pg_index(x->r, name, len);
    if (!k) {
        if (add_name(x, name, len, err) != 0)
            return -1;
        k = x->r->nnames;
    }
    char num[24];
    int m = snprintf(num, sizeof num, "$%zu", k);
    return brd_strbuf_add(&x->out, num, (size_t)m) ? brd_error_nomem(err) : 0;
}

/* Copies a quoted run that opened at x->i with q; doubled q and (when
 * backslashes) \x stay inside.  -1 when it never closes. */
static int quoted(struct lex *x, char q, bool backslashes)
{
    size_t i = x->i + 1;
    for (; i < x->n; i++) {
        if (backslashes && x->s[i] == '\\' && i + 1 < x->n) {
            i++;
        } else if (x->s[i] == q) {
            if (i + 1 < x->n && x->s[i + 1] == q) {
                i++;
                continue;
            }
            brd_strbuf_add(&x->out, x->s + x->i, i + 1 - x->i);
            x->i = i + 1;
            return 0;
        }
    }
    return -1;
}

/* A PostgreSQL $tag$ ... $tag$ at x->i; 1 when it is one (copied), 0 when
 * the $ starts something else, -1 when it never closes. */
static int dollar_quoted(struct lex *x)
{
    size_t i = x->i + 1;
    while (i < x->n && (name_char(x->s[i]) && x->s[i] != '$'))
        i++;
    if (i >= x->n || x->s[i] != '$' || (i > x->i + 1 && isdigit((unsigned char)x->s[x->i + 1])))
        return 0;
    size_t taglen = i + 1 - x->i;
    const char *tag = x->s + x->i;
    for (size_t j = i + 1; j + taglen <= x->n; j++)
        if (!memcmp(x->s + j, tag, taglen)) {
            brd_strbuf_add(&x->out, x->s + x->i, j + taglen - x->i);
            x->i = j + taglen;
            return 1;
        }
    return -1;
}

/* A block comment at x->i (PostgreSQL nests them); -1 when unterminated. */
static int block_comment(struct lex *x)
{
    int depth = 0;
    for (size_t i = x->i; i + 1 < x->n; i++) {
        if (x->s[i] == '/' && x->s[i + 1] == '*') {
            depth++;
            i++;
            if (x->d == BRD_SQL_MYSQL && depth > 1)
                depth = 1;
        } else if (x->s[i] == '*' && x->s[i + 1] == '/') {
            i++;
            if (--depth == 0) {
                brd_strbuf_add(&x->out, x->s + x->i, i + 1 - x->i);
                x->i = i + 1;
                return 0;
            }
        }
    }
    return -1;
}

static void line_comment(struct lex *x)
{
    size_t i = x->i;
    while (i < x->n && x->s[i] != '\n')
        i++;
    brd_strbuf_add(&x->out, x->s + x->i, i - x->i);
    x->i = i;
}

static bool word_is(const char *w, size_t len, const char *kw)
{
    return strlen(kw) == len && !strncasecmp(w, kw, len);
}

/* A bare word at top level: the first one says whether the statement reads. */
static void word(struct lex *x, const char *w, size_t len)
{
    static const char *const reads[] = {"SELECT", "VALUES", "TABLE", "SHOW", "EXPLAIN", "DESCRIBE", "DESC"};
    static const char *const changes[] = {"INSERT", "UPDATE", "DELETE", "MERGE", "REPLACE"};
    if (x->words++ == 0) {
        if (word_is(w, len, "WITH")) {
            x->with = true;
            return;
        }
        bool read = false;
        for (size_t k = 0; k < sizeof reads / sizeof *reads; k++)
            read |= word_is(w, len, reads[k]);
        x->r->writes = !read;
        return;
    }
    if (x->with)
        for (size_t k = 0; k < sizeof changes / sizeof *changes; k++)
            if (word_is(w, len, changes[k]))
                x->r->writes = true;
}

static int fail(struct brd_error *err, const char *what)
{
    return brd_error_set(err, BRD_E_LOAD, "%s", what);
}

int brd_sql_rewrite(const char *sql, size_t len, enum brd_sql_dialect dialect, struct brd_sql_rewrite *out,
                    struct brd_error *err)
{
    memset(out, 0, sizeof *out);
    struct lex x = {.s = sql, .n = len, .d = dialect, .r = out};
    bool my = dialect == BRD_SQL_MYSQL;
    int rc = 0;
    while (rc == 0 && x.i < x.n) {
        char c = x.s[x.i], next = x.i + 1 < x.n ? x.s[x.i + 1] : '\0';
        if (isspace((unsigned char)c)) {
            brd_strbuf_add(&x.out, &c, 1);
            x.i++;
            continue;
        }
        if (c == '-' && next == '-') {
            line_comment(&x);
            continue;
        }
        if (my && c == '#') {
            line_comment(&x);
            continue;
        }
        if (c == '/' && next == '*') {
            if (block_comment(&x) != 0)
                rc = fail(err, "a /* comment is not closed");
            continue;
        }
        if (x.ended) {
            rc = fail(err, "one statement per SQL API: text follows the ';'");
            break;
        }
        if (c == ';') {
            x.ended = true;
            x.i++;
            continue;
        }
        if (c == '\'') {
            /* PostgreSQL E'..' strings take backslash escapes; so does every
             * MySQL string unless NO_BACKSLASH_ESCAPES (then \' would close
             * it early: a placeholder after it is still found). */
            bool esc = my || (x.i > 0 && (x.s[x.i - 1] == 'E' || x.s[x.i - 1] == 'e') &&
                              (x.i < 2 || !name_char(x.s[x.i - 2])));
            if (quoted(&x, '\'', esc) != 0)
                rc = fail(err, "a string literal ('...') is not closed");
            continue;
        }
        if (c == '"') {
            if (quoted(&x, '"', my) != 0)
                rc = fail(err, "a quoted name (\"...\") is not closed");
            continue;
        }
        if (my && c == '`') {
            if (quoted(&x, '`', false) != 0)
                rc = fail(err, "a quoted name (`...`) is not closed");
            continue;
        }
        if (!my && c == '$') {
            int q = dollar_quoted(&x);
            if (q < 0) {
                rc = fail(err, "a dollar-quoted string ($tag$...$tag$) is not closed");
            } else if (q == 0) {
                if (isdigit((unsigned char)next))
                    rc = add_name(&x, NULL, 0, err);   /* a native $k: refused by the loader */
                brd_strbuf_add(&x.out, &c, 1);
                x.i++;
            }
            continue;
        }
        if (my && c == '?') {
            rc = add_name(&x, NULL, 0, err);
            brd_strbuf_add(&x.out, &c, 1);
            x.i++;
            continue;
        }
        if (c == ':') {
            if (next == ':' || next == '=') {          /* a::int cast, MySQL's := */
                brd_strbuf_add(&x.out, x.s + x.i, 2);
                x.i += 2;
            } else if (name_start(next)) {
                x.i++;
                rc = placeholder(&x, err);
            } else {
                brd_strbuf_add(&x.out, &c, 1);
                x.i++;
            }
            continue;
        }
        if (name_start(c)) {
            size_t start = x.i;
            while (x.i < x.n && name_char(x.s[x.i]))
                x.i++;
            word(&x, x.s + start, x.i - start);
            brd_strbuf_add(&x.out, x.s + start, x.i - start);
            continue;
        }
        brd_strbuf_add(&x.out, &c, 1);
        x.i++;
    }
    if (rc == 0 && (x.out.failed || !x.out.p))
        rc = x.out.failed ? brd_error_nomem(err) : fail(err, "the statement is empty");
    if (rc == 0 && x.words == 0)
        rc = fail(err, "the statement holds only comments");
    if (rc != 0) {
        brd_strbuf_free(&x.out);
        brd_sql_rewrite_clear(out);
        return -1;
    }
    out->native = x.out.p;
    out->native_len = x.out.len;
    return 0;
}

void brd_sql_rewrite_clear(struct brd_sql_rewrite *r)
{
    for (size_t k = 0; k < r->nnames; k++)
        free(r->names[k]);
    free(r->names);
    free(r->native);
    memset(r, 0, sizeof *r);
}
