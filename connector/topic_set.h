/*
 * The distinct topics one route's {entity} template has written to, up to
 * routes[].max_topics: a bound on the topics data (the entity names
 * Salesforce sends) can make the bridge create.
 */
#ifndef SFB_TOPIC_SET_H
#define SFB_TOPIC_SET_H

#include <stddef.h>

struct topic_set;

/** @returns an empty set that admits at most @p max topics, or NULL (out of memory). */
struct topic_set *topic_set_new(size_t max);

/**
 * @brief Admit @p topic: known, or new while there is room.
 * @returns 1 when admitted, 0 when the set is full and @p topic is not in
 *          it, -1 out of memory.
 * @remark A repeat of the previous topic costs one strcmp (a batch is
 *         mostly one entity).
 */
int topic_set_admit(struct topic_set *set, const char *topic);

/** @returns how many topics the set holds. */
size_t topic_set_size(const struct topic_set *set);

void topic_set_free(struct topic_set *set);

#endif
