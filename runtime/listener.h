/* listener.h — listening sockets: the FastCGI one (a unix socket, a TCP
 * port, or the one a spawner hands over on fd 0) and the admin port. */
#ifndef BRD_LISTENER_H
#define BRD_LISTENER_H

#include <stdbool.h>

#include "base/error.h"

struct brd_listener {
    int fd;
    bool inherited;         /* fd 0 from a spawner: not ours to unlink */
    char unix_path[108];    /* the socket file we created, or "" */
    unsigned long dev, ino; /* ... and its identity, to remove only that file */
    char display[160];      /* "unix:/run/braid.sock", "127.0.0.1:9000", "fd 0" */
};

/* Opens addr ("unix:/path" or "HOST:PORT"; IPv6 as "[::1]:PORT"), or takes
 * fd 0 when addr is NULL and fd 0 is a listening socket (SO_ACCEPTCONN).
 * A stale unix socket file (nobody accepting on it) is replaced; a live one,
 * or any other kind of file, is an error.  The socket is non-blocking and
 * close-on-exec.  mode: the unix socket's permissions. */
int brd_listener_open(const char *addr, unsigned mode, struct brd_listener *l,
                      struct brd_error *err);

/* A non-blocking TCP listener on "HOST:PORT" (the admin port). */
int brd_listener_open_tcp(const char *hostport, struct brd_listener *l, struct brd_error *err);

/* True when fd is a listening socket. */
bool brd_listener_is_listening(int fd);

/* Removes the socket file it created (if it is still that file), keeping
 * the socket open: connections already queued stay, new ones are refused
 * (the start of a drain).  No-op for TCP and inherited sockets. */
void brd_listener_unlink(struct brd_listener *l);

/* Closes the socket and removes the socket file it created (if it is still
 * the same file). */
void brd_listener_close(struct brd_listener *l);

#endif
