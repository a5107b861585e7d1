/*
 * Exponential backoff with jitter and a cap, with an injectable random
 * source so tests are deterministic.
 *
 * Attempt 0 waits 0 ms (the first retry goes at once). Attempt k >= 1 waits
 * a uniform draw from [ceil(c/2), c] where c = min(cap, base * 2^(k-1)):
 * "equal jitter", so a retry never comes back at once after the first and
 * the spread still de-synchronises many clients. No overflow for any k.
 */
#ifndef SFB_BACKOFF_H
#define SFB_BACKOFF_H

struct backoff {
        long base_ms;
        long cap_ms;
        unsigned attempt;                /* attempts counted so far; saturates */
        unsigned (*rand_fn)(void *ctx);  /* NULL: an internal PRNG seeded at init;
                                          * set it after backoff_init() to inject */
        void *rand_ctx;
        unsigned long long state;        /* the internal PRNG's state */
};

/**
 * @brief Initialise; the first delay is 0 (first retry at once), then
 *        base*2^(k-1) with jitter, capped. A base below 1 ms counts as 1 and
 *        a cap below the base as the base.
 */
void backoff_init(struct backoff *bo, long base_ms, long cap_ms);

/**
 * @returns the delay before the next attempt, in ms (0 only for the first),
 *          and counts the attempt.
 */
long backoff_next_ms(struct backoff *bo);

/** @brief Back to the first attempt (after a success). */
void backoff_reset(struct backoff *bo);

#endif
