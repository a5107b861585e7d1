/*
 * config_reload: two loads compared key by key from the key table (every
 * scalar key, routes and kafka.properties as one key each), the credential
 * keys told apart, and a swap that moves a value without copying it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static const char base[] =
        "name: reload\n"
        "salesforce:\n"
        "  login_url: http://127.0.0.1:8080\n"
        "  auth:\n"
        "    flow: password\n"
        "    client_id: cid\n"
        "    client_secret: %s\n"
        "    username: u@example.com\n"
        "    password: %s\n"
        "  stall_timeout_s: %d\n"
        "kafka:\n"
        "  bootstrap_servers: 127.0.0.1:9092\n"
        "  properties:\n"
        "    linger.ms: %d\n"
        "routes:\n"
        "  - channel: /topic/A\n"
        "    topic: %s\n";

static struct config *load(const char *secret, const char *password, int stall, int linger,
                           const char *topic)
{
        char text[2048], err[1024];
        struct config *cfg;

        snprintf(text, sizeof(text), base, secret, password, stall, linger, topic);
        cfg = config_load_string("reload.yaml", text, strlen(text), err, sizeof(err));
        if (!cfg)
                fail_msg("load: %s", err);
        return cfg;
}

static char seen[512];

static void note(const char *path, void *arg)
{
        (void)arg;
        strncat(seen, path, sizeof(seen) - strlen(seen) - 2);
        strcat(seen, ";");
}

static void same_file_no_diff(void **state)
{
        struct config *a = load("s1", "p1", 150, 5, "t"), *b = load("s1", "p1", 150, 5, "t");

        (void)state;
        seen[0] = '\0';
        assert_int_equal(config_diff(a, b, note, NULL), 0);
        assert_string_equal(seen, "");
        config_destroy(a);
        config_destroy(b);
}

static void every_kind_of_change(void **state)
{
        struct config *a = load("s1", "p1", 150, 5, "t");
        struct config *b = load("s2", "p2", 150, 5, "t");
        struct config *c = load("s1", "p1", 200, 9, "t2");

        (void)state;
        seen[0] = '\0';
        assert_int_equal(config_diff(a, b, note, NULL), 2);
        assert_string_equal(seen, "salesforce.auth.client_secret;salesforce.auth.password;");
        seen[0] = '\0';
        assert_int_equal(config_diff(a, c, note, NULL), 3);
        assert_string_equal(seen, "salesforce.stall_timeout_s;kafka.properties;routes;");
        assert_int_equal(config_diff(a, c, NULL, NULL), 3);
        config_destroy(a);
        config_destroy(b);
        config_destroy(c);
}

static void credentials_told_apart(void **state)
{
        (void)state;
        assert_true(config_key_is_credential("salesforce.auth.password"));
        assert_true(config_key_is_credential("salesforce.auth.private_key_file"));
        assert_true(config_key_is_credential("salesforce.auth.flow"));
        assert_false(config_key_is_credential("salesforce.login_url"));
        assert_false(config_key_is_credential("salesforce.auth"));
        assert_false(config_key_is_credential("kafka.properties"));
}

static void swap_moves_the_value(void **state)
{
        struct config *a = load("s1", "p1", 150, 5, "t"), *b = load("s2", "p2", 200, 5, "t");
        char *pw = b->sf.password;

        (void)state;
        assert_int_equal(config_swap_value(a, b, "salesforce.auth.password"), 0);
        assert_ptr_equal(a->sf.password, pw);
        assert_string_equal(a->sf.password, "p2");
        assert_string_equal(b->sf.password, "p1");
        assert_int_equal(config_swap_value(a, b, "salesforce.stall_timeout_s"), 0);
        assert_int_equal(a->sf.stall_timeout_s, 200);
        seen[0] = '\0';
        assert_int_equal(config_diff(a, b, note, NULL), 3);
        assert_string_equal(seen, "salesforce.auth.client_secret;salesforce.auth.password;"
                                  "salesforce.stall_timeout_s;");
        assert_int_equal(config_swap_value(a, b, "routes"), -1);
        assert_int_equal(config_swap_value(a, b, "kafka.properties"), -1);
        assert_int_equal(config_swap_value(a, b, "routes[].topic"), -1);
        assert_int_equal(config_swap_value(a, b, "no.such.key"), -1);
        /* Each still owns what it holds: ASan and valgrind see no double free. */
        config_destroy(a);
        config_destroy(b);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(same_file_no_diff),
                cmocka_unit_test(every_kind_of_change),
                cmocka_unit_test(credentials_told_apart),
                cmocka_unit_test(swap_moves_the_value),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
