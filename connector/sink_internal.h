/*
 * Private to the Kafka sink (sink_kafka.c, sink_eos.c, sink_alo.c): the
 * struct sink layout, what the shared producer plumbing of sink_kafka.c
 * offers the two delivery algorithms, and what each algorithm offers the
 * public functions. Nothing outside connector/sink_*.c includes this;
 * everyone else uses sink_kafka.h.
 */
#ifndef SFB_SINK_INTERNAL_H
#define SFB_SINK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "buf.h"
#include "sink_kafka.h"

/*
 * A message's opaque says which batch it belongs to and what it is, so a
 * delivery report finds its batch without any allocation per message:
 * bits 0-1 the kind, bits 2-23 the mark index (replay records) or the
 * header bytes (events and dead letters, for the in-flight byte count:
 * sink_opaque_bytes), bits 24-63 the batch sequence number (at_least_once;
 * exactly_once's reports need no batch and carry 0).
 */
enum msg_kind { MSG_EVENT = 0, MSG_REPLAY = 1, MSG_GAP = 2, MSG_DEAD = 3 /* a dead letter */ };
#define OPAQUE_SEQ_SHIFT 24
#define OPAQUE_IDX_MAX   ((1u << 22) - 1)
_Static_assert(sizeof(uintptr_t) >= 8, "the message opaque needs 64 bits");

struct sink_topic {
        char *name;
        rd_kafka_topic_t *rkt;
        int32_t partitions; /* from the last metadata that listed it; 0: not known yet */
        /* The last metadata's error for it when no retry will fix it
         * (sink_poison_class() knows it: no Write ACL, does not exist and is
         * not created); 0 otherwise. Events for it are refused at once until
         * a later lookup (SINK_PARTITIONS_REFRESH_MS) clears it. */
        rd_kafka_resp_err_t refused;
};

struct sink_mark {
        size_t channel; /* index into sink->channels */
        long long replay_id;
        char event_time[40];
};

/* The newest replay ID of each channel a batch touched; the array is kept across batches. */
struct sink_marks {
        struct sink_mark *list;
        size_t len;
        size_t cap;
};

/* ---- exactly_once (sink_eos.c): one transaction at a time ---- */

enum txn_state {
        TXN_NONE,
        TXN_OPEN,
        TXN_COMMITTING, /* replay records produced, commit_transaction not yet successful */
        TXN_MUST_ABORT  /* a produce failed or the commit was abortable */
};

struct sink_txn {
        enum txn_state state;
        struct sink_marks marks; /* of the open transaction */
        char abort_reason[512];
};

/* ---- at_least_once (sink_alo.c): a FIFO of batches ---- */

enum batch_state {
        BATCH_OPEN,    /* between sink_begin and sink_commit */
        BATCH_CLOSED,  /* committed by the caller, events may be unacknowledged */
        BATCH_WRITING, /* its replay records are on their way */
        BATCH_DONE
};

struct sink_batch {
        unsigned long long seq;
        enum batch_state state;
        int discarded;         /* a delivery failed at or before it: never advance */
        size_t unacked;        /* events produced, not yet acknowledged */
        size_t replay_unacked; /* replay records produced, not yet acknowledged */
        long long closed_ms;   /* when the caller closed it (sink_pending_ms) */
        struct sink_marks marks;
};

struct sink_fifo {
        /* Oldest batch at ring[head]; the newest may be open. */
        struct sink_batch *ring;
        size_t cap;
        size_t head;
        size_t len;
        unsigned long long next_seq;
        int open;
        int failure_pending; /* for sink_take_delivery_failure() */
};

/* An event a delivery report showed cannot be produced (sink_poison_known). */
#define SINK_POISON_MAX 64
struct sink_poison {
        char channel[256];
        char replay_id[32];
        const char *reason; /* a token (static) */
        char error[200];
        int dead_letter_failed;
};

struct sink {
        const struct config *cfg; /* borrowed */
        struct replay_store *rs;  /* borrowed */
        rd_kafka_t *rk;
        int eos; /* exactly_once */
        int started;
        int fatal;
        int fenced;                 /* the fatal error was a newer producer's fencing */
        char fatal_reason[1024];
        char txn_id[300];

        struct sink_txn txn;   /* exactly_once */
        struct sink_fifo fifo; /* at_least_once */

        /* Every channel ever marked, interned once: marks hold an index. */
        char **channels;
        size_t nchannels;
        size_t channels_cap;

        int kafka_down; /* all brokers down since the last acknowledgement */
        size_t in_flight;
        /* Bytes (value + key + headers) of the events in flight; exactly_once:
         * of the open transaction, until it commits or is given up. */
        unsigned long long in_flight_bytes;
        unsigned long long commits; /* sink_commits() */
        char last_error[256];       /* sink_last_error() */
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
        long long partitions_checked_ms; /* last metadata request for the kept topics */
        int partition_fallback_warned;   /* past SINK_MAX_TOPICS: said once */

        /* Poison events: the last ones delivery reports refused, a ring. */
        struct sink_poison poison[SINK_POISON_MAX];
        size_t npoison;
        size_t poison_next;
        const char *poison_reason; /* of the last SINK_POISON */
        size_t max_msg_bytes;      /* the producer's message.max.bytes */
};

/* ---- shared producer plumbing (sink_kafka.c) ---- */

void *sink_opaque(unsigned long long seq, size_t idx, enum msg_kind kind);

/* The header bytes an event's or dead letter's opaque carries (see the top). */
#define SINK_OPAQUE_BYTES_MAX OPAQUE_IDX_MAX

/* @returns non-zero for the errors Kafka gives a producer fenced by a newer instance. */
int sink_is_fenced(rd_kafka_resp_err_t err);

/* Record a fatal producer error once; every later call reports it. */
void sink_set_fatal(struct sink *sink, rd_kafka_resp_err_t err, const char *what);

/* @returns SINK_FATAL, with the recorded reason in errstr. */
int sink_fatal_status(struct sink *sink, char *errstr, size_t errstr_size);

/* Kafka answered: end an outage reported by the error callback. */
void sink_kafka_up(struct sink *sink);

/* @returns non-zero when the message was purged by an abort (not a delivery failure). */
int sink_msg_purged(const rd_kafka_message_t *rkm);

/*
 * Produce to partition (RD_KAFKA_PARTITION_UA: librdkafka's partitioner on
 * the key), waiting a bounded time for room when the local queue is full.
 * @remark key and value are copied; ownership of hdrs passes only on success.
 */
rd_kafka_resp_err_t sink_producev(struct sink *sink, const char *topic, int32_t partition,
                                  const void *key, size_t key_len, const void *value,
                                  size_t value_len, rd_kafka_headers_t *hdrs, void *opaque);

/*
 * Produce rec (with its headers) to the partition its partition_hash picks
 * among the topic's partitions, and count it in flight. A topic whose
 * partition count is not known yet is looked up first (once, bounded).
 * @returns 0 or the failed err.
 */
rd_kafka_resp_err_t sink_produce_record(struct sink *sink, const struct router_record *rec,
                                        void *opaque);

/*
 * A record could not be queued: count and log it.
 * @returns SINK_FATAL on a fatal producer error, else SINK_ABORTED with errstr;
 *          the caller's algorithm then gives up the batch its own way.
 */
int sink_produce_failed(struct sink *sink, rd_kafka_resp_err_t err, const char *topic, char *errstr,
                        size_t errstr_size);

/*
 * A record Kafka can never take was refused synchronously (sink_poison_class
 * non-NULL): nothing queued. @returns SINK_POISON with errstr.
 */
int sink_produce_poison(struct sink *sink, rd_kafka_resp_err_t err, const char *topic,
                        size_t bytes, char *errstr, size_t errstr_size);

/* Produce a dead letter (see sink_dead_letter) and count it in flight. @returns 0 or the failed err. */
rd_kafka_resp_err_t sink_produce_dead(struct sink *sink, const struct sink_dead_letter *dl,
                                      void *opaque);

/* Note replay_id as the newest of channel in marks. @returns SINK_OK or SINK_FATAL. */
int sink_marks_set(struct sink *sink, struct sink_marks *marks, const char *channel,
                   long long replay_id, const char *event_time, char *errstr, size_t errstr_size);

/*
 * Produce the replay records of marks, tagged with batch seq; *produced
 * (may be NULL) counts each one queued. @returns 0 or the failed err.
 */
rd_kafka_resp_err_t sink_produce_marks(struct sink *sink, const struct sink_marks *marks,
                                       unsigned long long seq, size_t *produced);

/*
 * ---- exactly_once (sink_eos.c) ----
 * Each keeps the promise of the sink_ function of the same name in
 * sink_kafka.h; the public function has already checked sink->fatal.
 */

/* init_transactions: fences older instances with our transactional.id. */
int eos_init(struct sink *sink, int timeout_ms, char *errstr, size_t errstr_size);
/* Completes a pending abort, then begin_transaction. */
int eos_begin(struct sink *sink, char *errstr, size_t errstr_size);
int eos_produce(struct sink *sink, const struct router_record *rec, char *errstr,
                size_t errstr_size);
int eos_dead_letter(struct sink *sink, const struct sink_dead_letter *dl, char *errstr,
                    size_t errstr_size);
int eos_mark(struct sink *sink, const char *channel, long long replay_id, const char *event_time,
             char *errstr, size_t errstr_size);
/* One record to topic (replay_topic, or the gap topic) in the open transaction (sink_gap, sink_put_record). */
int eos_put_replay_topic(struct sink *sink, const char *what, const char *topic, const char *key,
                         size_t key_len, const char *value, size_t value_len, char *errstr,
                         size_t errstr_size);
/* Replay records into the transaction, commit_transaction, then the replay store. */
int eos_commit(struct sink *sink, int timeout_ms, char *errstr, size_t errstr_size);
int eos_abort(struct sink *sink, int timeout_ms, char *errstr, size_t errstr_size);

/*
 * ---- at_least_once (sink_alo.c) ----
 * As for exactly_once; commit and abort never wait on Kafka, so they take
 * no timeout and always return SINK_OK.
 */

/* Appends a batch to the FIFO (a no-op while one is open). */
int alo_begin(struct sink *sink, char *errstr, size_t errstr_size);
int alo_produce(struct sink *sink, const struct router_record *rec, char *errstr,
                size_t errstr_size);
int alo_dead_letter(struct sink *sink, const struct sink_dead_letter *dl, char *errstr,
                    size_t errstr_size);
int alo_mark(struct sink *sink, const char *channel, long long replay_id, const char *event_time,
             char *errstr, size_t errstr_size);
int alo_put_replay_topic(struct sink *sink, const char *what, const char *topic, const char *key,
                         size_t key_len, const char *value, size_t value_len, char *errstr,
                         size_t errstr_size);
/* Closes the open batch: its replay records wait for the acks (alo_advance). */
int alo_commit(struct sink *sink);
/* Closes the open batch discarded: it will never advance the store. */
int alo_abort(struct sink *sink);

/* Move batches forward in FIFO order: write the replay records acks released. */
void alo_advance(struct sink *sink);

/* The at_least_once part of a delivery report (sink_kafka.c's callback did the shared part). */
void alo_delivered(struct sink *sink, const rd_kafka_message_t *rkm, enum msg_kind kind,
                   unsigned long long seq, size_t idx);

#endif
