/*
 * kafka_conf: the settings every client shares, each role's settings and
 * their order against kafka.properties, errors naming the property, secret
 * values never in an error, and librdkafka's logs routed through log_msg().
 * No broker is needed: confs are read back with rd_kafka_conf_get().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "config.h"
#include "kafka_conf.h"

struct fixture {
        struct config cfg;
        struct config_property props[4];
        char name[64];
        char bootstraps[64];
};

static int fixture_setup(void **state)
{
        struct fixture *fx = calloc(1, sizeof(*fx));

        assert_non_null(fx);
        snprintf(fx->name, sizeof(fx->name), "acme-prod");
        snprintf(fx->bootstraps, sizeof(fx->bootstraps), "kafka-1:9092,kafka-2:9092");
        fx->cfg.name = fx->name;
        fx->cfg.kafka.bootstrap_servers = fx->bootstraps;
        fx->cfg.kafka.replay_topic = "sfbridge.replay";
        fx->cfg.kafka.properties = fx->props;
        *state = fx;
        return 0;
}

static int fixture_teardown(void **state)
{
        free(*state);
        return 0;
}

static void set_props(struct fixture *fx, size_t n, ...)
{
        va_list ap;
        size_t i;

        va_start(ap, n);
        for (i = 0; i < n; i++) {
                fx->props[i].name = va_arg(ap, char *);
                fx->props[i].value = va_arg(ap, char *);
        }
        va_end(ap);
        fx->cfg.kafka.nproperties = n;
}

/* Fails the test unless property @p name of @p conf reads back as @p want. */
static void assert_conf(const rd_kafka_conf_t *conf, const char *name, const char *want)
{
        char value[512];
        size_t size = sizeof(value);

        if (rd_kafka_conf_get(conf, name, value, &size) != RD_KAFKA_CONF_OK)
                fail_msg("%s: not set", name);
        if (strcmp(value, want))
                fail_msg("%s: \"%s\", expected \"%s\"", name, value, want);
}

/* ---- the common settings ---- */

static void test_common_settings(void **state)
{
        struct fixture *fx = *state;
        rd_kafka_conf_t *conf;
        char errstr[512];
        char n0[] = "linger.ms", v0[] = "5";
        char n1[] = "security.protocol", v1[] = "ssl";
        char value[64];
        size_t size;

        set_props(fx, 2, n0, v0, n1, v1);
        conf = kafka_conf_new(&fx->cfg, KAFKA_CONF_PRODUCER, errstr, sizeof(errstr));
        assert_non_null(conf);
        assert_conf(conf, "client.id", "sfbridge-acme-prod");
        assert_conf(conf, "bootstrap.servers", "kafka-1:9092,kafka-2:9092");
        assert_conf(conf, "reconnect.backoff.max.ms", "1000");
        assert_conf(conf, "linger.ms", "5");
        assert_conf(conf, "security.protocol", "ssl");
        /* partition_by: key partitions as Kafka's Java clients do. */
        assert_conf(conf, "partitioner", "murmur2_random");
        rd_kafka_conf_destroy(conf);

        /* No name: the default one; no bootstrap servers: left unset. */
        fx->cfg.name = NULL;
        fx->cfg.kafka.bootstrap_servers = NULL;
        conf = kafka_conf_new(&fx->cfg, KAFKA_CONF_CONSUMER, errstr, sizeof(errstr));
        assert_non_null(conf);
        assert_conf(conf, "client.id", "sfbridge-sfbridge");
        /* librdkafka 2.0.2 answers UNKNOWN for a string property never set. */
        size = sizeof(value);
        assert_int_not_equal(rd_kafka_conf_get(conf, "bootstrap.servers", value, &size),
                             RD_KAFKA_CONF_OK);
        rd_kafka_conf_destroy(conf);
}

/* sfbridge's defaults come before kafka.properties, which may change them. */
static void test_properties_override_defaults(void **state)
{
        struct fixture *fx = *state;
        rd_kafka_conf_t *conf;
        char errstr[512];
        char n0[] = "reconnect.backoff.max.ms", v0[] = "5000";
        char n1[] = "client.id", v1[] = "mine";
        char n2[] = "partitioner", v2[] = "consistent_random";

        set_props(fx, 3, n0, v0, n1, v1, n2, v2);
        conf = kafka_conf_new(&fx->cfg, KAFKA_CONF_PRODUCER, errstr, sizeof(errstr));
        assert_non_null(conf);
        assert_conf(conf, "reconnect.backoff.max.ms", "5000");
        assert_conf(conf, "client.id", "mine");
        assert_conf(conf, "partitioner", "consistent_random");
        rd_kafka_conf_destroy(conf);
}

/* ---- the roles: set after kafka.properties, so they always hold ---- */

static void test_producer_role(void **state)
{
        struct fixture *fx = *state;
        rd_kafka_conf_t *conf;
        char errstr[512];
        char n0[] = "enable.idempotence", v0[] = "false";
        char n1[] = "acks", v1[] = "1";

        set_props(fx, 2, n0, v0, n1, v1);
        conf = kafka_conf_new(&fx->cfg, KAFKA_CONF_PRODUCER, errstr, sizeof(errstr));
        assert_non_null(conf);
        assert_conf(conf, "enable.idempotence", "true");
        assert_conf(conf, "acks", "-1");                        /* librdkafka's spelling of all */
        assert_conf(conf, "isolation.level", "read_committed"); /* librdkafka's default */
        assert_conf(conf, "enable.auto.commit", "true");        /* untouched */
        rd_kafka_conf_destroy(conf);
}

static void test_consumer_role(void **state)
{
        struct fixture *fx = *state;
        rd_kafka_conf_t *conf;
        char errstr[512];
        char n0[] = "isolation.level", v0[] = "read_uncommitted";
        char n1[] = "enable.auto.commit", v1[] = "true";
        char n2[] = "enable.auto.offset.store", v2[] = "true";

        set_props(fx, 3, n0, v0, n1, v1, n2, v2);
        conf = kafka_conf_new(&fx->cfg, KAFKA_CONF_CONSUMER, errstr, sizeof(errstr));
        assert_non_null(conf);
        assert_conf(conf, "isolation.level", "read_committed");
        assert_conf(conf, "enable.auto.commit", "false");
        assert_conf(conf, "enable.auto.offset.store", "false");
        assert_conf(conf, "enable.idempotence", "false"); /* untouched */
        rd_kafka_conf_destroy(conf);
}

/* ---- errors ---- */

static void test_errors_name_property_hide_secrets(void **state)
{
        struct fixture *fx = *state;
        rd_kafka_conf_t *conf;
        char errstr[512];
        char n0[] = "linger.ms", v0[] = "not-a-number";
        char n1[] = "sasl.oauthbearer.method", v1[] = "hunter2-very-secret";
        char n2[] = "no.such.property", v2[] = "x";
        char n3[] = "SASL.PASSWORD.bogus", v3[] = "hunter3-very-secret";
        char n4[] = "compression.type", v4[] = "zip";

        set_props(fx, 1, n0, v0);
        assert_null(kafka_conf_new(&fx->cfg, KAFKA_CONF_PRODUCER, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "kafka.properties: linger.ms:"));

        set_props(fx, 1, n1, v1);
        assert_null(kafka_conf_new(&fx->cfg, KAFKA_CONF_PRODUCER, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "kafka.properties: sasl.oauthbearer.method:"));
        assert_null(strstr(errstr, "hunter2"));

        set_props(fx, 1, n2, v2);
        assert_null(kafka_conf_new(&fx->cfg, KAFKA_CONF_PRODUCER, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "no.such.property"));

        /* The secret test is on the name, case-insensitively. */
        set_props(fx, 1, n3, v3);
        assert_null(kafka_conf_new(&fx->cfg, KAFKA_CONF_CONSUMER, errstr, sizeof(errstr)));
        assert_string_equal(errstr, "kafka.properties: SASL.PASSWORD.bogus: rejected by "
                                    "librdkafka (value not shown)");

        /* A property that is not secret keeps librdkafka's reason, value included. */
        set_props(fx, 1, n4, v4);
        assert_null(kafka_conf_new(&fx->cfg, KAFKA_CONF_PRODUCER, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "kafka.properties: compression.type: "));
        assert_non_null(strstr(errstr, "zip"));

        /* The first bad property of several is the one named. */
        set_props(fx, 3, n0, (char *)"5", n4, v4, n2, v2);
        assert_null(kafka_conf_new(&fx->cfg, KAFKA_CONF_PRODUCER, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "compression.type"));

        set_props(fx, 0);
        conf = kafka_conf_new(&fx->cfg, KAFKA_CONF_PRODUCER, errstr, sizeof(errstr));
        assert_non_null(conf);
        rd_kafka_conf_destroy(conf);
}

/*
 * Every word of config_property_is_secret()'s list hides a value here too
 * (librdkafka quotes the value of a rejected enum, as security.protocol
 * shows: that is what must never happen to these).
 */
static void test_secret_list_is_the_config_one(void **state)
{
        static const char *const names[] = {
            "x.password",    "x.SECRET",        "x.key.pem",
            "x.jaas.config", "x.oauthbearer.y", "ssl.key.bogus",
        };
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char errstr[512], want[256];
        size_t i;

        (void)state;
        assert_int_equal(kafka_conf_set(conf, "sfbridge", "security.protocol", "hunter4", errstr,
                                        sizeof(errstr)),
                         -1);
        assert_non_null(strstr(errstr, "hunter4"));
        for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                assert_true(config_property_is_secret(names[i]));
                assert_int_equal(kafka_conf_set(conf, "kafka.properties", names[i], "hunter5",
                                                errstr, sizeof(errstr)),
                                 -1);
                snprintf(want, sizeof(want),
                         "kafka.properties: %s: rejected by librdkafka (value not shown)",
                         names[i]);
                assert_string_equal(errstr, want);
        }
        assert_int_equal(
            kafka_conf_set(conf, "kafka.properties", "linger.ms", "7", errstr, sizeof(errstr)), 0);
        assert_conf(conf, "linger.ms", "7");
        rd_kafka_conf_destroy(conf);
}

/* A small error buffer truncates the message, never overflows. */
static void test_small_errstr(void **state)
{
        struct fixture *fx = *state;
        char errstr[16];
        char n0[] = "no.such.property", v0[] = "x";

        memset(errstr, 'x', sizeof(errstr));
        set_props(fx, 1, n0, v0);
        assert_null(kafka_conf_new(&fx->cfg, KAFKA_CONF_PRODUCER, errstr, sizeof(errstr)));
        assert_string_equal(errstr, "kafka.propertie");
}

/* ---- logs ---- */

/*
 * librdkafka warns, on the creating thread, about a consumer property given
 * to a producer; the warning must come out as one of our log lines.
 */
static void test_logs_go_through_log_msg(void **state)
{
        struct fixture *fx = *state;
        rd_kafka_conf_t *conf;
        rd_kafka_t *rk;
        char errstr[512], *text;
        char n0[] = "group.id", v0[] = "not-for-a-producer";
        FILE *fp;
        long len;
        int saved;

        set_props(fx, 1, n0, v0);
        fx->cfg.kafka.bootstrap_servers = NULL; /* no broker, no network */
        conf = kafka_conf_new(&fx->cfg, KAFKA_CONF_PRODUCER, errstr, sizeof(errstr));
        assert_non_null(conf);
        fflush(stderr);
        fp = tmpfile();
        assert_non_null(fp);
        saved = dup(STDERR_FILENO);
        assert_true(saved >= 0);
        assert_true(dup2(fileno(fp), STDERR_FILENO) >= 0);
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        fflush(stderr);
        dup2(saved, STDERR_FILENO);
        close(saved);
        assert_non_null(rk);
        rd_kafka_destroy(rk);
        len = ftell(fp);
        assert_true(len > 0);
        text = calloc(1, (size_t)len + 1);
        assert_non_null(text);
        rewind(fp);
        assert_int_equal(fread(text, 1, (size_t)len, fp), (size_t)len);
        fclose(fp);
        fputs(text, stderr);
        assert_non_null(strstr(text, "msg=kafka client=sfbridge-acme-prod#producer-"));
        assert_non_null(strstr(text, "group.id"));
        free(text);
}

/* kafka_conf_try() tells a refused name from a refused value (the loader
 * points at the key or at the value); the managed properties are refused. */
static void test_try_and_managed(void **state)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char err[512];

        (void)state;
        assert_int_equal(kafka_conf_try(conf, "linger.ms", "5", err, sizeof(err)), RD_KAFKA_CONF_OK);
        assert_int_equal(kafka_conf_try(conf, "compresion.type", "lz4", err, sizeof(err)),
                         RD_KAFKA_CONF_UNKNOWN);
        assert_string_equal(err, "No such configuration property: \"compresion.type\"");
        assert_int_equal(kafka_conf_try(conf, "compression.type", "lz5", err, sizeof(err)),
                         RD_KAFKA_CONF_INVALID);
        assert_non_null(strstr(err, "Invalid value \"lz5\""));
        assert_int_equal(kafka_conf_try(conf, "sasl.oauthbearer.method", "PLANTED", err, sizeof(err)),
                         RD_KAFKA_CONF_INVALID);
        assert_null(strstr(err, "PLANTED"));
        rd_kafka_conf_destroy(conf);

        assert_int_equal(kafka_conf_check_managed("transactional.id", "x", err, sizeof(err)), -1);
        assert_non_null(strstr(err, "set by sfbridge"));
        assert_int_equal(kafka_conf_check_managed("enable.idempotence", "false", err, sizeof(err)), -1);
        assert_int_equal(kafka_conf_check_managed("enable.idempotence", "TRUE", err, sizeof(err)), 0);
        assert_int_equal(kafka_conf_check_managed("acks", "1", err, sizeof(err)), -1);
        assert_int_equal(kafka_conf_check_managed("request.required.acks", "-1", err, sizeof(err)), 0);
        assert_int_equal(kafka_conf_check_managed("linger.ms", "5", err, sizeof(err)), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_common_settings, fixture_setup, fixture_teardown),
            cmocka_unit_test_setup_teardown(test_properties_override_defaults, fixture_setup,
                                            fixture_teardown),
            cmocka_unit_test_setup_teardown(test_producer_role, fixture_setup, fixture_teardown),
            cmocka_unit_test_setup_teardown(test_consumer_role, fixture_setup, fixture_teardown),
            cmocka_unit_test_setup_teardown(test_errors_name_property_hide_secrets, fixture_setup,
                                            fixture_teardown),
            cmocka_unit_test(test_secret_list_is_the_config_one),
            cmocka_unit_test_setup_teardown(test_small_errstr, fixture_setup, fixture_teardown),
            cmocka_unit_test_setup_teardown(test_logs_go_through_log_msg, fixture_setup,
                                            fixture_teardown),
            cmocka_unit_test(test_try_and_managed),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
