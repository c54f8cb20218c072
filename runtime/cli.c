/* cli.c — helpers shared by the subcommands (see cli.h). */
#include "cli.h"

#include "base/file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int brd_cli_read_file(const char *path, char **buf, size_t *len, struct brd_error *err)
{
    if (brd_file_read(path, 0, buf, len, err) != 0) {
        if (err)
            err->pos = -1;
        return brd_error_prefix(err, "%s", path);
    }
    return 0;
}

int brd_cli_json_arg(const char *arg, struct json_object **out, struct brd_error *err)
{
    *out = NULL;
    if (arg[0] == '@') {
        char *text;
        size_t len;
        if (brd_cli_read_file(arg + 1, &text, &len, err) != 0)
            return -1;
        int rc = brd_json_parse(text, len, out, err);
        free(text);
        if (rc != 0)
            brd_error_prefix(err, "%s", arg + 1);
        return rc;
    }
    return brd_json_parse(arg, strlen(arg), out, err);
}

bool brd_cli_is_help(const char *s)
{
    return strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0;
}

void brd_cli_print_error(const char *cmd, const struct brd_error *err,
                         const char *text, size_t text_len)
{
    fprintf(stderr, "braid %s: %s\n", cmd, err->msg);
    if (!text || err->pos < 0 || (size_t)err->pos > text_len)
        return;
    /* Show the text on one line (control characters as '?') and a caret
     * under the byte; UTF-8 continuation bytes take no column. */
    fputs("  ", stderr);
    for (size_t i = 0; i < text_len; i++) {
        unsigned char c = (unsigned char)text[i];
        fputc(c < 0x20 || c == 0x7f ? '?' : c, stderr);
    }
    fputs("\n  ", stderr);
    for (long i = 0; i < err->pos; i++) {
        unsigned char c = (unsigned char)text[i];
        if ((c & 0xC0) != 0x80)
            fputc(' ', stderr);
    }
    fputs("^\n", stderr);
}
