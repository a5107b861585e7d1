/*
 * The event store: one ring of retained events per channel, each event kept
 * once as its serialized Bayeux JSON, with strictly increasing but
 * non-contiguous replay IDs and a retention window by count and by age.
 *
 * Locking: functions named *_locked must be called with the sim lock held
 * (sim.h). Publishing renders events outside that lock, under the channel's
 * own publish lock, and takes the sim lock only to append a rendered chunk,
 * so a large publish and a draining subscriber both keep moving.
 */
#ifndef SFSIM_STORE_H
#define SFSIM_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "channel.h"
#include "sbuf.h"

#define STORE_MAX_CHANNELS 10000
#define STORE_MAX_EVENT_SIZE (1024 * 1024) /* Salesforce's 1 MB event limit */

struct store;
struct channel;
struct sim_event;

/** How published events look (see render.h). */
struct store_publish_opts {
        const char *entity;       /* /data/ChangeEvents only; NULL: Account */
        const char *change_type;  /* NULL: CREATE; else comma-separated change types, one
                                   * per event of the publish, the last repeating */
        const char *record_ids;   /* CDC only: comma-separated recordIds of every event
                                   * (GAP_OVERFLOW: none); NULL: one per event */
        unsigned records;         /* CDC only, without record_ids: IDs per event (>1: merged) */
        const char *changed_fields; /* CDC UPDATE: changedFields members (render.h) */
        int transaction;          /* CDC: the events of the publish are one transaction */
        size_t index;             /* of the first event of this store_render() call in
                                   * the publish (change type, sequenceNumber) */
        size_t count;             /* events in the whole publish */
        size_t size;              /* 0: natural size */
        const char *fields;       /* NULL, or a checked JSON object's text (render.h) */
        int pretty;               /* insignificant whitespace in the message */
        int bad_replay_id;        /* replayId sent as "unreadable-N", which no client can
                                   * read as a replay ID (the event is still stored as N) */
};

/**
 * @brief Create an empty store.
 * @param retention        events kept per channel (>= 1).
 * @param retention_age_s  events older than this are dropped; 0: no age limit.
 * @param user_id          the user ID written into events (copied).
 * @param first_replay_id  the replay ID of every channel's first event; 0: a
 *                         channel-specific ID between 1000001 and 10000002.
 * @returns a new store, free with store_destroy(), or NULL (out of memory).
 */
struct store *store_new(size_t retention, long retention_age_s, const char *user_id,
                        uint64_t first_replay_id);

/** @brief Free the store, every channel and event. Accepts NULL. */
void store_destroy(struct store *store);

/**
 * @brief Find a channel by bare name, creating it when @p create is set.
 * @remark the name must already be valid (channel_classify()); the channel
 *         lives as long as the store.
 * @returns the channel, or NULL (absent and !create, the channel cap, or
 *          out of memory).
 * @locality sim lock held.
 */
struct channel *store_channel_locked(struct store *store, const char *name, int create);

/** @returns the channel's bare name (valid as long as the store). */
const char *store_channel_name(const struct channel *ch);

/** @brief Serialise publishers of @p ch (held across render and append). */
void store_publish_begin(struct channel *ch);
/** @brief End store_publish_begin(). */
void store_publish_end(struct channel *ch);

/**
 * @brief Render @p n events for @p ch, assigning their replay IDs.
 * @param evs receives @p n new events; the caller owns them until
 *            store_append_locked() takes them, or frees them with
 *            store_events_free().
 * @returns 0, or -1 (out of memory; nothing is left allocated).
 * @locality publish lock of @p ch held (store_publish_begin()), sim lock not needed.
 */
int store_render(struct store *store, struct channel *ch, const struct store_publish_opts *opts,
                 struct sim_event **evs, size_t n, int64_t now_ms);

/**
 * @brief Append rendered events to their channel, then apply retention.
 * @param ids receives the replay ID of each event.
 * @remark takes ownership of every event in @p evs.
 * @locality sim lock and the publish lock of @p ch held.
 */
void store_append_locked(struct store *store, struct channel *ch, struct sim_event **evs,
                         size_t n, uint64_t *ids, int64_t now_ms);

/** @brief Free events that were rendered but not appended. */
void store_events_free(struct sim_event **evs, size_t n);

/**
 * @brief Where a subscription with replay option @p replay starts.
 * @param replay  -1: new events only; -2: all retained; N >= 0: after N.
 * @param cursor  receives the replay ID after which events are delivered.
 * @returns 0, or -1 when N is not retained (older than the retention
 *          window, or beyond the newest event): the invalid-replayId error.
 * @locality sim lock held.
 */
int store_replay_start_locked(struct store *store, struct channel *ch, long long replay,
                              uint64_t *cursor, int64_t now_ms);

/** @returns 1 when @p ch retains an event after @p cursor. @locality sim lock held. */
int store_has_after_locked(const struct channel *ch, uint64_t cursor);

/**
 * @brief Append the events after *cursor to @p out, each followed by ','.
 * @param max_events  most events to append.
 * @param max_bytes   stop before @p out would pass this length, except that
 *                    one event is always taken when @p out holds none yet
 *                    (@p out_has_events 0).
 * @returns the number appended; *cursor moves to the last one.
 * @locality sim lock held.
 */
size_t store_collect_locked(struct channel *ch, uint64_t *cursor, size_t max_events,
                            size_t max_bytes, int out_has_events, struct sbuf *out);

/**
 * @brief Drop all but the newest @p keep events of every channel.
 * @returns the number of events dropped.
 * @locality sim lock held.
 */
size_t store_truncate_locked(struct store *store, size_t keep);

/** @brief Count a subscription: @p added is +1, -1 (unsubscribe) or 0 (re-subscribe). */
void store_note_subscription_locked(struct channel *ch, int added);

/**
 * @brief Add one member per channel to @p channels: subscriptions (total),
 *        subscribers (now), last_replay_id, retained, published.
 * @returns 0, or -1 (out of memory).
 * @locality sim lock held.
 */
int store_stats_locked(const struct store *store, cJSON *channels);

/*
 * Pollers per channel (pollers.h): sim.c recounts them at every change, as
 * tally_begin, one tally per (polling client, subscribed channel), tally_end.
 * All @locality sim lock held.
 */
/** @brief Start a recount: every channel's count goes to 0. */
void store_pollers_tally_begin_locked(struct store *store);
/** @brief One more client long-polls @p ch. */
void store_pollers_tally_locked(struct channel *ch);
/** @brief End the recount: each channel's count holds from monotonic @p now_ms on. */
void store_pollers_tally_end_locked(struct store *store, int64_t now_ms);

/**
 * @brief Add one member per channel to @p pollers: now,
 *        max_concurrent_pollers, poll_overlap_ms.
 * @returns 0, or -1 (out of memory).
 */
int store_pollers_stats_locked(const struct store *store, cJSON *pollers, int64_t now_ms);

/** @brief pollers_reset() every channel. @returns the number of channels. */
size_t store_pollers_reset_locked(struct store *store, int64_t now_ms);

#endif
