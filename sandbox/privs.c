/* privs.c — a sandboxed process gives up root: the sandbox user and the
 * capabilities.
 *
 * In the master (brd_sandbox_init): BRAID_SANDBOX_USER (a user name, or
 * "uid:gid"; default "nobody") is resolved once, with getpwnam_r, so no
 * NSS lookup ever happens in a zygote or a sandboxed process.  In the
 * zygote: the highest capability number is read before any fork.  In each
 * sandboxed process, before any user code and before seccomp (which
 * forbids these calls): the bounding set emptied, ambient capabilities
 * cleared, supplementary groups cleared and the uid/gid switched (only when
 * braid runs as root), then every capability set emptied with capset — and
 * the outcome read back.  docs/sandbox.md has the why. */
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "caps.h"
#include "internal.h"

/* ---- capability sets, by the raw system calls (no libcap) ----------------------- */

static bool has_cap(uint64_t set, int cap)
{
    return (set >> cap) & 1;
}

/* ---- in the master ------------------------------------------------------------------ */

/* "uid:gid" in decimal, both below 2^32-1; 0 when it is that form. */
static int parse_ids(const char *s, uid_t *uid, gid_t *gid)
{
    char *end;
    errno = 0;
    unsigned long long u = strtoull(s, &end, 10);
    if (errno || end == s || *end != ':' || s[0] == '-' || u >= 0xffffffffULL)
        return -1;
    const char *g = end + 1;
    unsigned long long v = strtoull(g, &end, 10);
    if (errno || end == g || *end != '\0' || g[0] == '-' || v >= 0xffffffffULL)
        return -1;
    *uid = (uid_t)u;
    *gid = (gid_t)v;
    return 0;
}

static int resolve_user(const char *spec, uid_t *uid, gid_t *gid, struct brd_error *err)
{
    if (parse_ids(spec, uid, gid) == 0)
        return 0;
    struct passwd pw, *found = NULL;
    long sz = sysconf(_SC_GETPW_R_SIZE_MAX);
    size_t len = sz > 0 ? (size_t)sz : 16384;
    for (;;) {
        char *buf = malloc(len);
        if (!buf)
            return brd_error_nomem(err);
        int rc = getpwnam_r(spec, &pw, buf, len, &found);
        if (rc == ERANGE && len < ((size_t)1 << 20)) {
            free(buf);
            len *= 4;
            continue;
        }
        if (rc == 0 && found) {
            *uid = pw.pw_uid;
            *gid = pw.pw_gid;
        }
        free(buf);
        if (rc != 0 && rc != ENOENT && rc != ESRCH)
            return brd_error_set(err, BRD_E_USAGE, "BRAID_SANDBOX_USER=%s: cannot look the user up: %s",
                                 spec, strerror(rc));
        if (!found)
            return brd_error_set(err, BRD_E_USAGE,
                                 "BRAID_SANDBOX_USER=%s: no such user (give an existing user name, "
                                 "or uid:gid)", spec);
        return 0;
    }
}

int brd_privs_configure(struct brd_sbx_privs *out, struct brd_error *err)
{
    memset(out, 0, sizeof *out);
    const char *env = getenv("BRAID_SANDBOX_USER");
    bool given = env && *env;
    const char *spec = given ? env : "nobody";
    uid_t ru, eu, su;
    if (getresuid(&ru, &eu, &su) != 0)
        return brd_error_set(err, BRD_E_INTERNAL, "getresuid: %s", strerror(errno));
    bool root = ru == 0 || eu == 0 || su == 0;
    if (!root && !given)
        return 0; /* not root: the processes keep braid's own uid */
    uid_t uid = 0;
    gid_t gid = 0;
    if (resolve_user(spec, &uid, &gid, err) != 0)
        return -1;
    if (uid == 0 || gid == 0)
        return brd_error_set(err, BRD_E_USAGE,
                             "BRAID_SANDBOX_USER=%s: the sandbox user must not be root (uid %u, gid %u)",
                             spec, (unsigned)uid, (unsigned)gid);
    if (!root) {
        if (uid == ru && gid == getgid())
            return 0;
        return brd_error_set(err, BRD_E_USAGE,
                             "BRAID_SANDBOX_USER=%s: braid is not running as root (uid %u), so its "
                             "sandboxed processes keep its own user; unset BRAID_SANDBOX_USER",
                             spec, (unsigned)ru);
    }
    struct brd_caps c;
    if (brd_caps_get(&c) != 0)
        return brd_error_set(err, BRD_E_INTERNAL, "capget: %s", strerror(errno));
    /* The worker raises a reused process's RLIMIT_CPU with prlimit before
     * each call; for a process of another uid that needs CAP_SYS_RESOURCE.
     * A root without it (some containers) would have to retire its warm
     * processes after every call: by default their uid stays 0 then (with
     * no capability at all); an explicit BRAID_SANDBOX_USER switches anyway
     * (docs/sandbox.md). */
    if (!given && !has_cap(c.eff, CAP_SYS_RESOURCE))
        return 0;
    if (!has_cap(c.eff, CAP_SETUID) || !has_cap(c.eff, CAP_SETGID))
        return brd_error_set(err, BRD_E_USAGE,
                             "braid runs as root without CAP_SETUID/CAP_SETGID: its sandboxed "
                             "processes could not switch to BRAID_SANDBOX_USER=%s", spec);
    out->switch_user = true;
    out->uid = uid;
    out->gid = gid;
    return 0;
}

/* ---- in the zygote ------------------------------------------------------------------ */

int brd_privs_last_cap(void)
{
    int last = -1;
    FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "r");
    if (f) {
        if (fscanf(f, "%d", &last) != 1)
            last = -1;
        fclose(f);
    }
    /* Checked against the kernel (and found without /proc): the last
     * number PR_CAPBSET_READ knows, the next one EINVAL. */
    if (last < 0 || last > 63 || prctl(PR_CAPBSET_READ, last, 0, 0, 0) < 0 ||
        prctl(PR_CAPBSET_READ, last + 1, 0, 0, 0) >= 0) {
        last = -1;
        for (int c = 0; c < 64 && prctl(PR_CAPBSET_READ, c, 0, 0, 0) >= 0; c++)
            last = c;
    }
    return last;
}

/* ---- in a sandboxed process --------------------------------------------------------- */

int brd_privs_drop(const struct brd_sbx_privs *p, int last_cap)
{
    struct brd_caps c;
    if (last_cap < 0 || brd_caps_get(&c) != 0)
        return -1;
    /* The bounding set needs CAP_SETPCAP.  A process without it (braid not
     * root) has no capability to keep, and with no-new-privs and no execve
     * it can gain none from the bounding set: EPERM is then accepted. */
    bool setpcap = has_cap(c.eff, CAP_SETPCAP);
    for (int cap = 0; cap <= last_cap; cap++) {
        int r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
        if (r < 0)
            return -1;
        if (r == 1 && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && (setpcap || errno != EPERM))
            return -1;
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0)
        return -1;
    /* Supplementary groups go whenever they can (CAP_SETGID: root, with
     * or without the user switch). */
    bool setgid_cap = has_cap(c.eff, CAP_SETGID);
    if ((setgid_cap || p->switch_user) && setgroups(0, NULL) != 0)
        return -1;
    if (p->switch_user) {
        if (setresgid(p->gid, p->gid, p->gid) != 0 ||
            setresuid(p->uid, p->uid, p->uid) != 0)
            return -1;
    }
    if (brd_caps_set(&(struct brd_caps){0}) != 0)
        return -1;

    /* Read back what the kernel now holds. */
    if (brd_caps_get(&c) != 0 || c.eff || c.prm || c.inh)
        return -1;
    for (int cap = 0; cap <= last_cap; cap++) {
        int r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
        if (r < 0 || (r == 1 && setpcap))
            return -1;
        r = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0);
        if (r != 0)
            return -1;
    }
    if ((setgid_cap || p->switch_user) && getgroups(0, NULL) != 0)
        return -1;
    if (p->switch_user) {
        uid_t ru, eu, su;
        gid_t rg, eg, sg;
        if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0 || ru != p->uid ||
            eu != p->uid || su != p->uid || rg != p->gid || eg != p->gid || sg != p->gid)
            return -1;
        /* Root must be out of reach for good. */
        if (setresuid(0, 0, 0) == 0 || errno != EPERM)
            return -1;
    }
    return 0;
}
