/* service.h — a service directory (SPEC section 1), loaded and validated
 * as a whole: every data source, API, function and workflow compiled,
 * every cross reference checked (a SQL API's statement against its
 * database).  Immutable once loaded; one is served at a time and
 * a reload builds a new one beside it. */
#ifndef BRD_SERVICE_H
#define BRD_SERVICE_H

#include <stddef.h>

#include "api.h"
#include "base/diag.h"
#include "fnrun.h"
#include "workflow.h"

struct brd_service {
    char *dir;
    struct brd_ds **datasources;     /* sorted by name; freed after the apis that borrow them */
    size_t ndatasources;
    struct brd_api **apis;           /* sorted by name */
    size_t napis;
    int *api_filter;                 /* per api: its filter's function index, or -1 */
    char **function_names;           /* sorted */
    void **functions;                /* the runner's handles, parallel to function_names */
    size_t nfunctions;
    struct brd_workflow **workflows; /* sorted by name */
    size_t nworkflows;
    struct brd_fn_runner runner;     /* how function nodes run (and were loaded) */
};

/* Loads everything under dir.  Functions are compiled through runner
 * (which may have a NULL ops only when dir has no functions).  Every
 * problem is added to d; returns 0 with *out only when there were none. */
int brd_service_load(const char *dir, const struct brd_fn_runner *runner,
                     struct brd_service **out, struct brd_diags *d);

void brd_service_free(struct brd_service *s);

const struct brd_workflow *brd_service_workflow(const struct brd_service *s, const char *name);

/* The workflow served at this path, or NULL. */
const struct brd_workflow *brd_service_route(const struct brd_service *s, const char *path);

/* Index of a function by name, or -1. */
int brd_service_function(const struct brd_service *s, const char *name);

#endif
