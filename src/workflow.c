/* workflow.c — loading and validating one workflow file into an immutable
 * plan (see workflow.h).  Every problem is reported, not just the first:
 * each check adds to the diagnostics and carries on where it can. */
#include "workflow.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct loader {
    char file[128];                     /* "workflows/NAME.json" */
    struct brd_diags *d;
    const struct brd_workflow_env *env;
    struct brd_workflow *wf;
    size_t errors_at_start;
};

static int problem(struct loader *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int problem(struct loader *L, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return brd_diag_add(L->d, "%s: %s", L->file, msg);
}

static bool failed(const struct loader *L)
{
    return L->d->count > L->errors_at_start || L->d->nomem;
}

static bool in_list(const char *key, const char *const *allowed)
{
    for (; *allowed; allowed++)
        if (strcmp(key, *allowed) == 0)
            return true;
    return false;
}

static void check_fields(struct loader *L, struct json_object *obj, const char *where,
                         const char *const *allowed)
{
    json_object_object_foreach(obj, key, val) {
        (void)val;
        if (!in_list(key, allowed))
            problem(L, "%s%sunknown field \"%s\"", where, where[0] ? ": " : "", key);
    }
}

const char *brd_node_type_name(enum brd_node_type t)
{
    switch (t) {
    case BRD_NODE_START: return "start";
    case BRD_NODE_END: return "end";
    case BRD_NODE_API: return "api";
    case BRD_NODE_FUNCTION: return "function";
    case BRD_NODE_SWITCH: return "switch";
    }
    return "unknown";
}

int brd_workflow_find(const struct brd_workflow *wf, const char *id)
{
    for (size_t i = 0; i < wf->nnodes; i++)
        if (strcmp(wf->nodes[i].id, id) == 0)
            return (int)i;
    return -1;
}

void brd_workflow_free(struct brd_workflow *wf)
{
    if (!wf)
        return;
    for (size_t i = 0; i < wf->nnodes; i++) {
        struct brd_node *n = &wf->nodes[i];
        brd_template_free(n->params);
        brd_template_free(n->output);
        brd_template_free(n->on_error);
        for (size_t b = 0; b < n->nbranches; b++) {
            brd_expr_free(n->branches[b].when);
            free(n->branches[b].text);
        }
        free(n->branches);
        free(n->in);
        free(n->out);
    }
    free(wf->nodes);
    free(wf->order);
    brd_template_free(wf->result);
    brd_params_free(&wf->params);
    free(wf->file);
    free(wf->path);
    free(wf);
}

static int positive_int(struct loader *L, struct json_object *v, const char *where, int *out)
{
    if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) <= 0 ||
        json_object_get_int64(v) > INT_MAX)
        return problem(L, "%s: expected a positive integer (milliseconds), got %s", where,
                       brd_json_compact(v, NULL));
    *out = (int)json_object_get_int64(v);
    return 0;
}

/* where is "node ID: field" (or "result"); the template names the member. */
static void compile_template(struct loader *L, struct json_object *v, const char *owner,
                             const char *field, struct brd_template **out)
{
    struct brd_error err;
    brd_error_clear(&err);
    if (brd_template_compile(v, field, out, &err) != 0)
        problem(L, "%s%s%s", owner, owner[0] ? ": " : "", err.msg);
}

/* ---- nodes ------------------------------------------------------------- */

static const char *const common_fields[] = {"id", "type", "params", "output", "timeout_ms",
                                            "on_error", "description", NULL};

static bool node_field_allowed(enum brd_node_type t, const char *key)
{
    if (in_list(key, common_fields))
        return true;
    switch (t) {
    case BRD_NODE_API: return strcmp(key, "api") == 0;
    case BRD_NODE_FUNCTION: return strcmp(key, "function") == 0;
    case BRD_NODE_SWITCH: return strcmp(key, "branches") == 0 || strcmp(key, "default") == 0;
    default: return false;
    }
}

static int find_api(const struct brd_workflow_env *env, const char *name)
{
    for (size_t i = 0; i < env->napis; i++)
        if (strcmp(env->apis[i]->name, name) == 0)
            return (int)i;
    return -1;
}

static int find_function(const struct brd_workflow_env *env, const char *name)
{
    for (size_t i = 0; i < env->nfunctions; i++)
        if (strcmp(env->functions[i], name) == 0)
            return (int)i;
    return -1;
}

/* The id of node i, for messages, before ids are all known to be valid. */
static const char *nid(const struct loader *L, size_t i)
{
    return L->wf->nodes[i].id[0] ? L->wf->nodes[i].id : "?";
}

static void load_branches(struct loader *L, size_t i, struct json_object *jn)
{
    struct brd_node *n = &L->wf->nodes[i];
    struct json_object *jb = NULL, *jdef = NULL;
    json_object_object_get_ex(jn, "branches", &jb);
    bool has_def = json_object_object_get_ex(jn, "default", &jdef);
    if (jb && !json_object_is_type(jb, json_type_array)) {
        problem(L, "node %s: branches: expected an array of {\"when\", \"next\"}", nid(L, i));
        return;
    }
    size_t nb = jb ? json_object_array_length(jb) : 0;
    if (nb == 0 && !has_def) {
        problem(L, "node %s: a switch needs \"branches\" (or at least a \"default\")", nid(L, i));
        return;
    }
    n->branches = calloc(nb + 1, sizeof *n->branches);
    if (!n->branches) {
        L->d->nomem = 1;
        return;
    }
    for (size_t b = 0; b < nb; b++) {
        struct json_object *br = json_object_array_get_idx(jb, b), *when = NULL, *next = NULL;
        struct brd_branch *x = &n->branches[n->nbranches++];
        x->next = -1;
        if (!json_object_is_type(br, json_type_object)) {
            problem(L, "node %s: branches[%zu]: expected an object {\"when\", \"next\"}", nid(L, i), b);
            continue;
        }
        char where[160];
        snprintf(where, sizeof where, "node %s: branches[%zu]", nid(L, i), b);
        static const char *const bfields[] = {"when", "next", "description", NULL};
        check_fields(L, br, where, bfields);
        if (!json_object_object_get_ex(br, "when", &when) || !json_object_is_type(when, json_type_string)) {
            problem(L, "%s: \"when\" must be a string expression", where);
        } else {
            struct brd_error err;
            brd_error_clear(&err);
            const char *text = json_object_get_string(when);
            size_t len = (size_t)json_object_get_string_len(when);
            if (!(x->text = strndup(text, len)))
                L->d->nomem = 1;
            if (brd_expr_compile(text, len, &x->when, &err) != 0)
                problem(L, "%s.when: %s", where, err.msg);
        }
        if (!json_object_object_get_ex(br, "next", &next) || !json_object_is_type(next, json_type_string)) {
            problem(L, "%s: \"next\" must be a node id", where);
        } else {
            int t = brd_workflow_find(L->wf, json_object_get_string(next));
            if (t < 0)
                problem(L, "%s.next: unknown node \"%s\"", where, json_object_get_string(next));
            else if (t == 0)
                problem(L, "%s.next: a branch cannot lead to START", where);
            else if ((size_t)t == i)
                problem(L, "%s.next: a switch cannot lead to itself", where);
            x->next = t;
        }
    }
    if (has_def) {
        struct brd_branch *x = &n->branches[n->nbranches++];
        x->next = -1;
        n->has_default = true;
        if (!json_object_is_type(jdef, json_type_string)) {
            problem(L, "node %s: default: expected a node id", nid(L, i));
            return;
        }
        if (!(x->text = strdup("default")))
            L->d->nomem = 1;
        int t = brd_workflow_find(L->wf, json_object_get_string(jdef));
        if (t < 0)
            problem(L, "node %s: default: unknown node \"%s\"", nid(L, i), json_object_get_string(jdef));
        else if (t == 0 || (size_t)t == i)
            problem(L, "node %s: default: cannot lead to %s", nid(L, i), t == 0 ? "START" : "itself");
        x->next = t;
    }
}

static void load_node(struct loader *L, size_t i, struct json_object *jn)
{
    struct brd_node *n = &L->wf->nodes[i];
    char where[160], owner[96];
    snprintf(owner, sizeof owner, "node %s", nid(L, i));
    json_object_object_foreach(jn, key, val) {
        (void)val;
        if (!node_field_allowed(n->type, key))
            problem(L, "node %s: unknown field \"%s\" for a %s node", nid(L, i), key,
                    brd_node_type_name(n->type));
    }
    struct json_object *v;
    if (n->type == BRD_NODE_API) {
        if (!json_object_object_get_ex(jn, "api", &v) || !json_object_is_type(v, json_type_string))
            problem(L, "node %s: an api node needs \"api\": the name of a file in apis/", nid(L, i));
        else if ((n->api = find_api(L->env, json_object_get_string(v))) < 0)
            problem(L, "node %s: api: unknown api \"%s\" (no apis/%s.json)", nid(L, i),
                    json_object_get_string(v), json_object_get_string(v));
    } else if (n->type == BRD_NODE_FUNCTION) {
        if (!json_object_object_get_ex(jn, "function", &v) || !json_object_is_type(v, json_type_string))
            problem(L, "node %s: a function node needs \"function\": the name of a file in functions/",
                    nid(L, i));
        else if ((n->function = find_function(L->env, json_object_get_string(v))) < 0)
            problem(L, "node %s: function: unknown function \"%s\" (no functions/%s.py)", nid(L, i),
                    json_object_get_string(v), json_object_get_string(v));
    } else {
        load_branches(L, i, jn);
    }

    if (json_object_object_get_ex(jn, "params", &v)) {
        snprintf(where, sizeof where, "node %s: params", nid(L, i));
        if (n->type == BRD_NODE_SWITCH)
            problem(L, "%s: a switch takes no params (its conditions read the previous output)", where);
        else
            compile_template(L, v, owner, "params", &n->params);
        /* An API node may only set parameters its API declares. */
        if (n->type == BRD_NODE_API && n->api >= 0 && json_object_is_type(v, json_type_object)) {
            const struct brd_api *api = L->env->apis[n->api];
            json_object_object_foreach(v, pname, pval) {
                (void)pval;
                bool known = false;
                for (size_t p = 0; p < api->params.count && !known; p++)
                    known = strcmp(api->params.items[p].name, pname) == 0;
                if (!known)
                    problem(L, "%s.%s: api %s declares no parameter \"%s\"", where, pname,
                            api->name, pname);
            }
        }
    }
    if (json_object_object_get_ex(jn, "output", &v)) {
        compile_template(L, v, owner, "output", &n->output);
    }
    if (json_object_object_get_ex(jn, "on_error", &v)) {
        struct json_object *ov;
        snprintf(where, sizeof where, "node %s: on_error", nid(L, i));
        static const char *const efields[] = {"output", NULL};
        if (!json_object_is_type(v, json_type_object) ||
            !json_object_object_get_ex(v, "output", &ov)) {
            problem(L, "%s: expected {\"output\": VALUE}", where);
        } else {
            check_fields(L, v, where, efields);
            compile_template(L, ov, owner, "on_error.output", &n->on_error);
        }
    }
    if (json_object_object_get_ex(jn, "timeout_ms", &v)) {
        snprintf(where, sizeof where, "node %s: timeout_ms", nid(L, i));
        positive_int(L, v, where, &n->timeout_ms);
    }
}

/* First pass: ids and types of every node, so that branches and edges can
 * name nodes defined later in the file. */
static void load_node_ids(struct loader *L, struct json_object *jnodes)
{
    struct brd_workflow *wf = L->wf;
    size_t count = json_object_array_length(jnodes);
    for (size_t k = 0; k < count; k++) {
        size_t i = k + 1;
        struct brd_node *n = &wf->nodes[i];
        n->api = n->function = -1;
        struct json_object *jn = json_object_array_get_idx(jnodes, k), *id, *type;
        if (!json_object_is_type(jn, json_type_object)) {
            problem(L, "nodes[%zu]: expected an object", k);
            continue;
        }
        if (!json_object_object_get_ex(jn, "id", &id) || !json_object_is_type(id, json_type_string)) {
            problem(L, "nodes[%zu]: missing \"id\"", k);
            continue;
        }
        const char *s = json_object_get_string(id);
        if (!brd_valid_name(s)) {
            problem(L, "nodes[%zu]: id \"%s\" must match [A-Za-z0-9_-]{1,64}", k, s);
            continue;
        }
        if (strcmp(s, "START") == 0 || strcmp(s, "END") == 0) {
            problem(L, "nodes[%zu]: %s is built in and must not be listed in nodes", k, s);
            continue;
        }
        if (brd_workflow_find(wf, s) >= 0) {
            problem(L, "nodes[%zu]: duplicate node id \"%s\"", k, s);
            continue;
        }
        snprintf(n->id, sizeof n->id, "%s", s);
        if (!json_object_object_get_ex(jn, "type", &type) || !json_object_is_type(type, json_type_string)) {
            problem(L, "node %s: missing \"type\" (api, function or switch)", s);
            n->id[0] = '\0';
            continue;
        }
        const char *t = json_object_get_string(type);
        if (strcmp(t, "api") == 0)
            n->type = BRD_NODE_API;
        else if (strcmp(t, "function") == 0)
            n->type = BRD_NODE_FUNCTION;
        else if (strcmp(t, "switch") == 0)
            n->type = BRD_NODE_SWITCH;
        else {
            problem(L, "node %s: unknown type \"%s\" (expected api, function or switch)", s, t);
            n->id[0] = '\0';
        }
    }
}

/* ---- edges and the graph ----------------------------------------------- */

static int add_edge(struct loader *L, int from, int to)
{
    struct brd_node *a = &L->wf->nodes[from], *b = &L->wf->nodes[to];
    for (size_t k = 0; k < a->nout; k++)
        if (a->out[k] == to)
            return 0; /* a switch with two branches to one node: one edge */
    int *out = realloc(a->out, (a->nout + 1) * sizeof *out);
    int *in = out ? realloc(b->in, (b->nin + 1) * sizeof *in) : NULL;
    if (out)
        a->out = out;
    if (!in) {
        L->d->nomem = 1;
        return -1;
    }
    b->in = in;
    a->out[a->nout++] = to;
    b->in[b->nin++] = from;
    return 0;
}

static void load_edges(struct loader *L, struct json_object *jedges)
{
    struct brd_workflow *wf = L->wf;
    size_t count = json_object_array_length(jedges);
    for (size_t k = 0; k < count; k++) {
        struct json_object *e = json_object_array_get_idx(jedges, k);
        if (!json_object_is_type(e, json_type_array) || json_object_array_length(e) != 2 ||
            !json_object_is_type(json_object_array_get_idx(e, 0), json_type_string) ||
            !json_object_is_type(json_object_array_get_idx(e, 1), json_type_string)) {
            problem(L, "edges[%zu]: expected [\"FROM\", \"TO\"]", k);
            continue;
        }
        const char *fs = json_object_get_string(json_object_array_get_idx(e, 0));
        const char *ts = json_object_get_string(json_object_array_get_idx(e, 1));
        int from = brd_workflow_find(wf, fs), to = brd_workflow_find(wf, ts);
        if (from < 0)
            problem(L, "edges[%zu]: unknown node \"%s\"", k, fs);
        if (to < 0)
            problem(L, "edges[%zu]: unknown node \"%s\"", k, ts);
        if (from < 0 || to < 0)
            continue;
        if ((size_t)from == wf->nnodes - 1) {
            problem(L, "edges[%zu]: END has no out-edges", k);
            continue;
        }
        if (to == 0) {
            problem(L, "edges[%zu]: START has no in-edges", k);
            continue;
        }
        if (from == to) {
            problem(L, "edges[%zu]: node %s has an edge to itself (a cycle)", k, fs);
            continue;
        }
        if (wf->nodes[from].type == BRD_NODE_SWITCH) {
            problem(L, "edges[%zu]: node %s is a switch: its out-edges are its branches and "
                       "default, not edges", k, fs);
            continue;
        }
        struct brd_node *a = &wf->nodes[from];
        bool dup = false;
        for (size_t q = 0; q < a->nout && !dup; q++)
            dup = a->out[q] == to;
        if (dup) {
            problem(L, "edges[%zu]: duplicate edge [\"%s\", \"%s\"]", k, fs, ts);
            continue;
        }
        add_edge(L, from, to);
    }
    /* The out-edges of switches, after the listed edges (join merge order). */
    for (size_t i = 1; i + 1 < wf->nnodes; i++) {
        struct brd_node *n = &wf->nodes[i];
        for (size_t b = 0; b < n->nbranches; b++)
            if (n->branches[b].next > 0)
                add_edge(L, (int)i, n->branches[b].next);
    }
}

/* Kahn's algorithm; a cycle leaves nodes out of the order. */
static void order_nodes(struct loader *L)
{
    struct brd_workflow *wf = L->wf;
    size_t n = wf->nnodes, head = 0, tail = 0;
    size_t *indeg = calloc(n, sizeof *indeg);
    wf->order = calloc(n, sizeof *wf->order);
    if (!indeg || !wf->order) {
        free(indeg);
        L->d->nomem = 1;
        return;
    }
    for (size_t i = 0; i < n; i++)
        indeg[i] = wf->nodes[i].nin;
    for (size_t i = 0; i < n; i++)
        if (indeg[i] == 0)
            wf->order[tail++] = (int)i;
    while (head < tail) {
        struct brd_node *u = &wf->nodes[wf->order[head++]];
        for (size_t k = 0; k < u->nout; k++)
            if (--indeg[u->out[k]] == 0)
                wf->order[tail++] = u->out[k];
    }
    if (tail < n) {
        char ids[512] = "";
        for (size_t i = 0; i < n; i++)
            if (indeg[i] > 0 && strlen(ids) + strlen(wf->nodes[i].id) + 3 < sizeof ids)
                snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s%s", ids[0] ? ", " : "",
                         wf->nodes[i].id);
        problem(L, "the edges form a cycle through %s", ids);
    }
    free(indeg);
}

static void mark(const struct brd_workflow *wf, int v, bool forward, bool *seen)
{
    if (seen[v])
        return;
    seen[v] = true;
    const struct brd_node *n = &wf->nodes[v];
    size_t cnt = forward ? n->nout : n->nin;
    for (size_t k = 0; k < cnt; k++)
        mark(wf, forward ? n->out[k] : n->in[k], forward, seen);
}

static void check_reachability(struct loader *L)
{
    struct brd_workflow *wf = L->wf;
    size_t n = wf->nnodes;
    bool *from_start = calloc(n, 1), *to_end = calloc(n, 1);
    if (!from_start || !to_end) {
        L->d->nomem = 1;
    } else {
        mark(wf, 0, true, from_start);
        mark(wf, (int)n - 1, false, to_end);
        for (size_t i = 1; i + 1 < n; i++) {
            if (!from_start[i])
                problem(L, "node %s is not reachable from START", wf->nodes[i].id);
            else if (!to_end[i])
                problem(L, "node %s cannot reach END", wf->nodes[i].id);
        }
        if (!from_start[n - 1])
            problem(L, "END is not reachable from START");
    }
    free(from_start);
    free(to_end);
}

/* ---- references -------------------------------------------------------- */

struct refcheck {
    struct loader *L;
    const char *field;    /* "params", "output", "branches[0].when", "result" */
    int user;             /* the node the values belong to */
    const bool *ancestor; /* ancestor[v]: v certainly finished before user */
};

static int check_ref(void *ctx, struct brd_ref *ref, const char *where)
{
    struct refcheck *rc = ctx;
    struct loader *L = rc->L;
    const struct brd_workflow *wf = L->wf;
    char loc[256];
    const char *owner = rc->user == (int)wf->nnodes - 1 ? "" : wf->nodes[rc->user].id;
    snprintf(loc, sizeof loc, "%s%s%s%s%s%s", owner[0] ? "node " : "", owner, owner[0] ? ": " : "",
             rc->field, where[0] ? "." : "", where);
    int v = brd_workflow_find(wf, ref->id);
    if (v < 0 || (size_t)v == wf->nnodes - 1) {
        problem(L, "%s: unknown node \"%s\" in \"%s\"", loc, ref->id, ref->text);
        return 0;
    }
    if (v != 0 && !rc->ancestor[v]) {
        problem(L, "%s: \"%s\" refers to node %s, which is not certain to have finished before "
                   "%s (it must be an ancestor, or START)", loc, ref->text, ref->id,
                owner[0] ? owner : "the result");
        return 0;
    }
    ref->slot = v;
    return 0;
}

static void check_refs(struct loader *L)
{
    struct brd_workflow *wf = L->wf;
    size_t n = wf->nnodes;
    /* anc[v * n + u]: u is an ancestor of v; filled in topological order. */
    bool *anc = calloc(n * n, 1);
    if (!anc) {
        L->d->nomem = 1;
        return;
    }
    for (size_t k = 0; k < n; k++) {
        int v = wf->order[k];
        const struct brd_node *node = &wf->nodes[v];
        for (size_t e = 0; e < node->nin; e++) {
            int u = node->in[e];
            anc[(size_t)v * n + (size_t)u] = true;
            for (size_t w = 0; w < n; w++)
                if (anc[(size_t)u * n + w])
                    anc[(size_t)v * n + w] = true;
        }
    }
    for (size_t i = 1; i < n; i++) {
        struct brd_node *node = &wf->nodes[i];
        struct refcheck rc = {L, "", (int)i, &anc[i * n]};
        if (i == n - 1) {
            if (wf->result) {
                rc.field = "result";
                brd_template_each_ref(wf->result, check_ref, &rc);
            }
            continue;
        }
        if (node->params) {
            rc.field = "params";
            brd_template_each_ref(node->params, check_ref, &rc);
        }
        if (node->output) {
            rc.field = "output";
            brd_template_each_ref(node->output, check_ref, &rc);
        }
        if (node->on_error) {
            rc.field = "on_error.output";
            brd_template_each_ref(node->on_error, check_ref, &rc);
        }
        for (size_t b = 0; b < node->nbranches; b++) {
            struct brd_expr *e = node->branches[b].when;
            char field[64];
            snprintf(field, sizeof field, "branches[%zu].when", b);
            rc.field = field;
            for (size_t r = 0; e && r < brd_expr_ref_count(e); r++)
                check_ref(&rc, brd_expr_ref(e, r), "");
        }
    }
    free(anc);
}

/* ---- the file ------------------------------------------------------------ */

static void load_methods(struct loader *L, struct json_object *v)
{
    struct brd_workflow *wf = L->wf;
    if (!v) {
        wf->methods = (1u << BRD_GET) | (1u << BRD_POST);
        return;
    }
    size_t count = json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
    if (count == 0) {
        problem(L, "methods: expected a non-empty array such as [\"GET\", \"POST\"]");
        return;
    }
    static const enum brd_method all[] = {BRD_GET, BRD_POST, BRD_PUT, BRD_PATCH, BRD_DELETE};
    for (size_t k = 0; k < count; k++) {
        const char *m = json_object_get_string(json_object_array_get_idx(v, k));
        bool found = false;
        for (size_t a = 0; a < sizeof all / sizeof all[0] && m; a++)
            if (strcmp(m, brd_method_name(all[a])) == 0) {
                wf->methods |= 1u << all[a];
                found = true;
            }
        if (!found)
            problem(L, "methods[%zu]: unknown method %s (GET, POST, PUT, PATCH or DELETE)", k,
                    brd_json_compact(json_object_array_get_idx(v, k), NULL));
    }
}

static void load_path(struct loader *L, const char *name, struct json_object *v)
{
    struct brd_workflow *wf = L->wf;
    const char *p = NULL;
    char dflt[BRD_NAME_MAX + 2];
    if (v) {
        if (!json_object_is_type(v, json_type_string) || json_object_get_string(v)[0] != '/' ||
            strpbrk(json_object_get_string(v), "?# \t\r\n")) {
            problem(L, "path: expected a URL path starting with '/', got %s", brd_json_compact(v, NULL));
            return;
        }
        p = json_object_get_string(v);
    } else {
        snprintf(dflt, sizeof dflt, "/%s", name);
        p = dflt;
    }
    if (!(wf->path = strdup(p)))
        L->d->nomem = 1;
}

int brd_workflow_load(const char *dir, const char *name, const struct brd_workflow_env *env,
                      struct brd_workflow **out, struct brd_diags *d)
{
    *out = NULL;
    char file[128], path[4096];
    snprintf(file, sizeof file, "workflows/%s.json", name);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    struct json_object *root = NULL;
    struct brd_error err;
    brd_error_clear(&err);
    if (brd_json_read_file(path, &root, &err) != 0)
        return brd_diag_add(d, "%s: %s", file, err.msg);
    int rc = brd_workflow_from_json(root, name, env, out, d);
    json_object_put(root);
    return rc;
}

int brd_workflow_from_json(struct json_object *root, const char *name,
                           const struct brd_workflow_env *env, struct brd_workflow **out,
                           struct brd_diags *d)
{
    *out = NULL;
    struct loader L = {.d = d, .env = env, .errors_at_start = d->count};
    snprintf(L.file, sizeof L.file, "workflows/%s.json", name);
    if (!json_object_is_type(root, json_type_object))
        return problem(&L, "expected a JSON object");
    struct brd_workflow *wf = calloc(1, sizeof *wf);
    if (!wf)
        return brd_diag_add(d, "%s: out of memory", L.file);
    L.wf = wf;
    snprintf(wf->name, sizeof wf->name, "%s", name);
    wf->file = strdup(L.file);
    wf->timeout_ms = BRD_WORKFLOW_DEFAULT_TIMEOUT_MS;
    static const char *const fields[] = {"path", "methods", "timeout_ms", "params", "nodes",
                                         "edges", "result", "description", NULL};
    check_fields(&L, root, "", fields);

    struct json_object *v, *jnodes = NULL, *jedges = NULL;
    load_path(&L, name, json_object_object_get_ex(root, "path", &v) ? v : NULL);
    load_methods(&L, json_object_object_get_ex(root, "methods", &v) ? v : NULL);
    if (json_object_object_get_ex(root, "timeout_ms", &v))
        positive_int(&L, v, "timeout_ms", &wf->timeout_ms);
    if (json_object_object_get_ex(root, "params", &v))
        brd_params_load(v, false, BRD_IN_QUERY, L.file, &wf->params, d);

    if (!json_object_object_get_ex(root, "nodes", &jnodes) ||
        !json_object_is_type(jnodes, json_type_array)) {
        problem(&L, "nodes: expected an array of nodes");
        jnodes = NULL;
    }
    if (!json_object_object_get_ex(root, "edges", &jedges) ||
        !json_object_is_type(jedges, json_type_array)) {
        problem(&L, "edges: expected an array of [\"FROM\", \"TO\"] pairs");
        jedges = NULL;
    }
    size_t count = jnodes ? json_object_array_length(jnodes) : 0;
    wf->nnodes = count + 2;
    wf->nodes = calloc(wf->nnodes, sizeof *wf->nodes);
    if (!wf->nodes) {
        L.d->nomem = 1;
        goto done;
    }
    snprintf(wf->nodes[0].id, sizeof wf->nodes[0].id, "START");
    wf->nodes[0].type = BRD_NODE_START;
    snprintf(wf->nodes[count + 1].id, sizeof wf->nodes[0].id, "END");
    wf->nodes[count + 1].type = BRD_NODE_END;
    wf->nodes[0].api = wf->nodes[0].function = wf->nodes[count + 1].api =
        wf->nodes[count + 1].function = -1;
    if (jnodes) {
        load_node_ids(&L, jnodes);
        for (size_t k = 0; k < count; k++)
            if (wf->nodes[k + 1].id[0])
                load_node(&L, k + 1, json_object_array_get_idx(jnodes, k));
    }
    if (json_object_object_get_ex(root, "result", &v))
        compile_template(&L, v, "", "result", &wf->result);
    if (jedges && !failed(&L))
        load_edges(&L, jedges);
    /* The graph checks need well-formed nodes and edges. */
    if (!failed(&L))
        order_nodes(&L);
    if (!failed(&L))
        check_reachability(&L);
    if (!failed(&L))
        check_refs(&L);
done:
    if (failed(&L)) {
        brd_workflow_free(wf);
        return -1;
    }
    *out = wf;
    return 0;
}
