/*
 * Fencing between two instances with the same name. Kafka's producer
 * fencing (one transactional.id, one live producer) is the first line; this
 * is the second, which also holds where the broker does not fence (the mock
 * cluster of librdkafka 2.0.2).
 *
 * The owner record "<name>:owner" on the replay topic says which instance
 * holds the name: {"instance":…,"state":"claimed"|"released",…}. At start
 * an instance claims the name. A running instance watches the replay topic
 * and stops, before its next batch and before its next commit, once a newer
 * claim appears; on its way out (fenced or not) it aborts its open
 * transaction and writes "released". A commit that was already under way
 * when the claim landed completes before that release, so the newcomer,
 * when the last owner record it read was someone else's claim, waits for
 * that release (at most FENCE_TAKEOVER_MS: a crashed instance, or one whose
 * broker fenced it, writes none) before it reads the replay IDs. A first
 * start, or one after a clean stop, does not wait.
 */
#ifndef SFB_FENCE_H
#define SFB_FENCE_H

#include <stddef.h>
#include "buf.h"
#include "config.h"

/* How long the watcher's fetch waits: how soon a running instance sees a claim. */
#define FENCE_FETCH_WAIT_MS 50
/* The longest a newcomer waits for the previous owner's release: longer
 * than one commit (BRIDGE_COMMIT_TIMEOUT_MS) plus seeing the claim. */
#define FENCE_TAKEOVER_MS 5000

struct fence;

/** @returns a new fence with a fresh random instance ID, free with fence_destroy(); NULL with errstr. @remark cfg borrowed. */
struct fence *fence_new(const struct config *cfg, char *errstr, size_t errstr_size);
void fence_destroy(struct fence *fence);

/** @returns this process's instance ID (16 hex digits). */
const char *fence_instance(const struct fence *fence);

/** @brief Group mode: name our consumer group member ID in the owner records from now on. */
void fence_set_member(struct fence *fence, const char *member_id);

/** @brief Encode the owner record of this instance: key "<name>:owner", JSON value. @returns 0 or -1. */
int fence_claim_encode(const struct fence *fence, struct buf *key, struct buf *value);

/** @brief Encode this instance's release record (same key as the claim). @returns 0 or -1. */
int fence_release_encode(const struct fence *fence, struct buf *key, struct buf *value);

/**
 * @brief Start watching the replay topic from its current end (read_committed).
 * @returns 0, or -1 with errstr (Kafka unreachable within timeout_ms).
 */
int fence_watch_start(struct fence *fence, int timeout_ms, char *errstr, size_t errstr_size);

/**
 * @brief Read what arrived on the replay topic, without blocking.
 * @returns 1 when another instance has claimed the name (errstr says which), else 0.
 */
int fence_check(struct fence *fence, char *errstr, size_t errstr_size);

/** @returns 1 once fence_check() or fence_await_release() saw a newer claim. */
int fence_is_fenced(const struct fence *fence);

/**
 * @brief After our claim: when previous (the newest owner record read
 *        before it, may be NULL) is another instance's claim, wait until
 *        that instance's release arrives on the watcher, or timeout_ms.
 * @returns 0 (released, nothing to wait for, or timed out: logged), or 1
 *          when yet another instance claimed the name meanwhile (errstr).
 * @locality blocks up to timeout_ms.
 */
int fence_await_release(struct fence *fence, const char *previous, size_t previous_len,
                        int timeout_ms, char *errstr, size_t errstr_size);

/**
 * @brief Parse an owner record value. @returns 0 with the instance ID copied
 *        into out and *released set (0 for a claim), else -1. Pure.
 */
int fence_claim_decode(const char *value, size_t len, char *out, size_t out_size, int *released);

/**
 * @brief Is an owner record value (replay_store_owner()) a live claim: the
 *        name held by an instance that has not released it?
 * @returns 1 with its instance ID, host and claim time ("" when absent)
 *          copied out, else 0 (none, released, unreadable). Pure.
 */
int fence_owner_live(const char *value, size_t len, char *instance, size_t instance_size,
                     char *host, size_t host_size, char *at, size_t at_size);

#endif
