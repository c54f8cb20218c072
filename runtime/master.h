/* master.h — the master process of `braid serve`: loads and validates the
 * service directory, opens the listening socket and the scoreboard, runs
 * the loop that supervises the workers (children.h: respawn with backoff,
 * recycling, killing stuck ones) and acts on signals (signals.h): reloads
 * on SIGHUP, drains on SIGTERM/SIGINT/SIGQUIT, reopens logs on SIGUSR1;
 * and answers the admin endpoint. */
#ifndef BRD_MASTER_H
#define BRD_MASTER_H

#include "config.h"

/* Serves until drained.  Returns the process exit status (commands.h):
 * BRD_CMD_EXIT_OK after a drain, BRD_CMD_EXIT_FAILED when the directory is
 * invalid or serving could not start (or a second stop signal or the drain's
 * deadline cut the drain short), BRD_CMD_EXIT_USAGE for an unusable
 * --listen or --admin. */
int brd_master_run(const struct brd_serve_config *cfg);

#endif
