/* proto.c — the frames of the pipe protocol (internal.h): building the
 * pool's, checking a child's headers and the results it sends; pure C, run
 * in the parent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "jsonutil.h"
#include "sandbox.h"

size_t brd_proto_payload(const struct brd_proto_hdr *h)
{
    size_t total = 0;
    for (int i = 0; i < 4; i++) {
        if (h->len[i] == BRD_PROTO_NONE)
            continue;
        if (SIZE_MAX - total < h->len[i])
            return SIZE_MAX;
        total += h->len[i];
    }
    return total;
}

static int append(char **buf, size_t *len, const void *data, size_t n)
{
    char *b = realloc(*buf, *len + n);
    if (!b)
        return -1;
    memcpy(b + *len, data, n);
    *buf = b;
    *len += n;
    return 0;
}

int brd_proto_append(char **buf, size_t *len, uint32_t type, uint64_t seq, int64_t arg, uint32_t aux,
                     const char *const parts[4], const uint32_t lens[4])
{
    struct brd_proto_hdr h = {.magic = BRD_PROTO_MAGIC, .type = type, .seq = seq, .arg = arg, .aux = aux};
    memcpy(h.len, lens, sizeof h.len);
    if (append(buf, len, &h, sizeof h) != 0)
        return -1;
    for (int i = 0; i < 4; i++)
        if (lens[i] != BRD_PROTO_NONE && lens[i] && append(buf, len, parts[i], lens[i]) != 0)
            return -1;
    return 0;
}

static bool reply_code_ok(int64_t code)
{
    return code == 0 || code == BRD_E_FUNCTION_ERROR || code == BRD_E_FUNCTION_MEMORY ||
           code == BRD_E_SANDBOX_VIOLATION || code == BRD_E_FUNCTION_TIMEOUT;
}

int brd_proto_check_reply(const struct brd_proto_hdr *h, size_t result_max, size_t output_max,
                          size_t traceback_max)
{
    if (h->magic != BRD_PROTO_MAGIC)
        return -1;
    if (h->type != BRD_PROTO_READY && h->type != BRD_PROTO_RESULT)
        return -1;
    if (!reply_code_ok(h->arg))
        return -1;
    for (int i = 0; i < 4; i++)
        if (h->len[i] == BRD_PROTO_NONE)
            return -1;
    /* An error message is short; a result is at most result_max (the
     * child checks too, this is the parent's own cap). */
    size_t first_max = h->arg == 0 && h->type == BRD_PROTO_RESULT ? result_max : BRD_ERROR_MSG_MAX;
    if (h->len[0] > first_max || h->len[1] > output_max || h->len[2] > traceback_max || h->len[3] != 0)
        return -1;
    return 0;
}

int brd_sandbox_check_result(const char *text, size_t len, size_t max,
                             struct json_object **value, struct brd_error *err)
{
    *value = NULL;
    if (len > max)
        return brd_error_set(err, BRD_E_FUNCTION_ERROR,
                             "the function's result is %zu bytes, over the limit of %zu bytes",
                             len, max);
    if (len == 0)
        return brd_error_set(err, BRD_E_FUNCTION_ERROR, "the function's result is empty");
    struct brd_error perr;
    if (brd_json_parse(text, len, value, &perr) != 0)
        return brd_error_set(err, BRD_E_FUNCTION_ERROR,
                             "the function's result is not valid JSON: %s", perr.msg);
    return 0;
}
