/*
 * CreateTopics for the topics the bridge keeps its own state in. The
 * replay store has always done this; the coordination topic of a replica
 * group needs the same, with more partitions.
 */
#include "kafka_topic.h"

#include <stdio.h>

#include "log.h"

enum kafka_topic_state kafka_topic_create(rd_kafka_t *rk, const char *topic, int partitions,
                                          const char *policy, const struct rd_kafka_metadata *md,
                                          int timeout_ms, const char *what)
{
        const rd_kafka_CreateTopics_result_t *res;
        const rd_kafka_topic_result_t **results;
        rd_kafka_AdminOptions_t *opts = NULL;
        rd_kafka_NewTopic_t *newt = NULL;
        rd_kafka_queue_t *rkqu = NULL;
        rd_kafka_event_t *rkev = NULL;
        enum kafka_topic_state state = KAFKA_TOPIC_MISSING;
        int32_t controller;
        char rderr[512];
        size_t n;
        int i, known = 0;
        char created[64], not_created[64];

        snprintf(created, sizeof(created), "%s_created", what);
        snprintf(not_created, sizeof(not_created), "%s_not_created", what);

        /*
         * Admin requests go to the controller. A cluster that names no
         * broker of its own as controller (librdkafka's mock cluster says 0,
         * its brokers start at 1) would leave CreateTopics waiting until the
         * timeout, so do not ask.
         */
        controller = rd_kafka_controllerid(rk, timeout_ms);
        for (i = 0; i < md->broker_cnt; i++)
                if (md->brokers[i].id == controller)
                        known = 1;
        if (controller < 0 || !known) {
                log_msg(
                    LOG_INFO, not_created,
                    "topic=%s controller=%d reason=\"the cluster names no usable controller "
                    "(as librdkafka's mock cluster); the broker's topic auto-creation applies and "
                    "cleanup.policy=%s is not set\"",
                    topic, (int)controller, policy);
                return KAFKA_TOPIC_MISSING;
        }

        newt = rd_kafka_NewTopic_new(topic, partitions, -1, rderr, sizeof(rderr));
        if (!newt || rd_kafka_NewTopic_set_config(newt, "cleanup.policy", policy) !=
                         RD_KAFKA_RESP_ERR_NO_ERROR) {
                log_msg(LOG_WARN, not_created, "topic=%s err=\"%s\"", topic,
                        newt ? "cannot set cleanup.policy" : rderr);
                goto out;
        }
        opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
        rkqu = rd_kafka_queue_new(rk);
        if (!opts || !rkqu)
                goto out;
        rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms + 1, rderr,
                                                  sizeof(rderr));
        rd_kafka_AdminOptions_set_operation_timeout(opts, timeout_ms + 1, rderr,
                                                    sizeof(rderr));
        rd_kafka_CreateTopics(rk, &newt, 1, opts, rkqu);
        rkev = rd_kafka_queue_poll(rkqu, timeout_ms + 1000);
        if (!rkev || rd_kafka_event_error(rkev)) {
                log_msg(
                    LOG_INFO, not_created,
                    "topic=%s err=\"%s\" reason=\"CreateTopics not answered; the broker's topic "
                    "auto-creation applies and cleanup.policy=%s is not set\"",
                    topic, rkev ? rd_kafka_event_error_string(rkev) : "timed out", policy);
                goto out;
        }
        res = rd_kafka_event_CreateTopics_result(rkev);
        results = res ? rd_kafka_CreateTopics_result_topics(res, &n) : NULL;
        if (!results || n != 1) {
                log_msg(LOG_WARN, not_created, "topic=%s err=\"no result\"", topic);
                goto out;
        }
        switch (rd_kafka_topic_result_error(results[0])) {
        case RD_KAFKA_RESP_ERR_NO_ERROR:
                log_msg(LOG_INFO, created,
                        "topic=%s partitions=%d cleanup.policy=%s", topic, partitions, policy);
                state = KAFKA_TOPIC_CREATED;
                break;
        case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS:
                state = KAFKA_TOPIC_EXISTS; /* another instance was quicker */
                break;
        default:
                log_msg(LOG_WARN, not_created, "topic=%s err=\"%s: %s\"", topic,
                        rd_kafka_err2name(rd_kafka_topic_result_error(results[0])),
                        rd_kafka_topic_result_error_string(results[0])
                            ? rd_kafka_topic_result_error_string(results[0])
                            : "");
                break;
        }
out:
        if (rkev)
                rd_kafka_event_destroy(rkev);
        if (rkqu)
                rd_kafka_queue_destroy(rkqu);
        if (opts)
                rd_kafka_AdminOptions_destroy(opts);
        if (newt)
                rd_kafka_NewTopic_destroy(newt);
        return state;
}
