/* params.h — declared parameters of APIs and workflows (SPEC sections 2 and 4):
 * loading a "params" declaration and converting values to declared types.
 *
 * Ownership: a loaded struct brd_params owns its names and defaults
 * (brd_params_free releases them).  Every *out below is a new reference.
 * JSON null counts as "no value" for a declared parameter everywhere: it
 * lets a default fill in and makes a required parameter missing.
 */
#ifndef BRD_PARAMS_H
#define BRD_PARAMS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/diag.h"
#include "base/error.h"
#include "base/jsonutil.h"

enum brd_ptype { BRD_PT_STRING, BRD_PT_INT, BRD_PT_NUMBER, BRD_PT_BOOL, BRD_PT_OBJECT, BRD_PT_ARRAY, BRD_PT_ANY };
enum brd_pin { BRD_IN_PATH, BRD_IN_QUERY, BRD_IN_HEADER, BRD_IN_BODY };

struct brd_param {
    char *name;
    enum brd_ptype type;
    enum brd_pin in;             /* BRD_IN_QUERY for workflow params (unused there) */
    bool required;
    bool has_default;
    struct json_object *def;     /* owned, already converted to type; NULL = JSON null */
    bool secret;                 /* the default came from ${env.X}: traces redact the value */
};

struct brd_params {
    struct brd_param *items;     /* in declaration order */
    size_t count;
};

/* Loads a "params" declaration object (decl NULL = no parameters).
 * with_in: APIs (field "in" allowed; default_in is used when it is
 * absent — query for GET/DELETE, body otherwise); workflows pass false.
 * Each member is {"type", "required", "default", "in"}; "type" defaults to
 * "any".  Every problem is added to d as "WHERE: params.NAME: message";
 * loading continues past errors so all of them are reported.
 * Returns 0 with *out filled, or -1 (*out then empty). */
int brd_params_load(struct json_object *decl, bool with_in, enum brd_pin default_in,
                    const char *where, struct brd_params *out, struct brd_diags *d);

/* The same for a SQL API (SPEC section 2b): no "in" (a parameter is bound
 * to its :name in the statement), names of A-Z a-z 0-9 _ only, string
 * defaults with ${env.X} substituted as for HTTP APIs. */
int brd_params_load_sql(struct json_object *decl, const char *where, struct brd_params *out,
                        struct brd_diags *d);

void brd_params_free(struct brd_params *ps);

/* The declared parameter called name, or NULL. */
const struct brd_param *brd_params_find(const struct brd_params *ps, const char *name);

/* Converts v (borrowed, not null) to p->type: strings as they come in
 * query strings ("7" → 7 for int, "2.5" → 2.5 for number, "true"/"false"
 * for bool, JSON text for object and array — and a string that is not a
 * JSON array becomes a one-element array), numbers to their JSON text for
 * string, an integral double to int.  Anything else → -1 with
 * BRD_E_BAD_REQUEST: `parameter 'uid': expected int, got "abc"`.
 * v NULL (JSON null) converts only for type any. */
int brd_param_convert(const struct brd_param *p, struct json_object *v, struct json_object **out,
                      struct brd_error *err);

/* A workflow request: *out = a new object holding input's members with every
 * declared parameter converted and defaults filled in; a missing (or null)
 * required one → BRD_E_BAD_REQUEST `missing required parameter 'uid'`.
 * Undeclared members pass through unchanged.  input must be an object
 * (else BRD_E_BAD_REQUEST). */
int brd_params_apply(const struct brd_params *ps, struct json_object *input,
                     struct json_object **out, struct brd_error *err);

/* An API call's parameter values (SPEC section 5, "Same-name mapping"): a
 * declared parameter the node does not set in explicit_params takes the
 * first-level field of the same name from prev (when prev is an object);
 * no value → the default; still none and required → BRD_E_PARAM_MISSING
 * `api get_user: required parameter 'id' has no value`.  Values are
 * converted with brd_param_convert (failure → BRD_E_BAD_REQUEST, prefixed
 * "api NAME").  Members of explicit_params that are not declared are
 * ignored.  Inputs are borrowed; *out is a new object name → converted
 * value holding only the parameters that have one. */
int brd_params_resolve(const struct brd_params *ps, const char *api_name, struct json_object *explicit_params,
                       struct json_object *prev, struct json_object **out, struct brd_error *err);

/* "string", "int", "number", "bool", "object", "array", "any". */
const char *brd_ptype_name(enum brd_ptype t);

/* "path", "query", "header", "body". */
const char *brd_pin_name(enum brd_pin in);

#endif
