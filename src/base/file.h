/* file.h — reading a whole file into memory, the one way every loader
 * (definitions, function sources, settings, CLI arguments) does it. */
#ifndef BRD_FILE_H
#define BRD_FILE_H

#include <stddef.h>

#include "error.h"

/* Reads path ("-" = standard input) into a new NUL-terminated buffer
 * (*buf, the caller frees; *len excludes the NUL).  Files larger than max
 * bytes (0 = no limit) are refused.  Errors are BRD_E_IO with the reason
 * ("cannot open: No such file or directory"); err->pos holds the errno. */
int brd_file_read(const char *path, size_t max, char **buf, size_t *len, struct brd_error *err);

#endif
