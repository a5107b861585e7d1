/*
 * replay_store: the record codec (pure), the in-memory store, and load/write
 * end to end against librdkafka's in-process mock cluster.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "buf.h"
#include "config.h"
#include "replay_store.h"
#include "kafka_fixture.h"

/* ---- helpers ---- */

/*
 * Run the librdkafka/log output of a block into a file so a test can read
 * what was logged (and prove what was not).
 */
struct capture {
        FILE *fp;
        int saved;
};

static void capture_start(struct capture *cap)
{
        fflush(stderr);
        cap->fp = tmpfile();
        assert_non_null(cap->fp);
        cap->saved = dup(STDERR_FILENO);
        assert_true(cap->saved >= 0);
        assert_true(dup2(fileno(cap->fp), STDERR_FILENO) >= 0);
}

/* @returns the captured text (free it); the output is echoed to the real stderr too. */
static char *capture_end(struct capture *cap)
{
        long len;
        char *text;

        fflush(stderr);
        dup2(cap->saved, STDERR_FILENO);
        close(cap->saved);
        len = ftell(cap->fp);
        assert_true(len >= 0);
        text = calloc(1, (size_t)len + 1);
        assert_non_null(text);
        rewind(cap->fp);
        assert_int_equal(fread(text, 1, (size_t)len, cap->fp), (size_t)len);
        fclose(cap->fp);
        fputs(text, stderr);
        return text;
}

/*
 * One mock cluster for the whole run (destroying one costs a second); each
 * test gets its own replay topic.
 */
static int test_count;

struct fixture {
        rd_kafka_mock_cluster_t *mc;
        char bootstraps[256];
        struct config cfg;
        struct config_property props[4];
        char name[64];
        char topic[64];
        char expect[256]; /* scratch for expected log text */
};

static int fixture_setup(void **state)
{
        struct fixture *fx = calloc(1, sizeof(*fx));

        assert_non_null(fx);
        fx->mc = mock_cluster;
        snprintf(fx->name, sizeof(fx->name), "acme-prod");
        snprintf(fx->topic, sizeof(fx->topic), "sfbridge.replay.%d", ++test_count);
        kfx_config_init(&fx->cfg, fx->bootstraps, sizeof(fx->bootstraps), fx->name, fx->topic,
                        fx->props);
        *state = fx;
        return 0;
}

static int fixture_teardown(void **state)
{
        free(*state);
        return 0;
}

static const struct replay_entry *entry_of(const struct replay_store *rs, const char *channel)
{
        size_t i;

        for (i = 0; i < replay_store_count(rs); i++)
                if (!strcmp(replay_store_entry(rs, i)->channel, channel))
                        return replay_store_entry(rs, i);
        fail_msg("no entry for %s", channel);
        return NULL;
}

/* ---- codec ---- */

static void test_encode_decode_round_trip(void **state)
{
        struct buf key, value;
        struct replay_entry entry;
        char errstr[256];

        (void)state;
        buf_init(&key, 4096);
        buf_init(&value, REPLAY_RECORD_MAX);
        assert_int_equal(replay_record_encode("acme-prod", "/topic/AccountUpdates", 123,
                                              "2026-11-23T09:18:40.000Z",
                                              "2026-11-23T09:18:43.123Z", &key, &value),
                         0);
        assert_string_equal(key.data, "acme-prod:/topic/AccountUpdates");
        assert_string_equal(value.data, "{\"channel\":\"/topic/AccountUpdates\",\"replay_id\":123,"
                                        "\"event_time\":\"2026-11-23T09:18:40.000Z\","
                                        "\"committed_at\":\"2026-11-23T09:18:43.123Z\"}");
        assert_int_equal(
            replay_record_decode(value.data, value.len, &entry, errstr, sizeof(errstr)), 0);
        assert_string_equal(entry.channel, "/topic/AccountUpdates");
        assert_true(entry.replay_id == 123);
        assert_string_equal(entry.event_time, "2026-11-23T09:18:40.000Z");
        assert_string_equal(entry.committed_at, "2026-11-23T09:18:43.123Z");
        free(entry.channel);

        /* Unknown event time: always present, empty. */
        assert_int_equal(replay_record_encode("acme-prod", "/event/Order_Placed__e", -2, NULL,
                                              "2026-11-23T09:18:43.123Z", &key, &value),
                         0);
        assert_non_null(strstr(value.data, "\"replay_id\":-2,\"event_time\":\"\","));
        assert_int_equal(
            replay_record_decode(value.data, value.len, &entry, errstr, sizeof(errstr)), 0);
        assert_true(entry.replay_id == REPLAY_ALL);
        assert_string_equal(entry.event_time, "");
        free(entry.channel);

        /* Characters JSON must escape survive the round trip. */
        assert_int_equal(replay_record_encode("n", "/topic/q\"b\\s\x01", 7, "", "", &key, &value),
                         0);
        assert_int_equal(
            replay_record_decode(value.data, value.len, &entry, errstr, sizeof(errstr)), 0);
        assert_string_equal(entry.channel, "/topic/q\"b\\s\x01");
        free(entry.channel);

        /* Replay IDs past 2^53 round-trip exactly (a double would round them). */
        {
                static const long long ids[] = { 9007199254740992LL, 9007199254740993LL,
                                                 123456789012345678LL, 9223372036854775807LL };
                size_t i;

                for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
                        assert_int_equal(replay_record_encode("n", "/topic/A", ids[i], "", "",
                                                              &key, &value), 0);
                        assert_int_equal(replay_record_decode(value.data, value.len, &entry,
                                                              errstr, sizeof(errstr)), 0);
                        assert_true(entry.replay_id == ids[i]);
                        free(entry.channel);
                }
        }

        buf_free(&key);
        buf_free(&value);
}

static void test_gap_encode(void **state)
{
        struct buf key, value;
        struct config cfg = { 0 };
        char topic[256], longname[250];

        (void)state;
        buf_init(&key, 4096);
        buf_init(&value, 4096);
        assert_int_equal(replay_gap_encode("acme-prod", "/topic/A", 41, REPLAY_NEW, "new",
                                           "2026-11-23T09:18:43.123Z", &key, &value),
                         0);
        /* Unique per gap: an append-only topic keeps every one. */
        assert_string_equal(key.data, "acme-prod:/topic/A:gap:2026-11-23T09:18:43.123Z");
        assert_string_equal(value.data, "{\"channel\":\"/topic/A\",\"stored_replay_id\":41,"
                                        "\"resubscribed_from\":-1,\"policy\":\"new\","
                                        "\"detected_at\":\"2026-11-23T09:18:43.123Z\","
                                        "\"bridge\":\"acme-prod\"}");
        /* fail resubscribes nowhere. */
        assert_int_equal(replay_gap_encode("b", "/topic/\"q\"", 7, 0, "fail", "t", &key, &value), 0);
        assert_string_equal(value.data, "{\"channel\":\"/topic/\\\"q\\\"\",\"stored_replay_id\":7,"
                                        "\"resubscribed_from\":null,\"policy\":\"fail\","
                                        "\"detected_at\":\"t\",\"bridge\":\"b\"}");
        cfg.kafka.replay_topic = "acme.replay";
        replay_gap_topic(&cfg, topic, sizeof(topic));
        assert_string_equal(topic, "acme.replay.gaps");
        /* Never past Kafka's 249 bytes. */
        memset(longname, 'r', 249);
        longname[249] = '\0';
        cfg.kafka.replay_topic = longname;
        replay_gap_topic(&cfg, topic, sizeof(topic));
        assert_int_equal(strlen(topic), 249);
        assert_string_equal(topic + 244, ".gaps");
        buf_free(&key);
        buf_free(&value);
}

/* Each bad value fails with an errstr naming what is wrong. */
static void test_decode_rejects(void **state)
{
        static const struct {
                const char *value;
                const char *err;
        } cases[] = {
            {"", "empty value"},
            {"{", "not valid JSON"},
            {"not json", "not valid JSON"},
            {"{\"channel\":\"/topic/A\",\"replay_id\":1", "not valid JSON"},
            {"[1,2]", "not a JSON object"},
            {"\"text\"", "not a JSON object"},
            {"{\"replay_id\":1}", "channel: missing"},
            {"{\"channel\":7,\"replay_id\":1}", "channel: not a string"},
            {"{\"channel\":\"\",\"replay_id\":1}", "channel: empty"},
            {"{\"channel\":\"/topic/A\"}", "replay_id: missing"},
            {"{\"channel\":\"/topic/A\",\"replay_id\":\"12\"}", "replay_id: not a number"},
            {"{\"channel\":\"/topic/A\",\"replay_id\":null}", "replay_id: not a number"},
            {"{\"channel\":\"/topic/A\",\"replay_id\":1.5}", "replay_id: not an integer"},
            {"{\"channel\":\"/topic/A\",\"replay_id\":-3}", "replay_id: not an integer"},
            {"{\"channel\":\"/topic/A\",\"replay_id\":1e300}", "replay_id: not an integer"},
            {"{\"channel\":\"/topic/A\",\"replay_id\":1e400}", "replay_id: not an integer"},
            {"{\"channel\":\"/topic/A\",\"replay_id\":-1e400}", "replay_id: not an integer"},
            {"{\"channel\":\"/topic/A\",\"replay_id\":9223372036854775808}",
             "replay_id: not an integer"},
            {"{\"channel\":\"/topic/A\",\"replay_id\":-0}", "replay_id: not an integer"},
            {"{\"channel\":\"/topic/A\",\"replay_id\":99999999999999999999999}",
             "replay_id: not an integer"},
            {"{\"channel\":\"/topic/A\",\"replay_id\":1,\"event_time\":5}",
             "event_time: not a string"},
            {"{\"channel\":\"/topic/A\",\"replay_id\":1,\"committed_at\":[]}",
             "committed_at: not a string"},
            {"{\"channel\":\"/topic/A\",\"replay_id\":1,\"event_time\":"
             "\"2026-11-23T09:18:43.123456789012345678901Z\"}",
             "event_time: too long"},
        };
        struct replay_entry entry;
        char errstr[256];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                errstr[0] = '\0';
                entry.channel = (char *)"poison";
                if (replay_record_decode(cases[i].value, strlen(cases[i].value), &entry, errstr,
                                         sizeof(errstr)) != -1)
                        fail_msg("case %zu (%s) decoded", i, cases[i].value);
                if (!strstr(errstr, cases[i].err))
                        fail_msg("case %zu (%s): errstr \"%s\" lacks \"%s\"", i, cases[i].value,
                                 errstr, cases[i].err);
                assert_null(entry.channel); /* nothing to free on failure */
        }
        assert_int_equal(replay_record_decode(NULL, 0, &entry, errstr, sizeof(errstr)), -1);
}

static void test_decode_tolerates(void **state)
{
        struct replay_entry entry;
        char errstr[256];
        const char *v;

        (void)state;
        /* Optional fields missing or null; unknown members ignored; no NUL needed. */
        v = "{\"replay_id\":42,\"channel\":\"/data/"
            "ChangeEvents\",\"event_time\":null,\"x\":{}}XXXX";
        assert_int_equal(replay_record_decode(v, strlen(v) - 4, &entry, errstr, sizeof(errstr)), 0);
        assert_string_equal(entry.channel, "/data/ChangeEvents");
        assert_true(entry.replay_id == 42);
        assert_string_equal(entry.event_time, "");
        assert_string_equal(entry.committed_at, "");
        free(entry.channel);
        v = "{\"channel\":\"/topic/"
            "A\",\"replay_id\":-1,\"committed_at\":\"2026-01-01T00:00:00.000Z\"}";
        assert_int_equal(replay_record_decode(v, strlen(v), &entry, errstr, sizeof(errstr)), 0);
        assert_true(entry.replay_id == REPLAY_NEW);
        free(entry.channel);
}

static void test_decode_size_ceiling(void **state)
{
        struct replay_entry entry;
        char errstr[256];
        size_t len = REPLAY_RECORD_MAX + 10;
        char *big = malloc(len + 1);

        (void)state;
        assert_non_null(big);
        memset(big, ' ', len);
        memcpy(big, "{\"channel\":\"/topic/A\",\"replay_id\":1}", 36);
        big[len] = '\0';
        assert_int_equal(replay_record_decode(big, len, &entry, errstr, sizeof(errstr)), -1);
        assert_non_null(strstr(errstr, "too large"));
        free(big);
}

static void test_now_rfc3339(void **state)
{
        char now[40];
        int y, mo, d, h, mi, s, ms;
        char z = 0;

        (void)state;
        replay_now_rfc3339(now, sizeof(now));
        assert_int_equal(strlen(now), 24);
        assert_int_equal(
            sscanf(now, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &y, &mo, &d, &h, &mi, &s, &ms, &z), 8);
        assert_int_equal(z, 'Z');
        assert_true(y >= 2024 && mo >= 1 && mo <= 12 && ms >= 0 && ms <= 999);
}

static void test_store_in_memory(void **state)
{
        struct fixture *fx = *state;
        struct replay_store *rs;
        const struct replay_entry *entry;
        char errstr[256];
        long long id;

        rs = replay_store_new(&fx->cfg, errstr, sizeof(errstr));
        assert_non_null(rs);
        assert_int_equal(replay_store_count(rs), 0);
        assert_int_equal(replay_store_get(rs, "/topic/A", &id), -1);
        assert_int_equal(replay_store_set(rs, "/topic/A", 5, "2026-01-01T00:00:00.000Z"), 0);
        assert_int_equal(replay_store_set(rs, "/topic/B", 9, NULL), 0);
        assert_int_equal(replay_store_set(rs, "/topic/A", 6, NULL), 0);
        assert_int_equal(replay_store_count(rs), 2);
        assert_true(kfx_stored(rs, "/topic/A") == 6);
        assert_true(kfx_stored(rs, "/topic/B") == 9);
        entry = replay_store_entry(rs, 0);
        assert_non_null(entry);
        assert_string_equal(entry->channel, "/topic/A");
        assert_string_equal(entry->event_time, "");
        assert_int_equal(strlen(entry->committed_at), 24);
        assert_null(replay_store_entry(rs, 2));
        replay_store_destroy(rs);
        replay_store_destroy(NULL);

        fx->cfg.kafka.replay_topic = NULL;
        assert_null(replay_store_new(&fx->cfg, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "replay_topic"));
        fx->cfg.kafka.replay_topic = fx->topic;
}

/* ---- against the mock cluster ---- */

static void test_load_fresh_topic_is_quick_and_empty(void **state)
{
        struct fixture *fx = *state;
        struct replay_store *rs = replay_store_new(&fx->cfg, NULL, 0);
        char errstr[512];
        long long start;

        assert_non_null(rs);
        rd_kafka_mock_topic_create(fx->mc, fx->topic, 3, 1);
        start = kfx_now_ms();
        assert_int_equal(replay_store_load(rs, 10000, errstr, sizeof(errstr)), 0);
        assert_string_equal(errstr, "");
        assert_int_equal(replay_store_count(rs), 0);
        assert_true(kfx_now_ms() - start < 3000);
        replay_store_destroy(rs);
}

/*
 * A missing topic on a cluster without a usable controller (the mock's
 * metadata names controller 0, its brokers start at 1): no CreateTopics
 * wait, an info line saying so, and an empty store.
 */
static void test_load_missing_topic_without_controller(void **state)
{
        struct fixture *fx = *state;
        struct replay_store *rs = replay_store_new(&fx->cfg, NULL, 0);
        struct capture cap;
        char errstr[512];
        long long start;
        char *text;
        int rc;

        assert_non_null(rs);
        rd_kafka_mock_topic_set_error(fx->mc, fx->topic, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
        start = kfx_now_ms();
        capture_start(&cap);
        rc = replay_store_load(rs, 10000, errstr, sizeof(errstr));
        text = capture_end(&cap);
        assert_int_equal(rc, 0);
        assert_int_equal(replay_store_count(rs), 0);
        assert_true(kfx_now_ms() - start < 3000);
        snprintf(fx->expect, sizeof(fx->expect),
                 "level=info msg=replay_topic_not_created topic=%s ", fx->topic);
        assert_non_null(strstr(text, fx->expect));
        free(text);
        replay_store_destroy(rs);
}

static void test_load_unreachable_kafka_fails_in_time(void **state)
{
        struct fixture *fx = *state;
        struct replay_store *rs;
        char errstr[512];
        char closed[] = "127.0.0.1:1";
        long long start;

        fx->cfg.kafka.bootstrap_servers = closed;
        rs = replay_store_new(&fx->cfg, NULL, 0);
        assert_non_null(rs);
        start = kfx_now_ms();
        assert_int_equal(replay_store_load(rs, 1000, errstr, sizeof(errstr)), -1);
        assert_true(kfx_now_ms() - start < 4000);
        snprintf(fx->expect, sizeof(fx->expect), "replay topic %s", fx->topic);
        assert_non_null(strstr(errstr, fx->expect));
        replay_store_destroy(rs);
        fx->cfg.kafka.bootstrap_servers = fx->bootstraps;
}

static void test_write_then_load(void **state)
{
        struct fixture *fx = *state;
        struct replay_store *rs = replay_store_new(&fx->cfg, NULL, 0);
        struct replay_store *rs2 = replay_store_new(&fx->cfg, NULL, 0);
        char errstr[512];

        assert_non_null(rs);
        assert_non_null(rs2);
        rd_kafka_mock_topic_create(fx->mc, fx->topic, 3, 1);
        assert_int_equal(replay_store_write(rs, "/topic/A", 100, 5000, errstr, sizeof(errstr)), 0);
        assert_int_equal(replay_store_write(rs, "/topic/A", 200, 5000, errstr, sizeof(errstr)), 0);
        assert_int_equal(
            replay_store_write(rs, "/event/B__e", REPLAY_NEW, 5000, errstr, sizeof(errstr)), 0);
        assert_true(kfx_stored(rs, "/topic/A") == 200); /* write updates the local store too */

        assert_int_equal(replay_store_load(rs2, 5000, errstr, sizeof(errstr)), 0);
        assert_string_equal(errstr, "");
        assert_int_equal(replay_store_count(rs2), 2);
        assert_true(kfx_stored(rs2, "/topic/A") == 200);
        assert_true(kfx_stored(rs2, "/event/B__e") == REPLAY_NEW);

        /* Loading again starts over rather than merging. */
        assert_int_equal(replay_store_set(rs2, "/topic/stale", 1, NULL), 0);
        assert_int_equal(replay_store_load(rs2, 5000, errstr, sizeof(errstr)), 0);
        assert_int_equal(replay_store_count(rs2), 2);

        /* Bad arguments are refused before touching Kafka. */
        assert_int_equal(replay_store_write(rs, "topic/A", 1, 1000, errstr, sizeof(errstr)), -1);
        assert_non_null(strstr(errstr, "channel"));
        assert_int_equal(replay_store_write(rs, "/topic/A", -3, 1000, errstr, sizeof(errstr)), -1);
        assert_non_null(strstr(errstr, "-3"));

        replay_store_destroy(rs);
        replay_store_destroy(rs2);
}

/* Other bridges' keys, gap keys, tombstones and garbage in one topic. */
static void test_load_filters_keys_and_skips_garbage(void **state)
{
        struct fixture *fx = *state;
        struct replay_store *rs = replay_store_new(&fx->cfg, NULL, 0);
        struct capture cap;
        char errstr[512];
        char *text;
        int rc;

        assert_non_null(rs);
        rd_kafka_mock_topic_create(fx->mc, fx->topic, 2, 1);
        kfx_produce(fx->topic, 0, "acme-prod:/topic/A",
                    "{\"channel\":\"/topic/"
                    "A\",\"replay_id\":10,\"event_time\":\"2026-01-01T00:00:00.000Z\","
                    "\"committed_at\":\"2026-01-01T00:00:01.000Z\"}");
        /* Another bridge whose name starts like ours, and one named "acme". */
        kfx_produce(fx->topic, 0, "acme-prod-eu:/topic/A",
                    "{\"channel\":\"/topic/"
                    "A\",\"replay_id\":999,\"committed_at\":\"2026-01-01T00:00:02.000Z\"}");
        kfx_produce(fx->topic, 0, "acme:/topic/A",
                    "{\"channel\":\"/topic/A\",\"replay_id\":998}");
        /* Gap audit record: not a replay ID. */
        kfx_produce(fx->topic, 0, "acme-prod:/topic/A:gap",
                    "{\"channel\":\"/topic/"
                    "A\",\"last_committed_replay_id\":10,\"policy\":\"all\",\"at\":\"x\"}");
        /* Garbage at partition 1, offsets 0 and 1: skipped with a warning. */
        kfx_produce(fx->topic, 1, "acme-prod:/topic/B", "{oops");
        kfx_produce(fx->topic, 1, "acme-prod:/topic/C",
                    "{\"channel\":\"/topic/NOT-C\",\"replay_id\":3}");
        /* Deleted channel: written, then a tombstone. */
        kfx_produce(fx->topic, 1, "acme-prod:/topic/D",
                    "{\"channel\":\"/topic/D\",\"replay_id\":4}");
        kfx_produce(fx->topic, 1, "acme-prod:/topic/D", NULL);
        kfx_produce(fx->topic, 1, "acme-prod:/topic/E",
                    "{\"channel\":\"/topic/E\",\"replay_id\":5}");

        capture_start(&cap);
        rc = replay_store_load(rs, 5000, errstr, sizeof(errstr));
        text = capture_end(&cap);
        assert_int_equal(rc, 0);
        assert_int_equal(replay_store_count(rs), 2);
        assert_true(kfx_stored(rs, "/topic/A") == 10);
        assert_string_equal(entry_of(rs, "/topic/A")->event_time, "2026-01-01T00:00:00.000Z");
        assert_string_equal(entry_of(rs, "/topic/A")->committed_at, "2026-01-01T00:00:01.000Z");
        assert_true(kfx_stored(rs, "/topic/E") == 5);
        assert_true(kfx_stored(rs, "/topic/B") == -999);
        assert_true(kfx_stored(rs, "/topic/C") == -999);
        assert_true(kfx_stored(rs, "/topic/D") == -999);
        assert_non_null(strstr(
            errstr,
            "skipped 2 undecodable record(s), first at partition 1 offset 0: not valid JSON"));
        snprintf(fx->expect, sizeof(fx->expect),
                 "msg=replay_record_skipped topic=%s partition=1 offset=0 err=\"not valid JSON\"",
                 fx->topic);
        assert_non_null(strstr(text, fx->expect));
        assert_non_null(
            strstr(text, "partition=1 offset=1 err=\"channel in the value differs from the key\""));
        free(text);

        /* The bridge named "acme" sees only its own key. */
        {
                char other[] = "acme";
                struct replay_store *rs2;

                fx->cfg.name = other;
                rs2 = replay_store_new(&fx->cfg, NULL, 0);
                assert_non_null(rs2);
                assert_int_equal(replay_store_load(rs2, 5000, errstr, sizeof(errstr)), 0);
                assert_int_equal(replay_store_count(rs2), 1);
                assert_true(kfx_stored(rs2, "/topic/A") == 998);
                replay_store_destroy(rs2);
                fx->cfg.name = fx->name;
        }
        replay_store_destroy(rs);
}

/* Newest per key: later offsets win; across partitions the later commit wins. */
static void test_load_keeps_newest(void **state)
{
        struct fixture *fx = *state;
        struct replay_store *rs = replay_store_new(&fx->cfg, NULL, 0);
        char errstr[512];

        assert_non_null(rs);
        rd_kafka_mock_topic_create(fx->mc, fx->topic, 2, 1);
        kfx_produce(fx->topic, 0, "acme-prod:/topic/A",
                    "{\"channel\":\"/topic/"
                    "A\",\"replay_id\":1,\"committed_at\":\"2026-01-01T00:00:01.000Z\"}");
        kfx_produce(fx->topic, 0, "acme-prod:/topic/A",
                    "{\"channel\":\"/topic/"
                    "A\",\"replay_id\":3,\"committed_at\":\"2026-01-01T00:00:03.000Z\"}");
        kfx_produce(fx->topic, 1, "acme-prod:/topic/A",
                    "{\"channel\":\"/topic/"
                    "A\",\"replay_id\":2,\"committed_at\":\"2026-01-01T00:00:02.000Z\"}");
        assert_int_equal(replay_store_load(rs, 5000, errstr, sizeof(errstr)), 0);
        assert_true(kfx_stored(rs, "/topic/A") == 3);
        replay_store_destroy(rs);
}

/* Replay records name the org (and login host) that wrote them; older records read as unknown. */
static void test_org_bound_records(void **state)
{
        struct fixture *fx = *state;
        struct replay_store *rs = replay_store_new(&fx->cfg, NULL, 0);
        const struct replay_entry *e;
        struct replay_entry entry;
        struct buf key, value;
        char errstr[512];
        size_t i;

        assert_non_null(rs);
        buf_init(&key, 4096);
        buf_init(&value, REPLAY_RECORD_MAX);

        /* Before an origin is known the record has no org members at all. */
        assert_int_equal(replay_store_record_encode(rs, "/topic/A", 7, "", "t", &key, &value), 0);
        assert_null(strstr(value.data, "\"org\""));
        assert_null(strstr(value.data, "login_host"));

        replay_store_set_origin(rs, "00D000000000002AAA", "login.example.com:8443");
        assert_int_equal(replay_store_record_encode(rs, "/topic/A", 7, "", "t", &key, &value), 0);
        assert_string_equal(key.data, "acme-prod:/topic/A");
        assert_string_equal(value.data, "{\"channel\":\"/topic/A\",\"replay_id\":7,\"event_time\":\"\","
                                        "\"committed_at\":\"t\",\"org\":\"00D000000000002AAA\","
                                        "\"login_host\":\"login.example.com:8443\"}");
        assert_int_equal(replay_record_decode(value.data, value.len, &entry, errstr, sizeof(errstr)), 0);
        assert_string_equal(entry.org, "00D000000000002AAA");
        assert_string_equal(entry.login_host, "login.example.com:8443");
        assert_true(entry.replay_id == 7);
        free(entry.channel);

        /* A record of an older version: no org, accepted as unknown. */
        assert_int_equal(replay_record_decode("{\"channel\":\"/topic/A\",\"replay_id\":3}", 37,
                                              &entry, errstr, sizeof(errstr)), 0);
        assert_string_equal(entry.org, "");
        assert_string_equal(entry.login_host, "");
        free(entry.channel);

        /* A wrong org member is refused with its name, not read as unknown. */
        {
                static const char *const bad[] = {
                        "{\"channel\":\"/topic/A\",\"replay_id\":3,\"org\":5}",
                        "{\"channel\":\"/topic/A\",\"replay_id\":3,\"org\":\"00D0000000000000000000000000000000000001\"}",
                        "{\"channel\":\"/topic/A\",\"replay_id\":3,\"login_host\":[]}",
                };
                for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                        assert_int_equal(replay_record_decode(bad[i], strlen(bad[i]), &entry, errstr,
                                                              sizeof(errstr)), -1);
                        assert_true(strstr(errstr, "org") || strstr(errstr, "login_host"));
                }
        }

        /* set() stamps the origin; forget() drops the entry in memory only. */
        assert_int_equal(replay_store_set(rs, "/topic/B", 9, NULL), 0);
        e = replay_store_entry(rs, 0);
        assert_string_equal(e->org, "00D000000000002AAA");
        replay_store_forget(rs, "/topic/B");
        assert_int_equal(replay_store_count(rs), 0);

        /* Loaded from the topic: org per channel; the origin survives a load. */
        kfx_produce(fx->topic, 0, "acme-prod:/topic/A",
                    "{\"channel\":\"/topic/A\",\"replay_id\":4,\"org\":\"00D000000000001AAA\","
                    "\"login_host\":\"127.0.0.1:1\"}");
        kfx_produce(fx->topic, 0, "acme-prod:/topic/C", "{\"channel\":\"/topic/C\",\"replay_id\":5}");
        assert_int_equal(replay_store_load(rs, 5000, errstr, sizeof(errstr)), 0);
        assert_int_equal(replay_store_count(rs), 2);
        for (i = 0; i < replay_store_count(rs); i++) {
                e = replay_store_entry(rs, i);
                if (!strcmp(e->channel, "/topic/A")) {
                        assert_string_equal(e->org, "00D000000000001AAA");
                        assert_string_equal(e->login_host, "127.0.0.1:1");
                } else {
                        assert_string_equal(e->org, "");
                }
        }
        assert_int_equal(replay_store_record_encode(rs, "/topic/A", 8, "", "t", &key, &value), 0);
        assert_non_null(strstr(value.data, "\"org\":\"00D000000000002AAA\""));

        buf_free(&key);
        buf_free(&value);
        replay_store_destroy(rs);
}

int main(void)
{
        int rc;
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_encode_decode_round_trip),
            cmocka_unit_test(test_gap_encode),
            cmocka_unit_test(test_decode_rejects),
            cmocka_unit_test(test_decode_tolerates),
            cmocka_unit_test(test_decode_size_ceiling),
            cmocka_unit_test(test_now_rfc3339),
            cmocka_unit_test_setup_teardown(test_store_in_memory, fixture_setup, fixture_teardown),
            cmocka_unit_test_setup_teardown(test_load_fresh_topic_is_quick_and_empty, fixture_setup,
                                            fixture_teardown),
            cmocka_unit_test_setup_teardown(test_load_missing_topic_without_controller,
                                            fixture_setup, fixture_teardown),
            cmocka_unit_test_setup_teardown(test_load_unreachable_kafka_fails_in_time,
                                            fixture_setup, fixture_teardown),
            cmocka_unit_test_setup_teardown(test_write_then_load, fixture_setup, fixture_teardown),
            cmocka_unit_test_setup_teardown(test_load_filters_keys_and_skips_garbage, fixture_setup,
                                            fixture_teardown),
            cmocka_unit_test_setup_teardown(test_load_keeps_newest, fixture_setup,
                                            fixture_teardown),
            cmocka_unit_test_setup_teardown(test_org_bound_records, fixture_setup,
                                            fixture_teardown),
        };

        rc = cmocka_run_group_tests(tests, mock_group_setup, mock_group_teardown);
        /* Every librdkafka handle must be gone: a leaked one fails the run. */
        if (rd_kafka_wait_destroyed(5000) != 0) {
                fprintf(stderr, "[  ERROR   ] librdkafka handles still alive at exit\n");
                return 1;
        }
        return rc;
}
