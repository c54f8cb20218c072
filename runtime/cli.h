/* cli.h — small helpers the subcommands share: reading files and the
 * `JSON|@FILE` arguments, printing errors with a caret under a position. */
#ifndef BRD_CLI_H
#define BRD_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "base/jsonutil.h"

/* Reads all of path ("-" = standard input) into a new NUL-terminated buffer
 * (*buf, owned by the caller, free()); the length excludes the NUL. */
int brd_cli_read_file(const char *path, char **buf, size_t *len, struct brd_error *err);

/* Parses an argument that is either JSON text or "@FILE" (FILE "-" = stdin).
 * *out is a new reference (NULL for JSON null). */
int brd_cli_json_arg(const char *arg, struct json_object **out, struct brd_error *err);

struct brd_service;

/* Initialises the function sandbox and loads the service directory dir.
 * On problems prints each to stderr and a count line "braid CMD: N
 * problems in DIR", and returns -1. */
int brd_cli_load_service(const char *cmd, const char *dir, struct brd_service **out);

/* True when s is "-h" or "--help". */
bool brd_cli_is_help(const char *s);

/* Prints "braid CMD: MESSAGE" to stderr; when the error has a position in
 * text, also prints the text and a caret under that byte. */
void brd_cli_print_error(const char *cmd, const struct brd_error *err,
                         const char *text, size_t text_len);

#endif
