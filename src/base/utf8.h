/* utf8.h — UTF-8 checks and encoding shared by the JSON reader, the
 * JSONPath parser, the log writer and what the host takes from a sandbox.
 * Valid means RFC 3629: shortest form, no surrogates, nothing past U+10FFFF. */
#ifndef BRD_UTF8_H
#define BRD_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* The length (1-4) of the valid UTF-8 sequence at s[0..n), or 0 when the
 * bytes there are not one (n must be at least 1). */
size_t brd_utf8_seq(const unsigned char *s, size_t n);

/* Writes code point cp (at most U+10FFFF) as UTF-8 into out[0..4); returns
 * the number of bytes written. */
size_t brd_utf8_put(char *out, uint32_t cp);

/* Replaces, in place, every byte of s[0..n) that is not part of a valid
 * sequence with '?' (same length: fits fixed buffers such as an error
 * message, and mends a sequence cut by truncation).  Returns how many
 * bytes it replaced. */
size_t brd_utf8_scrub(char *s, size_t n);

/* A new NUL-terminated copy of s[0..n) in which every invalid byte is
 * U+FFFD (so it may be up to three times longer); its length goes to
 * *out_len.  NULL when out of memory.  NUL bytes are kept. */
char *brd_utf8_copy(const char *s, size_t n, size_t *out_len);

#endif
