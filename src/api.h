/* api.h — a registered API, `apis/<name>.json`: an HTTP API (SPEC section 2)
 * or a SQL API over a data source (section 2b, sql_api.h), loaded and
 * validated once; immutable afterwards and shared by every request.
 */
#ifndef BRD_API_H
#define BRD_API_H

#include <stdbool.h>
#include <stddef.h>

#include "base/diag.h"
#include "datasource.h"
#include "params.h"
#include "ref.h"

enum brd_api_type { BRD_API_HTTP, BRD_API_SQL };

enum brd_method { BRD_GET, BRD_POST, BRD_PUT, BRD_PATCH, BRD_DELETE };

#define BRD_RETRY_CONNECT 1u
#define BRD_RETRY_TIMEOUT 2u
#define BRD_RETRY_5XX     4u

#define BRD_API_DEFAULT_TIMEOUT_MS 10000
#define BRD_API_DEFAULT_BACKOFF_MS 100

struct brd_header {
    char *name, *value;          /* value with ${env.X} substituted */
    bool secret;                 /* the value came (partly) from the environment:
                                    traces show it redacted */
};

struct brd_sql_api;

struct brd_api {
    char name[BRD_NAME_MAX + 1];
    char *file;                  /* "apis/get_user.json", for messages */
    enum brd_api_type type;      /* "type": "http" (the default) or "sql" */
    struct brd_sql_api *sql;     /* BRD_API_SQL: data source, statement, bind map (owned);
                                    the HTTP fields below are then unset */
    char *url;                   /* with {param} placeholders, ${env.X} already substituted */
    char *url_display;           /* the url as written (${env.X} left in), for error
                                    messages and traces so secrets stay out; NULL when
                                    the url uses no ${env.X} (then url is shown) */
    enum brd_method method;
    struct brd_params params;
    struct brd_header *headers;  /* ${env.X} substituted */
    size_t nheaders;
    int timeout_ms;              /* default 10000 (an HTTP attempt, or a SQL statement) */
    int retry_attempts;          /* total attempts, default 1 */
    int retry_backoff_ms;        /* default 100 */
    unsigned retry_on;           /* BRD_RETRY_* bits; all three unless "on" says otherwise */
    char *filter;                /* function name or NULL (existence checked by the service loader) */
};

/* Reads and validates DIR/apis/NAME.json.  Every problem goes to d,
 * prefixed with the file ("apis/get_user.json: retry.on: unknown condition
 * \"4xx\"").  Unknown fields are errors.  The url must be http:// or
 * https://; every {placeholder} in it must be a declared "path" param and
 * every path param must appear in it.  ${env.NAME} is substituted in the
 * url, header values and string defaults from the environment now; a
 * missing variable is a load error naming it ($${ writes a literal ${).
 * Returns 0 with *out (free with brd_api_free), or -1. */
int brd_api_load(const char *dir, const char *name, struct brd_api **out, struct brd_diags *d);

/* The same, for a directory whose data sources are dss[0..nds) (borrowed:
 * a SQL API keeps a pointer to its source, which must outlive it).  An API
 * of "type": "sql" has datasource, sql, params (no "in"), max_rows,
 * timeout_ms and filter; its statement is checked against the source now
 * (sql_api.h).  brd_api_load is this with no data sources. */
int brd_api_load_with(const char *dir, const char *name, const struct brd_ds *const *dss, size_t nds,
                      struct brd_api **out, struct brd_diags *d);

void brd_api_free(struct brd_api *api);


/* "GET", "POST", ... */
const char *brd_method_name(enum brd_method m);

/* Parses "GET", "POST", ... (upper case, as SPEC writes them).  Returns 0 or -1. */
int brd_method_parse(const char *s, enum brd_method *out);

#endif
