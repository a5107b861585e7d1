/*
 * The one place a librdkafka configuration is built from struct config, so
 * the sink, the replay store and the fence connect the same way and show a
 * rejected property the same way: named, its value hidden when the name is
 * secret-looking (config_property_is_secret(), the list the config loader
 * also hides in its echoes).
 */
#ifndef SFB_KAFKA_CONF_H
#define SFB_KAFKA_CONF_H

#include <stddef.h>
#include <librdkafka/rdkafka.h>
#include "config.h"

/* What the client is for; each role adds the settings all its users share. */
enum kafka_conf_role {
        /* enable.idempotence=true, acks=all (and, by default,
         * partitioner=murmur2_random): the sink, `replay set` */
        KAFKA_CONF_PRODUCER,
        /* isolation.level=read_committed, enable.auto.commit=false,
         * enable.auto.offset.store=false: the replay store's reader, the fence
         * watcher (both assign() partitions, never join their group) */
        KAFKA_CONF_CONSUMER
};

/**
 * @brief A librdkafka configuration for @p cfg, in this order:
 *        client.id "sfbridge-<name>"; reconnect.backoff.max.ms=1000 (a
 *        default only); bootstrap.servers from kafka.bootstrap_servers;
 *        every kafka.properties entry, in file order; then the settings of
 *        @p role, after the user's so they cannot be undone; and a log
 *        callback that routes librdkafka's logs through log_msg().
 * @returns a new conf (hand it to rd_kafka_new() or rd_kafka_conf_destroy()
 *          it), or NULL with errstr as "<origin>: <property>: <reason>",
 *          origin being "kafka.properties", "kafka.bootstrap_servers" or
 *          "sfbridge". The value of a property whose name
 *          config_property_is_secret() is never echoed.
 * @remark The caller adds what is its own (group.id, transactional.id,
 *         callbacks, opaque) with kafka_conf_set() and the rd_kafka_conf_set_*
 *         functions.
 * @locality any thread.
 */
rd_kafka_conf_t *kafka_conf_new(const struct config *cfg, enum kafka_conf_role role, char *errstr,
                                size_t errstr_size);

/**
 * @brief Set one librdkafka property, errstr naming it (origin is the config
 *        path shown, e.g. "kafka.properties"); secret values never echoed.
 * @returns 0 or -1 with errstr.
 */
int kafka_conf_set(rd_kafka_conf_t *conf, const char *origin, const char *name, const char *value,
                   char *errstr, size_t errstr_size);

/**
 * @brief Set one librdkafka property as kafka_conf_set() does, and say
 *        whether librdkafka refused the name or the value: the config
 *        loader validates kafka.properties this way on a scratch conf, so
 *        `check` and `run` refuse the same properties with the same words.
 * @returns RD_KAFKA_CONF_OK, or RD_KAFKA_CONF_UNKNOWN (no such property) /
 *          RD_KAFKA_CONF_INVALID (bad value) with librdkafka's reason in
 *          errstr (the value hidden when config_property_is_secret(name)).
 */
rd_kafka_conf_res_t kafka_conf_try(rd_kafka_conf_t *conf, const char *name, const char *value,
                                   char *errstr, size_t errstr_size);

/**
 * @brief Refuse the kafka.properties that would undo the delivery guarantee:
 *        transactional.id (sfbridge derives it from name), enable.idempotence
 *        other than true, acks other than all/-1. The sink checks at start and
 *        the config loader at load, so `check` refuses them too.
 * @returns 0, or -1 with errstr saying why (without the property's name).
 */
int kafka_conf_check_managed(const char *name, const char *value, char *errstr, size_t errstr_size);

#endif
