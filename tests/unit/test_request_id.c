/* test_request_id.c — request ids (exec.h) and the cached pid they and the
 * log lines use (base/selfpid.h): unique, 32 lowercase hex digits, and
 * never the parent's sequence again in a forked child (the worker is a
 * fork of the master, each with its own ids). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/selfpid.h"
#include "exec.h"

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void ids_are_unique_lowercase_hex(void **state)
{
    (void)state;
    enum { N = 20000 };
    char (*ids)[33] = calloc(N, sizeof *ids);
    assert_non_null(ids);
    for (int i = 0; i < N; i++) {
        brd_request_id_new(ids[i]);
        assert_int_equal(strlen(ids[i]), 32);
        assert_int_equal(strspn(ids[i], "0123456789abcdef"), 32);
    }
    qsort(ids, N, sizeof *ids, cmp_id);
    for (int i = 1; i < N; i++)
        assert_string_not_equal(ids[i - 1], ids[i]);
    free(ids);
}

static void self_pid_follows_fork(void **state)
{
    (void)state;
    assert_int_equal(brd_self_pid(), getpid());
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        char ok = brd_self_pid() == getpid() && brd_self_pid() != getppid() ? 'y' : 'n';
        _exit(write(fd[1], &ok, 1) == 1 ? 0 : 1);
    }
    char got = 0;
    assert_int_equal(read(fd[0], &got, 1), 1);
    assert_int_equal(got, 'y');
    int st;
    assert_int_equal(waitpid(child, &st, 0), child);
    assert_int_equal(brd_self_pid(), getpid());
    close(fd[0]);
    close(fd[1]);
}

/* The child's first id and the parent's next one would be equal if the
 * child went on with the parent's key and counter. */
static void a_forked_child_draws_its_own_ids(void **state)
{
    (void)state;
    char warm[33];
    brd_request_id_new(warm);
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        char id[33];
        brd_request_id_new(id);
        _exit(write(fd[1], id, 33) == 33 ? 0 : 1);
    }
    char mine[33], theirs[33];
    brd_request_id_new(mine);
    assert_int_equal(read(fd[0], theirs, 33), 33);
    int st;
    assert_int_equal(waitpid(child, &st, 0), child);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_int_equal(strlen(theirs), 32);
    assert_string_not_equal(mine, theirs);
    assert_string_not_equal(warm, theirs);
    close(fd[0]);
    close(fd[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ids_are_unique_lowercase_hex),
        cmocka_unit_test(self_pid_follows_fork),
        cmocka_unit_test(a_forked_child_draws_its_own_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
