/* fcgi_conn.c — a worker's FastCGI connection, read and checked by braid
 * before libfcgi sees it (fcgi_conn.h). */
#include "fcgi_conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/clock.h"

/* FastCGI 1.0 (fastcgi.h is not installed by libfcgi-dev). */
enum {
    REC_BEGIN_REQUEST = 1,
    REC_ABORT_REQUEST = 2,
    REC_PARAMS = 4,
    REC_STDIN = 5,
    REC_GET_VALUES = 9,
    HEADER_LEN = 8,
    MAX_RECORD = HEADER_LEN + 0xffff + 0xff,
    KEEP_CONN = 1,
};

/* Room for the largest record, so that a whole record can be checked in
 * one place. */
#define BUF_CAP (MAX_RECORD + 1024)
#define LINGER_MS 2000

struct header {
    int version, type, id;
    uint32_t content, padding;
};

/* The connection whose stdin the fill procedure delivers (one per worker). */
static struct brd_fcgi_conn *reading;

static struct header parse_header(const unsigned char *p)
{
    return (struct header){p[0], p[1], (p[2] << 8) | p[3], (uint32_t)(p[4] << 8) | p[5], p[6]};
}

static int open_feed(void)
{
    return memfd_create("braid-fcgi-head", MFD_CLOEXEC);
}

int brd_fcgi_conn_init(struct brd_fcgi_conn *c, struct brd_error *err)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->feed = open_feed();
    if (c->feed < 0)
        return brd_error_set(err, BRD_E_IO, "memfd_create: %s", strerror(errno));
    c->buf = malloc(BUF_CAP);
    const char *allow = getenv("FCGI_WEB_SERVER_ADDRS");
    if (allow && *allow)
        c->allow = strdup(allow);
    if (!c->buf || (allow && *allow && !c->allow)) {
        brd_fcgi_conn_free(c);
        return brd_error_nomem(err);
    }
    return 0;
}

void brd_fcgi_conn_free(struct brd_fcgi_conn *c)
{
    brd_fcgi_conn_close(c);
    if (c->feed >= 0)
        close(c->feed);
    c->feed = -1;
    free(c->buf);
    free(c->allow);
    c->buf = NULL;
    c->allow = NULL;
}

bool brd_fcgi_conn_open(const struct brd_fcgi_conn *c)
{
    return c->fd >= 0;
}

bool brd_fcgi_conn_pending(const struct brd_fcgi_conn *c)
{
    return c->fd >= 0 && c->len > 0;
}

void brd_fcgi_conn_close(struct brd_fcgi_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->start = c->len = c->run = 0;
    c->content_left = c->padding_left = 0;
}

/* ---- who may connect ------------------------------------------------------- */

/* The peer's address as IPv4 (v4-mapped IPv6 included) or IPv6. */
static bool peer_matches(const char *entry, const struct sockaddr_storage *ss)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        return inet_pton(AF_INET, entry, &a4) == 1 && a4.s_addr == in->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET6, entry, &a6) == 1)
        return memcmp(&a6, &in6->sin6_addr, sizeof a6) == 0;
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && inet_pton(AF_INET, entry, &a4) == 1)
        return memcmp(&a4, &in6->sin6_addr.s6_addr[12], 4) == 0;
    return false;
}

/* FCGI_WEB_SERVER_ADDRS, as libfcgi reads it ("a,b,c"; blanks around an
 * entry are allowed), applied to IPv6 peers as well. */
static bool peer_allowed(const char *allow, const struct sockaddr_storage *ss)
{
    if (!allow)
        return true;
    const char *p = allow;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        size_t n = strcspn(p, ", \t");
        char entry[INET6_ADDRSTRLEN + 1];
        if (n > 0 && n < sizeof entry) {
            memcpy(entry, p, n);
            entry[n] = '\0';
            if (peer_matches(entry, ss))
                return true;
        }
        p += n;
    }
    return false;
}

int brd_fcgi_conn_accept(struct brd_fcgi_conn *c, int listen_fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    memset(&ss, 0, sizeof ss);
    /* Blocking (not inherited from the listener): reads wait in poll or
     * read, writes in libfcgi's write. */
    int fd = accept4(listen_fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
        int one = 1;
        /* Records go out whole; no reply is awaited (as libfcgi does). */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (!peer_allowed(c->allow, &ss)) {
            close(fd);
            return -ECONNABORTED;
        }
    }
    brd_fcgi_conn_close(c);
    c->fd = fd;
    c->idle_since_us = brd_now_us();
    return 0;
}

/* ---- reading ------------------------------------------------------------------ */

/* Writes the checked bytes buf[run, start) to the feed. */
static int feed_run(struct brd_fcgi_conn *c, struct brd_error *err)
{
    while (c->run < c->start) {
        ssize_t w = pwrite(c->feed, c->buf + c->run, c->start - c->run, c->fed);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return brd_error_set(err, BRD_E_IO, "writing the request head: %s",
                                 w < 0 ? strerror(errno) : "nothing written");
        c->run += (size_t)w;
        c->fed += w;
    }
    return 0;
}

/* Reads more bytes from the peer, after what is buffered (moved to the
 * front when the end of the buffer is reached; the head phase feeds its
 * checked bytes first, see need()).  deadline_us 0: wait as long as it
 * takes.  >0 bytes read; 0 at end of file; -1 with errno (ETIMEDOUT). */
static ssize_t read_more(struct brd_fcgi_conn *c, int64_t deadline_us)
{
    if (c->start + c->len == BUF_CAP || c->len == 0) {
        memmove(c->buf, c->buf + c->start, c->len);
        c->start = c->run = 0;
    }
    for (;;) {
        /* With a deadline: what has arrived, else wait in poll (a front
         * server sends the head at once: poll is rarely needed). */
        ssize_t n = recv(c->fd, c->buf + c->start + c->len, BUF_CAP - c->start - c->len,
                         deadline_us ? MSG_DONTWAIT : 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && deadline_us && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int64_t left = deadline_us - brd_now_us();
            if (left <= 0) {
                errno = ETIMEDOUT;
                return -1;
            }
            struct pollfd p = {.fd = c->fd, .events = POLLIN};
            if (poll(&p, 1, (int)((left + 999) / 1000)) < 0 && errno != EINTR)
                return -1;
            continue;
        }
        if (n > 0)
            c->len += (size_t)n;
        return n;
    }
}

/* Makes n contiguous bytes available at buf + start (n <= BUF_CAP).
 * 1 when they are; 0 at end of file first; -1 on an error (err set). */
static int need(struct brd_fcgi_conn *c, size_t n, int64_t deadline_us, bool feeding,
                struct brd_error *err)
{
    while (c->len < n) {
        if (feeding && feed_run(c, err) != 0)
            return -1;
        if (c->start + n > BUF_CAP) {
            memmove(c->buf, c->buf + c->start, c->len);
            c->start = c->run = 0;
        }
        ssize_t r = read_more(c, deadline_us);
        if (r == 0)
            return 0;
        if (r < 0)
            return brd_error_set(err, BRD_E_BAD_REQUEST, "%s",
                                 errno == ETIMEDOUT ? "the request head did not arrive in time"
                                                    : strerror(errno));
    }
    return 1;
}

static void consume(struct brd_fcgi_conn *c, size_t n)
{
    c->start += n;
    c->len -= n;
}

/* Drops the padding left over from the last record (the end of stdin). */
static int skip_padding(struct brd_fcgi_conn *c, int64_t deadline_us, struct brd_error *err)
{
    while (c->padding_left) {
        if (c->len == 0) {
            ssize_t r = read_more(c, deadline_us);
            if (r <= 0)
                return r == 0 ? 0 : brd_error_set(err, BRD_E_BAD_REQUEST, "%s", strerror(errno));
        }
        size_t k = c->len < c->padding_left ? c->len : c->padding_left;
        consume(c, k);
        c->padding_left -= (uint32_t)k;
    }
    return 1;
}

/* ---- the name-value pairs of FCGI_PARAMS ------------------------------------ */

/* Where the check is in the PARAMS stream, which may cut a pair (or a
 * length) anywhere between two records, as libfcgi allows. */
struct pairs {
    int phase;              /* 0, 1: the name's, the value's length; 2: the bytes */
    unsigned char len[4];
    int got;                /* bytes of the length being read */
    uint32_t name_len;
    uint64_t data_left;     /* of the name and value */
};

/* Checks content bytes of the PARAMS stream: every pair's name and value
 * must fit in what the stream may still hold (room, of BRD_FCGI_MAX_HEAD),
 * so libfcgi's malloc(name + value + 2) stays small. */
static int check_pairs(struct pairs *ps, const unsigned char *p, size_t n, uint64_t room,
                       struct brd_error *err)
{
    while (n > 0) {
        if (ps->phase == 2) {
            size_t k = ps->data_left < n ? (size_t)ps->data_left : n;
            ps->data_left -= k;
            p += k;
            n -= k;
            room -= k;
            if (ps->data_left == 0)
                ps->phase = 0;
            continue;
        }
        ps->len[ps->got++] = *p++;
        n--;
        room--;
        if (ps->got == 1 && !(ps->len[0] & 0x80)) {
            /* one-byte length */
        } else if (ps->got < 4) {
            continue;
        }
        uint32_t v = ps->got == 1 ? ps->len[0]
                                  : ((uint32_t)(ps->len[0] & 0x7f) << 24) |
                                        ((uint32_t)ps->len[1] << 16) |
                                        ((uint32_t)ps->len[2] << 8) | ps->len[3];
        ps->got = 0;
        if (ps->phase == 0) {
            ps->name_len = v;
            ps->phase = 1;
            continue;
        }
        ps->data_left = (uint64_t)ps->name_len + v;
        if (ps->data_left > room)
            return brd_error_set(err, BRD_E_BAD_REQUEST,
                                 "a FCGI_PARAMS pair announces %u + %u bytes, more than the "
                                 "request head may hold (%d bytes)",
                                 ps->name_len, v, BRD_FCGI_MAX_HEAD);
        ps->phase = ps->data_left ? 2 : 0;
    }
    return 0;
}

static const char *record_name(int type)
{
    switch (type) {
    case REC_BEGIN_REQUEST: return "FCGI_BEGIN_REQUEST";
    case REC_ABORT_REQUEST: return "FCGI_ABORT_REQUEST";
    case REC_PARAMS: return "FCGI_PARAMS";
    case REC_STDIN: return "FCGI_STDIN";
    case REC_GET_VALUES: return "FCGI_GET_VALUES";
    default: return "a record";
    }
}

/* Why a record cannot come next in the head (h is not what is expected). */
static int refuse_record(const struct header *h, bool begun, int request_id,
                         struct brd_error *err)
{
    if (!begun && h->type == REC_BEGIN_REQUEST)
        return brd_error_set(err, BRD_E_BAD_REQUEST, "a malformed FCGI_BEGIN_REQUEST");
    if (h->id == 0)
        return brd_error_set(err, BRD_E_BAD_REQUEST, "a management record (request id 0, "
                             "type %d) %s", h->type,
                             begun ? "inside a request" : "instead of FCGI_BEGIN_REQUEST");
    if (!begun)
        return brd_error_set(err, BRD_E_BAD_REQUEST, "%s (type %d) instead of "
                             "FCGI_BEGIN_REQUEST", record_name(h->type), h->type);
    if (h->id != request_id || h->type == REC_BEGIN_REQUEST)
        return brd_error_set(err, BRD_E_BAD_REQUEST, "a record for request %d inside request %d "
                             "(one request at a time per connection)", h->id, request_id);
    return brd_error_set(err, BRD_E_BAD_REQUEST, "%s (type %d) before the end of FCGI_PARAMS",
                         record_name(h->type), h->type);
}

/* Reads BEGIN_REQUEST and the PARAMS stream, checked, into the feed.
 * 1; 0 when the peer closed before sending a byte; -1 (err). */
static int read_head(struct brd_fcgi_conn *c, struct brd_error *err)
{
    int64_t deadline = brd_now_us() + (int64_t)BRD_FCGI_HEAD_TIMEOUT_MS * 1000;
    int rc = skip_padding(c, deadline, err);
    if (rc <= 0)
        return rc;
    c->run = c->start;
    c->fed = 0;
    uint64_t total = 0;
    struct pairs ps = {0};
    bool begun = false;
    for (;;) {
        rc = need(c, HEADER_LEN, deadline, true, err);
        if (rc == 0 && !begun && c->len == 0)
            return 0;
        if (rc <= 0)
            break;
        struct header h = parse_header(c->buf + c->start);
        if (h.version != 1)
            return brd_error_set(err, BRD_E_BAD_REQUEST, "FastCGI version %d", h.version);
        bool expected = begun ? h.type == REC_PARAMS && h.id == c->request_id
                              : h.type == REC_BEGIN_REQUEST && h.id != 0 && h.content == 8;
        if (!expected)
            return refuse_record(&h, begun, c->request_id, err);
        size_t whole = HEADER_LEN + h.content + h.padding;
        total += whole;
        if (total > BRD_FCGI_MAX_HEAD)
            return brd_error_set(err, BRD_E_BAD_REQUEST,
                                 "the request head (FCGI_PARAMS) is over %d bytes",
                                 BRD_FCGI_MAX_HEAD);
        rc = need(c, whole, deadline, true, err);
        if (rc <= 0)
            break;
        const unsigned char *body = c->buf + c->start + HEADER_LEN;
        if (!begun) {
            int role = (body[0] << 8) | body[1];
            if (role < 1 || role > 3) /* responder, authorizer, filter: what libfcgi knows */
                return brd_error_set(err, BRD_E_BAD_REQUEST, "FastCGI role %d", role);
            c->request_id = h.id;
            c->keep = body[2] & KEEP_CONN;
            begun = true;
        } else if (h.content == 0) {
            if (ps.phase != 0 || ps.got != 0)
                return brd_error_set(err, BRD_E_BAD_REQUEST,
                                     "a FCGI_PARAMS pair is cut by the end of the stream");
            consume(c, whole);
            return feed_run(c, err) == 0 ? 1 : -1;
        } else if (check_pairs(&ps, body, h.content, BRD_FCGI_MAX_HEAD - total + h.content,
                               err) != 0) {
            return -1;
        }
        consume(c, whole);
    }
    if (rc == 0)
        return brd_error_set(err, BRD_E_BAD_REQUEST, "the connection ended inside the "
                             "request head");
    return -1;
}

/* As libfcgi's SetError: the first error stays, the stream ends. */
static void stream_error(FCGX_Stream *s, int code)
{
    if (s->FCGI_errno == 0)
        s->FCGI_errno = code;
    s->isClosed = 1;
    s->stop = s->wrNext = s->rdNext;
}

/* The reader's fill procedure for stdin: the next content bytes of this
 * request's FCGI_STDIN records, straight from the connection's buffer (the
 * caller has consumed what was delivered before), or its end. */
static void fill_stdin(FCGX_Stream *s)
{
    struct brd_fcgi_conn *c = reading;
    if (!c || c->fd < 0) {
        stream_error(s, FCGX_CALL_SEQ_ERROR);
        return;
    }
    struct brd_error err;
    for (;;) {
        if (c->content_left > 0) {
            if (c->len == 0) {
                ssize_t r = read_more(c, 0);
                if (r <= 0) {
                    c->broken = true;
                    stream_error(s, r == 0 ? FCGX_PROTOCOL_ERROR : errno);
                    return;
                }
            }
            size_t k = c->len < c->content_left ? c->len : c->content_left;
            s->rdNext = s->stopUnget = c->buf + c->start;
            s->stop = s->wrNext = s->rdNext + k;
            consume(c, k);
            c->content_left -= (uint32_t)k;
            return;
        }
        if (c->padding_left > 0 && skip_padding(c, 0, &err) <= 0) {
            c->broken = true;
            stream_error(s, FCGX_PROTOCOL_ERROR);
            return;
        }
        if (need(c, HEADER_LEN, 0, false, &err) <= 0) {
            c->broken = true;
            stream_error(s, FCGX_PROTOCOL_ERROR);
            return;
        }
        struct header h = parse_header(c->buf + c->start);
        /* Management records (FCGI_GET_VALUES), FCGI_ABORT_REQUEST, other
         * request ids: never handed on, the request ends here. */
        if (h.version != 1 || h.type != REC_STDIN || h.id != c->request_id) {
            c->broken = true;
            stream_error(s, FCGX_PROTOCOL_ERROR);
            return;
        }
        consume(c, HEADER_LEN);
        c->content_left = h.content;
        c->padding_left = h.padding;
        if (h.content == 0) {
            /* Its padding is dropped before the next request. */
            c->stdin_done = true;
            s->isClosed = 1;
            s->stop = s->wrNext = s->rdNext;
            return;
        }
    }
}

int brd_fcgi_conn_begin(struct brd_fcgi_conn *c, FCGX_Request *req, struct brd_error *err)
{
    c->keep = c->stdin_done = c->broken = false;
    c->content_left = 0;
    if (c->feed < 0 && (c->feed = open_feed()) < 0) {
        brd_fcgi_conn_close(c);
        return brd_error_set(err, BRD_E_IO, "memfd_create: %s", strerror(errno));
    }
    int rc = read_head(c, err);
    if (rc <= 0) {
        brd_fcgi_conn_close(c);
        return rc;
    }
    /* libfcgi reads the checked head from the feed: keepConnection so that
     * FCGX_Accept_r's opening FCGX_Finish_r leaves ipcFd open, no listening
     * socket so that it can never accept on its own. */
    req->ipcFd = c->feed;
    req->keepConnection = 1;
    req->listen_sock = -1;
    rc = lseek(c->feed, 0, SEEK_SET) == 0 ? FCGX_Accept_r(req) : -errno;
    if (rc != 0) {
        /* Not expected (the head was checked): libfcgi closes what it read
         * from on the way out. */
        if (req->ipcFd < 0)
            c->feed = -1;
        req->ipcFd = -1;
        brd_fcgi_conn_close(c);
        return brd_error_set(err, BRD_E_INTERNAL, "libfcgi refused the checked request head (%d)",
                             rc);
    }
    /* A rare large head leaves no large file behind (on failure the file
     * stays: it is only ever read up to the head just written). */
    if (c->fed > 65536 && ftruncate(c->feed, 0) != 0) {
    }
    req->ipcFd = c->fd;
    req->in->fillBuffProc = fill_stdin;
    reading = c;
    return 1;
}

/* shutdown, then read until the peer closes or LINGER_MS pass. */
static void lingering_close(struct brd_fcgi_conn *c)
{
    if (shutdown(c->fd, SHUT_WR) == 0) {
        int64_t deadline = brd_now_us() + LINGER_MS * 1000;
        for (;;) {
            int64_t left = deadline - brd_now_us();
            struct pollfd p = {.fd = c->fd, .events = POLLIN};
            if (left <= 0 || poll(&p, 1, (int)((left + 999) / 1000)) <= 0)
                break;
            if (read(c->fd, c->buf, BUF_CAP) <= 0)
                break;
        }
    }
    brd_fcgi_conn_close(c);
}

bool brd_fcgi_conn_end(struct brd_fcgi_conn *c, FCGX_Request *req, bool may_keep)
{
    /* libfcgi closes the connection itself only after an error (a failed
     * write, a broken stdin) — then at once, except with input left unread. */
    req->keepConnection = 1;
    req->detached = c->stdin_done || c->broken;
    FCGX_Finish_r(req);
    reading = NULL;
    if (req->ipcFd < 0) {
        c->fd = -1;
        brd_fcgi_conn_close(c);
        return false;
    }
    req->ipcFd = -1;
    if (may_keep && c->keep && c->stdin_done && !c->broken) {
        c->idle_since_us = brd_now_us();
        return true;
    }
    if (c->stdin_done || c->broken)
        brd_fcgi_conn_close(c);
    else
        lingering_close(c);
    return false;
}
