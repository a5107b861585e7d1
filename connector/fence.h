/*
 * Fencing between two instances with the same name. Kafka's producer
 * fencing (one transactional.id, one live producer) is the first line; this
 * is the second, which also holds where the broker does not fence (the mock
 * cluster of librdkafka 2.0.2): at start an instance claims the name with an
 * owner record "<name>:owner" on the replay topic, then reads the replay
 * IDs at once; a running instance watches the replay topic and stops,
 * before its next batch and before its next commit, once a newer claim
 * appears. Where the broker does not fence, a commit that was already under
 * way when the claim landed can still complete: at most one batch is then
 * delivered twice.
 */
#ifndef SFB_FENCE_H
#define SFB_FENCE_H

#include <stddef.h>
#include "buf.h"
#include "config.h"

/* How long the watcher's fetch waits: how soon a running instance sees a claim. */
#define FENCE_FETCH_WAIT_MS 50

struct fence;

/** @returns a new fence with a fresh random instance ID, free with fence_destroy(); NULL with errstr. @remark cfg borrowed. */
struct fence *fence_new(const struct config *cfg, char *errstr, size_t errstr_size);
void fence_destroy(struct fence *fence);

/** @returns this process's instance ID (16 hex digits). */
const char *fence_instance(const struct fence *fence);

/** @brief Encode the owner record of this instance: key "<name>:owner", JSON value. @returns 0 or -1. */
int fence_claim_encode(const struct fence *fence, struct buf *key, struct buf *value);

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

/** @brief Parse an owner record value; @returns 0 with the instance ID copied into out, else -1. Pure. */
int fence_claim_decode(const char *value, size_t len, char *out, size_t out_size);

#endif
