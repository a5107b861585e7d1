/*
 * The replay store: channel -> last committed replay ID, persisted as records
 * in a compacted Kafka topic (key "<name>:<channel>", JSON value). Read to
 * its end with read_committed at start; written by sink_kafka in the same
 * transaction as the events (exactly_once) or after their acks (at_least_once).
 */
#ifndef SFB_REPLAY_STORE_H
#define SFB_REPLAY_STORE_H

#include <signal.h>
#include <stddef.h>
#include <librdkafka/rdkafka.h>
#include "buf.h"
#include "config.h"

/* A replay record value larger than this is refused (decode and load). */
#define REPLAY_RECORD_MAX 65536

struct replay_entry {
        char *channel;
        /* may be REPLAY_NEW/REPLAY_ALL after `replay set --new/--all` */
        long long replay_id;
        char event_time[40]; /* "" when unknown */
        char committed_at[40];
        /* Whose events: the org logged in to when it was written, and the
         * host of salesforce.login_url. "" when unknown (records of older
         * versions, `replay set`). */
        char org[40];
        char login_host[256];
};

struct replay_store;

/**
 * @returns a new store for cfg (borrowed, must outlive it), free with
 *          replay_store_destroy(); NULL with errstr.
 */
struct replay_store *replay_store_new(const struct config *cfg, char *errstr, size_t errstr_size);
void replay_store_destroy(struct replay_store *rs);

/**
 * @brief Create replay_topic (cleanup.policy=compact) if missing, then read
 *        it from the beginning to its end with isolation.level=read_committed,
 *        keeping the newest record of each "<name>:<channel>" key.
 * @returns 0, or -1 with errstr (Kafka unreachable within timeout_ms, ...).
 *          Records that fail to decode are reported in errstr only when
 *          nothing else failed and are otherwise skipped with a warning log
 *          naming partition and offset.
 * @remark errstr is "" after a clean load; after a load that skipped records
 *         it holds a one-line note (count, first partition/offset, reason)
 *         and 0 is still returned. Entries loaded earlier are dropped first.
 *         Keys of other bridge names and gap keys ("<name>:<channel>:gap…",
 *         written there before gaps got their own topic) are ignored; a tombstone (NULL value) removes the channel's entry.
 *         The topic is created with 1 partition, the broker's default
 *         replication factor and cleanup.policy=compact. When it cannot be
 *         created (no controller, as with librdkafka's mock cluster, or the
 *         broker refuses) this is logged and the store loads empty.
 *         The reader uses assign() with group.id "sfbridge-<name>-replay-loader"
 *         (required by librdkafka's consumer API; never joined, never committed).
 * @locality caller's thread; blocks up to timeout_ms.
 */
int replay_store_load(struct replay_store *rs, int timeout_ms, char *errstr, size_t errstr_size);

/**
 * @brief The org logged in to (its ID from the token's identity URL) and the
 *        login host: written into every replay record from now on and into
 *        the entries replay_store_set() records. NULL or "" for unknown.
 * @remark A later replay_store_load() keeps it.
 */
void replay_store_set_origin(struct replay_store *rs, const char *org, const char *login_host);

/** @brief Make replay_store_load() give up ("stopped", -1) soon after *stop becomes non-zero. */
void replay_store_set_stop(struct replay_store *rs, volatile sig_atomic_t *stop);

/** @returns non-zero when org IDs a and b name one org (15- or 18-character spellings). Pure. */
int replay_org_same(const char *a, const char *b);

/** @brief Forget channel's stored ID in memory (the topic is not written). */
void replay_store_forget(struct replay_store *rs, const char *channel);

/** @returns 0 and *replay_id when a committed ID is known for channel, else -1. */
int replay_store_get(const struct replay_store *rs, const char *channel, long long *replay_id);

/** @brief Record a committed ID (after the Kafka commit/ack that made it durable). */
int replay_store_set(struct replay_store *rs, const char *channel, long long replay_id,
                     const char *event_time);

/**
 * @returns the value of the newest "<name>:owner" record the last load read
 *          (NUL-terminated, *len set), or NULL when there was none; see fence.h.
 */
const char *replay_store_owner(const struct replay_store *rs, size_t *len);

size_t replay_store_count(const struct replay_store *rs);
const struct replay_entry *replay_store_entry(const struct replay_store *rs, size_t i);

/**
 * @brief Write one replay record outside any transaction and wait for its
 *        ack (`sfbridge replay set`). @returns 0 or -1 with errstr.
 */
int replay_store_write(struct replay_store *rs, const char *channel, long long replay_id,
                       int timeout_ms, char *errstr, size_t errstr_size);

/*
 * Record codec, pure. Timestamps are RFC 3339 UTC ("2026-11-23T09:18:43.123Z").
 * Value: {"channel":"…","replay_id":N,"event_time":"…","committed_at":"…"
 * [,"org":"…","login_host":"…"]}; org and login_host are written when known;
 * event_time is always present and "" when unknown (NULL is encoded as "").
 * replay_id must be an integer in [-2, 2^63).
 */

/**
 * @brief Encode key "<name>:<channel>" and the JSON value, replacing the
 *        contents of key and value.
 * @returns 0 or -1 (buffer ceiling/out of memory).
 */
int replay_record_encode(const char *name, const char *channel, long long replay_id,
                         const char *event_time, const char *committed_at, struct buf *key,
                         struct buf *value);
/**
 * @brief replay_record_encode() with the store's name and origin (org,
 *        login host; see replay_store_set_origin()): what sink_kafka writes.
 */
int replay_store_record_encode(const struct replay_store *rs, const char *channel,
                               long long replay_id, const char *event_time,
                               const char *committed_at, struct buf *key, struct buf *value);

/**
 * @brief Decode a value; out->channel is malloc'd (free it). @returns 0 or -1 with errstr.
 * @remark Required: channel (non-empty string), replay_id (integer in
 *         [-2, 2^63)). Optional: event_time, committed_at, org (strings of
 *         at most 39 bytes), login_host (at most 255); missing or null reads
 *         as "". On -1, out holds no
 *         allocation.
 */
int replay_record_decode(const char *value, size_t len, struct replay_entry *out, char *errstr,
                         size_t errstr_size);
/**
 * @brief The record of one replay gap, replacing the contents of key and
 *        value. Key "<name>:<channel>:gap:<detected_at>": unique per gap, so
 *        an append-only topic keeps every one. Value:
 *        {"channel":"…","stored_replay_id":N,"resubscribed_from":-2|-1|null,
 *        "policy":"all|new|fail","detected_at":"…","bridge":"<name>"}
 *        (resubscribed_from: null under fail, where nothing was resubscribed).
 * @returns 0 or -1 (buffer ceiling/out of memory).
 */
int replay_gap_encode(const char *name, const char *channel, long long stored_replay_id,
                      long long resubscribed_from, const char *policy, const char *detected_at,
                      struct buf *key, struct buf *value);

/**
 * @brief The append-only gap topic: kafka.replay_topic + ".gaps" (the
 *        replay topic's name cut so the whole stays within Kafka's 249
 *        bytes), into out (>= 256 bytes).
 */
void replay_gap_topic(const struct config *cfg, char *out, size_t out_size);

/** @brief Current UTC time as RFC 3339 with milliseconds into out (>= 32 bytes). */
void replay_now_rfc3339(char *out, size_t out_size);

#endif
