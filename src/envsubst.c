/* envsubst.c — ${env.NAME} in definitions, read from the environment at
 * load time (SPEC section 2; envsubst.h).  Its own module so that every
 * definition kind (APIs, their params' defaults, data sources) uses one rule
 * without the params module depending on the API module. */
#include "envsubst.h"

#include "base/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_env_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool is_env_char(char c)
{
    return is_env_start(c) || (c >= '0' && c <= '9');
}

int brd_env_subst(const char *text, char **out, bool *used, char *msg, size_t msgsize)
{
    struct brd_strbuf b = {0};
    *out = NULL;
    *used = false;
    if (brd_strbuf_add(&b, "", 0) < 0)
        goto nomem;
    for (const char *s = text; *s;) {
        if (s[0] == '$' && s[1] == '$' && s[2] == '{') {
            if (brd_strbuf_add(&b, "${", 2) < 0)
                goto nomem;
            s += 3;
            continue;
        }
        if (s[0] == '$' && s[1] == '{') {
            const char *name = s + 6, *end = name;
            if (strncmp(s + 2, "env.", 4) != 0 || !is_env_start(*name)) {
                snprintf(msg, msgsize, "only ${env.NAME} can be used here (write $${ for a literal ${)");
                free(b.p);
                return -1;
            }
            while (is_env_char(*end))
                end++;
            if (*end != '}') {
                snprintf(msg, msgsize, "unterminated or invalid ${env.NAME}: a name is letters, digits "
                         "and _, closed by }");
                free(b.p);
                return -1;
            }
            char var[256];
            if ((size_t)(end - name) >= sizeof var) {
                snprintf(msg, msgsize, "environment variable name too long");
                free(b.p);
                return -1;
            }
            memcpy(var, name, (size_t)(end - name));
            var[end - name] = '\0';
            const char *val = getenv(var);
            if (!val) {
                snprintf(msg, msgsize, "environment variable %s is not set", var);
                free(b.p);
                return -1;
            }
            if (brd_strbuf_add(&b, val, strlen(val)) < 0)
                goto nomem;
            *used = true;
            s = end + 1;
            continue;
        }
        if (brd_strbuf_add(&b, s, 1) < 0)
            goto nomem;
        s++;
    }
    *out = b.p;
    return 0;
nomem:
    free(b.p);
    snprintf(msg, msgsize, "out of memory");
    return -1;
}
