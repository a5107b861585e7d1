/*
 * backoff.c: first delay 0, then equal jitter in [ceil(c/2), c] with
 * c = min(cap, base * 2^(k-1)); exact values with an injected random
 * source; no overflow and no 0 for any attempt count.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "backoff.h"

struct script {
        const unsigned *values;
        size_t n, i;
};

/* Returns the scripted values in turn, then repeats the last one. */
static unsigned scripted(void *ctx)
{
        struct script *s = ctx;
        unsigned v = s->values[s->i < s->n ? s->i : s->n - 1];

        if (s->i < s->n)
                s->i++;
        return v;
}

static unsigned always_zero(void *ctx)
{
        (void)ctx;
        return 0;
}

static unsigned always_max(void *ctx)
{
        (void)ctx;
        return UINT_MAX;
}

static void test_first_delay_is_zero_then_doubles(void **state)
{
        static const long lows[] = { 0, 50, 100, 200, 400, 500, 500, 500 };
        struct backoff bo;
        size_t i;

        (void)state;
        backoff_init(&bo, 100, 1000);
        bo.rand_fn = always_zero;
        for (i = 0; i < sizeof(lows) / sizeof(lows[0]); i++)
                assert_int_equal(backoff_next_ms(&bo), lows[i]);
        assert_int_equal(bo.attempt, 8);
}

static void test_upper_bounds_exact(void **state)
{
        /* span for ceiling c is c - ceil(c/2) + 1: value span-1 gives c. */
        unsigned values[] = { 50, 100, 200, 400, 500 };  /* spans: 51, 101, 201, 401, 501 */
        static const long highs[] = { 0, 100, 200, 400, 800, 1000 };
        struct script s = { values, 5, 0 };
        struct backoff bo;
        size_t i;

        (void)state;
        backoff_init(&bo, 100, 1000);
        bo.rand_fn = scripted;
        bo.rand_ctx = &s;
        for (i = 0; i < sizeof(highs) / sizeof(highs[0]); i++)
                assert_int_equal(backoff_next_ms(&bo), highs[i]);
}

static void test_deterministic_with_injected_source(void **state)
{
        unsigned values[] = { 7, 12345, 999999, 3, 42, 4242424242u };
        struct script s1 = { values, 6, 0 }, s2 = { values, 6, 0 };
        struct backoff a, b;
        int i;

        (void)state;
        backoff_init(&a, 250, 60000);
        backoff_init(&b, 250, 60000);
        a.rand_fn = b.rand_fn = scripted;
        a.rand_ctx = &s1;
        b.rand_ctx = &s2;
        for (i = 0; i < 12; i++)
                assert_int_equal(backoff_next_ms(&a), backoff_next_ms(&b));
        /* attempt 2: c = 500, lo = 250, span 251: 250 + 12345 % 251 */
        s1.i = 0;
        backoff_reset(&a);
        assert_int_equal(backoff_next_ms(&a), 0);
        assert_int_equal(backoff_next_ms(&a), 125 + 7 % 126);
        assert_int_equal(backoff_next_ms(&a), 250 + 12345 % 251);
}

static void test_reset(void **state)
{
        struct backoff bo;

        (void)state;
        backoff_init(&bo, 100, 1000);
        bo.rand_fn = always_max;
        assert_int_equal(backoff_next_ms(&bo), 0);
        assert_true(backoff_next_ms(&bo) > 0);
        assert_true(backoff_next_ms(&bo) >= 100);
        backoff_reset(&bo);
        assert_int_equal(backoff_next_ms(&bo), 0);
        assert_int_equal(backoff_next_ms(&bo), 50 + UINT_MAX % 51);
}

/* Huge attempt counts: capped, in range, never 0, the counter saturates. */
static void test_no_overflow(void **state)
{
        struct backoff bo;
        long d;
        int i;

        (void)state;
        backoff_init(&bo, 1000, 60000);
        bo.attempt = UINT_MAX - 3;
        for (i = 0; i < 10; i++) {
                d = backoff_next_ms(&bo);
                assert_true(d >= 30000 && d <= 60000);
        }
        assert_int_equal(bo.attempt, UINT_MAX);

        /* Attempts 1..200 one by one: monotone ceiling, within the cap. */
        backoff_init(&bo, 1000, 60000);
        bo.rand_fn = always_zero;
        assert_int_equal(backoff_next_ms(&bo), 0);
        for (i = 1; i < 200; i++) {
                d = backoff_next_ms(&bo);
                assert_true(d >= 1 && d <= 30000);
        }
        assert_int_equal(d, 30000);

        /* Extreme base and cap. */
        backoff_init(&bo, LONG_MAX / 2, LONG_MAX);
        bo.rand_fn = always_max;
        for (i = 0; i < 70; i++) {
                d = backoff_next_ms(&bo);
                assert_true(i == 0 ? d == 0 : d >= LONG_MAX / 4);
        }
        backoff_init(&bo, LONG_MAX, LONG_MAX);
        bo.attempt = 1000;
        d = backoff_next_ms(&bo);
        assert_true(d >= LONG_MAX / 2 && d <= LONG_MAX);
}

/* After the first attempt a delay is never 0, even with base 1. */
static void test_never_zero_after_first(void **state)
{
        struct backoff bo;
        int i;

        (void)state;
        backoff_init(&bo, 1, 1);
        bo.rand_fn = always_zero;
        assert_int_equal(backoff_next_ms(&bo), 0);
        for (i = 0; i < 50; i++)
                assert_int_equal(backoff_next_ms(&bo), 1);

        backoff_init(&bo, 0, -5);  /* nonsense: base 1, cap 1 */
        assert_int_equal(bo.base_ms, 1);
        assert_int_equal(bo.cap_ms, 1);
        assert_int_equal(backoff_next_ms(&bo), 0);
        assert_int_equal(backoff_next_ms(&bo), 1);

        backoff_init(&bo, 3, 2);  /* cap below base: the base */
        assert_int_equal(bo.cap_ms, 3);
}

/* The internal source: every value in range, and actually spread. */
static void test_internal_prng(void **state)
{
        struct backoff bo;
        long d, first = -1;
        int i, distinct = 0;

        (void)state;
        backoff_init(&bo, 1000, 60000);
        assert_null(bo.rand_fn);
        for (i = 0; i < 2000; i++) {
                backoff_reset(&bo);
                assert_int_equal(backoff_next_ms(&bo), 0);
                backoff_next_ms(&bo);
                backoff_next_ms(&bo);
                backoff_next_ms(&bo);
                backoff_next_ms(&bo);
                backoff_next_ms(&bo);
                backoff_next_ms(&bo);
                d = backoff_next_ms(&bo);  /* attempt 7: c = min(60000, 64000) */
                assert_true(d >= 30000 && d <= 60000);
                if (first == -1)
                        first = d;
                else if (d != first)
                        distinct++;
        }
        assert_true(distinct > 1000);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_first_delay_is_zero_then_doubles),
                cmocka_unit_test(test_upper_bounds_exact),
                cmocka_unit_test(test_deterministic_with_injected_source),
                cmocka_unit_test(test_reset),
                cmocka_unit_test(test_no_overflow),
                cmocka_unit_test(test_never_zero_after_first),
                cmocka_unit_test(test_internal_prng),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
