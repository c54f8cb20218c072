/* fcgi_conn.h — a worker's FastCGI connection, read by braid itself: the
 * worker accepts it (checking FCGI_WEB_SERVER_ADDRS), checks every record
 * before libfcgi parses a byte of it, and keeps it open between requests
 * when the front server asks (FCGI_KEEP_CONN).
 *
 * Why: libfcgi allocates a name-value pair's memory from the lengths the
 * peer announces and aborts the process when malloc fails (a 2 GiB name
 * length in an 18-byte record kills a worker), and it parses management
 * records (FCGI_GET_VALUES) the same way wherever they appear, even in the
 * middle of a body.  So libfcgi never reads the socket here:
 *  - BEGIN_REQUEST and the PARAMS stream are read and checked first (every
 *    pair's lengths within what the stream holds, at most
 *    BRD_FCGI_MAX_HEAD bytes in all, within BRD_FCGI_HEAD_TIMEOUT_MS), then
 *    handed to FCGX_Accept_r through an in-memory file, so libfcgi builds
 *    the request (FCGX_GetParam, its streams) from checked bytes only;
 *  - the stdin stream is delivered to libfcgi's reader from this
 *    connection's buffer, record by record, by a fill procedure of ours
 *    (FCGX_Stream.fillBuffProc): only FCGI_STDIN records of the request
 *    pass, anything else ends the request and the connection;
 *  - libfcgi writes the response (FCGI_STDOUT, FCGI_END_REQUEST) on the
 *    connection itself.
 * One request at a time, one connection per worker (the fill procedure
 * finds the connection in a static). */
#ifndef BRD_FCGI_CONN_H
#define BRD_FCGI_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <fcgiapp.h>

#include "base/error.h"

/* BEGIN_REQUEST plus the whole PARAMS stream, record headers and padding
 * included (nginx sends a few KiB; its own header limits keep it far
 * below). */
#define BRD_FCGI_MAX_HEAD (1024 * 1024)
/* From taking a connection (or its first byte, when kept) to the end of
 * its PARAMS: front servers send them at once. */
#define BRD_FCGI_HEAD_TIMEOUT_MS 5000
/* A kept connection left idle this long is closed (above nginx's default
 * upstream keepalive_timeout of 60 s, so that nginx is the one to close). */
#define BRD_FCGI_KEEP_IDLE_MS 75000

struct brd_fcgi_conn {
    int fd;                 /* the connection, -1 when none */
    int feed;               /* memfd: FCGX_Accept_r reads the checked head from it */
    char *allow;            /* FCGI_WEB_SERVER_ADDRS, or NULL: every peer */
    unsigned char *buf;     /* bytes read from fd, not yet used: buf[start, start+len) */
    size_t start, len;
    size_t run;             /* head phase: checked bytes buf[run, start) not yet fed */
    int64_t fed;            /* head phase: bytes written to feed */
    int request_id;
    bool keep;              /* this request asked for FCGI_KEEP_CONN */
    bool stdin_done;        /* its FCGI_STDIN stream was read to its end */
    bool broken;            /* a protocol or read error: never kept */
    uint32_t content_left;  /* of the FCGI_STDIN record being delivered */
    uint32_t padding_left;  /* of the last record read */
    int64_t idle_since_us;  /* when a kept connection last finished a request */
};

/* Ready to take connections: the buffer, the in-memory file, and
 * FCGI_WEB_SERVER_ADDRS read from the environment. */
int brd_fcgi_conn_init(struct brd_fcgi_conn *c, struct brd_error *err);

/* Closes the connection (if any) and frees everything. */
void brd_fcgi_conn_free(struct brd_fcgi_conn *c);

/* Takes a connection from the (non-blocking) listener; an idle kept
 * connection is let go for it.  0 when taken, else a negative errno:
 * -EAGAIN when another worker was faster, -ECONNABORTED also for a TCP
 * peer not in FCGI_WEB_SERVER_ADDRS (a comma-separated list of IPv4 and
 * IPv6 addresses; unset or empty: every peer). */
int brd_fcgi_conn_accept(struct brd_fcgi_conn *c, int listen_fd);

/* True when a connection is open (fresh or kept). */
bool brd_fcgi_conn_open(const struct brd_fcgi_conn *c);

/* True when bytes of a next request are already buffered (a front server
 * that sent it right behind the last one). */
bool brd_fcgi_conn_pending(const struct brd_fcgi_conn *c);

/* Reads and checks the next request's head and lets FCGX_Accept_r build
 * req from it (req as FCGX_InitRequest left it, or after
 * brd_fcgi_conn_end).  1: req is ready, its stdin is delivered from this
 * connection; 0: the peer closed the connection before a request (closed
 * here too); -1: refused — bad records, too large, too slow, a read error —
 * err says why, and the connection is closed without a response. */
int brd_fcgi_conn_begin(struct brd_fcgi_conn *c, FCGX_Request *req, struct brd_error *err);

/* Finishes req (FCGX_Finish_r: the rest of the response, FCGI_END_REQUEST)
 * and keeps the connection for the next request when may_keep, the front
 * server asked for it, stdin was read to its end and nothing went wrong;
 * else closes it — at once when all input was read, else with a lingering
 * close (shutdown, then read up to 2 s until the peer closes) so unread
 * input cannot reset a TCP connection before the response is read.
 * Returns true when kept. */
bool brd_fcgi_conn_end(struct brd_fcgi_conn *c, FCGX_Request *req, bool may_keep);

/* Closes the connection at once, if one is open. */
void brd_fcgi_conn_close(struct brd_fcgi_conn *c);

#endif
