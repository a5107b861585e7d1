/*
 * The replica group member: a librdkafka consumer whose only job is its
 * group membership. cooperative-sticky moves only the partitions that must
 * move, so the units nobody else needs keep running through a rebalance
 * (HA.md A8), and a revoked partition reaches its next owner only after our
 * revoke callback returned, that is after its units drained.
 */
#include "group.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <librdkafka/rdkafka.h>

#include "kafka_conf.h"
#include "kafka_topic.h"
#include "log.h"
#include "units.h"

struct group {
        const struct config *cfg;
        rd_kafka_t *rk;
        group_rebalance_fn fn;
        void *ctx;
        char member_id[256];
};

static void group_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                               rd_kafka_topic_partition_list_t *parts, void *opaque)
{
        struct group *g = opaque;
        int cooperative = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
        int32_t ids[256];
        size_t n = 0;
        rd_kafka_error_t *error = NULL;
        char *mid;
        int i;

        if ((mid = rd_kafka_memberid(rk))) {
                snprintf(g->member_id, sizeof(g->member_id), "%s", mid);
                rd_kafka_mem_free(rk, mid);
        }
        for (i = 0; i < parts->cnt && n < sizeof(ids) / sizeof(ids[0]); i++)
                ids[n++] = parts->elems[i].partition;
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                if (cooperative)
                        error = rd_kafka_incremental_assign(rk, parts);
                else
                        rd_kafka_assign(rk, parts);
                g->fn(g->ctx, GROUP_ASSIGN, 0, ids, n);
        } else {
                /* Drained (or given up) before the partitions go back. */
                g->fn(g->ctx, GROUP_REVOKE, rd_kafka_assignment_lost(rk), ids, n);
                if (cooperative)
                        error = rd_kafka_incremental_unassign(rk, parts);
                else
                        rd_kafka_assign(rk, NULL);
        }
        if (error) {
                log_msg(LOG_WARN, "group_assign_failed", "err=\"%s\"", rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
        }
}

struct group *group_new(const struct config *cfg, group_rebalance_fn fn, void *ctx, char *errstr,
                        size_t errstr_size)
{
        const struct config_coordination *co = &cfg->coord;
        struct group *g = calloc(1, sizeof(*g));
        rd_kafka_conf_t *conf;
        char num[32], rderr[512];

        if (!g) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        g->cfg = cfg;
        g->fn = fn;
        g->ctx = ctx;
        if (!(conf = kafka_conf_new(cfg, KAFKA_CONF_CONSUMER, errstr, errstr_size)))
                goto fail;
        if (kafka_conf_set(conf, "coordination", "group.id", co->group, errstr, errstr_size) ||
            kafka_conf_set(conf, "coordination", "partition.assignment.strategy",
                           "cooperative-sticky", errstr, errstr_size))
                goto fail_conf;
        snprintf(num, sizeof(num), "%d", co->session_timeout_ms);
        if (kafka_conf_set(conf, "coordination.session_timeout_ms", "session.timeout.ms", num,
                           errstr, errstr_size))
                goto fail_conf;
        snprintf(num, sizeof(num), "%d", co->heartbeat_interval_ms);
        if (kafka_conf_set(conf, "coordination.heartbeat_interval_ms", "heartbeat.interval.ms", num,
                           errstr, errstr_size))
                goto fail_conf;
        snprintf(num, sizeof(num), "%d", co->max_poll_interval_ms);
        if (kafka_conf_set(conf, "coordination.max_poll_interval_ms", "max.poll.interval.ms", num,
                           errstr, errstr_size))
                goto fail_conf;
        rd_kafka_conf_set_rebalance_cb(conf, group_rebalance_cb);
        rd_kafka_conf_set_opaque(conf, g);
        if (!(g->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, rderr, sizeof(rderr)))) {
                snprintf(errstr, errstr_size, "coordination: %s", rderr);
                goto fail_conf;
        }
        rd_kafka_poll_set_consumer(g->rk);
        return g;
fail_conf:
        rd_kafka_conf_destroy(conf);
fail:
        free(g);
        return NULL;
}

void group_destroy(struct group *g)
{
        if (!g)
                return;
        if (g->rk)
                rd_kafka_destroy_flags(g->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
        free(g);
}

int group_partitions(struct group *g, int timeout_ms, char *errstr, size_t errstr_size)
{
        const char *topic = g->cfg->coord.topic;
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(g->rk, topic, NULL);
        rd_kafka_resp_err_t err;
        int n = -1, tries;

        if (!rkt) {
                snprintf(errstr, errstr_size, "coordination.topic %s: %s", topic,
                         rd_kafka_err2str(rd_kafka_last_error()));
                return -1;
        }
        /* A second look after creating it. */
        for (tries = 0; tries < 2 && n < 0; tries++) {
                err = rd_kafka_metadata(g->rk, 0, rkt, &md, timeout_ms);
                if (err) {
                        snprintf(errstr, errstr_size, "coordination.topic %s: metadata: %s", topic,
                                 rd_kafka_err2str(err));
                        md = NULL;
                        break;
                }
                err = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
                if (!err && md->topics[0].partition_cnt > 0) {
                        n = md->topics[0].partition_cnt;
                } else {
                        snprintf(errstr, errstr_size,
                                 "coordination.topic %s: %s; create it with %d partitions (one "
                                 "per unit)", topic, rd_kafka_err2str(err),
                                 units_topic_partitions(g->cfg));
                        if (tries == 0 && (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                                           err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) &&
                            kafka_topic_create(g->rk, topic, units_topic_partitions(g->cfg),
                                               "delete", md, timeout_ms,
                                               "coordination_topic") == KAFKA_TOPIC_MISSING)
                                tries = 2; /* not creatable: say so, the caller retries later */
                }
                rd_kafka_metadata_destroy(md);
                md = NULL;
        }
        rd_kafka_topic_destroy(rkt);
        return n;
}

int group_subscribe(struct group *g, char *errstr, size_t errstr_size)
{
        rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
        rd_kafka_resp_err_t err;

        rd_kafka_topic_partition_list_add(topics, g->cfg->coord.topic, RD_KAFKA_PARTITION_UA);
        err = rd_kafka_subscribe(g->rk, topics);
        rd_kafka_topic_partition_list_destroy(topics);
        if (err) {
                snprintf(errstr, errstr_size, "coordination: subscribe to %s: %s",
                         g->cfg->coord.topic, rd_kafka_err2str(err));
                return -1;
        }
        return 0;
}

void group_poll(struct group *g)
{
        rd_kafka_message_t *m;

        /* Nothing is ever written to the coordination topic; whatever is
         * there (an error event, a stray record) is only let go. */
        while ((m = rd_kafka_consumer_poll(g->rk, 0))) {
                if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                        log_msg(LOG_WARN, "group_error", "err=\"%s\"", rd_kafka_message_errstr(m));
                rd_kafka_message_destroy(m);
        }
}

const char *group_member_id(struct group *g)
{
        char *mid;

        if (!g->member_id[0] && (mid = rd_kafka_memberid(g->rk))) {
                snprintf(g->member_id, sizeof(g->member_id), "%s", mid);
                rd_kafka_mem_free(g->rk, mid);
        }
        return g->member_id;
}

int group_rejoin(struct group *g, char *errstr, size_t errstr_size)
{
        rd_kafka_resp_err_t err = rd_kafka_unsubscribe(g->rk);

        if (err) {
                snprintf(errstr, errstr_size, "coordination: leave: %s", rd_kafka_err2str(err));
                return -1;
        }
        g->member_id[0] = '\0';
        return group_subscribe(g, errstr, errstr_size);
}

static long long group_mono_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void group_close(struct group *g, int timeout_ms)
{
        rd_kafka_queue_t *q = rd_kafka_queue_new(g->rk);
        rd_kafka_error_t *error = rd_kafka_consumer_close_queue(g->rk, q);
        long long until = group_mono_ms() + timeout_ms;

        if (error) {
                log_msg(LOG_WARN, "group_left", "err=\"%s\"", rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
        } else {
                /* The revoke callback runs from this queue; then LeaveGroup. */
                while (!rd_kafka_consumer_closed(g->rk) && group_mono_ms() < until) {
                        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 100);

                        if (!ev)
                                continue;
                        if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE)
                                group_rebalance_cb(g->rk, rd_kafka_event_error(ev),
                                                   rd_kafka_event_topic_partition_list(ev), g);
                        rd_kafka_event_destroy(ev);
                }
        }
        rd_kafka_queue_destroy(q);
        log_msg(rd_kafka_consumer_closed(g->rk) ? LOG_INFO : LOG_WARN, "group_left",
                "closed=%s", rd_kafka_consumer_closed(g->rk) ? "true" : "false");
}
