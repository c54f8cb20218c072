/* cmd_graph.c — `braid graph DIR WORKFLOW`: the workflow as Graphviz DOT,
 * for `| dot -Tsvg`: nodes shaped by type, switch edges labelled with
 * their conditions, START and END. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "fnrunner.h"
#include "service.h"

static const char usage_text[] =
    "usage: braid graph DIR WORKFLOW\n"
    "\n"
    "Prints WORKFLOW of the service directory DIR as a Graphviz DOT digraph:\n"
    "api nodes as boxes, functions as rounded boxes, switches as diamonds,\n"
    "switch edges labelled with their conditions.  Try: braid graph DIR WF | dot -Tsvg\n"
    "\n"
    "exit status: 0 ok, 1 DIR is invalid, 2 bad usage or unknown workflow\n";

/* Writes s as the inside of a DOT double-quoted string. */
static void dot_string(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
}

static void print_dot(FILE *f, const struct brd_service *s, const struct brd_workflow *wf)
{
    fprintf(f, "digraph \"");
    dot_string(f, wf->name);
    fprintf(f, "\" {\n  rankdir=TB;\n  node [fontname=\"Helvetica\"];\n");
    for (size_t i = 0; i < wf->nnodes; i++) {
        const struct brd_node *n = &wf->nodes[i];
        const char *shape = "box", *style = "", *detail = "";
        switch (n->type) {
        case BRD_NODE_START:
        case BRD_NODE_END: shape = "circle"; style = "filled"; break;
        case BRD_NODE_API: detail = s->apis[n->api]->name; break;
        case BRD_NODE_FUNCTION: style = "rounded"; detail = s->function_names[n->function]; break;
        case BRD_NODE_SWITCH: shape = "diamond"; break;
        }
        fprintf(f, "  \"");
        dot_string(f, n->id);
        fprintf(f, "\" [shape=%s%s%s%s, label=\"", shape, style[0] ? ", style=\"" : "", style,
                style[0] ? "\"" : "");
        dot_string(f, n->id);
        if (n->type != BRD_NODE_START && n->type != BRD_NODE_END) {
            fprintf(f, "\\n%s", brd_node_type_name(n->type));
            if (detail[0]) {
                fputs(": ", f);
                dot_string(f, detail);
            }
        }
        fprintf(f, "\"];\n");
    }
    for (size_t i = 0; i < wf->nnodes; i++) {
        const struct brd_node *n = &wf->nodes[i];
        if (n->type == BRD_NODE_SWITCH) {
            for (size_t b = 0; b < n->nbranches; b++) {
                fprintf(f, "  \"");
                dot_string(f, n->id);
                fprintf(f, "\" -> \"");
                dot_string(f, wf->nodes[n->branches[b].next].id);
                fprintf(f, "\" [label=\"");
                dot_string(f, n->branches[b].text);
                fprintf(f, "\"%s];\n", n->branches[b].when ? "" : ", style=dashed");
            }
            continue;
        }
        for (size_t k = 0; k < n->nout; k++) {
            fprintf(f, "  \"");
            dot_string(f, n->id);
            fprintf(f, "\" -> \"");
            dot_string(f, wf->nodes[n->out[k]].id);
            fprintf(f, "\";\n");
        }
    }
    fprintf(f, "}\n");
}

int brd_cmd_graph(int argc, char **argv)
{
    const char *dir = NULL, *name = NULL;
    for (int i = 1; i < argc; i++) {
        if (brd_cli_is_help(argv[i])) {
            fputs(usage_text, stdout);
            return 0;
        } else if (argv[i][0] != '-' && !dir) {
            dir = argv[i];
        } else if (argv[i][0] != '-' && !name) {
            name = argv[i];
        } else {
            fprintf(stderr, "braid graph: unexpected argument '%s'\n\n%s", argv[i], usage_text);
            return 2;
        }
    }
    if (!dir || !name) {
        fputs(usage_text, stderr);
        return 2;
    }
    struct brd_service *s = NULL;
    if (brd_cli_load_service("graph", dir, &s) != 0)
        return 1;
    const struct brd_workflow *wf = name[0] == '/' ? brd_service_route(s, name)
                                                   : brd_service_workflow(s, name);
    int status = 0;
    if (wf) {
        print_dot(stdout, s, wf);
    } else {
        fprintf(stderr, "braid graph: no workflow '%s' in %s\n", name, dir);
        status = 2;
    }
    brd_service_free(s);
    brd_fnrunner_shutdown();
    return status;
}
