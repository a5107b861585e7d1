/*
 * Long-poll overlap per channel, for replica tests: how many clients
 * subscribed to a channel hold a /meta/connect at once (now and its
 * high-water mark), and how long two or more did. Two replicas both
 * long-polling one unit's channels would double Salesforce's deliveries, so
 * a handoff must show max_concurrent_pollers 1 and poll_overlap_ms 0.
 *
 * Pure bookkeeping: the caller (sim.c) counts the pollers and hands the
 * count over with the monotonic time of the change; every function here
 * runs under the sim lock.
 */
#ifndef SFSIM_POLLERS_H
#define SFSIM_POLLERS_H

#include <stdint.h>

struct pollers {
        long now;             /* clients long-polling the channel now */
        long max;             /* most at once since start or the last reset */
        int64_t overlap_ms;   /* closed periods with now >= 2 */
        int64_t since_ms;     /* monotonic start of the open period with now >= 2; -1: none */
};

/** @brief A channel nobody polls yet. */
void pollers_init(struct pollers *p);

/** @brief The count of pollers is @p n from monotonic @p now_ms on. */
void pollers_set(struct pollers *p, long n, int64_t now_ms);

/** @returns the time with >= 2 pollers, the open period included up to @p now_ms. */
int64_t pollers_overlap_ms(const struct pollers *p, int64_t now_ms);

/**
 * @brief Start counting again: the high-water mark becomes the current
 *        count, the overlap 0 (an open overlap counts from @p now_ms).
 */
void pollers_reset(struct pollers *p, int64_t now_ms);

#endif
