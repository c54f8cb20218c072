/* studio_files.h — the Studio's view of a service directory's files (SPEC
 * section 11): every definition listed with its content and an etag, and
 * one file written or deleted at a time, guarded by the etag the page
 * loaded (If-Match), written atomically, JSON pretty-printed in its order.
 * Knows files and names only; validation and runs are studio_api.h. */
#ifndef BRD_STUDIO_FILES_H
#define BRD_STUDIO_FILES_H

#include <stddef.h>

#include "base/error.h"
#include "base/jsonutil.h"

/* The etag of a file: FNV-1a 64 of its bytes as 16 lower-case hex digits. */
#define BRD_STUDIO_ETAG_LEN 16
void brd_studio_etag(const char *data, size_t len, char out[BRD_STUDIO_ETAG_LEN + 1]);

/* One file of the API: KIND and NAME of /api/files/KIND/NAME, resolved. */
struct brd_studio_file {
    char rel[256];      /* its path in the service directory: "workflows/x.json" */
    char folder[200];   /* the folder it lives in: "workflows", "tests/x" */
    int json;           /* its content must be JSON (all kinds but functions) */
};

/* Resolves kind and name ("WORKFLOW/CASE" for tests).  0, or the status:
 * 404 for an unknown kind, 400 for a name outside [A-Za-z0-9_-]{1,64};
 * err says which. */
int brd_studio_file_resolve(const char *kind, const char *name, struct brd_studio_file *f,
                            struct brd_error *err);

/* GET /api/service's body for dir: {"apis": {name: {"content", "etag"}},
 * "datasources", "functions": {name: {"source", "settings",
 * "settings_etag", "etag"}}, "workflows", "layouts", "tests": {"WF/CASE":
 * ...}}.  A file that is not valid JSON has "content": null and "text":
 * its raw text.  NULL when out of memory. */
struct json_object *brd_studio_list(const char *dir);

/* PUT: writes body[0..len) as f in dir (a JSON kind pretty-printed with its
 * members in their order) through a temporary file in the same folder,
 * fsync'd and renamed over it; creates the folder when missing.  if_match
 * is the If-Match header (NULL when absent): it must name the current etag
 * of an existing file, and be absent for a new one.  0 with the new etag
 * in etag, or the status (400 not JSON, 409 conflict, 500 cannot write)
 * with err filled. */
int brd_studio_put(const char *dir, const struct brd_studio_file *f, const char *body, size_t len,
                   const char *if_match, char etag[BRD_STUDIO_ETAG_LEN + 1], struct brd_error *err);

/* DELETE: removes f from dir when if_match names its current etag (a tests
 * folder left empty goes too).  0, or the status (404 missing, 409
 * conflict or no If-Match, 500) with err filled. */
int brd_studio_delete(const char *dir, const struct brd_studio_file *f, const char *if_match,
                      struct brd_error *err);

#endif
