/* name.h — the names of SPEC section 1 ([A-Za-z0-9_-]{1,64}): node ids,
 * API, function and workflow names. */
#ifndef BRD_NAME_H
#define BRD_NAME_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define BRD_NAME_MAX 64

/* True when c may appear in a name. */
static inline bool brd_is_name_char(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

/* True when s[0..n) is a valid name. */
static inline bool brd_valid_name_n(const char *s, size_t n)
{
    if (n == 0 || n > BRD_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!brd_is_name_char((unsigned char)s[i]))
            return false;
    return true;
}

/* True when the NUL-terminated s is a valid name. */
static inline bool brd_valid_name(const char *s)
{
    return brd_valid_name_n(s, strlen(s));
}

#endif
