/* master.h — the master process of `braid serve`: loads and validates the
 * service directory, opens the listening socket and the scoreboard, forks
 * the workers and supervises them (respawn with backoff, recycling, killing
 * stuck ones), reloads on SIGHUP, drains on SIGTERM/SIGINT, reopens logs on
 * SIGUSR1, and answers the admin endpoint. */
#ifndef BRD_MASTER_H
#define BRD_MASTER_H

#include "config.h"

/* Serves until drained.  Returns the process exit status: 0 after a drain,
 * 1 when the directory is invalid or serving could not start (or a second
 * stop signal cut the drain short), 2 for an unusable --listen or --admin. */
int brd_master_run(const struct brd_serve_config *cfg);

#endif
