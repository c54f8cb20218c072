/* cmd_serve.c — `braid serve DIR`: reads the settings, then hands over to
 * the master (master.c); docs/runtime.md describes the whole runtime. */
#include <stdio.h>

#include "commands.h"
#include "config.h"
#include "master.h"

int brd_cmd_serve(int argc, char **argv)
{
    /* Static: the master and its forked workers keep pointing into it for
     * the life of the process. */
    static struct brd_serve_config cfg;
    struct brd_error err;
    brd_error_clear(&err);
    int rc = brd_serve_config_parse(argc, argv, &cfg, &err);
    if (rc == 1) {
        fputs(brd_serve_usage, stdout);
        return BRD_CMD_EXIT_OK;
    }
    if (rc != 0) {
        fprintf(stderr, "braid serve: %s\n(braid serve --help lists the flags)\n", err.msg);
        return BRD_CMD_EXIT_USAGE;
    }
    return brd_master_run(&cfg);
}
