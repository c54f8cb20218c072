/* pg_driver.c — the PostgreSQL (libpq) data source (SPEC section 2b).
 * Being built (issue 11): until it lands, a data source of this type is a
 * load error saying so. */
#include <stdlib.h>

#include "sql_driver.h"

static int ds_load(struct brd_ds *ds, const char *dir, struct json_object *root, struct brd_diags *d)
{
    (void)dir;
    (void)root;
    return brd_diag_add(d, "%s: type: \"postgresql\" is not supported yet by this build of braid", ds->file);
}

static void ds_nothing(struct brd_ds *ds)
{
    (void)ds;
}

const struct brd_sql_driver brd_pg_driver = {
    .type = "postgresql",
    .ds_load = ds_load,
    .ds_load_done = ds_nothing,
    .ds_free = ds_nothing,
};
