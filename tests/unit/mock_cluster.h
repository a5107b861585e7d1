/*
 * One in-process librdkafka mock cluster for a whole cmocka group
 * (destroying one costs a second), shared by the Kafka-side unit tests.
 * Header-only: each test binary includes it once.
 */
#ifndef SFB_TEST_MOCK_CLUSTER_H
#define SFB_TEST_MOCK_CLUSTER_H

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static rd_kafka_t *mock_rk; /* owns the mock cluster */
static rd_kafka_mock_cluster_t *mock_cluster;

static int mock_group_setup(void **state)
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

static int mock_group_teardown(void **state)
{
        (void)state;
        rd_kafka_mock_cluster_destroy(mock_cluster);
        rd_kafka_destroy(mock_rk);
        return 0;
}

#endif
