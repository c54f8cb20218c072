/* sql.h — running SQL APIs in a worker (SPEC section 2b): the connections
 * it keeps open per data source, parameters resolved and bound, deadlines,
 * the raw result, and what the trace shows of a call.
 *
 * The shape follows http_api.h so the engine treats both alike: start a
 * call, collect its result, free it.  SQLite calls finish inside
 * brd_sql_start (brd_sql_done is then true at once); PostgreSQL and MySQL
 * calls finish later: the engine polls brd_sql_poll_fd in its wait loop
 * and calls brd_sql_step until brd_sql_done.  Each data source has up to
 * its "pool" connections per worker; a call that finds them all busy waits
 * for one (until its deadline) and starts when one comes free.
 *
 * Ownership: a struct brd_sql owns its connections (closed by
 * brd_sql_free); a call belongs to its caller until brd_sql_call_free.
 * One struct brd_sql per process, created after fork.
 */
#ifndef BRD_SQL_H
#define BRD_SQL_H

#include <stdbool.h>
#include <stdint.h>

#include "api.h"
#include "base/error.h"
#include "base/jsonutil.h"

struct brd_sql;
struct brd_sql_call;

int brd_sql_new(struct brd_sql **out, struct brd_error *err);

/* Closes every connection, then frees q.  NULL is fine. */
void brd_sql_free(struct brd_sql *q);

struct brd_sql_args {
    const struct brd_api *api;           /* type sql; must outlive the call */
    struct json_object *explicit_params; /* the node's evaluated "params" (an object) or NULL */
    struct json_object *prev;            /* the previous output, for same-name mapping */
    int64_t deadline_us;                 /* absolute CLOCK_MONOTONIC µs: the node's budget end (<= 0: none) */
    int64_t workflow_deadline_us;        /* when the deadline that ran out is this one, the error is
                                            TIMEOUT, else DATASOURCE_TIMEOUT (<= 0: none) */
};

/* Resolves the parameters exactly as for HTTP APIs (brd_params_resolve:
 * same-name mapping, defaults, required → PARAM_MISSING, conversion →
 * BAD_REQUEST), then runs the statement on the worker's connection to its
 * data source (opened on first use), bounded by the earliest of the API's
 * timeout_ms, the node's budget and the workflow's deadline.  Inputs are
 * borrowed.  Returns -1 with err when nothing ran (parameters); otherwise
 * 0 with *out, whose outcome brd_sql_result gives. */
int brd_sql_start(struct brd_sql *q, const struct brd_sql_args *args, struct brd_sql_call **out,
                  struct brd_error *err);

/* True once the call has finished (at once, for SQLite). */
bool brd_sql_done(const struct brd_sql_call *c);

/* The socket a running call waits on and the poll(2) events it wants, or
 * -1 (waiting for a free connection, finished, or to be stepped at once). */
int brd_sql_poll_fd(const struct brd_sql_call *c, short *events);

/* The call's deadline (absolute CLOCK_MONOTONIC µs): step it then even
 * when its socket stays quiet. */
int64_t brd_sql_deadline(const struct brd_sql_call *c);

/* Advances a call after poll (revents as filled, 0 when its deadline
 * passed).  Finishing a call may start another one that waited for its
 * connection: check brd_sql_done of every call afterwards. */
void brd_sql_step(struct brd_sql_call *c, short revents);

/* Gives up on a call (running: stopped on the server and its connection
 * closed; waiting: taken off the queue) and frees it. */
void brd_sql_cancel(struct brd_sql_call *c);

/* For a finished call: 0 with *raw = {"data": [rows]} (+ "affected_rows")
 * (the reference passes to the caller), or -1 with err: DATASOURCE_ERROR
 * (connection, SQL error, more than max_rows rows), DATASOURCE_TIMEOUT,
 * or TIMEOUT (the workflow's deadline).  Messages start "api NAME:" and
 * never hold a DSN or password. */
int brd_sql_result(struct brd_sql_call *c, struct json_object **raw, struct brd_error *err);

/* For the trace: {"datasource": NAME, "sql": TEXT, "params": {name: bound
 * value}} — the data source by name only, values that came from
 * ${env.X} defaults shown as "<redacted>" (new reference; NULL when out of
 * memory). */
struct json_object *brd_sql_request_json(const struct brd_sql_call *c);

/* Rows the statement gave, and a write's affected rows (-1 for a read or
 * a failed call). */
int64_t brd_sql_rows(const struct brd_sql_call *c);
int64_t brd_sql_affected(const struct brd_sql_call *c);

void brd_sql_call_free(struct brd_sql_call *c);

#endif
