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
        /* retriable (Kafka unreachable, timeout): call again later, batch kept */
        SINK_RETRY = -1,
        /* the batch was aborted: resume Salesforce from the last committed IDs */
        SINK_ABORTED = -2,
        /* fenced by a newer instance, or a fatal producer error: exit 3 */
        SINK_FATAL = -3,
        /* this one record can never be produced (larger than the producer's
         * message.max.bytes…): nothing was queued and the batch is intact;
         * sink_poison_reason() names why. Dead-letter it or stop its route. */
        SINK_POISON = -4
};

struct sink;

/**
 * @returns a new sink, free with sink_destroy(); NULL with errstr (bad
 *          kafka.properties key/value named).
 * @remark cfg and rs are borrowed and must outlive the sink.
 * @remark Producer settings: kafka.bootstrap_servers, then kafka.properties
 *         in order (values of secret-looking names never echoed), then
 *         enable.idempotence=true and acks=all; exactly_once adds
 *         transactional.id "sfbridge-<name>". kafka.properties may not set
 *         transactional.id, nor enable.idempotence/acks to anything else
 *         (an error names the property).
 * @remark Startup order for the bridge: sink_new; sink_start (fences an older
 *         instance with the same name and aborts the transaction it left
 *         open, so it cannot commit after we read the store); then
 *         replay_store_load (creates the replay topic compacted when
 *         missing); then batches. sink_start never references the replay
 *         topic (a producer's lookup of a missing topic lets the broker
 *         auto-create it uncompacted); the first sink_begin looks it up
 *         (up to 1 s, once).
 */
struct sink *sink_new(const struct config *cfg, struct replay_store *rs, char *errstr,
                      size_t errstr_size);
void sink_destroy(struct sink *sink);

/**
 * @brief exactly_once: init_transactions (fences older instances);
 *        at_least_once: nothing to wait for. Both learn the partitions of
 *        the fixed route topics.
 * @returns enum sink_status (SINK_RETRY: Kafka not reachable within
 *          timeout_ms, call again).
 */
int sink_start(struct sink *sink, int timeout_ms, char *errstr, size_t errstr_size);

/**
 * @brief Open a batch (exactly_once: begin_transaction). A no-op while a
 *        batch is open. After a failed produce, first completes the abort
 *        (SINK_RETRY when Kafka does not answer within 10 s).
 * @returns enum sink_status.
 */
int sink_begin(struct sink *sink, char *errstr, size_t errstr_size);

/**
 * @brief Produce one record to rec->topic with rec's key, value and headers,
 *        in the open batch. The key and value are copied: rec may go as
 *        soon as this returns. A topic handle is kept per topic name, so
 *        the next record to it needs no lookup. Waits up to 5 s (serving
 *        delivery reports) while librdkafka's queue is full.
 * @returns SINK_OK; SINK_POISON when the record can never be queued
 *          (MSG_SIZE_TOO_LARGE: larger than message.max.bytes), the batch
 *          intact; SINK_ABORTED when the record could not be queued: the batch
 *          cannot complete (exactly_once: it is aborted by the next
 *          sink_begin/sink_commit/sink_abort; at_least_once: its marks are
 *          dropped), resume from the last committed IDs; SINK_FATAL on a fatal
 *          producer error or without an open batch.
 */
int sink_produce(struct sink *sink, const struct router_record *rec, char *errstr,
                 size_t errstr_size);

/* What sink_dead_letter() writes: an event that cannot be produced where it belongs. */
struct sink_dead_letter {
        const char *channel;   /* sf.channel */
        const char *replay_id; /* sf.replay_id: decimal, or the unreadable text as sent */
        const char *error;     /* sf.error: why it could not be produced */
        const char *topic;     /* sf.topic: where it should have gone ("" when not rendered) */
        const char *key;       /* the event's usual key, or NULL */
        size_t key_len;
        const char *value;     /* the Bayeux message as Salesforce sent it */
        size_t value_len;
};

/**
 * @brief Produce @p dl to kafka.dead_letter_topic in the open batch, so it
 *        commits (and its replay mark advances) with the batch. Headers
 *        sf.channel, sf.replay_id, sf.error, sf.topic, sf.bridge, and
 *        sf.truncated (the original length in decimal) when the value had
 *        to be cut to fit the producer's message.max.bytes. A failed
 *        delivery is remembered (sink_poison_known() then says
 *        dead_letter_failed) and fails the batch as any event would.
 * @returns as sink_produce(); SINK_POISON when the dead letter itself
 *          cannot be queued (the batch is intact). SINK_FATAL without
 *          kafka.dead_letter_topic.
 */
int sink_dead_letter(struct sink *sink, const struct sink_dead_letter *dl, char *errstr,
                     size_t errstr_size);

/** @returns the reason token of the last SINK_POISON ("too_large", …). */
const char *sink_poison_reason(const struct sink *sink);

/**
 * @returns the reason token ("too_large", "invalid_record", "illegal_topic",
 *          "topic_denied", "topic_missing") when Kafka refused a record for
 *          what it is or for where it goes (no Write ACL on its topic; a topic
 *          that does not exist and is not auto-created), so that sending it
 *          again cannot succeed; NULL for every other error.
 */
const char *sink_poison_class(int err);

/** @returns how many refused events the sink remembers (0 nearly always: the per-event check is skipped). */
size_t sink_poison_count(const struct sink *sink);

/**
 * @brief Did a delivery report show that this event cannot be produced?
 *        Reports of refused events (sink_poison_class()) and of failed dead
 *        letters are remembered (the last 64, by channel and replay ID, as
 *        carried in the record's sf.channel and sf.replay_id headers) so that
 *        the batch, aborted and fetched again, treats the event as poison.
 * @returns non-zero when known; then *reason (a token), *error (the
 *          broker's text) and *dead_letter_failed (non-zero: it was the dead
 *          letter that failed) are set; they stay valid until the next
 *          sink call.
 */
int sink_poison_known(const struct sink *sink, const char *channel, const char *replay_id,
                      const char **reason, const char **error, int *dead_letter_failed);

/**
 * @brief Note the newest replay ID of a channel in the open batch (the last
 *        call per channel wins: call it in the order events arrive).
 *        event_time may be NULL. No allocation except the first time a
 *        channel is seen.
 * @returns SINK_OK, SINK_ABORTED (the batch is being aborted) or SINK_FATAL
 *          (no open batch, out of memory).
 */
int sink_mark(struct sink *sink, const char *channel, long long replay_id, const char *event_time,
              char *errstr, size_t errstr_size);

/**
 * @brief Put the audit record of a replay gap (replay_gap_encode()) on
 *        @p topic (replay_gap_topic()) in the open batch, so it commits
 *        with the batch; key and value are copied. Not an event: it is not
 *        counted in flight and holds no at_least_once batch back.
 * @returns enum sink_status as sink_produce().
 */
int sink_gap(struct sink *sink, const char *topic, const char *key, size_t key_len,
             const char *value, size_t value_len, char *errstr, size_t errstr_size);

/** @brief Put one record (key and value copied) on replay_topic in the open batch: the owner claim of fence.c. */
int sink_put_record(struct sink *sink, const char *key, size_t key_len, const char *value,
                    size_t value_len, char *errstr, size_t errstr_size);

/**
 * @brief Close the batch. exactly_once: produce the replay records, commit;
 *        on success update the replay store. A retriable failure leaves the
 *        transaction open (call again); an abortable one aborts it.
 *        at_least_once: queue the marks; they reach Kafka and the store as acks arrive.
 * @returns enum sink_status. SINK_RETRY: the transaction stays open with
 *          the replay records in it; call sink_commit again (not
 *          sink_begin). SINK_FATAL when fenced, with errstr "… fenced by a
 *          newer instance with the same name (transactional.id sfbridge-<name>) …".
 */
int sink_commit(struct sink *sink, int timeout_ms, char *errstr, size_t errstr_size);

/**
 * @brief Abort the open batch (shutdown mid-batch); its marks are dropped.
 * @returns enum sink_status (SINK_OK when nothing was open).
 */
int sink_abort(struct sink *sink, int timeout_ms, char *errstr, size_t errstr_size);

/**
 * @brief Serve delivery reports and errors without blocking; at_least_once:
 *        write the replay records that acks released.
 * @locality caller's thread (all sink calls are; no callback runs elsewhere).
 */
void sink_poll(struct sink *sink);

/** @returns events produced and not yet acknowledged. */
size_t sink_in_flight(const struct sink *sink);

/**
 * @returns the bytes (value + key + header names and values, as produced)
 *          of the events and dead letters in flight: at_least_once, until
 *          each is acknowledged; exactly_once, until the transaction that
 *          holds them commits or is given up (aborted).
 * @remark One addition per record at produce time, one subtraction in its
 *         delivery report; the header bytes ride in the message opaque.
 */
unsigned long long sink_in_flight_bytes(const struct sink *sink);

/**
 * @returns how many commits Kafka took so far: exactly_once, transactions
 *          committed; at_least_once, replay records acknowledged (and
 *          batches acknowledged that had no replay ID to write). A change
 *          means Kafka took what the bridge gave it.
 */
unsigned long long sink_commits(const struct sink *sink);

/**
 * @returns at_least_once: milliseconds the oldest closed batch has been
 *          waiting for its acknowledgements (0 when none waits);
 *          exactly_once: 0 (a commit reports its own failure).
 */
long long sink_pending_ms(const struct sink *sink);

/**
 * @returns non-zero when nothing awaits a commit: no open or uncommitted
 *          transaction (exactly_once), no batch waiting for acknowledgements
 *          (at_least_once).
 */
int sink_settled(const struct sink *sink);

/** @returns the text of the last Kafka error the sink saw ("" when none); valid until the next sink call. */
const char *sink_last_error(const struct sink *sink);

/**
 * @brief rd_kafka_flush, plus (at_least_once) the replay records the acks released.
 * @returns 0 when everything was delivered within timeout_ms, else -1.
 */
int sink_flush(struct sink *sink, int timeout_ms);

/**
 * @returns non-zero once a delivery failed in at_least_once mode since the
 *          last call (caller resumes from the store). The failed batch, every
 *          later one and every batch opened before this call never advance
 *          the replay store. exactly_once reports failures through sink_commit.
 */
int sink_take_delivery_failure(struct sink *sink);

/**
 * @returns non-zero while librdkafka reports every broker down and nothing
 *          was acknowledged since. The sink logs "kafka_unavailable
 *          cause=all_brokers_down" once when an outage starts and
 *          "kafka_recovered" when Kafka answers again.
 */
int sink_kafka_down(const struct sink *sink);

/** @brief Drop every record not yet delivered (a unit given up that must send nothing more). */
void sink_purge(struct sink *sink);

/** @returns 1 once a newer producer with our transactional.id fenced this one (a real broker's fencing). */
int sink_fenced(const struct sink *sink);

/** @returns the total of Kafka errors seen (delivery failures, produce and transaction errors). */
unsigned long long sink_errors(const struct sink *sink);

#endif
