/*
 * fence: the owner claim record and instance IDs, and the watcher (claim
 * detection, who claimed) against librdkafka's in-process mock cluster.
 * tests/integration/0115-fault-fencing.sh runs it end to end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fence.h"
#include "kafka_fixture.h"

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

/* ---- the watcher, against the in-process mock cluster ---- */

#define OTHER_OLD   "0011223344556677" /* claimed before we watched: history */
#define OTHER_GONE  "1122334455667788" /* released, never a claim */
#define OTHER_NAME  "2233445566778899" /* claims another bridge name */
#define OTHER_REPLAY "33445566778899aa" /* a replay record that parses as a claim */
#define OTHER_LONGER "445566778899aabb" /* a key that only starts like ours */
#define NEWCOMER    "fedcba9876543210"
#define THIRD       "abcdefabcdefabcd"

struct watch_fixture {
        struct config cfg;
        struct config_property props[1];
        char bootstraps[256];
        char name[16];
        char topic[64];
        struct fence *fence;
};

static int watch_setup(void **state)
{
        static int n;
        struct watch_fixture *wf = calloc(1, sizeof(*wf));
        char err[256];

        assert_non_null(wf);
        snprintf(wf->name, sizeof(wf->name), "acme-prod");
        snprintf(wf->topic, sizeof(wf->topic), "sfbridge.replay.fence.%d", ++n);
        kfx_topic_create(wf->topic, 1);
        kfx_config_init(&wf->cfg, wf->bootstraps, sizeof(wf->bootstraps), wf->name, wf->topic,
                        wf->props);
        wf->fence = fence_new(&wf->cfg, err, sizeof(err));
        assert_non_null(wf->fence);
        *state = wf;
        return 0;
}

static int watch_teardown(void **state)
{
        struct watch_fixture *wf = *state;

        fence_destroy(wf->fence);
        free(wf);
        return 0;
}

static void produce_owner(const struct watch_fixture *wf, const char *key, const char *instance,
                          const char *st)
{
        char value[128];

        snprintf(value, sizeof(value), "{\"instance\":\"%s\",\"state\":\"%s\"}", instance, st);
        kfx_produce(wf->topic, 0, key, value);
}

/* Poll fence_check() until it says fenced or 5 s pass. @returns its last answer. */
static int check_until_fenced(struct fence *fence, char *err, size_t err_size)
{
        long long deadline = kfx_now_ms() + 5000;
        int rc;

        while (!(rc = fence_check(fence, err, err_size)) && kfx_now_ms() < deadline)
                usleep(20 * 1000);
        return rc;
}

/*
 * Only a claim of our name by another instance, read after the watch began,
 * fences; claimed_by (in errstr) names that instance. The records that must
 * not fence go first, each from a distinct instance, on one partition: had
 * any of them fenced, errstr would name it instead of the newcomer.
 */
static void watcher_fences_on_newer_claim_only(void **state)
{
        struct watch_fixture *wf = *state;
        char err[512] = "", mine_key[300];
        struct buf key, value;

        /* Not watching yet: nothing to read, never fenced. */
        assert_int_equal(fence_check(wf->fence, err, sizeof(err)), 0);
        produce_owner(wf, "acme-prod:owner", OTHER_OLD, "claimed");
        assert_int_equal(fence_watch_start(wf->fence, 5000, err, sizeof(err)), 0);

        /* Our own claim, as the bridge writes it at start. */
        buf_init(&key, 1024);
        buf_init(&value, 4096);
        assert_int_equal(fence_claim_encode(wf->fence, &key, &value), 0);
        snprintf(mine_key, sizeof(mine_key), "%.*s", (int)key.len, key.data);
        assert_string_equal(mine_key, "acme-prod:owner");
        kfx_produce(wf->topic, 0, mine_key, value.data);
        produce_owner(wf, "acme-prod:owner", OTHER_GONE, "released");
        /* Keys as long as ours, so only their bytes tell them apart. */
        produce_owner(wf, "acme-prox:owner", OTHER_NAME, "claimed");
        produce_owner(wf, "acme-prod:/u/ab", OTHER_REPLAY, "claimed");
        produce_owner(wf, "acme-prod:owner.x", OTHER_LONGER, "claimed");
        kfx_produce(wf->topic, 0, "acme-prod:owner", "{\"instance\":5}");
        kfx_produce(wf->topic, 0, "acme-prod:owner", NULL);
        /* Give the watcher time to read all of that: still ours. */
        {
                long long until = kfx_now_ms() + 500;

                while (kfx_now_ms() < until) {
                        assert_int_equal(fence_check(wf->fence, err, sizeof(err)), 0);
                        usleep(20 * 1000);
                }
        }
        assert_int_equal(fence_is_fenced(wf->fence), 0);

        produce_owner(wf, "acme-prod:owner", NEWCOMER, "claimed");
        assert_int_equal(check_until_fenced(wf->fence, err, sizeof(err)), 1);
        assert_int_equal(fence_is_fenced(wf->fence), 1);
        if (!strstr(err, "(instance " NEWCOMER ")"))
                fail_msg("fenced, but not by the newcomer: %s", err);
        assert_non_null(strstr(err, fence_instance(wf->fence)));
        assert_non_null(strstr(err, "acme-prod"));

        /* Sticky: a later release or claim does not change who fenced us. */
        produce_owner(wf, "acme-prod:owner", NEWCOMER, "released");
        produce_owner(wf, "acme-prod:owner", THIRD, "claimed");
        usleep(200 * 1000);
        err[0] = '\0';
        assert_int_equal(fence_check(wf->fence, err, sizeof(err)), 1);
        assert_non_null(strstr(err, "(instance " NEWCOMER ")"));
        buf_free(&key);
        buf_free(&value);
        fence_destroy(NULL);
}

/* A takeover: the previous owner's release ends the wait; a third claim meanwhile fences. */
static void await_release_reads_the_watcher(void **state)
{
        struct watch_fixture *wf = *state;
        const char *previous = "{\"instance\":\"" OTHER_OLD "\",\"state\":\"claimed\"}";
        char err[512] = "";
        long long start;

        assert_int_equal(fence_watch_start(wf->fence, 5000, err, sizeof(err)), 0);
        produce_owner(wf, "acme-prod:owner", OTHER_GONE, "released"); /* someone else's release */
        produce_owner(wf, "acme-prod:owner", OTHER_OLD, "released");
        start = kfx_now_ms();
        /* 60 s is the wait when no release came: ending well before it means the release was seen. */
        assert_int_equal(fence_await_release(wf->fence, previous, strlen(previous), 60000, err,
                                             sizeof(err)), 0);
        assert_true(kfx_now_ms() - start < 30000);
        assert_int_equal(fence_is_fenced(wf->fence), 0);

        produce_owner(wf, "acme-prod:owner", THIRD, "claimed");
        assert_int_equal(fence_await_release(wf->fence, previous, strlen(previous), 60000, err,
                                             sizeof(err)), 1);
        assert_non_null(strstr(err, "(instance " THIRD ")"));
        assert_int_equal(fence_is_fenced(wf->fence), 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(claim_round_trip),
                cmocka_unit_test(instances_differ),
                cmocka_unit_test(owner_live_names_instance_and_time),
                cmocka_unit_test(decode_rejects_bad_values),
                cmocka_unit_test(await_release_without_live_owner_returns_at_once),
                cmocka_unit_test_setup_teardown(watcher_fences_on_newer_claim_only, watch_setup,
                                                watch_teardown),
                cmocka_unit_test_setup_teardown(await_release_reads_the_watcher, watch_setup,
                                                watch_teardown),
        };
        return cmocka_run_group_tests(tests, mock_group_setup, mock_group_teardown);
}
