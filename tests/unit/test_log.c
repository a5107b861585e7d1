/*
 * log: one line per call, logfmt and JSON renderings of the same pairs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* Run fn with stderr captured; returns what it wrote (static buffer). */
static const char *capture(void (*fn)(void))
{
        static char out[8192];
        FILE *tmp = tmpfile();
        int saved = dup(2);
        size_t n;

        assert_non_null(tmp);
        dup2(fileno(tmp), 2);
        fn();
        dup2(saved, 2);
        close(saved);
        rewind(tmp);
        n = fread(out, 1, sizeof(out) - 1, tmp);
        out[n] = '\0';
        fclose(tmp);
        return out;
}

static void emit_reauth(void)
{
        log_msg(LOG_WARN, "recovery", "cause=%s count=%d err=\"%s\"", "auth_invalid", 3,
                "401::Authentication invalid\nsecond \"line\"");
}

static void emit_debug(void)
{
        log_msg(LOG_DEBUG, "noise", "x=1");
}

static void logfmt_line(void **state)
{
        const char *out;

        (void)state;
        log_setup(LOG_FORMAT_LOGFMT, LOG_INFO);
        out = capture(emit_reauth);
        assert_non_null(strstr(out, " level=warn msg=recovery cause=auth_invalid count=3 err=\"401::Authentication invalid second "));
        assert_int_equal(strncmp(out, "ts=", 3), 0);
        /* Exactly one line, the embedded newline folded. */
        assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
}

static void json_line_parses(void **state)
{
        const char *out;
        cJSON *obj;

        (void)state;
        log_setup(LOG_FORMAT_JSON, LOG_INFO);
        out = capture(emit_reauth);
        obj = cJSON_Parse(out);
        assert_non_null(obj);
        assert_string_equal(cJSON_GetObjectItem(obj, "level")->valuestring, "warn");
        assert_string_equal(cJSON_GetObjectItem(obj, "msg")->valuestring, "recovery");
        assert_string_equal(cJSON_GetObjectItem(obj, "cause")->valuestring, "auth_invalid");
        assert_true(cJSON_IsNumber(cJSON_GetObjectItem(obj, "count")));
        assert_int_equal(cJSON_GetObjectItem(obj, "count")->valueint, 3);
        assert_string_equal(cJSON_GetObjectItem(obj, "err")->valuestring,
                            "401::Authentication invalid second \"line\"");
        cJSON_Delete(obj);
}

static void emit_huge(void)
{
        char big[3000];

        /* Quotes and control bytes escape to several bytes each in JSON. */
        memset(big, '"', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        big[10] = '\x01';
        log_msg(LOG_ERROR, "huge", "a=1 err=\"%s\" b=2", big);
}

static void json_line_cut_still_parses(void **state)
{
        const char *out;
        cJSON *obj;

        (void)state;
        log_setup(LOG_FORMAT_JSON, LOG_INFO);
        out = capture(emit_huge);
        assert_true(strlen(out) <= 4096);
        assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
        obj = cJSON_Parse(out);
        assert_non_null(obj);
        assert_string_equal(cJSON_GetObjectItem(obj, "msg")->valuestring, "huge");
        assert_true(cJSON_IsTrue(cJSON_GetObjectItem(obj, "truncated")));
        assert_non_null(strstr(cJSON_GetObjectItem(obj, "text")->valuestring, "a=1 err="));
        cJSON_Delete(obj);
}

static void level_filter(void **state)
{
        (void)state;
        log_setup(LOG_FORMAT_LOGFMT, LOG_INFO);
        assert_string_equal(capture(emit_debug), "");
        log_setup(LOG_FORMAT_LOGFMT, LOG_DEBUG);
        assert_non_null(strstr(capture(emit_debug), "msg=noise x=1"));
}

static void parse_names(void **state)
{
        enum log_format f;
        enum log_level l;

        (void)state;
        assert_int_equal(log_format_parse("json", &f), 0);
        assert_int_equal(f, LOG_FORMAT_JSON);
        assert_int_equal(log_format_parse("xml", &f), -1);
        assert_int_equal(log_level_parse("WARN", &l), 0);
        assert_int_equal(l, LOG_WARN);
        assert_int_equal(log_level_parse("loud", &l), -1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(logfmt_line),
                cmocka_unit_test(json_line_parses),
                cmocka_unit_test(json_line_cut_still_parses),
                cmocka_unit_test(level_filter),
                cmocka_unit_test(parse_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
