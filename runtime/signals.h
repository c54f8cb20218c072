/* signals.h — the master's signals: handlers that only write the signal
 * number to a self-pipe (the master loop polls its read end), what each
 * signal means to the master, and keeping signals out of a child between
 * fork and its own handlers.  The signals the master sends its workers are
 * in worker.h. */
#ifndef BRD_SIGNALS_H
#define BRD_SIGNALS_H

#include <signal.h>

#include "base/error.h"

/* What a signal asks of the master (docs/runtime.md, "Signals"). */
enum brd_signals_action {
    BRD_SIGNALS_NONE = 0,  /* not one of ours */
    BRD_SIGNALS_STOP,      /* SIGTERM, SIGINT, SIGQUIT: drain; a second one: stop now */
    BRD_SIGNALS_RELOAD,    /* SIGHUP: load the directory again */
    BRD_SIGNALS_REOPEN,    /* SIGUSR1: reopen the log, and tell the workers */
    BRD_SIGNALS_CHILD,     /* SIGCHLD: a worker exited (it is reaped every turn anyway) */
};

/* Opens the self-pipe (non-blocking, close-on-exec) and installs the
 * handlers without SA_RESTART, so a signal ends the master's poll at once;
 * SIGPIPE is ignored.  Once per process. */
int brd_signals_init(struct brd_error *err);

/* The read end to poll for POLLIN; -1 before brd_signals_init. */
int brd_signals_fd(void);

/* Takes up to cap pending signal numbers, in the order they came; returns
 * how many (0: none pending). */
int brd_signals_read(int *sigs, int cap);

/* What sig means to the master. */
enum brd_signals_action brd_signals_action(int sig);

/* Blocks every signal (the previous mask into *old) around a fork: the new
 * child must not run the master's handlers, which write to the master's
 * pipe; the child unblocks once it has handlers of its own. */
void brd_signals_block_all(sigset_t *old);

/* Puts back the mask brd_signals_block_all saved. */
void brd_signals_restore(const sigset_t *old);

/* Closes both ends of the pipe: in a forked child (which must not keep the
 * master's), and when the master is done.  Safe to call more than once. */
void brd_signals_close(void);

/* "SIGTERM", "SIGKILL", ... for the log; NULL for a signal without a name
 * here (the log then shows the number). */
const char *brd_signals_name(int sig);

#endif
