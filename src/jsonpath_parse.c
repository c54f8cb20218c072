/* jsonpath_parse.c — RFC 9535 query text to the immutable compiled form:
 * the lexical pieces, queries, segments and selectors (filter expressions
 * are in jsonpath_filter.c). */
#include "jsonpath_internal.h"
#include "base/utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Records the first error only: inner failures are the precise ones. */
void brd_jsonpath_fail(struct jp_parser *p, size_t pos, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    char what[BRD_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    brd_error_at(p->err, BRD_E_SYNTAX, (long)pos, "%s at byte %zu", what, pos);
}

void brd_jsonpath_nomem(struct jp_parser *p)
{
    if (!p->failed) {
        p->failed = true;
        brd_error_nomem(p->err);
    }
}

static bool is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Length of the well-formed UTF-8 sequence at p->pos (no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0.  *cp gets the code point. */
static size_t utf8_len(const struct jp_parser *p, uint32_t *cp)
{
    const unsigned char *s = (const unsigned char *)p->s + p->pos;
    size_t avail = p->len - p->pos;
    if (avail == 0)
        return 0;
    unsigned char c = s[0];
    size_t n;
    uint32_t v, min;
    if (c < 0x80) { *cp = c; return 1; }
    if ((c & 0xE0) == 0xC0) { n = 2; v = c & 0x1F; min = 0x80; }
    else if ((c & 0xF0) == 0xE0) { n = 3; v = c & 0x0F; min = 0x800; }
    else if ((c & 0xF8) == 0xF0) { n = 4; v = c & 0x07; min = 0x10000; }
    else return 0;
    if (avail < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return n;
}
/* ---- strings ------------------------------------------------------------ */

static bool sbuf_put(struct jp_sbuf *b, const char *s, size_t n)
{
    if (b->cap - b->len < n + 1) {
        size_t cap = b->cap ? b->cap : 16;
        while (cap - b->len < n + 1)
            cap *= 2;
        char *bigger = realloc(b->s, cap);
        if (!bigger)
            return false;
        b->s = bigger;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
    return true;
}

static bool sbuf_put_cp(struct jp_sbuf *b, uint32_t cp)
{
    char u[4];
    return sbuf_put(b, u, brd_utf8_put(u, cp));
}

/* Four hex digits at p->pos (either case: ABNF strings are case-blind). */
static bool hex4(struct jp_parser *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int c = jp_peek(p);
        int d = jp_is_digit(c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10
              : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
        if (d < 0) {
            brd_jsonpath_fail(p, p->pos, "expected 4 hex digits after '\\u'");
            return false;
        }
        v = v * 16 + (uint32_t)d;
        p->pos++;
    }
    *out = v;
    return true;
}

/* string-literal (§2.3.1.1): *out is NUL-terminated and may contain NULs. */
bool brd_jsonpath_parse_string(struct jp_parser *p, struct jp_sbuf *out)
{
    int quote = jp_peek(p);
    size_t start = p->pos++;
    for (;;) {
        int c = jp_peek(p);
        if (c < 0) {
            brd_jsonpath_fail(p, start, "unterminated string");
            return false;
        }
        if (c == quote) {
            p->pos++;
            break;
        }
        if (c < 0x20) {
            brd_jsonpath_fail(p, p->pos, "control character in string (escape it)");
            return false;
        }
        if (c == '\\') {
            size_t esc = p->pos++;
            int e = jp_peek(p);
            uint32_t cp;
            switch (e) {
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case '/': cp = '/'; break;
            case '\\': cp = '\\'; break;
            case 'u': {
                p->pos++;
                if (!hex4(p, &cp))
                    return false;
                if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    brd_jsonpath_fail(p, esc, "lone low surrogate in \\u escape");
                    return false;
                }
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    uint32_t lo;
                    if (jp_peek(p) != '\\' || jp_peek_at(p, 1) != 'u') {
                        brd_jsonpath_fail(p, p->pos, "expected '\\u' and a low surrogate "
                                          "after a high surrogate");
                        return false;
                    }
                    size_t lo_at = p->pos;
                    p->pos += 2;
                    if (!hex4(p, &lo))
                        return false;
                    if (lo < 0xDC00 || lo > 0xDFFF) {
                        brd_jsonpath_fail(p, lo_at, "expected a low surrogate after a high "
                                          "surrogate");
                        return false;
                    }
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                if (!sbuf_put_cp(out, cp)) {
                    brd_jsonpath_nomem(p);
                    return false;
                }
                continue;
            }
            default:
                /* Only the other quote's escape is allowed: "\"" and '\''. */
                if (e == quote) {
                    cp = (uint32_t)e;
                    break;
                }
                brd_jsonpath_fail(p, esc, "invalid escape in string");
                return false;
            }
            p->pos++;
            if (!sbuf_put_cp(out, cp)) {
                brd_jsonpath_nomem(p);
                return false;
            }
            continue;
        }
        uint32_t cp;
        size_t n = utf8_len(p, &cp);
        if (n == 0) {
            brd_jsonpath_fail(p, p->pos, "invalid UTF-8 in string");
            return false;
        }
        if (!sbuf_put(out, p->s + p->pos, n)) {
            brd_jsonpath_nomem(p);
            return false;
        }
        p->pos += n;
    }
    if (!out->s && !sbuf_put(out, "", 0)) {
        brd_jsonpath_nomem(p);
        return false;
    }
    return true;
}

/* member-name-shorthand (§2.5.1.1): name-first *name-char, where
 * name-first is ALPHA, '_' or any non-ASCII code point. */
static bool parse_shorthand(struct jp_parser *p, struct jp_sbuf *out)
{
    size_t start = p->pos;
    for (;;) {
        int c = jp_peek(p);
        if (is_alpha(c) || c == '_' || (jp_is_digit(c) && p->pos != start)) {
            p->pos++;
            continue;
        }
        if (c >= 0x80) {
            uint32_t cp;
            size_t n = utf8_len(p, &cp);
            if (n == 0) {
                brd_jsonpath_fail(p, p->pos, "invalid UTF-8 in name");
                return false;
            }
            p->pos += n;
            continue;
        }
        break;
    }
    if (p->pos == start) {
        brd_jsonpath_fail(p, start, "expected a member name");
        return false;
    }
    if (!sbuf_put(out, p->s + start, p->pos - start)) {
        brd_jsonpath_nomem(p);
        return false;
    }
    return true;
}

/* int (§2.3.3.1): "0" / ["-"] DIGIT1 *DIGIT within ±(2^53-1); "-0" and
 * leading zeros are not allowed.  False on error. */
static bool parse_int(struct jp_parser *p, int64_t *out)
{
    size_t start = p->pos;
    bool neg = false;
    if (jp_peek(p) == '-') {
        neg = true;
        p->pos++;
    }
    if (!jp_is_digit(jp_peek(p))) {
        brd_jsonpath_fail(p, p->pos, "expected a digit");
        return false;
    }
    if (jp_peek(p) == '0') {
        if (neg) {
            brd_jsonpath_fail(p, start, "'-0' is not a valid integer");
            return false;
        }
        if (jp_is_digit(jp_peek_at(p, 1))) {
            brd_jsonpath_fail(p, start, "leading zeros are not allowed");
            return false;
        }
    }
    int64_t v = 0;
    bool big = false;
    while (jp_is_digit(jp_peek(p))) {
        if (!big) {
            v = v * 10 + (jp_peek(p) - '0');
            if (v > JP_INT_MAX)
                big = true;        /* keep scanning, stop accumulating */
        }
        p->pos++;
    }
    if (big) {
        brd_jsonpath_fail(p, start, "integer out of range (at most 2^53-1 in magnitude)");
        return false;
    }
    *out = neg ? -v : v;
    return true;
}
/* ---- queries --------------------------------------------------------------- */

static void free_sel(struct jp_sel *s)
{
    if (s->kind == JP_SEL_NAME)
        free(s->u.name.str);
    else if (s->kind == JP_SEL_FILTER)
        brd_jsonpath_free_expr(s->u.filter);
}

void brd_jsonpath_free_query(struct jp_query *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->nseg; i++) {
        for (size_t j = 0; j < q->seg[i].nsel; j++)
            free_sel(&q->seg[i].sel[j]);
        free(q->seg[i].sel);
    }
    free(q->seg);
    free(q);
}

void brd_jsonpath_free_expr(struct jp_expr *e)
{
    if (!e)
        return;
    brd_jsonpath_free_expr(e->a);
    brd_jsonpath_free_expr(e->b);
    brd_jsonpath_free_query(e->query);
    json_object_put(e->literal);
    for (size_t i = 0; i < e->nargs; i++)
        brd_jsonpath_free_expr(e->args[i]);
    free(e->args);
    pcre2_code_free(e->re);
    free(e);
}

static bool add_sel(struct jp_parser *p, struct jp_seg *seg, const struct jp_sel *sel)
{
    /* Segments rarely have many selectors: grow one at a time. */
    struct jp_sel *bigger = realloc(seg->sel, (seg->nsel + 1) * sizeof *bigger);
    if (!bigger) {
        brd_jsonpath_nomem(p);
        return false;
    }
    seg->sel = bigger;
    seg->sel[seg->nsel++] = *sel;
    return true;
}

static bool name_sel(struct jp_parser *p, struct jp_sbuf *b, struct jp_sel *sel)
{
    sel->kind = JP_SEL_NAME;
    sel->u.name.str = b->s;
    sel->u.name.len = b->len;
    sel->u.name.has_nul = memchr(b->s, '\0', b->len) != NULL;
    (void)p;
    return true;
}

/* One selector inside brackets (§2.3), p->pos on its first byte. */
static bool parse_selector(struct jp_parser *p, struct jp_sel *sel)
{
    int c = jp_peek(p);
    memset(sel, 0, sizeof *sel);
    if (c == '\'' || c == '"') {
        struct jp_sbuf b = {0};
        if (!brd_jsonpath_parse_string(p, &b)) {
            free(b.s);
            return false;
        }
        return name_sel(p, &b, sel);
    }
    if (c == '*') {
        p->pos++;
        sel->kind = JP_SEL_WILD;
        return true;
    }
    if (c == '?') {
        p->pos++;
        jp_skip_ws(p);
        sel->kind = JP_SEL_FILTER;
        p->depth++;
        if (p->depth > p->max_depth)
            p->max_depth = p->depth;
        sel->u.filter = brd_jsonpath_parse_logical(p, false);
        p->depth--;
        return sel->u.filter != NULL;
    }
    if (c == '-' || jp_is_digit(c) || c == ':') {
        int64_t v = 0;
        bool have = c != ':';
        if (have && !parse_int(p, &v))
            return false;
        size_t save = p->pos;
        jp_skip_ws(p);
        if (jp_peek(p) != ':') {
            p->pos = save;
            sel->kind = JP_SEL_INDEX;
            sel->u.index = v;
            return true;
        }
        /* slice-selector = [start S] ":" S [end S] [":" [S step]] */
        sel->kind = JP_SEL_SLICE;
        sel->u.slice.has_start = have;
        sel->u.slice.start = v;
        sel->u.slice.step = 1;
        p->pos++;
        jp_skip_ws(p);
        c = jp_peek(p);
        if (c == '-' || jp_is_digit(c)) {
            if (!parse_int(p, &sel->u.slice.end))
                return false;
            sel->u.slice.has_end = true;
            jp_skip_ws(p);
        }
        if (jp_peek(p) == ':') {
            p->pos++;
            save = p->pos;
            jp_skip_ws(p);
            c = jp_peek(p);
            if (c == '-' || jp_is_digit(c)) {
                if (!parse_int(p, &sel->u.slice.step))
                    return false;
            } else {
                p->pos = save;
            }
        }
        return true;
    }
    brd_jsonpath_fail(p, p->pos, "expected a selector (a name in quotes, '*', an index, "
                      "a slice or '?')");
    return false;
}

/* bracketed-selection = "[" S selector *(S "," S selector) S "]".
 * *ws tells whether blank space occurred inside (not singular then). */
static bool parse_bracketed(struct jp_parser *p, struct jp_seg *seg, bool *ws)
{
    p->pos++;
    *ws = jp_skip_ws(p);
    for (;;) {
        struct jp_sel sel;
        if (!parse_selector(p, &sel))
            return false;
        if (!add_sel(p, seg, &sel)) {
            free_sel(&sel);
            return false;
        }
        *ws |= jp_skip_ws(p);
        int c = jp_peek(p);
        if (c == ']') {
            p->pos++;
            return true;
        }
        if (c != ',') {
            brd_jsonpath_fail(p, p->pos, "expected ']' or ','");
            return false;
        }
        p->pos++;
        *ws |= jp_skip_ws(p);
    }
}

static bool is_name_first(int c)
{
    return is_alpha(c) || c == '_' || c >= 0x80;
}

/* One segment, p->pos on its '.', '..' or '['. */
static bool parse_segment(struct jp_parser *p, struct jp_seg *seg, bool *ws)
{
    *ws = false;
    if (jp_peek(p) == '[')
        return parse_bracketed(p, seg, ws);
    /* '.' */
    p->pos++;
    if (jp_peek(p) == '.') {
        seg->descendant = true;
        p->pos++;
        if (jp_peek(p) == '[')
            return parse_bracketed(p, seg, ws);
        if (jp_peek(p) != '*' && !is_name_first(jp_peek(p))) {
            brd_jsonpath_fail(p, p->pos, "expected a name, '*' or '[' after '..'");
            return false;
        }
    } else if (jp_peek(p) != '*' && !is_name_first(jp_peek(p))) {
        brd_jsonpath_fail(p, p->pos, "expected a name or '*' after '.'");
        return false;
    }
    struct jp_sel sel;
    memset(&sel, 0, sizeof sel);
    if (jp_peek(p) == '*') {
        p->pos++;
        sel.kind = JP_SEL_WILD;
    } else {
        struct jp_sbuf b = {0};
        if (!parse_shorthand(p, &b)) {
            free(b.s);
            return false;
        }
        name_sel(p, &b, &sel);
    }
    if (!add_sel(p, seg, &sel)) {
        free_sel(&sel);
        return false;
    }
    return true;
}

/* segments = *(S segment), after the '$' or '@'.  Blank space that is not
 * followed by a segment is left unread: it belongs to what follows. */
struct jp_query *brd_jsonpath_parse_query(struct jp_parser *p, bool absolute)
{
    struct jp_query *q = calloc(1, sizeof *q);
    if (!q) {
        brd_jsonpath_nomem(p);
        return NULL;
    }
    q->absolute = absolute;
    q->depth = p->depth;
    q->singular = true;
    size_t cap = 0;
    for (;;) {
        size_t save = p->pos;
        jp_skip_ws(p);
        int c = jp_peek(p);
        if (c != '.' && c != '[') {
            p->pos = save;
            break;
        }
        if (q->nseg == cap) {
            cap = cap ? cap * 2 : 4;
            struct jp_seg *bigger = realloc(q->seg, cap * sizeof *bigger);
            if (!bigger) {
                brd_jsonpath_nomem(p);
                brd_jsonpath_free_query(q);
                return NULL;
            }
            q->seg = bigger;
        }
        struct jp_seg *seg = &q->seg[q->nseg++];
        memset(seg, 0, sizeof *seg);
        bool ws;
        if (!parse_segment(p, seg, &ws)) {
            brd_jsonpath_free_query(q);
            return NULL;
        }
        /* singular-query-segments (§2.3.5.1): "[" name-selector "]",
         * "[" index-selector "]" or ".name" — one selector, no blank space. */
        enum jp_sel_kind k = seg->sel[0].kind;
        if (seg->descendant || seg->nsel != 1 || ws || (k != JP_SEL_NAME && k != JP_SEL_INDEX))
            q->singular = false;
    }
    return q;
}
/* ---- the public entry points ---------------------------------------------- */

static int compile(const char *text, size_t len, bool prefix, size_t *used,
                   struct brd_jsonpath **out, struct brd_error *err)
{
    *out = NULL;
    struct jp_parser p = {.s = text, .len = len, .err = err};
    /* The DataWorks spelling: "$." alone means "$". */
    bool dataworks = len == 2 && text[0] == '$' && text[1] == '.';
    if (len == 0 || text[0] != '$') {
        brd_jsonpath_fail(&p, 0, "expected '$' at the start of the query");
        return -1;
    }
    p.pos = 1;
    struct jp_query *q = dataworks ? calloc(1, sizeof *q) : brd_jsonpath_parse_query(&p, true);
    if (!q) {
        if (dataworks)
            brd_jsonpath_nomem(&p);
        return -1;
    }
    if (dataworks) {
        q->absolute = q->singular = true;
        p.pos = 2;
    }
    if (!prefix && p.pos != len) {
        brd_jsonpath_fail(&p, p.pos, "expected '.', '[' or the end of the query");
        brd_jsonpath_free_query(q);
        return -1;
    }
    struct brd_jsonpath *jp = calloc(1, sizeof *jp);
    char *copy = malloc(p.pos + 1);
    if (!jp || !copy) {
        free(jp);
        free(copy);
        brd_jsonpath_free_query(q);
        return brd_error_nomem(err);
    }
    memcpy(copy, text, p.pos);
    copy[p.pos] = '\0';
    jp->text = copy;
    jp->len = p.pos;
    jp->query = q;
    jp->max_depth = p.max_depth;
    if (used)
        *used = p.pos;
    *out = jp;
    return 0;
}

int brd_jsonpath_compile(const char *text, size_t len, struct brd_jsonpath **out,
                         struct brd_error *err)
{
    return compile(text, len, false, NULL, out, err);
}

int brd_jsonpath_compile_prefix(const char *text, size_t len, size_t *used,
                                struct brd_jsonpath **out, struct brd_error *err)
{
    return compile(text, len, true, used, out, err);
}

void brd_jsonpath_free(struct brd_jsonpath *q)
{
    if (!q)
        return;
    brd_jsonpath_free_query(q->query);
    free(q->text);
    free(q);
}

bool brd_jsonpath_is_singular(const struct brd_jsonpath *q)
{
    return q->query->singular;
}

const char *brd_jsonpath_text(const struct brd_jsonpath *q, size_t *len)
{
    if (len)
        *len = q->len;
    return q->text;
}
