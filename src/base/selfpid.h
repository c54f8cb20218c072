/* selfpid.h — this process's pid without a system call on every ask.
 *
 * glibc (2.25 and later) no longer caches getpid(); the worker asks for it
 * on every request (log lines, "is this pool mine?").  The pid is read once
 * and read again in a child made by fork() (a pthread_atfork handler).  A
 * child made by a raw clone() must not ask before it execs. */
#ifndef BRD_BASE_SELFPID_H
#define BRD_BASE_SELFPID_H

#include <sys/types.h>

pid_t brd_self_pid(void);

#endif
