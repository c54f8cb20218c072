/* iregexp.c — RFC 9485 I-Regexp parsed strictly and rewritten for PCRE2 (see iregexp.h). */
#include "iregexp.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The translator: a recursive-descent parser over RFC 9485 §5's ABNF that
 * writes the PCRE2 pattern as it goes. */
struct tr {
    const unsigned char *s;
    size_t len, pos;
    char *out;
    size_t olen, ocap;
    int nesting;
    bool nomem;
};

static bool emit(struct tr *t, const char *p, size_t n)
{
    if (t->nomem)
        return false;
    if (t->ocap - t->olen < n + 1) {
        size_t cap = t->ocap ? t->ocap : 64;
        while (cap - t->olen < n + 1)
            cap *= 2;
        char *bigger = realloc(t->out, cap);
        if (!bigger) {
            t->nomem = true;
            return false;
        }
        t->out = bigger;
        t->ocap = cap;
    }
    memcpy(t->out + t->olen, p, n);
    t->olen += n;
    t->out[t->olen] = '\0';
    return true;
}

static bool emits(struct tr *t, const char *p)
{
    return emit(t, p, strlen(p));
}

/* Decodes one UTF-8 code point at t->pos (strict: no overlongs, no
 * surrogates, nothing above U+10FFFF) and advances; -1 when malformed. */
static int32_t next_cp(struct tr *t)
{
    const unsigned char *s = t->s + t->pos;
    size_t avail = t->len - t->pos;
    if (avail == 0)
        return -1;
    unsigned char c = s[0];
    if (c < 0x80) {
        t->pos++;
        return c;
    }
    int n;
    int32_t cp, min;
    if ((c & 0xE0) == 0xC0) { n = 2; cp = c & 0x1F; min = 0x80; }
    else if ((c & 0xF0) == 0xE0) { n = 3; cp = c & 0x0F; min = 0x800; }
    else if ((c & 0xF8) == 0xF0) { n = 4; cp = c & 0x07; min = 0x10000; }
    else return -1;
    if (avail < (size_t)n)
        return -1;
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return -1;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return -1;
    t->pos += (size_t)n;
    return cp;
}

/* Writes code point cp as a PCRE2 literal, valid both inside and outside a
 * character class: ASCII punctuation is backslash-escaped (PCRE2 reads
 * "\" + any non-alphanumeric ASCII as that character), control characters
 * become \x{..}, everything else is copied as UTF-8. */
static bool emit_literal(struct tr *t, int32_t cp)
{
    char buf[16];
    if (cp < 0x20 || cp == 0x7F) {
        snprintf(buf, sizeof buf, "\\x{%x}", (unsigned)cp);
        return emits(t, buf);
    }
    if (cp < 0x80) {
        if ((cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')) {
            buf[0] = (char)cp;
            return emit(t, buf, 1);
        }
        buf[0] = '\\';
        buf[1] = (char)cp;
        return emit(t, buf, 2);
    }
    int n;
    if (cp < 0x800) {
        buf[0] = (char)(0xC0 | (cp >> 6));
        n = 1;
    } else if (cp < 0x10000) {
        buf[0] = (char)(0xE0 | (cp >> 12));
        buf[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        n = 2;
    } else {
        buf[0] = (char)(0xF0 | (cp >> 18));
        buf[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        buf[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        n = 3;
    }
    buf[n] = (char)(0x80 | (cp & 0x3F));
    return emit(t, buf, (size_t)n + 1);
}

static int peek(const struct tr *t)
{
    return t->pos < t->len ? t->s[t->pos] : -1;
}

/* After a backslash: SingleCharEsc = \( \) \* \+ \- \. \? \[ \\ \] \^ \n
 * \r \t \{ \| \}.  Returns the code point it stands for, or -1. */
static int32_t single_char_esc(int c)
{
    switch (c) {
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case '(': case ')': case '*': case '+': case '-': case '.': case '?':
    case '[': case '\\': case ']': case '^': case '{': case '|': case '}':
        return c;
    default:
        return -1;
    }
}

/* \p{..} / \P{..} with t->pos on the 'p' or 'P': checks charProp
 * (RFC 9485's IsCategory list) and writes the same escape for PCRE2. */
static bool category_esc(struct tr *t)
{
    static const char *const cats[] = {
        "L", "Ll", "Lm", "Lo", "Lt", "Lu", "M", "Mc", "Me", "Mn",
        "N", "Nd", "Nl", "No", "P", "Pc", "Pd", "Pe", "Pf", "Pi", "Po", "Ps",
        "Z", "Zl", "Zp", "Zs", "S", "Sc", "Sk", "Sm", "So",
        "C", "Cc", "Cf", "Cn", "Co",
    };
    char kind = (char)t->s[t->pos];
    if (t->len - t->pos < 4 || t->s[t->pos + 1] != '{')
        return false;
    size_t start = t->pos + 2, end = start;
    while (end < t->len && end - start < 3 && t->s[end] != '}')
        end++;
    if (end >= t->len || t->s[end] != '}')
        return false;
    size_t n = end - start;
    for (size_t i = 0; i < sizeof cats / sizeof cats[0]; i++) {
        if (strlen(cats[i]) == n && memcmp(cats[i], t->s + start, n) == 0) {
            char buf[12];
            snprintf(buf, sizeof buf, "\\%c{%s}", kind, cats[i]);
            t->pos = end + 1;
            return emits(t, buf);
        }
    }
    return false;
}

/* One CCchar (a class member that can be a range end point): a raw code
 * point other than - [ \ ] or a SingleCharEsc.  -1 when there is none. */
static int32_t cc_char(struct tr *t)
{
    int c = peek(t);
    if (c == '\\') {
        if (t->pos + 1 >= t->len)
            return -1;
        int32_t e = single_char_esc(t->s[t->pos + 1]);
        if (e >= 0)
            t->pos += 2;
        return e;
    }
    if (c < 0 || c == '-' || c == '[' || c == ']')
        return -1;
    return next_cp(t);
}

/* charClassExpr = "[" ["^"] ("-" / CCE1) *CCE1 ["-"] "]", t->pos on '['. */
static bool char_class(struct tr *t)
{
    t->pos++;
    if (!emits(t, "["))
        return false;
    if (peek(t) == '^') {
        t->pos++;
        if (!emits(t, "^"))
            return false;
    }
    bool first = true;
    for (;;) {
        int c = peek(t);
        if (c == ']' && !first)
            break;
        if (c == '-') {
            /* A '-' is literal only first or last. */
            if (!first && (t->pos + 1 >= t->len || t->s[t->pos + 1] != ']'))
                return false;
            t->pos++;
            if (!emits(t, "\\-"))
                return false;
            first = false;
            continue;
        }
        first = false;
        int next = t->pos + 1 < t->len ? t->s[t->pos + 1] : -1;
        if (c == '\\' && (next == 'p' || next == 'P')) {
            t->pos++;
            if (!category_esc(t))
                return false;
            continue;
        }
        int32_t lo = cc_char(t);
        if (lo < 0 || !emit_literal(t, lo))
            return false;
        if (peek(t) == '-' && t->pos + 1 < t->len && t->s[t->pos + 1] != ']') {
            t->pos++;
            int32_t hi = cc_char(t);
            /* XSD regexes (which I-Regexp subsets) reject reversed ranges. */
            if (hi < 0 || hi < lo || !emits(t, "-") || !emit_literal(t, hi))
                return false;
        }
    }
    t->pos++;
    return emits(t, "]");
}

static bool regexp(struct tr *t);

/* atom = NormalChar / charClass / "(" i-regexp ")". */
static bool atom(struct tr *t)
{
    int c = peek(t);
    switch (c) {
    case '(':
        if (++t->nesting > BRD_IREGEXP_MAX_NESTING)
            return false;
        t->pos++;
        if (!emits(t, "(?:") || !regexp(t) || peek(t) != ')')
            return false;
        t->pos++;
        t->nesting--;
        return emits(t, ")");
    case '.':
        /* I-Regexp's '.' is any code point but CR and LF (RFC 9485 §5.3). */
        t->pos++;
        return emits(t, "[^\\n\\r]");
    case '[':
        return char_class(t);
    case '^':
    case '$':
        /* NormalChars in RFC 9485's grammar, but the RFC's own mapping to
         * PCRE (§5.3) copies them through, so they anchor, and the CTS
         * expects that ("functions, match, explicit caret"). */
        t->pos++;
        return emit(t, (const char *)t->s + t->pos - 1, 1);
    case '\\': {
        if (t->pos + 1 >= t->len)
            return false;
        int e = t->s[t->pos + 1];
        if (e == 'p' || e == 'P') {
            t->pos++;
            return category_esc(t);
        }
        int32_t cp = single_char_esc(e);
        if (cp < 0)
            return false;
        t->pos += 2;
        return emit_literal(t, cp);
    }
    case ')': case '*': case '+': case '?': case ']': case '{': case '|': case '}':
    case -1:
        return false;
    default: {
        int32_t cp = next_cp(t);
        return cp >= 0 && emit_literal(t, cp);
    }
    }
}

/* quantifier = "*" / "+" / "?" / "{" n ["," [m]] "}"; absent is fine. */
static bool quantifier(struct tr *t)
{
    int c = peek(t);
    if (c == '*' || c == '+' || c == '?') {
        t->pos++;
        char q = (char)c;
        return emit(t, &q, 1);
    }
    if (c != '{')
        return true;
    size_t start = t->pos++;
    size_t digits = 0;
    while (peek(t) >= '0' && peek(t) <= '9') { t->pos++; digits++; }
    if (digits == 0)
        return false;
    if (peek(t) == ',') {
        t->pos++;
        while (peek(t) >= '0' && peek(t) <= '9')
            t->pos++;
    }
    if (peek(t) != '}')
        return false;
    t->pos++;
    /* The text is already PCRE2 syntax; PCRE2 checks the bounds. */
    return emit(t, (const char *)t->s + start, t->pos - start);
}

/* i-regexp = branch *("|" branch); branch = *piece; piece = atom [quantifier]. */
static bool regexp(struct tr *t)
{
    for (;;) {
        int c = peek(t);
        if (c == -1 || c == ')')
            return true;
        if (c == '|') {
            t->pos++;
            if (!emits(t, "|"))
                return false;
            continue;
        }
        if (!atom(t) || !quantifier(t))
            return false;
    }
}

int brd_iregexp_translate(const char *re, size_t len, bool whole, char **out, size_t *out_len)
{
    struct tr t = {.s = (const unsigned char *)re, .len = len};
    *out = NULL;
    bool ok = emits(&t, whole ? "\\A(?:" : "(?:") && regexp(&t) && t.pos == t.len &&
              emits(&t, whole ? ")\\z" : ")");
    if (!ok) {
        free(t.out);
        return t.nomem ? -1 : 1;
    }
    *out = t.out;
    *out_len = t.olen;
    return 0;
}

int brd_iregexp_compile(const char *re, size_t len, bool whole, pcre2_code **code)
{
    char *pat;
    size_t plen;
    *code = NULL;
    int rc = brd_iregexp_translate(re, len, whole, &pat, &plen);
    if (rc != 0)
        return rc;
    int errcode;
    PCRE2_SIZE erroff;
    *code = pcre2_compile((PCRE2_SPTR)pat, plen,
                          PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_NEVER_BACKSLASH_C,
                          &errcode, &erroff, NULL);
    free(pat);
    if (*code)
        return 0;
    return errcode == PCRE2_ERROR_HEAP_FAILED ? -1 : 1;
}

bool brd_iregexp_match(const pcre2_code *code, const char *subject, size_t len,
                       pcre2_match_data *md, pcre2_match_context *mctx)
{
    /* A match data block too small for the offsets gives 0, still a match. */
    int rc = pcre2_match(code, (PCRE2_SPTR)subject, len, 0, 0, md, mctx);
    return rc >= 0;
}
