/* bench_jsonpath.c — ns and heap allocations per JSONPath evaluation over a
 * generated ~100 KB document, each beside a hand-written json-c baseline
 * measured in the same run. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsonpath.h"

/* Allocation counting: this binary defines the allocator entry points and
 * forwards them to glibc's, so every malloc/calloc/realloc made by json-c,
 * PCRE2 or Braid is seen. */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

static unsigned long allocs;

void *malloc(size_t n)
{
    allocs++;
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    allocs++;
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    allocs++;
    return __libc_realloc(p, n);
}

void free(void *p)
{
    __libc_free(p);
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

#define RECORDS 1000

/* {"data":[{"id":0,"name":"user0","age":..,"active":..,"tags":[..],
 *  "address":{"city":..,"zip":..}}, ...], "meta":{"count":..,"id":"meta"}} */
static struct json_object *make_doc(void)
{
    struct json_object *doc = json_object_new_object(), *data = json_object_new_array();
    char buf[64];
    for (int i = 0; i < RECORDS; i++) {
        struct json_object *r = json_object_new_object(), *tags = json_object_new_array();
        struct json_object *addr = json_object_new_object();
        brd_json_add(r, "id", json_object_new_int(i));
        snprintf(buf, sizeof buf, "user%d", i);
        brd_json_add(r, "name", json_object_new_string(buf));
        brd_json_add(r, "age", json_object_new_int(18 + (i * 7) % 50));
        brd_json_add(r, "active", json_object_new_boolean(i % 3 != 0));
        brd_json_append(tags, json_object_new_string(i % 2 ? "odd" : "even"));
        brd_json_append(tags, json_object_new_string("member"));
        brd_json_add(r, "tags", tags);
        snprintf(buf, sizeof buf, "city%d", i % 37);
        brd_json_add(addr, "city", json_object_new_string(buf));
        snprintf(buf, sizeof buf, "%05d", (i * 7919) % 100000);
        brd_json_add(addr, "zip", json_object_new_string(buf));
        brd_json_add(r, "address", addr);
        brd_json_append(data, r);
    }
    brd_json_add(doc, "data", data);
    struct json_object *meta = json_object_new_object();
    brd_json_add(meta, "count", json_object_new_int(RECORDS));
    brd_json_add(meta, "id", json_object_new_string("meta"));
    brd_json_add(doc, "meta", meta);
    return doc;
}

/* ---- hand-written baselines (what a C programmer would write) ------------ */

static struct json_object *out_vals[4 * RECORDS];
static size_t out_n;

static void base_first_id(struct json_object *doc)
{
    struct json_object *data, *id;
    out_n = 0;
    if (json_object_object_get_ex(doc, "data", &data) &&
        json_object_object_get_ex(json_object_array_get_idx(data, 0), "id", &id))
        out_vals[out_n++] = id;
}

static void base_filter(struct json_object *doc)
{
    struct json_object *data;
    out_n = 0;
    if (!json_object_object_get_ex(doc, "data", &data))
        return;
    size_t n = json_object_array_length(data);
    for (size_t i = 0; i < n; i++) {
        struct json_object *r = json_object_array_get_idx(data, i), *age, *name;
        if (json_object_object_get_ex(r, "age", &age) && json_object_get_int(age) > 30 &&
            json_object_object_get_ex(r, "name", &name) &&
            strcmp(json_object_get_string(name), "x") != 0)
            out_vals[out_n++] = name;
    }
}

static void collect_ids(struct json_object *v)
{
    if (json_object_is_type(v, json_type_object)) {
        struct json_object *id;
        if (json_object_object_get_ex(v, "id", &id))
            out_vals[out_n++] = id;
        json_object_object_foreach(v, key, child) {
            (void)key;
            collect_ids(child);
        }
    } else if (json_object_is_type(v, json_type_array)) {
        size_t n = json_object_array_length(v);
        for (size_t i = 0; i < n; i++)
            collect_ids(json_object_array_get_idx(v, i));
    }
}

static void base_desc_ids(struct json_object *doc)
{
    out_n = 0;
    collect_ids(doc);
}

/* ---- measurement -------------------------------------------------------------- */

struct figure {
    double ns;
    double allocs;
    size_t count;
};

/* Runs fn until at least 0.3 s have passed (after a warm-up) and returns
 * the mean time and allocation count per call. */
#define MEASURE(result, count_expr, call)                                   \
    do {                                                                    \
        for (int w_ = 0; w_ < 20; w_++) { call; }                           \
        unsigned long iters_ = 0, a0_ = allocs;                             \
        double t0_ = now_ns(), t_;                                          \
        do {                                                                \
            for (int k_ = 0; k_ < 50; k_++) { call; }                       \
            iters_ += 50;                                                   \
            t_ = now_ns() - t0_;                                            \
        } while (t_ < 3e8);                                                 \
        (result).ns = t_ / (double)iters_;                                  \
        (result).allocs = (double)(allocs - a0_) / (double)iters_;          \
        (result).count = (count_expr);                                      \
    } while (0)

int main(void)
{
    struct json_object *doc = make_doc();
    size_t doc_len;
    brd_json_compact(doc, &doc_len);
    printf("document: %d records, %zu bytes of JSON\n\n", RECORDS, doc_len);

    static const char *const queries[] = {
        "$.data[0].id",
        "$.data[?@.age > 30 && @.name != 'x'].name",
        "$..id",
    };
    void (*const baselines[])(struct json_object *) = {base_first_id, base_filter, base_desc_ids};
    static const char *const baseline_names[] = {
        "json-c get_ex x3", "json-c loop over data", "json-c recursive walk",
    };

    struct brd_nodelist *list = brd_nodelist_new();
    struct brd_error err;
    printf("%-44s %12s %10s %8s   %-22s %10s %8s  %s\n", "query", "eval ns", "allocs", "matches",
           "baseline", "ns", "allocs", "ratio");
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
        struct brd_jsonpath *q;
        if (brd_jsonpath_compile(queries[i], strlen(queries[i]), &q, &err) != 0) {
            fprintf(stderr, "bench: %s: %s\n", queries[i], err.msg);
            return 1;
        }
        struct figure ours, paths, base;
        MEASURE(ours, brd_nodelist_count(list), brd_jsonpath_eval(q, doc, list, 0, &err));
        MEASURE(paths, brd_nodelist_count(list),
                brd_jsonpath_eval(q, doc, list, BRD_JSONPATH_PATHS, &err));
        MEASURE(base, out_n, baselines[i](doc));
        if (ours.count != base.count) {
            fprintf(stderr, "bench: %s selected %zu nodes, the baseline %zu\n", queries[i],
                    ours.count, base.count);
            return 1;
        }
        printf("%-44s %12.1f %10.2f %8zu   %-22s %10.1f %8.2f  %.2fx\n", queries[i], ours.ns,
               ours.allocs, ours.count, baseline_names[i], base.ns, base.allocs, ours.ns / base.ns);
        printf("%-44s %12.1f %10.2f %8zu\n", "  same, with BRD_JSONPATH_PATHS", paths.ns,
               paths.allocs, paths.count);
        if (brd_jsonpath_is_singular(q)) {
            struct figure val;
            struct json_object *v = NULL;
            MEASURE(val, 1, (brd_jsonpath_value(q, doc, &v, &err), json_object_put(v)));
            printf("%-44s %12.1f %10.2f %8d\n", "  same, brd_jsonpath_value (direct walk)", val.ns,
                   val.allocs, 1);
        }
        brd_jsonpath_free(q);
    }
    /* Compile cost, for scale (not per evaluation). */
    struct figure comp;
    struct brd_jsonpath *cq = NULL;
    MEASURE(comp, 1, (brd_jsonpath_compile(queries[1], strlen(queries[1]), &cq, &err),
                      brd_jsonpath_free(cq)));
    printf("\ncompile+free of the filter query: %.1f ns, %.2f allocs\n", comp.ns, comp.allocs);

    brd_nodelist_free(list);
    json_object_put(doc);
    return 0;
}
