/*
 * `check` follows nginx -t: validate, print what would run, and end with one
 * line that says whether the test passed. `--online` goes as far as a real
 * start would (login, handshake, one subscribe per route) and then leaves.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>

#include "bridge.h"
#include "config.h"
#include "http.h"
#include "kafka_conf.h"
#include "log.h"
#include "metrics.h"
#include "replay_store.h"
#include "session.h"
#include "units.h"

#define CLI_KAFKA_TIMEOUT_MS 15000
#define CLI_METADATA_TIMEOUT_MS 10000
#define CLI_ADMIN_TIMEOUT_MS 5000
#define CLI_HTTP_TIMEOUT_MS 30000L

static long long cli_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *key_name(enum route_key k)
{
        return k == ROUTE_KEY_REPLAY_ID    ? "replay_id"
               : k == ROUTE_KEY_RECORD_ID  ? "record_id"
               : k == ROUTE_KEY_EVENT_UUID ? "event_uuid"
                                           : "none";
}

static const char *partition_name(enum route_partition p)
{
        return p == ROUTE_PARTITION_CHANNEL     ? "channel"
               : p == ROUTE_PARTITION_RECORD_ID ? "record_id"
               : p == ROUTE_PARTITION_ENTITY    ? "entity"
                                                : "key";
}

static const char *value_name(enum route_value v)
{
        return v == ROUTE_VALUE_DATA ? "data" : v == ROUTE_VALUE_PAYLOAD ? "payload" : "message";
}

static void format_replay(char *out, size_t n, long long id)
{
        if (id == REPLAY_NEW)
                snprintf(out, n, "new (-1)");
        else if (id == REPLAY_ALL)
                snprintf(out, n, "all (-2)");
        else
                snprintf(out, n, "after %lld", id);
}

/*
 * Group mode: one line per unit (id, org, routes, partition of the
 * coordination topic, transactional.id, owner record key), then a warning
 * per partition that carries several units. @p nparts: the topic's
 * partition count (units_topic_partitions() offline).
 * @returns the number of collisions.
 */
static int print_unit_map(const struct config *cfg, int nparts, const char *indent)
{
        int collisions = 0;
        size_t u, v;

        for (u = 0; u < cfg->nunits; u++) {
                struct config view;
                char txn[300], owner[300];
                int p;

                config_unit_view(cfg, u, &view);
                units_txn_id(&view, txn, sizeof(txn));
                units_owner_key(&view, owner, sizeof(owner));
                p = units_partition(cfg, u, nparts);
                printf("%sunit %s: org %s, %zu route%s, partition %d%s, transactional.id %s, owner key %s\n",
                       indent, view.unit, cfg->orgs[cfg->units[u].org].id, view.nroutes,
                       view.nroutes == 1 ? "" : "s", p,
                       cfg->units[u].partition >= 0 ? " (coordination.partitions)" : "", txn, owner);
        }
        for (u = 0; u < cfg->nunits; u++) {
                int p = units_partition(cfg, u, nparts);

                if (p < 0) {
                        printf("%sWARN unit %s: partition override %d is beyond the topic's %d "
                               "partitions: no replica will own it\n", indent, cfg->units[u].id,
                               cfg->units[u].partition, nparts);
                        collisions++;
                        continue;
                }
                for (v = 0; v < u && units_partition(cfg, v, nparts) != p; v++)
                        ;
                if (v < u) {
                        printf("%sWARN units %s and %s share partition %d of %d: they move "
                               "together (one replica owns both; set coordination.partitions or "
                               "add partitions to spread them)\n", indent, cfg->units[v].id,
                               cfg->units[u].id, p, nparts);
                        collisions++;
                }
        }
        return collisions;
}

static void print_plan(const struct config *cfg)
{
        size_t i, o;

        printf("name: %s\ndelivery: %s\nkafka: %s (replay topic %s, dead letters %s)\n",
               cfg->name, config_delivery_name(cfg->kafka.delivery), cfg->kafka.bootstrap_servers,
               cfg->kafka.replay_topic,
               cfg->kafka.dead_letter_topic ? cfg->kafka.dead_letter_topic : "none: a poison event stops its route");
        for (o = 0; o < cfg->norgs; o++) {
                const struct config_sf *sf = &cfg->orgs[o].sf;

                if (cfg->has_orgs)
                        printf("org %s: ", cfg->orgs[o].id);
                printf("salesforce: %s (API %s, %s flow)\n", sf->login_url, sf->api_version,
                       config_flow_name(sf->flow));
        }
        printf("on_route_error: %s\non_org_change: %s\n",
               cfg->on_route_error == ROUTE_ERROR_FAIL ? "fail" : "quarantine",
               cfg->on_org_change == ORG_CHANGE_START ? "start" : "fail");
        if (cfg->coord.enabled) {
                printf("coordination: topic %s (%d partitions when created), group %s, "
                       "session_timeout_ms %d, heartbeat_interval_ms %d, max_poll_interval_ms %d, "
                       "claim_grace_ms %d\nunits:\n", cfg->coord.topic, units_topic_partitions(cfg),
                       cfg->coord.group, cfg->coord.session_timeout_ms,
                       cfg->coord.heartbeat_interval_ms, cfg->coord.max_poll_interval_ms,
                       cfg->coord.claim_grace_ms);
                print_unit_map(cfg, units_topic_partitions(cfg), "  ");
        }
        printf("routes:\n");
        for (i = 0; i < cfg->nroutes; i++) {
                const struct config_route *rt = &cfg->routes[i];
                char start[32];

                format_replay(start, sizeof(start), rt->start);
                printf("  %s%s%s -> %s  key=%s partition_by=%s value=%s start=%s on_invalid_replay=%s\n",
                       cfg->coord.enabled ? cfg->units[rt->unit_index].id : "",
                       cfg->coord.enabled ? ": " : "",
                       rt->channel, rt->topic, key_name(rt->key), partition_name(rt->partition_by),
                       value_name(rt->value), start,
                       config_invalid_replay_name(rt->on_invalid_replay));
        }
}

static struct config *load_or_report(const char *path)
{
        char err[2048];
        struct config *cfg = config_load(path, err, sizeof(err));
        size_t i;

        if (!cfg) {
                fprintf(stderr, "%s\n", err);
                return NULL;
        }
        for (i = 0; i < cfg->nwarnings; i++)
                fprintf(stderr, "warning: %s\n", cfg->warnings[i]);
        return cfg;
}

static long long cli_replay_from(void *ctx, const struct config_route *rt)
{
        long long id;

        if (replay_store_get(ctx, rt->channel, &id) == 0)
                return id;
        return rt->start;
}

/* Each route's verdict, as the probe left it. @returns 0 when every route is usable. */
static int check_print_routes(const struct config *cfg, const struct replay_store *rs,
                              const struct session *sess)
{
        const struct auth_token *tok = session_token(sess);
        const char *org = tok && tok->org_id ? tok->org_id : "";
        char gap_topic[256];
        int failed = 0;
        size_t i;

        replay_gap_topic(cfg, gap_topic, sizeof(gap_topic));
        for (i = 0; i < cfg->nroutes; i++) {
                const struct config_route *rt = &cfg->routes[i];
                const char *why = "";
                long long from = 0, stored_id;
                int stored = replay_store_get(rs, rt->channel, &stored_id) == 0;
                char start[32];

                /* What a start does with positions of another org (same test as bridge.c). */
                for (size_t j = 0; stored && org[0] && j < replay_store_count(rs); j++) {
                        const struct replay_entry *re = replay_store_entry(rs, j);

                        if (strcmp(re->channel, rt->channel) || !re->org[0] ||
                            replay_org_same(re->org, org))
                                continue;
                        if (cfg->on_org_change == ORG_CHANGE_FAIL) {
                                printf("  FAIL %s: the stored replay ID %lld belongs to org %s%s%s%s, this "
                                       "login is org %s: a start exits 3 (on_org_change: fail); run "
                                       "`sfbridge replay set -c %s --channel %s --new` (or --all), or set "
                                       "on_org_change: start\n", rt->channel, stored_id, re->org,
                                       re->login_host[0] ? " (" : "", re->login_host,
                                       re->login_host[0] ? ")" : "", org, cfg->path ? cfg->path : "FILE",
                                       rt->channel);
                                failed = 1;
                        } else {
                                printf("  warn %s: the stored replay ID %lld belongs to org %s, this login "
                                       "is org %s: a start ignores it and uses the route's start "
                                       "(on_org_change: start)\n", rt->channel, stored_id, re->org, org);
                        }
                }
                switch (session_probe_route(sess, i, &from, &why)) {
                case SESSION_PROBE_OK:
                        format_replay(start, sizeof(start), from);
                        printf("  ok   %s -> %s, resumes %s (%s)\n", rt->channel, rt->topic, start,
                               stored ? "stored replay ID" : "route start");
                        break;
                case SESSION_PROBE_REPLAY_GONE:
                        /* A start handles it by the route's policy: only fail stops it. */
                        if (rt->on_invalid_replay == INVALID_REPLAY_FAIL) {
                                printf("  FAIL %s: stored replay ID %lld is no longer retained by "
                                       "Salesforce and on_invalid_replay is fail: a start exits 3 "
                                       "(move it with `sfbridge replay set --all` or --new): %s\n",
                                       rt->channel, from, why);
                                failed = 1;
                                break;
                        }
                        printf("  WARN %s: stored replay ID %lld is no longer retained by Salesforce: "
                               "the events after it are lost; a start applies on_invalid_replay: %s "
                               "(resubscribes %s), logs and counts the gap once, records it on %s "
                               "and in-band (header sf.gap) on %s, and resumes from -2 until the "
                               "route's next event: %s\n",
                               rt->channel, from, config_invalid_replay_name(rt->on_invalid_replay),
                               rt->on_invalid_replay == INVALID_REPLAY_ALL
                                   ? "from -2, every event Salesforce still retains"
                                   : "from -1, new events only",
                               gap_topic, rt->topic, why);
                        break;
                case SESSION_PROBE_REFUSED:
                case SESSION_PROBE_FATAL:
                        printf("  FAIL %s: %s\n", rt->channel, why);
                        failed = 1;
                        break;
                case SESSION_PROBE_NONE:
                        printf("  FAIL %s: no subscribe reply\n", rt->channel);
                        failed = 1;
                        break;
                }
        }
        return failed ? -1 : 0;
}

/*
 * The Kafka half of `check --online`: what the cluster says about the topics
 * a start would write, asked without writing anything (an all-topics
 * Metadata request creates no topic, unlike one that names them).
 */
struct cli_kafka {
        rd_kafka_t *rk;
        const struct rd_kafka_metadata *md;
        char replay_policy[64]; /* the replay topic's cleanup.policy; "" unknown */
        char auto_create[16];   /* the broker's auto.create.topics.enable; "" unknown */
        char admin_err[256];    /* why DescribeConfigs told us nothing */
};

static const struct rd_kafka_metadata_topic *cli_md_topic(const struct rd_kafka_metadata *md,
                                                          const char *name)
{
        int i;

        for (i = 0; i < md->topic_cnt; i++)
                if (!strcmp(md->topics[i].topic, name))
                        return &md->topics[i];
        return NULL;
}

static void cli_take_config(const rd_kafka_ConfigResource_t *res, const char *name, char *out,
                            size_t out_size)
{
        const rd_kafka_ConfigEntry_t **entries;
        size_t n, i;

        entries = rd_kafka_ConfigResource_configs(res, &n);
        for (i = 0; i < n; i++)
                if (!strcmp(rd_kafka_ConfigEntry_name(entries[i]), name) &&
                    rd_kafka_ConfigEntry_value(entries[i]))
                        snprintf(out, out_size, "%s", rd_kafka_ConfigEntry_value(entries[i]));
}

/*
 * One DescribeConfigs for the broker's auto.create.topics.enable and, when
 * the topic exists, the replay topic's cleanup.policy. A cluster that does
 * not answer (librdkafka's mock cluster has no DescribeConfigs; a principal
 * without DescribeConfigs rights) leaves both unknown, with admin_err.
 */
static void cli_describe(struct cli_kafka *ck, const char *replay_topic, int replay_exists)
{
        const rd_kafka_DescribeConfigs_result_t *result;
        const rd_kafka_ConfigResource_t **res;
        rd_kafka_ConfigResource_t *want[2];
        rd_kafka_AdminOptions_t *opts;
        rd_kafka_queue_t *rkqu;
        rd_kafka_event_t *rkev = NULL;
        char broker[16], rderr[256];
        size_t n = 0, i;

        snprintf(broker, sizeof(broker), "%d", (int)ck->md->brokers[0].id);
        want[n++] = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_BROKER, broker);
        if (replay_exists)
                want[n++] = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, replay_topic);
        opts = rd_kafka_AdminOptions_new(ck->rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
        rkqu = rd_kafka_queue_new(ck->rk);
        if (opts && rkqu) {
                rd_kafka_AdminOptions_set_request_timeout(opts, CLI_ADMIN_TIMEOUT_MS, rderr,
                                                          sizeof(rderr));
                rd_kafka_DescribeConfigs(ck->rk, want, n, opts, rkqu);
                rkev = rd_kafka_queue_poll(rkqu, CLI_ADMIN_TIMEOUT_MS + 1000);
        }
        if (!rkev)
                snprintf(ck->admin_err, sizeof(ck->admin_err), "no answer within %d s",
                         CLI_ADMIN_TIMEOUT_MS / 1000);
        else if (rd_kafka_event_error(rkev))
                snprintf(ck->admin_err, sizeof(ck->admin_err), "%s",
                         rd_kafka_event_error_string(rkev));
        else if ((result = rd_kafka_event_DescribeConfigs_result(rkev))) {
                res = rd_kafka_DescribeConfigs_result_resources(result, &n);
                for (i = 0; i < n; i++) {
                        if (rd_kafka_ConfigResource_error(res[i])) {
                                snprintf(ck->admin_err, sizeof(ck->admin_err), "%s: %s",
                                         rd_kafka_err2name(rd_kafka_ConfigResource_error(res[i])),
                                         rd_kafka_ConfigResource_error_string(res[i])
                                                 ? rd_kafka_ConfigResource_error_string(res[i])
                                                 : "");
                                continue;
                        }
                        if (rd_kafka_ConfigResource_type(res[i]) == RD_KAFKA_RESOURCE_BROKER)
                                cli_take_config(res[i], "auto.create.topics.enable", ck->auto_create,
                                                sizeof(ck->auto_create));
                        else
                                cli_take_config(res[i], "cleanup.policy", ck->replay_policy,
                                                sizeof(ck->replay_policy));
                }
        }
        if (rkev)
                rd_kafka_event_destroy(rkev);
        if (rkqu)
                rd_kafka_queue_destroy(rkqu);
        if (opts)
                rd_kafka_AdminOptions_destroy(opts);
        for (i = 0; i < (replay_exists ? 2u : 1u); i++)
                rd_kafka_ConfigResource_destroy(want[i]);
}

/*
 * A topic a start writes by name (@p what names it: "topic T (route C)").
 * @returns 0, or -1 when a start could not write it.
 */
static int cli_check_topic(const struct cli_kafka *ck, const char *what, const char *topic)
{
        const struct rd_kafka_metadata_topic *mt = cli_md_topic(ck->md, topic);

        if (mt && mt->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED) {
                printf("  FAIL %s: TOPIC_AUTHORIZATION_FAILED: the bridge's principal may not "
                       "use it (grant Describe and Write)\n", what);
                return -1;
        }
        if (mt && mt->err && mt->err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART &&
            mt->err != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE) {
                printf("  FAIL %s: %s: %s\n", what, rd_kafka_err2name(mt->err),
                       rd_kafka_err2str(mt->err));
                return -1;
        }
        if (mt && !mt->err) {
                printf("  ok   %s: exists, %d partitions (the Write ACL itself shows only when "
                       "producing)\n", what, mt->partition_cnt);
                return 0;
        }
        if (!strcmp(ck->auto_create, "true")) {
                printf("  ok   %s: does not exist yet; the cluster creates it at the first "
                       "record (auto.create.topics.enable=true)\n", what);
                return 0;
        }
        if (ck->auto_create[0]) {
                printf("  FAIL %s: does not exist and the cluster does not create it "
                       "(auto.create.topics.enable=%s): create it before starting\n",
                       what, ck->auto_create);
                return -1;
        }
        printf("  WARN %s: does not exist yet; whether the cluster creates it is not "
               "verifiable (DescribeConfigs: %s)\n", what, ck->admin_err);
        return 0;
}

/*
 * @returns 0 when Kafka would take a start (warnings allowed), -1 on a FAIL
 *          line, -2 when Kafka cannot be reached at all.
 */
static int check_kafka(const struct config *cfg)
{
        const struct rd_kafka_metadata_topic *mt;
        struct cli_kafka ck = { 0 };
        rd_kafka_conf_t *conf;
        rd_kafka_resp_err_t err;
        char errstr[512];
        int failed = 0;
        size_t i, j;

        if (!(conf = kafka_conf_new(cfg, KAFKA_CONF_PRODUCER, errstr, sizeof(errstr))) ||
            !(ck.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr)))) {
                if (conf)
                        rd_kafka_conf_destroy(conf);
                printf("  FAIL kafka %s: %s\n", cfg->kafka.bootstrap_servers, errstr);
                return -2;
        }
        err = rd_kafka_metadata(ck.rk, 1, NULL, &ck.md, CLI_METADATA_TIMEOUT_MS);
        if (err || ck.md->broker_cnt == 0) {
                printf("  FAIL kafka %s: unreachable: no metadata within %d s (%s)\n",
                       cfg->kafka.bootstrap_servers, CLI_METADATA_TIMEOUT_MS / 1000,
                       err ? rd_kafka_err2str(err) : "no broker listed");
                failed = 2;
                goto out;
        }
        printf("  ok   kafka %s: reachable, %d broker%s, %d topics\n", cfg->kafka.bootstrap_servers,
               ck.md->broker_cnt, ck.md->broker_cnt == 1 ? "" : "s", ck.md->topic_cnt);
        mt = cli_md_topic(ck.md, cfg->kafka.replay_topic);
        cli_describe(&ck, cfg->kafka.replay_topic, mt && !mt->err);

        /* The replay topic: compacted, or the positions expire with retention.ms. */
        if (mt && mt->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED) {
                printf("  FAIL replay topic %s: TOPIC_AUTHORIZATION_FAILED: the bridge's principal "
                       "needs Describe, Read and Write on it\n", cfg->kafka.replay_topic);
                failed = 1;
        } else if (!mt || mt->err) {
                printf("  ok   replay topic %s: does not exist yet; a start creates it with "
                       "cleanup.policy=compact\n", cfg->kafka.replay_topic);
        } else if (!ck.replay_policy[0]) {
                printf("  WARN replay topic %s: cleanup.policy not verifiable (DescribeConfigs: "
                       "%s); it must be compact\n", cfg->kafka.replay_topic, ck.admin_err);
        } else if (!strstr(ck.replay_policy, "compact")) {
                printf("  FAIL replay topic %s: cleanup.policy=%s; it must be compact, or the "
                       "stored replay IDs expire with the topic's retention.ms\n",
                       cfg->kafka.replay_topic, ck.replay_policy);
                failed = 1;
        } else {
                printf("  ok   replay topic %s: cleanup.policy=%s\n", cfg->kafka.replay_topic,
                       ck.replay_policy);
        }

        /* Group mode: the coordination topic, whose partitions stand for the units. */
        if (cfg->coord.enabled) {
                int want = units_topic_partitions(cfg);

                mt = cli_md_topic(ck.md, cfg->coord.topic);
                if (mt && mt->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED) {
                        printf("  FAIL coordination topic %s: TOPIC_AUTHORIZATION_FAILED: the "
                               "bridge's principal needs Describe and Read on it\n", cfg->coord.topic);
                        failed = 1;
                } else if (!mt || mt->err) {
                        printf("  ok   coordination topic %s: does not exist yet; a start creates it "
                               "with %d partitions (one per unit)\n", cfg->coord.topic, want);
                } else if (mt->partition_cnt < want) {
                        printf("  WARN coordination topic %s: %d partitions for %d units (%d "
                               "wanted): units share partitions and move together\n",
                               cfg->coord.topic, mt->partition_cnt, (int)cfg->nunits, want);
                        print_unit_map(cfg, mt->partition_cnt, "       ");
                } else {
                        printf("  ok   coordination topic %s: exists, %d partitions for %d units\n",
                               cfg->coord.topic, mt->partition_cnt, (int)cfg->nunits);
                        if (mt->partition_cnt != want)
                                print_unit_map(cfg, mt->partition_cnt, "       ");
                }
        }

        /* Each topic written by name, once; {entity} topics by the cluster's policy. */
        for (i = 0; i < cfg->nroutes; i++) {
                const struct config_route *rt = &cfg->routes[i];
                char what[600];

                for (j = 0; j < i && strcmp(cfg->routes[j].topic, rt->topic); j++)
                        ;
                if (j < i)
                        continue;
                if (!strchr(rt->topic, '{')) {
                        snprintf(what, sizeof(what), "topic %s (route %s)", rt->topic, rt->channel);
                        if (cli_check_topic(&ck, what, rt->topic) == -1)
                                failed = 1;
                } else if (!strcmp(ck.auto_create, "true")) {
                        printf("  ok   {entity} topics of %s (%s): the cluster creates each at its "
                               "first record (auto.create.topics.enable=true)\n",
                               rt->channel, rt->topic);
                } else if (ck.auto_create[0]) {
                        printf("  WARN {entity} topics of %s (%s): the cluster does not create "
                               "topics (auto.create.topics.enable=%s): create each entity's topic "
                               "beforehand, or its events are dead-lettered (or stop the route)\n",
                               rt->channel, rt->topic, ck.auto_create);
                } else {
                        printf("  WARN {entity} topics of %s (%s): whether the cluster creates "
                               "them is not verifiable (DescribeConfigs: %s); one it refuses is "
                               "dead-lettered (or stops the route)\n",
                               rt->channel, rt->topic, ck.admin_err);
                }
        }
        if (cfg->kafka.dead_letter_topic) {
                char what[300];

                snprintf(what, sizeof(what), "dead letter topic %s", cfg->kafka.dead_letter_topic);
                if (cli_check_topic(&ck, what, cfg->kafka.dead_letter_topic) == -1)
                        failed = 1;
        }
out:
        if (ck.md)
                rd_kafka_metadata_destroy(ck.md);
        rd_kafka_destroy(ck.rk);
        return -failed;
}

/*
 * `check --online` drives the bridge's own session in probe mode: the same
 * login, handshake and subscribe code a run uses, so a pass means a start
 * would get as far.
 */
static int check_online_unit(const struct config *cfg, int kafka_rc);

static int check_online(const struct config *cfg)
{
        struct config view;
        int kafka_rc, failed = 0;
        size_t u;

        printf("online:\n");
        /* Before the replay store's read, which may create the replay topic. */
        if ((kafka_rc = check_kafka(cfg)) == -2)
                return -1;
        if (!cfg->coord.enabled)
                return check_online_unit(cfg, kafka_rc);
        /* Group mode: each unit logs in as its owner would (its org, its routes). */
        for (u = 0; u < cfg->nunits; u++) {
                config_unit_view(cfg, u, &view);
                printf("unit %s:\n", view.unit);
                if (check_online_unit(&view, kafka_rc) == -1)
                        failed = 1;
        }
        return failed ? -1 : 0;
}

static int check_online_unit(const struct config *cfg, int kafka_rc)
{
        struct replay_store *rs = NULL;
        struct http *http = NULL;
        struct session *sess = NULL;
        struct http_opts hopts = { 0 };
        struct session_opts sopts = { 0 };
        struct session_hooks hooks = { 0 };
        const struct auth_token *tok;
        char err[1024] = "";
        long long deadline;
        int failed = 1, rc = 0;

        if (!(rs = replay_store_new(cfg, err, sizeof(err))) ||
            replay_store_load(rs, CLI_KAFKA_TIMEOUT_MS, err, sizeof(err)) == -1) {
                printf("  FAIL kafka %s: cannot read the replay topic %s: %s\n",
                       cfg->kafka.bootstrap_servers, cfg->kafka.replay_topic, err);
                goto out;
        }
        printf("  ok   kafka %s: replay topic %s holds %zu entries\n", cfg->kafka.bootstrap_servers,
               cfg->kafka.replay_topic, replay_store_count(rs));
        hopts.ca_file = cfg->sf.ca_file;
        hopts.proxy = cfg->sf.proxy;
        hopts.max_response = cfg->sf.max_response_bytes;
        sopts.probe = 1;
        sopts.backoff_cap_ms = sopts.limit_backoff_cap_ms = 1000;
        hooks.ctx = rs;
        hooks.replay_from = cli_replay_from;
        if (metrics_init(cfg->name, SFBRIDGE_VERSION) == -1 ||
            !(http = http_new(&hopts, err, sizeof(err))) ||
            !(sess = session_new(cfg, http, &sopts, &hooks, err, sizeof(err)))) {
                printf("  FAIL %s\n", err[0] ? err : "out of memory");
                goto out;
        }
        deadline = cli_now_ms() + 2 * CLI_HTTP_TIMEOUT_MS;
        while ((rc = session_step(sess, err, sizeof(err))) == 0 && !session_probed(sess)) {
                if (cli_now_ms() > deadline) {
                        snprintf(err, sizeof(err), "no answer within %ld s", 2 * CLI_HTTP_TIMEOUT_MS / 1000);
                        rc = -1;
                        break;
                }
                http_poll(http, 200, -1);
        }
        tok = session_token(sess);
        if (tok)
                printf("  ok   login (%s flow): instance %s, org %s\n", config_flow_name(cfg->sf.flow),
                       tok->instance_url, tok->org_id ? tok->org_id : "?");
        if (rc == -1) {
                printf("  FAIL %s: %s\n", !tok ? "login" : session_handshaken(sess) ? "subscribe" : "handshake",
                       err);
                goto out;
        }
        printf("  ok   handshake at %s\n", session_cometd_url(sess));
        failed = check_print_routes(cfg, rs, sess) == -1 || kafka_rc == -1;
        session_disconnect(sess, 5000);
out:
        session_destroy(sess);
        http_destroy(http);
        metrics_shutdown();
        replay_store_destroy(rs);
        return failed ? -1 : 0;
}

int cli_check(const char *path, int online)
{
        struct config *cfg = load_or_report(path);
        int ok;

        if (!cfg) {
                fprintf(stderr, "sfbridge: configuration file %s test failed\n", path);
                return EXIT_CONFIG;
        }
        print_plan(cfg);
        ok = !online || check_online(cfg) == 0;
        config_destroy(cfg);
        if (!ok) {
                fprintf(stderr, "sfbridge: configuration file %s online test failed\n", path);
                return EXIT_CONFIG;
        }
        printf("sfbridge: configuration file %s test is successful%s\n", path, online ? " (online)" : "");
        return EXIT_CLEAN;
}

static int open_store(const char *path, struct config **cfgp, struct replay_store **rsp)
{
        char err[1024];

        if (!(*cfgp = load_or_report(path)))
                return EXIT_CONFIG;
        if (!(*rsp = replay_store_new(*cfgp, err, sizeof(err))) ||
            replay_store_load(*rsp, CLI_KAFKA_TIMEOUT_MS, err, sizeof(err)) == -1) {
                fprintf(stderr, "sfbridge: cannot read replay topic %s at %s: %s\n",
                        (*cfgp)->kafka.replay_topic, (*cfgp)->kafka.bootstrap_servers, err);
                return EXIT_FATAL;
        }
        return EXIT_CLEAN;
}

int cli_replay_list(const char *path)
{
        struct config *cfg = NULL;
        struct replay_store *rs = NULL;
        size_t i;
        int rc = open_store(path, &cfg, &rs);

        if (rc != EXIT_CLEAN)
                goto out;
        printf("%-40s %-20s %-26s %-26s %s\n", "CHANNEL", "REPLAY_ID", "EVENT_TIME", "COMMITTED_AT",
               "ORG (LOGIN HOST)");
        for (i = 0; i < cfg->nroutes; i++) {
                const struct config_route *rt = &cfg->routes[i];
                const struct replay_entry *re = NULL;
                size_t j;

                for (j = 0; j < replay_store_count(rs); j++)
                        if (!strcmp(replay_store_entry(rs, j)->channel, rt->channel))
                                re = replay_store_entry(rs, j);
                /* The org that wrote it: "-" for records of older versions and `replay set`. */
                if (re)
                        printf("%-40s %-20lld %-26s %-26s %s%s%s%s\n", rt->channel, re->replay_id,
                               re->event_time[0] ? re->event_time : "-",
                               re->committed_at[0] ? re->committed_at : "-",
                               re->org[0] ? re->org : "-", re->login_host[0] ? " (" : "",
                               re->login_host, re->login_host[0] ? ")" : "");
                else
                        printf("%-40s %-20s %-26s %s\n", rt->channel, "-", "-",
                               rt->start == REPLAY_ALL ? "(nothing stored: starts with all retained)"
                                                       : "(nothing stored: starts with new events)");
        }
out:
        replay_store_destroy(rs);
        config_destroy(cfg);
        return rc;
}

int cli_replay_set(const char *path, const char *channel, long long replay_id)
{
        struct config *cfg = NULL;
        struct replay_store *rs = NULL;
        const struct config_route *rt;
        char err[1024], what[32];
        int rc = open_store(path, &cfg, &rs);

        if (rc != EXIT_CLEAN)
                goto out;
        if (!(rt = config_find_route(cfg, channel))) {
                fprintf(stderr, "sfbridge: %s: no route for channel %s\n", path, channel);
                rc = EXIT_USAGE;
                goto out;
        }
        /* Stored under the route's own spelling, which is what a run looks up. */
        if (replay_store_write(rs, rt->channel, replay_id, CLI_KAFKA_TIMEOUT_MS, err, sizeof(err)) == -1) {
                fprintf(stderr, "sfbridge: cannot write replay record for %s: %s\n", rt->channel, err);
                rc = EXIT_FATAL;
                goto out;
        }
        format_replay(what, sizeof(what), replay_id);
        printf("%s: the next start resumes %s\n", rt->channel, what);
out:
        replay_store_destroy(rs);
        config_destroy(cfg);
        return rc;
}

/* One string member of an owner record, "" when absent. */
static const char *owner_field(const cJSON *root, const char *name)
{
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, name);

        return cJSON_IsString(item) && item->valuestring ? item->valuestring : "";
}

/*
 * The owner column: "none" (no owner record), "released (at …)", or who
 * claimed it: instance, host, member id (group mode) and since when.
 */
static void format_owner(const char *value, size_t len, char *out, size_t out_size)
{
        cJSON *root;
        const char *state;

        if (!value) {
                snprintf(out, out_size, "none");
                return;
        }
        if (!(root = cJSON_ParseWithLength(value, len)) || !cJSON_IsObject(root)) {
                snprintf(out, out_size, "unreadable owner record");
                cJSON_Delete(root);
                return;
        }
        state = owner_field(root, "state");
        if (!strcmp(state, "released"))
                snprintf(out, out_size, "released (by instance %s at %s)",
                         owner_field(root, "instance"), owner_field(root, "at")[0] ? owner_field(root, "at") : "-");
        else
                snprintf(out, out_size, "instance %s host %s member %s since %s",
                         owner_field(root, "instance")[0] ? owner_field(root, "instance") : "-",
                         owner_field(root, "host")[0] ? owner_field(root, "host") : "-",
                         owner_field(root, "member_id")[0] ? owner_field(root, "member_id") : "-",
                         owner_field(root, "at")[0] ? owner_field(root, "at") : "-");
        cJSON_Delete(root);
}

int cli_units(const char *path)
{
        struct config *cfg = load_or_report(path);
        int nparts, rc = EXIT_CLEAN;
        size_t u;

        if (!cfg)
                return EXIT_CONFIG;
        nparts = units_topic_partitions(cfg);
        printf("%-24s %-9s %-40s %s\n", "UNIT", "PARTITION", "TRANSACTIONAL_ID", "OWNER");
        for (u = 0; u < cfg->nunits; u++) {
                struct replay_store *rs = NULL;
                struct config view;
                char txn[300], part[16], owner[600], err[1024];
                const char *value;
                size_t len = 0;

                config_unit_view(cfg, u, &view);
                units_txn_id(&view, txn, sizeof(txn));
                if (cfg->coord.enabled)
                        snprintf(part, sizeof(part), "%d", units_partition(cfg, u, nparts));
                else
                        snprintf(part, sizeof(part), "-");
                /* The unit's own store reads its owner record (key units_owner_key()). */
                if (!(rs = replay_store_new(&view, err, sizeof(err))) ||
                    replay_store_load(rs, CLI_KAFKA_TIMEOUT_MS, err, sizeof(err)) == -1) {
                        fprintf(stderr, "sfbridge: cannot read replay topic %s at %s: %s\n",
                                cfg->kafka.replay_topic, cfg->kafka.bootstrap_servers, err);
                        replay_store_destroy(rs);
                        rc = EXIT_FATAL;
                        break;
                }
                value = replay_store_owner(rs, &len);
                format_owner(value, len, owner, sizeof(owner));
                printf("%-24s %-9s %-40s %s\n", view.unit, part, txn, owner);
                replay_store_destroy(rs);
        }
        config_destroy(cfg);
        return rc;
}
