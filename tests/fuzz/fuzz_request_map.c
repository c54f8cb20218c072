/* fuzz_request_map.c — libFuzzer harness for runtime/request.c's mapping
 * of FastCGI params onto a request (brd_request_map) and the body overlay.
 * Input: one byte of settings (base path, --debug, a small --max-body),
 * then "NAME=value" lines as the params, then an empty line and the body.
 * Checked: the error codes a mapping may give, a routed workflow that
 * allows the method, a sane request id, START's input an object. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"

#define MAX_PARAMS 64

static struct brd_workflow *wfs[4];
static struct brd_service service;

static struct brd_workflow *workflow(const char *name, const char *extra)
{
    char text[512];
    snprintf(text, sizeof text, "{%s\"nodes\": [], \"edges\": [[\"START\", \"END\"]]}", extra);
    struct json_object *root = NULL;
    struct brd_error err;
    if (brd_json_parse(text, strlen(text), &root, &err) != 0)
        abort();
    struct brd_workflow_env env = {NULL, 0, NULL, 0};
    struct brd_workflow *wf = NULL;
    struct brd_diags d = {0};
    if (brd_workflow_from_json(root, name, &env, &wf, &d) != 0)
        abort();
    brd_diags_free(&d);
    json_object_put(root);
    return wf;
}

static void init(void)
{
    wfs[0] = workflow("echo", "");
    wfs[1] = workflow("postonly", "\"methods\": [\"POST\"], ");
    wfs[2] = workflow("root", "\"path\": \"/\", \"methods\": [\"GET\"], ");
    wfs[3] = workflow("all", "\"methods\": [\"GET\", \"POST\", \"PUT\", \"PATCH\", \"DELETE\"], ");
    service.workflows = wfs;
    service.nworkflows = 4;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!service.workflows)
        init();
    if (size < 1)
        return 0;
    struct brd_request_env env = {
        .service = &service,
        .base_path = data[0] & 1 ? "/api" : NULL,
        .debug = data[0] & 2,
        .max_body = data[0] & 4 ? 16 : 1 << 20,
    };
    /* A copy with the lines NUL-terminated in place (a NUL inside a line
     * ends its value early, as it would in libfcgi's C strings). */
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    char *params[MAX_PARAMS + 1];
    int np = 0;
    char *s = text, *end = text + size - 1, *body = end;
    while (s < end && np < MAX_PARAMS) {
        char *nl = memchr(s, '\n', (size_t)(end - s));
        if (nl == s) { /* the empty line: the body follows */
            body = s + 1;
            break;
        }
        if (nl)
            *nl = '\0';
        params[np++] = s;
        if (!nl)
            break;
        s = nl + 1;
    }
    params[np] = NULL;

    struct brd_request_mapped m;
    struct brd_request_outcome out;
    struct brd_error err;
    brd_error_clear(&err);
    int rc = brd_request_map(&env, params, &m, &out, &err);
    if (!brd_request_id_sane(out.request_id) || strlen(out.path) > 1024 ||
        strlen(out.method) >= sizeof out.method)
        abort();
    if (rc == 0) {
        if (!m.wf || !(m.wf->methods & (1u << m.method)) || out.workflow < 0 ||
            service.workflows[out.workflow] != m.wf ||
            !json_object_is_type(m.input, json_type_object) ||
            m.wants_body != (m.method != BRD_GET) ||
            m.content_length > (long long)env.max_body)
            abort();
        if (m.wants_body) {
            size_t len = (size_t)(end - body);
            if (brd_request_overlay_body(m.content_type, body, len, m.input, &err) != 0 &&
                err.code != BRD_E_BAD_REQUEST && err.code != BRD_E_NOMEM)
                abort();
            if (!json_object_is_type(m.input, json_type_object))
                abort();
        }
    } else {
        switch (err.code) {
        case BRD_E_BAD_REQUEST:
        case BRD_E_NOT_FOUND:
        case BRD_E_PAYLOAD_TOO_LARGE:
        case BRD_E_NOMEM:
            break;
        case BRD_E_METHOD_NOT_ALLOWED:
            if (!m.wf || !m.allow[0])
                abort();
            break;
        default:
            abort();
        }
    }
    brd_request_mapped_clear(&m);
    free(text);
    return 0;
}
