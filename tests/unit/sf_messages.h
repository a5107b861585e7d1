/*
 * The verbatim Salesforce wire messages of tests/data/salesforce/ (one per
 * file, copied byte for byte from the reference; the fuzzers use them as
 * seeds), read by the unit tests instead of a copy in a C string, so a test
 * and the reference cannot drift apart. Header-only; include after cmocka.h.
 * Runs from the repository root, or from SFB_ROOT when the runner sets it.
 */
#ifndef SFB_TEST_SF_MESSAGES_H
#define SFB_TEST_SF_MESSAGES_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SF_MESSAGES_DIR "tests/data/salesforce"

/*
 * @returns the message of tests/data/salesforce/NAME: the file's bytes
 *          without the one final newline the files add to the reference's
 *          text, NUL-terminated, its length in *len when len is not NULL;
 *          free() it. A missing file fails the running test (never an empty
 *          pass).
 */
static inline char *sf_message(const char *name, size_t *len)
{
        const char *root = getenv("SFB_ROOT");
        char path[1024];
        FILE *fp;
        char *s;
        long n;

        snprintf(path, sizeof(path), "%s%s" SF_MESSAGES_DIR "/%s", root ? root : "",
                 root ? "/" : "", name);
        fp = fopen(path, "rb");
        if (!fp)
                fail_msg("%s: %s (run from the repository root or set SFB_ROOT)", path,
                         strerror(errno));
        assert_int_equal(fseek(fp, 0, SEEK_END), 0);
        n = ftell(fp);
        assert_true(n > 0);
        rewind(fp);
        s = calloc(1, (size_t)n + 1);
        assert_non_null(s);
        assert_int_equal(fread(s, 1, (size_t)n, fp), (size_t)n);
        fclose(fp);
        if (s[n - 1] == '\n')
                s[--n] = '\0';
        if (len)
                *len = (size_t)n;
        return s;
}

#endif
