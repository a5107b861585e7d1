/*
 * What the Kafka-side unit tests share: one in-process librdkafka mock
 * cluster for a whole cmocka group (destroying one costs a second), and the
 * moves they all make against it: a bridge config pointing at it, a topic
 * made and known, a raw record produced and acknowledged, a topic read back
 * to its end. Header-only, every helper static inline (a test uses what it
 * needs, -Wunused-function stays quiet); include it once per test binary
 * after cmocka.h.
 */
#ifndef SFB_TEST_KAFKA_FIXTURE_H
#define SFB_TEST_KAFKA_FIXTURE_H

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "config.h"
#include "replay_store.h"

static rd_kafka_t *mock_rk; /* owns the mock cluster */
static rd_kafka_mock_cluster_t *mock_cluster;

/* cmocka group setup: pass as cmocka_run_group_tests(tests, mock_group_setup, mock_group_teardown). */
static inline int mock_group_setup(void **state)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char errstr[256];

        (void)state;
        /* No bootstrap servers on purpose: this handle only hosts the cluster. */
        rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
        mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!mock_rk)
                return -1;
        mock_cluster = rd_kafka_mock_cluster_new(mock_rk, 1);
        return mock_cluster ? 0 : -1;
}

static inline int mock_group_teardown(void **state)
{
        (void)state;
        rd_kafka_mock_cluster_destroy(mock_cluster);
        rd_kafka_destroy(mock_rk);
        return 0;
}

static inline long long kfx_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The part of a bridge config every Kafka-side test sets: name, the mock
 * cluster's bootstrap servers (copied into bootstraps, which must outlive
 * cfg), the replay topic, exactly_once, the default in-flight cap, and an
 * empty property list at props. Everything else is zero.
 */
static inline void kfx_config_init(struct config *cfg, char *bootstraps, size_t bootstraps_size,
                                   char *name, char *replay_topic,
                                   struct config_property *props)
{
        memset(cfg, 0, sizeof(*cfg));
        snprintf(bootstraps, bootstraps_size, "%s", rd_kafka_mock_cluster_bootstraps(mock_cluster));
        cfg->name = name;
        cfg->kafka.bootstrap_servers = bootstraps;
        cfg->kafka.replay_topic = replay_topic;
        cfg->kafka.delivery = DELIVERY_EXACTLY_ONCE;
        cfg->kafka.max_in_flight = 10000;
        cfg->kafka.properties = props;
        cfg->kafka.nproperties = 0;
}

/*
 * A client of the cluster at bootstraps (NULL: the group's mock cluster)
 * with the given properties (name, value, ..., NULL).
 */
static inline rd_kafka_t *kfx_client(rd_kafka_type_t type, const char *bootstraps,
                                     const char *first, ...)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char errstr[256];
        const char *name, *value;
        rd_kafka_t *rk;
        va_list ap;

        if (!bootstraps)
                bootstraps = rd_kafka_mock_cluster_bootstraps(mock_cluster);
        assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, errstr,
                                           sizeof(errstr)),
                         RD_KAFKA_CONF_OK);
        va_start(ap, first);
        for (name = first; name; name = va_arg(ap, const char *)) {
                value = va_arg(ap, const char *);
                if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
                        fail_msg("%s=%s: %s", name, value, errstr);
        }
        va_end(ap);
        rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
        if (!rk)
                fail_msg("rd_kafka_new: %s", errstr);
        return rk;
}

/* @returns how many partitions rk's metadata gives topic (asserts it is known within 5 s). */
static inline int kfx_topic_known(rd_kafka_t *rk, const char *topic)
{
        const struct rd_kafka_metadata *md;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
        int n;

        assert_int_equal(rd_kafka_metadata(rk, 0, rkt, &md, 5000), RD_KAFKA_RESP_ERR_NO_ERROR);
        assert_int_equal(md->topic_cnt, 1);
        n = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
        return n;
}

/* Create topic on the mock cluster (replication 1). */
static inline void kfx_topic_create(const char *topic, int partitions)
{
        assert_int_equal(rd_kafka_mock_topic_create(mock_cluster, topic, partitions, 1),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* Produce one raw record (value may be NULL: a tombstone) and wait for its ack. */
static inline void kfx_produce(const char *topic, int32_t partition, const char *key,
                               const char *value)
{
        rd_kafka_t *rk = kfx_client(RD_KAFKA_PRODUCER, NULL, NULL);

        /* Know the topic first, or the first record may wait for librdkafka's 1 s topic scan. */
        kfx_topic_known(rk, topic);
        assert_int_equal(
            rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                              RD_KAFKA_V_KEY(key, strlen(key)),
                              RD_KAFKA_V_VALUE((void *)value, value ? strlen(value) : 0),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
            RD_KAFKA_RESP_ERR_NO_ERROR);
        assert_int_equal(rd_kafka_flush(rk, 5000), RD_KAFKA_RESP_ERR_NO_ERROR);
        rd_kafka_destroy(rk);
}

/* What a read_committed reader finds in a topic, read to its end. */
#define KFX_READ_MAX 64
struct kfx_read {
        size_t n;
        char keys[KFX_READ_MAX][128];
        int key_null[KFX_READ_MAX];        /* the record has no key at all */
        char values[KFX_READ_MAX][1024];   /* NUL-terminated copy (cut at 1023 bytes) */
        size_t value_len[KFX_READ_MAX];    /* the real length */
        int32_t partition[KFX_READ_MAX];
        char channel_header[KFX_READ_MAX][64];
        char headers[KFX_READ_MAX][512];   /* "name=value;" for every header, in order */
};

static inline void kfx_read_one(struct kfx_read *out, const rd_kafka_message_t *rkm)
{
        size_t vlen = rkm->len < sizeof(out->values[0]) - 1 ? rkm->len : sizeof(out->values[0]) - 1;
        rd_kafka_headers_t *hdrs;
        const char *hname;
        const void *hv;
        size_t h, hlen, used = 0;

        snprintf(out->keys[out->n], sizeof(out->keys[0]), "%.*s", (int)rkm->key_len,
                 rkm->key ? (const char *)rkm->key : "");
        out->key_null[out->n] = rkm->key == NULL;
        /* Byte for byte, NULs included. */
        if (rkm->payload)
                memcpy(out->values[out->n], rkm->payload, vlen);
        out->values[out->n][vlen] = '\0';
        out->value_len[out->n] = rkm->len;
        out->partition[out->n] = rkm->partition;
        if (!rd_kafka_message_headers(rkm, &hdrs)) {
                if (!rd_kafka_header_get_last(hdrs, "sf.channel", &hv, &hlen))
                        snprintf(out->channel_header[out->n], sizeof(out->channel_header[0]),
                                 "%.*s", (int)hlen, (const char *)hv);
                for (h = 0; !rd_kafka_header_get_all(hdrs, h, &hname, &hv, &hlen); h++)
                        used += (size_t)snprintf(out->headers[out->n] + used,
                                                 used < sizeof(out->headers[0])
                                                     ? sizeof(out->headers[0]) - used
                                                     : 0,
                                                 "%s=%.*s;", hname, (int)hlen, (const char *)hv);
        }
        out->n++;
}

/*
 * Read every partition of topic from its start to its end, read_committed
 * (5 s at most), from the cluster at bootstraps (NULL: the group's).
 */
static inline void kfx_read_topic(const char *bootstraps, const char *topic, struct kfx_read *out)
{
        rd_kafka_topic_partition_list_t *parts;
        long long deadline = kfx_now_ms() + 5000;
        int p, np, left = 0;
        rd_kafka_t *rk = kfx_client(RD_KAFKA_CONSUMER, bootstraps, "group.id", "test-reader",
                                    "isolation.level", "read_committed",
                                    "enable.partition.eof", "true", "enable.auto.commit", "false",
                                    "fetch.wait.max.ms", "10", NULL);

        memset(out, 0, sizeof(*out));
        np = kfx_topic_known(rk, topic);
        parts = rd_kafka_topic_partition_list_new(np);
        for (p = 0; p < np; p++) {
                rd_kafka_topic_partition_list_add(parts, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
                left++;
        }
        assert_int_equal(rd_kafka_assign(rk, parts), 0);
        rd_kafka_topic_partition_list_destroy(parts);
        while (left > 0 && kfx_now_ms() < deadline) {
                rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, 100);

                if (!rkm)
                        continue;
                if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                        left--;
                else if (!rkm->err && out->n < KFX_READ_MAX)
                        kfx_read_one(out, rkm);
                rd_kafka_message_destroy(rkm);
        }
        assert_int_equal(left, 0);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
}

/* @returns how many records of rd carry key. */
static inline size_t kfx_count_key(const struct kfx_read *rd, const char *key)
{
        size_t i, n = 0;

        for (i = 0; i < rd->n; i++)
                if (!strcmp(rd->keys[i], key))
                        n++;
        return n;
}

/* @returns the replay ID rs holds for channel, or -999 when it holds none. */
static inline long long kfx_stored(const struct replay_store *rs, const char *channel)
{
        long long id = -999;

        if (replay_store_get(rs, channel, &id))
                return -999;
        return id;
}

#endif
