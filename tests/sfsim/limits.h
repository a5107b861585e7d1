/*
 * The org's delivery allocations, as Salesforce counts them: every event put
 * into a /meta/connect response counts once per client it goes to,
 * re-deliveries included, against the allocation of its channel's kind
 * (platform and change events share one; PushTopic and generic streaming
 * have their own). GET /services/data/vXX.X/limits reports them in
 * Salesforce's shape. The counts are since start: an sfsim run is far
 * shorter than the 24 hours Salesforce's window rolls over.
 *
 * Locking: the counters live in struct sim and are guarded by its lock; the
 * REST handler takes the lock itself.
 */
#ifndef SFSIM_LIMITS_H
#define SFSIM_LIMITS_H

#include <stddef.h>
#include <stdint.h>

#include "channel.h"

enum limits_kind {
        LIMITS_PLATFORM,  /* DailyDeliveredPlatformEvents: /event/, /data/ */
        LIMITS_PUSHTOPIC, /* DailyDurableStreamingApiEvents: /topic/ */
        LIMITS_GENERIC,   /* DailyDurableGenericStreamingApiEvents: /u/ */
        LIMITS_NKINDS
};

struct limits {
        uint64_t max[LIMITS_NKINDS];
        uint64_t used[LIMITS_NKINDS];
        int enforced;     /* --daily-delivery-limit given: a spent allocation stops delivery */
};

struct sim;

/**
 * @brief Set the allocations: @p daily (--daily-delivery-limit) for every
 *        kind, enforced; 0: an Enterprise org's defaults, reported only.
 */
void limits_init(struct limits *limits, uint64_t daily);

/** @returns the allocation @p kind of channel counts against. */
enum limits_kind limits_kind_of(enum channel_kind kind);

/** @returns the events of @p kind still deliverable (SIZE_MAX when not enforced). */
size_t limits_room(const struct limits *limits, enum limits_kind kind);

/** @brief Count @p n events of @p kind put into a response. */
void limits_count(struct limits *limits, enum limits_kind kind, size_t n);

/** @returns the admin name of @p kind ("platform", "pushtopic", "generic"). */
const char *limits_kind_name(enum limits_kind kind);

/**
 * @brief Answer GET /services/data/vXX.X/limits[/] (Bearer token required).
 * @param path           the request path.
 * @param authorization  the Authorization header, or NULL.
 * @param body           receives a malloc'd JSON text (NULL: out of memory).
 * @returns the HTTP status: 200, 401 (INVALID_SESSION_ID), 404 (another
 *          resource), 405 (not GET).
 * @locality any request thread; takes the sim lock itself.
 */
int limits_rest_handle(struct sim *sim, const char *method, const char *path,
                       const char *authorization, char **body);

#endif
