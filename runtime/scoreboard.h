/* scoreboard.h — what the master knows about its workers without asking
 * them: one shared-memory page set (mmap MAP_SHARED before fork) that
 * workers write with atomics and the master reads for supervision (stuck
 * requests), /status and /metrics.
 *
 * Who writes what: the master owns the slot's pid and generation (written
 * before fork) and the workflow table's names (written before forking the
 * workers that use them, so a worker only ever looks names up); a worker
 * owns everything else in its own slot and adds to the counters.  All
 * counters are monotonic and updated with relaxed atomics: readers may see
 * a request in the histogram a moment before it is in the totals, never a
 * torn value. */
#ifndef BRD_SCOREBOARD_H
#define BRD_SCOREBOARD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"

#define BRD_SB_SLOTS 640              /* workers alive at once, reloads included */
#define BRD_SB_WORKFLOWS 1024         /* distinct workflow names ever served */
#define BRD_SB_NCODES (BRD_E_USAGE + 1)
#define BRD_SB_NBUCKETS 17            /* finite bounds; one more counts the rest */
#define BRD_SB_UNROUTED 0             /* workflow index of requests no workflow matched */
#define BRD_SB_NO_WORKFLOW (-1)       /* a slot's workflow before its request is routed */

/* Bucket upper bounds in milliseconds (Prometheus "le" = these / 1000). */
extern const double brd_sb_bucket_ms[BRD_SB_NBUCKETS];

enum brd_sb_state {
    BRD_SB_FREE = 0,      /* no process */
    BRD_SB_STARTING,      /* forked, not serving yet */
    BRD_SB_IDLE,          /* waiting for a request */
    BRD_SB_BUSY,          /* answering one */
    BRD_SB_EXITING,       /* leaving its loop (drain, recycle, reload) */
};

struct brd_sb_slot {
    pid_t pid;                    /* master: 0 = free */
    uint32_t generation;          /* master: which load of the service it serves */
    uint32_t state;               /* enum brd_sb_state */
    int32_t workflow;             /* busy: workflow index, or BRD_SB_NO_WORKFLOW */
    uint64_t requests;            /* served by this process */
    int64_t busy_since_us;        /* CLOCK_MONOTONIC µs the current request started; 0 idle */
    int64_t ready_us;             /* when it first became idle; 0 not yet */
};

struct brd_sb_workflow {
    char name[72];                /* "" for BRD_SB_UNROUTED */
    uint64_t ok;                  /* 200s */
    uint64_t errors[BRD_SB_NCODES];        /* failures by code */
    uint64_t buckets[BRD_SB_NBUCKETS + 1]; /* durations, not cumulative */
    uint64_t sum_us;              /* total duration */
};

struct brd_scoreboard {
    uint64_t restarts;            /* workers replaced after dying unexpectedly */
    uint64_t recycles;            /* workers replaced after --max-requests */
    uint64_t timeouts;            /* workers killed past --request-timeout */
    uint64_t reloads;             /* successful reloads */
    uint64_t reload_failures;     /* reloads refused (the directory did not validate) */
    uint32_t nworkflows;          /* entries in use, BRD_SB_UNROUTED included */
    struct brd_sb_slot slots[BRD_SB_SLOTS];
    struct brd_sb_workflow workflows[BRD_SB_WORKFLOWS];
};

/* Maps a zeroed scoreboard shared with every process forked afterwards. */
int brd_scoreboard_new(struct brd_scoreboard **out, struct brd_error *err);
void brd_scoreboard_free(struct brd_scoreboard *sb);

/* Master: the index of the workflow called name, adding it if new; -1 when
 * the table is full (its requests are then counted as unrouted). */
int brd_scoreboard_workflow_add(struct brd_scoreboard *sb, const char *name);

/* Anyone: the index of name, or -1. */
int brd_scoreboard_workflow_find(const struct brd_scoreboard *sb, const char *name);

/* Worker: counts one request of workflow index wf (BRD_SB_UNROUTED when
 * none matched) that ended with code (BRD_OK for a 200). */
void brd_scoreboard_record(struct brd_scoreboard *sb, int wf, int code, int64_t duration_us);

/* The q-quantile (0..1) of a workflow's durations in ms, interpolated in
 * its bucket; -1 when it has no requests. */
double brd_scoreboard_quantile_ms(const struct brd_sb_workflow *w, double q);

/* Totals of a workflow: requests, and the failed ones. */
uint64_t brd_scoreboard_requests(const struct brd_sb_workflow *w);
uint64_t brd_scoreboard_errors(const struct brd_sb_workflow *w);

/* Relaxed atomic accessors for the shared fields. */
static inline uint64_t brd_sb_load64(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static inline int64_t brd_sb_loadi64(const int64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static inline uint32_t brd_sb_load32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static inline void brd_sb_add64(uint64_t *p, uint64_t v) { __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
static inline void brd_sb_store32(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static inline void brd_sb_storei64(int64_t *p, int64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

/* "idle", "busy", ... */
const char *brd_sb_state_name(uint32_t state);

#endif
