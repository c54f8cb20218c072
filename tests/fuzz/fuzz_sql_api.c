/* fuzz_sql_api.c — libFuzzer harness for SQL API definitions (SPEC section
 * 2b): arbitrary bytes are loaded as apis/fuzz.json of a service with two
 * SQLite data sources (app, read-only; rw, "write": true) over a small real
 * database and three server sources that load without contacting a server
 * (pg and pgrw: postgresql; my: mysql), so every field check, the
 * params/placeholder matching, the SQLite prepare and the PostgreSQL and
 * MySQL placeholder rewriting run on them; whatever loads is freed again.
 * An input starting with "D" is instead the rest loaded as a data source
 * file (every driver's fields, DSN parsing, ${env.X}).  Statements are only
 * checked, never run. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "api.h"
#include "datasource.h"
#include "sql_api.h"

static char dir[64];
static char api_path[128];
#define NDS 5
static struct brd_ds *dss[NDS];
static char ds_path[128];

static void write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "w");
    if (!f || fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
}

static void init(void)
{
    snprintf(dir, sizeof dir, "/tmp/braid-fuzz-sql-XXXXXX");
    if (!mkdtemp(dir))
        abort();
    char path[128];
    snprintf(path, sizeof path, "%s/app.db", dir);
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db, "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT, role TEXT, meta JSON);"
                         "INSERT INTO users VALUES (1, 'alice', 'admin', '{}');", NULL, NULL, NULL) != SQLITE_OK)
        abort();
    sqlite3_close(db);
    snprintf(path, sizeof path, "%s/datasources", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/apis", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/datasources/app.json", dir);
    const char app[] = "{\"type\": \"sqlite\", \"path\": \"app.db\"}";
    write_file(path, app, sizeof app - 1);
    snprintf(path, sizeof path, "%s/datasources/rw.json", dir);
    const char rw[] = "{\"type\": \"sqlite\", \"path\": \"app.db\", \"write\": true}";
    write_file(path, rw, sizeof rw - 1);
    static const struct { const char *name, *text; } servers[] = {
        {"pg", "{\"type\": \"postgresql\", \"dsn\": \"host=127.0.0.1 port=1 dbname=app user=app\"}"},
        {"pgrw", "{\"type\": \"postgresql\", \"dsn\": \"postgresql://app@127.0.0.1:1/app\", \"write\": true}"},
        {"my", "{\"type\": \"mysql\", \"host\": \"127.0.0.1\", \"port\": 1, \"user\": \"app\"}"},
    };
    for (size_t i = 0; i < sizeof servers / sizeof *servers; i++) {
        snprintf(path, sizeof path, "%s/datasources/%s.json", dir, servers[i].name);
        write_file(path, servers[i].text, strlen(servers[i].text));
    }
    struct brd_diags d = {0};
    const char *names[NDS] = {"app", "rw", "pg", "pgrw", "my"};
    for (size_t i = 0; i < NDS; i++)
        if (brd_ds_load(dir, names[i], &dss[i], &d) != 0)
            abort();
    snprintf(ds_path, sizeof ds_path, "%s/datasources/fuzzds.json", dir);
    brd_diags_free(&d);
    snprintf(api_path, sizeof api_path, "%s/apis/fuzz.json", dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dss[0])
        init();
    struct brd_diags d = {0};
    if (size > 0 && data[0] == 'D') {
        write_file(ds_path, data + 1, size - 1);
        struct brd_ds *ds = NULL;
        if (brd_ds_load(dir, "fuzzds", &ds, &d) == 0) {
            if (!ds->driver || !ds->key || ds->pool < 1)
                abort();
            brd_ds_load_done(ds);
            brd_ds_free(ds);
        } else if (d.count == 0 && !d.nomem) {
            abort();
        }
        brd_diags_free(&d);
        return 0;
    }
    write_file(api_path, data, size);
    struct brd_api *api = NULL;
    if (brd_api_load_with(dir, "fuzz", (const struct brd_ds *const *)dss, NDS, &api, &d) == 0) {
        /* What loaded is consistent: every placeholder binds a declared
         * parameter, a write only on the writable source. */
        if (api->type == BRD_API_SQL) {
            for (size_t k = 0; k < api->sql->nbind; k++)
                if (api->sql->bind[k] >= api->params.count)
                    abort();
            if (api->sql->writes && !api->sql->ds->write)
                abort();
        }
        brd_api_free(api);
    } else if (d.count == 0 && !d.nomem) {
        abort(); /* a refusal always says why */
    }
    brd_diags_free(&d);
    return 0;
}
