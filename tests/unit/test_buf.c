/*
 * buf: growth, the ceiling, and the state after a refused append.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "buf.h"

static void append_grows_and_terminates(void **state)
{
        struct buf b;
        int i;

        (void)state;
        buf_init(&b, 1 << 20);
        for (i = 0; i < 1000; i++)
                assert_int_equal(buf_append(&b, "abc", 3), 0);
        assert_int_equal(b.len, 3000);
        assert_int_equal(b.data[3000], '\0');
        assert_memory_equal(b.data + 2997, "abc", 3);
        buf_free(&b);
        assert_null(b.data);
}

static void ceiling_refuses_and_keeps_contents(void **state)
{
        struct buf b;

        (void)state;
        buf_init(&b, 8);
        assert_int_equal(buf_append(&b, "12345", 5), 0);
        assert_int_equal(buf_append(&b, "6789", 4), -1);
        assert_true(b.toobig);
        assert_int_equal(b.len, 5);
        assert_string_equal(b.data, "12345");
        assert_int_equal(buf_append(&b, "678", 3), 0);
        assert_string_equal(b.data, "12345678");
        buf_reset(&b);
        assert_false(b.toobig);
        assert_int_equal(b.len, 0);
        assert_string_equal(b.data, "");
        buf_free(&b);
}

static void printf_appends_and_respects_ceiling(void **state)
{
        struct buf b;

        (void)state;
        buf_init(&b, 300);
        assert_int_equal(buf_printf(&b, "%s=%d", "x", 42), 0);
        assert_string_equal(b.data, "x=42");
        /* Longer than the initial allocation: the second vsnprintf path. */
        assert_int_equal(buf_printf(&b, "%0280d", 7), 0);
        assert_int_equal(b.len, 284);
        assert_int_equal(buf_printf(&b, "%020d", 1), -1);
        assert_true(b.toobig);
        assert_int_equal(b.len, 284);
        assert_int_equal(strlen(b.data), 284);
        buf_free(&b);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(append_grows_and_terminates),
                cmocka_unit_test(ceiling_refuses_and_keeps_contents),
                cmocka_unit_test(printf_appends_and_respects_ceiling),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
