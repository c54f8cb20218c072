/* ref.c — parsing and resolving `${ID...}` references (see ref.h). */
#include "ref.h"

#include <stdlib.h>
#include <string.h>

size_t brd_skip_quoted(const char *s, size_t len, size_t i)
{
    char quote = s[i];
    for (i++; i < len; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == quote)
            return i;
    }
    return len;
}

/* Finds the '}' that closes a reference whose body starts at text[i]:
 * braces inside quoted strings (a JSONPath name or filter literal such as
 * `${A['}']}`) do not count.  Returns its offset or -1. */
static long closing_brace(const char *text, size_t len, size_t i)
{
    for (; i < len; i++) {
        if (text[i] == '\'' || text[i] == '"')
            i = brd_skip_quoted(text, len, i);
        else if (text[i] == '}')
            return (long)i;
    }
    return -1;
}

int brd_ref_parse(const char *text, size_t len, size_t *consumed, struct brd_ref *ref,
                  struct brd_error *err)
{
    ref->id[0] = '\0';
    ref->text = NULL;
    ref->path = NULL;
    ref->slot = -1;
    if (len < 2 || text[0] != '$' || text[1] != '{')
        return brd_error_at(err, BRD_E_SYNTAX, 0, "expected '${' at byte 0");
    long close = closing_brace(text, len, 2);
    if (close < 0)
        return brd_error_at(err, BRD_E_SYNTAX, (long)len,
                            "reference not closed: expected '}' at byte %zu", len);
    size_t i = 2;
    while (i < (size_t)close && brd_is_name_char((unsigned char)text[i]))
        i++;
    size_t idlen = i - 2;
    if (idlen == 0)
        return brd_error_at(err, BRD_E_SYNTAX, 2,
                            "expected a node id (letters, digits, '_' or '-') at byte 2");
    if (idlen > BRD_NAME_MAX)
        return brd_error_at(err, BRD_E_SYNTAX, 2, "node id longer than %d characters",
                            BRD_NAME_MAX);
    if (i < (size_t)close && text[i] != '.' && text[i] != '[')
        return brd_error_at(err, BRD_E_SYNTAX, (long)i,
                            "expected '.', '[' or '}' after the node id at byte %zu", i);
    memcpy(ref->id, text + 2, idlen);
    ref->id[idlen] = '\0';

    if (i < (size_t)close) {
        /* The continuation is compiled as the query "$" + rest. */
        size_t rest = (size_t)close - i;
        char *q = malloc(rest + 1);
        if (!q)
            return brd_error_nomem(err);
        q[0] = '$';
        memcpy(q + 1, text + i, rest);
        int rc = brd_jsonpath_compile(q, rest + 1, &ref->path, err);
        free(q);
        if (rc != 0) {
            /* Shift the position from the synthetic query back to text. */
            if (err && err->pos >= 1)
                err->pos = err->pos - 1 + (long)i;
            return -1;
        }
    }
    if (!(ref->text = strndup(text, (size_t)close + 1))) {
        brd_ref_clear(ref);
        return brd_error_nomem(err);
    }
    *consumed = (size_t)close + 1;
    return 0;
}

void brd_ref_clear(struct brd_ref *ref)
{
    brd_jsonpath_free(ref->path);
    ref->path = NULL;
    free(ref->text);
    ref->text = NULL;
}

int brd_ref_value(const struct brd_ref *ref, struct json_object *output,
                  struct json_object **out, struct brd_error *err)
{
    if (!ref->path) {
        *out = brd_json_ref(output);
        return 0;
    }
    return brd_jsonpath_value(ref->path, output, out, err);
}
