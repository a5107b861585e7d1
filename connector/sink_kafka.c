/*
 * The Kafka producer side of the bridge: the plumbing both delivery
 * algorithms share (producer creation, topic handles, produce with a
 * bounded wait on a full queue, fatal errors, delivery reports, replay
 * marks) and the public functions, each of which hands over to
 * exactly_once (sink_eos.c) or at_least_once (sink_alo.c).
 * Delivery reports and errors are served by rd_kafka_poll() on the caller's
 * thread (sink_poll, sink_flush, sink_commit), never on librdkafka's threads.
 */
#include "sink_kafka.h"
#include "units.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "buf.h"
#include "kafka_conf.h"
#include "log.h"
#include "sink_internal.h"

/* How long sink_produce() waits for room when librdkafka's queue is full. */
#define SINK_QUEUE_FULL_WAIT_MS 5000
#define SINK_KEY_MAX            4096
/* How long the first sink_begin may wait to learn the replay topic's partitions. */
#define SINK_WARM_TIMEOUT_MS 1000

/* {entity} topics are created as events name them: beyond this many, a
 * produce goes by name rather than keep a handle (a bound, not a limit). */
#define SINK_MAX_TOPICS 4096

/*
 * Partition counts. librdkafka would partition for us only through a
 * partitioner callback, which sees the key and the message opaque, and the
 * opaque is taken (sink_internal.h): so the sink learns each kept topic's
 * partition count from metadata and produces to an explicit partition.
 * A topic's count is looked up when it is first needed (route topics at
 * sink_start, an {entity} topic at its first event: once per topic, bounded
 * by SINK_LEARN_TIMEOUT_MS), and every kept topic is looked up again, in one
 * request, at the first sink_begin after SINK_PARTITIONS_REFRESH_MS: never
 * per event, and only between batches, so every event of a batch sees the
 * same count. A partition added to a topic is thus used within about a
 * minute; from then on a record ID may hash to a new partition (as with a
 * Java producer): order holds within each partition, not across the change.
 */
#define SINK_LEARN_TIMEOUT_MS      2000
#define SINK_PARTITIONS_REFRESH_MS 60000
#define SINK_REFRESH_TIMEOUT_MS    1000

static long long now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void *sink_opaque(unsigned long long seq, size_t idx, enum msg_kind kind)
{
        return (void *)(uintptr_t)(((uintptr_t)seq << OPAQUE_SEQ_SHIFT) | ((uintptr_t)idx << 2) |
                                   (uintptr_t)kind);
}

int sink_is_fenced(rd_kafka_resp_err_t err)
{
        return err == RD_KAFKA_RESP_ERR__FENCED || err == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
               err == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH;
}

void sink_set_fatal(struct sink *sink, rd_kafka_resp_err_t err, const char *what)
{
        char reason[512];
        rd_kafka_resp_err_t ferr;

        if (sink->fatal)
                return;
        ferr = rd_kafka_fatal_error(sink->rk, reason, sizeof(reason));
        if (!ferr) {
                ferr = err;
                snprintf(reason, sizeof(reason), "%s", rd_kafka_err2str(err));
        }
        sink->fatal = 1;
        sink->fenced = sink_is_fenced(ferr) || sink_is_fenced(err);
        if (sink->fenced)
                snprintf(
                    sink->fatal_reason, sizeof(sink->fatal_reason),
                    "%s: fenced by a newer instance with the same name (transactional.id %s): %s",
                    what, sink->txn_id, reason);
        else
                snprintf(sink->fatal_reason, sizeof(sink->fatal_reason),
                         "%s: fatal Kafka producer error: %s: %s", what, rd_kafka_err2name(ferr),
                         reason);
        log_msg(LOG_ERROR, "kafka_fatal", "err=\"%s\"", sink->fatal_reason);
}

void sink_purge(struct sink *sink)
{
        if (sink->rk)
                rd_kafka_purge(sink->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
}

int sink_fenced(const struct sink *sink)
{
        return sink->fenced;
}

int sink_fatal_status(struct sink *sink, char *errstr, size_t errstr_size)
{
        snprintf(errstr, errstr_size, "%s", sink->fatal_reason);
        return SINK_FATAL;
}

/* ---- librdkafka callbacks, served on the caller's thread by rd_kafka_poll ---- */

static void sink_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
        struct sink *sink = opaque;

        (void)rk;
        sink->errors++;
        snprintf(sink->last_error, sizeof(sink->last_error), "%s", reason);
        if (err == RD_KAFKA_RESP_ERR__FATAL) {
                sink_set_fatal(sink, (rd_kafka_resp_err_t)err, "kafka");
                return;
        }
        if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN && !sink->kafka_down) {
                /* Once per outage; librdkafka's own lines give the details. */
                sink->kafka_down = 1;
                log_msg(LOG_WARN, "kafka_unavailable", "cause=all_brokers_down reason=\"%s\"",
                        reason);
                return;
        }
        log_msg(LOG_DEBUG, "kafka_error", "err=%s reason=\"%s\"",
                rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

void sink_kafka_up(struct sink *sink)
{
        if (!sink->kafka_down)
                return;
        sink->kafka_down = 0;
        log_msg(LOG_INFO, "kafka_recovered", "cause=all_brokers_down");
}

int sink_msg_purged(const rd_kafka_message_t *rkm)
{
        return rkm->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
               rkm->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT;
}

const char *sink_poison_class(int err)
{
        switch (err) {
        case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
        case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
                return "too_large";
        case RD_KAFKA_RESP_ERR_INVALID_RECORD:
                return "invalid_record";
        case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION: /* InvalidTopicException */
                return "illegal_topic";
        /* Where it goes, not what it is: the topic refuses this producer (no
         * Write ACL) or does not exist and the cluster will not create it
         * (auto.create.topics.enable=false); librdkafka reports the latter
         * only after topic.metadata.propagation.max.ms, or the metadata says
         * so. Sending it again would loop: it is poison for its route. */
        case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
                return "topic_denied";
        case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
        case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
                return "topic_missing";
        default:
                return NULL;
        }
}

/* The value of header name of rkm into out (NUL-terminated); "" when absent. */
static void sink_msg_header(const rd_kafka_message_t *rkm, const char *name, char *out,
                            size_t out_size)
{
        rd_kafka_headers_t *hdrs = NULL;
        const void *v = NULL;
        size_t n = 0;

        out[0] = '\0';
        if (rd_kafka_message_headers(rkm, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR ||
            rd_kafka_header_get_last(hdrs, name, &v, &n) != RD_KAFKA_RESP_ERR_NO_ERROR || !v)
                return;
        if (n >= out_size)
                n = out_size - 1;
        memcpy(out, v, n);
        out[n] = '\0';
}

/* The index of the remembered refusal of (channel, replay ID), or -1. */
static long sink_poison_find(const struct sink *sink, const char *channel, const char *replay_id)
{
        size_t i;

        for (i = 0; i < sink->npoison; i++)
                if (!strcmp(sink->poison[i].channel, channel) &&
                    !strcmp(sink->poison[i].replay_id, replay_id))
                        return (long)i;
        return -1;
}

/* A delivery report refused an event (or its dead letter) for good: remember it. */
static void sink_poison_note(struct sink *sink, const rd_kafka_message_t *rkm, const char *reason,
                             int dead_letter_failed)
{
        struct sink_poison *p;
        char channel[256], id[32];
        long at;

        sink_msg_header(rkm, "sf.channel", channel, sizeof(channel));
        sink_msg_header(rkm, "sf.replay_id", id, sizeof(id));
        if (!channel[0] || !id[0])
                return;
        at = sink_poison_find(sink, channel, id);
        p = at >= 0 ? &sink->poison[at] : NULL;
        if (!p) {
                p = &sink->poison[sink->poison_next];
                sink->poison_next = (sink->poison_next + 1) % SINK_POISON_MAX;
                if (sink->npoison < SINK_POISON_MAX)
                        sink->npoison++;
                snprintf(p->channel, sizeof(p->channel), "%s", channel);
                snprintf(p->replay_id, sizeof(p->replay_id), "%s", id);
        }
        p->reason = reason;
        p->dead_letter_failed = dead_letter_failed;
        snprintf(p->error, sizeof(p->error), "%s (%s)", rd_kafka_err2str(rkm->err),
                 rd_kafka_err2name(rkm->err));
        log_msg(LOG_WARN, "poison_event_noted", "channel=%s replay_id=%s topic=%s reason=%s err=\"%s\"",
                channel, id, rd_kafka_topic_name(rkm->rkt), reason, p->error);
}

size_t sink_poison_count(const struct sink *sink)
{
        return sink->npoison;
}

int sink_poison_known(const struct sink *sink, const char *channel, const char *replay_id,
                      const char **reason, const char **error, int *dead_letter_failed)
{
        long at = sink_poison_find(sink, channel, replay_id);
        const struct sink_poison *p;

        if (at < 0)
                return 0;
        p = &sink->poison[at];
        *reason = p->reason;
        *error = p->error;
        *dead_letter_failed = p->dead_letter_failed;
        return 1;
}

const char *sink_poison_reason(const struct sink *sink)
{
        return sink->poison_reason ? sink->poison_reason : "unknown";
}

/*
 * An event or dead letter left librdkafka: at_least_once, its bytes are no
 * longer in flight (exactly_once counts them until the transaction ends).
 * hdr_bytes is what sink_produce_record/sink_produce_dead put in the opaque.
 */
static void sink_bytes_done(struct sink *sink, const rd_kafka_message_t *rkm, size_t hdr_bytes)
{
        unsigned long long n = (unsigned long long)rkm->len + rkm->key_len + hdr_bytes;

        if (sink->eos)
                return;
        sink->in_flight_bytes = sink->in_flight_bytes > n ? sink->in_flight_bytes - n : 0;
}

/* What every delivery report means in both modes; at_least_once then acts on its batch. */
static void sink_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
        struct sink *sink = opaque;
        uintptr_t op = (uintptr_t)rkm->_private;
        enum msg_kind kind = (enum msg_kind)(op & 3);
        size_t idx = (size_t)((op >> 2) & OPAQUE_IDX_MAX);
        unsigned long long seq = (unsigned long long)(op >> OPAQUE_SEQ_SHIFT);
        int purged = sink_msg_purged(rkm);

        (void)rk;
        /* An abort purges the transaction's messages: expected, not an error. */
        if (rkm->err && !purged) {
                sink->errors++;
                snprintf(sink->last_error, sizeof(sink->last_error), "delivery to %s: %s",
                         rd_kafka_topic_name(rkm->rkt), rd_kafka_err2str(rkm->err));
        }
        if (!rkm->err)
                sink_kafka_up(sink);

        switch (kind) {
        case MSG_EVENT:
                if (sink->in_flight > 0)
                        sink->in_flight--;
                sink_bytes_done(sink, rkm, idx);
                if (rkm->err && sink_poison_class(rkm->err))
                        sink_poison_note(sink, rkm, sink_poison_class(rkm->err), 0);
                break;
        case MSG_DEAD:
                if (sink->in_flight > 0)
                        sink->in_flight--;
                sink_bytes_done(sink, rkm, idx);
                if (rkm->err && !purged) {
                        log_msg(LOG_ERROR, "dead_letter_failed", "topic=%s err=\"%s\"",
                                rd_kafka_topic_name(rkm->rkt), rd_kafka_err2str(rkm->err));
                        sink_poison_note(sink, rkm, "dead_letter_failed", 1);
                }
                break;
        case MSG_REPLAY:
                if (rkm->err && !purged)
                        log_msg(LOG_WARN, "replay_record_failed", "topic=%s err=\"%s\"",
                                rd_kafka_topic_name(rkm->rkt), rd_kafka_err2str(rkm->err));
                break;
        case MSG_GAP:
                if (rkm->err && !purged)
                        log_msg(LOG_WARN, "gap_record_failed", "topic=%s err=\"%s\"",
                                rd_kafka_topic_name(rkm->rkt), rd_kafka_err2str(rkm->err));
                break;
        }
        /* exactly_once: a failed delivery fails the commit, which reports it,
         * and the replay store is updated only after the commit. */
        if (!sink->eos)
                alo_delivered(sink, rkm, kind, seq, idx);
}

/* ---- construction ---- */

struct sink *sink_new(const struct config *cfg, struct replay_store *rs, char *errstr,
                      size_t errstr_size)
{
        rd_kafka_conf_t *conf = NULL;
        struct sink *sink;
        char rderr[512];
        size_t i;

        sink = calloc(1, sizeof(*sink));
        if (!sink) {
                snprintf(errstr, errstr_size, "sink: out of memory");
                return NULL;
        }
        sink->cfg = cfg;
        sink->rs = rs;
        sink->eos = cfg->kafka.delivery == DELIVERY_EXACTLY_ONCE;
        buf_init(&sink->key, SINK_KEY_MAX);
        buf_init(&sink->value, REPLAY_RECORD_MAX);
        units_txn_id(cfg, sink->txn_id, sizeof(sink->txn_id));
        if (!cfg->kafka.replay_topic) {
                snprintf(errstr, errstr_size, "kafka.replay_topic: missing");
                goto fail;
        }

        for (i = 0; i < cfg->kafka.nproperties; i++) {
                const struct config_property *prop = &cfg->kafka.properties[i];
                char why[256];

                if (kafka_conf_check_managed(prop->name, prop->value, why, sizeof(why))) {
                        snprintf(errstr, errstr_size, "kafka.properties: %s: %s", prop->name, why);
                        goto fail;
                }
        }
        conf = kafka_conf_new(cfg, KAFKA_CONF_PRODUCER, errstr, errstr_size);
        if (!conf)
                goto fail;
        if (sink->eos && kafka_conf_set(conf, "sfbridge", "transactional.id", sink->txn_id,
                                        errstr, errstr_size))
                goto fail;
        {
                char v[32];
                size_t vn = sizeof(v);

                sink->max_msg_bytes = 1000000; /* librdkafka's default */
                if (rd_kafka_conf_get(conf, "message.max.bytes", v, &vn) == RD_KAFKA_CONF_OK)
                        sink->max_msg_bytes = (size_t)strtoul(v, NULL, 10);
        }
        rd_kafka_conf_set_dr_msg_cb(conf, sink_dr_cb);
        rd_kafka_conf_set_error_cb(conf, sink_error_cb);
        rd_kafka_conf_set_opaque(conf, sink);

        sink->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, rderr, sizeof(rderr));
        if (!sink->rk) {
                snprintf(errstr, errstr_size, "kafka: cannot create producer: %s", rderr);
                goto fail;
        }
        conf = NULL; /* owned by sink->rk now */
        return sink;
fail:
        if (conf)
                rd_kafka_conf_destroy(conf);
        sink_destroy(sink);
        return NULL;
}

void sink_destroy(struct sink *sink)
{
        size_t i;

        if (!sink)
                return;
        for (i = 0; i < sink->ntopics; i++) {
                rd_kafka_topic_destroy(sink->topics[i].rkt);
                free(sink->topics[i].name);
        }
        free(sink->topics);
        if (sink->rk)
                rd_kafka_destroy(sink->rk);
        for (i = 0; i < sink->nchannels; i++)
                free(sink->channels[i]);
        free(sink->channels);
        free(sink->txn.marks.list);
        for (i = 0; i < sink->fifo.cap; i++)
                free(sink->fifo.ring[i].marks.list);
        free(sink->fifo.ring);
        buf_free(&sink->key);
        buf_free(&sink->value);
        free(sink);
}

/* ---- topic handles ---- */

/*
 * The kept handle of topic, made on first use (partition count not known
 * yet); NULL past SINK_MAX_TOPICS or out of memory. Valid until the next call.
 */
static struct sink_topic *sink_keep_topic(struct sink *sink, const char *topic)
{
        struct sink_topic *st;
        size_t i;

        if (sink->last_topic < sink->ntopics && !strcmp(sink->topics[sink->last_topic].name, topic))
                return &sink->topics[sink->last_topic];
        for (i = 0; i < sink->ntopics; i++) {
                if (!strcmp(sink->topics[i].name, topic)) {
                        sink->last_topic = i;
                        return &sink->topics[i];
                }
        }
        if (sink->ntopics == SINK_MAX_TOPICS)
                return NULL;
        if (sink->ntopics == sink->topics_cap) {
                size_t cap = sink->topics_cap ? sink->topics_cap * 2 : 8;

                st = realloc(sink->topics, cap * sizeof(*st));
                if (!st)
                        return NULL;
                sink->topics = st;
                sink->topics_cap = cap;
        }
        st = &sink->topics[sink->ntopics];
        st->name = strdup(topic);
        st->partitions = 0;
        st->refused = RD_KAFKA_RESP_ERR_NO_ERROR;
        st->rkt = st->name ? rd_kafka_topic_new(sink->rk, topic, NULL) : NULL;
        if (!st->rkt) {
                free(st->name);
                return NULL;
        }
        sink->last_topic = sink->ntopics++;
        return st;
}

/* Note the partition count of every kept topic md lists; a change is said once, here. */
static void sink_take_metadata(struct sink *sink, const struct rd_kafka_metadata *md)
{
        int t;
        size_t i;

        for (t = 0; t < md->topic_cnt; t++) {
                const struct rd_kafka_metadata_topic *mt = &md->topics[t];

                for (i = 0; i < sink->ntopics; i++) {
                        struct sink_topic *st = &sink->topics[i];

                        if (strcmp(st->name, mt->topic))
                                continue;
                        st->refused = mt->err && sink_poison_class(mt->err) ? mt->err
                                                                            : RD_KAFKA_RESP_ERR_NO_ERROR;
                        if (mt->partition_cnt <= 0)
                                break; /* unknown (yet): keep what we had */
                        if (st->partitions && st->partitions != mt->partition_cnt)
                                log_msg(LOG_WARN, "partitions_changed",
                                        "topic=%s from=%d to=%d note=\"a record ID may now "
                                        "hash to another partition\"",
                                        st->name, (int)st->partitions, mt->partition_cnt);
                        st->partitions = mt->partition_cnt;
                        break;
                }
        }
}

/*
 * Ask for the partitions of every topic kept so far (only: NULL), or of
 * only, in one request; note the counts. @returns the request's error.
 */
static rd_kafka_resp_err_t sink_learn_topics(struct sink *sink, struct sink_topic *only,
                                             int timeout_ms)
{
        const struct rd_kafka_metadata *md;
        rd_kafka_resp_err_t err;

        /* all_topics=0: only the topics this handle knows. */
        err = rd_kafka_metadata(sink->rk, 0, only ? only->rkt : NULL, &md, timeout_ms);
        if (!only)
                sink->partitions_checked_ms = now_ms();
        if (err)
                return err;
        sink_take_metadata(sink, md);
        rd_kafka_metadata_destroy(md);
        return RD_KAFKA_RESP_ERR_NO_ERROR;
}

/*
 * librdkafka looks up a topic first produced to on its 1 s topic scan, which
 * would hold the first batch a second. The route topics are looked up at
 * start; the replay topic only at the first sink_begin, after
 * replay_store_load() created it compacted: a producer's lookup of a missing
 * topic lets the broker auto-create it with the default cleanup policy.
 */
static void sink_warm_route_topics(struct sink *sink, int timeout_ms)
{
        const struct config *cfg = sink->cfg;
        size_t i;

        if (sink->topics_warm)
                return;
        sink->topics_warm = 1;
        for (i = 0; i < cfg->nroutes; i++) {
                const char *topic = cfg->routes[i].topic;

                if (topic && !strchr(topic, '{')) /* {entity} topics are known per event */
                        sink_keep_topic(sink, topic);
        }
        if (sink->ntopics > 0)
                sink_learn_topics(sink, NULL, timeout_ms);
}

/* ---- produce ---- */

/*
 * Produce, waiting a bounded time for room when the local queue is full.
 * Values are copied (RD_KAFKA_MSG_F_COPY): they point into the Salesforce
 * response, which is reused for the next one. Ownership of hdrs passes only
 * on success.
 */
rd_kafka_resp_err_t sink_producev(struct sink *sink, const char *topic, int32_t partition,
                                  const void *key, size_t key_len, const void *value,
                                  size_t value_len, rd_kafka_headers_t *hdrs, void *opaque)
{
        long long deadline = 0;
        struct sink_topic *st = sink_keep_topic(sink, topic);
        rd_kafka_topic_t *rkt = st ? st->rkt : NULL;
        rd_kafka_resp_err_t err;

        for (;;) {
                /* librdkafka only reads the value (F_COPY) and the headers
                 * argument must be omitted, not NULL, when there are none. */
                if (rkt && hdrs)
                        err = rd_kafka_producev(
                            sink->rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition),
                            RD_KAFKA_V_KEY(key, key_len),
                            RD_KAFKA_V_VALUE((void *)value, value_len),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
                            RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
                else if (rkt)
                        err = rd_kafka_producev(
                            sink->rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition),
                            RD_KAFKA_V_KEY(key, key_len),
                            RD_KAFKA_V_VALUE((void *)value, value_len),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(opaque),
                            RD_KAFKA_V_END);
                else if (hdrs)
                        err = rd_kafka_producev(
                            sink->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                            RD_KAFKA_V_KEY(key, key_len),
                            RD_KAFKA_V_VALUE((void *)value, value_len),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
                            RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
                else
                        err = rd_kafka_producev(
                            sink->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                            RD_KAFKA_V_KEY(key, key_len),
                            RD_KAFKA_V_VALUE((void *)value, value_len),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(opaque),
                            RD_KAFKA_V_END);
                if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        return err;
                if (!deadline)
                        deadline = now_ms() + SINK_QUEUE_FULL_WAIT_MS;
                else if (now_ms() >= deadline)
                        return err;
                rd_kafka_poll(sink->rk, 100);
        }
}

/*
 * The partition rec goes to: its hash modulo the topic's partition count,
 * as Kafka's Java default partitioner computes it for a key.
 * @returns 0, or the error that left the count unknown (the batch aborts
 *          and is fetched again: Kafka's usual retriable path).
 */
static rd_kafka_resp_err_t sink_partition(struct sink *sink, const struct router_record *rec,
                                          int32_t *partition)
{
        struct sink_topic *st;
        rd_kafka_resp_err_t err;

        *partition = RD_KAFKA_PARTITION_UA;
        if (rec->partition_hash < 0)
                return RD_KAFKA_RESP_ERR_NO_ERROR; /* partition_by: key */
        st = sink_keep_topic(sink, rec->topic);
        if (!st) {
                /* Past SINK_MAX_TOPICS (or out of memory) no count is kept:
                 * librdkafka's partitioner decides, which is said once. */
                if (!sink->partition_fallback_warned) {
                        sink->partition_fallback_warned = 1;
                        log_msg(LOG_WARN, "partition_fallback",
                                "topic=%s cause=too_many_topics max=%d action=partition_by_key",
                                rec->topic, SINK_MAX_TOPICS);
                }
                return RD_KAFKA_RESP_ERR_NO_ERROR;
        }
        /* Refused by the last lookup: no wait for each event, no loop. */
        if (st->refused)
                return st->refused;
        if (st->partitions <= 0) {
                /* Once per topic: an {entity} topic's first event, or Kafka was
                 * unreachable when the route topics were looked up. A topic the
                 * lookup itself created may list no partitions yet: ask again
                 * until the deadline. */
                long long deadline = now_ms() + SINK_LEARN_TIMEOUT_MS;

                for (;;) {
                        long long left = deadline - now_ms();

                        err = sink_learn_topics(sink, st, left > 0 ? (int)left : 1);
                        st = sink_keep_topic(sink, rec->topic);
                        if (!st || st->partitions > 0 || st->refused || now_ms() >= deadline)
                                break;
                        rd_kafka_poll(sink->rk, 100);
                }
                if (st && st->refused)
                        return st->refused;
                if (!st || st->partitions <= 0) {
                        if (!err)
                                err = RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION;
                        log_msg(LOG_WARN, "partitions_unknown", "topic=%s err=\"%s\"",
                                rec->topic, rd_kafka_err2str(err));
                        return err;
                }
        }
        *partition = rec->partition_hash % st->partitions;
        return RD_KAFKA_RESP_ERR_NO_ERROR;
}

rd_kafka_resp_err_t sink_produce_record(struct sink *sink, const struct router_record *rec,
                                        void *opaque)
{
        rd_kafka_headers_t *hdrs = NULL;
        rd_kafka_resp_err_t err;
        int32_t partition;
        size_t i, hdr_bytes = 0;

        err = sink_partition(sink, rec, &partition);
        if (err)
                return err;
        if (rec->nheaders > 0) {
                hdrs = rd_kafka_headers_new(rec->nheaders);
                for (i = 0; i < rec->nheaders; i++) {
                        size_t name_len = strlen(rec->headers[i].name);

                        /* The length given, librdkafka measures no name again. */
                        rd_kafka_header_add(hdrs, rec->headers[i].name, (ssize_t)name_len,
                                            rec->headers[i].value,
                                            (ssize_t)rec->headers[i].value_len);
                        hdr_bytes += name_len + rec->headers[i].value_len;
                }
        }
        if (hdr_bytes > SINK_OPAQUE_BYTES_MAX)
                hdr_bytes = SINK_OPAQUE_BYTES_MAX; /* counted alike both ways: the count stays exact */
        err = sink_producev(sink, rec->topic, partition, rec->key, rec->key ? rec->key_len : 0,
                            rec->value, rec->value_len, hdrs,
                            (void *)((uintptr_t)opaque | ((uintptr_t)hdr_bytes << 2)));
        if (err) {
                if (hdrs)
                        rd_kafka_headers_destroy(hdrs);
                return err;
        }
        sink->in_flight++;
        sink->in_flight_bytes += (rec->key ? rec->key_len : 0) + rec->value_len + hdr_bytes;
        return RD_KAFKA_RESP_ERR_NO_ERROR;
}

int sink_produce_poison(struct sink *sink, rd_kafka_resp_err_t err, const char *topic,
                        size_t bytes, char *errstr, size_t errstr_size)
{
        sink->poison_reason = sink_poison_class(err);
        if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
                snprintf(errstr, errstr_size,
                         "a record of %zu bytes for %s is larger than the producer's "
                         "message.max.bytes (%zu)", bytes, topic, sink->max_msg_bytes);
        else if (err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED)
                snprintf(errstr, errstr_size,
                         "Kafka refuses writes to topic %s (%s): the bridge's principal lacks "
                         "the Write ACL on it", topic, rd_kafka_err2name(err));
        else if (sink->poison_reason && !strcmp(sink->poison_reason, "topic_missing"))
                snprintf(errstr, errstr_size,
                         "topic %s does not exist and Kafka does not create it (%s; "
                         "auto.create.topics.enable=false or no Create ACL)", topic,
                         rd_kafka_err2name(err));
        else
                snprintf(errstr, errstr_size, "produce to %s: %s", topic, rd_kafka_err2str(err));
        return SINK_POISON;
}

/* Room for a dead letter's value: message.max.bytes less the key, headers and framing. */
#define SINK_DEAD_OVERHEAD 512

rd_kafka_resp_err_t sink_produce_dead(struct sink *sink, const struct sink_dead_letter *dl,
                                      void *opaque)
{
        const char *hname[] = { "sf.channel", "sf.replay_id", "sf.error", "sf.topic", "sf.bridge" };
        const char *hval[] = { dl->channel, dl->replay_id, dl->error, dl->topic,
                               sink->cfg->name ? sink->cfg->name : "sfbridge" };
        size_t i, used = SINK_DEAD_OVERHEAD + dl->key_len, room, value_len = dl->value_len;
        rd_kafka_headers_t *hdrs = rd_kafka_headers_new(8);
        rd_kafka_resp_err_t err;
        size_t hdr_bytes = 0;
        char orig[24];

        for (i = 0; i < sizeof(hname) / sizeof(hname[0]); i++) {
                const char *v = hval[i] ? hval[i] : "";

                rd_kafka_header_add(hdrs, hname[i], -1, v, -1);
                hdr_bytes += strlen(hname[i]) + strlen(v);
        }
        used += hdr_bytes;
        room = sink->max_msg_bytes > used + sizeof(orig) + 16 ? sink->max_msg_bytes - used - sizeof(orig) - 16
                                                              : 0;
        if (value_len > room) {
                snprintf(orig, sizeof(orig), "%zu", value_len);
                rd_kafka_header_add(hdrs, "sf.truncated", -1, orig, -1);
                hdr_bytes += strlen("sf.truncated") + strlen(orig);
                value_len = room;
        }
        if (hdr_bytes > SINK_OPAQUE_BYTES_MAX)
                hdr_bytes = SINK_OPAQUE_BYTES_MAX;
        err = sink_producev(sink, sink->cfg->kafka.dead_letter_topic, RD_KAFKA_PARTITION_UA, dl->key,
                            dl->key ? dl->key_len : 0, dl->value, value_len, hdrs,
                            (void *)((uintptr_t)opaque | ((uintptr_t)hdr_bytes << 2)));
        if (err) {
                rd_kafka_headers_destroy(hdrs);
                return err;
        }
        sink->in_flight++;
        sink->in_flight_bytes += (dl->key ? dl->key_len : 0) + value_len + hdr_bytes;
        return RD_KAFKA_RESP_ERR_NO_ERROR;
}

int sink_produce_failed(struct sink *sink, rd_kafka_resp_err_t err, const char *topic, char *errstr,
                        size_t errstr_size)
{
        sink->errors++;
        if (err == RD_KAFKA_RESP_ERR__FATAL) {
                sink_set_fatal(sink, err, "produce");
                return sink_fatal_status(sink, errstr, errstr_size);
        }
        snprintf(errstr, errstr_size, "produce to %s: %s; the batch is aborted", topic,
                 rd_kafka_err2str(err));
        snprintf(sink->last_error, sizeof(sink->last_error), "%s", errstr);
        log_msg(LOG_WARN, "kafka_produce_failed", "topic=%s err=\"%s\"", topic,
                rd_kafka_err2str(err));
        return SINK_ABORTED;
}

/* ---- replay marks ---- */

/* Index of channel in the interned table; added on first sight. -1: out of memory. */
static long sink_channel(struct sink *sink, const char *channel)
{
        size_t i;

        for (i = 0; i < sink->nchannels; i++)
                if (!strcmp(sink->channels[i], channel))
                        return (long)i;
        if (sink->nchannels == sink->channels_cap) {
                size_t cap = sink->channels_cap ? sink->channels_cap * 2 : 16;
                char **channels = realloc(sink->channels, cap * sizeof(*channels));

                if (!channels)
                        return -1;
                sink->channels = channels;
                sink->channels_cap = cap;
        }
        sink->channels[sink->nchannels] = strdup(channel);
        if (!sink->channels[sink->nchannels])
                return -1;
        return (long)sink->nchannels++;
}

int sink_marks_set(struct sink *sink, struct sink_marks *marks, const char *channel,
                   long long replay_id, const char *event_time, char *errstr, size_t errstr_size)
{
        struct sink_mark *mark = NULL;
        long ch;
        size_t i;

        ch = sink_channel(sink, channel);
        if (ch < 0) {
                snprintf(errstr, errstr_size, "sink_mark: out of memory");
                return SINK_FATAL;
        }
        for (i = 0; i < marks->len; i++)
                if (marks->list[i].channel == (size_t)ch)
                        mark = &marks->list[i];
        if (!mark) {
                if (marks->len == marks->cap) {
                        size_t cap = marks->cap ? marks->cap * 2 : 8;
                        struct sink_mark *list;

                        if (cap > OPAQUE_IDX_MAX + 1) {
                                snprintf(errstr, errstr_size, "sink_mark: too many channels");
                                return SINK_FATAL;
                        }
                        list = realloc(marks->list, cap * sizeof(*list));
                        if (!list) {
                                snprintf(errstr, errstr_size, "sink_mark: out of memory");
                                return SINK_FATAL;
                        }
                        marks->list = list;
                        marks->cap = cap;
                }
                mark = &marks->list[marks->len++];
                mark->channel = (size_t)ch;
        }
        /* Events are marked in the order received: the last one is the newest. */
        mark->replay_id = replay_id;
        if (event_time) {
                size_t n = strnlen(event_time, sizeof(mark->event_time) - 1);

                memcpy(mark->event_time, event_time, n);
                mark->event_time[n] = '\0';
        } else {
                mark->event_time[0] = '\0';
        }
        return SINK_OK;
}

rd_kafka_resp_err_t sink_produce_marks(struct sink *sink, const struct sink_marks *marks,
                                       unsigned long long seq, size_t *produced)
{
        const char *topic = sink->cfg->kafka.replay_topic;
        rd_kafka_resp_err_t err;
        char now[40];
        size_t i;

        replay_now_rfc3339(now, sizeof(now));
        for (i = 0; i < marks->len; i++) {
                const struct sink_mark *mark = &marks->list[i];

                if (replay_store_record_encode(sink->rs, sink->channels[mark->channel],
                                               mark->replay_id, mark->event_time, now,
                                               &sink->key, &sink->value))
                        return RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE;
                err = sink_producev(sink, topic, RD_KAFKA_PARTITION_UA, sink->key.data,
                                    sink->key.len, sink->value.data, sink->value.len, NULL,
                                    sink_opaque(seq, i, MSG_REPLAY));
                if (err)
                        return err;
                if (produced)
                        (*produced)++;
        }
        return RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* ---- the public functions: shared checks, then the delivery mode's algorithm ---- */

int sink_start(struct sink *sink, int timeout_ms, char *errstr, size_t errstr_size)
{
        if (sink->fatal)
                return sink_fatal_status(sink, errstr, errstr_size);
        if (sink->started)
                return SINK_OK;
        /* at_least_once has nothing to wait for. */
        if (sink->eos) {
                int status = eos_init(sink, timeout_ms, errstr, errstr_size);

                if (status != SINK_OK)
                        return status;
        }
        sink->started = 1;
        sink_warm_route_topics(sink, timeout_ms);
        return SINK_OK;
}

int sink_begin(struct sink *sink, char *errstr, size_t errstr_size)
{
        if (sink->fatal)
                return sink_fatal_status(sink, errstr, errstr_size);
        if (!sink->started) {
                snprintf(errstr, errstr_size, "sink_begin: sink_start has not succeeded");
                return SINK_FATAL;
        }
        if (!sink->replay_topic_warm && sink->topics_warm) {
                sink->replay_topic_warm = 1;
                sink_keep_topic(sink, sink->cfg->kafka.replay_topic);
                sink_learn_topics(sink, NULL, SINK_WARM_TIMEOUT_MS);
        } else if (sink->ntopics > 0 &&
                   now_ms() - sink->partitions_checked_ms >= SINK_PARTITIONS_REFRESH_MS) {
                /* Between batches: see a partition added to a topic (see the top). */
                sink_learn_topics(sink, NULL, SINK_REFRESH_TIMEOUT_MS);
        }
        if (sink->eos)
                return eos_begin(sink, errstr, errstr_size);
        return alo_begin(sink, errstr, errstr_size);
}

int sink_produce(struct sink *sink, const struct router_record *rec, char *errstr,
                 size_t errstr_size)
{
        if (sink->fatal)
                return sink_fatal_status(sink, errstr, errstr_size);
        if (sink->eos)
                return eos_produce(sink, rec, errstr, errstr_size);
        return alo_produce(sink, rec, errstr, errstr_size);
}

int sink_dead_letter(struct sink *sink, const struct sink_dead_letter *dl, char *errstr,
                     size_t errstr_size)
{
        if (sink->fatal)
                return sink_fatal_status(sink, errstr, errstr_size);
        if (!sink->cfg->kafka.dead_letter_topic) {
                snprintf(errstr, errstr_size, "sink_dead_letter: kafka.dead_letter_topic is not set");
                return SINK_FATAL;
        }
        if (sink->eos)
                return eos_dead_letter(sink, dl, errstr, errstr_size);
        return alo_dead_letter(sink, dl, errstr, errstr_size);
}

int sink_mark(struct sink *sink, const char *channel, long long replay_id, const char *event_time,
              char *errstr, size_t errstr_size)
{
        if (sink->fatal)
                return sink_fatal_status(sink, errstr, errstr_size);
        if (sink->eos)
                return eos_mark(sink, channel, replay_id, event_time, errstr, errstr_size);
        return alo_mark(sink, channel, replay_id, event_time, errstr, errstr_size);
}

/* One audit record (gap, owner claim) to topic in the open batch. */
static int sink_put_replay_topic(struct sink *sink, const char *what, const char *topic,
                                 const char *key, size_t key_len, const char *value,
                                 size_t value_len, char *errstr, size_t errstr_size)
{
        if (sink->fatal)
                return sink_fatal_status(sink, errstr, errstr_size);
        if (sink->eos)
                return eos_put_replay_topic(sink, what, topic, key, key_len, value, value_len,
                                            errstr, errstr_size);
        return alo_put_replay_topic(sink, what, topic, key, key_len, value, value_len, errstr,
                                    errstr_size);
}

int sink_gap(struct sink *sink, const char *topic, const char *key, size_t key_len,
             const char *value, size_t value_len, char *errstr, size_t errstr_size)
{
        return sink_put_replay_topic(sink, "sink_gap", topic, key, key_len, value, value_len,
                                     errstr, errstr_size);
}

int sink_put_record(struct sink *sink, const char *key, size_t key_len, const char *value,
                    size_t value_len, char *errstr, size_t errstr_size)
{
        return sink_put_replay_topic(sink, "sink_put_record", sink->cfg->kafka.replay_topic, key,
                                     key_len, value, value_len, errstr, errstr_size);
}

int sink_commit(struct sink *sink, int timeout_ms, char *errstr, size_t errstr_size)
{
        if (sink->fatal)
                return sink_fatal_status(sink, errstr, errstr_size);
        if (sink->eos)
                return eos_commit(sink, timeout_ms, errstr, errstr_size);
        return alo_commit(sink);
}

int sink_abort(struct sink *sink, int timeout_ms, char *errstr, size_t errstr_size)
{
        if (sink->fatal)
                return sink_fatal_status(sink, errstr, errstr_size);
        if (sink->eos)
                return eos_abort(sink, timeout_ms, errstr, errstr_size);
        return alo_abort(sink);
}

void sink_poll(struct sink *sink)
{
        rd_kafka_poll(sink->rk, 0);
        if (!sink->eos)
                alo_advance(sink);
}

size_t sink_in_flight(const struct sink *sink)
{
        return sink->in_flight;
}

unsigned long long sink_in_flight_bytes(const struct sink *sink)
{
        return sink->in_flight_bytes;
}

unsigned long long sink_commits(const struct sink *sink)
{
        return sink->commits;
}

long long sink_pending_ms(const struct sink *sink)
{
        const struct sink_batch *batch;

        if (sink->eos || sink->fifo.len == 0)
                return 0;
        batch = &sink->fifo.ring[sink->fifo.head];
        if (batch->state != BATCH_CLOSED && batch->state != BATCH_WRITING)
                return 0;
        return now_ms() - batch->closed_ms;
}

int sink_settled(const struct sink *sink)
{
        if (sink->eos)
                return sink->txn.state == TXN_NONE;
        return sink->fifo.len == 0;
}

const char *sink_last_error(const struct sink *sink)
{
        return sink->last_error;
}

int sink_flush(struct sink *sink, int timeout_ms)
{
        long long deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);

        for (;;) {
                long long left = deadline - now_ms();

                rd_kafka_flush(sink->rk, left > 0 ? (int)left : 0);
                /* Acks may have released replay records: send those too. */
                if (!sink->eos)
                        alo_advance(sink);
                if (rd_kafka_outq_len(sink->rk) == 0)
                        return 0;
                if (now_ms() >= deadline)
                        return -1;
        }
}

int sink_take_delivery_failure(struct sink *sink)
{
        /* Only at_least_once sets it: exactly_once reports through sink_commit. */
        int failed = sink->fifo.failure_pending;

        sink->fifo.failure_pending = 0;
        return failed;
}

unsigned long long sink_errors(const struct sink *sink)
{
        return sink->errors;
}

int sink_kafka_down(const struct sink *sink)
{
        return sink->kafka_down;
}
