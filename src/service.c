/* service.c — loading a whole service directory (see service.h): list the
 * folders, load each file, then check what refers to what. */
#include "service.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dirlist.h"
#include "ref.h"

void brd_service_free(struct brd_service *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nworkflows; i++)
        brd_workflow_free(s->workflows[i]);
    free(s->workflows);
    for (size_t i = 0; i < s->napis; i++)
        brd_api_free(s->apis[i]);
    free(s->apis);
    for (size_t i = 0; i < s->ndatasources; i++)
        brd_ds_free(s->datasources[i]);
    free(s->datasources);
    free(s->api_filter);
    for (size_t i = 0; i < s->nfunctions; i++)
        if (s->functions && s->functions[i] && s->runner.ops)
            s->runner.ops->unload(s->runner.self, s->functions[i]);
    free(s->functions);
    brd_dir_names_free(s->function_names, s->nfunctions);
    free(s->dir);
    free(s);
}

int brd_service_function(const struct brd_service *s, const char *name)
{
    for (size_t i = 0; i < s->nfunctions; i++)
        if (strcmp(s->function_names[i], name) == 0)
            return (int)i;
    return -1;
}

const struct brd_workflow *brd_service_workflow(const struct brd_service *s, const char *name)
{
    for (size_t i = 0; i < s->nworkflows; i++)
        if (strcmp(s->workflows[i]->name, name) == 0)
            return s->workflows[i];
    return NULL;
}

const struct brd_workflow *brd_service_route(const struct brd_service *s, const char *path)
{
    for (size_t i = 0; i < s->nworkflows; i++)
        if (strcmp(s->workflows[i]->path, path) == 0)
            return s->workflows[i];
    return NULL;
}

static void load_datasources(struct brd_service *s, struct brd_diags *d)
{
    char **names;
    size_t n;
    brd_dir_names(s->dir, "datasources", ".json", &names, &n, d);
    s->datasources = calloc(n ? n : 1, sizeof *s->datasources);
    if (!s->datasources) {
        brd_diag_add(d, "out of memory");
        brd_dir_names_free(names, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        struct brd_ds *ds = NULL;
        if (brd_ds_load(s->dir, names[i], &ds, d) == 0)
            s->datasources[s->ndatasources++] = ds;
    }
    brd_dir_names_free(names, n);
}

static void load_apis(struct brd_service *s, struct brd_diags *d)
{
    char **names;
    size_t n;
    brd_dir_names(s->dir, "apis", ".json", &names, &n, d);
    s->apis = calloc(n ? n : 1, sizeof *s->apis);
    s->api_filter = calloc(n ? n : 1, sizeof *s->api_filter);
    if (!s->apis || !s->api_filter) {
        brd_diag_add(d, "out of memory");
        brd_dir_names_free(names, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        struct brd_api *api = NULL;
        if (brd_api_load_with(s->dir, names[i], (const struct brd_ds *const *)s->datasources, s->ndatasources,
                              &api, d) == 0) {
            s->api_filter[s->napis] = -1;
            s->apis[s->napis++] = api;
        }
    }
    brd_dir_names_free(names, n);
    /* Every statement is checked: what that kept open closes before any
     * fork (each worker opens its own connections). */
    for (size_t i = 0; i < s->ndatasources; i++)
        brd_ds_load_done(s->datasources[i]);
}

static void load_functions(struct brd_service *s, struct brd_diags *d)
{
    size_t n;
    brd_dir_names(s->dir, "functions", ".py", &s->function_names, &n, d);
    s->functions = calloc(n ? n : 1, sizeof *s->functions);
    if (!s->functions) {
        brd_diag_add(d, "out of memory");
        brd_dir_names_free(s->function_names, n);
        s->function_names = NULL;
        return;
    }
    s->nfunctions = n;
    for (size_t i = 0; i < n; i++) {
        if (!s->runner.ops) {
            brd_diag_add(d, "functions/%s.py: no function runner is available here",
                         s->function_names[i]);
            continue;
        }
        s->runner.ops->load(s->runner.self, s->dir, s->function_names[i], &s->functions[i], d);
    }
    /* Settings without code are a mistake worth reporting. */
    char **settings;
    size_t ns;
    brd_dir_names(s->dir, "functions", ".json", &settings, &ns, d);
    for (size_t i = 0; i < ns; i++)
        if (brd_service_function(s, settings[i]) < 0)
            brd_diag_add(d, "functions/%s.json: settings for a function that does not exist "
                            "(no functions/%s.py)", settings[i], settings[i]);
    brd_dir_names_free(settings, ns);
}

static void check_filters(struct brd_service *s, struct brd_diags *d)
{
    for (size_t i = 0; i < s->napis; i++) {
        const struct brd_api *api = s->apis[i];
        if (!api->filter)
            continue;
        s->api_filter[i] = brd_service_function(s, api->filter);
        if (s->api_filter[i] < 0)
            brd_diag_add(d, "%s: filter: unknown function \"%s\" (no functions/%s.py)", api->file,
                         api->filter, api->filter);
    }
}

static void load_workflows(struct brd_service *s, struct brd_diags *d)
{
    char **names;
    size_t n;
    brd_dir_names(s->dir, "workflows", ".json", &names, &n, d);
    s->workflows = calloc(n ? n : 1, sizeof *s->workflows);
    if (!s->workflows) {
        brd_diag_add(d, "out of memory");
        brd_dir_names_free(names, n);
        return;
    }
    struct brd_workflow_env env = {(const struct brd_api *const *)s->apis, s->napis,
                                   (const char *const *)s->function_names, s->nfunctions};
    for (size_t i = 0; i < n; i++) {
        struct brd_workflow *wf = NULL;
        if (brd_workflow_load(s->dir, names[i], &env, &wf, d) != 0)
            continue;
        const struct brd_workflow *other = brd_service_route(s, wf->path);
        if (other)
            brd_diag_add(d, "%s: path \"%s\" is already served by %s", wf->file, wf->path,
                         other->file);
        s->workflows[s->nworkflows++] = wf;
    }
    brd_dir_names_free(names, n);
}

int brd_service_load(const char *dir, const struct brd_fn_runner *runner,
                     struct brd_service **out, struct brd_diags *d)
{
    *out = NULL;
    size_t before = d->count;
    DIR *dp = opendir(dir);
    if (!dp)
        return brd_diag_add(d, "%s: cannot open the service directory: %s", dir, strerror(errno));
    closedir(dp);
    struct brd_service *s = calloc(1, sizeof *s);
    if (!s || !(s->dir = strdup(dir))) {
        free(s);
        return brd_diag_add(d, "out of memory");
    }
    if (runner)
        s->runner = *runner;
    load_datasources(s, d);
    load_apis(s, d);
    load_functions(s, d);
    check_filters(s, d);
    load_workflows(s, d);
    if (d->count > before || d->nomem) {
        brd_service_free(s);
        return -1;
    }
    *out = s;
    return 0;
}
