/* worker_caps.c — the worker's capabilities limited to what it and its
 * sandbox zygote still need (worker_caps.h), with sandbox/caps.c's raw
 * capget/capset. */
#include "worker_caps.h"

#include "caps.h"

#include <errno.h>
#include <stdbool.h>
#include <linux/capability.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define BIT(c) ((uint64_t)1 << (c))

/* What is kept, when the process has it (docs/runtime.md, "The worker's
 * capabilities"). */
static const uint64_t kept = BIT(CAP_KILL) | BIT(CAP_SYS_RESOURCE) |              /* the worker */
                             BIT(CAP_SETUID) | BIT(CAP_SETGID) | BIT(CAP_SETPCAP); /* the zygote */

/* The bounding set, as PR_CAPBSET_READ sees it: every number the kernel
 * knows (it answers EINVAL past its last one). */
static int bounding_get(uint64_t *out)
{
    *out = 0;
    for (int cap = 0; cap < 64; cap++) {
        int r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
        if (r < 0)
            return errno == EINVAL && cap > 0 ? 0 : -1;
        if (r == 1)
            *out |= BIT(cap);
    }
    return 0;
}

static int fail(struct brd_error *err, const char *what)
{
    return brd_error_set(err, BRD_E_INTERNAL, "cannot limit the worker's capabilities: %s: %s",
                         what, strerror(errno));
}

int brd_worker_caps_limit(struct brd_error *err)
{
    struct brd_caps c;
    if (brd_caps_get(&c) != 0)
        return fail(err, "capget");
    if (c.prm == 0 && c.eff == 0 && c.inh == 0)
        return 0; /* not root: nothing to drop (and no CAP_SETPCAP to drop with) */
    uint64_t keep = c.prm & kept;
    uint64_t bnd;
    if (bounding_get(&bnd) != 0)
        return fail(err, "PR_CAPBSET_READ");
    /* The bounding set first: dropping from it needs CAP_SETPCAP in the
     * effective set.  Without it the bounding set stays as inherited: the
     * zygote, exec'd as root, can regain at most that set — which whoever
     * took CAP_SETPCAP away (a container runtime with `drop: [ALL]`, say)
     * has already limited.  Refusing to serve there would stop braid on
     * exactly the hosts that are locked down hardest. */
    bool bounding = (c.eff & BIT(CAP_SETPCAP)) != 0;
    for (int cap = 0; bounding && cap < 64; cap++) {
        if ((bnd & BIT(cap)) && !(keep & BIT(cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0)
            return fail(err, "PR_CAPBSET_DROP");
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0)
        return fail(err, "PR_CAP_AMBIENT_CLEAR_ALL");
    struct brd_caps want = {.eff = keep, .prm = keep, .inh = 0};
    if (brd_caps_set(&want) != 0)
        return fail(err, "capset");

    /* Read back what the kernel now holds. */
    if (brd_caps_get(&c) != 0)
        return fail(err, "capget");
    if (c.eff != keep || c.prm != keep || c.inh != 0) {
        errno = EPERM;
        return fail(err, "capget read back other sets");
    }
    if (bounding_get(&bnd) != 0)
        return fail(err, "PR_CAPBSET_READ");
    if (bounding && (bnd & ~keep)) {
        errno = EPERM;
        return fail(err, "the bounding set kept more");
    }
    for (int cap = 0; cap < 64; cap++) {
        int r = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0);
        if (r < 0 && errno == EINVAL && cap > 0)
            break; /* past the kernel's last capability */
        if (r != 0) {
            if (r > 0)
                errno = EPERM;
            return fail(err, "PR_CAP_AMBIENT_IS_SET");
        }
    }
    return 0;
}
