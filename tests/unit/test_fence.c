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
        int released = -1;

        (void)state;
        assert_non_null(fence);
        assert_int_equal(strlen(fence_instance(fence)), 16);
        buf_init(&key, 1024);
        buf_init(&value, 4096);
        assert_int_equal(fence_claim_encode(fence, &key, &value), 0);
        assert_string_equal(key.data, "acme-prod:owner");
        assert_int_equal(fence_claim_decode(value.data, value.len, inst, sizeof(inst), &released), 0);
        assert_string_equal(inst, fence_instance(fence));
        assert_int_equal(released, 0);
        assert_non_null(strstr(value.data, "\"state\":\"claimed\""));
        assert_non_null(strstr(value.data, "\"at\":\""));
        assert_int_equal(fence_release_encode(fence, &key, &value), 0);
        assert_string_equal(key.data, "acme-prod:owner");
        assert_int_equal(fence_claim_decode(value.data, value.len, inst, sizeof(inst), &released), 0);
        assert_string_equal(inst, fence_instance(fence));
        assert_int_equal(released, 1);
        buf_free(&key);
        buf_free(&value);
        fence_destroy(fence);
}

/* What a start says before taking over: only a claim not yet released is a live owner. */
static void owner_live_names_instance_and_time(void **state)
{
        char err[256], inst[64], host[128], at[64];
        struct fence *fence = fence_new(make_config(), err, sizeof(err));
        struct buf key, value;
        const char *old = "{\"instance\":\"abc\"}";

        (void)state;
        assert_non_null(fence);
        buf_init(&key, 1024);
        buf_init(&value, 4096);
        assert_int_equal(fence_claim_encode(fence, &key, &value), 0);
        assert_int_equal(fence_owner_live(value.data, value.len, inst, sizeof(inst), host,
                                          sizeof(host), at, sizeof(at)), 1);
        assert_string_equal(inst, fence_instance(fence));
        assert_int_equal(strlen(at), 24); /* 2026-11-30T21:58:12.327Z */
        assert_true(strchr(value.data, '"') && strstr(value.data, host));
        assert_int_equal(fence_release_encode(fence, &key, &value), 0);
        assert_int_equal(fence_owner_live(value.data, value.len, inst, sizeof(inst), host,
                                          sizeof(host), at, sizeof(at)), 0);
        assert_int_equal(fence_owner_live(NULL, 0, inst, sizeof(inst), host, sizeof(host), at,
                                          sizeof(at)), 0);
        assert_int_equal(fence_owner_live("{", 1, inst, sizeof(inst), host, sizeof(host), at,
                                          sizeof(at)), 0);
        /* An older version's claim: live, with no host or time to say. */
        assert_int_equal(fence_owner_live(old, strlen(old), inst, sizeof(inst), host, sizeof(host),
                                          at, sizeof(at)), 1);
        assert_string_equal(inst, "abc");
        assert_string_equal(at, "");
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
        int rel = -1;

        (void)state;
        assert_int_equal(fence_claim_decode("{", 1, inst, sizeof(inst), &rel), -1);
        assert_int_equal(fence_claim_decode("{\"instance\":1}", 14, inst, sizeof(inst), &rel), -1);
        assert_int_equal(fence_claim_decode("{\"instance\":\"\"}", 15, inst, sizeof(inst), &rel), -1);
        /* Longer than the caller's buffer: refused, not truncated. */
        assert_int_equal(fence_claim_decode("{\"instance\":\"0123456789\"}", 25, inst, sizeof(inst), &rel), -1);
        /* A state nobody wrote is not taken for a claim or a release. */
        assert_int_equal(fence_claim_decode("{\"instance\":\"abc\",\"state\":\"gone\"}", 33, inst,
                                            sizeof(inst), &rel), -1);
        assert_int_equal(fence_claim_decode("{\"instance\":\"abc\",\"state\":1}", 28, inst, sizeof(inst), &rel), -1);
        assert_int_equal(rel, -1);
        /* A record of a version that only claimed: a claim. */
        assert_int_equal(fence_claim_decode("{\"instance\":\"abc\"}", 18, inst, sizeof(inst), &rel), 0);
        assert_string_equal(inst, "abc");
        assert_int_equal(rel, 0);
}

/* Nothing to wait for: no previous owner, one that released, ourselves, or
 * a record that is not an owner record. Each returns at once. */
static void await_release_without_live_owner_returns_at_once(void **state)
{
        char err[256], mine[300];
        struct fence *fence = fence_new(make_config(), err, sizeof(err));
        const char *released = "{\"instance\":\"0011223344556677\",\"state\":\"released\"}";
        const char *garbage = "{\"instance\":5}";

        (void)state;
        snprintf(mine, sizeof(mine), "{\"instance\":\"%s\",\"state\":\"claimed\"}", fence_instance(fence));
        assert_int_equal(fence_await_release(fence, NULL, 0, 60000, err, sizeof(err)), 0);
        assert_int_equal(fence_await_release(fence, released, strlen(released), 60000, err, sizeof(err)), 0);
        assert_int_equal(fence_await_release(fence, mine, strlen(mine), 60000, err, sizeof(err)), 0);
        assert_int_equal(fence_await_release(fence, garbage, strlen(garbage), 60000, err, sizeof(err)), 0);
        assert_int_equal(fence_is_fenced(fence), 0);
        fence_destroy(fence);
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
                cmocka_unit_test(owner_live_names_instance_and_time),
                cmocka_unit_test(decode_rejects_bad_values),
                cmocka_unit_test(await_release_without_live_owner_returns_at_once),
                cmocka_unit_test(unwatched_fence_is_never_fenced),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
