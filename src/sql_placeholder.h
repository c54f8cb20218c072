/* sql_placeholder.h — `:name` placeholders of a SQL API's statement
 * rewritten into what a server's prepared statements take: `$1, $2, ...`
 * for PostgreSQL (a name used twice is one `$k`), `?` for MySQL/MariaDB (one
 * per use).  A small lexer over the statement: string literals, quoted
 * identifiers, comments, PostgreSQL dollar quoting and `::` casts, MySQL
 * backtick names, backslash escapes and `:=` are passed over untouched.
 *
 * It also tells whether the statement looks like it changes data (by its
 * leading keyword, and any INSERT/UPDATE/DELETE/MERGE word in a WITH), for
 * the load-time "read-only data source" check; the server enforces the
 * mode for real (a read-only transaction).
 */
#ifndef BRD_SQL_PLACEHOLDER_H
#define BRD_SQL_PLACEHOLDER_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

enum brd_sql_dialect {
    BRD_SQL_POSTGRESQL,   /* $k; '' in strings, E'..' with backslashes, $tag$..$tag$, nested comments */
    BRD_SQL_MYSQL,        /* ?; backslash escapes in '..' and "..", `name`, # comments */
};

struct brd_sql_rewrite {
    char *native;         /* the statement for the server, NUL-terminated */
    size_t native_len;
    char **names;         /* placeholder k (0-based: $k+1, or the k-th ?) binds :names[k];
                             NULL for a placeholder written natively ($1, ?), which a SQL
                             API may not use */
    size_t nnames;
    bool writes;          /* the statement may change data (by its keywords) */
};

/* Rewrites sql[0..len).  0 with *out filled (free with
 * brd_sql_rewrite_clear), or -1 with err (BRD_E_LOAD: more than one
 * statement, an unterminated string, comment or quoted name; BRD_E_NOMEM)
 * worded for a "sql: " prefix. */
int brd_sql_rewrite(const char *sql, size_t len, enum brd_sql_dialect dialect, struct brd_sql_rewrite *out,
                    struct brd_error *err);

void brd_sql_rewrite_clear(struct brd_sql_rewrite *r);

#endif
