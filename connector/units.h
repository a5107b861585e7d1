/*
 * Units of work and the names derived from them (HA.md §1): which
 * coordination partition stands for a unit, and the transactional.id,
 * replay key prefix and owner record key of a unit. Pure: no I/O, no
 * allocation; every function works on a loaded config or a unit's view
 * (config_unit_view()).
 *
 * The names of the default org's default unit are those a single instance
 * has always used, so a single instance can be moved into a group and the
 * group's first owner fences it.
 */
#ifndef SFB_UNITS_H
#define SFB_UNITS_H

#include <stddef.h>
#include <stdint.h>
#include "config.h"

/** @returns FNV-1a-32 of s (HA.md: partition = fnv1a32(unit id) mod P). */
uint32_t units_fnv1a32(const char *s);

/**
 * @returns the coordination partition of cfg->units[unit] when the topic
 *          has nparts partitions: its coordination.partitions override,
 *          else fnv1a32(id) % nparts. -1 when nparts < 1, or when the
 *          override is >= nparts (check reports that).
 */
int units_partition(const struct config *cfg, size_t unit, int nparts);

/**
 * @returns the number of partitions the coordination topic is created
 *          with: the number of units, at least 1, and above every override.
 */
int units_topic_partitions(const struct config *cfg);

/** @returns 1 when cfg (a view) is the default org's default unit, or not a unit view at all. */
int units_is_default(const struct config *cfg);

/**
 * @brief The Kafka transactional.id: "sfbridge-<name>" for the default
 *        unit (and outside group mode), else "sfbridge-<name>-<unit>".
 */
void units_txn_id(const struct config *cfg, char *out, size_t out_size);

/**
 * @brief What replay keys start with, before ":<channel>": "<name>" for the
 *        default org, else "<name>:<org>". Gap keys continue the same way
 *        ("<prefix>:<channel>:gap:…").
 */
void units_replay_prefix(const struct config *cfg, char *out, size_t out_size);

/**
 * @brief The owner record key: "<name>:owner" for the default unit (and
 *        outside group mode), else "<name>:<unit>:owner".
 */
void units_owner_key(const struct config *cfg, char *out, size_t out_size);

/**
 * @brief Kafka client.id in group mode: "sfbridge-<name>-<hostname>-<pid>"
 *        (readable in kafka-consumer-groups --describe); "sfbridge-<name>"
 *        outside group mode.
 */
void units_client_id(const struct config *cfg, char *out, size_t out_size);

#endif
