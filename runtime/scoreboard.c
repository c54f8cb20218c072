/* scoreboard.c — the shared-memory scoreboard (scoreboard.h). */
#include "scoreboard.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

/* Fine enough at the low end for p50 of a fast workflow, wide enough for
 * the 30 s default request timeout. */
const double brd_sb_bucket_ms[BRD_SB_NBUCKETS] = {
    0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000,
};

int brd_scoreboard_new(struct brd_scoreboard **out, struct brd_error *err)
{
    void *p = mmap(NULL, sizeof(struct brd_scoreboard), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return brd_error_set(err, BRD_E_NOMEM, "cannot map the scoreboard: %s", strerror(errno));
    struct brd_scoreboard *sb = p; /* anonymous mappings start zeroed */
    sb->nworkflows = 1;            /* [BRD_SB_UNROUTED] has the empty name */
    *out = sb;
    return 0;
}

void brd_scoreboard_free(struct brd_scoreboard *sb)
{
    if (sb)
        munmap(sb, sizeof *sb);
}

int brd_scoreboard_workflow_find(const struct brd_scoreboard *sb, const char *name)
{
    uint32_t n = brd_sb_load32(&sb->nworkflows);
    for (uint32_t i = 1; i < n && i < BRD_SB_WORKFLOWS; i++)
        if (strcmp(sb->workflows[i].name, name) == 0)
            return (int)i;
    return -1;
}

int brd_scoreboard_workflow_add(struct brd_scoreboard *sb, const char *name)
{
    int i = brd_scoreboard_workflow_find(sb, name);
    if (i >= 0)
        return i;
    uint32_t n = sb->nworkflows;
    if (n >= BRD_SB_WORKFLOWS || strlen(name) >= sizeof sb->workflows[n].name)
        return -1;
    memcpy(sb->workflows[n].name, name, strlen(name) + 1);
    /* Publish the count after the name is in place. */
    brd_sb_store32(&sb->nworkflows, n + 1);
    return (int)n;
}

void brd_scoreboard_record(struct brd_scoreboard *sb, int wf, int code, int64_t duration_us)
{
    if (wf < 0 || wf >= BRD_SB_WORKFLOWS)
        wf = BRD_SB_UNROUTED;
    struct brd_sb_workflow *w = &sb->workflows[wf];
    if (duration_us < 0)
        duration_us = 0;
    double ms = (double)duration_us / 1000.0;
    int b = 0;
    while (b < BRD_SB_NBUCKETS && ms > brd_sb_bucket_ms[b])
        b++;
    brd_sb_add64(&w->buckets[b], 1);
    brd_sb_add64(&w->sum_us, (uint64_t)duration_us);
    if (code == 0)
        brd_sb_add64(&w->ok, 1);
    else
        brd_sb_add64(&w->errors[code > 0 && code < BRD_SB_NCODES ? code : BRD_E_INTERNAL], 1);
}

uint64_t brd_scoreboard_errors(const struct brd_sb_workflow *w)
{
    uint64_t n = 0;
    for (int c = 0; c < BRD_SB_NCODES; c++)
        n += brd_sb_load64(&w->errors[c]);
    return n;
}

uint64_t brd_scoreboard_requests(const struct brd_sb_workflow *w)
{
    return brd_sb_load64(&w->ok) + brd_scoreboard_errors(w);
}

double brd_scoreboard_quantile_ms(const struct brd_sb_workflow *w, double q)
{
    uint64_t counts[BRD_SB_NBUCKETS + 1], total = 0;
    for (int b = 0; b <= BRD_SB_NBUCKETS; b++)
        total += counts[b] = brd_sb_load64(&w->buckets[b]);
    if (total == 0)
        return -1;
    double rank = q * (double)total, seen = 0;
    for (int b = 0; b <= BRD_SB_NBUCKETS; b++) {
        if (counts[b] == 0)
            continue;
        double lo = b == 0 ? 0 : brd_sb_bucket_ms[b - 1];
        if (b == BRD_SB_NBUCKETS)
            return lo; /* beyond the last bound: all we know is "more than" */
        if (seen + (double)counts[b] >= rank) {
            double hi = brd_sb_bucket_ms[b];
            double f = ((rank - seen) / (double)counts[b]);
            return lo + (hi - lo) * (f < 0 ? 0 : f);
        }
        seen += (double)counts[b];
    }
    return brd_sb_bucket_ms[BRD_SB_NBUCKETS - 1];
}

const char *brd_sb_state_name(uint32_t state)
{
    switch (state) {
    case BRD_SB_STARTING: return "starting";
    case BRD_SB_IDLE: return "idle";
    case BRD_SB_BUSY: return "busy";
    case BRD_SB_EXITING: return "exiting";
    default: return "free";
    }
}
