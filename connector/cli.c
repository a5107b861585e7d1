/*
 * `check` follows nginx -t: validate, print what would run, and end with one
 * line that says whether the test passed. `--online` goes as far as a real
 * start would (login, handshake, one subscribe per route) and then leaves.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "bayeux.h"
#include "bridge.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "recovery.h"
#include "replay_store.h"

#define CLI_KAFKA_TIMEOUT_MS 15000
#define CLI_HTTP_TIMEOUT_MS 30000L

static const char *key_name(enum route_key k)
{
        return k == ROUTE_KEY_REPLAY_ID ? "replay_id" : k == ROUTE_KEY_RECORD_ID ? "record_id" : "none";
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

static void print_plan(const struct config *cfg)
{
        size_t i;

        printf("name: %s\ndelivery: %s\nkafka: %s (replay topic %s)\nsalesforce: %s (API %s, %s flow)\nroutes:\n",
               cfg->name, config_delivery_name(cfg->kafka.delivery), cfg->kafka.bootstrap_servers,
               cfg->kafka.replay_topic, cfg->sf.login_url, cfg->sf.api_version,
               config_flow_name(cfg->sf.flow));
        for (i = 0; i < cfg->nroutes; i++) {
                const struct config_route *rt = &cfg->routes[i];
                char start[32];

                format_replay(start, sizeof(start), rt->start);
                printf("  %s -> %s  key=%s value=%s start=%s on_invalid_replay=%s\n", rt->channel,
                       rt->topic, key_name(rt->key), value_name(rt->value), start,
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

/* One subscribe, its verdict printed; returns 0 when the route is usable. */
static int check_route(struct http_xfer *x, const char *url, const char *auth, const char *client_id,
                       const struct config_route *rt, long long from, int stored, unsigned long *id)
{
        struct bayeux_response resp = { 0 };
        struct bayeux_sub sub = { rt->channel, from };
        struct buf body;
        char err[512], start[32];
        int ok = -1;
        size_t i;

        buf_init(&body, BAYEUX_MAX_BODY);
        format_replay(start, sizeof(start), from);
        if (bayeux_build_subscribes(&body, client_id, &sub, 1, BAYEUX_MAX_BODY, id) != 1 ||
            http_xfer_run(x, url, "application/json", auth, body.data, body.len, CLI_HTTP_TIMEOUT_MS,
                          err, sizeof(err)) == -1) {
                printf("  FAIL %s: subscribe request failed: %s\n", rt->channel, err);
                goto out;
        }
        if (x->status != 200 || bayeux_response_parse(&resp, x->body.data, x->body.len, err, sizeof(err)) == -1) {
                printf("  FAIL %s: subscribe answered HTTP %ld %s\n", rt->channel, x->status,
                       x->status == 200 ? err : "");
                goto out;
        }
        for (i = 0; i < resp.nmsgs; i++) {
                const struct bayeux_msg *m = &resp.msgs[i];
                struct recovery_input in = { 0, 200, m };
                struct recovery_decision dec;

                if (m->kind != BAYEUX_SUBSCRIBE)
                        continue;
                if (m->successful == 1) {
                        printf("  ok   %s -> %s, resumes %s (%s)\n", rt->channel, rt->topic, start,
                               stored ? "stored replay ID" : "route start");
                        ok = 0;
                        if (bayeux_build_unsubscribe(&body, client_id, rt->channel, id) == 0)
                                http_xfer_run(x, url, "application/json", auth, body.data, body.len,
                                              CLI_HTTP_TIMEOUT_MS, err, sizeof(err));
                        goto out;
                }
                dec = recovery_classify(&in);
                if (dec.action == ACT_INVALID_REPLAY)
                        printf("  FAIL %s: stored replay ID %lld is no longer retained by Salesforce "
                               "(a start would apply on_invalid_replay: %s): %s\n",
                               rt->channel, from, config_invalid_replay_name(rt->on_invalid_replay),
                               m->error ? m->error : "");
                else
                        printf("  FAIL %s: %s\n", rt->channel, m->error ? m->error : "subscribe refused");
                goto out;
        }
        printf("  FAIL %s: no subscribe reply\n", rt->channel);
out:
        bayeux_response_free(&resp);
        buf_free(&body);
        return ok;
}

static int check_online(const struct config *cfg)
{
        struct replay_store *rs = NULL;
        struct http *http = NULL;
        struct http_opts hopts = { 0 };
        struct http_xfer x = { 0 };
        struct auth_token tok = { 0 };
        struct bayeux_response resp = { 0 };
        struct buf body;
        char err[1024], url[1024], *auth = NULL, *cometd = NULL, client_id[128] = "";
        unsigned long id = 0;
        int failed = 1;
        size_t i;

        buf_init(&body, 64 * 1024);
        printf("online:\n");
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
        if (!(http = http_new(&hopts, err, sizeof(err))) || http_xfer_init(http, &x, err, sizeof(err)) == -1)
                goto out;
        if (auth_build_request(cfg, url, sizeof(url), &body, err, sizeof(err)) == -1) {
                printf("  FAIL login: %s\n", err);
                goto out;
        }
        if (http_xfer_run(&x, url, "application/x-www-form-urlencoded", NULL, body.data, body.len,
                          CLI_HTTP_TIMEOUT_MS, err, sizeof(err)) == -1) {
                printf("  FAIL login at %s: %s\n", url, err);
                goto out;
        }
        memset(body.data, 0, body.len);
        if (auth_parse_response(x.status, x.body.data, x.body.len, &tok, err, sizeof(err)) != AUTH_OK) {
                printf("  FAIL login (%s flow): %s\n", config_flow_name(cfg->sf.flow), err);
                goto out;
        }
        memset(x.body.data, 0, x.body.len);
        printf("  ok   login (%s flow): instance %s, org %s\n", config_flow_name(cfg->sf.flow),
               tok.instance_url, tok.org_id ? tok.org_id : "?");
        auth = auth_bearer(&tok);
        cometd = auth_cometd_url(&tok, cfg->sf.api_version);
        if (!auth || !cometd)
                goto out;

        buf_reset(&body);
        if (bayeux_build_handshake(&body, &id) == -1 ||
            http_xfer_run(&x, cometd, "application/json", auth, body.data, body.len, CLI_HTTP_TIMEOUT_MS,
                          err, sizeof(err)) == -1) {
                printf("  FAIL handshake: %s\n", err);
                goto out;
        }
        if (x.status != 200 || bayeux_response_parse(&resp, x.body.data, x.body.len, err, sizeof(err)) == -1) {
                printf("  FAIL handshake: HTTP %ld %s\n", x.status, x.status == 200 ? err : "");
                goto out;
        }
        for (i = 0; i < resp.nmsgs; i++) {
                const struct bayeux_msg *m = &resp.msgs[i];
                if (m->kind == BAYEUX_HANDSHAKE && m->successful == 1 && m->client_id)
                        snprintf(client_id, sizeof(client_id), "%s", m->client_id);
                else if (m->kind == BAYEUX_HANDSHAKE)
                        printf("  FAIL handshake: %s%s%s\n", m->error ? m->error : "refused",
                               m->failure_reason ? " / " : "", m->failure_reason ? m->failure_reason : "");
        }
        if (!client_id[0])
                goto out;
        printf("  ok   handshake at %s\n", cometd);
        failed = 0;
        for (i = 0; i < cfg->nroutes; i++) {
                const struct config_route *rt = &cfg->routes[i];
                long long from = rt->start;
                int stored = replay_store_get(rs, rt->channel, &from) == 0;

                if (check_route(&x, cometd, auth, client_id, rt, from, stored, &id) == -1)
                        failed = 1;
        }
        if (bayeux_build_disconnect(&body, client_id, &id) == 0)
                http_xfer_run(&x, cometd, "application/json", auth, body.data, body.len, 5000, err, sizeof(err));
out:
        if (auth) {
                memset(auth, 0, strlen(auth));
                free(auth);
        }
        free(cometd);
        auth_token_clear(&tok);
        bayeux_response_free(&resp);
        buf_free(&body);
        if (http) {
                http_xfer_cleanup(&x);
                http_destroy(http);
        }
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
        printf("%-40s %-20s %-26s %s\n", "CHANNEL", "REPLAY_ID", "EVENT_TIME", "COMMITTED_AT");
        for (i = 0; i < cfg->nroutes; i++) {
                const struct config_route *rt = &cfg->routes[i];
                const struct replay_entry *re = NULL;
                size_t j;

                for (j = 0; j < replay_store_count(rs); j++)
                        if (!strcmp(replay_store_entry(rs, j)->channel, rt->channel))
                                re = replay_store_entry(rs, j);
                if (re)
                        printf("%-40s %-20lld %-26s %s\n", rt->channel, re->replay_id,
                               re->event_time[0] ? re->event_time : "-", re->committed_at);
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
