/*
 * librdkafka configuration from struct config: the settings every client of
 * the bridge shares, kafka.properties applied with each rd_kafka_conf_set()
 * checked, and librdkafka's logs routed through log_msg().
 */
#include "kafka_conf.h"
#include "units.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"

rd_kafka_conf_res_t kafka_conf_try(rd_kafka_conf_t *conf, const char *name, const char *value,
                                   char *errstr, size_t errstr_size)
{
        rd_kafka_conf_res_t res;
        char rderr[512];

        res = rd_kafka_conf_set(conf, name, value, rderr, sizeof(rderr));
        if (res == RD_KAFKA_CONF_OK)
                return res;
        /* librdkafka's own errstr quotes the rejected value, so for these
         * names we write our own message. */
        if (config_property_is_secret(name))
                snprintf(errstr, errstr_size, "rejected by librdkafka (value not shown)");
        else
                snprintf(errstr, errstr_size, "%s", rderr);
        return res;
}

int kafka_conf_set(rd_kafka_conf_t *conf, const char *origin, const char *name, const char *value,
                   char *errstr, size_t errstr_size)
{
        char why[512];

        if (kafka_conf_try(conf, name, value, why, sizeof(why)) == RD_KAFKA_CONF_OK)
                return 0;
        snprintf(errstr, errstr_size, "%s: %s: %s", origin, name, why);
        return -1;
}

/* Properties that decide the delivery guarantee are sfbridge's to set. */
int kafka_conf_check_managed(const char *name, const char *value, char *errstr, size_t errstr_size)
{
        if (!strcmp(name, "transactional.id")) {
                snprintf(errstr, errstr_size,
                         "set by sfbridge from name "
                         "(\"sfbridge-<name>\"); remove it");
                return -1;
        }
        if (!strcmp(name, "enable.idempotence") && strcasecmp(value, "true")) {
                snprintf(errstr, errstr_size,
                         "must stay true (both delivery modes need it)");
                return -1;
        }
        if ((!strcmp(name, "acks") || !strcmp(name, "request.required.acks")) &&
            strcasecmp(value, "all") && strcmp(value, "-1")) {
                snprintf(errstr, errstr_size, "must be all (or -1)");
                return -1;
        }
        return 0;
}

/* librdkafka logs from its own threads; log_msg() writes one line atomically. */
static void kafka_conf_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
        enum log_level lvl;
        char text[1024];
        size_t i;

        if (level <= 3)
                lvl = LOG_ERROR;
        else if (level == 4)
                lvl = LOG_WARN;
        else if (level <= 6)
                lvl = LOG_INFO;
        else
                lvl = LOG_DEBUG;
        /* Keep the logfmt value quotable: no double quotes inside. */
        snprintf(text, sizeof(text), "%s", buf);
        for (i = 0; text[i]; i++)
                if (text[i] == '"')
                        text[i] = '\'';
        log_msg(lvl, "kafka", "client=%s fac=%s text=\"%s\"", rd_kafka_name(rk), fac, text);
}

/*
 * What every client of a role needs, set after the user's properties so
 * kafka.properties cannot undo it: the sink's and `replay set`'s records
 * must not be duplicated or lost by a retry, and the readers must only see
 * committed records and never move a group's offsets.
 */
static const struct {
        enum kafka_conf_role role;
        const char *name;
        const char *value;
} role_settings[] = {
    {KAFKA_CONF_PRODUCER, "enable.idempotence", "true"},
    {KAFKA_CONF_PRODUCER, "acks", "all"},
    {KAFKA_CONF_CONSUMER, "isolation.level", "read_committed"},
    {KAFKA_CONF_CONSUMER, "enable.auto.commit", "false"},
    {KAFKA_CONF_CONSUMER, "enable.auto.offset.store", "false"},
};

rd_kafka_conf_t *kafka_conf_new(const struct config *cfg, enum kafka_conf_role role, char *errstr,
                                size_t errstr_size)
{
        rd_kafka_conf_t *conf;
        char client_id[256];
        size_t i;

        conf = rd_kafka_conf_new();
        if (!conf) {
                snprintf(errstr, errstr_size, "kafka: out of memory");
                return NULL;
        }
        units_client_id(cfg, client_id, sizeof(client_id));
        if (kafka_conf_set(conf, "sfbridge", "client.id", client_id, errstr, errstr_size))
                goto fail;
        /* librdkafka's default reconnect backoff grows to 10 s: a batch held
         * through a Kafka outage would wait that long after Kafka is back.
         * A default only: kafka.properties below may set it. */
        if (kafka_conf_set(conf, "sfbridge", "reconnect.backoff.max.ms", "1000", errstr,
                           errstr_size))
                goto fail;
        /* partition_by: key partitions as Kafka's Java clients do (murmur2
         * of the key); librdkafka's own default hashes with CRC32. A default
         * only: kafka.properties may choose another. */
        if (role == KAFKA_CONF_PRODUCER &&
            kafka_conf_set(conf, "sfbridge", "partitioner", "murmur2_random", errstr, errstr_size))
                goto fail;
        if (cfg->kafka.bootstrap_servers &&
            kafka_conf_set(conf, "kafka.bootstrap_servers", "bootstrap.servers",
                           cfg->kafka.bootstrap_servers, errstr, errstr_size))
                goto fail;
        for (i = 0; i < cfg->kafka.nproperties; i++) {
                const struct config_property *prop = &cfg->kafka.properties[i];

                if (kafka_conf_set(conf, "kafka.properties", prop->name, prop->value, errstr,
                                   errstr_size))
                        goto fail;
        }
        for (i = 0; i < sizeof(role_settings) / sizeof(role_settings[0]); i++)
                if (role_settings[i].role == role &&
                    kafka_conf_set(conf, "sfbridge", role_settings[i].name, role_settings[i].value,
                                   errstr, errstr_size))
                        goto fail;
        rd_kafka_conf_set_log_cb(conf, kafka_conf_log_cb);
        return conf;
fail:
        rd_kafka_conf_destroy(conf);
        return NULL;
}
