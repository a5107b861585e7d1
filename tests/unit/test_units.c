/*
 * units: the unit -> partition mapping (FNV-1a-32, overrides, collisions)
 * and every name of HA.md §1's table, for the default unit, other units
 * and other orgs. Configs and views are built by hand: units.c reads
 * nothing else of them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "units.h"

static void test_fnv_vectors(void **state)
{
        (void)state;
        /* The published FNV-1a-32 test vectors. */
        assert_int_equal(units_fnv1a32(""), 0x811c9dc5u);
        assert_int_equal(units_fnv1a32("a"), 0xe40c292cu);
        assert_int_equal(units_fnv1a32("foobar"), 0xbf9cf968u);
        /* Bytes above 0x7f hash as unsigned. */
        assert_int_not_equal(units_fnv1a32("\xe9"), units_fnv1a32("i"));
}

static struct config_unit three[] = {
        { .id = "default", .partition = -1 },
        { .id = "emea", .partition = -1 },
        { .id = "us", .partition = -1 },
};

static void test_mapping(void **state)
{
        struct config cfg = { .units = three, .nunits = 3 };

        (void)state;
        /* fnv1a32: default 0x933b5bde, emea 0x326a3a15, us 0x46430fd9. */
        assert_int_equal(units_partition(&cfg, 0, 3), 0x933b5bdeu % 3);
        assert_int_equal(units_partition(&cfg, 1, 3), 0x326a3a15u % 3);
        assert_int_equal(units_partition(&cfg, 2, 3), 0x46430fd9u % 3);
        assert_int_equal(units_partition(&cfg, 0, 4), 2);
        assert_int_equal(units_partition(&cfg, 1, 4), 1);
        /* One partition: everything on it. */
        assert_int_equal(units_partition(&cfg, 2, 1), 0);
        /* No partitions, or a unit that does not exist. */
        assert_int_equal(units_partition(&cfg, 0, 0), -1);
        assert_int_equal(units_partition(&cfg, 0, -3), -1);
        assert_int_equal(units_partition(&cfg, 3, 3), -1);
        assert_int_equal(units_topic_partitions(&cfg), 3);
}

static void test_collisions(void **state)
{
        struct config cfg = { .units = three, .nunits = 3 };

        (void)state;
        /* With 3 partitions default (0x933b5bde % 3 == 0) and us
         * (0x46430fd9 % 3 == 0) share one: they move together. */
        assert_int_equal(units_partition(&cfg, 0, 3), 0);
        assert_int_equal(units_partition(&cfg, 2, 3), 0);
        assert_int_equal(units_partition(&cfg, 1, 3), 1);
        /* With 2, emea and us collide instead. */
        assert_int_equal(units_partition(&cfg, 1, 2), units_partition(&cfg, 2, 2));
        assert_int_not_equal(units_partition(&cfg, 0, 2), units_partition(&cfg, 1, 2));
}

static void test_overrides(void **state)
{
        struct config_unit u[] = {
                { .id = "default", .partition = -1 },
                { .id = "emea", .partition = 5 },
                { .id = "us", .partition = 0 },
        };
        struct config cfg = { .units = u, .nunits = 3 };

        (void)state;
        /* The topic must hold the highest override. */
        assert_int_equal(units_topic_partitions(&cfg), 6);
        assert_int_equal(units_partition(&cfg, 1, 6), 5);
        assert_int_equal(units_partition(&cfg, 2, 6), 0);
        assert_int_equal(units_partition(&cfg, 0, 6), (int)(0x933b5bdeu % 6));
        /* An override beyond the topic: no partition (check reports it). */
        assert_int_equal(units_partition(&cfg, 1, 5), -1);
        assert_int_equal(units_partition(&cfg, 2, 5), 0);
}

static void test_topic_partitions_floor(void **state)
{
        struct config none = { 0 };
        struct config one = { .units = three, .nunits = 1 };

        (void)state;
        assert_int_equal(units_topic_partitions(&none), 1);
        assert_int_equal(units_topic_partitions(&one), 1);
}

#define NAME(fn, cfg) (fn((cfg), buf, sizeof(buf)), buf)

/* A single instance (no coordination:, loaded config or its one view). */
static void test_names_single(void **state)
{
        struct config cfg = { .name = "acme-prod", .units = three, .nunits = 1 };
        char buf[256];

        (void)state;
        assert_true(units_is_default(&cfg));
        assert_string_equal(NAME(units_txn_id, &cfg), "sfbridge-acme-prod");
        assert_string_equal(NAME(units_replay_prefix, &cfg), "acme-prod");
        assert_string_equal(NAME(units_owner_key, &cfg), "acme-prod:owner");
        assert_string_equal(NAME(units_client_id, &cfg), "sfbridge-acme-prod");
        cfg.unit = "default";
        assert_true(units_is_default(&cfg));
        assert_string_equal(NAME(units_txn_id, &cfg), "sfbridge-acme-prod");
        assert_string_equal(NAME(units_owner_key, &cfg), "acme-prod:owner");
        /* No name: the loader's default. */
        cfg.name = NULL;
        assert_string_equal(NAME(units_txn_id, &cfg), "sfbridge-sfbridge");
}

/* Group mode: the default org's default unit keeps the single-instance names. */
static void test_names_group_default(void **state)
{
        struct config cfg = { .name = "acme-prod", .coord = { .enabled = 1 }, .unit = "default" };
        char buf[256], want[300], host[256];

        (void)state;
        assert_true(units_is_default(&cfg));
        assert_string_equal(NAME(units_txn_id, &cfg), "sfbridge-acme-prod");
        assert_string_equal(NAME(units_replay_prefix, &cfg), "acme-prod");
        assert_string_equal(NAME(units_owner_key, &cfg), "acme-prod:owner");
        assert_int_equal(gethostname(host, sizeof(host)), 0);
        host[sizeof(host) - 1] = '\0';
        snprintf(want, sizeof(want), "sfbridge-acme-prod-%s-%ld", host, (long)getpid());
        assert_string_equal(NAME(units_client_id, &cfg), want);
}

/* A top-level route set named with unit: cdc (default org). */
static void test_names_group_unit(void **state)
{
        struct config cfg = { .name = "acme-prod", .coord = { .enabled = 1 }, .unit = "cdc" };
        char buf[256];

        (void)state;
        assert_false(units_is_default(&cfg));
        assert_string_equal(NAME(units_txn_id, &cfg), "sfbridge-acme-prod-cdc");
        /* Same org, same replay keys as a single instance. */
        assert_string_equal(NAME(units_replay_prefix, &cfg), "acme-prod");
        assert_string_equal(NAME(units_owner_key, &cfg), "acme-prod:cdc:owner");
}

/* orgs[]: org emea (unit "emea") and its unit cdc ("emea.cdc"). */
static void test_names_group_org(void **state)
{
        struct config cfg = { .name = "acme-prod", .coord = { .enabled = 1 }, .has_orgs = 1,
                              .unit = "emea", .org_id = "emea" };
        char buf[256];

        (void)state;
        assert_false(units_is_default(&cfg));
        assert_string_equal(NAME(units_txn_id, &cfg), "sfbridge-acme-prod-emea");
        assert_string_equal(NAME(units_replay_prefix, &cfg), "acme-prod:emea");
        assert_string_equal(NAME(units_owner_key, &cfg), "acme-prod:emea:owner");
        cfg.unit = "emea.cdc";
        assert_string_equal(NAME(units_txn_id, &cfg), "sfbridge-acme-prod-emea.cdc");
        assert_string_equal(NAME(units_replay_prefix, &cfg), "acme-prod:emea");
        assert_string_equal(NAME(units_owner_key, &cfg), "acme-prod:emea.cdc:owner");
        /* An org's unit named "default" is not the default unit. */
        cfg.unit = "default";
        assert_false(units_is_default(&cfg));
}

/* Names are cut, never overrun. */
static void test_names_truncate(void **state)
{
        struct config cfg = { .name = "acme-prod", .coord = { .enabled = 1 }, .unit = "cdc" };
        char small[8];

        (void)state;
        memset(small, 'x', sizeof(small));
        units_owner_key(&cfg, small, sizeof(small));
        assert_string_equal(small, "acme-pr");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fnv_vectors),
                cmocka_unit_test(test_mapping),
                cmocka_unit_test(test_collisions),
                cmocka_unit_test(test_overrides),
                cmocka_unit_test(test_topic_partitions_floor),
                cmocka_unit_test(test_names_single),
                cmocka_unit_test(test_names_group_default),
                cmocka_unit_test(test_names_group_unit),
                cmocka_unit_test(test_names_group_org),
                cmocka_unit_test(test_names_truncate),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
