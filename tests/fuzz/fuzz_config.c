/*
 * libFuzzer target for the config loader: any bytes as a routing file.
 * Checks that loading never crashes or leaks, that a failure always says
 * why, and that a secret from the environment never reaches an error or a
 * warning.
 *
 * Build and run (from the repository root):
 *   make fuzz && build-fuzz/fuzz_config -max_total_time=60 /tmp/corpus \
 *       config tests/data/config tests/fuzz/corpus/fuzz_config
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "config.h"

#define PLANTED "PLANTED-S3CRET"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        /* What the corpus (tests/data/config, config/) refers to; the
         * secrets are planted so the check below can look for them. */
        setenv("SF_CLIENT_ID", "fuzz-client-id", 1);
        setenv("SF_CLIENT_SECRET", PLANTED "-client", 1);
        setenv("SF_USERNAME", "fuzz@example.com", 1);
        setenv("SF_PASSWORD", PLANTED "-pw", 1);
        setenv("SF_REFRESH_TOKEN", PLANTED "-rt", 1);
        /* The loader loads the key (make certs writes it; run from the
         * repository root): with no key every jwt input would stop there. */
        setenv("SF_PRIVATE_KEY_FILE",
               access("tests/certs/jwt.key", R_OK) == 0 ? "tests/certs/jwt.key" : "/dev/null", 1);
        setenv("SF_LOGIN_URL", "https://fuzz.my.salesforce.com", 1);
        setenv("SFSIM_URL", "http://127.0.0.1:1", 1);
        setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092", 1);
        return 0;
}

static int has(const char *in, size_t len, const char *needle)
{
        size_t n = strlen(needle), i;

        for (i = 0; i + n <= len; i++)
                if (memcmp(in + i, needle, n) == 0)
                        return 1;
        return 0;
}

/*
 * A secret reaches the loader only through its environment variable. When
 * every line naming that variable is exactly `KEY: ${VAR}` (KEY the secret
 * key), and nothing could make such a line part of another value (quotes,
 * block scalars) or spell the secret itself, no output may show it. Written
 * into a non-secret key (`channel: ${SF_PASSWORD}`) it is no longer treated
 * as a secret, and quoting it is fine, so such inputs are not judged.
 */
static int leaks(const char *in, size_t len, const char *out, const char *key, const char *var,
                 const char *value)
{
        char ref[64], keyed[96];
        const char *line = in, *end = in + len, *nl, *a, *b;
        int refs = 0;

        if (!out || !strstr(out, value) || has(in, len, "PLANTED") || memchr(in, '"', len) ||
            memchr(in, '\'', len) || memchr(in, '|', len) || memchr(in, '>', len) ||
            memchr(in, '\0', len))
                return 0;
        snprintf(ref, sizeof(ref), "${%s", var);
        snprintf(keyed, sizeof(keyed), "%s: ${%s}", key, var);
        for (; line < end; line = nl + 1) {
                if (!(nl = memchr(line, '\n', (size_t)(end - line))))
                        nl = end;
                if (!has(line, (size_t)(nl - line), ref))
                        continue;
                for (a = line; a < nl && *a == ' '; a++)
                        ;
                for (b = nl; b > a && (b[-1] == ' ' || b[-1] == '\r'); b--)
                        ;
                if ((size_t)(b - a) != strlen(keyed) || memcmp(a, keyed, strlen(keyed)) != 0)
                        return 0;
                refs++;
        }
        return refs > 0;
}

static int any_leak(const uint8_t *data, size_t size, const char *out)
{
        const char *in = (const char *)data;

        return leaks(in, size, out, "client_secret", "SF_CLIENT_SECRET", PLANTED "-client") ||
               leaks(in, size, out, "password", "SF_PASSWORD", PLANTED "-pw") ||
               leaks(in, size, out, "refresh_token", "SF_REFRESH_TOKEN", PLANTED "-rt");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char err[1024];
        struct config *cfg;
        size_t i;

        err[0] = '\0';
        cfg = config_load_string("fuzz.yaml", (const char *)data, size, err, sizeof(err));
        if (!cfg && !err[0])
                abort(); /* a failure without a reason */
        if (any_leak(data, size, err))
                abort();
        if (cfg) {
                for (i = 0; i < cfg->nwarnings; i++)
                        if (any_leak(data, size, cfg->warnings[i]))
                                abort();
                /* Exercise the lookup on what was loaded. */
                for (i = 0; i < cfg->nroutes; i++)
                        if (config_find_route(cfg, cfg->routes[i].channel) == NULL)
                                abort();
        }
        config_destroy(cfg);
        return 0;
}
