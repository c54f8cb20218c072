/* iregexp.h — I-Regexp (RFC 9485) checked strictly and handed to PCRE2.
 *
 * JSONPath's match() and search() take I-Regexp patterns.  Rather than
 * write a regex engine, a pattern is parsed against RFC 9485's grammar and
 * rewritten into an equivalent PCRE2 pattern ('.' becomes [^\n\r], literal
 * characters are escaped, groups become non-capturing), then compiled by
 * PCRE2 in UTF mode.  Anything that is not I-Regexp is rejected here, so
 * PCRE2 extensions (lookarounds, backreferences, lazy quantifiers...) never
 * reach PCRE2.
 */
#ifndef BRD_IREGEXP_H
#define BRD_IREGEXP_H

#include <stdbool.h>
#include <stddef.h>

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

/* Deepest group nesting a pattern may have (PCRE2's own limit is 250). */
#define BRD_IREGEXP_MAX_NESTING 100

/* Rewrites the I-Regexp re[0..len) as a PCRE2 pattern.  With whole, the
 * pattern is anchored to the whole subject (match()); otherwise it finds a
 * substring (search()).  Returns 0 with *out a new NUL-terminated string
 * (caller frees) and *out_len its length; 1 when re is not a valid
 * I-Regexp; -1 when memory runs out. */
int brd_iregexp_translate(const char *re, size_t len, bool whole, char **out, size_t *out_len);

/* Translates and compiles.  Returns 0 with *code a new pattern (free with
 * pcre2_code_free); 1 when re is not a valid I-Regexp or PCRE2 rejects it
 * (e.g. a quantifier bound over 65535); -1 when memory runs out. */
int brd_iregexp_compile(const char *re, size_t len, bool whole, pcre2_code **code);

/* True when code matches subject[0..len).  md is caller-owned match data
 * (any size: only whether it matched is used) and mctx may be NULL.  A
 * subject that is not valid UTF-8, or a match that hits PCRE2's limits,
 * counts as no match. */
bool brd_iregexp_match(const pcre2_code *code, const char *subject, size_t len,
                       pcre2_match_data *md, pcre2_match_context *mctx);

#endif
