/*
 * expand: ${VAR}, ${VAR:-default} and $$, driven with a fake lookup so no
 * test depends on the real environment (except the one for getenv itself).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "expand.h"

/* The fake environment: NAME=value pairs; NULL value means unset. */
static const char *const fake_env[][2] = {
        { "HOST", "example.com" },
        { "PORT", "9092" },
        { "EMPTY", "" },
        { "DOLLAR", "$" },
        { "BRACES", "${HOST}" },  /* values are not expanded again */
        { "SECRET", "PLANTED-S3CRET" },
        { "_x1", "underscore" },
};

static char last_name[300];
static int lookups;

static const char *fake_lookup(const char *name, void *opaque)
{
        size_t i;

        (void)opaque;
        lookups++;
        snprintf(last_name, sizeof(last_name), "%s", name);
        for (i = 0; i < sizeof(fake_env) / sizeof(fake_env[0]); i++)
                if (strcmp(fake_env[i][0], name) == 0)
                        return fake_env[i][1];
        return NULL;
}

/* Expands @p in, asserting success and the exact result. */
static void expect_ok(const char *in, const char *want)
{
        char err[256] = "";
        size_t len = 12345;
        char *out;

        out = expand_vars(in, strlen(in), EXPAND_MAX, fake_lookup, NULL, &len, err, sizeof(err));
        if (!out)
                fail_msg("expanding \"%s\" failed: %s", in, err);
        assert_string_equal(out, want);
        assert_int_equal(len, strlen(want));
        free(out);
}

/* Expands @p in, asserting failure with the exact message. */
static void expect_err(const char *in, const char *want)
{
        char err[256] = "";
        char *out;

        out = expand_vars(in, strlen(in), EXPAND_MAX, fake_lookup, NULL, NULL, err, sizeof(err));
        if (out)
                fail_msg("expanding \"%s\" succeeded with \"%s\"", in, out);
        assert_string_equal(err, want);
}

static void test_plain_text(void **state)
{
        (void)state;
        expect_ok("", "");
        expect_ok("no variables here", "no variables here");
        expect_ok("a$", "a$");
        expect_ok("$", "$");
        expect_ok("$x and $HOST stay", "$x and $HOST stay");
        expect_ok("price: 5$ {HOST}", "price: 5$ {HOST}");
}

static void test_variables(void **state)
{
        (void)state;
        expect_ok("${HOST}", "example.com");
        expect_ok("${HOST}:${PORT}", "example.com:9092");
        expect_ok("http://${HOST}/x", "http://example.com/x");
        expect_ok("${EMPTY}", "");
        expect_ok("[${EMPTY}]", "[]");
        expect_ok("${_x1}", "underscore");
        /* A value is inserted as it is: never expanded a second time. */
        expect_ok("${BRACES}", "${HOST}");
        expect_ok("${DOLLAR}{HOST}", "${HOST}");
}

static void test_defaults(void **state)
{
        (void)state;
        expect_ok("${NOPE:-fallback}", "fallback");
        expect_ok("${HOST:-fallback}", "example.com");
        /* Set but empty takes the default too (the shell's ":-"). */
        expect_ok("${EMPTY:-fallback}", "fallback");
        expect_ok("${NOPE:-}", "");
        expect_ok("${NOPE:-localhost:9092}", "localhost:9092");
        expect_ok("${NOPE:-a b-c:d}", "a b-c:d");
        expect_ok("${NOPE:-$$5}", "$5");
        expect_ok("${NOPE:-a$b}", "a$b");
        expect_ok("x${NOPE:-1}y${PORT:-2}z", "x1y9092z");
}

static void test_dollar_escape(void **state)
{
        (void)state;
        expect_ok("$$", "$");
        expect_ok("$$$$", "$$");
        expect_ok("$${HOST}", "${HOST}");
        expect_ok("$$$${HOST}", "$${HOST}");
        expect_ok("$$${HOST}", "$example.com");
        expect_ok("pa$$word", "pa$word");
}

static void test_errors(void **state)
{
        (void)state;
        expect_err("${NOPE}", "environment variable NOPE is not set");
        expect_err("a ${HOST} b ${MISSING_TOO} c", "environment variable MISSING_TOO is not set");
        expect_err("${HOST", "unterminated \"${\" (no closing \"}\")");
        expect_err("${", "unterminated \"${\" (no closing \"}\")");
        expect_err("abc ${NOPE:-default", "unterminated \"${\" (no closing \"}\")");
        expect_err("${}", "empty variable name in \"${}\"");
        expect_err("${1ABC}",
                   "bad variable name in \"${...}\": use letters, digits and _ (not starting with a "
                   "digit), at most 255 characters");
        expect_err("${ HOST}",
                   "bad variable name in \"${...}\": use letters, digits and _ (not starting with a "
                   "digit), at most 255 characters");
        expect_err("${HOST-x}",
                   "unsupported \"${...}\" form: use ${VAR} or ${VAR:-default} (and $$ for a literal $)");
        expect_err("${HOST:=x}",
                   "unsupported \"${...}\" form: use ${VAR} or ${VAR:-default} (and $$ for a literal $)");
        expect_err("${A B}",
                   "unsupported \"${...}\" form: use ${VAR} or ${VAR:-default} (and $$ for a literal $)");
        expect_err("${NOPE:-${HOST}}", "\"${\" inside a ${VAR:-default} default is not supported");
}

static void test_name_length(void **state)
{
        char in[300], name[257];
        char err[256];
        char *out;

        (void)state;
        memset(name, 'N', 255);
        name[255] = '\0';
        snprintf(in, sizeof(in), "${%s:-ok}", name);
        expect_ok(in, "ok");
        assert_string_equal(last_name, name);

        memset(name, 'N', 256);
        name[256] = '\0';
        snprintf(in, sizeof(in), "${%s}", name);
        out = expand_vars(in, strlen(in), EXPAND_MAX, fake_lookup, NULL, NULL, err, sizeof(err));
        assert_null(out);
        assert_non_null(strstr(err, "bad variable name"));
}

static void test_ceiling(void **state)
{
        char err[256];
        size_t len;
        char *out;

        (void)state;
        /* Exactly at the ceiling is fine, one byte more is not. */
        out = expand_vars("${HOST}", 7, 11, fake_lookup, NULL, &len, err, sizeof(err));
        assert_non_null(out);
        assert_string_equal(out, "example.com");
        free(out);
        out = expand_vars("${HOST}!", 8, 11, fake_lookup, NULL, &len, err, sizeof(err));
        assert_null(out);
        assert_string_equal(err, "expanded value is longer than 11 bytes");
        out = expand_vars("abcdef", 6, 5, fake_lookup, NULL, &len, err, sizeof(err));
        assert_null(out);
        assert_string_equal(err, "expanded value is longer than 5 bytes");
        out = expand_vars("$$$$$$", 6, 2, fake_lookup, NULL, &len, err, sizeof(err));
        assert_null(out);
        out = expand_vars("${NOPE:-123456}", 15, 5, fake_lookup, NULL, &len, err, sizeof(err));
        assert_null(out);
        assert_string_equal(err, "expanded value is longer than 5 bytes");
}

/* Bytes after a NUL are kept and counted: the caller decides. */
static void test_embedded_nul(void **state)
{
        char err[256];
        size_t len = 0;
        char *out;

        (void)state;
        out = expand_vars("a\0${HOST}", 9, EXPAND_MAX, fake_lookup, NULL, &len, err, sizeof(err));
        assert_non_null(out);
        assert_int_equal(len, 13);
        assert_memory_equal(out, "a\0example.com", 14);
        free(out);
        /* in_len is honoured: nothing past it is read. */
        out = expand_vars("${HOST}garbage", 7, EXPAND_MAX, fake_lookup, NULL, &len, err, sizeof(err));
        assert_non_null(out);
        assert_string_equal(out, "example.com");
        free(out);
        out = expand_vars("${HO", 4, EXPAND_MAX, fake_lookup, NULL, &len, err, sizeof(err));
        assert_null(out);
}

/* The lookup sees each name once, and is not called for $$ or literals. */
static void test_lookup_calls(void **state)
{
        (void)state;
        lookups = 0;
        expect_ok("$$ plain $x", "$ plain $x");
        assert_int_equal(lookups, 0);
        expect_ok("${HOST}${PORT}", "example.com9092");
        assert_int_equal(lookups, 2);
        assert_string_equal(last_name, "PORT");
}

static void test_real_getenv(void **state)
{
        char err[256];
        char *out;

        (void)state;
        assert_int_equal(setenv("SFB_EXPAND_TEST_VAR", "from-env", 1), 0);
        assert_int_equal(unsetenv("SFB_EXPAND_TEST_UNSET"), 0);
        out = expand_vars("x=${SFB_EXPAND_TEST_VAR}", 24, EXPAND_MAX, NULL, NULL, NULL, err, sizeof(err));
        assert_non_null(out);
        assert_string_equal(out, "x=from-env");
        free(out);
        out = expand_vars("${SFB_EXPAND_TEST_UNSET}", 24, EXPAND_MAX, expand_getenv, NULL, NULL, err,
                          sizeof(err));
        assert_null(out);
        assert_string_equal(err, "environment variable SFB_EXPAND_TEST_UNSET is not set");
}

/* No error quotes the text around the variable or any value. */
static void test_errors_quote_nothing(void **state)
{
        static const char *const inputs[] = {
                "PLANTED-S3CRET${",
                "PLANTED-S3CRET${NOPE}",
                "${PLANTED-S3CRET}",
                "${PLANTED S3CRET}",
                "${NOPE:-PLANTED-S3CRET",
                "${NOPE:-PLANTED-S3CRET${X}}",
                "${SECRET}${SECRET}${NOPE}",
                "${9PLANTED}",
        };
        char err[256];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
                err[0] = '\0';
                assert_null(expand_vars(inputs[i], strlen(inputs[i]), EXPAND_MAX, fake_lookup, NULL,
                                        NULL, err, sizeof(err)));
                assert_true(err[0] != '\0');
                if (strstr(err, "PLANTED") || strstr(err, "S3CRET"))
                        fail_msg("error for input %zu quotes it: %s", i, err);
        }
        /* Too long after expanding a secret: the message holds no value. */
        assert_null(expand_vars("${SECRET}", 9, 4, fake_lookup, NULL, NULL, err, sizeof(err)));
        assert_null(strstr(err, "PLANTED"));
}

/* A tiny error buffer truncates, never overflows. */
static void test_small_errstr(void **state)
{
        char err[8];

        (void)state;
        memset(err, 'x', sizeof(err));
        assert_null(expand_vars("${NOPE}", 7, EXPAND_MAX, fake_lookup, NULL, NULL, err, sizeof(err)));
        assert_int_equal(strlen(err), sizeof(err) - 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_plain_text),
                cmocka_unit_test(test_variables),
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_dollar_escape),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_name_length),
                cmocka_unit_test(test_ceiling),
                cmocka_unit_test(test_embedded_nul),
                cmocka_unit_test(test_lookup_calls),
                cmocka_unit_test(test_real_getenv),
                cmocka_unit_test(test_errors_quote_nothing),
                cmocka_unit_test(test_small_errstr),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
