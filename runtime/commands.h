/* commands.h — the subcommands of the `braid` binary.
 *
 * Each takes the arguments after its own name (argv[0] is the subcommand
 * name) and returns the process exit status: 0 ok, 1 the work failed
 * (a validation or evaluation error), 2 bad usage or unparsable input.
 */
#ifndef BRD_COMMANDS_H
#define BRD_COMMANDS_H

/* The exit statuses a subcommand returns. */
#define BRD_CMD_EXIT_OK 0        /* done */
#define BRD_CMD_EXIT_FAILED 1    /* the work failed: invalid directory, evaluation error, ... */
#define BRD_CMD_EXIT_USAGE 2     /* bad usage or unparsable input */

/* One declaration per subcommand, defined in runtime/cmd_<name>.c. */
int brd_cmd_call(int argc, char **argv);
int brd_cmd_expr(int argc, char **argv);
int brd_cmd_check(int argc, char **argv);
int brd_cmd_run(int argc, char **argv);
int brd_cmd_serve(int argc, char **argv);
int brd_cmd_graph(int argc, char **argv);
int brd_cmd_path(int argc, char **argv);
int brd_cmd_test(int argc, char **argv);
int brd_cmd_studio(int argc, char **argv);

#endif
