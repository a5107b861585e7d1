/*
 * The Kafka producer side of the bridge. exactly_once wraps each batch in a
 * transaction that also carries the replay records of the channels it
 * touched; at_least_once keeps a FIFO of batches and writes a batch's replay
 * records only once it and every batch before it were acknowledged.
 * Delivery reports and errors are served by rd_kafka_poll() on the caller's
 * thread (sink_poll, sink_flush, sink_commit), never on librdkafka's threads.
 */
#include "sink_kafka.h"

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

/* How long sink_produce() waits for room when librdkafka's queue is full. */
#define SINK_QUEUE_FULL_WAIT_MS 5000
/* Abort timeout used where the API has none (sink_begin after a failed produce). */
#define SINK_ABORT_TIMEOUT_MS 10000
#define SINK_KEY_MAX          4096
/* How long the first sink_begin may wait to learn the replay topic's partitions. */
#define SINK_WARM_TIMEOUT_MS 1000

/*
 * A message's opaque says which batch it belongs to and what it is, so a
 * delivery report finds its batch without any allocation per message:
 * bits 0-1 the kind, bits 2-23 the mark index (replay records), bits 24-63
 * the batch sequence number.
 */
enum msg_kind { MSG_EVENT = 0, MSG_REPLAY = 1, MSG_GAP = 2 };
#define OPAQUE_SEQ_SHIFT 24
#define OPAQUE_IDX_MAX   ((1u << 22) - 1)
_Static_assert(sizeof(uintptr_t) >= 8, "the message opaque needs 64 bits");

struct sink_topic {
        char *name;
        rd_kafka_topic_t *rkt;
};

/* {entity} topics are created as events name them: beyond this many, a
 * produce goes by name rather than keep a handle (a bound, not a limit). */
#define SINK_MAX_TOPICS 4096

struct sink_mark {
        size_t channel; /* index into sink->channels */
        long long replay_id;
        char event_time[40];
};

enum batch_state {
        BATCH_OPEN,    /* between sink_begin and sink_commit */
        BATCH_CLOSED,  /* committed by the caller, events may be unacknowledged */
        BATCH_WRITING, /* at_least_once: its replay records are on their way */
        BATCH_DONE
};

struct sink_batch {
        unsigned long long seq;
        enum batch_state state;
        int discarded;           /* a delivery failed at or before it: never advance */
        size_t unacked;          /* events produced, not yet acknowledged */
        size_t replay_unacked;   /* replay records produced, not yet acknowledged */
        struct sink_mark *marks; /* kept across reuse of the slot */
        size_t nmarks;
        size_t marks_cap;
};

enum txn_state {
        TXN_NONE,
        TXN_OPEN,
        TXN_COMMITTING, /* replay records produced, commit_transaction not yet successful */
        TXN_MUST_ABORT  /* a produce failed or the commit was abortable */
};

struct sink {
        const struct config *cfg; /* borrowed */
        struct replay_store *rs;  /* borrowed */
        rd_kafka_t *rk;
        int eos; /* exactly_once */
        int started;
        enum txn_state txn;
        int fatal;
        char fatal_reason[1024];
        char txn_id[300];
        char abort_reason[512];

        /* Every channel ever marked, interned once: marks hold an index. */
        char **channels;
        size_t nchannels;
        size_t channels_cap;

        /* FIFO of batches, oldest at ring[head]; the newest may be open. */
        struct sink_batch *ring;
        size_t ring_cap;
        size_t ring_head;
        size_t ring_len;
        unsigned long long next_seq;
        int batch_open;

        int failure_pending; /* at_least_once: for sink_take_delivery_failure() */
        int kafka_down;      /* all brokers down since the last acknowledgement */
        size_t in_flight;
        unsigned long long errors;
        struct buf key;
        struct buf value;
        /* Topic handles, kept so their metadata stays known and so a
         * produce needs no lookup by name; the last one used is tried first. */
        struct sink_topic *topics;
        size_t ntopics;
        size_t topics_cap;
        size_t last_topic;
        int topics_warm;
        int replay_topic_warm;
};

static long long now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *opaque_make(unsigned long long seq, size_t idx, enum msg_kind kind)
{
        return (void *)(uintptr_t)(((uintptr_t)seq << OPAQUE_SEQ_SHIFT) | ((uintptr_t)idx << 2) |
                                   (uintptr_t)kind);
}

static struct sink_batch *batch_at(struct sink *sink, size_t i)
{
        return &sink->ring[(sink->ring_head + i) % sink->ring_cap];
}

static struct sink_batch *batch_find(struct sink *sink, unsigned long long seq)
{
        unsigned long long first;

        if (sink->ring_len == 0)
                return NULL;
        first = batch_at(sink, 0)->seq;
        if (seq < first || seq - first >= sink->ring_len)
                return NULL;
        return batch_at(sink, (size_t)(seq - first));
}

static struct sink_batch *batch_open(struct sink *sink)
{
        if (!sink->batch_open)
                return NULL;
        return batch_at(sink, sink->ring_len - 1);
}

/* Append a batch to the FIFO; the slot's marks memory is reused. */
static struct sink_batch *batch_push(struct sink *sink)
{
        struct sink_batch *batch;

        if (sink->ring_len == sink->ring_cap) {
                size_t cap = sink->ring_cap ? sink->ring_cap * 2 : 8;
                struct sink_batch *ring = calloc(cap, sizeof(*ring));
                size_t i;

                if (!ring)
                        return NULL;
                /* Move every slot, live or free, so no marks array is lost. */
                for (i = 0; i < sink->ring_cap; i++)
                        ring[i] = sink->ring[(sink->ring_head + i) % sink->ring_cap];
                free(sink->ring);
                sink->ring = ring;
                sink->ring_cap = cap;
                sink->ring_head = 0;
        }
        batch = batch_at(sink, sink->ring_len++);
        batch->seq = ++sink->next_seq;
        batch->state = BATCH_OPEN;
        batch->discarded = 0;
        batch->unacked = 0;
        batch->replay_unacked = 0;
        batch->nmarks = 0;
        sink->batch_open = 1;
        return batch;
}

static void batch_pop_done(struct sink *sink)
{
        while (sink->ring_len > 0 && batch_at(sink, 0)->state == BATCH_DONE) {
                sink->ring_head = (sink->ring_head + 1) % sink->ring_cap;
                sink->ring_len--;
        }
}

static int is_fenced(rd_kafka_resp_err_t err)
{
        return err == RD_KAFKA_RESP_ERR__FENCED || err == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
               err == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH;
}

/* Record a fatal producer error once; every later call reports it. */
static void sink_set_fatal(struct sink *sink, rd_kafka_resp_err_t err, const char *what)
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
        if (is_fenced(ferr) || is_fenced(err))
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

static int sink_fatal_status(struct sink *sink, char *errstr, size_t errstr_size)
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

/* Kafka answered: end an outage reported by sink_error_cb. */
static void sink_kafka_up(struct sink *sink)
{
        if (!sink->kafka_down)
                return;
        sink->kafka_down = 0;
        log_msg(LOG_INFO, "kafka_recovered", "cause=all_brokers_down");
}

/* Mark batch and every later one: their replay IDs must never be written. */
static void sink_discard_from(struct sink *sink, unsigned long long seq)
{
        size_t i;

        for (i = 0; i < sink->ring_len; i++) {
                struct sink_batch *batch = batch_at(sink, i);

                if (batch->seq >= seq)
                        batch->discarded = 1;
        }
}

static void sink_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
        struct sink *sink = opaque;
        uintptr_t op = (uintptr_t)rkm->_private;
        enum msg_kind kind = (enum msg_kind)(op & 3);
        size_t idx = (size_t)((op >> 2) & OPAQUE_IDX_MAX);
        unsigned long long seq = (unsigned long long)(op >> OPAQUE_SEQ_SHIFT);
        struct sink_batch *batch = batch_find(sink, seq);
        int purged = rkm->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
                     rkm->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT;

        (void)rk;
        /* An abort purges the transaction's messages: expected, not an error. */
        if (rkm->err && !purged)
                sink->errors++;
        if (!rkm->err)
                sink_kafka_up(sink);

        switch (kind) {
        case MSG_EVENT:
                if (sink->in_flight > 0)
                        sink->in_flight--;
                if (batch && batch->unacked > 0)
                        batch->unacked--;
                if (!rkm->err || purged || sink->eos)
                        break; /* exactly_once: the commit reports the failure */
                if (batch && !batch->discarded) {
                        log_msg(LOG_ERROR, "kafka_delivery_failed",
                                "topic=%s partition=%d batch=%llu err=\"%s\"",
                                rd_kafka_topic_name(rkm->rkt), (int)rkm->partition, seq,
                                rd_kafka_err2str(rkm->err));
                        sink_discard_from(sink, seq);
                        sink->failure_pending = 1;
                }
                break;
        case MSG_REPLAY:
                if (rkm->err) {
                        if (!purged)
                                log_msg(LOG_WARN, "replay_record_failed", "topic=%s err=\"%s\"",
                                        rd_kafka_topic_name(rkm->rkt), rd_kafka_err2str(rkm->err));
                        if (batch && batch->replay_unacked > 0)
                                batch->replay_unacked--;
                        break;
                }
                if (sink->eos || !batch)
                        break; /* exactly_once: the store is updated after the commit */
                if (batch->replay_unacked > 0)
                        batch->replay_unacked--;
                if (idx < batch->nmarks) {
                        const struct sink_mark *mark = &batch->marks[idx];

                        if (replay_store_set(sink->rs, sink->channels[mark->channel],
                                             mark->replay_id, mark->event_time))
                                log_msg(LOG_ERROR, "replay_store_set_failed", "channel=%s",
                                        sink->channels[mark->channel]);
                }
                break;
        case MSG_GAP:
                if (rkm->err && !purged)
                        log_msg(LOG_WARN, "gap_record_failed", "topic=%s err=\"%s\"",
                                rd_kafka_topic_name(rkm->rkt), rd_kafka_err2str(rkm->err));
                break;
        }
}

/* ---- construction ---- */

/* Properties that decide the delivery guarantee are sfbridge's to set. */
static int check_managed_property(const struct config_property *prop, char *errstr,
                                  size_t errstr_size)
{
        if (!strcmp(prop->name, "transactional.id")) {
                snprintf(errstr, errstr_size,
                         "kafka.properties: transactional.id: set by sfbridge from name "
                         "(\"sfbridge-<name>\"); remove it");
                return -1;
        }
        if (!strcmp(prop->name, "enable.idempotence") && strcasecmp(prop->value, "true")) {
                snprintf(errstr, errstr_size,
                         "kafka.properties: enable.idempotence: must stay true (both delivery "
                         "modes need it)");
                return -1;
        }
        if ((!strcmp(prop->name, "acks") || !strcmp(prop->name, "request.required.acks")) &&
            strcasecmp(prop->value, "all") && strcmp(prop->value, "-1")) {
                snprintf(errstr, errstr_size, "kafka.properties: %s: must be all (or -1)",
                         prop->name);
                return -1;
        }
        return 0;
}

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
        snprintf(sink->txn_id, sizeof(sink->txn_id), "sfbridge-%s",
                 cfg->name ? cfg->name : "sfbridge");
        if (!cfg->kafka.replay_topic) {
                snprintf(errstr, errstr_size, "kafka.replay_topic: missing");
                goto fail;
        }

        for (i = 0; i < cfg->kafka.nproperties; i++)
                if (check_managed_property(&cfg->kafka.properties[i], errstr, errstr_size))
                        goto fail;
        conf = kafka_conf_new(cfg, KAFKA_CONF_PRODUCER, errstr, errstr_size);
        if (!conf)
                goto fail;
        if (sink->eos && kafka_conf_set(conf, "sfbridge", "transactional.id", sink->txn_id,
                                        errstr, errstr_size))
                goto fail;
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
        for (i = 0; i < sink->ring_cap; i++)
                free(sink->ring[i].marks);
        free(sink->ring);
        buf_free(&sink->key);
        buf_free(&sink->value);
        free(sink);
}

/* ---- transactions ---- */

/* Drop the open/committing exactly_once batch after commit or abort. */
static void sink_eos_batch_end(struct sink *sink)
{
        struct sink_batch *batch = batch_open(sink);

        if (batch)
                batch->state = BATCH_DONE;
        sink->batch_open = 0;
        sink->txn = TXN_NONE;
        batch_pop_done(sink);
}

static int sink_txn_abort(struct sink *sink, int timeout_ms, char *errstr, size_t errstr_size)
{
        rd_kafka_error_t *error = rd_kafka_abort_transaction(sink->rk, timeout_ms);
        int status;

        if (!error) {
                sink_eos_batch_end(sink);
                return SINK_OK;
        }
        sink->errors++;
        sink->txn = TXN_MUST_ABORT;
        if (rd_kafka_error_is_fatal(error) || is_fenced(rd_kafka_error_code(error))) {
                sink_set_fatal(sink, rd_kafka_error_code(error), "abort_transaction");
                status = sink_fatal_status(sink, errstr, errstr_size);
        } else if (rd_kafka_error_is_retriable(error)) {
                snprintf(errstr, errstr_size, "abort_transaction: %s (will retry)",
                         rd_kafka_error_string(error));
                status = SINK_RETRY;
        } else {
                /* librdkafka: treat errors neither retriable nor abortable as fatal. */
                sink_set_fatal(sink, rd_kafka_error_code(error), "abort_transaction");
                status = sink_fatal_status(sink, errstr, errstr_size);
        }
        rd_kafka_error_destroy(error);
        return status;
}

/* Abort now because of reason; SINK_ABORTED once done. */
static int sink_abort_batch(struct sink *sink, int timeout_ms, char *errstr, size_t errstr_size)
{
        int status = sink_txn_abort(sink, timeout_ms, errstr, errstr_size);

        if (status != SINK_OK)
                return status;
        snprintf(errstr, errstr_size, "batch aborted: %s", sink->abort_reason);
        return SINK_ABORTED;
}

/* Classify an error of a transactional call (librdkafka's examples/transactions.c). */
static int sink_txn_error(struct sink *sink, rd_kafka_error_t *error, const char *what,
                          int timeout_ms, char *errstr, size_t errstr_size)
{
        rd_kafka_resp_err_t code = rd_kafka_error_code(error);
        int status;

        sink->errors++;
        if (rd_kafka_error_is_fatal(error) || is_fenced(code)) {
                sink_set_fatal(sink, code, what);
                status = sink_fatal_status(sink, errstr, errstr_size);
        } else if (rd_kafka_error_txn_requires_abort(error)) {
                snprintf(sink->abort_reason, sizeof(sink->abort_reason), "%s: %s", what,
                         rd_kafka_error_string(error));
                log_msg(LOG_WARN, "kafka_txn_abort", "err=\"%s\"", sink->abort_reason);
                sink->txn = TXN_MUST_ABORT;
                status = sink_abort_batch(sink, timeout_ms, errstr, errstr_size);
        } else if (rd_kafka_error_is_retriable(error)) {
                snprintf(errstr, errstr_size, "%s: %s (retriable; batch kept)", what,
                         rd_kafka_error_string(error));
                status = SINK_RETRY;
        } else {
                sink_set_fatal(sink, code, what);
                status = sink_fatal_status(sink, errstr, errstr_size);
        }
        rd_kafka_error_destroy(error);
        return status;
}

/* The handle of topic, made on first use; NULL past SINK_MAX_TOPICS or out of memory. */
static rd_kafka_topic_t *sink_keep_topic(struct sink *sink, const char *topic)
{
        struct sink_topic *st;
        size_t i;

        if (sink->last_topic < sink->ntopics && !strcmp(sink->topics[sink->last_topic].name, topic))
                return sink->topics[sink->last_topic].rkt;
        for (i = 0; i < sink->ntopics; i++) {
                if (!strcmp(sink->topics[i].name, topic)) {
                        sink->last_topic = i;
                        return sink->topics[i].rkt;
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
        st->rkt = st->name ? rd_kafka_topic_new(sink->rk, topic, NULL) : NULL;
        if (!st->rkt) {
                free(st->name);
                return NULL;
        }
        sink->last_topic = sink->ntopics++;
        return st->rkt;
}

/* Ask for the partitions of every topic kept so far, in one request. Best effort. */
static void sink_learn_topics(struct sink *sink, int timeout_ms)
{
        const struct rd_kafka_metadata *md;

        /* all_topics=0: only the topics this handle knows. */
        if (rd_kafka_metadata(sink->rk, 0, NULL, &md, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR)
                rd_kafka_metadata_destroy(md);
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
                sink_learn_topics(sink, timeout_ms);
}

int sink_start(struct sink *sink, int timeout_ms, char *errstr, size_t errstr_size)
{
        rd_kafka_error_t *error;

        if (sink->fatal)
                return sink_fatal_status(sink, errstr, errstr_size);
        if (sink->started)
                return SINK_OK;
        if (!sink->eos) {
                sink_warm_route_topics(sink, timeout_ms);
                sink->started = 1;
                return SINK_OK;
        }
        /* Fences any older producer with our transactional.id and aborts its open transaction. */
        error = rd_kafka_init_transactions(sink->rk, timeout_ms);
        if (error)
                return sink_txn_error(sink, error, "init_transactions", timeout_ms, errstr,
                                      errstr_size);
        sink->started = 1;
        sink_kafka_up(sink);
        log_msg(LOG_INFO, "kafka_transactions_ready", "transactional_id=%s", sink->txn_id);
        sink_warm_route_topics(sink, timeout_ms);
        return SINK_OK;
}

int sink_begin(struct sink *sink, char *errstr, size_t errstr_size)
{
        rd_kafka_error_t *error;

        if (sink->fatal)
                return sink_fatal_status(sink, errstr, errstr_size);
        if (!sink->started) {
                snprintf(errstr, errstr_size, "sink_begin: sink_start has not succeeded");
                return SINK_FATAL;
        }
        if (!sink->replay_topic_warm && sink->topics_warm) {
                sink->replay_topic_warm = 1;
                sink_keep_topic(sink, sink->cfg->kafka.replay_topic);
                sink_learn_topics(sink, SINK_WARM_TIMEOUT_MS);
        }
        if (sink->eos) {
                if (sink->txn == TXN_MUST_ABORT) {
                        int status =
                            sink_txn_abort(sink, SINK_ABORT_TIMEOUT_MS, errstr, errstr_size);
                        if (status != SINK_OK)
                                return status;
                }
                if (sink->txn == TXN_OPEN)
                        return SINK_OK;
                if (sink->txn == TXN_COMMITTING) {
                        snprintf(errstr, errstr_size,
                                 "sink_begin: the previous batch is not committed "
                                 "(call sink_commit until it returns SINK_OK)");
                        return SINK_FATAL;
                }
        } else if (sink->batch_open) {
                return SINK_OK;
        }
        if (!batch_push(sink)) {
                snprintf(errstr, errstr_size, "sink_begin: out of memory");
                return SINK_FATAL;
        }
        if (!sink->eos) {
                /* Events after an untaken failure must not advance the watermark. */
                batch_open(sink)->discarded = sink->failure_pending;
                return SINK_OK;
        }
        error = rd_kafka_begin_transaction(sink->rk);
        if (error) {
                batch_open(sink)->state = BATCH_DONE;
                sink->batch_open = 0;
                batch_pop_done(sink);
                return sink_txn_error(sink, error, "begin_transaction", SINK_ABORT_TIMEOUT_MS,
                                      errstr, errstr_size);
        }
        sink->txn = TXN_OPEN;
        sink->abort_reason[0] = '\0';
        return SINK_OK;
}

/*
 * Produce, waiting a bounded time for room when the local queue is full.
 * Values are copied (RD_KAFKA_MSG_F_COPY): they point into the Salesforce
 * response, which is reused for the next one. Ownership of hdrs passes only
 * on success.
 */
static rd_kafka_resp_err_t sink_producev(struct sink *sink, const char *topic, const void *key,
                                         size_t key_len, const void *value, size_t value_len,
                                         rd_kafka_headers_t *hdrs, void *opaque)
{
        long long deadline = 0;
        rd_kafka_topic_t *rkt = sink_keep_topic(sink, topic);
        rd_kafka_resp_err_t err;

        for (;;) {
                /* librdkafka only reads the value (F_COPY) and the headers
                 * argument must be omitted, not NULL, when there are none. */
                if (rkt && hdrs)
                        err = rd_kafka_producev(
                            sink->rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_KEY(key, key_len),
                            RD_KAFKA_V_VALUE((void *)value, value_len),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
                            RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
                else if (rkt)
                        err = rd_kafka_producev(
                            sink->rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_KEY(key, key_len),
                            RD_KAFKA_V_VALUE((void *)value, value_len),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(opaque),
                            RD_KAFKA_V_END);
                else if (hdrs)
                        err = rd_kafka_producev(
                            sink->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key_len),
                            RD_KAFKA_V_VALUE((void *)value, value_len),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
                            RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
                else
                        err = rd_kafka_producev(
                            sink->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key_len),
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

/* A record could not be queued: the batch cannot be completed. */
static int sink_produce_failed(struct sink *sink, struct sink_batch *batch, rd_kafka_resp_err_t err,
                               const char *topic, char *errstr, size_t errstr_size)
{
        sink->errors++;
        if (err == RD_KAFKA_RESP_ERR__FATAL) {
                sink_set_fatal(sink, err, "produce");
                return sink_fatal_status(sink, errstr, errstr_size);
        }
        snprintf(errstr, errstr_size, "produce to %s: %s; the batch is aborted", topic,
                 rd_kafka_err2str(err));
        if (sink->eos) {
                /* The abort itself happens in the next sink_begin/commit/abort. */
                snprintf(sink->abort_reason, sizeof(sink->abort_reason), "produce to %s: %s", topic,
                         rd_kafka_err2str(err));
                sink->txn = TXN_MUST_ABORT;
        } else if (batch) {
                sink_discard_from(sink, batch->seq);
        }
        log_msg(LOG_WARN, "kafka_produce_failed", "topic=%s err=\"%s\"", topic,
                rd_kafka_err2str(err));
        return SINK_ABORTED;
}

/* The open batch, or a status explaining why there is none. */
static struct sink_batch *sink_open_batch(struct sink *sink, int *status, char *errstr,
                                          size_t errstr_size, const char *what)
{
        if (sink->fatal) {
                *status = sink_fatal_status(sink, errstr, errstr_size);
                return NULL;
        }
        if (sink->eos && sink->txn == TXN_MUST_ABORT) {
                snprintf(errstr, errstr_size, "%s: the batch is being aborted: %s", what,
                         sink->abort_reason);
                *status = SINK_ABORTED;
                return NULL;
        }
        if (sink->eos && sink->txn == TXN_COMMITTING) {
                snprintf(
                    errstr, errstr_size,
                    "%s: the batch is being committed (call sink_commit until it returns SINK_OK)",
                    what);
                *status = SINK_FATAL;
                return NULL;
        }
        if (!sink->batch_open || (sink->eos && sink->txn != TXN_OPEN)) {
                snprintf(errstr, errstr_size, "%s: no open batch (call sink_begin first)", what);
                *status = SINK_FATAL;
                return NULL;
        }
        return batch_open(sink);
}

int sink_produce(struct sink *sink, const struct router_record *rec, char *errstr,
                 size_t errstr_size)
{
        struct sink_batch *batch;
        rd_kafka_headers_t *hdrs = NULL;
        rd_kafka_resp_err_t err;
        int status = SINK_OK;
        size_t i;

        batch = sink_open_batch(sink, &status, errstr, errstr_size, "sink_produce");
        if (!batch)
                return status;
        if (rec->nheaders > 0) {
                hdrs = rd_kafka_headers_new(rec->nheaders);
                for (i = 0; i < rec->nheaders; i++)
                        rd_kafka_header_add(hdrs, rec->headers[i].name, -1, rec->headers[i].value,
                                            (ssize_t)rec->headers[i].value_len);
        }
        err = sink_producev(sink, rec->topic, rec->key, rec->key ? rec->key_len : 0, rec->value,
                            rec->value_len, hdrs, opaque_make(batch->seq, 0, MSG_EVENT));
        if (err) {
                if (hdrs)
                        rd_kafka_headers_destroy(hdrs);
                return sink_produce_failed(sink, batch, err, rec->topic, errstr, errstr_size);
        }
        batch->unacked++;
        sink->in_flight++;
        return SINK_OK;
}

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

int sink_mark(struct sink *sink, const char *channel, long long replay_id, const char *event_time,
              char *errstr, size_t errstr_size)
{
        struct sink_batch *batch;
        struct sink_mark *mark = NULL;
        int status = SINK_OK;
        long ch;
        size_t i;

        batch = sink_open_batch(sink, &status, errstr, errstr_size, "sink_mark");
        if (!batch)
                return status;
        ch = sink_channel(sink, channel);
        if (ch < 0) {
                snprintf(errstr, errstr_size, "sink_mark: out of memory");
                return SINK_FATAL;
        }
        for (i = 0; i < batch->nmarks; i++)
                if (batch->marks[i].channel == (size_t)ch)
                        mark = &batch->marks[i];
        if (!mark) {
                if (batch->nmarks == batch->marks_cap) {
                        size_t cap = batch->marks_cap ? batch->marks_cap * 2 : 8;
                        struct sink_mark *marks;

                        if (cap > OPAQUE_IDX_MAX + 1) {
                                snprintf(errstr, errstr_size, "sink_mark: too many channels");
                                return SINK_FATAL;
                        }
                        marks = realloc(batch->marks, cap * sizeof(*marks));
                        if (!marks) {
                                snprintf(errstr, errstr_size, "sink_mark: out of memory");
                                return SINK_FATAL;
                        }
                        batch->marks = marks;
                        batch->marks_cap = cap;
                }
                mark = &batch->marks[batch->nmarks++];
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

/* One audit record (gap, owner claim) to replay_topic in the open batch. */
static int sink_put_replay_topic(struct sink *sink, const char *what, const char *key,
                                 size_t key_len, const char *value, size_t value_len,
                                 char *errstr, size_t errstr_size)
{
        const char *topic = sink->cfg->kafka.replay_topic;
        struct sink_batch *batch;
        rd_kafka_resp_err_t err;
        int status = SINK_OK;

        batch = sink_open_batch(sink, &status, errstr, errstr_size, what);
        if (!batch)
                return status;
        err = sink_producev(sink, topic, key, key_len, value, value_len, NULL,
                            opaque_make(batch->seq, 0, MSG_GAP));
        if (err)
                return sink_produce_failed(sink, batch, err, topic, errstr, errstr_size);
        return SINK_OK;
}

int sink_gap(struct sink *sink, const char *channel, long long last_committed, const char *policy,
             char *errstr, size_t errstr_size)
{
        char at[40];

        replay_now_rfc3339(at, sizeof(at));
        if (replay_gap_encode(sink->cfg->name, channel, last_committed, policy, at, &sink->key,
                              &sink->value)) {
                snprintf(errstr, errstr_size, "sink_gap: record too large");
                return SINK_FATAL;
        }
        return sink_put_replay_topic(sink, "sink_gap", sink->key.data, sink->key.len,
                                     sink->value.data, sink->value.len, errstr, errstr_size);
}

int sink_put_record(struct sink *sink, const char *key, size_t key_len, const char *value,
                    size_t value_len, char *errstr, size_t errstr_size)
{
        return sink_put_replay_topic(sink, "sink_put_record", key, key_len, value, value_len,
                                     errstr, errstr_size);
}

/* Produce the replay records of batch's marks. @returns 0 or the failed err. */
static rd_kafka_resp_err_t sink_produce_marks(struct sink *sink, struct sink_batch *batch)
{
        const char *topic = sink->cfg->kafka.replay_topic;
        rd_kafka_resp_err_t err;
        char now[40];
        size_t i;

        replay_now_rfc3339(now, sizeof(now));
        for (i = 0; i < batch->nmarks; i++) {
                const struct sink_mark *mark = &batch->marks[i];

                if (replay_record_encode(sink->cfg->name, sink->channels[mark->channel],
                                         mark->replay_id, mark->event_time, now, &sink->key,
                                         &sink->value))
                        return RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE;
                err = sink_producev(sink, topic, sink->key.data, sink->key.len, sink->value.data,
                                    sink->value.len, NULL, opaque_make(batch->seq, i, MSG_REPLAY));
                if (err)
                        return err;
                batch->replay_unacked++;
        }
        return RD_KAFKA_RESP_ERR_NO_ERROR;
}

/*
 * at_least_once: move batches forward in FIFO order. A batch's replay
 * records go out once its events and those of every earlier batch were
 * acknowledged; replay_store_set() follows their own acks (sink_dr_cb).
 */
static void sink_advance(struct sink *sink)
{
        size_t i;

        if (sink->eos)
                return;
        for (i = 0; i < sink->ring_len; i++) {
                struct sink_batch *batch = batch_at(sink, i);

                if (batch->state == BATCH_OPEN)
                        break;
                if (batch->state == BATCH_CLOSED) {
                        rd_kafka_resp_err_t err;

                        if (batch->unacked > 0)
                                break;
                        if (batch->discarded || batch->nmarks == 0) {
                                batch->state = BATCH_DONE;
                                continue;
                        }
                        err = sink_produce_marks(sink, batch);
                        if (err) {
                                sink->errors++;
                                log_msg(LOG_WARN, "replay_record_failed", "topic=%s err=\"%s\"",
                                        sink->cfg->kafka.replay_topic, rd_kafka_err2str(err));
                        }
                        batch->state = BATCH_WRITING;
                }
                if (batch->state == BATCH_WRITING && batch->replay_unacked == 0)
                        batch->state = BATCH_DONE;
        }
        batch_pop_done(sink);
}

int sink_commit(struct sink *sink, int timeout_ms, char *errstr, size_t errstr_size)
{
        struct sink_batch *batch;
        rd_kafka_error_t *error;
        rd_kafka_resp_err_t err;
        size_t i;

        if (sink->fatal)
                return sink_fatal_status(sink, errstr, errstr_size);
        if (!sink->eos) {
                batch = batch_open(sink);
                if (batch) {
                        batch->state = BATCH_CLOSED;
                        sink->batch_open = 0;
                }
                rd_kafka_poll(sink->rk, 0);
                sink_advance(sink);
                return SINK_OK;
        }

        if (sink->txn == TXN_NONE)
                return SINK_OK;
        if (sink->txn == TXN_MUST_ABORT)
                return sink_abort_batch(sink, timeout_ms, errstr, errstr_size);
        batch = batch_open(sink);
        if (sink->txn == TXN_OPEN) {
                /* The replay records ride in the same transaction as the events. */
                err = sink_produce_marks(sink, batch);
                if (err) {
                        int status = sink_produce_failed(
                            sink, batch, err, sink->cfg->kafka.replay_topic, errstr, errstr_size);
                        if (status != SINK_ABORTED)
                                return status;
                        return sink_abort_batch(sink, timeout_ms, errstr, errstr_size);
                }
                sink->txn = TXN_COMMITTING;
        }
        error = rd_kafka_commit_transaction(sink->rk, timeout_ms);
        if (error)
                return sink_txn_error(sink, error, "commit_transaction", timeout_ms, errstr,
                                      errstr_size);
        sink_kafka_up(sink);
        for (i = 0; i < batch->nmarks; i++) {
                const struct sink_mark *mark = &batch->marks[i];

                if (replay_store_set(sink->rs, sink->channels[mark->channel], mark->replay_id,
                                     mark->event_time)) {
                        snprintf(errstr, errstr_size, "replay store: out of memory");
                        sink_eos_batch_end(sink);
                        return SINK_FATAL;
                }
        }
        sink_eos_batch_end(sink);
        return SINK_OK;
}

int sink_abort(struct sink *sink, int timeout_ms, char *errstr, size_t errstr_size)
{
        struct sink_batch *batch;

        if (sink->fatal)
                return sink_fatal_status(sink, errstr, errstr_size);
        if (!sink->eos) {
                batch = batch_open(sink);
                if (batch) {
                        batch->discarded = 1;
                        batch->state = BATCH_CLOSED;
                        sink->batch_open = 0;
                        sink_advance(sink);
                }
                return SINK_OK;
        }
        if (sink->txn == TXN_NONE)
                return SINK_OK;
        return sink_txn_abort(sink, timeout_ms, errstr, errstr_size);
}

void sink_poll(struct sink *sink)
{
        rd_kafka_poll(sink->rk, 0);
        sink_advance(sink);
}

size_t sink_in_flight(const struct sink *sink)
{
        return sink->in_flight;
}

int sink_flush(struct sink *sink, int timeout_ms)
{
        long long deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);

        for (;;) {
                long long left = deadline - now_ms();

                rd_kafka_flush(sink->rk, left > 0 ? (int)left : 0);
                /* Acks may have released replay records: send those too. */
                sink_advance(sink);
                if (rd_kafka_outq_len(sink->rk) == 0)
                        return 0;
                if (now_ms() >= deadline)
                        return -1;
        }
}

int sink_take_delivery_failure(struct sink *sink)
{
        int failed = sink->failure_pending;

        sink->failure_pending = 0;
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
