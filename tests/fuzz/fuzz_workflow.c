/* fuzz_workflow.c — libFuzzer harness for the workflow definition loader:
 * arbitrary bytes that parse as JSON are loaded as workflows/fuzz.json
 * against a service with one API (get_user, path param id) and two
 * functions (f, g); whatever loads is freed again. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workflow.h"

static struct brd_api *api;

static void init(void)
{
    char dir[] = "/tmp/braid-fuzz-wf-XXXXXX";
    if (!mkdtemp(dir))
        abort();
    char path[256];
    snprintf(path, sizeof path, "%s/apis", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/apis/get_user.json", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        abort();
    fputs("{\"url\":\"http://127.0.0.1:9/users/{id}\",\"method\":\"GET\","
          "\"params\":{\"id\":{\"in\":\"path\",\"type\":\"int\",\"required\":true},"
          "\"q\":{\"in\":\"query\",\"type\":\"string\",\"default\":\"x\"}}}", f);
    fclose(f);
    struct brd_diags d = {0};
    if (brd_api_load(dir, "get_user", &api, &d) != 0)
        abort();
    brd_diags_free(&d);
    unlink(path);
    snprintf(path, sizeof path, "%s/apis", dir);
    rmdir(path);
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!api)
        init();
    struct json_object *root = NULL;
    struct brd_error err;
    if (brd_json_parse((const char *)data, size, &root, &err) != 0)
        return 0;
    const struct brd_api *apis[] = {api};
    const char *functions[] = {"f", "g"};
    struct brd_workflow_env env = {apis, 1, functions, 2};
    struct brd_workflow *wf = NULL;
    struct brd_diags d = {0};
    if (brd_workflow_from_json(root, "fuzz", &env, &wf, &d) == 0) {
        /* Every node index the plan holds must be in range. */
        for (size_t i = 0; i < wf->nnodes; i++)
            if (wf->order[i] < 0 || (size_t)wf->order[i] >= wf->nnodes)
                abort();
        brd_workflow_free(wf);
    }
    brd_diags_free(&d);
    json_object_put(root);
    return 0;
}
