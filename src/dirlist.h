/* dirlist.h — the sorted names in a folder of a service directory: the
 * definitions (apis/NAME.json, functions/NAME.py, ...) and the recorded
 * tests (tests/WORKFLOW/, tests/WORKFLOW/CASE.json).  Every name must be
 * a valid Braid name ([A-Za-z0-9_-]{1,64}); hidden entries are passed over.
 */
#ifndef BRD_DIRLIST_H
#define BRD_DIRLIST_H

#include <stddef.h>

#include "base/diag.h"

/* The sorted names of dir/sub/NAME<ext> (ext with its dot, e.g. ".json"),
 * or with ext NULL the sorted names of the folders in dir/sub.  A missing
 * dir/sub is an empty list; an entry whose name is not a valid name is a
 * problem added to d (named sub/entry).  Returns 0, or -1 when a problem
 * was added (the list holds the valid names either way). */
int brd_dir_names(const char *dir, const char *sub, const char *ext, char ***out, size_t *count,
                  struct brd_diags *d);

void brd_dir_names_free(char **names, size_t n);

#endif
