/*
 * config: coordination:, routes[].unit and orgs: as loaded: unit ids, the
 * grouping of routes by unit, labels, overrides, config_unit_view() and the
 * names units.c derives from a view; and that a file without them loads as
 * one unit "default" exactly as before. Error messages are in the
 * tests/data/config corpus (test_config).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "units.h"

#define SF(indent)                                      \
        indent "salesforce:\n"                          \
        indent "  login_url: https://%s.example.com\n"  \
        indent "  auth:\n"                              \
        indent "    flow: password\n"                   \
        indent "    client_id: cid\n"                   \
        indent "    client_secret: cs\n"                \
        indent "    username: u\n"                      \
        indent "    password: pw\n"

static struct config *load(const char *text)
{
        char err[2048] = "";
        struct config *cfg = config_load_string("t.yaml", text, strlen(text), err, sizeof(err));

        if (!cfg)
                fail_msg("load failed: %s", err);
        return cfg;
}

static char *fmt(const char *f, ...)
{
        static char buf[8192];
        va_list ap;

        va_start(ap, f);
        vsnprintf(buf, sizeof(buf), f, ap);
        va_end(ap);
        return buf;
}

static void test_single_instance(void **state)
{
        struct config *cfg = load(fmt(SF("") "kafka: { bootstrap_servers: k:9092 }\n"
                                      "routes:\n"
                                      "  - { channel: /event/B__e, topic: b }\n"
                                      "  - { channel: /event/A__e, topic: a }\n", "login"));
        struct config view;
        char buf[128];

        (void)state;
        assert_false(cfg->coord.enabled);
        assert_false(cfg->has_orgs);
        assert_int_equal(cfg->nwarnings, 0);
        assert_int_equal(cfg->norgs, 1);
        assert_string_equal(cfg->orgs[0].id, "default");
        assert_ptr_equal(cfg->orgs[0].sf.login_url, cfg->sf.login_url);
        assert_int_equal(cfg->nunits, 1);
        assert_string_equal(cfg->units[0].id, "default");
        assert_int_equal(cfg->units[0].nroutes, 2);
        assert_int_equal(cfg->units[0].partition, -1);
        /* File order kept. */
        assert_string_equal(cfg->routes[0].channel, "/event/B__e");
        assert_string_equal(cfg->routes[0].label, "/event/B__e");
        assert_null(cfg->unit);
        config_unit_view(cfg, 0, &view);
        assert_string_equal(view.unit, "default");
        assert_null(view.org_id);
        assert_ptr_equal(view.routes, cfg->routes);
        assert_int_equal(view.nroutes, 2);
        assert_true(units_is_default(&view));
        units_owner_key(&view, buf, sizeof(buf));
        assert_string_equal(buf, "sfbridge:owner");
        config_destroy(cfg);
}

static void test_units_and_orgs(void **state)
{
        struct config *cfg = load(fmt(
                "name: acme\n"
                SF("") "kafka: { bootstrap_servers: k:9092 }\n"
                "coordination:\n"
                "  partitions: { emea.cdc: 3 }\n"
                "routes:\n"
                "  - { channel: /data/ChangeEvents, topic: \"cdc.{entity}\", unit: cdc }\n"
                "  - { channel: /event/Order__e, topic: orders }\n"
                "  - { channel: /event/Other__e, topic: other, unit: cdc }\n"
                "orgs:\n"
                "  - id: emea\n"
                SF("    ")
                "    routes:\n"
                "      - { channel: /event/Order__e, topic: \"{org}.orders\" }\n"
                "      - { channel: /data/ChangeEvents, topic: \"{org}.cdc.{entity}\", unit: cdc }\n"
                "  - id: us\n"
                SF("    ")
                "    routes:\n"
                "      - { channel: /event/Order__e, topic: \"{org}.orders\" }\n",
                "login", "emea", "us"));
        struct config view;
        char buf[128];
        size_t u;

        (void)state;
        assert_true(cfg->coord.enabled);
        assert_true(cfg->has_orgs);
        assert_string_equal(cfg->coord.topic, "sfbridge.acme.units");
        assert_string_equal(cfg->coord.group, "sfbridge-acme-units");
        assert_int_equal(cfg->coord.session_timeout_ms, 6000);
        assert_int_equal(cfg->coord.heartbeat_interval_ms, 1000);
        assert_int_equal(cfg->coord.max_poll_interval_ms, 30000);
        assert_int_equal(cfg->coord.claim_grace_ms, 0);
        assert_int_equal(cfg->nwarnings, 0);
        assert_int_equal(cfg->norgs, 3);
        assert_string_equal(cfg->orgs[0].id, "default");
        assert_string_equal(cfg->orgs[1].id, "emea");
        assert_string_equal(cfg->orgs[1].sf.login_url, "https://emea.example.com");
        assert_string_equal(cfg->orgs[2].sf.login_url, "https://us.example.com");
        assert_non_null(cfg->orgs[2].sf.audience);
        /* Units in order of first appearance. */
        assert_int_equal(cfg->nunits, 5);
        assert_string_equal(cfg->units[0].id, "cdc");
        assert_string_equal(cfg->units[1].id, "default");
        assert_string_equal(cfg->units[2].id, "emea");
        assert_string_equal(cfg->units[3].id, "emea.cdc");
        assert_string_equal(cfg->units[4].id, "us");
        assert_int_equal(cfg->units[3].partition, 3);
        assert_int_equal(cfg->units[0].partition, -1);
        assert_int_equal(units_topic_partitions(cfg), 5);
        /* Routes grouped by unit, file order within. */
        assert_int_equal(cfg->units[0].first_route, 0);
        assert_int_equal(cfg->units[0].nroutes, 2);
        assert_string_equal(cfg->routes[0].channel, "/data/ChangeEvents");
        assert_string_equal(cfg->routes[1].channel, "/event/Other__e");
        assert_string_equal(cfg->routes[2].channel, "/event/Order__e");
        assert_string_equal(cfg->routes[2].label, "default:/event/Order__e");
        assert_string_equal(cfg->routes[3].label, "emea:/event/Order__e");
        assert_string_equal(cfg->routes[4].label, "emea:/data/ChangeEvents");
        for (u = 0; u < cfg->nunits; u++) {
                size_t r;

                for (r = cfg->units[u].first_route; r < cfg->units[u].first_route + cfg->units[u].nroutes; r++) {
                        assert_int_equal(cfg->routes[r].unit_index, u);
                        assert_int_equal(cfg->routes[r].org, cfg->units[u].org);
                }
        }
        /* A view of emea.cdc. */
        config_unit_view(cfg, 3, &view);
        assert_string_equal(view.unit, "emea.cdc");
        assert_string_equal(view.org_id, "emea");
        assert_string_equal(view.sf.login_url, "https://emea.example.com");
        assert_int_equal(view.nroutes, 1);
        assert_ptr_equal(view.routes, &cfg->routes[4]);
        units_txn_id(&view, buf, sizeof(buf));
        assert_string_equal(buf, "sfbridge-acme-emea.cdc");
        units_replay_prefix(&view, buf, sizeof(buf));
        assert_string_equal(buf, "acme:emea");
        units_owner_key(&view, buf, sizeof(buf));
        assert_string_equal(buf, "acme:emea.cdc:owner");
        /* The default org's default unit keeps the single-instance names. */
        config_unit_view(cfg, 1, &view);
        assert_null(view.org_id);
        assert_ptr_equal(view.sf.login_url, cfg->sf.login_url);
        units_owner_key(&view, buf, sizeof(buf));
        assert_string_equal(buf, "acme:owner");
        units_txn_id(&view, buf, sizeof(buf));
        assert_string_equal(buf, "sfbridge-acme");
        /* unit cdc of the default org: replay keys as a single instance's. */
        config_unit_view(cfg, 0, &view);
        units_replay_prefix(&view, buf, sizeof(buf));
        assert_string_equal(buf, "acme");
        units_owner_key(&view, buf, sizeof(buf));
        assert_string_equal(buf, "acme:cdc:owner");
        config_destroy(cfg);
}

/* orgs: only: no top-level salesforce:, no org "default". */
static void test_orgs_only(void **state)
{
        struct config *cfg = load(fmt(
                "kafka: { bootstrap_servers: k:9092 }\n"
                "coordination: { topic: units, group: g, session_timeout_ms: 9000, "
                "heartbeat_interval_ms: 3000, max_poll_interval_ms: 9000, claim_grace_ms: 500 }\n"
                "orgs:\n"
                "  - id: us\n"
                SF("    ")
                "    routes:\n"
                "      - { channel: /event/Order__e, topic: orders }\n"
                "  - id: emea\n"
                SF("    ")
                "    routes:\n"
                "      - { channel: /event/Order__e, topic: orders }\n",
                "us", "emea"));
        struct config view;

        (void)state;
        assert_string_equal(cfg->coord.topic, "units");
        assert_string_equal(cfg->coord.group, "g");
        assert_int_equal(cfg->coord.claim_grace_ms, 500);
        /* heartbeat 3000 is not below 9000 / 3: warned. */
        assert_int_equal(cfg->nwarnings, 1);
        assert_non_null(strstr(cfg->warnings[0], "coordination.heartbeat_interval_ms"));
        assert_int_equal(cfg->norgs, 2);
        assert_string_equal(cfg->orgs[0].id, "us");
        assert_int_equal(cfg->nunits, 2);
        assert_string_equal(cfg->units[0].id, "us");
        assert_int_equal(cfg->units[0].org, 0);
        assert_int_equal(cfg->routes[1].org, 1);
        config_unit_view(cfg, 1, &view);
        assert_string_equal(view.org_id, "emea");
        assert_string_equal(view.sf.login_url, "https://emea.example.com");
        config_destroy(cfg);
}

static void note(const char *path, void *arg)
{
        char *out = arg;

        strcat(out, path);
        strcat(out, ",");
}

/* SIGHUP: orgs, units and coordination changes are named (a restart applies them). */
static void test_diff(void **state)
{
        const char *base = "kafka: { bootstrap_servers: k:9092 }\n"
                           "coordination: { session_timeout_ms: %d }\n"
                           "orgs:\n"
                           "  - id: %s\n"
                           SF("    ")
                           "    routes:\n"
                           "      - { channel: /event/Order__e, topic: orders }\n";
        struct config *a = load(fmt(base, 6000, "us", "us"));
        struct config *b = load(fmt(base, 6000, "us", "us2"));
        struct config *c = load(fmt(base, 7000, "eu", "us"));
        char out[512] = "";

        (void)state;
        assert_int_equal(config_diff(a, b, note, out), 1);
        assert_string_equal(out, "orgs,");
        out[0] = '\0';
        assert_int_equal(config_diff(a, c, note, out), 2);
        assert_string_equal(out, "coordination.session_timeout_ms,orgs,");
        /* No credential moves in place in group mode. */
        assert_int_equal(config_swap_value(a, b, "salesforce.auth.password"), -1);
        config_destroy(a);
        config_destroy(b);
        config_destroy(c);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_single_instance),
                cmocka_unit_test(test_units_and_orgs),
                cmocka_unit_test(test_orgs_only),
                cmocka_unit_test(test_diff),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
