/* studio_files.c — the Studio's file store over a service directory:
 * listing with etags, guarded atomic writes and deletes (see studio_files.h). */
#include "studio_files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "base/name.h"
#include "dirlist.h"

void brd_studio_etag(const char *data, size_t len, char out[BRD_STUDIO_ETAG_LEN + 1])
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)data[i];
        h *= 0x100000001b3ULL;
    }
    snprintf(out, BRD_STUDIO_ETAG_LEN + 1, "%016llx", (unsigned long long)h);
}

/* The kinds of /api/files/KIND: the folder, the extension, whether JSON. */
static const struct kind {
    const char *name, *folder, *ext;
    int json;
} kinds[] = {
    {"apis", "apis", ".json", 1},
    {"datasources", "datasources", ".json", 1},
    {"workflows", "workflows", ".json", 1},
    {"layouts", "layouts", ".json", 1},
    {"functions", "functions", ".py", 0},
    {"function-settings", "functions", ".json", 1},
    {"tests", "tests", ".json", 1},
};

int brd_studio_file_resolve(const char *kind, const char *name, struct brd_studio_file *f,
                            struct brd_error *err)
{
    const struct kind *k = NULL;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (!strcmp(kinds[i].name, kind))
            k = &kinds[i];
    if (!k) {
        brd_error_set(err, BRD_E_NOT_FOUND, "unknown kind \"%.64s\" (one of apis, datasources, workflows, "
                      "layouts, functions, function-settings, tests)", kind);
        return 404;
    }
    const char *slash = strchr(name, '/');
    bool tests = !strcmp(k->name, "tests");
    bool ok = tests ? slash && brd_valid_name_n(name, (size_t)(slash - name)) && brd_valid_name(slash + 1)
                    : brd_valid_name(name);
    if (!ok) {
        brd_error_set(err, BRD_E_BAD_REQUEST, "%s: the name must be %s of 1 to %d of A-Z a-z 0-9 _ -",
                      k->name, tests ? "WORKFLOW/CASE, each" : "", BRD_NAME_MAX);
        return 400;
    }
    if (tests)
        snprintf(f->folder, sizeof f->folder, "tests/%.*s", (int)(slash - name), name);
    else
        snprintf(f->folder, sizeof f->folder, "%s", k->folder);
    snprintf(f->rel, sizeof f->rel, "%s/%s%s", f->folder, tests ? slash + 1 : name, k->ext);
    f->json = k->json;
    return 0;
}

/* Reads dir/rel: 1 with the bytes (owned), 0 when it does not exist, -1
 * on any other failure (err filled). */
static int read_existing(const char *dir, const char *rel, char **buf, size_t *len, struct brd_error *err)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    *buf = NULL;
    *len = 0;
    if (brd_file_read(path, 0, buf, len, err) == 0)
        return 1;
    if (err && err->pos == ENOENT)
        return 0;
    brd_error_prefix(err, "%s", rel);
    return -1;
}

/* ---- listing ----------------------------------------------------------- */

/* Adds a JSON file's members to entry: content_key: the parsed JSON and
 * etag_key: its etag, or content_key: null and text_key: the raw text when
 * it does not parse (nothing the page edits is hidden). */
static int add_json_file(struct json_object *entry, const char *content_key, const char *text_key,
                         const char *etag_key, const char *buf, size_t len)
{
    char etag[BRD_STUDIO_ETAG_LEN + 1];
    brd_studio_etag(buf, len, etag);
    struct json_object *doc = NULL;
    struct brd_error perr;
    int rc = 0;
    if (brd_json_parse(buf, len, &doc, &perr) == 0) {
        rc |= brd_json_add(entry, content_key, doc);
    } else {
        rc |= brd_json_add(entry, content_key, NULL);
        rc |= brd_json_add(entry, text_key, json_object_new_string_len(buf, (int)len));
    }
    rc |= brd_json_add(entry, etag_key, json_object_new_string(etag));
    return rc;
}

/* Lists every NAME of dir/folder/NAME.json into out[prefix + NAME]. */
static int list_json_folder(const char *dir, const char *folder, const char *prefix, struct json_object *out)
{
    char **names = NULL;
    size_t n = 0;
    struct brd_diags ignored = {0};   /* invalid names cannot be edited here: passed over */
    brd_dir_names(dir, folder, ".json", &names, &n, &ignored);
    int rc = ignored.nomem ? -1 : 0;
    brd_diags_free(&ignored);
    for (size_t i = 0; i < n && !rc; i++) {
        char rel[300], key[160];
        snprintf(rel, sizeof rel, "%s/%s.json", folder, names[i]);
        snprintf(key, sizeof key, "%s%s", prefix, names[i]);
        char *buf;
        size_t len;
        struct brd_error err;
        brd_error_clear(&err);
        if (read_existing(dir, rel, &buf, &len, &err) != 1)
            continue;   /* gone or unreadable since it was listed */
        struct json_object *entry = json_object_new_object();
        rc |= !entry ? -1 : add_json_file(entry, "content", "text", "etag", buf, len);
        rc |= brd_json_add(out, key, entry);
        free(buf);
    }
    brd_dir_names_free(names, n);
    return rc;
}

/* functions: {name: {"source", "settings", "settings_etag", "etag"}}. */
static int list_functions(const char *dir, struct json_object *out)
{
    char **names = NULL;
    size_t n = 0;
    struct brd_diags ignored = {0};
    brd_dir_names(dir, "functions", ".py", &names, &n, &ignored);
    int rc = ignored.nomem ? -1 : 0;
    brd_diags_free(&ignored);
    for (size_t i = 0; i < n && !rc; i++) {
        char rel[300], etag[BRD_STUDIO_ETAG_LEN + 1];
        snprintf(rel, sizeof rel, "functions/%s.py", names[i]);
        char *buf, *sbuf;
        size_t len, slen;
        struct brd_error err;
        brd_error_clear(&err);
        if (read_existing(dir, rel, &buf, &len, &err) != 1)
            continue;
        struct json_object *entry = json_object_new_object();
        if (!entry) {
            free(buf);
            rc = -1;
            break;
        }
        brd_studio_etag(buf, len, etag);
        rc |= brd_json_add(entry, "source", json_object_new_string_len(buf, (int)len));
        free(buf);
        snprintf(rel, sizeof rel, "functions/%s.json", names[i]);
        if (read_existing(dir, rel, &sbuf, &slen, &err) == 1) {
            rc |= add_json_file(entry, "settings", "settings_text", "settings_etag", sbuf, slen);
            free(sbuf);
        } else {
            rc |= brd_json_add(entry, "settings", NULL);
            rc |= brd_json_add(entry, "settings_etag", NULL);
        }
        rc |= brd_json_add(entry, "etag", json_object_new_string(etag));
        rc |= brd_json_add(out, names[i], entry);
    }
    brd_dir_names_free(names, n);
    return rc;
}

/* tests: {"WF/CASE": {"content", "etag"}} over every tests/WF folder. */
static int list_tests(const char *dir, struct json_object *out)
{
    char **wfs = NULL;
    size_t n = 0;
    struct brd_diags ignored = {0};
    brd_dir_names(dir, "tests", NULL, &wfs, &n, &ignored);
    int rc = ignored.nomem ? -1 : 0;
    brd_diags_free(&ignored);
    for (size_t i = 0; i < n && !rc; i++) {
        char folder[100], prefix[80];
        snprintf(folder, sizeof folder, "tests/%s", wfs[i]);
        snprintf(prefix, sizeof prefix, "%s/", wfs[i]);
        rc |= list_json_folder(dir, folder, prefix, out);
    }
    brd_dir_names_free(wfs, n);
    return rc;
}

struct json_object *brd_studio_list(const char *dir)
{
    static const char *const json_kinds[] = {"apis", "datasources", "workflows", "layouts"};
    struct json_object *all = json_object_new_object();
    if (!all)
        return NULL;
    int rc = 0;
    for (size_t i = 0; i < sizeof json_kinds / sizeof json_kinds[0] && !rc; i++) {
        struct json_object *o = json_object_new_object();
        rc |= !o || list_json_folder(dir, json_kinds[i], "", o);
        rc |= brd_json_add(all, json_kinds[i], o);
    }
    struct json_object *fns = json_object_new_object(), *tests = json_object_new_object();
    rc |= !fns || list_functions(dir, fns);
    rc |= brd_json_add(all, "functions", fns);
    rc |= !tests || list_tests(dir, tests);
    rc |= brd_json_add(all, "tests", tests);
    if (rc) {
        json_object_put(all);
        return NULL;
    }
    return all;
}

/* ---- writing ----------------------------------------------------------- */

/* If-Match against the file's current state (cur NULL: it does not exist):
 * 0 when the write may go on, else 409 with err filled.  The header's
 * value may be quoted or weak (W/"..."): the page echoes what it got. */
static int precondition(const char *rel, const char *cur_etag, const char *if_match, struct brd_error *err)
{
    if (!cur_etag && !if_match)
        return 0;
    if (!cur_etag) {
        brd_error_set(err, BRD_E_BAD_REQUEST, "%s: does not exist (any more): it was deleted since it "
                      "was loaded; reload, or save it as a new file (no If-Match)", rel);
        return 409;
    }
    if (!if_match) {
        brd_error_set(err, BRD_E_BAD_REQUEST, "%s: already exists; send its etag in If-Match to change "
                      "it", rel);
        return 409;
    }
    const char *v = if_match;
    if (!strncmp(v, "W/", 2))
        v += 2;
    size_t n = strlen(v);
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        v++;
        n -= 2;
    }
    if (n != strlen(cur_etag) || strncmp(v, cur_etag, n) != 0) {
        brd_error_set(err, BRD_E_BAD_REQUEST, "%s: changed since it was loaded (etag %s, If-Match %.40s); "
                      "reload it", rel, cur_etag, if_match);
        return 409;
    }
    return 0;
}

/* mkdir -p dir/folder (folder has at most one '/'). */
static int make_folder(const char *dir, const char *folder, struct brd_error *err)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, folder);
    for (char *p = path + strlen(dir) + 1;; p++) {
        if (*p == '/' || !*p) {
            char c = *p;
            *p = '\0';
            if (mkdir(path, 0755) != 0 && errno != EEXIST)
                return brd_error_set(err, BRD_E_IO, "%s: cannot create the folder: %s", folder,
                                     strerror(errno));
            *p = c;
            if (!c)
                return 0;
        }
    }
}

static void sync_folder(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);   /* best effort: the rename is already done */
        close(fd);
    }
}

/* Writes text to dir/rel through dir/folder/.NAME.tmpPID: written, fsync'd,
 * renamed over rel, the folder fsync'd.  A hidden name, so a crash's
 * leftover is never loaded as a definition. */
static int write_atomic(const char *dir, const struct brd_studio_file *f, const char *text, size_t len,
                        struct brd_error *err)
{
    if (make_folder(dir, f->folder, err) != 0)
        return -1;
    char path[4400], tmp[4500], folder[4400];
    snprintf(path, sizeof path, "%s/%s", dir, f->rel);
    snprintf(folder, sizeof folder, "%s/%s", dir, f->folder);
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp%ld", folder, strrchr(f->rel, '/') + 1, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return brd_error_set(err, BRD_E_IO, "%s: cannot write: %s", f->rel, strerror(errno));
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, text + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            break;
        done += (size_t)w;
    }
    int bad = done < len || fsync(fd) != 0;
    int saved = errno;
    bad |= close(fd) != 0;
    if (bad || rename(tmp, path) != 0) {
        if (!bad)
            saved = errno;
        unlink(tmp);
        return brd_error_set(err, BRD_E_IO, "%s: cannot write: %s", f->rel, strerror(saved));
    }
    sync_folder(folder);
    return 0;
}

int brd_studio_put(const char *dir, const struct brd_studio_file *f, const char *body, size_t len,
                   const char *if_match, char etag[BRD_STUDIO_ETAG_LEN + 1], struct brd_error *err)
{
    char *text = NULL;
    const char *out = body;
    size_t outlen = len;
    if (f->json) {
        struct json_object *doc = NULL;
        if (brd_json_parse(body, len, &doc, err) != 0) {
            brd_error_prefix(err, "%s: the body is not valid JSON", f->rel);
            return 400;
        }
        text = brd_json_pretty(doc);
        json_object_put(doc);
        if (!text) {
            brd_error_nomem(err);
            return 500;
        }
        out = text;
        outlen = strlen(text);
    }
    char *cur;
    size_t curlen;
    int exists = read_existing(dir, f->rel, &cur, &curlen, err);
    int status = exists < 0 ? 500 : 0;
    if (!status) {
        char cur_etag[BRD_STUDIO_ETAG_LEN + 1];
        if (exists)
            brd_studio_etag(cur, curlen, cur_etag);
        status = precondition(f->rel, exists ? cur_etag : NULL, if_match, err);
    }
    free(cur);
    if (!status && write_atomic(dir, f, out, outlen, err) != 0)
        status = 500;
    if (!status)
        brd_studio_etag(out, outlen, etag);
    free(text);
    return status;
}

int brd_studio_delete(const char *dir, const struct brd_studio_file *f, const char *if_match,
                      struct brd_error *err)
{
    char *cur;
    size_t curlen;
    int exists = read_existing(dir, f->rel, &cur, &curlen, err);
    if (exists < 0)
        return 500;
    if (!exists) {
        brd_error_set(err, BRD_E_NOT_FOUND, "%s: no such file", f->rel);
        return 404;
    }
    char cur_etag[BRD_STUDIO_ETAG_LEN + 1];
    brd_studio_etag(cur, curlen, cur_etag);
    free(cur);
    if (!if_match) {
        brd_error_set(err, BRD_E_BAD_REQUEST, "%s: send its etag in If-Match to delete it", f->rel);
        return 409;
    }
    int status = precondition(f->rel, cur_etag, if_match, err);
    if (status)
        return status;
    char path[4400], folder[4400];
    snprintf(path, sizeof path, "%s/%s", dir, f->rel);
    snprintf(folder, sizeof folder, "%s/%s", dir, f->folder);
    if (unlink(path) != 0) {
        brd_error_set(err, BRD_E_IO, "%s: cannot delete: %s", f->rel, strerror(errno));
        return 500;
    }
    sync_folder(folder);
    /* A case folder left empty would name a workflow that may be gone too. */
    if (!strncmp(f->folder, "tests/", 6) && rmdir(folder) == 0) {
        snprintf(folder, sizeof folder, "%s/tests", dir);
        sync_folder(folder);
    }
    return 0;
}
