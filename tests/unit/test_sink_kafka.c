/*
 * sink_kafka against librdkafka's in-process mock cluster: transactions,
 * aborts, fencing, Kafka down and up, and at_least_once ack ordering.
 *
 * librdkafka 2.0.2's mock cluster stores transactional records without
 * control markers (a read_committed reader sees whatever reached the log)
 * and does not bump producer epochs on InitProducerId. So "invisible to
 * read_committed" is tested with batches whose records never reach the log
 * (Produce errors), and fencing by injecting the error Kafka's transaction
 * coordinator returns to the older instance after the newer one's
 * InitProducerId.
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

#include "config.h"
#include "replay_store.h"
#include "router.h"
#include "sink_kafka.h"
#include "kafka_fixture.h"

/* Kafka protocol ApiKeys (rdkafka_protocol.h is not installed). */
#define APIKEY_PRODUCE               0
#define APIKEY_INIT_PRODUCER_ID      22
#define APIKEY_ADD_PARTITIONS_TO_TXN 24
#define APIKEY_END_TXN               26

/*
 * One mock cluster for the whole run (destroying one costs a second); each
 * test gets its own bridge name, so its own transactional.id, replay topic
 * and event topic, and leaves no injected error or broker state behind.
 */
static int test_count;

struct fixture {
        rd_kafka_mock_cluster_t *mc;
        char bootstraps[256];
        struct config cfg;
        struct config_property props[4];
        char name[64];
        char topic[64]; /* the replay topic */
        char event_topic[64];
        struct config_route route;
        char route_channel[64];
        struct replay_store *rs;
        char key[128];
        int broker_down; /* left down by a failed test: restore (costs ~1 s) */
};

static int fixture_setup(void **state)
{
        struct fixture *fx = calloc(1, sizeof(*fx));
        char errstr[256];
        int n = ++test_count;

        assert_non_null(fx);
        fx->mc = mock_cluster;
        snprintf(fx->name, sizeof(fx->name), "acme-prod-%d", n);
        snprintf(fx->topic, sizeof(fx->topic), "sfbridge.replay.%d", n);
        snprintf(fx->event_topic, sizeof(fx->event_topic), "salesforce.account-updates.%d", n);
        kfx_topic_create(fx->topic, 1);
        kfx_topic_create(fx->event_topic, 2);
        kfx_config_init(&fx->cfg, fx->bootstraps, sizeof(fx->bootstraps), fx->name, fx->topic,
                        fx->props);
        snprintf(fx->route_channel, sizeof(fx->route_channel), "/topic/A");
        fx->route.channel = fx->route_channel;
        fx->route.topic = fx->event_topic;
        fx->cfg.routes = &fx->route;
        fx->cfg.nroutes = 1;
        fx->rs = replay_store_new(&fx->cfg, errstr, sizeof(errstr));
        assert_non_null(fx->rs);
        *state = fx;
        return 0;
}

static int fixture_teardown(void **state)
{
        struct fixture *fx = *state;

        rd_kafka_mock_clear_request_errors(fx->mc, APIKEY_PRODUCE);
        rd_kafka_mock_clear_request_errors(fx->mc, APIKEY_ADD_PARTITIONS_TO_TXN);
        rd_kafka_mock_clear_request_errors(fx->mc, APIKEY_END_TXN);
        if (fx->broker_down)
                rd_kafka_mock_broker_set_up(fx->mc, 1);
        replay_store_destroy(fx->rs);
        free(fx);
        return 0;
}

/* The replay record key of channel for this test's bridge name. */
static const char *key_of(struct fixture *fx, const char *channel)
{
        snprintf(fx->key, sizeof(fx->key), "%s:%s", fx->name, channel);
        return fx->key;
}

static int fixture_setup_alo(void **state)
{
        struct fixture *fx;

        fixture_setup(state);
        fx = *state;
        fx->cfg.kafka.delivery = DELIVERY_AT_LEAST_ONCE;
        return 0;
}

/* The one property the tests add: deliveries fail fast instead of after 5 min. */
static void short_message_timeout(struct fixture *fx)
{
        static char name[] = "message.timeout.ms", value[] = "3000";

        fx->props[0].name = name;
        fx->props[0].value = value;
        fx->cfg.kafka.nproperties = 1;
}

/* The event topic of the running test (set by start_sink). */
static const char *produce_topic;

static struct sink *start_sink(struct fixture *fx)
{
        char errstr[512];
        struct sink *sink = sink_new(&fx->cfg, fx->rs, errstr, sizeof(errstr));

        produce_topic = fx->event_topic;

        if (!sink)
                fail_msg("sink_new: %s", errstr);
        if (sink_start(sink, 10000, errstr, sizeof(errstr)) != SINK_OK)
                fail_msg("sink_start: %s", errstr);
        return sink;
}

/* An event record as router_render would make it; the value lives in the
 * caller's buffer (router borrows it from the response body). */
static void make_record(struct router_record *rec, char *value, size_t value_size,
                        const char *topic, const char *channel, long long replay_id)
{
        memset(rec, 0, sizeof(*rec));
        snprintf(rec->topic, sizeof(rec->topic), "%s", topic);
        snprintf(rec->key_buf, sizeof(rec->key_buf), "%lld", replay_id);
        rec->key = rec->key_buf;
        rec->key_len = strlen(rec->key_buf);
        rec->value = value;
        rec->value_len = (size_t)snprintf(value, value_size, "{\"Id\":\"001\",\"n\":%lld}", replay_id);
        snprintf(rec->replay_id_buf, sizeof(rec->replay_id_buf), "%lld", replay_id);
        rec->headers[0].name = "sf.channel";
        rec->headers[0].value = channel;
        rec->headers[0].value_len = strlen(channel);
        rec->headers[1].name = "sf.replay_id";
        rec->headers[1].value = rec->replay_id_buf;
        rec->headers[1].value_len = strlen(rec->replay_id_buf);
        rec->nheaders = 2;
        rec->channel = channel;
        rec->replay_id = replay_id;
}

/* Produce one event of channel and mark it. */
static int produce_event(struct sink *sink, const char *channel, long long replay_id)
{
        struct router_record rec;
        char errstr[512], value[64];
        int status;

        make_record(&rec, value, sizeof(value), produce_topic, channel, replay_id);
        status = sink_produce(sink, &rec, errstr, sizeof(errstr));
        memset(value, 'X', sizeof(value)); /* copied: the caller's buffer is free again */
        if (status != SINK_OK)
                return status;
        return sink_mark(sink, channel, replay_id, "2026-11-23T09:00:00.000Z", errstr,
                         sizeof(errstr));
}

/* The bytes produce_event's record puts in flight: value, key and header names and values. */
static unsigned long long event_bytes(const char *channel, long long replay_id)
{
        char value[64], key[32];
        int vlen = snprintf(value, sizeof(value), "{\"Id\":\"001\",\"n\":%lld}", replay_id);
        int klen = snprintf(key, sizeof(key), "%lld", replay_id);

        return (unsigned long long)vlen + (unsigned long long)klen + strlen("sf.channel") +
               strlen(channel) + strlen("sf.replay_id") + (unsigned long long)klen;
}

/* ---- exactly_once ---- */

static void test_eos_commit_is_visible_and_updates_store(void **state)
{
        struct fixture *fx = *state;
        struct sink *sink = start_sink(fx);
        struct replay_store *loaded;
        struct kfx_read rd;
        char errstr[512];

        assert_int_equal(sink_begin(sink, errstr, sizeof(errstr)), SINK_OK);
        assert_int_equal(produce_event(sink, "/topic/A", 101), SINK_OK);
        assert_int_equal(produce_event(sink, "/topic/A", 102), SINK_OK);
        assert_int_equal(produce_event(sink, "/event/B__e", 7), SINK_OK);
        assert_int_equal(produce_event(sink, "/topic/A", 103), SINK_OK);
        assert_true(kfx_stored(fx->rs, "/topic/A") == -999); /* nothing before the commit */
        assert_int_equal(sink_commit(sink, 10000, errstr, sizeof(errstr)), SINK_OK);
        assert_int_equal(sink_in_flight(sink), 0);
        assert_true(kfx_stored(fx->rs, "/topic/A") == 103);
        assert_true(kfx_stored(fx->rs, "/event/B__e") == 7);

        kfx_read_topic(fx->bootstraps, fx->event_topic, &rd);
        assert_int_equal(rd.n, 4);
        assert_int_equal(kfx_count_key(&rd, "101") + kfx_count_key(&rd, "102") + kfx_count_key(&rd, "103") +
                             kfx_count_key(&rd, "7"),
                         4);
        assert_string_equal(rd.channel_header[0][0] ? "ok" : "missing", "ok");
        kfx_read_topic(fx->bootstraps, fx->topic, &rd);
        assert_int_equal(rd.n, 2);
        assert_int_equal(kfx_count_key(&rd, key_of(fx, "/topic/A")), 1);
        assert_int_equal(kfx_count_key(&rd, key_of(fx, "/event/B__e")), 1);

        /* A restart reads the same IDs back. */
        loaded = replay_store_new(&fx->cfg, errstr, sizeof(errstr));
        assert_non_null(loaded);
        assert_int_equal(replay_store_load(loaded, 5000, errstr, sizeof(errstr)), 0);
        assert_true(kfx_stored(loaded, "/topic/A") == 103);
        assert_true(kfx_stored(loaded, "/event/B__e") == 7);
        replay_store_destroy(loaded);

        /* Empty batches commit too, and change nothing. */
        assert_int_equal(sink_begin(sink, errstr, sizeof(errstr)), SINK_OK);
        assert_int_equal(sink_commit(sink, 10000, errstr, sizeof(errstr)), SINK_OK);
        assert_true(kfx_stored(fx->rs, "/topic/A") == 103);
        assert_true(sink_errors(sink) == 0);
        sink_destroy(sink);
}

/*
 * Every Produce of the batch fails permanently: the transaction becomes
 * abortable, commit aborts it, nothing of it reaches the log and the store
 * keeps the previous IDs. The next batch commits normally.
 */
static void test_eos_abortable_error_aborts_batch(void **state)
{
        struct fixture *fx = *state;
        struct sink *sink = start_sink(fx);
        struct kfx_read rd;
        char errstr[512];
        int status, attempt;

        assert_int_equal(sink_begin(sink, errstr, sizeof(errstr)), SINK_OK);
        assert_int_equal(produce_event(sink, "/topic/A", 10), SINK_OK);
        assert_int_equal(sink_commit(sink, 10000, errstr, sizeof(errstr)), SINK_OK);

        rd_kafka_mock_push_request_errors(
            fx->mc, APIKEY_PRODUCE, 8, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE,
            RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE,
            RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE,
            RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE,
            RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
        assert_int_equal(sink_begin(sink, errstr, sizeof(errstr)), SINK_OK);
        assert_int_equal(produce_event(sink, "/topic/A", 11), SINK_OK);
        assert_int_equal(produce_event(sink, "/topic/A", 12), SINK_OK);
        status = sink_commit(sink, 10000, errstr, sizeof(errstr));
        assert_int_equal(status, SINK_ABORTED);
        assert_non_null(strstr(errstr, "batch aborted"));
        assert_true(kfx_stored(fx->rs, "/topic/A") == 10);
        assert_true(sink_errors(sink) > 0);
        assert_int_equal(sink_in_flight(sink), 0);
        rd_kafka_mock_clear_request_errors(fx->mc, APIKEY_PRODUCE);
        {
                /* The refused events are remembered as poison, by channel and replay ID. */
                const char *reason = NULL, *why = NULL;
                int dead_failed = -1;

                assert_true(sink_poison_known(sink, "/topic/A", "11", &reason, &why, &dead_failed));
                assert_string_equal(reason, "too_large");
                assert_non_null(strstr(why, "MSG_SIZE_TOO_LARGE"));
                assert_int_equal(dead_failed, 0);
                assert_false(sink_poison_known(sink, "/topic/A", "10", &reason, &why, &dead_failed));
                assert_false(sink_poison_known(sink, "/topic/B", "11", &reason, &why, &dead_failed));
        }

        kfx_read_topic(fx->bootstraps, fx->event_topic, &rd);
        assert_int_equal(rd.n, 1);
        assert_int_equal(kfx_count_key(&rd, "10"), 1);
        kfx_read_topic(fx->bootstraps, fx->topic, &rd);
        assert_int_equal(rd.n, 1);
        assert_non_null(strstr(rd.values[0], "\"replay_id\":10,"));

        /*
         * Resume: the same events again, in a new transaction. librdkafka
         * first bumps the producer epoch over the failed sequence numbers
         * (KIP-360), which costs the first retry its transaction: the
         * caller sees SINK_RETRY/SINK_ABORTED and resumes once more.
         */
        for (attempt = 1; attempt <= 3; attempt++) {
                int retries = 0;

                assert_int_equal(sink_begin(sink, errstr, sizeof(errstr)), SINK_OK);
                status = produce_event(sink, "/topic/A", 11);
                if (status == SINK_OK)
                        status = produce_event(sink, "/topic/A", 12);
                /*
                 * librdkafka 2.0.2 may hold commit_transaction for its whole
                 * timeout before reporting that abortable state: keep it short.
                 */
                if (status == SINK_OK)
                        status = sink_commit(sink, 2000, errstr, sizeof(errstr));
                while (status == SINK_RETRY && ++retries < 5)
                        status = sink_commit(sink, 2000, errstr, sizeof(errstr));
                if (status == SINK_OK)
                        break;
                assert_int_equal(status, SINK_ABORTED);
                assert_true(kfx_stored(fx->rs, "/topic/A") == 10);
        }
        assert_int_equal(status, SINK_OK);
        assert_true(kfx_stored(fx->rs, "/topic/A") == 12);
        kfx_read_topic(fx->bootstraps, fx->event_topic, &rd);
        assert_int_equal(rd.n, 3);
        assert_int_equal(kfx_count_key(&rd, "11"), 1);
        assert_int_equal(kfx_count_key(&rd, "12"), 1);
        sink_destroy(sink);
}

/*
 * A record above message.max.bytes is refused before it is queued
 * (SINK_POISON, the transaction intact); its dead letter, cut to fit and
 * marked sf.truncated, commits in the same transaction as the events around it.
 */
static void test_eos_poison_dead_letter_same_txn(void **state)
{
        static char mname[] = "message.max.bytes", mvalue[] = "4000";
        struct fixture *fx = *state;
        struct sink_dead_letter dl = { 0 };
        struct router_record rec;
        struct kfx_read rd;
        char errstr[512], dlq[80], *big;
        struct sink *sink;
        size_t i;

        snprintf(dlq, sizeof(dlq), "%s.dlq", fx->event_topic);
        rd_kafka_mock_topic_create(fx->mc, dlq, 1, 1);
        fx->cfg.kafka.dead_letter_topic = dlq;
        fx->props[0].name = mname;
        fx->props[0].value = mvalue;
        fx->cfg.kafka.nproperties = 1;
        sink = start_sink(fx);
        big = malloc(10000);
        assert_non_null(big);
        memset(big, 'x', 10000);

        assert_int_equal(sink_begin(sink, errstr, sizeof(errstr)), SINK_OK);
        assert_int_equal(produce_event(sink, "/topic/A", 20), SINK_OK);
        make_record(&rec, big, 64, fx->event_topic, "/topic/A", 21);
        memset(big, 'x', 10000);
        rec.value = big;
        rec.value_len = 10000;
        assert_int_equal(sink_produce(sink, &rec, errstr, sizeof(errstr)), SINK_POISON);
        assert_string_equal(sink_poison_reason(sink), "too_large");
        assert_non_null(strstr(errstr, "is larger than the producer's message.max.bytes (4000)"));
        dl.channel = "/topic/A";
        dl.replay_id = "21";
        dl.error = errstr;
        dl.topic = fx->event_topic;
        dl.key = "21";
        dl.key_len = 2;
        dl.value = big;
        dl.value_len = 10000;
        assert_int_equal(sink_dead_letter(sink, &dl, errstr, sizeof(errstr)), SINK_OK);
        assert_int_equal(sink_mark(sink, "/topic/A", 21, NULL, errstr, sizeof(errstr)), SINK_OK);
        assert_int_equal(produce_event(sink, "/topic/A", 22), SINK_OK);
        assert_int_equal(sink_commit(sink, 10000, errstr, sizeof(errstr)), SINK_OK);
        assert_true(kfx_stored(fx->rs, "/topic/A") == 22);

        kfx_read_topic(fx->bootstraps, fx->event_topic, &rd);
        assert_int_equal(rd.n, 2);
        assert_int_equal(kfx_count_key(&rd, "20"), 1);
        assert_int_equal(kfx_count_key(&rd, "22"), 1);
        kfx_read_topic(fx->bootstraps, dlq, &rd);
        assert_int_equal(rd.n, 1);
        assert_string_equal(rd.keys[0], "21");
        assert_true(rd.value_len[0] > 1000 && rd.value_len[0] < 4000);
        for (i = 0; i < 1000; i++)
                assert_int_equal(rd.values[0][i], 'x');
        assert_non_null(strstr(rd.headers[0], "sf.channel=/topic/A;"));
        assert_non_null(strstr(rd.headers[0], "sf.replay_id=21;"));
        assert_non_null(strstr(rd.headers[0], "sf.error=a record of 10000 bytes"));
        assert_non_null(strstr(rd.headers[0], "sf.topic="));
        assert_non_null(strstr(rd.headers[0], "sf.truncated=10000;"));
        sink_destroy(sink);
        free(big);
        fx->cfg.kafka.dead_letter_topic = NULL;
}

/* An abortable answer to EndTxn(commit): aborted, store unchanged. */
static void test_eos_abortable_commit_error(void **state)
{
        struct fixture *fx = *state;
        struct sink *sink = start_sink(fx);
        char errstr[512];

        assert_int_equal(sink_begin(sink, errstr, sizeof(errstr)), SINK_OK);
        assert_int_equal(produce_event(sink, "/topic/A", 20), SINK_OK);
        rd_kafka_mock_push_request_errors(fx->mc, APIKEY_END_TXN, 1,
                                          RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED);
        assert_int_equal(sink_commit(sink, 10000, errstr, sizeof(errstr)), SINK_ABORTED);
        assert_true(kfx_stored(fx->rs, "/topic/A") == -999);
        assert_int_equal(sink_begin(sink, errstr, sizeof(errstr)), SINK_OK);
        assert_int_equal(produce_event(sink, "/topic/A", 20), SINK_OK);
        assert_int_equal(sink_commit(sink, 10000, errstr, sizeof(errstr)), SINK_OK);
        assert_true(kfx_stored(fx->rs, "/topic/A") == 20);
        sink_destroy(sink);
}

static void test_eos_second_instance_fences_first(void **state)
{
        struct fixture *fx = *state;
        struct sink *first = start_sink(fx);
        struct sink *second;
        struct kfx_read rd;
        char errstr[512];
        int status;

        assert_int_equal(sink_begin(first, errstr, sizeof(errstr)), SINK_OK);
        assert_int_equal(produce_event(first, "/topic/A", 1), SINK_OK);
        assert_int_equal(sink_commit(first, 10000, errstr, sizeof(errstr)), SINK_OK);

        /* A second instance with the same name takes over the transactional.id. */
        second = start_sink(fx);
        /* What Kafka answers the older epoch from now on (see the top of the file). */
        rd_kafka_mock_push_request_errors(fx->mc, APIKEY_ADD_PARTITIONS_TO_TXN, 1,
                                          RD_KAFKA_RESP_ERR_PRODUCER_FENCED);
        status = sink_begin(first, errstr, sizeof(errstr));
        if (status == SINK_OK) {
                status = produce_event(first, "/topic/A", 2);
                if (status == SINK_OK)
                        status = sink_commit(first, 10000, errstr, sizeof(errstr));
        }
        assert_int_equal(status, SINK_FATAL);
        assert_int_equal(sink_commit(first, 1000, errstr, sizeof(errstr)), SINK_FATAL);
        assert_non_null(strstr(errstr, "fenced by a newer instance with the same name"));
        snprintf(fx->key, sizeof(fx->key), "transactional.id sfbridge-%s)", fx->name);
        assert_non_null(strstr(errstr, fx->key));
        /* Once fatal, everything says so and takes ownership still. */
        assert_int_equal(produce_event(first, "/topic/A", 3), SINK_FATAL);
        assert_true(kfx_stored(fx->rs, "/topic/A") == 1);

        /* The newer instance carries on. */
        assert_int_equal(sink_begin(second, errstr, sizeof(errstr)), SINK_OK);
        assert_int_equal(produce_event(second, "/topic/A", 2), SINK_OK);
        assert_int_equal(sink_commit(second, 10000, errstr, sizeof(errstr)), SINK_OK);
        assert_true(kfx_stored(fx->rs, "/topic/A") == 2);
        kfx_read_topic(fx->bootstraps, fx->event_topic, &rd);
        assert_int_equal(kfx_count_key(&rd, "2"), 1);
        assert_int_equal(kfx_count_key(&rd, "3"), 0);
        sink_destroy(first);
        sink_destroy(second);
}

static void test_eos_broker_down_then_up(void **state)
{
        struct fixture *fx = *state;
        struct sink *sink = start_sink(fx);
        struct kfx_read rd;
        char errstr[512];
        unsigned long long commits;
        long long start;
        int status;

        assert_int_equal(sink_settled(sink), 1);
        assert_int_equal(sink_begin(sink, errstr, sizeof(errstr)), SINK_OK);
        assert_int_equal(sink_settled(sink), 0);
        assert_int_equal(produce_event(sink, "/topic/A", 30), SINK_OK);
        assert_int_equal(produce_event(sink, "/topic/A", 31), SINK_OK);
        /* exactly_once: a transaction's bytes count until it commits, acked or not. */
        assert_true(sink_in_flight_bytes(sink) ==
                    event_bytes("/topic/A", 30) + event_bytes("/topic/A", 31));
        assert_int_equal(sink_flush(sink, 5000), 0);
        assert_int_equal(sink_in_flight(sink), 0);
        assert_true(sink_in_flight_bytes(sink) ==
                    event_bytes("/topic/A", 30) + event_bytes("/topic/A", 31));
        commits = sink_commits(sink);
        fx->broker_down = 1;
        rd_kafka_mock_broker_set_down(fx->mc, 1);
        start = kfx_now_ms();
        status = sink_commit(sink, 500, errstr, sizeof(errstr));
        assert_int_equal(status, SINK_RETRY);
        assert_true(kfx_now_ms() - start < 3000);
        status = sink_commit(sink, 300, errstr, sizeof(errstr));
        assert_int_equal(status, SINK_RETRY);
        assert_true(kfx_stored(fx->rs, "/topic/A") == -999);
        assert_int_equal(sink_kafka_down(sink), 1);
        assert_true(sink_errors(sink) > 0);
        assert_non_null(strstr(sink_last_error(sink), "commit_transaction"));
        assert_int_equal(sink_settled(sink), 0);
        assert_int_equal(sink_pending_ms(sink), 0); /* exactly_once: sink_commit says it */

        rd_kafka_mock_broker_set_up(fx->mc, 1);
        fx->broker_down = 0;
        status = sink_commit(sink, 10000, errstr, sizeof(errstr));
        if (status != SINK_OK)
                fail_msg("commit after the broker came back: %d %s", status, errstr);
        assert_true(kfx_stored(fx->rs, "/topic/A") == 31);
        assert_int_equal(sink_kafka_down(sink), 0);
        assert_true(sink_in_flight_bytes(sink) == 0);
        assert_true(sink_commits(sink) == commits + 1);
        assert_int_equal(sink_settled(sink), 1);
        kfx_read_topic(fx->bootstraps, fx->event_topic, &rd);
        assert_int_equal(rd.n, 2);
        assert_int_equal(kfx_count_key(&rd, "30"), 1);
        assert_int_equal(kfx_count_key(&rd, "31"), 1);
        kfx_read_topic(fx->bootstraps, fx->topic, &rd);
        assert_int_equal(rd.n, 1);
        sink_destroy(sink);
}

/*
 * A gap's audit record goes to the gap topic (append-only, its own) in the
 * same transaction as the batch; the replay topic holds only replay records.
 */
static void test_eos_gap_record(void **state)
{
        struct fixture *fx = *state;
        struct sink *sink = start_sink(fx);
        struct replay_store *loaded;
        struct kfx_read rd;
        struct buf key, value;
        char errstr[512], gaps[256];

        buf_init(&key, 4096);
        buf_init(&value, 4096);
        replay_gap_topic(&fx->cfg, gaps, sizeof(gaps));
        rd_kafka_mock_topic_create(fx->mc, gaps, 1, 1);
        assert_int_equal(replay_gap_encode(fx->name, "/topic/A", 41, REPLAY_ALL, "all",
                                           "2026-11-23T09:18:43.123Z", &key, &value), 0);
        assert_int_equal(sink_begin(sink, errstr, sizeof(errstr)), SINK_OK);
        assert_int_equal(sink_gap(sink, gaps, key.data, key.len, value.data, value.len, errstr,
                                  sizeof(errstr)), SINK_OK);
        assert_int_equal(produce_event(sink, "/topic/A", 50), SINK_OK);
        assert_int_equal(sink_commit(sink, 10000, errstr, sizeof(errstr)), SINK_OK);
        kfx_read_topic(fx->bootstraps, fx->topic, &rd);
        assert_int_equal(rd.n, 1);
        assert_int_equal(kfx_count_key(&rd, key_of(fx, "/topic/A")), 1);
        kfx_read_topic(fx->bootstraps, gaps, &rd);
        assert_int_equal(rd.n, 1);
        assert_int_equal(kfx_count_key(&rd, key.data), 1);
        assert_non_null(strstr(rd.values[0], "\"stored_replay_id\":41,\"resubscribed_from\":-2,\"policy\":\"all\""));
        loaded = replay_store_new(&fx->cfg, errstr, sizeof(errstr));
        assert_int_equal(replay_store_load(loaded, 5000, errstr, sizeof(errstr)), 0);
        assert_int_equal(replay_store_count(loaded), 1);
        assert_true(kfx_stored(loaded, "/topic/A") == 50);
        replay_store_destroy(loaded);
        buf_free(&key);
        buf_free(&value);
        sink_destroy(sink);
}

static void test_eos_sink_abort_drops_batch(void **state)
{
        struct fixture *fx = *state;
        struct sink *sink = start_sink(fx);
        struct kfx_read rd;
        char errstr[512];

        assert_int_equal(sink_begin(sink, errstr, sizeof(errstr)), SINK_OK);
        assert_int_equal(produce_event(sink, "/topic/A", 60), SINK_OK);
        assert_int_equal(sink_abort(sink, 5000, errstr, sizeof(errstr)), SINK_OK);
        assert_int_equal(sink_commit(sink, 5000, errstr, sizeof(errstr)),
                         SINK_OK); /* nothing open */
        assert_true(kfx_stored(fx->rs, "/topic/A") == -999);
        kfx_read_topic(fx->bootstraps, fx->topic, &rd);
        assert_int_equal(rd.n, 0);
        assert_int_equal(sink_abort(sink, 5000, errstr, sizeof(errstr)), SINK_OK);
        sink_destroy(sink);
}

/* ---- both modes: misuse and configuration ---- */

static void test_produce_without_batch(void **state)
{
        struct fixture *fx = *state;
        struct sink *sink = start_sink(fx);
        struct router_record rec;
        char errstr[512], value[64];

        make_record(&rec, value, sizeof(value), fx->event_topic, "/topic/A", 1);
        assert_int_equal(sink_produce(sink, &rec, errstr, sizeof(errstr)), SINK_FATAL);
        assert_non_null(strstr(errstr, "no open batch"));
        assert_int_equal(sink_mark(sink, "/topic/A", 1, NULL, errstr, sizeof(errstr)), SINK_FATAL);
        sink_destroy(sink);
        sink_destroy(NULL);
}

/*
 * The value Kafka stores is the bytes the record held, exactly: the length
 * counts (the router's value is a span of the response body, with no NUL
 * after it), nothing is re-encoded, and the caller's buffer may change as
 * soon as sink_produce returns. Key and headers arrive as given, in order;
 * a record without a key has none in Kafka.
 */
static void test_value_reaches_kafka_exactly(void **state)
{
        static const char value[] =
                "{\"Z__c\":9007199254740993,\"A__c\":123456789012345678,"
                "\"Pi__c\":3.14159265358979323846,\"Huge__c\":1e400,\"Neg__c\":-0.0,"
                "\"Text__c\":\"caf\\u00e9 \\ud83d\\ude00 a\\/b \\\"q\\\" \","
                "\"Utf8__c\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\",\"Gaps__c\":\" a  b\\t \"}";
        static const char nul_value[] = "{\"a\":\"\0\"}"; /* a NUL byte is data too */
        struct fixture *fx = *state;
        struct sink *sink = start_sink(fx);
        struct router_record rec;
        struct kfx_read rd;
        char body[sizeof(value) + 16], expect_headers[512], errstr[512];
        size_t len = sizeof(value) - 1, i, first;

        /* The value is followed by bytes that are not part of it. */
        memcpy(body, value, len);
        memcpy(body + len, "GARBAGE", 8);

        memset(&rec, 0, sizeof(rec));
        snprintf(rec.topic, sizeof(rec.topic), "%s", fx->event_topic);
        rec.key = "9007199254740993";
        rec.key_len = 16;
        rec.value = body;
        rec.value_len = len;
        rec.headers[0] = (struct router_header){ "sf.channel", "/event/Order__e", 15 };
        rec.headers[1] = (struct router_header){ "sf.replay_id", "9007199254740993", 16 };
        rec.headers[2] = (struct router_header){ "sf.event_time", "2026-11-23T09:18:43.123Z", 24 };
        rec.headers[3] = (struct router_header){ "sf.event_uuid", "u-1", 3 };
        rec.headers[4] = (struct router_header){ "sf.bridge", fx->name, strlen(fx->name) };
        rec.nheaders = 5;
        rec.channel = "/event/Order__e";
        rec.replay_id = 9007199254740993LL;

        assert_int_equal(sink_begin(sink, errstr, sizeof(errstr)), SINK_OK);
        assert_int_equal(sink_produce(sink, &rec, errstr, sizeof(errstr)), SINK_OK);
        memset(body, 'X', sizeof(body));

        /* A second record: no key, a NUL inside the value, no headers. */
        memset(&rec, 0, sizeof(rec));
        snprintf(rec.topic, sizeof(rec.topic), "%s", fx->event_topic);
        memcpy(body, nul_value, sizeof(nul_value) - 1);
        rec.value = body;
        rec.value_len = sizeof(nul_value) - 1;
        rec.channel = "/event/Order__e";
        assert_int_equal(sink_produce(sink, &rec, errstr, sizeof(errstr)), SINK_OK);
        memset(body, 'X', sizeof(body));

        assert_int_equal(sink_mark(sink, "/event/Order__e", 9007199254740993LL, NULL, errstr,
                                   sizeof(errstr)),
                         SINK_OK);
        assert_int_equal(sink_commit(sink, 10000, errstr, sizeof(errstr)), SINK_OK);
        assert_true(kfx_stored(fx->rs, "/event/Order__e") == 9007199254740993LL);

        kfx_read_topic(fx->bootstraps, fx->event_topic, &rd);
        assert_int_equal(rd.n, 2);
        /* No key: librdkafka's partitioner may put them anywhere; find each. */
        first = rd.key_null[0] ? 1 : 0;
        i = 1 - first;
        assert_int_equal(rd.key_null[first], 0);
        assert_string_equal(rd.keys[first], "9007199254740993");
        assert_int_equal(rd.value_len[first], len);
        assert_memory_equal(rd.values[first], value, len);
        snprintf(expect_headers, sizeof(expect_headers),
                 "sf.channel=/event/Order__e;sf.replay_id=9007199254740993;"
                 "sf.event_time=2026-11-23T09:18:43.123Z;sf.event_uuid=u-1;sf.bridge=%s;",
                 fx->name);
        assert_string_equal(rd.headers[first], expect_headers);

        assert_int_equal(rd.key_null[i], 1);
        assert_int_equal(rd.value_len[i], sizeof(nul_value) - 1);
        assert_memory_equal(rd.values[i], nul_value, sizeof(nul_value) - 1);
        assert_string_equal(rd.headers[i], "");
        sink_destroy(sink);
}

/*
 * Replay IDs are exact 64-bit integers end to end: Salesforce's IDs are
 * opaque and bayeux.c reads them up to 2^63 - 1, so what is committed must
 * be what a restart reads back, past 2^53 too.
 */
static void test_eos_large_replay_id_survives_restart(void **state)
{
        static const long long ids[] = { 9007199254740993LL, 9223372036854775807LL };
        static const char *const channels[] = { "/topic/A", "/event/B__e" };
        struct fixture *fx = *state;
        struct sink *sink = start_sink(fx);
        struct replay_store *loaded;
        long long read_back[2];
        char errstr[512];
        size_t i;

        assert_int_equal(sink_begin(sink, errstr, sizeof(errstr)), SINK_OK);
        for (i = 0; i < 2; i++)
                assert_int_equal(produce_event(sink, channels[i], ids[i]), SINK_OK);
        assert_int_equal(sink_commit(sink, 10000, errstr, sizeof(errstr)), SINK_OK);
        for (i = 0; i < 2; i++)
                assert_true(kfx_stored(fx->rs, channels[i]) == ids[i]);
        sink_destroy(sink);

        loaded = replay_store_new(&fx->cfg, errstr, sizeof(errstr));
        assert_non_null(loaded);
        assert_int_equal(replay_store_load(loaded, 5000, errstr, sizeof(errstr)), 0);
        for (i = 0; i < 2; i++)
                read_back[i] = kfx_stored(loaded, channels[i]);
        replay_store_destroy(loaded); /* before any failure: no handle may outlive the run */
        for (i = 0; i < 2; i++)
                if (read_back[i] != ids[i])
                        fail_msg("%s: committed %lld, a restart reads %lld", channels[i], ids[i],
                                 read_back[i]);
}

static void test_new_rejects_bad_properties(void **state)
{
        struct fixture *fx = *state;
        char errstr[512];
        char n_txn[] = "transactional.id", v_txn[] = "mine";
        char n_idem[] = "enable.idempotence", v_idem[] = "false";
        char n_acks[] = "acks", v_acks[] = "1";
        char n_secret[] = "sasl.oauthbearer.method", v_secret[] = "s3cr3t-value";
        char n_bad[] = "linger.ms", v_bad[] = "soon";

        fx->cfg.kafka.nproperties = 1;
        fx->props[0].name = n_txn;
        fx->props[0].value = v_txn;
        assert_null(sink_new(&fx->cfg, fx->rs, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "kafka.properties: transactional.id"));
        fx->props[0].name = n_idem;
        fx->props[0].value = v_idem;
        assert_null(sink_new(&fx->cfg, fx->rs, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "kafka.properties: enable.idempotence"));
        fx->props[0].name = n_acks;
        fx->props[0].value = v_acks;
        assert_null(sink_new(&fx->cfg, fx->rs, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "kafka.properties: acks"));
        fx->props[0].name = n_secret;
        fx->props[0].value = v_secret;
        assert_null(sink_new(&fx->cfg, fx->rs, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "sasl.oauthbearer.method"));
        assert_null(strstr(errstr, "s3cr3t"));
        fx->props[0].name = n_bad;
        fx->props[0].value = v_bad;
        assert_null(sink_new(&fx->cfg, fx->rs, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "kafka.properties: linger.ms:"));
        fx->cfg.kafka.nproperties = 0;
}

/* ---- at_least_once ---- */

/*
 * A committed batch's replay record waits for its events' acks. The test
 * gets a cluster of its own where broker 2 leads the event topic and broker
 * 1 the replay topic; with broker 2 down, the events cannot be acked while
 * the replay topic stays writable, so a record written too early would show.
 */
static void test_alo_replay_record_after_acks(void **state)
{
        struct fixture *fx = *state;
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_mock_cluster_t *mc;
        struct kfx_read rd;
        struct sink *sink;
        rd_kafka_t *mrk;
        char errstr[512];
        long long deadline;

        rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
        mrk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        assert_non_null(mrk);
        mc = rd_kafka_mock_cluster_new(mrk, 2);
        assert_non_null(mc);
        snprintf(fx->bootstraps, sizeof(fx->bootstraps), "%s",
                 rd_kafka_mock_cluster_bootstraps(mc));
        rd_kafka_mock_topic_create(mc, fx->topic, 1, 1);
        rd_kafka_mock_partition_set_leader(mc, fx->topic, 0, 1);
        rd_kafka_mock_topic_create(mc, fx->event_topic, 2, 1);
        rd_kafka_mock_partition_set_leader(mc, fx->event_topic, 0, 2);
        rd_kafka_mock_partition_set_leader(mc, fx->event_topic, 1, 2);
        sink = start_sink(fx);

        rd_kafka_mock_broker_set_down(mc, 2);
        assert_int_equal(sink_begin(sink, errstr, sizeof(errstr)), SINK_OK);
        assert_int_equal(produce_event(sink, "/topic/A", 70), SINK_OK);
        assert_int_equal(produce_event(sink, "/topic/A", 71), SINK_OK);
        assert_int_equal(sink_commit(sink, 1000, errstr, sizeof(errstr)), SINK_OK);
        deadline = kfx_now_ms() + 500;
        while (kfx_now_ms() < deadline) {
                sink_poll(sink);
                usleep(20 * 1000);
        }
        assert_int_equal(sink_in_flight(sink), 2);
        assert_true(kfx_stored(fx->rs, "/topic/A") == -999);
        kfx_read_topic(fx->bootstraps, fx->topic, &rd);
        assert_int_equal(rd.n, 0);

        /* Acks arrive through sink_poll; the replay record follows, then the store. */
        rd_kafka_mock_broker_set_up(mc, 2);
        deadline = kfx_now_ms() + 8000;
        while (kfx_stored(fx->rs, "/topic/A") == -999 && kfx_now_ms() < deadline) {
                sink_poll(sink);
                usleep(10 * 1000);
        }
        assert_int_equal(sink_in_flight(sink), 0);
        assert_true(kfx_stored(fx->rs, "/topic/A") == 71);
        kfx_read_topic(fx->bootstraps, fx->topic, &rd);
        assert_int_equal(rd.n, 1);
        assert_string_equal(rd.keys[0], key_of(fx, "/topic/A"));
        assert_non_null(strstr(rd.values[0], "\"replay_id\":71,"));
        assert_int_equal(sink_take_delivery_failure(sink), 0);
        sink_destroy(sink);
        rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(mrk);
        snprintf(fx->bootstraps, sizeof(fx->bootstraps), "%s",
                 rd_kafka_mock_cluster_bootstraps(fx->mc));
}

/*
 * Batch 2's events fail delivery. Batch 3 was opened before the report was
 * served, batch 4 after it was served but before the caller took it; both
 * are delivered, yet neither may advance the channel past the failure. After
 * the caller takes the failure and resumes from the store, batch 5 does.
 */
static void test_alo_failed_delivery_never_advances(void **state)
{
        struct fixture *fx = *state;
        struct sink *sink;
        struct kfx_read rd;
        char errstr[512];
        long long id;

        short_message_timeout(fx);
        sink = start_sink(fx);
        assert_int_equal(sink_begin(sink, errstr, sizeof(errstr)), SINK_OK);
        assert_int_equal(produce_event(sink, "/topic/A", 80), SINK_OK);
        assert_int_equal(sink_commit(sink, 1000, errstr, sizeof(errstr)), SINK_OK);
        assert_int_equal(sink_flush(sink, 5000), 0);
        assert_true(kfx_stored(fx->rs, "/topic/A") == 80);

        rd_kafka_mock_push_request_errors(
            fx->mc, APIKEY_PRODUCE, 4, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE,
            RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE,
            RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
        assert_int_equal(sink_begin(sink, errstr, sizeof(errstr)), SINK_OK);
        assert_int_equal(produce_event(sink, "/topic/A", 81), SINK_OK);
        assert_int_equal(produce_event(sink, "/topic/A", 82), SINK_OK);
        assert_int_equal(sink_commit(sink, 1000, errstr, sizeof(errstr)), SINK_OK);
        /* Let the Produce fail without serving its report. */
        usleep(300 * 1000);
        rd_kafka_mock_clear_request_errors(fx->mc, APIKEY_PRODUCE);

        assert_int_equal(sink_begin(sink, errstr, sizeof(errstr)), SINK_OK);
        assert_int_equal(produce_event(sink, "/topic/A", 83), SINK_OK);
        assert_int_equal(sink_commit(sink, 1000, errstr, sizeof(errstr)), SINK_OK);
        assert_int_equal(sink_flush(sink, 5000), 0);

        /* The caller has not looked yet. */
        assert_int_equal(sink_begin(sink, errstr, sizeof(errstr)), SINK_OK);
        assert_int_equal(produce_event(sink, "/topic/A", 84), SINK_OK);
        assert_int_equal(sink_commit(sink, 1000, errstr, sizeof(errstr)), SINK_OK);
        assert_int_equal(sink_flush(sink, 5000), 0);
        assert_true(kfx_stored(fx->rs, "/topic/A") == 80);
        assert_true(sink_errors(sink) > 0);
        assert_int_equal(sink_in_flight(sink), 0);
        assert_int_equal(sink_take_delivery_failure(sink), 1);
        assert_int_equal(sink_take_delivery_failure(sink), 0);

        /* Resumed from the store: the events again, and now the channel advances. */
        assert_int_equal(replay_store_get(fx->rs, "/topic/A", &id), 0);
        assert_int_equal(sink_begin(sink, errstr, sizeof(errstr)), SINK_OK);
        for (id = id + 1; id <= 84; id++)
                assert_int_equal(produce_event(sink, "/topic/A", id), SINK_OK);
        assert_int_equal(sink_commit(sink, 1000, errstr, sizeof(errstr)), SINK_OK);
        assert_int_equal(sink_flush(sink, 5000), 0);
        assert_true(kfx_stored(fx->rs, "/topic/A") == 84);
        assert_int_equal(sink_take_delivery_failure(sink), 0);

        kfx_read_topic(fx->bootstraps, fx->topic, &rd);
        assert_int_equal(rd.n, 2);
        assert_non_null(strstr(rd.values[0], "\"replay_id\":80,"));
        assert_non_null(strstr(rd.values[1], "\"replay_id\":84,"));
        sink_destroy(sink);
}

/*
 * at_least_once in-flight bytes: every event's value, key and headers from
 * produce to its acknowledgement, dead letters too; a batch waiting for acks
 * shows its age in sink_pending_ms; its replay record's ack is a commit.
 */
static void test_alo_in_flight_bytes(void **state)
{
        static char dlq_name[] = "it.dead";
        struct fixture *fx = *state;
        struct sink_dead_letter dl = { 0 };
        struct sink *sink;
        unsigned long long want, commits;
        char errstr[512];
        long long deadline;

        fx->cfg.kafka.dead_letter_topic = dlq_name;
        rd_kafka_mock_topic_create(fx->mc, dlq_name, 1, 1);
        sink = start_sink(fx);
        commits = sink_commits(sink);
        assert_int_equal(sink_settled(sink), 1);
        fx->broker_down = 1;
        rd_kafka_mock_broker_set_down(fx->mc, 1);
        assert_int_equal(sink_begin(sink, errstr, sizeof(errstr)), SINK_OK);
        assert_int_equal(produce_event(sink, "/topic/A", 40), SINK_OK);
        assert_int_equal(produce_event(sink, "/event/B__e", 41234), SINK_OK);
        dl.channel = "/topic/A";
        dl.replay_id = "42";
        dl.error = "too large";
        dl.topic = fx->event_topic;
        dl.key = "42";
        dl.key_len = 2;
        dl.value = "{\"big\":1}";
        dl.value_len = strlen(dl.value);
        assert_int_equal(sink_dead_letter(sink, &dl, errstr, sizeof(errstr)), SINK_OK);
        want = event_bytes("/topic/A", 40) + event_bytes("/event/B__e", 41234) + 2 +
               dl.value_len + strlen("sf.channel") + strlen(dl.channel) +
               strlen("sf.replay_id") + strlen(dl.replay_id) + strlen("sf.error") +
               strlen(dl.error) + strlen("sf.topic") + strlen(dl.topic) + strlen("sf.bridge") +
               strlen(fx->name);
        assert_true(sink_in_flight_bytes(sink) == want);
        assert_int_equal(sink_pending_ms(sink), 0); /* still open */
        assert_int_equal(sink_commit(sink, 1000, errstr, sizeof(errstr)), SINK_OK);
        usleep(300 * 1000);
        sink_poll(sink);
        assert_true(sink_pending_ms(sink) >= 250);
        assert_int_equal(sink_settled(sink), 0);
        assert_true(sink_in_flight_bytes(sink) == want);
        assert_true(sink_commits(sink) == commits);

        rd_kafka_mock_broker_set_up(fx->mc, 1);
        fx->broker_down = 0;
        deadline = kfx_now_ms() + 8000;
        while (!sink_settled(sink) && kfx_now_ms() < deadline) {
                sink_poll(sink);
                usleep(10 * 1000);
        }
        assert_int_equal(sink_settled(sink), 1);
        assert_int_equal(sink_in_flight(sink), 0);
        assert_true(sink_in_flight_bytes(sink) == 0);
        assert_int_equal(sink_pending_ms(sink), 0);
        assert_true(sink_commits(sink) == commits + 2); /* two replay records */
        assert_true(kfx_stored(fx->rs, "/event/B__e") == 41234);
        sink_destroy(sink);
}

/* Batches are written in order: a later batch's acks do not overtake an earlier batch's. */
static void test_alo_batches_in_order(void **state)
{
        struct fixture *fx = *state;
        struct sink *sink = start_sink(fx);
        char errstr[512];
        int i;

        for (i = 0; i < 20; i++) {
                assert_int_equal(sink_begin(sink, errstr, sizeof(errstr)), SINK_OK);
                assert_int_equal(produce_event(sink, i % 2 ? "/topic/A" : "/event/B__e", 100 + i),
                                 SINK_OK);
                assert_int_equal(sink_commit(sink, 1000, errstr, sizeof(errstr)), SINK_OK);
                sink_poll(sink);
        }
        /* An aborted batch never advances either. */
        assert_int_equal(sink_begin(sink, errstr, sizeof(errstr)), SINK_OK);
        assert_int_equal(produce_event(sink, "/topic/A", 500), SINK_OK);
        assert_int_equal(sink_abort(sink, 1000, errstr, sizeof(errstr)), SINK_OK);
        assert_int_equal(sink_flush(sink, 5000), 0);
        assert_true(kfx_stored(fx->rs, "/topic/A") == 119);
        assert_true(kfx_stored(fx->rs, "/event/B__e") == 118);
        assert_int_equal(sink_in_flight(sink), 0);
        sink_destroy(sink);
}

/* Refusals no retry fixes are poison for their route; transient ones are not. */
static void test_poison_classes(void **state)
{
        (void)state;
        assert_string_equal(sink_poison_class(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE), "too_large");
        assert_string_equal(sink_poison_class(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED),
                            "topic_denied");
        assert_string_equal(sink_poison_class(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART),
                            "topic_missing");
        assert_string_equal(sink_poison_class(RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC), "topic_missing");
        assert_null(sink_poison_class(RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE));
        assert_null(sink_poison_class(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT));
        assert_null(sink_poison_class(RD_KAFKA_RESP_ERR__TRANSPORT));
}

int main(void)
{
        int rc;
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_poison_classes),
            cmocka_unit_test_setup_teardown(test_eos_commit_is_visible_and_updates_store,
                                            fixture_setup, fixture_teardown),
            cmocka_unit_test_setup_teardown(test_eos_abortable_error_aborts_batch, fixture_setup,
                                            fixture_teardown),
            cmocka_unit_test_setup_teardown(test_eos_poison_dead_letter_same_txn, fixture_setup,
                                            fixture_teardown),
            cmocka_unit_test_setup_teardown(test_eos_abortable_commit_error, fixture_setup,
                                            fixture_teardown),
            cmocka_unit_test_setup_teardown(test_eos_second_instance_fences_first, fixture_setup,
                                            fixture_teardown),
            cmocka_unit_test_setup_teardown(test_eos_broker_down_then_up, fixture_setup,
                                            fixture_teardown),
            cmocka_unit_test_setup_teardown(test_eos_gap_record, fixture_setup, fixture_teardown),
            cmocka_unit_test_setup_teardown(test_eos_sink_abort_drops_batch, fixture_setup,
                                            fixture_teardown),
            cmocka_unit_test_setup_teardown(test_produce_without_batch, fixture_setup,
                                            fixture_teardown),
            cmocka_unit_test_setup_teardown(test_value_reaches_kafka_exactly, fixture_setup,
                                            fixture_teardown),
            cmocka_unit_test_setup_teardown(test_eos_large_replay_id_survives_restart,
                                            fixture_setup, fixture_teardown),
            cmocka_unit_test_setup_teardown(test_new_rejects_bad_properties, fixture_setup,
                                            fixture_teardown),
            cmocka_unit_test_setup_teardown(test_alo_replay_record_after_acks, fixture_setup_alo,
                                            fixture_teardown),
            cmocka_unit_test_setup_teardown(test_alo_failed_delivery_never_advances,
                                            fixture_setup_alo, fixture_teardown),
            cmocka_unit_test_setup_teardown(test_alo_batches_in_order, fixture_setup_alo,
                                            fixture_teardown),
            cmocka_unit_test_setup_teardown(test_alo_in_flight_bytes, fixture_setup_alo,
                                            fixture_teardown),
        };

        /* SFB_TEST_FILTER=pattern runs the matching tests only (debugging). */
        if (getenv("SFB_TEST_FILTER"))
                cmocka_set_test_filter(getenv("SFB_TEST_FILTER"));
        rc = cmocka_run_group_tests(tests, mock_group_setup, mock_group_teardown);
        /* Every librdkafka handle must be gone: a leaked one fails the run. */
        if (rd_kafka_wait_destroyed(5000) != 0) {
                fprintf(stderr, "[  ERROR   ] librdkafka handles still alive at exit\n");
                return 1;
        }
        return rc;
}
