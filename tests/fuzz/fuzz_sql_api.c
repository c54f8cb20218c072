/* fuzz_sql_api.c — libFuzzer harness for SQL API definitions (SPEC section
 * 2b): arbitrary bytes are loaded as apis/fuzz.json of a service with two
 * SQLite data sources (app, read-only; rw, "write": true) over a small real
 * database, so every field check, the params/placeholder matching and the
 * statement's prepare at load run on them; whatever loads is freed again.
 * Statements are only prepared, never run. */
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
static struct brd_ds *dss[2];

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
    struct brd_diags d = {0};
    if (brd_ds_load(dir, "app", &dss[0], &d) != 0 || brd_ds_load(dir, "rw", &dss[1], &d) != 0)
        abort();
    brd_diags_free(&d);
    snprintf(api_path, sizeof api_path, "%s/apis/fuzz.json", dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dss[0])
        init();
    write_file(api_path, data, size);
    struct brd_api *api = NULL;
    struct brd_diags d = {0};
    if (brd_api_load_with(dir, "fuzz", (const struct brd_ds *const *)dss, 2, &api, &d) == 0) {
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
