/* studio_api.h — what the Studio asks of the engine (SPEC section 11):
 * the directory's problems, as `braid check` finds them, each split into
 * the file, node and field it names; and a Test run of one saved workflow
 * with its trace and the API and SQL nodes' raw transfers (so the page can
 * save the run as a recorded test case, section 12).  Each call loads the
 * directory afresh: the Studio always answers for what is on disk. */
#ifndef BRD_STUDIO_API_H
#define BRD_STUDIO_API_H

#include "base/diag.h"
#include "base/error.h"
#include "base/jsonutil.h"
#include "fnrun.h"

/* One load-time message ("workflows/x.json: node A: params: ...") of the
 * service directory dir as {"file", "node", "field", "message"}: file
 * "workflows/x.json" (relative to dir even when the message gives its full
 * path), node "A", field "params" (its first part names the panel field:
 * "branches[0].next"), message the rest; each of file, node and field null
 * when the message does not name one.  A new reference, NULL when out of
 * memory. */
struct json_object *brd_studio_problem(const char *dir, const char *msg);

/* Every problem of the directory dir as saved: the loader's (data sources,
 * APIs, functions through runner, workflows) and the recorded tests'.
 * *errors is a new array (empty when valid).  0, or -1 out of memory. */
int brd_studio_check(const char *dir, const struct brd_fn_runner *runner, struct json_object **errors);

/* POST /api/run/WORKFLOW: loads dir, runs workflow with input (an object)
 * and the trace on, recording every API and SQL node's transfer.  Returns
 * the HTTP status with *body (a new reference): 200 {"result" | "error",
 * "trace", "recorded"}; 422 {"errors": [...]} when dir does not validate;
 * 404 {"error"} for an unknown workflow; 500 with err filled (no body). */
int brd_studio_run(const char *dir, const struct brd_fn_runner *runner, const char *workflow,
                   struct json_object *input, struct json_object **body, struct brd_error *err);

#endif
