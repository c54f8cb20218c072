/* workflow.h — a compiled workflow (SPEC section 4): nodes, edges, the
 * topological order, every template and expression compiled, every
 * reference resolved to a node index.  Built once by brd_workflow_load,
 * immutable afterwards, shared by all requests (and by forked workers).
 */
#ifndef BRD_WORKFLOW_H
#define BRD_WORKFLOW_H

#include <stdbool.h>
#include <stddef.h>

#include "api.h"
#include "base/diag.h"
#include "expr.h"
#include "params.h"
#include "template.h"

enum brd_node_type {
    BRD_NODE_START,
    BRD_NODE_END,
    BRD_NODE_API,
    BRD_NODE_FUNCTION,
    BRD_NODE_SWITCH,
};

struct brd_branch {
    struct brd_expr *when;   /* NULL for the default */
    char *text;              /* the condition as written, for traces and graphs */
    int next;                /* node index */
};

struct brd_node {
    char id[BRD_NAME_MAX + 1];
    enum brd_node_type type;
    int api;                          /* BRD_NODE_API: index in the service's apis */
    int function;                     /* BRD_NODE_FUNCTION: index in the service's functions */
    struct brd_template *params;      /* NULL: none */
    struct brd_template *output;      /* NULL: hand on the raw result */
    struct brd_template *on_error;    /* NULL: a failure fails the workflow */
    int timeout_ms;                   /* 0: no limit of its own */
    struct brd_branch *branches;      /* BRD_NODE_SWITCH, in order; the default last */
    size_t nbranches;
    bool has_default;
    int *in;                          /* sources of the in-edges, in edges order */
    size_t nin;
    int *out;                         /* targets of the out-edges (each once) */
    size_t nout;
};

struct brd_workflow {
    char name[BRD_NAME_MAX + 1];
    char *file;                       /* "workflows/user_lookup.json" */
    char *path;                       /* "/user_lookup" */
    unsigned methods;                 /* bit (1u << enum brd_method) per allowed method */
    int timeout_ms;
    struct brd_params params;
    struct brd_node *nodes;           /* [0] START, [nnodes - 1] END */
    size_t nnodes;
    int *order;                       /* every node index, topologically sorted */
    struct brd_template *result;      /* NULL: END's previous output */
};

/* Names the loader needs to check a workflow against its service. */
struct brd_workflow_env {
    const struct brd_api *const *apis;
    size_t napis;
    const char *const *functions;     /* function names, index = function id */
    size_t nfunctions;
};

#define BRD_WORKFLOW_DEFAULT_TIMEOUT_MS 10000

/* Loads DIR/workflows/NAME.json.  Every problem is added to d, each naming
 * the file, the node and the field.  Returns 0 with *out, or -1. */
int brd_workflow_load(const char *dir, const char *name, const struct brd_workflow_env *env,
                      struct brd_workflow **out, struct brd_diags *d);

/* The same from an already parsed file (root borrowed); name gives the
 * default path and the file named in messages.  Used by the fuzzer. */
int brd_workflow_from_json(struct json_object *root, const char *name,
                           const struct brd_workflow_env *env, struct brd_workflow **out,
                           struct brd_diags *d);

void brd_workflow_free(struct brd_workflow *wf);

/* Index of the node with this id (START and END included), or -1. */
int brd_workflow_find(const struct brd_workflow *wf, const char *id);

const char *brd_node_type_name(enum brd_node_type t);

#endif
