/* datasource.c — loading `datasources/<name>.json` (see datasource.h):
 * the file and its "type" here, the type's fields in its driver. */
#include "datasource.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonutil.h"
#include "sql_driver.h"

static const struct brd_sql_driver *const drivers[] = {&brd_sqlite_driver, &brd_pg_driver, &brd_mysql_driver};

void brd_ds_free(struct brd_ds *ds)
{
    if (!ds)
        return;
    if (ds->driver)
        ds->driver->ds_free(ds);
    free(ds->key);
    free(ds->file);
    free(ds);
}

void brd_ds_load_done(struct brd_ds *ds)
{
    if (ds && ds->driver && ds->driver->ds_load_done)
        ds->driver->ds_load_done(ds);
}

const struct brd_ds *brd_ds_find(const struct brd_ds *const *dss, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(dss[i]->name, name))
            return dss[i];
    return NULL;
}

int brd_ds_load(const char *dir, const char *name, struct brd_ds **out, struct brd_diags *d)
{
    *out = NULL;
    char file[BRD_NAME_MAX + 32];
    if (!brd_valid_name(name))
        return brd_diag_add(d, "datasources/%.80s.json: a data source name must be 1 to %d of A-Z a-z 0-9 _ -",
                            name, BRD_NAME_MAX);
    snprintf(file, sizeof file, "datasources/%s.json", name);
    struct brd_ds *ds = calloc(1, sizeof *ds);
    char *path = NULL;
    if (!ds || !(ds->file = strdup(file)) || asprintf(&path, "%s/%s", dir, file) < 0) {
        brd_ds_free(ds);
        return brd_diag_add(d, "%s: out of memory", file);
    }
    memcpy(ds->name, name, strlen(name) + 1);
    ds->pool = 1;

    struct json_object *root = NULL, *type = NULL;
    struct brd_error err;
    int rc = brd_json_read_file(path, &root, &err);
    free(path);
    if (rc < 0) {
        brd_diag_error(d, file, &err);
        brd_ds_free(ds);
        return -1;
    }
    if (!json_object_is_type(root, json_type_object)) {
        rc = brd_diag_add(d, "%s: must be a JSON object such as {\"type\": \"sqlite\", \"path\": \"data/app.db\"}, "
                          "got %s", file, brd_json_type_name(root));
    } else if (json_object_object_get_ex(root, "type", &type) && !json_object_is_type(type, json_type_string)) {
        rc = brd_diag_add(d, "%s: type: must be a string: \"sqlite\", \"postgresql\" or \"mysql\"", file);
    } else {
        const char *t = type ? json_object_get_string(type) : "sqlite";
        for (size_t i = 0; i < sizeof drivers / sizeof *drivers && !ds->driver; i++)
            if (!strcmp(t, drivers[i]->type))
                ds->driver = drivers[i];
        if (!ds->driver)
            rc = brd_diag_add(d, "%s: type: unknown type %s (one of \"sqlite\", \"postgresql\", \"mysql\")",
                              file, brd_json_compact(type, NULL));
    }
    /* "write" means the same for every type. */
    struct json_object *write = NULL;
    if (rc == 0 && json_object_object_get_ex(root, "write", &write)) {
        if (!json_object_is_type(write, json_type_boolean))
            rc = brd_diag_add(d, "%s: write: must be true or false", file);
        else
            ds->write = json_object_get_boolean(write);
    }
    if (ds->driver && json_object_is_type(root, json_type_object))
        rc |= ds->driver->ds_load(ds, dir, root, d);
    json_object_put(root);
    if (rc) {
        brd_ds_free(ds);
        return -1;
    }
    *out = ds;
    return 0;
}
