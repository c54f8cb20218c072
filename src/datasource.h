/* datasource.h — a data source, `datasources/<name>.json` (SPEC section 2b):
 * a database that SQL APIs read, loaded and validated once, immutable
 * afterwards.  The type's own fields and connections belong to its driver
 * (sql_driver.h); this module reads the file, picks the driver and names
 * the source in messages and traces.
 *
 * Ownership: the service owns its data sources and frees them after its
 * APIs (a SQL API borrows its source).  Nothing here holds a connection
 * that could be carried across fork: the one opened at load to prepare
 * statements is closed by brd_ds_load_done.
 */
#ifndef BRD_DATASOURCE_H
#define BRD_DATASOURCE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/diag.h"
#include "base/name.h"

struct brd_sql_driver;

struct brd_ds {
    char name[BRD_NAME_MAX + 1];
    char *file;                          /* "datasources/app.json", for messages */
    const struct brd_sql_driver *driver; /* by "type" */
    bool write;                          /* "write": true — statements may change data */
    int pool;                            /* "pool": connections one worker may hold to it
                                            (default 1; set before the driver's ds_load,
                                            which reads the field) */
    char *key;                           /* identity of a connection to it (same key, same
                                            database and mode): a worker's connection cache
                                            is keyed by it, so it survives a reload.  Never
                                            shown: it may hold what a DSN holds */
    void *cfg;                           /* the driver's: its fields, its load-time handle */
};

/* Reads and validates DIR/datasources/NAME.json: "type" (sqlite — the
 * default when absent; postgresql, mysql), then the driver's fields; ${env.NAME} is substituted
 * in string fields; unknown fields are errors.  Every problem goes to d
 * prefixed with the file.  Returns 0 with *out (free with brd_ds_free), or -1. */
int brd_ds_load(const char *dir, const char *name, struct brd_ds **out, struct brd_diags *d);

/* Releases what loading kept open for preparing statements (call once every
 * API is loaded, before the service is used or the process forks). */
void brd_ds_load_done(struct brd_ds *ds);

void brd_ds_free(struct brd_ds *ds);

/* The source called name among dss[0..n), or NULL. */
const struct brd_ds *brd_ds_find(const struct brd_ds *const *dss, size_t n, const char *name);

#endif
