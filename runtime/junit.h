/* junit.h — a JUnit XML report of `braid test --junit FILE`: one
 * <testsuite> per workflow, one <testcase> per case, the first difference
 * as the failure's message — the format CI systems (GitLab, Jenkins,
 * GitHub's test reporters) show natively.
 */
#ifndef BRD_JUNIT_H
#define BRD_JUNIT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

struct brd_junit_case {
    char *suite, *name, *failure;   /* owned; failure NULL when the case passed */
    double seconds;
};

struct brd_junit {
    struct brd_junit_case *cases;
    size_t count, cap;
};

/* Adds a case (the strings are copied; failure may be NULL).  0, or -1 when out of memory. */
int brd_junit_add(struct brd_junit *j, const char *suite, const char *name, const char *failure, double seconds);

/* Writes the report to path (atomically: a temporary file renamed over it).
 * 0, or -1 with err (BRD_E_IO naming the file). */
int brd_junit_write(const struct brd_junit *j, const char *path, struct brd_error *err);

void brd_junit_free(struct brd_junit *j);

#endif
