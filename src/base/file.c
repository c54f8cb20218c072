/* file.c — reading whole files (see file.h). */
#include "file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int brd_file_read(const char *path, size_t max, char **buf, size_t *len, struct brd_error *err)
{
    *buf = NULL;
    *len = 0;
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        int e = errno;
        brd_error_set(err, BRD_E_IO, "cannot open: %s", strerror(e));
        if (err)
            err->pos = e;
        return -1;
    }
    size_t cap = 4096, n = 0;
    char *data = malloc(cap);
    int rc = 0;
    while (data) {
        if (n + 1 >= cap) {
            char *bigger = realloc(data, cap * 2);
            if (!bigger) {
                rc = brd_error_nomem(err);
                break;
            }
            data = bigger;
            cap *= 2;
        }
        size_t got = fread(data + n, 1, cap - n - 1, f);
        n += got;
        if (max && n > max) {
            rc = brd_error_set(err, BRD_E_IO, "larger than %zu bytes", max);
            break;
        }
        if (got == 0)
            break;
    }
    if (!data)
        rc = brd_error_nomem(err);
    else if (rc == 0 && ferror(f))
        rc = brd_error_set(err, BRD_E_IO, "cannot read: %s", strerror(errno));
    if (f != stdin)
        fclose(f);
    if (rc != 0) {
        free(data);
        return -1;
    }
    data[n] = '\0';
    *buf = data;
    *len = n;
    return 0;
}
