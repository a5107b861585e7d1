/*
 * at_least_once: an idempotent producer (acks=all) and a FIFO of batches.
 * A batch's replay records are produced only once its events and those of
 * every earlier batch were acknowledged, and the replay store follows the
 * replay records' own acks; a failed delivery stops its batch and every
 * later one from ever advancing the store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "log.h"
#include "sink_internal.h"

static long long alo_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the FIFO ---- */

static struct sink_batch *batch_at(struct sink *sink, size_t i)
{
        struct sink_fifo *fifo = &sink->fifo;

        return &fifo->ring[(fifo->head + i) % fifo->cap];
}

static struct sink_batch *batch_find(struct sink *sink, unsigned long long seq)
{
        unsigned long long first;

        if (sink->fifo.len == 0)
                return NULL;
        first = batch_at(sink, 0)->seq;
        if (seq < first || seq - first >= sink->fifo.len)
                return NULL;
        return batch_at(sink, (size_t)(seq - first));
}

static struct sink_batch *batch_open(struct sink *sink)
{
        if (!sink->fifo.open)
                return NULL;
        return batch_at(sink, sink->fifo.len - 1);
}

/* Append a batch to the FIFO; the slot's marks memory is reused. */
static struct sink_batch *batch_push(struct sink *sink)
{
        struct sink_fifo *fifo = &sink->fifo;
        struct sink_batch *batch;

        if (fifo->len == fifo->cap) {
                size_t cap = fifo->cap ? fifo->cap * 2 : 8;
                struct sink_batch *ring = calloc(cap, sizeof(*ring));
                size_t i;

                if (!ring)
                        return NULL;
                /* Move every slot, live or free, so no marks array is lost. */
                for (i = 0; i < fifo->cap; i++)
                        ring[i] = fifo->ring[(fifo->head + i) % fifo->cap];
                free(fifo->ring);
                fifo->ring = ring;
                fifo->cap = cap;
                fifo->head = 0;
        }
        batch = batch_at(sink, fifo->len++);
        batch->seq = ++fifo->next_seq;
        batch->state = BATCH_OPEN;
        batch->discarded = 0;
        batch->unacked = 0;
        batch->replay_unacked = 0;
        batch->marks.len = 0;
        fifo->open = 1;
        return batch;
}

static void batch_pop_done(struct sink *sink)
{
        struct sink_fifo *fifo = &sink->fifo;

        while (fifo->len > 0 && batch_at(sink, 0)->state == BATCH_DONE) {
                fifo->head = (fifo->head + 1) % fifo->cap;
                fifo->len--;
        }
}

/* Mark batch and every later one: their replay IDs must never be written. */
static void batch_discard_from(struct sink *sink, unsigned long long seq)
{
        size_t i;

        for (i = 0; i < sink->fifo.len; i++) {
                struct sink_batch *batch = batch_at(sink, i);

                if (batch->seq >= seq)
                        batch->discarded = 1;
        }
}

/* ---- the batch the caller fills ---- */

int alo_begin(struct sink *sink, char *errstr, size_t errstr_size)
{
        struct sink_batch *batch;

        if (sink->fifo.open)
                return SINK_OK;
        batch = batch_push(sink);
        if (!batch) {
                snprintf(errstr, errstr_size, "sink_begin: out of memory");
                return SINK_FATAL;
        }
        /* Events after an untaken failure must not advance the watermark. */
        batch->discarded = sink->fifo.failure_pending;
        return SINK_OK;
}

/* The open batch, or NULL with errstr (the status is SINK_FATAL). */
static struct sink_batch *alo_open_batch(struct sink *sink, const char *what, char *errstr,
                                         size_t errstr_size)
{
        struct sink_batch *batch = batch_open(sink);

        if (!batch)
                snprintf(errstr, errstr_size, "%s: no open batch (call sink_begin first)", what);
        return batch;
}

/* A record could not be queued: the batch's marks are dropped. */
static int alo_produce_failed(struct sink *sink, struct sink_batch *batch, rd_kafka_resp_err_t err,
                              const char *topic, char *errstr, size_t errstr_size)
{
        int status = sink_produce_failed(sink, err, topic, errstr, errstr_size);

        if (status == SINK_ABORTED)
                batch_discard_from(sink, batch->seq);
        return status;
}

int alo_produce(struct sink *sink, const struct router_record *rec, char *errstr,
                size_t errstr_size)
{
        struct sink_batch *batch = alo_open_batch(sink, "sink_produce", errstr, errstr_size);
        rd_kafka_resp_err_t err;

        if (!batch)
                return SINK_FATAL;
        err = sink_produce_record(sink, rec, sink_opaque(batch->seq, 0, MSG_EVENT));
        /* Refused before it was queued (too large, or its topic refused by
         * the last metadata lookup): the batch is untouched. */
        if (err && sink_poison_class(err))
                return sink_produce_poison(sink, err, rec->topic, rec->value_len, errstr,
                                           errstr_size);
        if (err)
                return alo_produce_failed(sink, batch, err, rec->topic, errstr, errstr_size);
        batch->unacked++;
        return SINK_OK;
}

int alo_dead_letter(struct sink *sink, const struct sink_dead_letter *dl, char *errstr,
                    size_t errstr_size)
{
        struct sink_batch *batch = alo_open_batch(sink, "sink_dead_letter", errstr, errstr_size);
        const char *topic = sink->cfg->kafka.dead_letter_topic;
        rd_kafka_resp_err_t err;

        if (!batch)
                return SINK_FATAL;
        err = sink_produce_dead(sink, dl, sink_opaque(batch->seq, 0, MSG_DEAD));
        if (err && sink_poison_class(err))
                return sink_produce_poison(sink, err, topic, dl->value_len, errstr, errstr_size);
        if (err)
                return alo_produce_failed(sink, batch, err, topic, errstr, errstr_size);
        batch->unacked++;
        return SINK_OK;
}

int alo_mark(struct sink *sink, const char *channel, long long replay_id, const char *event_time,
             char *errstr, size_t errstr_size)
{
        struct sink_batch *batch = alo_open_batch(sink, "sink_mark", errstr, errstr_size);

        if (!batch)
                return SINK_FATAL;
        return sink_marks_set(sink, &batch->marks, channel, replay_id, event_time, errstr,
                              errstr_size);
}

int alo_put_replay_topic(struct sink *sink, const char *what, const char *topic, const char *key,
                         size_t key_len, const char *value, size_t value_len, char *errstr,
                         size_t errstr_size)
{
        struct sink_batch *batch = alo_open_batch(sink, what, errstr, errstr_size);
        rd_kafka_resp_err_t err;

        if (!batch)
                return SINK_FATAL;
        err = sink_producev(sink, topic, RD_KAFKA_PARTITION_UA, key, key_len, value, value_len,
                            NULL, sink_opaque(batch->seq, 0, MSG_GAP));
        if (err)
                return alo_produce_failed(sink, batch, err, topic, errstr, errstr_size);
        return SINK_OK;
}

/* The caller is done with the batch: it joins the FIFO's queue for acks. */
int alo_commit(struct sink *sink)
{
        struct sink_batch *batch = batch_open(sink);

        if (batch) {
                batch->state = BATCH_CLOSED;
                batch->closed_ms = alo_now_ms(); /* one clock read per batch */
                sink->fifo.open = 0;
        }
        rd_kafka_poll(sink->rk, 0);
        alo_advance(sink);
        return SINK_OK;
}

int alo_abort(struct sink *sink)
{
        struct sink_batch *batch = batch_open(sink);

        if (batch) {
                batch->discarded = 1;
                batch->state = BATCH_CLOSED;
                batch->closed_ms = alo_now_ms();
                sink->fifo.open = 0;
                alo_advance(sink);
        }
        return SINK_OK;
}

/* ---- acknowledgements ---- */

/*
 * Move batches forward in FIFO order. A batch's replay records go out once
 * its events and those of every earlier batch were acknowledged;
 * replay_store_set() follows their own acks (alo_delivered).
 */
void alo_advance(struct sink *sink)
{
        size_t i;

        for (i = 0; i < sink->fifo.len; i++) {
                struct sink_batch *batch = batch_at(sink, i);

                if (batch->state == BATCH_OPEN)
                        break;
                if (batch->state == BATCH_CLOSED) {
                        rd_kafka_resp_err_t err;

                        if (batch->unacked > 0)
                                break;
                        if (batch->discarded || batch->marks.len == 0) {
                                /* Everything acknowledged, no position to write: taken all the same. */
                                if (!batch->discarded)
                                        sink->commits++;
                                batch->state = BATCH_DONE;
                                continue;
                        }
                        err = sink_produce_marks(sink, &batch->marks, batch->seq,
                                                 &batch->replay_unacked);
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

void alo_delivered(struct sink *sink, const rd_kafka_message_t *rkm, enum msg_kind kind,
                   unsigned long long seq, size_t idx)
{
        struct sink_batch *batch = batch_find(sink, seq);
        const struct sink_mark *mark;

        if (!batch)
                return;
        switch (kind) {
        case MSG_EVENT:
        case MSG_DEAD:
                if (batch->unacked > 0)
                        batch->unacked--;
                if (!rkm->err || sink_msg_purged(rkm) || batch->discarded)
                        break;
                log_msg(LOG_ERROR, "kafka_delivery_failed",
                        "topic=%s partition=%d batch=%llu err=\"%s\"",
                        rd_kafka_topic_name(rkm->rkt), (int)rkm->partition, seq,
                        rd_kafka_err2str(rkm->err));
                batch_discard_from(sink, seq);
                sink->fifo.failure_pending = 1;
                break;
        case MSG_REPLAY:
                if (batch->replay_unacked > 0)
                        batch->replay_unacked--;
                if (rkm->err || idx >= batch->marks.len)
                        break;
                mark = &batch->marks.list[idx];
                sink->commits++; /* a replay position reached Kafka */
                if (replay_store_set(sink->rs, sink->channels[mark->channel], mark->replay_id,
                                     mark->event_time))
                        log_msg(LOG_ERROR, "replay_store_set_failed", "channel=%s",
                                sink->channels[mark->channel]);
                break;
        case MSG_GAP:
                /* Audit records are not counted: they hold no batch back. */
                break;
        }
}
