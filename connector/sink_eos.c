/*
 * exactly_once: one Kafka transaction per batch holds the batch's events,
 * its gap records and, produced at commit, the replay records of the
 * channels it touched; the replay store follows only once the commit
 * succeeded. Errors are classified as librdkafka's examples/transactions.c
 * does: fatal (or fenced), abortable, retriable.
 */
#include <stdio.h>

#include <librdkafka/rdkafka.h>

#include "log.h"
#include "sink_internal.h"

/* Abort timeout used where the API has none (sink_begin after a failed produce). */
#define SINK_ABORT_TIMEOUT_MS 10000

static int eos_txn_abort(struct sink *sink, int timeout_ms, char *errstr, size_t errstr_size)
{
        rd_kafka_error_t *error = rd_kafka_abort_transaction(sink->rk, timeout_ms);
        int status;

        /* Aborted or given up: its records will never commit, and the
         * in-flight event count follows them out of librdkafka. */
        sink->in_flight_bytes = 0;
        if (!error) {
                sink->txn.state = TXN_NONE;
                return SINK_OK;
        }
        sink->errors++;
        sink->txn.state = TXN_MUST_ABORT;
        if (rd_kafka_error_is_fatal(error) || sink_is_fenced(rd_kafka_error_code(error))) {
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

/* Abort now because of sink->txn.abort_reason; SINK_ABORTED once done. */
static int eos_abort_batch(struct sink *sink, int timeout_ms, char *errstr, size_t errstr_size)
{
        int status = eos_txn_abort(sink, timeout_ms, errstr, errstr_size);

        if (status != SINK_OK)
                return status;
        snprintf(errstr, errstr_size, "batch aborted: %s", sink->txn.abort_reason);
        return SINK_ABORTED;
}

/* Classify an error of a transactional call (librdkafka's examples/transactions.c). */
static int eos_txn_error(struct sink *sink, rd_kafka_error_t *error, const char *what,
                         int timeout_ms, char *errstr, size_t errstr_size)
{
        rd_kafka_resp_err_t code = rd_kafka_error_code(error);
        int status;

        sink->errors++;
        if (rd_kafka_error_is_fatal(error) || sink_is_fenced(code)) {
                sink_set_fatal(sink, code, what);
                status = sink_fatal_status(sink, errstr, errstr_size);
        } else if (rd_kafka_error_txn_requires_abort(error)) {
                snprintf(sink->txn.abort_reason, sizeof(sink->txn.abort_reason), "%s: %s", what,
                         rd_kafka_error_string(error));
                log_msg(LOG_WARN, "kafka_txn_abort", "err=\"%s\"", sink->txn.abort_reason);
                sink->txn.state = TXN_MUST_ABORT;
                status = eos_abort_batch(sink, timeout_ms, errstr, errstr_size);
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

int eos_init(struct sink *sink, int timeout_ms, char *errstr, size_t errstr_size)
{
        rd_kafka_error_t *error;

        /* Fences any older producer with our transactional.id and aborts its open transaction. */
        error = rd_kafka_init_transactions(sink->rk, timeout_ms);
        if (error)
                return eos_txn_error(sink, error, "init_transactions", timeout_ms, errstr,
                                     errstr_size);
        sink_kafka_up(sink);
        log_msg(LOG_INFO, "kafka_transactions_ready", "transactional_id=%s", sink->txn_id);
        return SINK_OK;
}

int eos_begin(struct sink *sink, char *errstr, size_t errstr_size)
{
        rd_kafka_error_t *error;

        if (sink->txn.state == TXN_MUST_ABORT) {
                int status = eos_txn_abort(sink, SINK_ABORT_TIMEOUT_MS, errstr, errstr_size);
                if (status != SINK_OK)
                        return status;
        }
        if (sink->txn.state == TXN_OPEN)
                return SINK_OK;
        if (sink->txn.state == TXN_COMMITTING) {
                snprintf(errstr, errstr_size,
                         "sink_begin: the previous batch is not committed "
                         "(call sink_commit until it returns SINK_OK)");
                return SINK_FATAL;
        }
        error = rd_kafka_begin_transaction(sink->rk);
        if (error)
                return eos_txn_error(sink, error, "begin_transaction", SINK_ABORT_TIMEOUT_MS,
                                     errstr, errstr_size);
        sink->txn.state = TXN_OPEN;
        sink->txn.marks.len = 0;
        sink->txn.abort_reason[0] = '\0';
        return SINK_OK;
}

/* SINK_OK when a transaction is open for what, else the status explaining why not. */
static int eos_check_open(struct sink *sink, const char *what, char *errstr, size_t errstr_size)
{
        if (sink->txn.state == TXN_MUST_ABORT) {
                snprintf(errstr, errstr_size, "%s: the batch is being aborted: %s", what,
                         sink->txn.abort_reason);
                return SINK_ABORTED;
        }
        if (sink->txn.state == TXN_COMMITTING) {
                snprintf(
                    errstr, errstr_size,
                    "%s: the batch is being committed (call sink_commit until it returns SINK_OK)",
                    what);
                return SINK_FATAL;
        }
        if (sink->txn.state != TXN_OPEN) {
                snprintf(errstr, errstr_size, "%s: no open batch (call sink_begin first)", what);
                return SINK_FATAL;
        }
        return SINK_OK;
}

/* A record could not be queued: the transaction must be aborted. */
static int eos_produce_failed(struct sink *sink, rd_kafka_resp_err_t err, const char *topic,
                              char *errstr, size_t errstr_size)
{
        int status = sink_produce_failed(sink, err, topic, errstr, errstr_size);

        if (status == SINK_ABORTED) {
                /* The abort itself happens in the next sink_begin/commit/abort. */
                snprintf(sink->txn.abort_reason, sizeof(sink->txn.abort_reason),
                         "produce to %s: %s", topic, rd_kafka_err2str(err));
                sink->txn.state = TXN_MUST_ABORT;
                sink->in_flight_bytes = 0; /* given up: see eos_txn_abort */
        }
        return status;
}

int eos_produce(struct sink *sink, const struct router_record *rec, char *errstr,
                size_t errstr_size)
{
        int status = eos_check_open(sink, "sink_produce", errstr, errstr_size);
        rd_kafka_resp_err_t err;

        if (status != SINK_OK)
                return status;
        err = sink_produce_record(sink, rec, sink_opaque(0, 0, MSG_EVENT));
        /* Refused before it was queued (too large, or its topic refused by
         * the last metadata lookup): the transaction is untouched. */
        if (err && sink_poison_class(err))
                return sink_produce_poison(sink, err, rec->topic, rec->value_len, errstr,
                                           errstr_size);
        if (err)
                return eos_produce_failed(sink, err, rec->topic, errstr, errstr_size);
        return SINK_OK;
}

int eos_dead_letter(struct sink *sink, const struct sink_dead_letter *dl, char *errstr,
                    size_t errstr_size)
{
        int status = eos_check_open(sink, "sink_dead_letter", errstr, errstr_size);
        const char *topic = sink->cfg->kafka.dead_letter_topic;
        rd_kafka_resp_err_t err;

        if (status != SINK_OK)
                return status;
        err = sink_produce_dead(sink, dl, sink_opaque(0, 0, MSG_DEAD));
        if (err && sink_poison_class(err))
                return sink_produce_poison(sink, err, topic, dl->value_len, errstr, errstr_size);
        if (err)
                return eos_produce_failed(sink, err, topic, errstr, errstr_size);
        return SINK_OK;
}

int eos_mark(struct sink *sink, const char *channel, long long replay_id, const char *event_time,
             char *errstr, size_t errstr_size)
{
        int status = eos_check_open(sink, "sink_mark", errstr, errstr_size);

        if (status != SINK_OK)
                return status;
        return sink_marks_set(sink, &sink->txn.marks, channel, replay_id, event_time, errstr,
                              errstr_size);
}

int eos_put_replay_topic(struct sink *sink, const char *what, const char *topic, const char *key,
                         size_t key_len, const char *value, size_t value_len, char *errstr,
                         size_t errstr_size)
{
        int status = eos_check_open(sink, what, errstr, errstr_size);
        rd_kafka_resp_err_t err;

        if (status != SINK_OK)
                return status;
        err = sink_producev(sink, topic, RD_KAFKA_PARTITION_UA, key, key_len, value, value_len,
                            NULL, sink_opaque(0, 0, MSG_GAP));
        if (err)
                return eos_produce_failed(sink, err, topic, errstr, errstr_size);
        return SINK_OK;
}

int eos_commit(struct sink *sink, int timeout_ms, char *errstr, size_t errstr_size)
{
        const struct sink_marks *marks = &sink->txn.marks;
        rd_kafka_error_t *error;
        rd_kafka_resp_err_t err;
        size_t i;

        if (sink->txn.state == TXN_NONE)
                return SINK_OK;
        if (sink->txn.state == TXN_MUST_ABORT)
                return eos_abort_batch(sink, timeout_ms, errstr, errstr_size);
        if (sink->txn.state == TXN_OPEN) {
                /* The replay records ride in the same transaction as the events. */
                err = sink_produce_marks(sink, marks, 0, NULL);
                if (err) {
                        int status = eos_produce_failed(sink, err, sink->cfg->kafka.replay_topic,
                                                        errstr, errstr_size);
                        if (status != SINK_ABORTED)
                                return status;
                        return eos_abort_batch(sink, timeout_ms, errstr, errstr_size);
                }
                sink->txn.state = TXN_COMMITTING;
        }
        error = rd_kafka_commit_transaction(sink->rk, timeout_ms);
        if (error) {
                snprintf(sink->last_error, sizeof(sink->last_error), "commit_transaction: %s",
                         rd_kafka_error_string(error));
                return eos_txn_error(sink, error, "commit_transaction", timeout_ms, errstr,
                                     errstr_size);
        }
        sink_kafka_up(sink);
        sink->commits++;
        sink->in_flight_bytes = 0;
        for (i = 0; i < marks->len; i++) {
                const struct sink_mark *mark = &marks->list[i];

                if (replay_store_set(sink->rs, sink->channels[mark->channel], mark->replay_id,
                                     mark->event_time)) {
                        snprintf(errstr, errstr_size, "replay store: out of memory");
                        sink->txn.state = TXN_NONE;
                        return SINK_FATAL;
                }
        }
        sink->txn.state = TXN_NONE;
        return SINK_OK;
}

int eos_abort(struct sink *sink, int timeout_ms, char *errstr, size_t errstr_size)
{
        if (sink->txn.state == TXN_NONE)
                return SINK_OK;
        return eos_txn_abort(sink, timeout_ms, errstr, errstr_size);
}
