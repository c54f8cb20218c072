/* listener.c — opening the listening sockets of `braid serve` (listener.h). */
#include "listener.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

bool brd_listener_is_listening(int fd)
{
    int v = 0;
    socklen_t len = sizeof v;
    return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == 0 && v;
}

/* Workers wait for the socket with epoll and then accept; a non-blocking
 * listener turns the accept of a worker that lost the race into EAGAIN
 * instead of a block (the accepted sockets themselves stay blocking: on
 * Linux they do not inherit O_NONBLOCK). */
static int make_nonblocking(int fd, struct brd_error *err)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
        return brd_error_set(err, BRD_E_IO, "fcntl: %s", strerror(errno));
    int fdfl = fcntl(fd, F_GETFD);
    if (fdfl < 0 || fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) != 0)
        return brd_error_set(err, BRD_E_IO, "fcntl: %s", strerror(errno));
    return 0;
}

static int open_unix(const char *path, unsigned mode, struct brd_listener *l, struct brd_error *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof sa.sun_path)
        return brd_error_set(err, BRD_E_USAGE, "unix socket path '%s' is empty or longer than %zu bytes",
                             path, sizeof sa.sun_path - 1);
    memcpy(sa.sun_path, path, n + 1);
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return brd_error_set(err, BRD_E_IO, "%s exists and is not a socket", path);
        /* Someone still accepting there?  Then it is not ours to take. */
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0) {
            int live = connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0;
            close(probe);
            if (live)
                return brd_error_set(err, BRD_E_IO, "%s is in use by another server", path);
        }
        if (unlink(path) != 0)
            return brd_error_set(err, BRD_E_IO, "cannot remove stale socket %s: %s", path,
                                 strerror(errno));
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return brd_error_set(err, BRD_E_IO, "socket: %s", strerror(errno));
    /* Create the file with no access, then open it up to mode: nobody can
     * connect in between with permissions wider than asked for. */
    mode_t old = umask(0777);
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    int bind_errno = errno;
    umask(old);
    if (rc != 0) {
        close(fd);
        return brd_error_set(err, BRD_E_IO, "cannot bind %s: %s", path, strerror(bind_errno));
    }
    if (chmod(path, mode) != 0 || listen(fd, SOMAXCONN) != 0) {
        int e = errno;
        close(fd);
        unlink(path);
        return brd_error_set(err, BRD_E_IO, "cannot listen on %s: %s", path, strerror(e));
    }
    if (lstat(path, &st) == 0) {
        l->dev = (unsigned long)st.st_dev;
        l->ino = (unsigned long)st.st_ino;
    }
    l->fd = fd;
    snprintf(l->unix_path, sizeof l->unix_path, "%s", path);
    snprintf(l->display, sizeof l->display, "unix:%s", path);
    return 0;
}

int brd_listener_open_tcp(const char *hostport, struct brd_listener *l, struct brd_error *err)
{
    memset(l, 0, sizeof *l);
    l->fd = -1;
    char host[128];
    const char *colon = strrchr(hostport, ':');
    if (!colon || colon == hostport || !colon[1] || (size_t)(colon - hostport) >= sizeof host)
        return brd_error_set(err, BRD_E_USAGE, "'%s' is not HOST:PORT", hostport);
    const char *h = hostport;
    size_t hn = (size_t)(colon - hostport);
    if (h[0] == '[' && hn >= 2 && h[hn - 1] == ']') {
        h++;
        hn -= 2;
    }
    memcpy(host, h, hn);
    host[hn] = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *res = NULL;
    int gai = getaddrinfo(host, colon + 1, &hints, &res);
    if (gai != 0)
        return brd_error_set(err, BRD_E_USAGE, "'%s': %s", hostport, gai_strerror(gai));
    int fd = -1, e = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) {
            e = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
            e = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        return brd_error_set(err, BRD_E_IO, "cannot listen on %s: %s", hostport, strerror(e));
    l->fd = fd;
    snprintf(l->display, sizeof l->display, "%s", hostport);
    return 0;
}

int brd_listener_open(const char *addr, unsigned mode, struct brd_listener *l,
                      struct brd_error *err)
{
    memset(l, 0, sizeof *l);
    l->fd = -1;
    if (!addr) {
        if (!brd_listener_is_listening(0))
            return brd_error_set(err, BRD_E_USAGE,
                                 "no --listen given and fd 0 is not a listening socket "
                                 "(a spawner such as spawn-fcgi passes one there)");
        if (make_nonblocking(0, err) != 0)
            return -1;
        l->fd = 0;
        l->inherited = true;
        snprintf(l->display, sizeof l->display, "fd 0");
        return 0;
    }
    if (strncmp(addr, "unix:", 5) == 0)
        return open_unix(addr + 5, mode, l, err);
    return brd_listener_open_tcp(addr, l, err);
}

void brd_listener_unlink(struct brd_listener *l)
{
    if (l->fd < 0 || !l->unix_path[0])
        return;
    /* Only the file we bound: a new server may have replaced it already. */
    struct stat st;
    if (lstat(l->unix_path, &st) == 0 && S_ISSOCK(st.st_mode) &&
        (unsigned long)st.st_dev == l->dev && (unsigned long)st.st_ino == l->ino)
        unlink(l->unix_path);
    l->unix_path[0] = '\0';
}

void brd_listener_close(struct brd_listener *l)
{
    if (l->fd < 0)
        return;
    brd_listener_unlink(l);
    if (!l->inherited)
        close(l->fd);
    l->fd = -1;
}
