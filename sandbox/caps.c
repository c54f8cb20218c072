/* caps.c — capability sets by the raw system calls (caps.h). */
#include "caps.h"

#include <linux/capability.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int brd_caps_get(struct brd_caps *c)
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
    memset(d, 0, sizeof d);
    if (syscall(SYS_capget, &h, d) != 0)
        return -1;
    c->eff = (uint64_t)d[1].effective << 32 | d[0].effective;
    c->prm = (uint64_t)d[1].permitted << 32 | d[0].permitted;
    c->inh = (uint64_t)d[1].inheritable << 32 | d[0].inheritable;
    return 0;
}

int brd_caps_set(const struct brd_caps *c)
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
    memset(d, 0, sizeof d);
    d[0].effective = (uint32_t)c->eff;
    d[1].effective = (uint32_t)(c->eff >> 32);
    d[0].permitted = (uint32_t)c->prm;
    d[1].permitted = (uint32_t)(c->prm >> 32);
    d[0].inheritable = (uint32_t)c->inh;
    d[1].inheritable = (uint32_t)(c->inh >> 32);
    return syscall(SYS_capset, &h, d) == 0 ? 0 : -1;
}
