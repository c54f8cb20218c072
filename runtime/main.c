/* main.c — the `braid` binary: picks the subcommand and hands it argv.
 * The only place in Braid that decides the process's exit status. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "base/version.h"

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    puts("braid " BRD_VERSION);
    return 0;
}

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *usage;
} commands[] = {
    /* {"name", brd_cmd_name, "usage line"}, — one line per subcommand */
    {"call", brd_cmd_call, "call DIR FUNCTION [--event JSON|@FILE] [--trace]  run one function, as a workflow would"},
    {"serve", brd_cmd_serve, "serve DIR [--listen ADDR] [FLAGS]    serve the workflows over FastCGI (a master + workers)"},
    {"check", brd_cmd_check, "check DIR [--connect]                validate a service directory (and its tests/), exit 1 on errors"},
    {"run", brd_cmd_run, "run DIR WORKFLOW [--input JSON|@FILE] [--trace]  run a workflow once, as served"},
    {"test", brd_cmd_test, "test DIR [WORKFLOW] [--record [--update]] [--junit FILE]  run the recorded test cases"},
    {"studio", brd_cmd_studio, "studio DIR [--listen HOST:PORT] [--allow-remote]  the visual editor and Test console"},
    {"graph", brd_cmd_graph, "graph DIR WORKFLOW                   Graphviz DOT of a workflow"},
    {"expr", brd_cmd_expr, "expr EXPRESSION [--input JSON|@FILE]  print a switch condition's value"},
    {"path", brd_cmd_path, "path [--paths] JSONPATH [FILE|-]     print the matches (or their paths) as a JSON array"},
    {"version", cmd_version, "version                              print the version"},
};

static void usage(FILE *out)
{
    fputs("usage: braid COMMAND [ARGS]\n\n"
          "Braid composes SQL queries, HTTP APIs and Python functions into workflows served over FastCGI.\n\n"
          "commands:\n", out);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  braid %s\n", commands[i].usage);
    fputs("\n`braid COMMAND --help` describes one command.\n", out);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (brd_cli_is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "braid: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
