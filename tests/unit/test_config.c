/*
 * config: good files for every flow, defaults, every error message (the
 * data-driven tests/data/config/NAME.yaml + NAME.err / NAME.warn corpus),
 * secrets that never reach a message, the examples in config/, and (plain
 * build only) every allocation failing in turn.
 *
 * Runs from the repository root (SFB_ROOT when the runner sets it): the
 * expected messages hold paths relative to it.
 */
#define _GNU_SOURCE /* RTLD_NEXT */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

#define DATA_DIR "tests/data/config"
#define KEY_FILE "tests/certs/jwt.key" /* make certs */

/* Every secret the tests plant starts with this; no output may hold it. */
#define PLANTED "PLANTED-S3CRET"

static void set_test_env(void)
{
        setenv("SF_CLIENT_ID", "test-client-id", 1);
        setenv("SF_CLIENT_SECRET", PLANTED "-client", 1);
        setenv("SF_USERNAME", "user@example.com", 1);
        setenv("SF_PASSWORD", PLANTED "-pw", 1);
        setenv("SF_REFRESH_TOKEN", PLANTED "-rt", 1);
        setenv("SF_PRIVATE_KEY_FILE", KEY_FILE, 1);
        setenv("SF_LOGIN_URL", "https://acme.my.salesforce.com", 1);
        setenv("SFSIM_URL", "http://127.0.0.1:8080", 1);
        setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092", 1);
        setenv("SFB_TEST_EMPTY", "", 1);
        unsetenv("SFB_TEST_UNSET_VAR");
        unsetenv("SF_CA_FILE");
        unsetenv("SF_PROXY");
        unsetenv("SFSIM_CA_FILE");
        unsetenv("SFB_STALL_TIMEOUT_S");
        unsetenv("SFB_METRICS_LISTEN");
}

static int setup(void **state)
{
        const char *root = getenv("SFB_ROOT");

        (void)state;
        if (root && chdir(root) == -1) {
                fprintf(stderr, "chdir %s: %s\n", root, strerror(errno));
                return -1;
        }
        if (access(DATA_DIR, R_OK) == -1) {
                fprintf(stderr, "%s: %s (run from the repository root)\n", DATA_DIR, strerror(errno));
                return -1;
        }
        set_test_env();
        return 0;
}

static char *read_file(const char *path)
{
        FILE *fp = fopen(path, "rb");
        char *s;
        long n;

        if (!fp)
                return NULL;
        fseek(fp, 0, SEEK_END);
        n = ftell(fp);
        rewind(fp);
        s = calloc(1, (size_t)n + 1);
        if (s && fread(s, 1, (size_t)n, fp) != (size_t)n) {
                free(s);
                s = NULL;
        }
        fclose(fp);
        return s;
}

static void assert_no_secret(const char *what, const char *text)
{
        if (text && strstr(text, PLANTED))
                fail_msg("%s shows a secret:\n%s", what, text);
}

static void assert_no_secret_in(const struct config *cfg, const char *err)
{
        size_t i;

        assert_no_secret("error", err);
        for (i = 0; cfg && i < cfg->nwarnings; i++)
                assert_no_secret("warning", cfg->warnings[i]);
}

static struct config *load_text(const char *text, char *err, size_t err_size)
{
        struct config *cfg = config_load_string("test.yaml", text, strlen(text), err, err_size);

        assert_no_secret_in(cfg, err);
        return cfg;
}

static struct config *must_load(const char *text)
{
        char err[1024] = "";
        struct config *cfg = load_text(text, err, sizeof(err));

        if (!cfg)
                fail_msg("loading failed: %s", err);
        return cfg;
}

static void expect_error(const char *text, const char *want)
{
        char err[1024] = "";
        struct config *cfg = load_text(text, err, sizeof(err));

        if (cfg) {
                config_destroy(cfg);
                fail_msg("loaded, expected: %s", want);
        }
        assert_string_equal(err, want);
}

/*
 * The corpus: every NAME.yaml has NAME.err (the exact error) or NAME.warn
 * (loads; the exact warnings, one a line; empty for none).
 */
static void test_corpus(void **state)
{
        char path[512], err[2048], *want, *got;
        struct dirent *de;
        size_t n, i, o, errors = 0, warns = 0;
        struct config *cfg;
        DIR *dir;

        (void)state;
        assert_non_null(dir = opendir(DATA_DIR));
        while ((de = readdir(dir))) {
                n = strlen(de->d_name);
                if (n < 6 || strcmp(de->d_name + n - 5, ".yaml") != 0)
                        continue;
                snprintf(path, sizeof(path), "%s/%.*s.err", DATA_DIR, (int)(n - 5), de->d_name);
                if (!(want = read_file(path))) {
                        snprintf(path, sizeof(path), "%s/%.*s.warn", DATA_DIR, (int)(n - 5), de->d_name);
                        if (!(want = read_file(path)))
                                fail_msg("%s has neither a .err nor a .warn file", de->d_name);
                }
                /* The files end in a newline; the messages do not. */
                if (want[0] && want[strlen(want) - 1] == '\n')
                        want[strlen(want) - 1] = '\0';
                snprintf(path, sizeof(path), "%s/%s", DATA_DIR, de->d_name);
                err[0] = '\0';
                cfg = config_load(path, err, sizeof(err));
                assert_no_secret_in(cfg, err);
                got = NULL;
                if (cfg) {
                        /* Join the warnings as the .warn file holds them. */
                        got = calloc(1, 4096);
                        assert_non_null(got);
                        /* The file's mode is the checkout's, not the corpus's:
                         * the warning on a readable literal secret is left out
                         * (test_readable_secret_warns has it). */
                        for (i = 0, o = 0; i < cfg->nwarnings; i++)
                                if (!strstr(cfg->warnings[i], "which group or others can read"))
                                        o += (size_t)snprintf(got + o, 4096 - o, "%s%s", o ? "\n" : "",
                                                              cfg->warnings[i]);
                        warns++;
                } else {
                        errors++;
                }
                snprintf(path, sizeof(path), "%s/%.*s.err", DATA_DIR, (int)(n - 5), de->d_name);
                if (access(path, F_OK) == 0) {
                        if (cfg)
                                fail_msg("%s loaded; expected the error\n%s", de->d_name, want);
                        if (strcmp(err, want) != 0)
                                fail_msg("%s:\n got: %s\nwant: %s", de->d_name, err, want);
                } else {
                        if (!cfg)
                                fail_msg("%s failed: %s", de->d_name, err);
                        if (strcmp(got, want) != 0)
                                fail_msg("%s warnings:\n got: %s\nwant: %s", de->d_name, got, want);
                }
                free(got);
                free(want);
                config_destroy(cfg);
        }
        closedir(dir);
        /* The walk really walked. */
        assert_true(errors >= 70);
        assert_true(warns >= 3);
}

#define AUTH_PASSWORD_YAML                              \
        "  auth:\n"                                     \
        "    flow: password\n"                          \
        "    client_id: ${SF_CLIENT_ID}\n"              \
        "    client_secret: ${SF_CLIENT_SECRET}\n"      \
        "    username: ${SF_USERNAME}\n"                \
        "    password: ${SF_PASSWORD}\n"

#define MIN_REST                                        \
        "kafka:\n"                                      \
        "  bootstrap_servers: localhost:9092\n"         \
        "routes:\n"                                     \
        "  - channel: /topic/AccountUpdates\n"          \
        "    topic: salesforce.accounts\n"

static void test_defaults(void **state)
{
        struct config *cfg;
        const struct config_route *rt;

        (void)state;
        cfg = must_load("salesforce:\n" AUTH_PASSWORD_YAML MIN_REST);
        assert_string_equal(cfg->path, "test.yaml");
        assert_string_equal(cfg->name, "sfbridge");
        assert_string_equal(cfg->sf.login_url, "https://login.salesforce.com");
        assert_string_equal(cfg->sf.api_version, "59.0");
        assert_int_equal(cfg->sf.flow, AUTH_PASSWORD);
        assert_string_equal(cfg->sf.client_id, "test-client-id");
        assert_string_equal(cfg->sf.client_secret, PLANTED "-client");
        assert_string_equal(cfg->sf.username, "user@example.com");
        assert_string_equal(cfg->sf.password, PLANTED "-pw");
        assert_null(cfg->sf.private_key_file);
        assert_null(cfg->sf.refresh_token);
        assert_null(cfg->sf.ca_file);
        assert_null(cfg->sf.proxy);
        assert_int_equal(cfg->sf.stall_timeout_s, 150);
        assert_int_equal(cfg->sf.limit_backoff_s, 60);
        assert_int_equal(cfg->sf.limits_poll_s, 300);
        assert_true(cfg->sf.max_response_bytes == 10u * 1024 * 1024);
        assert_string_equal(cfg->kafka.bootstrap_servers, "localhost:9092");
        assert_int_equal(cfg->kafka.delivery, DELIVERY_EXACTLY_ONCE);
        assert_string_equal(cfg->kafka.replay_topic, "sfbridge.replay");
        assert_int_equal(cfg->kafka.max_in_flight, 10000);
        assert_true(cfg->kafka.max_in_flight_bytes == 64u * 1024 * 1024);
        assert_int_equal(cfg->kafka.nproperties, 0);
        assert_int_equal(cfg->on_invalid_replay, INVALID_REPLAY_ALL);
        assert_int_equal(cfg->on_route_error, ROUTE_ERROR_QUARANTINE);
        assert_string_equal(cfg->metrics_listen, "127.0.0.1:9464");
        assert_int_equal(cfg->nroutes, 1);
        rt = &cfg->routes[0];
        assert_string_equal(rt->channel, "/topic/AccountUpdates");
        assert_string_equal(rt->topic, "salesforce.accounts");
        assert_int_equal(rt->key, ROUTE_KEY_REPLAY_ID);
        assert_int_equal(rt->value, ROUTE_VALUE_DATA);
        /* Not a /data/ channel: the whole channel in one partition. */
        assert_int_equal(rt->partition_by, ROUTE_PARTITION_CHANNEL);
        assert_true(rt->start == REPLAY_NEW);
        assert_int_equal(rt->on_invalid_replay, INVALID_REPLAY_ALL);
        assert_int_equal(rt->line, 11);
        assert_int_equal(cfg->nwarnings, 0);
        config_destroy(cfg);
}

static void test_flow_jwt(void **state)
{
        struct config *cfg;

        (void)state;
        cfg = must_load("salesforce:\n"
                        "  auth:\n"
                        "    flow: jwt\n"
                        "    client_id: ${SF_CLIENT_ID}\n"
                        "    username: ${SF_USERNAME}\n"
                        "    private_key_file: ${SF_PRIVATE_KEY_FILE}\n" MIN_REST);
        assert_int_equal(cfg->sf.flow, AUTH_JWT);
        assert_string_equal(cfg->sf.client_id, "test-client-id");
        assert_string_equal(cfg->sf.username, "user@example.com");
        assert_string_equal(cfg->sf.private_key_file, KEY_FILE);
        assert_null(cfg->sf.client_secret);
        assert_null(cfg->sf.password);
        assert_null(cfg->sf.refresh_token);
        assert_int_equal(cfg->nwarnings, 0);
        config_destroy(cfg);
}

static void test_flow_refresh_token(void **state)
{
        struct config *cfg;

        (void)state;
        cfg = must_load("salesforce:\n"
                        "  auth:\n"
                        "    flow: refresh_token\n"
                        "    client_id: ${SF_CLIENT_ID}\n"
                        "    client_secret: ${SF_CLIENT_SECRET}\n"
                        "    refresh_token: ${SF_REFRESH_TOKEN}\n" MIN_REST);
        assert_int_equal(cfg->sf.flow, AUTH_REFRESH_TOKEN);
        assert_string_equal(cfg->sf.client_secret, PLANTED "-client");
        assert_string_equal(cfg->sf.refresh_token, PLANTED "-rt");
        assert_null(cfg->sf.username);
        assert_null(cfg->sf.password);
        assert_null(cfg->sf.private_key_file);
        assert_int_equal(cfg->nwarnings, 0);
        config_destroy(cfg);
}

static void test_flow_client_credentials(void **state)
{
        struct config *cfg;

        (void)state;
        cfg = must_load("salesforce:\n"
                        "  login_url: https://acme.my.salesforce.com/\n"
                        "  auth:\n"
                        "    flow: client_credentials\n"
                        "    client_id: ${SF_CLIENT_ID}\n"
                        "    client_secret: ${SF_CLIENT_SECRET}\n" MIN_REST);
        assert_int_equal(cfg->sf.flow, AUTH_CLIENT_CREDENTIALS);
        assert_string_equal(cfg->sf.login_url, "https://acme.my.salesforce.com/");
        assert_string_equal(cfg->sf.client_secret, PLANTED "-client");
        assert_null(cfg->sf.username);
        assert_int_equal(cfg->nwarnings, 0);
        config_destroy(cfg);
}

/* The JWT aud follows the login URL unless given: login, or test for sandboxes. */
static void test_audience_default(void **state)
{
        static const struct {
                const char *login_url, *audience;
        } cases[] = {
                { NULL, "https://login.salesforce.com" },
                { "https://login.salesforce.com", "https://login.salesforce.com" },
                { "https://test.salesforce.com/", "https://test.salesforce.com" },
                { "https://TEST.salesforce.com", "https://test.salesforce.com" },
                { "https://acme--uat.sandbox.my.salesforce.com", "https://test.salesforce.com" },
                { "https://acme.my.salesforce.com", "https://login.salesforce.com" },
                { "http://127.0.0.1:8080", "https://login.salesforce.com" },
        };
        char text[1024];
        struct config *cfg;
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                snprintf(text, sizeof(text), "salesforce:\n%s%s%s  auth:\n    flow: jwt\n"
                         "    client_id: x\n    username: u\n    private_key_file: " KEY_FILE "\n" MIN_REST,
                         cases[i].login_url ? "  login_url: " : "",
                         cases[i].login_url ? cases[i].login_url : "", cases[i].login_url ? "\n" : "");
                cfg = must_load(text);
                assert_string_equal(cfg->sf.audience, cases[i].audience);
                /* Plain http (the emulator) warns that the credentials go in clear. */
                assert_int_equal(cfg->nwarnings,
                                 cases[i].login_url && !strncmp(cases[i].login_url, "http://", 7));
                config_destroy(cfg);
        }
        /* Given: kept as is, even against a sandbox login URL. */
        cfg = must_load("salesforce:\n  login_url: https://test.salesforce.com\n  auth:\n    flow: jwt\n"
                        "    client_id: x\n    username: u\n    private_key_file: " KEY_FILE "\n"
                        "    audience: https://acme.my.site.com/customers\n" MIN_REST);
        assert_string_equal(cfg->sf.audience, "https://acme.my.site.com/customers");
        config_destroy(cfg);
        expect_error("salesforce:\n  auth:\n    flow: jwt\n    client_id: x\n    username: u\n"
                     "    private_key_file: " KEY_FILE "\n    audience: login.salesforce.com\n" MIN_REST,
                     "test.yaml:7:15: salesforce.auth.audience: must be an http:// or https:// URL, "
                     "found \"login.salesforce.com\"\n>>>     audience: login.salesforce.com");
}

/* Every key set to a non-default value, ${} in several places. */
static void test_every_key(void **state)
{
        struct config *cfg;
        const struct config_route *rt;

        (void)state;
        setenv("SFB_TEST_TIMEOUT", "42", 1);
        cfg = must_load("name: acme-prod.eu_1\n"
                        "salesforce:\n"
                        "  login_url: http://127.0.0.1:${SFB_TEST_UNSET_VAR:-8443}\n"
                        "  api_version: 37.0\n"
                        "  ca_file: " KEY_FILE "\n"
                        "  proxy: http://proxy:3128\n"
                        "  stall_timeout_s: ${SFB_TEST_TIMEOUT}\n"
                        "  limit_backoff_s: 3600\n"
                        "  max_response_bytes: 1073741824\n" AUTH_PASSWORD_YAML
                        "kafka:\n"
                        "  bootstrap_servers: 'a:9092,b:9092'\n"
                        "  delivery: at_least_once\n"
                        "  replay_topic: acme.replay-ids\n"
                        "  dead_letter_topic: acme.dead-letters\n"
                        "  max_in_flight: 1\n"
                        "  properties:\n"
                        "    linger.ms: 5\n"
                        "    enable.ssl.certificate.verification: false\n"
                        "    sasl.password: ${SF_PASSWORD}\n"
                        "    client.id: \"pa$$word ${SFB_TEST_EMPTY}x\"\n"
                        "on_invalid_replay: new\n"
                        "metrics:\n"
                        "  listen: '[::1]:0'\n"
                        "routes:\n"
                        "  - channel: /topic/AccountUpdates?Type=Customer\n"
                        "    topic: salesforce.accounts\n"
                        "    key: none\n"
                        "    value: message\n"
                        "    start: all\n"
                        "    on_invalid_replay: fail\n"
                        "    partition_by: record_id\n"
                        "  - {channel: /data/ChangeEvents, topic: 'cdc.{entity}', key: record_id, value: payload}\n"
                        "  - channel: /event/Order_Placed__e\n"
                        "    topic: orders\n"
                        "    key: event_uuid\n"
                        "    partition_by: key\n"
                        "  - channel: /u/Notifications\n"
                        "    topic: \"${SFB_TEST_UNSET_VAR:-notifications}\"\n"
                        "  - channel: /data/AccountChangeEvent\n"
                        "    topic: accounts\n"
                        "    partition_by: channel\n");
        unsetenv("SFB_TEST_TIMEOUT");
        assert_string_equal(cfg->name, "acme-prod.eu_1");
        assert_string_equal(cfg->sf.login_url, "http://127.0.0.1:8443");
        assert_string_equal(cfg->sf.api_version, "37.0");
        assert_string_equal(cfg->sf.ca_file, KEY_FILE);
        assert_string_equal(cfg->sf.proxy, "http://proxy:3128");
        assert_int_equal(cfg->sf.stall_timeout_s, 42);
        assert_int_equal(cfg->sf.limit_backoff_s, 3600);
        assert_true(cfg->sf.max_response_bytes == 1073741824u);
        assert_string_equal(cfg->kafka.bootstrap_servers, "a:9092,b:9092");
        assert_int_equal(cfg->kafka.delivery, DELIVERY_AT_LEAST_ONCE);
        assert_string_equal(cfg->kafka.replay_topic, "acme.replay-ids");
        assert_string_equal(cfg->kafka.dead_letter_topic, "acme.dead-letters");
        assert_int_equal(cfg->kafka.max_in_flight, 1);
        assert_int_equal(cfg->kafka.nproperties, 4);
        assert_string_equal(cfg->kafka.properties[0].name, "linger.ms");
        assert_string_equal(cfg->kafka.properties[0].value, "5");
        assert_string_equal(cfg->kafka.properties[1].name, "enable.ssl.certificate.verification");
        assert_string_equal(cfg->kafka.properties[1].value, "false");
        assert_string_equal(cfg->kafka.properties[2].name, "sasl.password");
        assert_string_equal(cfg->kafka.properties[2].value, PLANTED "-pw");
        assert_string_equal(cfg->kafka.properties[3].value, "pa$word x");
        assert_int_equal(cfg->on_invalid_replay, INVALID_REPLAY_NEW);
        assert_string_equal(cfg->metrics_listen, "[::1]:0");
        assert_int_equal(cfg->nroutes, 5);

        rt = &cfg->routes[0];
        assert_string_equal(rt->channel, "/topic/AccountUpdates?Type=Customer");
        assert_int_equal(rt->key, ROUTE_KEY_NONE);
        assert_int_equal(rt->value, ROUTE_VALUE_MESSAGE);
        assert_true(rt->start == REPLAY_ALL);
        assert_int_equal(rt->on_invalid_replay, INVALID_REPLAY_FAIL);
        assert_int_equal(rt->partition_by, ROUTE_PARTITION_RECORD_ID);
        assert_int_equal(rt->line, 31);
        rt = &cfg->routes[1];
        assert_string_equal(rt->topic, "cdc.{entity}");
        assert_int_equal(rt->key, ROUTE_KEY_RECORD_ID);
        assert_int_equal(rt->value, ROUTE_VALUE_PAYLOAD);
        assert_true(rt->start == REPLAY_NEW);
        /* No own on_invalid_replay: the top-level one, even though the
         * top-level key comes before the routes here... */
        assert_int_equal(rt->on_invalid_replay, INVALID_REPLAY_NEW);
        /* A /data/ channel: one record's events in one partition by default. */
        assert_int_equal(rt->partition_by, ROUTE_PARTITION_RECORD_ID);
        assert_int_equal(rt->line, 38);
        assert_int_equal(cfg->routes[2].key, ROUTE_KEY_EVENT_UUID);
        assert_int_equal(cfg->routes[2].partition_by, ROUTE_PARTITION_KEY);
        assert_string_equal(cfg->routes[3].topic, "notifications");
        assert_int_equal(cfg->routes[3].partition_by, ROUTE_PARTITION_CHANNEL);
        /* An explicit value wins over the /data/ default. */
        assert_int_equal(cfg->routes[4].partition_by, ROUTE_PARTITION_CHANNEL);
        /* Only the plain-http login URL's. */
        assert_int_equal(cfg->nwarnings, 1);
        assert_non_null(strstr(cfg->warnings[0], "salesforce.login_url: http:// sends the password "
                                                 "and client secret in clear; use https://"));
        config_destroy(cfg);
}

/* ... and after them. */
static void test_route_inherits_later_global(void **state)
{
        struct config *cfg;

        (void)state;
        cfg = must_load("salesforce:\n" AUTH_PASSWORD_YAML MIN_REST "on_invalid_replay: fail\n");
        assert_int_equal(cfg->routes[0].on_invalid_replay, INVALID_REPLAY_FAIL);
        config_destroy(cfg);
}

static void test_find_route(void **state)
{
        struct config *cfg;

        (void)state;
        cfg = must_load("salesforce:\n" AUTH_PASSWORD_YAML
                        "kafka:\n"
                        "  bootstrap_servers: localhost:9092\n"
                        "routes:\n"
                        "  - channel: /topic/AccountUpdates?Type=Customer\n"
                        "    topic: a\n"
                        "  - channel: /event/Order_Placed__e\n"
                        "    topic: b\n"
                        "  - channel: /topic/Account\n"
                        "    topic: c\n");
        assert_ptr_equal(config_find_route(cfg, "/topic/AccountUpdates"), &cfg->routes[0]);
        assert_ptr_equal(config_find_route(cfg, "/topic/AccountUpdates?Type=Customer"), &cfg->routes[0]);
        assert_ptr_equal(config_find_route(cfg, "/topic/AccountUpdates?Type=Partner"), &cfg->routes[0]);
        assert_ptr_equal(config_find_route(cfg, "/event/Order_Placed__e"), &cfg->routes[1]);
        assert_ptr_equal(config_find_route(cfg, "/event/Order_Placed__e?x"), &cfg->routes[1]);
        assert_ptr_equal(config_find_route(cfg, "/topic/Account"), &cfg->routes[2]);
        assert_null(config_find_route(cfg, "/topic/AccountUpdate"));
        assert_null(config_find_route(cfg, "/topic/AccountUpdatesX"));
        assert_null(config_find_route(cfg, "/topic/Acc"));
        assert_null(config_find_route(cfg, "/event/Order_Placed__"));
        assert_null(config_find_route(cfg, ""));
        assert_null(config_find_route(cfg, "?Type=Customer"));
        config_destroy(cfg);
}

/* Every channel form Salesforce accepts loads, without a warning. */
static void test_channel_kinds(void **state)
{
        static const char *const channels[] = {
                "/topic/AccountUpdates?Type=Customer", "/event/Order_Placed__e",
                "/event/ns__Order_Placed__e", "/event/MyChannel__chn", "/event/LoginEventStream",
                "/event/LogoutEventStream", "/event/LightningUriEventStream", "/event/ApiEventStream",
                "/event/ReportEventStream", "/event/ListViewEventStream", "/event/UriEventStream",
                "/event/BatchApexErrorEvent", "/data/ChangeEvents", "/data/AccountChangeEvent",
                "/data/Order__ChangeEvent", "/data/MyChannel__chn", "/u/Notifications",
        };
        char text[4096];
        struct config *cfg;
        size_t i, n;

        (void)state;
        n = (size_t)snprintf(text, sizeof(text), "salesforce:\n" AUTH_PASSWORD_YAML
                             "kafka:\n  bootstrap_servers: localhost:9092\nroutes:\n");
        for (i = 0; i < sizeof(channels) / sizeof(channels[0]); i++)
                n += (size_t)snprintf(text + n, sizeof(text) - n,
                                      "  - channel: %s\n    topic: t%zu%s\n", channels[i], i,
                                      strncmp(channels[i], "/data/", 6) == 0 ? ".{entity}" : "");
        assert_true(n < sizeof(text));
        cfg = must_load(text);
        assert_int_equal(cfg->nroutes, sizeof(channels) / sizeof(channels[0]));
        for (i = 0; i < cfg->nroutes; i++)
                assert_string_equal(cfg->routes[i].channel, channels[i]);
        if (cfg->nwarnings)
                fail_msg("unexpected warning: %s", cfg->warnings[0]);
        config_destroy(cfg);
}

/* What Salesforce would refuse is refused here, with file:line:column. */
static void test_channel_refused(void **state)
{
        (void)state;
        expect_error("salesforce:\n" AUTH_PASSWORD_YAML MIN_REST "  - channel: /event/Foo__x\n    topic: t\n",
                     "test.yaml:13:14: routes[1].channel: unknown suffix: a custom platform event ends in "
                     "__e (/event/Order_Placed__e), a custom channel in __chn (/event/MyChannel__chn); "
                     "found \"/event/Foo__x\"\n"
                     ">>>   - channel: /event/Foo__x");
        expect_error("salesforce:\n" AUTH_PASSWORD_YAML MIN_REST "  - channel: /event/__e\n    topic: t\n",
                     "test.yaml:13:14: routes[1].channel: unknown suffix: a custom platform event ends in "
                     "__e (/event/Order_Placed__e), a custom channel in __chn (/event/MyChannel__chn); "
                     "found \"/event/__e\"\n"
                     ">>>   - channel: /event/__e");
        expect_error("salesforce:\n" AUTH_PASSWORD_YAML MIN_REST "  - channel: /event/_Login\n    topic: t\n",
                     "test.yaml:13:14: routes[1].channel: a platform event channel is /event/<Name>__e, "
                     "/event/<Name>__chn or a standard event like /event/LoginEventStream (starts with a "
                     "letter, does not end in _); found \"/event/_Login\"\n"
                     ">>>   - channel: /event/_Login");
        expect_error("salesforce:\n" AUTH_PASSWORD_YAML MIN_REST "  - channel: /event/\n    topic: t\n",
                     "test.yaml:13:14: routes[1].channel: names no channel after /event/\n"
                     ">>>   - channel: /event/");
        expect_error("salesforce:\n" AUTH_PASSWORD_YAML MIN_REST
                     "  - channel: \"/event/Login EventStream\"\n    topic: t\n",
                     "test.yaml:13:14: routes[1].channel: character ' ' is not allowed in a channel name "
                     "(letters, digits and _; a filter goes after ?)\n"
                     ">>>   - channel: \"/event/Login EventStream\"");
        expect_error("salesforce:\n" AUTH_PASSWORD_YAML MIN_REST "  - channel: /data/Account\n    topic: t\n",
                     "test.yaml:13:14: routes[1].channel: a change event channel is /data/ChangeEvents, "
                     "/data/<Entity>ChangeEvent (like /data/AccountChangeEvent or /data/Order__ChangeEvent) "
                     "or a custom channel /data/<Name>__chn; found \"/data/Account\"\n"
                     ">>>   - channel: /data/Account");
        expect_error("salesforce:\n" AUTH_PASSWORD_YAML MIN_REST "  - channel: /data/__chn\n    topic: t\n",
                     "test.yaml:13:14: routes[1].channel: a change event channel is /data/ChangeEvents, "
                     "/data/<Entity>ChangeEvent (like /data/AccountChangeEvent or /data/Order__ChangeEvent) "
                     "or a custom channel /data/<Name>__chn; found \"/data/__chn\"\n"
                     ">>>   - channel: /data/__chn");
        /* {entity} stays a /data/ thing: an /event/ custom channel carries platform events. */
        expect_error("salesforce:\n" AUTH_PASSWORD_YAML MIN_REST
                     "  - channel: /event/MyChannel__chn\n    topic: t.{entity}\n",
                     "test.yaml:14:12: routes[1].topic: {entity} is only known on /data/ (Change Data "
                     "Capture) channels, not on /event/\n"
                     ">>>     topic: t.{entity}");
}

/* An /event/ name without suffix that is not a known standard event loads, with a warning. */
static void test_channel_unknown_standard_warns(void **state)
{
        struct config *cfg;

        (void)state;
        cfg = must_load("salesforce:\n" AUTH_PASSWORD_YAML MIN_REST
                        "  - channel: /event/Order_Placed\n    topic: t\n");
        assert_int_equal(cfg->nwarnings, 1);
        assert_string_equal(cfg->warnings[0],
                            "test.yaml:13:14: routes[1].channel: /event/Order_Placed is not a standard "
                            "platform event sfbridge knows; a custom platform event ends in __e, a custom "
                            "channel in __chn");
        config_destroy(cfg);
}

static void test_examples(void **state)
{
        static const char *const examples[] = { "config/pushtopic.yaml", "config/platform-event.yaml",
                                                "config/cdc.yaml", "config/generic.yaml",
                                                "config/demo.yaml", "config/full.yaml" };
        static const enum auth_flow flows[] = { AUTH_PASSWORD, AUTH_JWT, AUTH_CLIENT_CREDENTIALS,
                                                AUTH_REFRESH_TOKEN, AUTH_PASSWORD, AUTH_PASSWORD };
        char err[2048];
        struct config *cfg;
        struct dirent *de;
        size_t i, found = 0;
        DIR *dir;

        (void)state;
        for (i = 0; i < sizeof(examples) / sizeof(examples[0]); i++) {
                err[0] = '\0';
                cfg = config_load(examples[i], err, sizeof(err));
                if (!cfg)
                        fail_msg("%s", err);
                assert_int_equal(cfg->sf.flow, flows[i]);
                assert_true(cfg->nroutes >= 1);
                /* The demo's emulator is plain http, and says so. */
                if (cfg->nwarnings > (strcmp(examples[i], "config/demo.yaml") == 0))
                        fail_msg("%s: %s", examples[i], cfg->warnings[cfg->nwarnings - 1]);
                config_destroy(cfg);
        }
        /* Every file in config/ is one of the documented examples. */
        assert_non_null(dir = opendir("config"));
        while ((de = readdir(dir))) {
                if (de->d_name[0] == '.')
                        continue;
                for (i = 0; i < sizeof(examples) / sizeof(examples[0]); i++)
                        if (strcmp(examples[i] + 7, de->d_name) == 0)
                                found++;
        }
        closedir(dir);
        assert_int_equal(found, sizeof(examples) / sizeof(examples[0]));

        cfg = config_load("config/cdc.yaml", err, sizeof(err));
        assert_non_null(cfg);
        assert_string_equal(cfg->sf.login_url, "https://acme.my.salesforce.com");
        assert_string_equal(cfg->routes[0].topic, "salesforce.cdc.{entity}");
        config_destroy(cfg);
        cfg = config_load("config/demo.yaml", err, sizeof(err));
        assert_non_null(cfg);
        assert_string_equal(cfg->sf.login_url, "http://127.0.0.1:8080");
        assert_string_equal(cfg->kafka.bootstrap_servers, "127.0.0.1:9092");
        assert_null(cfg->sf.ca_file);
        assert_int_equal(cfg->nroutes, 4);
        config_destroy(cfg);
}

static void test_errors_inline(void **state)
{
        (void)state;
        /* A literal value too long after ${} expansion keeps the node's mark. */
        expect_error("salesforce:\n" AUTH_PASSWORD_YAML "  stall_timeout_s: ${SFB_TEST_EMPTY}x\n" MIN_REST,
                     "test.yaml:8:20: salesforce.stall_timeout_s: expected an integer, found \"x\"\n"
                     ">>>   stall_timeout_s: ${SFB_TEST_EMPTY}x");
        expect_error("salesforce:\n" AUTH_PASSWORD_YAML "  stall_timeout_s: -5\n" MIN_REST,
                     "test.yaml:8:20: salesforce.stall_timeout_s: must be between 1 and 86400, found \"-5\"\n"
                     ">>>   stall_timeout_s: -5");
        expect_error("salesforce:\n" AUTH_PASSWORD_YAML "kafka:\n  bootstrap_servers: \"\"\n"
                     "routes:\n  - channel: /topic/A\n    topic: a\n",
                     "test.yaml:9:3: kafka.bootstrap_servers: is empty\n"
                     ">>>   bootstrap_servers: \"\"");
        expect_error("salesforce:\n" AUTH_PASSWORD_YAML "kafka:\n  bootstrap_servers: localhost:9092\n"
                     "  max_in_flight: 1000001\n"
                     "routes:\n  - channel: /topic/A\n    topic: a\n",
                     "test.yaml:10:18: kafka.max_in_flight: must be between 1 and 1000000, found \"1000001\"\n"
                     ">>>   max_in_flight: 1000001");
        expect_error("salesforce:\n" AUTH_PASSWORD_YAML MIN_REST "  - channel: /data/FooChangeEvent\n    topic: t\n"
                     "    topic: u\n",
                     "test.yaml:15:5: routes[1].topic: duplicate key (first at line 14)\n"
                     ">>>     topic: u");
        /* A control character is shown escaped, and the echo does not
         * carry it raw to a terminal. */
        expect_error("salesforce:\n" AUTH_PASSWORD_YAML MIN_REST "  - channel: /u/X\n    topic: \"a\\x1bb\"\n",
                     "test.yaml:14:12: routes[1].topic: character '\\x1b' is not allowed in a Kafka "
                     "topic name (allowed: a-z A-Z 0-9 . _ -)\n"
                     ">>>     topic: \"a\\x1bb\"");
        /* A template whose fixed part leaves no room for {entity} can never be legal. */
        {
                char yaml[1024], want[1024], err[1024], fixed[250];


                memset(fixed, 'a', 249);
                fixed[249] = '\0';
                snprintf(yaml, sizeof(yaml), "salesforce:\n" AUTH_PASSWORD_YAML MIN_REST
                         "  - channel: /data/ChangeEvents\n    topic: %s{entity}\n", fixed);
                snprintf(want, sizeof(want), "test.yaml:14:12: routes[1].topic: leaves no room for "
                         "{entity}: 249 characters besides it, Kafka's limit for a topic name is 249\n"
                         ">>>     topic: aaaa");
                assert_null(load_text(yaml, err, sizeof(err)));
                assert_memory_equal(err, want, strlen(want));
                fixed[248] = '\0';
                snprintf(yaml, sizeof(yaml), "salesforce:\n" AUTH_PASSWORD_YAML MIN_REST
                         "  - channel: /data/ChangeEvents\n    topic: %s{entity}\n", fixed);
                config_destroy(must_load(yaml));
        }
        /* The dead-letter topic is a plain topic name. */
        expect_error("salesforce:\n" AUTH_PASSWORD_YAML "kafka:\n  bootstrap_servers: k:9092\n"
                     "  dead_letter_topic: dlq.{entity}\nroutes:\n  - channel: /topic/A\n    topic: a\n",
                     "test.yaml:10:22: kafka.dead_letter_topic: character '{' is not allowed in a Kafka "
                     "topic name (allowed: a-z A-Z 0-9 . _ -)\n"
                     ">>>   dead_letter_topic: dlq.{entity}");
        expect_error("salesforce:\n" AUTH_PASSWORD_YAML MIN_REST "  - channel: /u/X\n    topic: \"a\\0b\"\n",
                     "test.yaml:14:12: routes[1].topic: holds a NUL character\n"
                     ">>>     topic: \"a\\0b\"");
        /* CRLF line ends: same positions, no \r in the echo. */
        expect_error("salesforce:\r\n  login_url: ftp://x\r\n  auth: {}\r\n",
                     "test.yaml:2:14: salesforce.login_url: must be an http:// or https:// URL, found \"ftp://x\"\n"
                     ">>>   login_url: ftp://x");
        /* A value from the environment that is wrong: the message shows
         * the expanded value, the echo shows the line as written. */
        setenv("SFB_TEST_FLOW", "saml", 1);
        expect_error("salesforce:\n  auth:\n    flow: ${SFB_TEST_FLOW}\n",
                     "test.yaml:3:11: salesforce.auth.flow: unknown value \"saml\"; allowed: password, "
                     "jwt, refresh_token, client_credentials\n"
                     ">>>     flow: ${SFB_TEST_FLOW}");
        unsetenv("SFB_TEST_FLOW");
        /* Anchors and aliases are plain YAML and work. */
        expect_error("salesforce:\n  auth: &a\n    flow: jwt\n  other: *a\n",
                     "test.yaml:4:3: salesforce.other: unknown key (known here: login_url, api_version, "
                     "auth, ca_file, proxy, allowed_hosts, stall_timeout_s, limit_backoff_s, limits_poll_s, max_response_bytes)\n"
                     ">>>   other: *a");
}

/* salesforce.max_response_bytes: a size_t, 64 KiB to 1 GiB, 10 MiB by default. */
static void test_max_response_bytes(void **state)
{
        struct config *cfg;

        (void)state;
        cfg = must_load("salesforce:\n  max_response_bytes: 65536\n" AUTH_PASSWORD_YAML MIN_REST);
        assert_true(cfg->sf.max_response_bytes == 65536);
        config_destroy(cfg);
        setenv("SFB_TEST_MAX_RESPONSE", "10485760", 1);
        cfg = must_load("salesforce:\n  max_response_bytes: ${SFB_TEST_MAX_RESPONSE}\n"
                        AUTH_PASSWORD_YAML MIN_REST);
        unsetenv("SFB_TEST_MAX_RESPONSE");
        assert_true(cfg->sf.max_response_bytes == 10485760);
        config_destroy(cfg);
        /* Empty is an error, as for every key with a default. */
        expect_error("salesforce:\n  max_response_bytes: ${SFB_TEST_EMPTY}\n" AUTH_PASSWORD_YAML MIN_REST,
                     "test.yaml:2:23: salesforce.max_response_bytes: must not be empty (after ${} "
                     "expansion)\n"
                     ">>>   max_response_bytes: ${SFB_TEST_EMPTY}");
        expect_error("salesforce:\n  max_response_bytes: 65535\n" AUTH_PASSWORD_YAML MIN_REST,
                     "test.yaml:2:23: salesforce.max_response_bytes: must be between 65536 and "
                     "1073741824, found \"65535\"\n"
                     ">>>   max_response_bytes: 65535");
        expect_error("salesforce:\n  max_response_bytes: 1073741825\n" AUTH_PASSWORD_YAML MIN_REST,
                     "test.yaml:2:23: salesforce.max_response_bytes: must be between 65536 and "
                     "1073741824, found \"1073741825\"\n"
                     ">>>   max_response_bytes: 1073741825");
        expect_error("salesforce:\n  max_response_bytes: -16777216\n" AUTH_PASSWORD_YAML MIN_REST,
                     "test.yaml:2:23: salesforce.max_response_bytes: must be between 65536 and "
                     "1073741824, found \"-16777216\"\n"
                     ">>>   max_response_bytes: -16777216");
        expect_error("salesforce:\n  max_response_bytes: 99999999999999999999\n" AUTH_PASSWORD_YAML
                     MIN_REST,
                     "test.yaml:2:23: salesforce.max_response_bytes: must be between 65536 and "
                     "1073741824, found \"99999999999999999999\"\n"
                     ">>>   max_response_bytes: 99999999999999999999");
        expect_error("salesforce:\n  max_response_bytes: 16MB\n" AUTH_PASSWORD_YAML MIN_REST,
                     "test.yaml:2:23: salesforce.max_response_bytes: expected an integer, found "
                     "\"16MB\"\n"
                     ">>>   max_response_bytes: 16MB");
        expect_error("salesforce:\n  max_response_bytes: [1]\n" AUTH_PASSWORD_YAML MIN_REST,
                     "test.yaml:2:23: salesforce.max_response_bytes: expected an integer, found a "
                     "list\n"
                     ">>>   max_response_bytes: [1]");
        /* A typo is caught like any other. */
        expect_error("salesforce:\n  max_response_byte: 65536\n" AUTH_PASSWORD_YAML MIN_REST,
                     "test.yaml:2:3: salesforce.max_response_byte: unknown key; did you mean "
                     "max_response_bytes?\n"
                     ">>>   max_response_byte: ***");
}

static void test_aliases(void **state)
{
        struct config *cfg;

        (void)state;
        cfg = must_load("name: &n acme\n"
                        "salesforce:\n" AUTH_PASSWORD_YAML
                        "kafka:\n  bootstrap_servers: localhost:9092\n"
                        "routes:\n"
                        "  - &r {channel: /topic/A, topic: *n}\n");
        assert_string_equal(cfg->name, "acme");
        assert_string_equal(cfg->routes[0].topic, "acme");
        config_destroy(cfg);
}

static void test_missing_file(void **state)
{
        char err[512];

        (void)state;
        assert_null(config_load(DATA_DIR "/does-not-exist.yaml", err, sizeof(err)));
        assert_string_equal(err, DATA_DIR "/does-not-exist.yaml: cannot open: No such file or directory");
        assert_null(config_load(DATA_DIR, err, sizeof(err)));
        assert_string_equal(err, DATA_DIR ": cannot read: Is a directory");
}

static void test_too_large(void **state)
{
        char path[] = "/tmp/sfb-config-XXXXXX", err[512], want[600];
        static char block[4096];
        FILE *fp;
        int fd, i;

        (void)state;
        assert_true((fd = mkstemp(path)) != -1);
        assert_non_null(fp = fdopen(fd, "w"));
        memset(block, '#', sizeof(block));
        for (i = 0; i < 257; i++)
                assert_int_equal(fwrite(block, 1, sizeof(block), fp), sizeof(block));
        fclose(fp);
        assert_null(config_load(path, err, sizeof(err)));
        unlink(path);
        snprintf(want, sizeof(want), "%s: larger than 1048576 bytes; is this the routing file?", path);
        assert_string_equal(err, want);
}

/*
 * Secrets planted where an error or warning happens, in every way the
 * loader could be tempted to show them.
 */
static void test_no_secret_in_errors(void **state)
{
        static const char *const texts[] = {
                /* On the line of the error, flow style. */
                "salesforce:\n  auth: {flow: password, password: " PLANTED "-a, client_secret: " PLANTED
                "-b, refresh_token: " PLANTED "-c, nope: 1}\n",
                "salesforce:\n  auth: {password: " PLANTED "-a, flow: passwd}\n",
                "salesforce:\n  auth: {password: " PLANTED "-a, client_id: [x]}\n",
                /* The secret is the bad value. */
                "salesforce:\n  auth:\n    password: {value: " PLANTED "}\n",
                "salesforce:\n  auth:\n    client_secret:\n      - " PLANTED "\n",
                "salesforce:\n  auth:\n    refresh_token: \"" PLANTED "\\0x\"\n",
                "salesforce:\n  auth:\n    password: " PLANTED "${\n",
                "salesforce:\n  auth:\n    password: ${" PLANTED "}\n",
                "salesforce:\n  auth:\n    password: ${X:-" PLANTED "${Y}}\n",
                "salesforce:\n  auth:\n    password: ${X:-" PLANTED "\n",
                "salesforce:\n  auth:\n    password: ${X-" PLANTED "}\n",
                /* Misspelt secret keys. */
                "salesforce:\n  auth:\n    passwrd: " PLANTED "\n",
                "salesforce:\n  auth:\n    clientsecret: " PLANTED "\n",
                "salesforce:\n  auth:\n    refresh-token: {a: " PLANTED "}\n",
                "salesforce:\n  auth:\n    Password: " PLANTED "\n",
                /* Duplicate secret key. */
                "salesforce:\n  auth:\n    password: " PLANTED "-1\n    password: " PLANTED "-2\n",
                /* Multi-line secret, error on its last line. */
                "salesforce:\n  auth:\n    password: |\n      " PLANTED "\n      " PLANTED
                "\n    flow: x\n",
                /* YAML syntax errors on a secret's line. */
                "salesforce:\n  auth:\n    password: \"" PLANTED "\n",
                "salesforce:\n  auth:\n    password: " PLANTED ": x\n",
                "salesforce:\n  auth:\n    password: '" PLANTED "'x\n",
                "salesforce:\n  auth:\n    client_secret: " PLANTED "\n   bad: indent\n",
                "salesforce:\n  auth: {client_secret: " PLANTED ", ]\n",
                "kafka:\n  properties:\n    sasl.password: \"" PLANTED "\n",
                "kafka:\n  properties: {ssl.key.password: " PLANTED ", x: [1]}\n",
                "kafka:\n  properties: {sasl.oauthbearer.client.secret: " PLANTED ", x: }\n",
                /* Names only kafka_conf's list had before there was one list. */
                "kafka:\n  properties: {sasl.oauthbearer.method: " PLANTED ", ssl.key.location: "
                PLANTED ", x: }\n",
                "kafka:\n  properties:\n    ssl.key.location: \"" PLANTED "\n",
                /* Unused secrets (warnings), and an error after them. */
                "salesforce:\n  auth:\n    flow: jwt\n    client_id: x\n    username: u\n"
                "    private_key_file: " KEY_FILE "\n    password: " PLANTED "-1\n"
                "    client_secret: " PLANTED "-2\n    refresh_token: " PLANTED "-3\n" MIN_REST,
                "salesforce:\n  login_url: https://acme.my.salesforce.com\n  auth:\n"
                "    flow: client_credentials\n    client_id: x\n"
                "    client_secret: ${SF_CLIENT_SECRET}\n    password: ${SF_PASSWORD}\n" MIN_REST,
                "salesforce:\n  auth:\n    flow: jwt\n    client_id: x\n    username: u\n"
                "    private_key_file: " KEY_FILE "\n    password: " PLANTED "-1\n" MIN_REST "bogus: 1\n",
                /* Secrets from the environment, error on their line. */
                "salesforce:\n  auth:\n    password: ${SF_PASSWORD}${SFB_TEST_UNSET_VAR}\n",
                "salesforce:\n  auth:\n    password: [${SF_PASSWORD}]\n",
                "salesforce:\n  auth:\n    {password: ${SF_PASSWORD}, flow: nope}\n",
                /* Invalid UTF-8 on a secret's line. */
                "salesforce:\n  auth:\n    password: " PLANTED "\xff\xfe\n",
        };
        char err[2048];
        struct config *cfg;
        size_t i, nwarned = 0;

        (void)state;
        for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
                err[0] = '\0';
                cfg = config_load_string("secret.yaml", texts[i], strlen(texts[i]), err, sizeof(err));
                if (cfg) {
                        nwarned += cfg->nwarnings > 0;
                } else if (!err[0]) {
                        fail_msg("case %zu failed without a message", i);
                }
                if (strstr(err, PLANTED))
                        fail_msg("case %zu shows a secret:\n%s", i, err);
                assert_no_secret_in(cfg, err);
                config_destroy(cfg);
        }
        /* The unused-secret cases did load and warn. */
        assert_int_equal(nwarned, 2);
}

/*
 * Issue 14: a broken file whose error lies inside a secret's value (the
 * value on the next line, block and multi-line quoted scalars, flow style,
 * invalid UTF-8 and control characters), where libyaml gives no document and
 * so no spans; and an alias copying a secret into another key.
 */
static void test_no_secret_in_broken_files(void **state)
{
        static const char *const texts[] = {
                "salesforce:\n  auth:\n    password:\n      " PLANTED ": x: y\n",
                "salesforce:\n  auth:\n    password:\n      \"" PLANTED "\" x\n",
                "salesforce:\n  auth:\n    password:\n      " PLANTED "\xff\n",
                "salesforce:\n  auth:\n    password:\n      " PLANTED "\x01\n",
                "salesforce:\n  auth:\n    password: |\n      a\n      " PLANTED "\x01\n",
                "salesforce:\n  auth:\n    password: >\n      a\n     " PLANTED ": [\n",
                "salesforce:\n  auth:\n    password: \"abc\n      " PLANTED "\" junk\n",
                "salesforce:\n  auth:\n    password: 'abc\n      " PLANTED "\xff'\n",
                "salesforce:\n  auth:\n    password: \"abc\n" PLANTED ": x\" ]\n",
                "salesforce:\n  auth:\n    password: [a,\n      " PLANTED ": }\n",
                "kafka:\n  properties:\n    sasl.password:\n      " PLANTED ": x: y\n",
                /* Aliases of a secret into another key, and the other way round. */
                "salesforce:\n  auth:\n    password: &x " PLANTED "\n    flow: *x\n",
                "salesforce:\n  auth:\n    password: &x " PLANTED "\nkafka:\n  delivery: *x\n",
                "salesforce:\n  auth:\n    password: &x " PLANTED "\nkafka:\n  properties:\n"
                "    linger.ms: *x\n",
                "kafka:\n  properties:\n    sasl.password: &x " PLANTED "\n    acks: *x\n",
                "salesforce:\n  login_url: &x https://" PLANTED "\n  auth:\n    password: *x\n"
                "    flow: nope\n",
        };
        char err[2048];
        struct config *cfg;
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
                err[0] = '\0';
                cfg = config_load_string("secret.yaml", texts[i], strlen(texts[i]), err, sizeof(err));
                if (cfg)
                        fail_msg("case %zu loaded", i);
                if (strncmp(err, "secret.yaml:", 12) != 0)
                        fail_msg("case %zu: no file:line:column: %s", i, err);
                if (strstr(err, PLANTED))
                        fail_msg("case %zu shows a secret:\n%s", i, err);
        }
        /* The alias is refused at the other key, whatever that key's check would say. */
        expect_error("salesforce:\n  auth:\n    password: &x " PLANTED "\n    flow: *x\n",
                     "test.yaml:4:5: salesforce.auth.flow: shares its value with a secret key (anchor & "
                     "and alias *); only secret keys may share a secret: write the value out\n"
                     ">>>     flow: *x");
}

/* Flow nesting is measured before libyaml, whose scanner is quadratic in it. */
static void test_nesting_depth(void **state)
{
        size_t n = 100000, i;
        char *deep = malloc(2 * n + 8), err[512];
        const char *text;

        (void)state;
        assert_non_null(deep);
        memcpy(deep, "a: ", 3);
        for (i = 0; i < n; i++) {
                deep[3 + i] = '[';
                deep[3 + n + i] = ']';
        }
        deep[3 + 2 * n] = '\0';
        assert_null(config_load_string("deep.yaml", deep, strlen(deep), err, sizeof(err)));
        assert_non_null(strstr(err, "deep.yaml:1:68: nesting deeper than 64 levels of [ and {"));
        free(deep);
        /* Brackets inside quotes, comments and plain scalars are not nesting. */
        text = "name: \"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"  # "
               "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n"
               "kafka:\n  replay_topic: a[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n";
        assert_null(config_load_string("t.yaml", text, strlen(text), err, sizeof(err)));
        assert_null(strstr(err, "nesting"));
}

/* A literal secret in a file others can read; an http:// login URL. */
static void test_readable_secret_warns(void **state)
{
        char path[] = "/tmp/sfb-config-XXXXXX", err[1024] = "";
        const char *text = "salesforce:\n  login_url: http://127.0.0.1:8080\n  auth:\n"
                           "    flow: password\n    client_id: x\n    client_secret: ${SF_CLIENT_SECRET}\n"
                           "    username: u\n    password: " PLANTED "-lit\n" MIN_REST;
        struct config *cfg;
        int fd;

        (void)state;
        assert_true((fd = mkstemp(path)) >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
        assert_int_equal(chmod(path, 0644), 0);
        cfg = config_load(path, err, sizeof(err));
        if (!cfg)
                fail_msg("%s", err);
        assert_no_secret_in(cfg, err);
        assert_int_equal(cfg->nwarnings, 2);
        assert_non_null(strstr(cfg->warnings[0], ":2:14: salesforce.login_url: http:// sends the "
                                                 "password and client secret in clear; use https://"));
        assert_non_null(strstr(cfg->warnings[1], ":8:15: salesforce.auth.password: a secret written in"));
        assert_non_null(strstr(cfg->warnings[1], "which group or others can read (mode 0644)"));
        config_destroy(cfg);
        assert_int_equal(chmod(path, 0600), 0);
        cfg = config_load(path, err, sizeof(err));
        assert_non_null(cfg);
        assert_int_equal(cfg->nwarnings, 1);
        config_destroy(cfg);
        unlink(path);
}

/* What the "value hidden" echo looks like, and that other lines are shown. */
static void test_secret_echo(void **state)
{
        (void)state;
        expect_error("salesforce:\n  auth: {flow: jwtx, password: " PLANTED "}\n",
                     "test.yaml:2:16: salesforce.auth.flow: unknown value \"jwtx\"; allowed: password, "
                     "jwt, refresh_token, client_credentials\n"
                     ">>>   auth: {flow: jwtx, password: ***}");
        expect_error("salesforce:\n  auth:\n    password: \"" PLANTED "\n",
                     "test.yaml:3:15: YAML syntax error: found unexpected end of stream while scanning a "
                     "quoted scalar (which starts here)\n"
                     ">>>     password: ***");
        expect_error("salesforce:\n  auth:\n    password: |\n      " PLANTED "\n      more\n"
                     "  nope: 1\n",
                     "test.yaml:6:3: salesforce.nope: unknown key (known here: login_url, api_version, "
                     "auth, ca_file, proxy, allowed_hosts, stall_timeout_s, limit_backoff_s, limits_poll_s, max_response_bytes)\n"
                     ">>>   nope: ***");
}

static void test_unused_field_warning(void **state)
{
        struct config *cfg;

        (void)state;
        cfg = must_load("salesforce:\n"
                        "  auth:\n"
                        "    flow: refresh_token\n"
                        "    client_id: ${SF_CLIENT_ID}\n"
                        "    client_secret: ${SF_CLIENT_SECRET}\n"
                        "    refresh_token: ${SF_REFRESH_TOKEN}\n"
                        "    username: someone\n"
                        "    private_key_file: /nonexistent/is/not/checked.pem\n" MIN_REST);
        assert_int_equal(cfg->nwarnings, 2);
        assert_string_equal(cfg->warnings[0],
                            "test.yaml:7:5: salesforce.auth.username: not used by flow refresh_token (ignored)");
        assert_string_equal(cfg->warnings[1],
                            "test.yaml:8:5: salesforce.auth.private_key_file: not used by flow "
                            "refresh_token (ignored)");
        /* Ignored means not kept. */
        assert_null(cfg->sf.username);
        assert_null(cfg->sf.private_key_file);
        config_destroy(cfg);
}

static void test_reference(void **state)
{
        static const char *const keys[] = {
                "name", "salesforce", "salesforce.login_url", "salesforce.api_version",
                "salesforce.auth", "salesforce.auth.flow", "salesforce.auth.client_id",
                "salesforce.auth.client_secret", "salesforce.auth.username", "salesforce.auth.password",
                "salesforce.auth.private_key_file", "salesforce.auth.refresh_token", "salesforce.ca_file",
                "salesforce.proxy", "salesforce.stall_timeout_s", "salesforce.limit_backoff_s",
                "salesforce.limits_poll_s", "salesforce.max_response_bytes", "kafka", "kafka.bootstrap_servers",
                "kafka.delivery", "kafka.replay_topic", "kafka.dead_letter_topic", "kafka.max_in_flight", "kafka.properties",
                "on_invalid_replay", "metrics", "metrics.listen", "routes", "routes[].channel",
                "routes[].topic", "routes[].key", "routes[].partition_by", "routes[].value",
                "routes[].start",
                "routes[].on_invalid_replay",
        };
        char *text = NULL, line[128];
        size_t len = 0, i, nsecret = 0;
        const char *p;
        FILE *fp;

        (void)state;
        assert_non_null(fp = open_memstream(&text, &len));
        config_print_reference(fp);
        fclose(fp);
        for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
                snprintf(line, sizeof(line), "\n%s\n    ", keys[i]);
                if (!strstr(text, line))
                        fail_msg("reference lacks %s", keys[i]);
        }
        for (p = text; (p = strstr(p, "\n    string, secret;")); p++)
                nsecret++;
        assert_int_equal(nsecret, 3);
        assert_non_null(strstr(text, "\nsalesforce.auth.private_key_file\n    string; required by flow jwt;"));
        assert_non_null(strstr(text, "\nsalesforce.stall_timeout_s\n    integer 1..86400; default 150\n"));
        assert_non_null(strstr(text, "\nsalesforce.max_response_bytes\n"
                                     "    integer 65536..1073741824; default 10485760\n"));
        assert_non_null(strstr(text, "\nkafka.max_in_flight_bytes\n"
                                     "    integer 1048576..4294967296; default 67108864\n"));
        assert_non_null(strstr(text, "\nkafka.delivery\n    one of: exactly_once, at_least_once; default exactly_once\n"));
        assert_non_null(strstr(text, "default: the value of on_invalid_replay"));
        assert_non_null(strstr(text, "\nroutes[].partition_by\n    one of: channel, record_id, key, entity\n"));
        assert_non_null(strstr(text, "\nroutes[].key\n    one of: replay_id, record_id, none, event_uuid; "
                                     "default replay_id\n"));
        free(text);
}

static void test_names(void **state)
{
        (void)state;
        assert_string_equal(config_flow_name(AUTH_PASSWORD), "password");
        assert_string_equal(config_flow_name(AUTH_JWT), "jwt");
        assert_string_equal(config_flow_name(AUTH_REFRESH_TOKEN), "refresh_token");
        assert_string_equal(config_flow_name(AUTH_CLIENT_CREDENTIALS), "client_credentials");
        assert_string_equal(config_delivery_name(DELIVERY_EXACTLY_ONCE), "exactly_once");
        assert_string_equal(config_delivery_name(DELIVERY_AT_LEAST_ONCE), "at_least_once");
        assert_string_equal(config_invalid_replay_name(INVALID_REPLAY_ALL), "all");
        assert_string_equal(config_invalid_replay_name(INVALID_REPLAY_NEW), "new");
        assert_string_equal(config_invalid_replay_name(INVALID_REPLAY_FAIL), "fail");
        assert_true(config_property_is_secret("sasl.password"));
        assert_true(config_property_is_secret("ssl.key.password"));
        assert_true(config_property_is_secret("ssl.keystore.password"));
        assert_true(config_property_is_secret("sasl.oauthbearer.client.secret"));
        assert_true(config_property_is_secret("ssl.key.pem"));
        assert_true(config_property_is_secret("sasl.oauthbearer.config"));
        assert_true(config_property_is_secret("sasl.oauthbearer.method"));
        assert_true(config_property_is_secret("ssl.key.location"));
        assert_true(config_property_is_secret("SASL.JAAS.CONFIG"));
        assert_false(config_property_is_secret("sasl.username"));
        assert_false(config_property_is_secret("linger.ms"));
        assert_false(config_property_is_secret("ssl.certificate.pem"));
        config_destroy(NULL);
}

/* A small error buffer truncates the message, never overflows. */
static void test_small_errstr(void **state)
{
        char err[12];

        (void)state;
        memset(err, 'x', sizeof(err));
        assert_null(config_load_string("test.yaml", "x: 1\n", 5, err, sizeof(err)));
        assert_string_equal(err, "test.yaml:1");
        assert_null(config_load(DATA_DIR "/missing", err, sizeof(err)));
        assert_int_equal(strlen(err), sizeof(err) - 1);
}

/*
 * Allocation failure: the plain build replaces malloc (glibc allows it)
 * and fails the Nth allocation made while loading, for every N, checking
 * the loader reports "out of memory" and leaves nothing allocated. The
 * sanitizer build and valgrind own malloc themselves: there it is skipped.
 */
#if defined(__SANITIZE_ADDRESS__)
#define ALLOC_HOOK 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ALLOC_HOOK 0
#endif
#endif
#ifndef ALLOC_HOOK
#define ALLOC_HOOK 1
#endif

#if ALLOC_HOOK
#include <dlfcn.h>
#include <librdkafka/rdkafka.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void __libc_free(void *p);

static int alloc_armed;
static long alloc_countdown; /* the allocation that fails when it reaches 0 */
static long alloc_live;      /* allocations made while armed, not yet freed */
static int alloc_failed;

static int alloc_should_fail(void)
{
        if (!alloc_armed)
                return 0;
        if (alloc_countdown-- == 0) {
                alloc_failed = 1;
                return 1;
        }
        return 0;
}

void *malloc(size_t size)
{
        void *p;

        if (alloc_should_fail())
                return NULL;
        p = __libc_malloc(size);
        if (p && alloc_armed)
                alloc_live++;
        return p;
}

void *calloc(size_t n, size_t size)
{
        void *p;

        if (alloc_should_fail())
                return NULL;
        p = __libc_calloc(n, size);
        if (p && alloc_armed)
                alloc_live++;
        return p;
}

void *realloc(void *old, size_t size)
{
        void *p;

        if (alloc_should_fail())
                return NULL;
        p = __libc_realloc(old, size);
        if (p && !old && alloc_armed)
                alloc_live++;
        return p;
}

void free(void *p)
{
        if (p && alloc_armed)
                alloc_live--;
        __libc_free(p);
}

/*
 * The loader hands kafka.properties to librdkafka's rd_kafka_conf_set() on a
 * scratch conf. librdkafka asserts on a failed allocation by design (its
 * rd_malloc), so no failure is injected while it runs: these definitions
 * take the place of librdkafka's and call them with the hook disarmed.
 */
static void *rdk_next(const char *name)
{
        void *fn = dlsym(RTLD_NEXT, name);

        if (!fn)
                abort();
        return fn;
}

rd_kafka_conf_t *rd_kafka_conf_new(void)
{
        rd_kafka_conf_t *(*real)(void) = (rd_kafka_conf_t * (*)(void)) rdk_next("rd_kafka_conf_new");
        int armed = alloc_armed;
        rd_kafka_conf_t *conf;

        alloc_armed = 0;
        conf = real();
        alloc_armed = armed;
        return conf;
}

rd_kafka_conf_res_t rd_kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value,
                                      char *errstr, size_t errstr_size)
{
        rd_kafka_conf_res_t (*real)(rd_kafka_conf_t *, const char *, const char *, char *, size_t) =
                (rd_kafka_conf_res_t(*)(rd_kafka_conf_t *, const char *, const char *, char *,
                                        size_t))rdk_next("rd_kafka_conf_set");
        int armed = alloc_armed;
        rd_kafka_conf_res_t res;

        alloc_armed = 0;
        res = real(conf, name, value, errstr, errstr_size);
        alloc_armed = armed;
        return res;
}

void rd_kafka_conf_destroy(rd_kafka_conf_t *conf)
{
        void (*real)(rd_kafka_conf_t *) = (void (*)(rd_kafka_conf_t *))rdk_next("rd_kafka_conf_destroy");
        int armed = alloc_armed;

        alloc_armed = 0;
        real(conf);
        alloc_armed = armed;
}

static void test_alloc_failure(void **state)
{
        static const char text[] =
                "name: acme\n"
                "salesforce:\n" AUTH_PASSWORD_YAML "    private_key_file: x\n"
                "  stall_timeout_s: ${SFB_TEST_UNSET_VAR:-30}\n"
                "kafka:\n"
                "  bootstrap_servers: localhost:9092\n"
                "  properties: {linger.ms: 5, acks: all, client.id: x}\n"
                "routes:\n"
                "  - channel: /topic/A\n    topic: a\n"
                "  - channel: /u/B\n    topic: b\n    key: record_id\n"
                "  - channel: /data/ChangeEvents\n    topic: c.{entity}\n";
        static const char bad[] = "salesforce:\n  auth:\n    flow: jwt\n    bogus: 1\n";
        void *(*volatile malloc_fn)(size_t) = malloc;
        char err[1024];
        struct config *cfg;
        void *probe;
        long n;
        int pass;

        (void)state;
        /* Under valgrind (or any other interposer) this malloc is not the
         * one called: nothing to test then. */
        alloc_countdown = 0;
        alloc_armed = 1;
        probe = malloc_fn(1); /* through a volatile pointer: not optimised away */
        alloc_armed = 0;
        if (probe) {
                free(probe);
                skip();
        }
        for (pass = 0; pass < 2; pass++) {
                const char *t = pass ? bad : text;

                for (n = 0;; n++) {
                        err[0] = '\0';
                        alloc_failed = 0;
                        alloc_live = 0;
                        alloc_countdown = n;
                        alloc_armed = 1;
                        cfg = config_load_string("oom.yaml", t, strlen(t), err, sizeof(err));
                        config_destroy(cfg);
                        alloc_armed = 0;
                        if (alloc_live != 0)
                                fail_msg("allocation %ld failing leaks %ld blocks (%s)", n, alloc_live, err);
                        if (!alloc_failed)
                                break;
                        if (pass == 0 && cfg)
                                fail_msg("allocation %ld failed yet the load succeeded", n);
                        if (!cfg && !strstr(err, "out of memory"))
                                fail_msg("allocation %ld failing gives: %s", n, err);
                }
                /* The loop ran through every allocation, then loaded. */
                assert_true(n > 20);
                if (pass == 0) {
                        assert_null(strstr(err, "out of memory"));
                        assert_string_equal(err, "");
                }
        }
}
#else
static void test_alloc_failure(void **state)
{
        (void)state;
        skip();
}
#endif

/* on_route_error: quarantine (default) or fail; anything else is an error naming the choices. */
static void test_on_route_error(void **state)
{
        struct config *cfg;
        char err[1024] = "";

        (void)state;
        cfg = must_load("salesforce:\n" AUTH_PASSWORD_YAML "on_route_error: fail\n" MIN_REST);
        assert_int_equal(cfg->on_route_error, ROUTE_ERROR_FAIL);
        assert_string_equal(config_route_error_name(cfg->on_route_error), "fail");
        config_destroy(cfg);
        cfg = must_load("salesforce:\n" AUTH_PASSWORD_YAML "on_route_error: quarantine\n" MIN_REST);
        assert_int_equal(cfg->on_route_error, ROUTE_ERROR_QUARANTINE);
        config_destroy(cfg);
        cfg = load_text("salesforce:\n" AUTH_PASSWORD_YAML "on_route_error: skip\n" MIN_REST, err, sizeof(err));
        assert_null(cfg);
        assert_non_null(strstr(err, "on_route_error"));
        assert_non_null(strstr(err, "quarantine"));
        assert_non_null(strstr(err, "fail"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_on_route_error),
                cmocka_unit_test(test_corpus),
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_flow_jwt),
                cmocka_unit_test(test_flow_refresh_token),
                cmocka_unit_test(test_flow_client_credentials),
                cmocka_unit_test(test_audience_default),
                cmocka_unit_test(test_every_key),
                cmocka_unit_test(test_route_inherits_later_global),
                cmocka_unit_test(test_find_route),
                cmocka_unit_test(test_channel_kinds),
                cmocka_unit_test(test_channel_refused),
                cmocka_unit_test(test_channel_unknown_standard_warns),
                cmocka_unit_test(test_examples),
                cmocka_unit_test(test_errors_inline),
                cmocka_unit_test(test_max_response_bytes),
                cmocka_unit_test(test_aliases),
                cmocka_unit_test(test_missing_file),
                cmocka_unit_test(test_too_large),
                cmocka_unit_test(test_no_secret_in_errors),
                cmocka_unit_test(test_no_secret_in_broken_files),
                cmocka_unit_test(test_nesting_depth),
                cmocka_unit_test(test_readable_secret_warns),
                cmocka_unit_test(test_secret_echo),
                cmocka_unit_test(test_unused_field_warning),
                cmocka_unit_test(test_reference),
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_small_errstr),
                cmocka_unit_test(test_alloc_failure),
        };

        return cmocka_run_group_tests(tests, setup, NULL);
}
