/* dirlist.c — listing a folder of a service directory (see dirlist.h). */
#include "dirlist.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/name.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_folder(const char *path, const struct dirent *de)
{
    if (de->d_type == DT_DIR)
        return true;
    if (de->d_type != DT_UNKNOWN && de->d_type != DT_LNK)
        return false;
    char full[4096];
    struct stat st;
    snprintf(full, sizeof full, "%s/%s", path, de->d_name);
    return stat(full, &st) == 0 && S_ISDIR(st.st_mode);
}

int brd_dir_names(const char *dir, const char *sub, const char *ext, char ***out, size_t *count,
                  struct brd_diags *d)
{
    *out = NULL;
    *count = 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    DIR *dp = opendir(path);
    if (!dp) {
        if (errno == ENOENT)
            return 0;
        return brd_diag_add(d, "%s/: cannot read: %s", sub, strerror(errno));
    }
    size_t cap = 0, extlen = ext ? strlen(ext) : 0;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(dp))) {
        size_t n = strlen(de->d_name);
        if (de->d_name[0] == '.')
            continue;
        if (ext ? n <= extlen || strcmp(de->d_name + n - extlen, ext) != 0 : !is_folder(path, de))
            continue;
        if (!brd_valid_name_n(de->d_name, n - extlen)) {
            rc = brd_diag_add(d, "%s/%s: the name must match [A-Za-z0-9_-]{1,64}", sub, de->d_name);
            continue;
        }
        if (*count == cap) {
            cap = cap ? cap * 2 : 16;
            char **grown = realloc(*out, cap * sizeof *grown);
            if (!grown) {
                rc = brd_diag_add(d, "out of memory");
                break;
            }
            *out = grown;
        }
        if (!((*out)[*count] = strndup(de->d_name, n - extlen))) {
            rc = brd_diag_add(d, "out of memory");
            break;
        }
        (*count)++;
    }
    closedir(dp);
    if (*count)
        qsort(*out, *count, sizeof **out, cmp_str);
    return rc;
}

void brd_dir_names_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}
