/*
 * The repeat limiter: one full line per kind and window, the rest counted
 * and summarised (issue 14: one answer of bad events wrote 3.7 million
 * lines). Windows are 10 s; no test here waits for one to close.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "log_limit.h"
#include "stderr_capture.h"

static size_t count_lines(const char *s, const char *needle)
{
        size_t n = 0;
        const char *line = s;

        while (*line) {
                const char *nl = strchr(line, '\n');
                size_t len = nl ? (size_t)(nl - line) : strlen(line);

                char buf[4200];

                snprintf(buf, sizeof(buf), "%.*s", (int)(len < 4100 ? len : 4100), line);
                if (strstr(buf, needle))
                        n++;
                line += len + (nl ? 1 : 0);
        }
        return n;
}

static void test_a_flood_is_one_line_and_a_count(void **state)
{
        const char *out;
        int written = 0, i;

        (void)state;
        capture_begin();
        for (i = 0; i < 50000; i++)
                written += log_msg_limited("unrouted", LOG_ERROR, "flood", "channel=/u/X%d n=%d", i % 7, i);
        log_limit_flush(0); /* the window is still open: nothing yet */
        out = capture_end();
        assert_int_equal(written, 1);
        assert_int_equal(count_lines(out, "msg=flood"), 1);
        assert_non_null(strstr(out, "n=0"));
        assert_int_equal(count_lines(out, "msg=log_suppressed"), 0);

        capture_begin();
        log_limit_flush(1);
        out = capture_end();
        assert_int_equal(count_lines(out, "msg=log_suppressed"), 1);
        assert_non_null(strstr(out, "event=flood key=unrouted count=49999 "));
}

static void test_kinds_are_counted_apart(void **state)
{
        const char *out;

        (void)state;
        capture_begin();
        assert_int_equal(log_msg_limited("too_large", LOG_WARN, "poison", "n=%d", 1), 1);
        assert_int_equal(log_msg_limited("unreadable", LOG_WARN, "poison", "n=%d", 2), 1);
        assert_int_equal(log_msg_limited("too_large", LOG_WARN, "other", "n=%d", 3), 1);
        assert_int_equal(log_msg_limited("too_large", LOG_WARN, "poison", "n=%d", 4), 0);
        log_limit_flush(1);
        out = capture_end();
        assert_int_equal(count_lines(out, "msg=poison"), 2);
        assert_int_equal(count_lines(out, "msg=other"), 1);
        assert_int_equal(count_lines(out, "msg=log_suppressed"), 1);
        assert_non_null(strstr(out, "event=poison key=too_large count=1 "));
}

/* More kinds than the table holds: the oldest is summarised as it goes, so
 * nothing held back is ever forgotten. */
static void test_an_evicted_kind_is_summarised(void **state)
{
        char key[32];
        const char *out;
        int i;

        (void)state;
        log_limit_flush(1);
        capture_begin();
        assert_int_equal(log_msg_limited("first", LOG_WARN, "evict", NULL), 1);
        assert_int_equal(log_msg_limited("first", LOG_WARN, "evict", NULL), 0);
        for (i = 0; i < LOG_LIMIT_KINDS + 4; i++) {
                snprintf(key, sizeof(key), "k%d", i);
                assert_int_equal(log_msg_limited(key, LOG_WARN, "evict", NULL), 1);
        }
        out = capture_end();
        assert_int_equal(count_lines(out, "msg=evict"), 1 + LOG_LIMIT_KINDS + 4);
        assert_non_null(strstr(out, "event=evict key=first count=1 "));
}

/* A line below the minimum level is neither written nor counted. */
static void test_below_the_level_is_nothing(void **state)
{
        const char *out;

        (void)state;
        log_limit_flush(1);
        log_setup(LOG_FORMAT_LOGFMT, LOG_WARN);
        capture_begin();
        assert_int_equal(log_msg_limited("dbg", LOG_INFO, "quiet", NULL), 0);
        assert_int_equal(log_msg_limited("dbg", LOG_INFO, "quiet", NULL), 0);
        log_limit_flush(1);
        out = capture_end();
        log_setup(LOG_FORMAT_LOGFMT, LOG_INFO);
        assert_string_equal(out, "");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_a_flood_is_one_line_and_a_count),
                cmocka_unit_test(test_kinds_are_counted_apart),
                cmocka_unit_test(test_an_evicted_kind_is_summarised),
                cmocka_unit_test(test_below_the_level_is_nothing),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
