/* topic_name: Kafka's rules for a topic name, each rule at its edge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "topic_name.h"

static int check(const char *name, char *err, size_t err_size)
{
        err[0] = '\0';
        return topic_name_check(name, strlen(name), err, err_size);
}

static void test_legal(void **state)
{
        const char *ok[] = { "a", "it.steady", "Account_Changes-v1", "...", ".a", "a..", "0", "_-." };
        char err[256];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
                assert_int_equal(check(ok[i], err, sizeof(err)), 0);
                assert_string_equal(err, "");
        }
}

static void test_empty(void **state)
{
        char err[256];

        (void)state;
        assert_int_equal(check("", err, sizeof(err)), -1);
        assert_string_equal(err, "topic name is empty");
}

static void test_dots(void **state)
{
        char err[256];

        (void)state;
        assert_int_equal(check(".", err, sizeof(err)), -1);
        assert_string_equal(err, "\".\" is not a valid Kafka topic name");
        assert_int_equal(check("..", err, sizeof(err)), -1);
        assert_string_equal(err, "\"..\" is not a valid Kafka topic name");
}

static void test_length_edge(void **state)
{
        char name[TOPIC_NAME_MAX + 2], err[256];

        (void)state;
        memset(name, 'x', sizeof(name));
        name[TOPIC_NAME_MAX] = '\0';
        assert_int_equal(check(name, err, sizeof(err)), 0);
        name[TOPIC_NAME_MAX] = 'x';
        name[TOPIC_NAME_MAX + 1] = '\0';
        assert_int_equal(check(name, err, sizeof(err)), -1);
        assert_string_equal(err, "topic name is 250 bytes, longer than Kafka's limit of 249");
}

static void test_bad_bytes(void **state)
{
        const char *bad[] = { "a b", "a/b", "a:b", "é", "a{entity}", "a\nb", "a,b" };
        char err[256];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(check(bad[i], err, sizeof(err)), -1);
        assert_int_equal(check("ab/c", err, sizeof(err)), -1);
        assert_string_equal(err, "byte 0x2f at offset 2 is not allowed in a Kafka topic name "
                                 "(allowed: a-z A-Z 0-9 . _ -)");
}

static void test_len_not_nul(void **state)
{
        char err[256];

        (void)state;
        /* Only len bytes count: what follows is not looked at. */
        assert_int_equal(topic_name_check("ab/c", 2, err, sizeof(err)), 0);
        assert_int_equal(topic_name_check("..x", 2, err, sizeof(err)), -1);
        assert_int_equal(topic_name_check(".x", 1, err, sizeof(err)), -1);
}

static void test_char_ok(void **state)
{
        int c, n = 0;

        (void)state;
        for (c = 0; c < 256; c++)
                n += topic_name_char_ok((char)c) != 0;
        assert_int_equal(n, 26 + 26 + 10 + 3);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_legal),        cmocka_unit_test(test_empty),
                cmocka_unit_test(test_dots),         cmocka_unit_test(test_length_edge),
                cmocka_unit_test(test_bad_bytes),    cmocka_unit_test(test_len_not_nul),
                cmocka_unit_test(test_char_ok),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
