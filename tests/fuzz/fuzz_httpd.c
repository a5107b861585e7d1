/*
 * libFuzzer target for the metrics listener's request parser: any bytes a
 * client of /metrics, /healthz or /readyz could send, judged by
 * httpd_parse_request() exactly as the listener judges them. The input is
 * copied to a buffer of its own size, so a read past len is an ASan report.
 * Checks the answer against what the request says: 200 only for a GET of a
 * served path, 0 (wait for more) only without a blank line and under the
 * size limit, every other answer a status the listener sends.
 *   make fuzz && build-fuzz/fuzz_httpd -max_total_time=60 tests/fuzz/corpus/fuzz_httpd
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int ok)
{
        if (!ok)
                abort();
}

static int blank_line(const char *p, size_t len)
{
        size_t i;

        for (i = 0; i + 1 < len; i++)
                if (p[i] == '\n' && (p[i + 1] == '\n' || (p[i + 1] == '\r' && i + 2 < len && p[i + 2] == '\n')))
                        return 1;
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        enum httpd_path path = (enum httpd_path)-1;
        char *req;
        int status, again;

        if (size > HTTPD_REQUEST_MAX + 16)
                return 0; /* the listener never holds more */
        req = malloc(size ? size : 1);
        if (!req)
                return 0;
        memcpy(req, data, size);
        status = httpd_parse_request(req, size, &path);
        switch (status) {
        case 0:
                fuzz_check(!memchr(req, '\0', size) && !blank_line(req, size) &&
                           size < HTTPD_REQUEST_MAX);
                break;
        case 200:
                fuzz_check(path == HTTPD_PATH_METRICS || path == HTTPD_PATH_HEALTHZ ||
                           path == HTTPD_PATH_READYZ);
                fuzz_check(size > 4 && memcmp(req, "GET /", 5) == 0);
                fuzz_check(!memchr(req, '\0', size));
                break;
        case 431:
                fuzz_check(size >= HTTPD_REQUEST_MAX && !blank_line(req, size));
                break;
        case 400:
        case 404:
        case 405:
                break;
        default:
                fuzz_check(0);
        }
        if (status != 200)
                fuzz_check(path == (enum httpd_path)-1); /* *path only set on 200 */
        /* Pure: the same bytes, the same answer. */
        again = httpd_parse_request(req, size, &path);
        fuzz_check(again == status);
        free(req);
        return 0;
}
