/*
 * Which Streaming API channels exist, and what kind of events they carry.
 * Pure functions on channel names; no state.
 */
#ifndef SFSIM_CHANNEL_H
#define SFSIM_CHANNEL_H

#include <stddef.h>

#define CHANNEL_NAME_MAX 160   /* longest channel name accepted, bytes */
#define CHANNEL_ENTITY_MAX 256 /* longest CDC entity name + 1, bytes (long enough to make an illegal {entity} topic) */

enum channel_kind {
        CHANNEL_INVALID = 0,
        CHANNEL_TOPIC,       /* /topic/X: PushTopic */
        CHANNEL_EVENT,       /* /event/X__e: platform event */
        CHANNEL_CDC_ALL,     /* /data/ChangeEvents */
        CHANNEL_CDC_ENTITY,  /* /data/<Object>ChangeEvent */
        CHANNEL_GENERIC,     /* /u/X: generic streaming */
        CHANNEL_EVENT_CHN,   /* /event/X__chn: custom platform event channel */
        CHANNEL_EVENT_STD,   /* /event/LoginEventStream…: standard platform event */
        CHANNEL_CDC_CHN      /* /data/X__chn: custom change event channel, several entities */
};

/**
 * @brief Strip a PushTopic filter (`?Field=value…`) from a subscription:
 *        Salesforce keys subscriptions and replay maps by the bare channel.
 * @returns 0 with the bare name in @p out, or -1 when it does not fit.
 */
int channel_base(const char *subscription, char *out, size_t out_size);

/**
 * @brief Classify a bare channel name.
 * @param entity  receives the entity of a /data/<Object>ChangeEvent channel
 *                (AccountChangeEvent -> Account, Custom__ChangeEvent ->
 *                Custom__c); empty for other kinds. May be NULL.
 * @returns the kind, CHANNEL_INVALID for an unknown prefix or a malformed name.
 */
enum channel_kind channel_classify(const char *name, char *entity, size_t entity_size);

/** @returns 1 when @p s is a valid entity name ([A-Za-z0-9_]+, bounded). */
int channel_entity_valid(const char *s);

#endif
