/* junit.c — the JUnit XML report of `braid test` (see junit.h). */
#include "junit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int brd_junit_add(struct brd_junit *j, const char *suite, const char *name, const char *failure, double seconds)
{
    if (j->count == j->cap) {
        size_t n = j->cap ? j->cap * 2 : 16;
        struct brd_junit_case *grown = realloc(j->cases, n * sizeof *grown);
        if (!grown)
            return -1;
        j->cases = grown;
        j->cap = n;
    }
    struct brd_junit_case *c = &j->cases[j->count];
    c->suite = strdup(suite);
    c->name = strdup(name);
    c->failure = failure ? strdup(failure) : NULL;
    c->seconds = seconds;
    if (!c->suite || !c->name || (failure && !c->failure)) {
        free(c->suite);
        free(c->name);
        free(c->failure);
        return -1;
    }
    j->count++;
    return 0;
}

void brd_junit_free(struct brd_junit *j)
{
    for (size_t i = 0; i < j->count; i++) {
        free(j->cases[i].suite);
        free(j->cases[i].name);
        free(j->cases[i].failure);
    }
    free(j->cases);
    memset(j, 0, sizeof *j);
}

/* s with & < > " ' as entities; other control characters than tab and
 * newline (not allowed in XML 1.0) as '?'. */
static void xml_text(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default:
            fputc(*p < 0x20 && *p != '\n' && *p != '\t' ? '?' : *p, f);
        }
    }
}

static void write_suite(FILE *f, const struct brd_junit *j, size_t from, size_t to)
{
    size_t failures = 0;
    double secs = 0;
    for (size_t i = from; i < to; i++) {
        failures += j->cases[i].failure != NULL;
        secs += j->cases[i].seconds;
    }
    fputs("  <testsuite name=\"", f);
    xml_text(f, j->cases[from].suite);
    fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" time=\"%.3f\">\n", to - from, failures, secs);
    for (size_t i = from; i < to; i++) {
        const struct brd_junit_case *c = &j->cases[i];
        fputs("    <testcase classname=\"", f);
        xml_text(f, c->suite);
        fputs("\" name=\"", f);
        xml_text(f, c->name);
        fprintf(f, "\" time=\"%.3f\"", c->seconds);
        if (!c->failure) {
            fputs("/>\n", f);
            continue;
        }
        fputs(">\n      <failure message=\"", f);
        xml_text(f, c->failure);
        fputs("\" type=\"mismatch\">", f);
        xml_text(f, c->failure);
        fputs("</failure>\n    </testcase>\n", f);
    }
    fputs("  </testsuite>\n", f);
}

int brd_junit_write(const struct brd_junit *j, const char *path, struct brd_error *err)
{
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp)
        return brd_error_nomem(err);
    snprintf(tmp, n, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        brd_error_set(err, BRD_E_IO, "%s: cannot write: %s", path, strerror(errno));
        free(tmp);
        return -1;
    }
    size_t failures = 0;
    for (size_t i = 0; i < j->count; i++)
        failures += j->cases[i].failure != NULL;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<testsuites name=\"braid test\" tests=\"%zu\" failures=\"%zu\" errors=\"0\">\n",
            j->count, failures);
    /* The cases come grouped by workflow: one suite per run of equal names. */
    for (size_t from = 0; from < j->count;) {
        size_t to = from + 1;
        while (to < j->count && !strcmp(j->cases[to].suite, j->cases[from].suite))
            to++;
        write_suite(f, j, from, to);
        from = to;
    }
    fputs("</testsuites>\n", f);
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        brd_error_set(err, BRD_E_IO, "%s: cannot write: %s", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}
