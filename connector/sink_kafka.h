/*
 * The Kafka producer. exactly_once: one transaction per /meta/connect batch
 * holding the batch's events and the replay records of the channels it
 * touched; transactional.id derived from the bridge name, so a second
 * instance fences the first. at_least_once: idempotent producer, acks=all; a
 * channel's replay record is produced only once every earlier event was acked.
 */
#ifndef SFB_SINK_KAFKA_H
#define SFB_SINK_KAFKA_H

#include <stddef.h>
#include "config.h"
#include "replay_store.h"
#include "router.h"

enum sink_status {
        SINK_OK = 0,
        SINK_RETRY = -1,    /* retriable (Kafka unreachable, timeout): call again later, batch kept */
        SINK_ABORTED = -2,  /* the batch was aborted: resume Salesforce from the last committed IDs */
        SINK_FATAL = -3     /* fenced by a newer instance, or a fatal producer error: exit 3 */
};

struct sink;

/** @returns a new sink, free with sink_destroy(); NULL with errstr (bad kafka.properties key/value named). @remark cfg and rs are borrowed. */
struct sink *sink_new(const struct config *cfg, struct replay_store *rs,
                      char *errstr, size_t errstr_size);
void sink_destroy(struct sink *sink);

/** @brief exactly_once: init_transactions (fences older instances). @returns enum sink_status. */
int sink_start(struct sink *sink, int timeout_ms, char *errstr, size_t errstr_size);

/** @brief Open a batch (exactly_once: begin_transaction). @returns enum sink_status. */
int sink_begin(struct sink *sink, char *errstr, size_t errstr_size);

/** @brief Produce one record. Takes rec->value in every case (sets it NULL). @returns enum sink_status. */
int sink_produce(struct sink *sink, struct router_record *rec, char *errstr, size_t errstr_size);

/** @brief Note the newest replay ID of a channel in the open batch. */
int sink_mark(struct sink *sink, const char *channel, long long replay_id,
              const char *event_time, char *errstr, size_t errstr_size);

/** @brief Put the audit record of a replay gap in the open batch. */
int sink_gap(struct sink *sink, const char *channel, long long last_committed,
             const char *policy, char *errstr, size_t errstr_size);

/**
 * @brief Close the batch. exactly_once: produce the replay records, commit;
 *        on success update the replay store. A retriable failure leaves the
 *        transaction open (call again); an abortable one aborts it.
 *        at_least_once: queue the marks; they reach Kafka and the store as acks arrive.
 * @returns enum sink_status.
 */
int sink_commit(struct sink *sink, int timeout_ms, char *errstr, size_t errstr_size);

/** @brief Abort the open batch (shutdown mid-batch). @returns enum sink_status. */
int sink_abort(struct sink *sink, int timeout_ms, char *errstr, size_t errstr_size);

/** @brief Serve delivery reports without blocking. */
void sink_poll(struct sink *sink);

/** @returns events produced and not yet acknowledged. */
size_t sink_in_flight(const struct sink *sink);

/** @returns 0 when everything was delivered within timeout_ms, else -1. */
int sink_flush(struct sink *sink, int timeout_ms);

/** @returns non-zero once a delivery failed in at_least_once mode since the last call (caller resumes from the store). */
int sink_take_delivery_failure(struct sink *sink);

/** @returns the total of Kafka errors seen (delivery failures, produce and transaction errors). */
unsigned long long sink_errors(const struct sink *sink);

#endif
