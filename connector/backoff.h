/*
 * Exponential backoff with full jitter and a cap, with an injectable random
 * source so tests are deterministic.
 */
#ifndef SFB_BACKOFF_H
#define SFB_BACKOFF_H

struct backoff {
        long base_ms;
        long cap_ms;
        unsigned attempt;
        unsigned (*rand_fn)(void *ctx);  /* NULL: an internal PRNG seeded at init */
        void *rand_ctx;
        unsigned long long state;
};

/** @brief Initialise; the first delay is 0 (first retry at once), then base*2^k with jitter, capped. */
void backoff_init(struct backoff *bo, long base_ms, long cap_ms);

/** @returns the delay before the next attempt, in ms, and counts the attempt. */
long backoff_next_ms(struct backoff *bo);

/** @brief Back to the first attempt (after a success). */
void backoff_reset(struct backoff *bo);

#endif
