/*
 * Creating a topic the bridge needs (the replay topic, the coordination
 * topic) when it is missing, where the cluster lets us: CreateTopics to
 * the controller, the broker's default replication. Never an error of its
 * own: a cluster that cannot create it falls back on its auto-creation, and
 * the caller's next metadata request says what there is.
 */
#ifndef SFB_KAFKA_TOPIC_H
#define SFB_KAFKA_TOPIC_H

#include <librdkafka/rdkafka.h>

enum kafka_topic_state { KAFKA_TOPIC_EXISTS, KAFKA_TOPIC_CREATED, KAFKA_TOPIC_MISSING };

/**
 * @brief Create @p topic with @p partitions partitions and, when @p policy
 *        is not NULL, that cleanup.policy. @p md is a metadata answer
 *        naming the brokers (to tell a usable controller).
 * @param what  the log message prefix: "<what>_created", "<what>_not_created".
 * @returns KAFKA_TOPIC_CREATED, KAFKA_TOPIC_EXISTS (someone was quicker) or
 *          KAFKA_TOPIC_MISSING (not created: logged, with the reason).
 * @locality blocks up to timeout_ms (plus 1 s for the answer).
 */
enum kafka_topic_state kafka_topic_create(rd_kafka_t *rk, const char *topic, int partitions,
                                          const char *policy, const struct rd_kafka_metadata *md,
                                          int timeout_ms, const char *what);

#endif
