/* cli_service.c — loading a service directory for the subcommands that
 * need one (check, run, graph, serve), with the sandbox as function runner. */
#include <stdio.h>

#include "cli.h"
#include "fnrunner.h"
#include "service.h"

int brd_cli_load_service(const char *cmd, const char *dir, struct brd_service **out)
{
    struct brd_error err;
    brd_error_clear(&err);
    struct brd_fn_runner runner;
    if (brd_fnrunner_init(&runner, &err) != 0) {
        fprintf(stderr, "braid %s: cannot start the function sandbox: %s\n", cmd, err.msg);
        return -1;
    }
    struct brd_diags d = {0};
    if (brd_service_load(dir, &runner, out, &d) == 0) {
        brd_diags_free(&d);
        return 0;
    }
    for (size_t i = 0; i < d.count; i++)
        fprintf(stderr, "%s\n", d.msgs[i]);
    if (d.nomem)
        fprintf(stderr, "braid %s: out of memory while loading %s\n", cmd, dir);
    fprintf(stderr, "braid %s: %zu problem%s in %s\n", cmd, d.count, d.count == 1 ? "" : "s", dir);
    brd_diags_free(&d);
    return -1;
}
