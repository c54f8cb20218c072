/* worker_caps.h — a worker run as root gives up the capabilities it has no
 * use for, right after fork: it keeps CAP_KILL and CAP_SYS_RESOURCE (it
 * signals and prlimit()s sandboxed processes of another uid) and CAP_SETUID,
 * CAP_SETGID and CAP_SETPCAP (its exec'd sandbox zygote switches its children
 * to the sandbox user and empties their bounding set); everything else goes
 * from every set, the bounding set included, so that the zygote, exec'd as
 * root, cannot regain it.  docs/runtime.md has the why of each. */
#ifndef BRD_WORKER_CAPS_H
#define BRD_WORKER_CAPS_H

#include "base/error.h"

/* Limits the calling process's capabilities to the set above (those of it
 * the process has; none is ever added), clears the inheritable and ambient
 * sets, and reads everything back.  A process without any capability
 * (braid not run as root) has nothing to drop: 0 at once.  -1 with err set
 * when any step fails or the read-back differs. */
int brd_worker_caps_limit(struct brd_error *err);

#endif
