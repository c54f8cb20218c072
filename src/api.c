/* api.c — loading and validating a registered API definition (see api.h);
 * the SQL part of a SQL API is sql_api.c's. */
#include "api.h"
#include "envsubst.h"

#include "sql_api.h"

#include "base/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#define MAX_TIMEOUT_MS 86400000    /* a day: anything longer is a typo */
#define MAX_ATTEMPTS 20
#define MAX_BACKOFF_MS 600000
/* When "retry" is given without "attempts": AWS Step Functions' default. */
#define DEFAULT_RETRY_ATTEMPTS 3

static const char *const method_names[] = {
    [BRD_GET] = "GET", [BRD_POST] = "POST", [BRD_PUT] = "PUT", [BRD_PATCH] = "PATCH", [BRD_DELETE] = "DELETE",
};

const char *brd_method_name(enum brd_method m)
{
    return (unsigned)m < sizeof method_names / sizeof *method_names ? method_names[m] : "?";
}

int brd_method_parse(const char *s, enum brd_method *out)
{
    for (size_t i = 0; i < sizeof method_names / sizeof *method_names; i++)
        if (!strcmp(s, method_names[i])) {
            *out = (enum brd_method)i;
            return 0;
        }
    return -1;
}


/* ---- field checks --------------------------------------------------------------------- */

static bool is_tchar(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* An integer field within [lo, hi]; 0 with *out, or -1 after a diagnostic. */
static int int_field(struct json_object *v, const char *file, const char *field, int lo, int hi,
                     int *out, struct brd_diags *d)
{
    if (!json_object_is_type(v, json_type_int)) {
        return brd_diag_add(d, "%s: %s: must be a whole number from %d to %d, got %s", file, field, lo, hi,
                            brd_json_compact(v, NULL));
    }
    int64_t i = json_object_get_int64(v);
    if (i < lo || i > hi)
        return brd_diag_add(d, "%s: %s: must be from %d to %d, got %lld", file, field, lo, hi, (long long)i);
    *out = (int)i;
    return 0;
}

static int load_retry(struct brd_api *api, struct json_object *r, struct brd_diags *d)
{
    if (!json_object_is_type(r, json_type_object))
        return brd_diag_add(d, "%s: retry: must be an object such as {\"attempts\": 3, \"backoff_ms\": 100, "
                            "\"on\": [\"connect\", \"timeout\", \"5xx\"]}", api->file);
    int rc = 0;
    api->retry_attempts = DEFAULT_RETRY_ATTEMPTS;
    json_object_object_foreach(r, key, val) {
        if (!strcmp(key, "attempts")) {
            rc |= int_field(val, api->file, "retry.attempts", 1, MAX_ATTEMPTS, &api->retry_attempts, d);
        } else if (!strcmp(key, "backoff_ms")) {
            rc |= int_field(val, api->file, "retry.backoff_ms", 0, MAX_BACKOFF_MS, &api->retry_backoff_ms, d);
        } else if (!strcmp(key, "on")) {
            if (!json_object_is_type(val, json_type_array)) {
                rc = brd_diag_add(d, "%s: retry.on: must be an array of \"connect\", \"timeout\", \"5xx\"",
                                  api->file);
                continue;
            }
            api->retry_on = 0;
            size_t n = json_object_array_length(val);
            for (size_t i = 0; i < n; i++) {
                struct json_object *c = json_object_array_get_idx(val, i);
                const char *s = json_object_is_type(c, json_type_string) ? json_object_get_string(c) : "";
                if (!strcmp(s, "connect"))
                    api->retry_on |= BRD_RETRY_CONNECT;
                else if (!strcmp(s, "timeout"))
                    api->retry_on |= BRD_RETRY_TIMEOUT;
                else if (!strcmp(s, "5xx"))
                    api->retry_on |= BRD_RETRY_5XX;
                else
                    rc = brd_diag_add(d, "%s: retry.on: unknown condition %s (one of \"connect\", "
                                      "\"timeout\", \"5xx\")", api->file, brd_json_compact(c, NULL));
            }
        } else {
            rc = brd_diag_add(d, "%s: retry: unknown field \"%s\"", api->file, key);
        }
    }
    return rc ? -1 : 0;
}

/* Headers Braid sets itself, or that would break the request's framing. */
static bool reserved_header(const char *name)
{
    static const char *const names[] = {"content-length", "transfer-encoding", "connection",
                                        "x-request-id", "expect", "upgrade"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcasecmp(name, names[i]))
            return true;
    return false;
}

static int load_headers(struct brd_api *api, struct json_object *h, struct brd_diags *d)
{
    if (!json_object_is_type(h, json_type_object))
        return brd_diag_add(d, "%s: headers: must be an object of name: value strings", api->file);
    size_t n = (size_t)json_object_object_length(h);
    if (n == 0)
        return 0;
    api->headers = calloc(n, sizeof *api->headers);
    if (!api->headers)
        return brd_diag_add(d, "%s: headers: out of memory", api->file);
    int rc = 0;
    json_object_object_foreach(h, key, val) {
        bool ok = key[0] != '\0';
        for (const char *s = key; *s; s++)
            ok = ok && is_tchar((unsigned char)*s);
        if (!ok) {
            rc = brd_diag_add(d, "%s: headers: \"%s\" is not a valid header name", api->file, key);
            continue;
        }
        if (reserved_header(key)) {
            rc = brd_diag_add(d, "%s: headers.%s: set by Braid itself, cannot be configured", api->file, key);
            continue;
        }
        for (size_t i = 0; i < api->nheaders; i++)
            if (!strcasecmp(api->headers[i].name, key))
                rc = brd_diag_add(d, "%s: headers.%s: duplicate header (names are case-insensitive)",
                                  api->file, key);
        if (!json_object_is_type(val, json_type_string)) {
            rc = brd_diag_add(d, "%s: headers.%s: must be a string", api->file, key);
            continue;
        }
        char *value = NULL, msg[256];
        bool used = false;
        if (brd_env_subst(json_object_get_string(val), &value, &used, msg, sizeof msg) < 0) {
            rc = brd_diag_add(d, "%s: headers.%s: %s", api->file, key, msg);
            continue;
        }
        /* A line break would let the value start a header of its own. */
        if (strlen(json_object_get_string(val)) != (size_t)json_object_get_string_len(val))
            ok = false;
        for (const char *s = value; *s; s++)
            if (*s == '\r' || *s == '\n')
                ok = false;
        if (!ok) {
            free(value);
            rc = brd_diag_add(d, "%s: headers.%s: the value contains a line break or NUL%s", api->file, key,
                              used ? " (after ${env.X} substitution)" : "");
            continue;
        }
        struct brd_header *hd = &api->headers[api->nheaders];
        hd->name = strdup(key);
        if (!hd->name) {
            free(value);
            rc = brd_diag_add(d, "%s: headers: out of memory", api->file);
            continue;
        }
        hd->value = value;
        hd->secret = used;
        api->nheaders++;
    }
    return rc ? -1 : 0;
}

/* Checks the url's shape and its {placeholders} against the path params. */
static int check_url(struct brd_api *api, bool with_params, struct brd_diags *d)
{
    const char *url = api->url;
    const char *shown = api->url_display ? api->url_display : api->url;
    size_t skip;
    if (!strncasecmp(url, "http://", 7))
        skip = 7;
    else if (!strncasecmp(url, "https://", 8))
        skip = 8;
    else
        return brd_diag_add(d, "%s: url: must start with http:// or https://, got \"%s\"", api->file, shown);

    int rc = 0;
    for (const unsigned char *s = (const unsigned char *)url; *s; s++)
        if (*s <= 0x20 || *s == 0x7f) {
            return brd_diag_add(d, "%s: url: contains a space or control character (percent-encode it)",
                                api->file);
        }
    if (strchr(url, '#'))
        rc = brd_diag_add(d, "%s: url: a fragment (#...) is never sent to a server; remove it", api->file);

    const char *rest = url + skip + strcspn(url + skip, "/?#");
    if (rest == url + skip)
        return brd_diag_add(d, "%s: url: no host in \"%s\"", api->file, shown);
    if (memchr(url + skip, '{', (size_t)(rest - url - skip)) || memchr(url + skip, '}', (size_t)(rest - url - skip)))
        return brd_diag_add(d, "%s: url: {placeholders} may only appear in the path or query, not the host",
                            api->file);
    /* Placeholders are checked against the params only when those loaded:
     * otherwise every {x} would be reported a second time. */
    if (!with_params)
        return rc;

    /* The url with every placeholder replaced by "x", for curl's parser. */
    struct brd_strbuf probe = {0};
    if (brd_strbuf_add(&probe, url, (size_t)(rest - url)) < 0)
        return brd_diag_add(d, "%s: out of memory", api->file);
    bool *seen = api->params.count ? calloc(api->params.count, sizeof *seen) : NULL;
    if (api->params.count && !seen) {
        free(probe.p);
        return brd_diag_add(d, "%s: out of memory", api->file);
    }
    for (const char *s = rest; *s;) {
        if (*s == '}') {
            rc = brd_diag_add(d, "%s: url: '}' without a matching '{'", api->file);
            s++;
            continue;
        }
        if (*s != '{') {
            rc |= brd_strbuf_add(&probe, s, 1);
            s++;
            continue;
        }
        const char *end = strchr(s, '}');
        const char *bad = s + 1 + strcspn(s + 1, "{}");
        if (!end || bad != end) {
            rc = brd_diag_add(d, "%s: url: '{' without a matching '}'", api->file);
            s++;
            continue;
        }
        char name[BRD_NAME_MAX + 1];
        size_t n = (size_t)(end - s - 1);
        bool ok = n > 0 && n <= BRD_NAME_MAX;
        if (ok) {
            memcpy(name, s + 1, n);
            name[n] = '\0';
            for (size_t i = 0; i < n; i++)
                ok = ok && brd_is_name_char((unsigned char)name[i]);
        }
        if (!ok) {
            rc = brd_diag_add(d, "%s: url: \"%.*s\" is not a placeholder (a name of A-Z a-z 0-9 _ - in braces)",
                              api->file, (int)(end - s + 1), s);
        } else {
            const struct brd_param *p = brd_params_find(&api->params, name);
            if (!p || p->in != BRD_IN_PATH)
                rc = brd_diag_add(d, "%s: url: {%s} is not a declared parameter with \"in\": \"path\"",
                                  api->file, name);
            else
                seen[p - api->params.items] = true;
        }
        rc |= brd_strbuf_add(&probe, "x", 1);
        s = end + 1;
    }
    for (size_t i = 0; i < api->params.count; i++)
        if (api->params.items[i].in == BRD_IN_PATH && !seen[i])
            rc = brd_diag_add(d, "%s: params.%s: a path parameter must appear in the url as {%s}", api->file,
                              api->params.items[i].name, api->params.items[i].name);
    free(seen);

    if (rc == 0 && probe.p) {
        CURLU *u = curl_url();
        if (!u) {
            rc = brd_diag_add(d, "%s: out of memory", api->file);
        } else {
            CURLUcode uc = curl_url_set(u, CURLUPART_URL, probe.p, 0);
            if (uc != CURLUE_OK)
                rc = brd_diag_add(d, "%s: url: not a valid URL: %s", api->file, curl_url_strerror(uc));
            curl_url_cleanup(u);
        }
    }
    free(probe.p);
    return rc ? -1 : 0;
}

/* ---- the definition ------------------------------------------------------------------ */

void brd_api_free(struct brd_api *api)
{
    if (!api)
        return;
    free(api->file);
    free(api->url);
    free(api->url_display);
    brd_params_free(&api->params);
    for (size_t i = 0; i < api->nheaders; i++) {
        free(api->headers[i].name);
        free(api->headers[i].value);
    }
    free(api->headers);
    free(api->filter);
    brd_sql_api_free(api->sql);
    free(api);
}

int brd_api_load(const char *dir, const char *name, struct brd_api **out, struct brd_diags *d)
{
    return brd_api_load_with(dir, name, NULL, 0, out, d);
}

int brd_api_load_with(const char *dir, const char *name, const struct brd_ds *const *dss, size_t nds,
                      struct brd_api **out, struct brd_diags *d)
{
    *out = NULL;
    char file[BRD_NAME_MAX + 32];
    if (!brd_valid_name(name))
        return brd_diag_add(d, "apis/%.80s.json: an API name must be 1 to %d of A-Z a-z 0-9 _ -", name,
                            BRD_NAME_MAX);
    snprintf(file, sizeof file, "apis/%s.json", name);

    struct brd_api *api = calloc(1, sizeof *api);
    char *path = NULL;
    if (!api || !(api->file = strdup(file)) || asprintf(&path, "%s/%s", dir, file) < 0) {
        brd_api_free(api);
        return brd_diag_add(d, "%s: out of memory", file);
    }
    memcpy(api->name, name, strlen(name) + 1);
    api->method = BRD_GET;
    api->timeout_ms = BRD_API_DEFAULT_TIMEOUT_MS;
    api->retry_attempts = 1;
    api->retry_backoff_ms = BRD_API_DEFAULT_BACKOFF_MS;
    api->retry_on = BRD_RETRY_CONNECT | BRD_RETRY_TIMEOUT | BRD_RETRY_5XX;

    struct json_object *root = NULL;
    struct brd_error err;
    int rc = brd_json_read_file(path, &root, &err);
    free(path);
    if (rc < 0) {
        brd_diag_error(d, file, &err);
        brd_api_free(api);
        return -1;
    }
    if (!json_object_is_type(root, json_type_object)) {
        brd_diag_add(d, "%s: must be a JSON object, got %s", file, brd_json_type_name(root));
        json_object_put(root);
        brd_api_free(api);
        return -1;
    }

    /* The type first: which fields belong depends on it. */
    struct json_object *type = NULL;
    if (json_object_object_get_ex(root, "type", &type)) {
        const char *t = json_object_is_type(type, json_type_string) ? json_object_get_string(type) : "";
        if (!strcmp(t, "sql"))
            api->type = BRD_API_SQL;
        else if (strcmp(t, "http") != 0)
            rc = brd_diag_add(d, "%s: type: unknown API type %s (\"http\", the default, or \"sql\")", file,
                              brd_json_compact(type, NULL));
    }
    bool sql = api->type == BRD_API_SQL;
    struct brd_sql_fields sqlf = {0};

    struct json_object *url = NULL, *params = NULL;
    json_object_object_foreach(root, key, val) {
        if (!strcmp(key, "type")) {
            continue;
        } else if (sql && !strcmp(key, "datasource")) {
            sqlf.datasource = val;
        } else if (sql && !strcmp(key, "sql")) {
            sqlf.sql = val;
        } else if (sql && !strcmp(key, "max_rows")) {
            sqlf.max_rows = val;
        } else if (sql && (!strcmp(key, "url") || !strcmp(key, "method") || !strcmp(key, "headers") ||
                           !strcmp(key, "retry"))) {
            rc = brd_diag_add(d, "%s: unknown field \"%s\" (a SQL API has datasource, sql, params, max_rows, "
                              "timeout_ms, filter)", file, key);
        } else if (!strcmp(key, "url")) {
            url = val;
        } else if (!strcmp(key, "method")) {
            if (!json_object_is_type(val, json_type_string) ||
                brd_method_parse(json_object_get_string(val), &api->method) < 0)
                rc = brd_diag_add(d, "%s: method: unknown method %s (one of GET, POST, PUT, PATCH, DELETE)",
                                  file, brd_json_compact(val, NULL));
        } else if (!strcmp(key, "params")) {
            params = val;
        } else if (!strcmp(key, "headers")) {
            rc |= load_headers(api, val, d);
        } else if (!strcmp(key, "timeout_ms")) {
            rc |= int_field(val, file, "timeout_ms", 1, MAX_TIMEOUT_MS, &api->timeout_ms, d);
        } else if (!strcmp(key, "retry")) {
            rc |= load_retry(api, val, d);
        } else if (!strcmp(key, "filter")) {
            if (!json_object_is_type(val, json_type_string) || !brd_valid_name(json_object_get_string(val)))
                rc = brd_diag_add(d, "%s: filter: must be the name of a function in functions/, got %s", file,
                                  brd_json_compact(val, NULL));
            else if (!(api->filter = strdup(json_object_get_string(val))))
                rc = brd_diag_add(d, "%s: out of memory", file);
        } else if (!strcmp(key, "datasource") || !strcmp(key, "sql") || !strcmp(key, "max_rows")) {
            rc = brd_diag_add(d, "%s: unknown field \"%s\" (an API over a data source needs \"type\": \"sql\")",
                              file, key);
        } else {
            rc = brd_diag_add(d, "%s: unknown field \"%s\"", file, key);
        }
    }

    /* Parameters after the method: their default location depends on it. */
    enum brd_pin default_in = api->method == BRD_GET || api->method == BRD_DELETE ? BRD_IN_QUERY : BRD_IN_BODY;
    bool params_ok = (sql ? brd_params_load_sql(params, file, &api->params, d)
                          : brd_params_load(params, true, default_in, file, &api->params, d)) == 0;
    if (!params_ok)
        rc = -1;

    if (sql) {
        if (brd_sql_api_load(api, &sqlf, dss, nds, params_ok, d) != 0)
            rc = -1;
    } else if (!url) {
        rc = brd_diag_add(d, "%s: url: missing (the API's address, e.g. \"http://127.0.0.1:8081/users/{id}\")",
                          file);
    } else if (!json_object_is_type(url, json_type_string) ||
               strlen(json_object_get_string(url)) != (size_t)json_object_get_string_len(url)) {
        rc = brd_diag_add(d, "%s: url: must be a string (without NUL)", file);
    } else {
        char msg[256];
        bool used = false;
        if (brd_env_subst(json_object_get_string(url), &api->url, &used, msg, sizeof msg) < 0) {
            rc = brd_diag_add(d, "%s: url: %s", file, msg);
        } else if (used && !(api->url_display = strdup(json_object_get_string(url)))) {
            rc = brd_diag_add(d, "%s: out of memory", file);
        } else {
            rc |= check_url(api, params_ok, d);
        }
    }
    json_object_put(root);
    if (rc) {
        brd_api_free(api);
        return -1;
    }
    *out = api;
    return 0;
}
