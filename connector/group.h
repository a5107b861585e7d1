/*
 * One member of a replica group (HA.md): a Kafka consumer in the group
 * coordination.group, subscribed to the coordination topic. Kafka's group
 * protocol (cooperative-sticky) decides which member owns which partition;
 * each partition stands for the units that map to it (units.h). No record
 * is ever read or written there: membership is the whole message.
 */
#ifndef SFB_GROUP_H
#define SFB_GROUP_H

#include <stddef.h>
#include <stdint.h>
#include "config.h"

enum group_event { GROUP_ASSIGN, GROUP_REVOKE };

/**
 * Called from group_poll() on the caller's thread when partitions are
 * assigned or revoked (lost: the session expired, someone else may own
 * them already). For a revoke the partitions are given back only after
 * this returns: a planned move drains its units here.
 */
typedef void (*group_rebalance_fn)(void *ctx, enum group_event ev, int lost, const int32_t *parts,
                                   size_t n);

struct group;

/**
 * @returns a new member (not yet subscribed), free with group_destroy();
 *          NULL with errstr (a kafka.properties entry refused…).
 * @remark cfg borrowed. client.id is "sfbridge-<name>-<host>-<pid>".
 */
struct group *group_new(const struct config *cfg, group_rebalance_fn fn, void *ctx, char *errstr,
                        size_t errstr_size);
void group_destroy(struct group *g);

/**
 * @brief The coordination topic's partition count, creating the topic
 *        with units_topic_partitions() partitions (broker default
 *        replication) when it is missing and the broker lets us.
 * @returns P >= 1, or -1 with errstr (Kafka unreachable within timeout_ms,
 *          topic missing and not creatable).
 */
int group_partitions(struct group *g, int timeout_ms, char *errstr, size_t errstr_size);

/** @brief Join the group (subscribe to the coordination topic). @returns 0 or -1 with errstr. */
int group_subscribe(struct group *g, char *errstr, size_t errstr_size);

/** @brief Serve the group's callbacks (the rebalance function) without blocking. */
void group_poll(struct group *g);

/** @returns our member ID in the group ("" before the first join). */
const char *group_member_id(struct group *g);

/**
 * @brief Leave and join again (unsubscribe, subscribe): after a pause the
 *        group may still list our partitions while our units were given
 *        up; a new join has them assigned afresh, to us or to another member.
 * @returns 0 or -1 with errstr.
 */
int group_rejoin(struct group *g, char *errstr, size_t errstr_size);

/**
 * @brief Leave the group (LeaveGroup: the others rebalance at once), the
 *        revoke callback served, waiting at most timeout_ms.
 */
void group_close(struct group *g, int timeout_ms);

#endif
