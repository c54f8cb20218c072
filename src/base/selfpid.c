/* selfpid.c — the cached pid (selfpid.h). */
#include "selfpid.h"

#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>

static pid_t cached;

static void forget_in_child(void)
{
    cached = 0;
}

pid_t brd_self_pid(void)
{
    static bool registered;
    if (cached == 0) {
        if (!registered)
            registered = pthread_atfork(NULL, NULL, forget_in_child) == 0;
        pid_t pid = getpid();
        if (!registered)
            return pid; /* no handler: never trust a cached value */
        cached = pid;
    }
    return cached;
}
