/*
 * token_file: the rotating refresh token kept across restarts: read back
 * as written, absent is not an error, a broken file is named, and a write
 * is 0600 and atomic (no temporary file left, the old one kept on failure).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "token_file.h"

static char dir[64];

static int setup(void **state)
{
        (void)state;
        snprintf(dir, sizeof(dir), "/tmp/sfb-token-file.XXXXXX");
        return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
        char cmd[128];

        (void)state;
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        return system(cmd) == 0 ? 0 : -1;
}

static void put(const char *path, const char *text)
{
        FILE *fp = fopen(path, "w");

        assert_non_null(fp);
        fputs(text, fp);
        fclose(fp);
}

static void write_then_read(void **state)
{
        char path[128], tmp[140], err[512], *tok = NULL;
        struct stat st;

        (void)state;
        snprintf(path, sizeof(path), "%s/rt", dir);
        assert_int_equal(token_file_read(path, &tok, err, sizeof(err)), 0);
        assert_null(tok);
        assert_int_equal(token_file_write(path, "5Aep861.first", err, sizeof(err)), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        assert_int_equal(access(tmp, F_OK), -1);
        assert_int_equal(token_file_read(path, &tok, err, sizeof(err)), 1);
        assert_string_equal(tok, "5Aep861.first");
        free(tok);
        /* Replaced, not appended; a leftover temporary file is no obstacle. */
        put(tmp, "junk");
        assert_int_equal(token_file_write(path, "5Aep861.second", err, sizeof(err)), 0);
        assert_int_equal(token_file_read(path, &tok, err, sizeof(err)), 1);
        assert_string_equal(tok, "5Aep861.second");
        free(tok);
        assert_int_equal(access(tmp, F_OK), -1);
}

static void hand_written_file(void **state)
{
        char path[128], err[512], *tok = NULL;

        (void)state;
        snprintf(path, sizeof(path), "%s/hand", dir);
        put(path, "  5Aep861.by-hand \r\n");
        assert_int_equal(token_file_read(path, &tok, err, sizeof(err)), 1);
        assert_string_equal(tok, "5Aep861.by-hand");
        free(tok);
}

static void broken_files_named(void **state)
{
        static const char *const texts[] = { "", "\n\n", "5Aep861.one\n5Aep861.two\n", "5Aep\x01x" };
        char path[128], err[512], *tok = NULL, big[TOKEN_FILE_MAX + 10];
        size_t i;

        (void)state;
        snprintf(path, sizeof(path), "%s/bad", dir);
        for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
                put(path, texts[i]);
                err[0] = '\0';
                assert_int_equal(token_file_read(path, &tok, err, sizeof(err)), -1);
                assert_null(tok);
                assert_non_null(strstr(err, path));
                /* Never the token itself. */
                assert_null(strstr(err, "5Aep861"));
        }
        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        put(path, big);
        assert_int_equal(token_file_read(path, &tok, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "longer than"));
        /* A directory is not a token file. */
        assert_int_equal(token_file_read(dir, &tok, err, sizeof(err)), -1);
        assert_non_null(strstr(err, dir));
}

static void write_failure_keeps_old(void **state)
{
        char path[160], err[512], *tok = NULL;

        (void)state;
        snprintf(path, sizeof(path), "%s/missing-dir/rt", dir);
        assert_int_equal(token_file_write(path, "5Aep861.x", err, sizeof(err)), -1);
        assert_non_null(strstr(err, "missing-dir"));
        assert_null(strstr(err, "5Aep861"));
        /* The target is a directory: the rename fails, the temporary file goes. */
        snprintf(path, sizeof(path), "%s/adir", dir);
        assert_int_equal(mkdir(path, 0700), 0);
        assert_int_equal(token_file_write(path, "5Aep861.y", err, sizeof(err)), -1);
        snprintf(path, sizeof(path), "%s/adir.tmp", dir);
        assert_int_equal(access(path, F_OK), -1);
        (void)tok;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(write_then_read, setup, teardown),
                cmocka_unit_test_setup_teardown(hand_written_file, setup, teardown),
                cmocka_unit_test_setup_teardown(broken_files_named, setup, teardown),
                cmocka_unit_test_setup_teardown(write_failure_keeps_old, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
