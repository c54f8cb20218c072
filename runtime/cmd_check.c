/* cmd_check.c — `braid check DIR`: loads and validates a service directory
 * exactly as `braid serve` would, reporting every problem. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "fnrunner.h"
#include "service.h"
#include "sql_api.h"
#include "testcase.h"

static const char usage_text[] =
    "usage: braid check DIR [--connect]\n"
    "\n"
    "Loads and validates the service directory DIR (datasources/, apis/, functions/,\n"
    "workflows/, and the recorded test cases in tests/) as `braid serve` would, and reports every problem, one per line,\n"
    "each naming its file (and node and field).  Every SQLite statement is prepared\n"
    "against its database either way; --connect also connects to every PostgreSQL and\n"
    "MySQL data source and prepares its statements there (docs/datasources.md).\n"
    "\n"
    "exit status: 0 valid, 1 problems found, 2 bad usage\n";

int brd_cmd_check(int argc, char **argv)
{
    const char *dir = NULL;
    bool connect = false;
    for (int i = 1; i < argc; i++) {
        if (brd_cli_is_help(argv[i])) {
            fputs(usage_text, stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--connect")) {
            connect = true;
            continue;
        }
        if (dir || argv[i][0] == '-') {
            fprintf(stderr, "braid check: unexpected argument '%s'\n\n%s", argv[i], usage_text);
            return 2;
        }
        dir = argv[i];
    }
    if (!dir) {
        fputs(usage_text, stderr);
        return 2;
    }
    struct brd_service *s = NULL;
    if (brd_cli_load_service("check", dir, &s) != 0)
        return 1;
    {
        struct brd_diags d = {0};
        int bad = 0;
        struct brd_testsuite t = {0};
        bad |= brd_tests_load(dir, s, NULL, &t, &d);
        brd_tests_free(&t);
        for (size_t i = 0; connect && i < s->napis; i++)
            bad |= brd_sql_api_check_live(s->apis[i], &d);
        if (bad) {
            for (size_t i = 0; i < d.count; i++)
                fprintf(stderr, "%s\n", d.msgs[i]);
            fprintf(stderr, "braid check: %zu problem%s in %s\n", d.count, d.count == 1 ? "" : "s", dir);
            brd_diags_free(&d);
            brd_service_free(s);
            brd_fnrunner_shutdown();
            return 1;
        }
        brd_diags_free(&d);
    }
    size_t nodes = 0;
    for (size_t i = 0; i < s->nworkflows; i++)
        nodes += s->workflows[i]->nnodes - 2;
    printf("%s: ok: %zu workflow%s (%zu node%s), %zu api%s, %zu function%s, %zu data source%s\n", dir,
           s->nworkflows, s->nworkflows == 1 ? "" : "s", nodes, nodes == 1 ? "" : "s",
           s->napis, s->napis == 1 ? "" : "s", s->nfunctions, s->nfunctions == 1 ? "" : "s",
           s->ndatasources, s->ndatasources == 1 ? "" : "s");
    brd_service_free(s);
    brd_fnrunner_shutdown();
    return 0;
}
