/*
 * fence: the owner claim record and instance IDs. (The watch itself is
 * exercised end to end by tests/integration/0115-fault-fencing.sh.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "fence.h"

static struct config *make_config(void)
{
        static struct config cfg;

        memset(&cfg, 0, sizeof(cfg));
        cfg.name = "acme-prod";
        cfg.kafka.replay_topic = "sfbridge.replay";
        return &cfg;
}

static void claim_round_trip(void **state)
{
        char err[256], inst[64];
        struct fence *fence = fence_new(make_config(), err, sizeof(err));
        struct buf key, value;

        (void)state;
        assert_non_null(fence);
        assert_int_equal(strlen(fence_instance(fence)), 16);
        buf_init(&key, 1024);
        buf_init(&value, 4096);
        assert_int_equal(fence_claim_encode(fence, &key, &value), 0);
        assert_string_equal(key.data, "acme-prod:owner");
        assert_int_equal(fence_claim_decode(value.data, value.len, inst, sizeof(inst)), 0);
        assert_string_equal(inst, fence_instance(fence));
        assert_non_null(strstr(value.data, "\"claimed_at\":\""));
        buf_free(&key);
        buf_free(&value);
        fence_destroy(fence);
}

static void instances_differ(void **state)
{
        char err[256];
        struct fence *a = fence_new(make_config(), err, sizeof(err));
        struct fence *b = fence_new(make_config(), err, sizeof(err));

        (void)state;
        assert_string_not_equal(fence_instance(a), fence_instance(b));
        fence_destroy(a);
        fence_destroy(b);
}

static void decode_rejects_bad_values(void **state)
{
        char inst[8];

        (void)state;
        assert_int_equal(fence_claim_decode("{", 1, inst, sizeof(inst)), -1);
        assert_int_equal(fence_claim_decode("{\"instance\":1}", 14, inst, sizeof(inst)), -1);
        assert_int_equal(fence_claim_decode("{\"instance\":\"\"}", 15, inst, sizeof(inst)), -1);
        /* Longer than the caller's buffer: refused, not truncated. */
        assert_int_equal(fence_claim_decode("{\"instance\":\"0123456789\"}", 25, inst, sizeof(inst)), -1);
        assert_int_equal(fence_claim_decode("{\"instance\":\"abc\"}", 18, inst, sizeof(inst)), 0);
        assert_string_equal(inst, "abc");
}

static void unwatched_fence_is_never_fenced(void **state)
{
        char err[256];
        struct fence *fence = fence_new(make_config(), err, sizeof(err));

        (void)state;
        assert_int_equal(fence_check(fence, err, sizeof(err)), 0);
        fence_destroy(fence);
        fence_destroy(NULL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(claim_round_trip),
                cmocka_unit_test(instances_differ),
                cmocka_unit_test(decode_rejects_bad_values),
                cmocka_unit_test(unwatched_fence_is_never_fenced),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
