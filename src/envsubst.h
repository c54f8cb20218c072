/* envsubst.h — ${env.NAME} substitution for definitions (load time only). */
#ifndef BRD_ENVSUBST_H
#define BRD_ENVSUBST_H

#include <stdbool.h>
#include <stddef.h>

/* Substitutes ${env.NAME} in text from the environment ($${ writes a
 * literal ${; any other ${ is an error).  0 with *out (malloc'd) and *used
 * telling whether a variable was read, or -1 with a message in msg
 * ("environment variable USER_API_TOKEN is not set"). */
int brd_env_subst(const char *text, char **out, bool *used, char *msg, size_t msgsize);

#endif
