/*
 * libFuzzer target for ${VAR} expansion. The first input byte picks the
 * output ceiling (so the limit is hit often); the rest is the text. A fake
 * environment has short, empty, '$'-holding and huge values.
 *
 * Build and run (from the repository root):
 *   make fuzz && build-fuzz/fuzz_expand -max_total_time=60 /tmp/corpus tests/fuzz/corpus/fuzz_expand
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "expand.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char huge[EXPAND_MAX + 2];

static const char *fuzz_lookup(const char *name, void *opaque)
{
        (void)opaque;
        if (strcmp(name, "A") == 0)
                return "alpha";
        if (strcmp(name, "E") == 0)
                return "";
        if (strcmp(name, "D") == 0)
                return "${A}$$";
        if (strcmp(name, "SECRET") == 0)
                return "PLANTED-S3CRET";
        if (strcmp(name, "H") == 0) {
                if (!huge[0])
                        memset(huge, 'h', sizeof(huge) - 1);
                return huge;
        }
        return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char err[256];
        size_t max, len = 0;
        char *out;

        if (size < 1)
                return 0;
        max = data[0] == 0xff ? EXPAND_MAX : data[0];
        err[0] = '\0';
        out = expand_vars((const char *)data + 1, size - 1, max, fuzz_lookup, NULL, &len, err,
                          sizeof(err));
        if (out) {
                if (len > max || out[len] != '\0')
                        abort();
                /* Without any '$' the text comes back unchanged. */
                if (!memchr(data + 1, '$', size - 1) && (len != size - 1 || memcmp(out, data + 1, len)))
                        abort();
                free(out);
        } else if (!err[0] || strstr(err, "PLANTED-S3CRET")) {
                /* A message may name a variable (a name has no '-'), never
                 * show a value or the text around it. */
                abort();
        }
        return 0;
}
