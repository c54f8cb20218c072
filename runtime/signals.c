/* signals.c — the master's signal handling (signals.h): a self-pipe the
 * handlers write the signal number to, and the meaning of each signal.
 * Nothing is done in a handler; the master loop acts on what it reads. */
#include "signals.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* The pipe's ends; the handler needs the write end, hence file scope. */
static int sig_r = -1, sig_w = -1;

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char c = (unsigned char)sig;
    if (sig_w >= 0 && write(sig_w, &c, 1) < 0) {
        /* pipe full: the loop runs soon anyway and reaps every tick */
    }
    errno = saved;
}

int brd_signals_init(struct brd_error *err)
{
    int p[2];
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0)
        return brd_error_set(err, BRD_E_IO, "pipe: %s", strerror(errno));
    sig_r = p[0];
    sig_w = p[1];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_signal;
    static const int sigs[] = {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGCHLD};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        if (sigaction(sigs[i], &sa, NULL) != 0)
            return brd_error_set(err, BRD_E_IO, "sigaction: %s", strerror(errno));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    return 0;
}

int brd_signals_fd(void)
{
    return sig_r;
}

int brd_signals_read(int *sigs, int cap)
{
    unsigned char buf[64];
    if (sig_r < 0 || cap <= 0)
        return 0;
    size_t want = (size_t)cap < sizeof buf ? (size_t)cap : sizeof buf;
    ssize_t n = read(sig_r, buf, want);
    if (n <= 0)
        return 0; /* EAGAIN: nothing pending */
    for (ssize_t i = 0; i < n; i++)
        sigs[i] = buf[i];
    return (int)n;
}

enum brd_signals_action brd_signals_action(int sig)
{
    switch (sig) {
    case SIGTERM:
    case SIGINT:
    case SIGQUIT: return BRD_SIGNALS_STOP;
    case SIGHUP: return BRD_SIGNALS_RELOAD;
    case SIGUSR1: return BRD_SIGNALS_REOPEN;
    case SIGCHLD: return BRD_SIGNALS_CHILD;
    default: return BRD_SIGNALS_NONE;
    }
}

void brd_signals_block_all(sigset_t *old)
{
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, old);
}

void brd_signals_restore(const sigset_t *old)
{
    sigprocmask(SIG_SETMASK, old, NULL);
}

void brd_signals_close(void)
{
    if (sig_r >= 0)
        close(sig_r);
    if (sig_w >= 0)
        close(sig_w);
    sig_r = sig_w = -1;
}

const char *brd_signals_name(int sig)
{
    switch (sig) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGQUIT: return "SIGQUIT";
    case SIGKILL: return "SIGKILL";
    case SIGSEGV: return "SIGSEGV";
    case SIGABRT: return "SIGABRT";
    case SIGBUS: return "SIGBUS";
    case SIGSYS: return "SIGSYS";
    case SIGHUP: return "SIGHUP";
    default: return NULL;
    }
}
