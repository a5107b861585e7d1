/*
 * sfsim: a Salesforce emulator for sfbridge's tests — the OAuth token
 * endpoint, the CometD Streaming API endpoint and an admin API that
 * publishes events and injects faults. This file parses the command line
 * (fixed by DESIGN.md, outside tests use it), opens the listening socket,
 * prints the one ready line, and stops cleanly on SIGTERM/SIGINT.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server.h"
#include "sim.h"

#define PEM_MAX (1024 * 1024)

static const char usage[] =
        "usage: sfsim --listen 127.0.0.1:PORT --client-id ID --client-secret S\n"
        "             --username U --password P [options]\n"
        "\n"
        "A Salesforce emulator: OAuth token endpoint, CometD Streaming API, REST limits\n"
        "(GET /services/data/vXX.X/limits, Bearer token), admin API.\n"
        "Prints `sfsim listening on http://HOST:PORT` (or https) once ready: the login URL\n"
        "(token endpoint, admin API). CometD (/cometd/...) and REST (/services/data/...)\n"
        "are served only on the instance URL the token endpoint returns: one of two more\n"
        "listeners on HOST (free ports); the login URL answers them HTTP 401\n"
        "INVALID_SESSION_ID. revoke-tokens moves the org to the other instance, whose URL\n"
        "new tokens carry; the old one then answers like the login URL.\n"
        "\n"
        "  --listen HOST:PORT       IPv4 address and port; PORT 0 picks a free one\n"
        "  --client-id ID           connected app consumer key (all flows)\n"
        "  --client-secret S        consumer secret (password, refresh_token, client_credentials)\n"
        "  --username U             user (password flow, JWT sub)\n"
        "  --password P             password (+ security token) for the password flow\n"
        "  --jwt-public-key FILE    PEM RSA public key that verifies JWT bearer assertions\n"
        "  --refresh-token T        the refresh token the refresh_token flow accepts\n"
        "                           (default: none accepted)\n"
        "  --rotate-refresh-token   each refresh answers with a new refresh token and retires\n"
        "                           the one used; a retired one presented again revokes them\n"
        "                           all and every access token (expired access/refresh token)\n"
        "  --my-domain              act as a My Domain login host: only then does the\n"
        "                           client_credentials flow work (else: request not supported\n"
        "                           on this domain)\n"
        "  --experience-site URL    also accept URL as a JWT aud (an Experience Cloud site);\n"
        "                           https://login.salesforce.com and https://test.salesforce.com\n"
        "                           always are, nothing else (audience is invalid)\n"
        "  --password-flow-blocked  refuse the username-password flow, as orgs that block it\n"
        "  --token-idle-timeout-ms N  an access token unused this long stops working\n"
        "                           (401::Authentication invalid); 0: never (0)\n"
        "  --connect-timeout-ms N   longest hold of a /meta/connect, advice.timeout (110000)\n"
        "  --client-expiry-ms N     forget a client silent this long after a response (40000);\n"
        "                           a client that stops polling holds its --max-clients slot\n"
        "                           until then (a held poll ends at --connect-timeout-ms, or\n"
        "                           within ~50 ms when its TCP connection closes)\n"
        "  --retention N            events kept per channel (100000)\n"
        "  --retention-age-s N      drop events older than this; 0: never (86400)\n"
        "  --max-batch N            most events in one /meta/connect response (1000)\n"
        "  --max-response-bytes N   events' bytes in one /meta/connect response, about: an\n"
        "                           event is never split, the first always goes (8388608)\n"
        "  --max-clients N          concurrent CometD clients before 403::Organization\n"
        "                           concurrent user limit exceeded (0: 10000)\n"
        "  --daily-delivery-limit N events delivered per allocation (platform + change\n"
        "                           events, PushTopic, generic) before connects answer\n"
        "                           403::Organization total events daily limit exceeded\n"
        "                           (0: Enterprise allocations, reported, not enforced)\n"
        "  --first-replay-id N      replay ID of every channel's first event (1 to 9e18), e.g.\n"
        "                           9007199254740993 to test IDs past 2^53 (default: per\n"
        "                           channel, 1000001 to 10000002)\n"
        "  --missing-channel CH     answer subscribes to CH with \"doesn't exist\" (repeatable)\n"
        "  --org-id ID              18-character org ID starting with 00D (00D000000000001AAA)\n"
        "  --tls-cert FILE          serve https with this PEM certificate ...\n"
        "  --tls-key FILE           ... and this PEM key\n"
        "  --public-url URL         advertise URL instead of the listen address (instance\n"
        "                           URLs: its scheme and host with each instance's port)\n"
        "  --single-host            serve CometD and REST on the login URL too, and name it\n"
        "                           as instance_url (one host, no move on revoke-tokens)\n"
        "  --lb-cookie-ttl-ms N     lifetime of the load-balancer cookie sfdc-stream set at\n"
        "                           handshake; a CometD request without it, with another or\n"
        "                           an expired one gets 403::Unknown client and a fresh one\n"
        "                           (0: never expires; default 10800000, 3 h)\n"
        "  --stats-json FILE        write the /admin/stats document to FILE on exit\n"
        "  --verbose                one stderr line per HTTP request (no secrets)\n"
        "  --help                   this text\n"
        "\n"
        "Admin API (127.0.0.1 peers only):\n"
        "  POST /admin/publish?channel=CH&count=N[&size=BYTES][&entity=E][&change_type=T]\n"
        "       [&fields=JSON][&pretty=1][&bad_replay_id=1][&record_id=ID][&record_ids=IDS]\n"
        "       [&records=N][&transaction=1]\n"
        "       fields: one JSON object (URL-encoded), copied verbatim as data.payload\n"
        "       (data.sobject for /topic/, after ChangeEventHeader for /data/)\n"
        "       entity: the change event's entity on /data/ChangeEvents and /data/X__chn\n"
        "       pretty=1: CR LF, tabs and spaces between the message's tokens\n"
        "       bad_replay_id=1: replayId sent as \"unreadable-N\" (kept as N by sfsim)\n"
        "       record_id=ID: recordIds[0] of every change event published (/data/ only)\n"
        "       record_ids=ID1,ID2,...|records=N: merged changes, several recordIds (/data/)\n"
        "       change_type=T1,T2,...: one type per event, the last repeating (GAP_OVERFLOW:\n"
        "       recordIds []); transaction=1: the publish is one transaction (/data/)\n"
        "  POST /admin/fault?kind=K[&count=N]   K: revoke-tokens, forget-clients, disconnect,\n"
        "       too-busy, concurrent-limit, stall, close-mid-poll, http-503, malformed, clear,\n"
        "       daily-limit (connects: 403::Organization total events daily limit exceeded),\n"
        "       server-limit (handshakes: 403::Handshake denied, per-server connection limit),\n"
        "       redeliver (connects: the client's subscriptions start over at the oldest\n"
        "       retained event, as if subscribed with -2),\n"
        "       restricted-channel&channel=CH, subscribe-denied&channel=CH (CH's subscribes:\n"
        "       403::Restricted channel / the 403 of a missing permission for CH's kind),\n"
        "       forget-after-first-connect (each new client is forgotten once its first\n"
        "       /meta/connect answered: a flapping session)\n"
        "       &advice=none|handshake|absent (forget-clients, forget-after-first-connect):\n"
        "       the advice of later 403::Unknown client replies (default handshake)\n"
        "       &advice=none|handshake (disconnect): the connect reply's reconnect\n"
        "       (default none, as CometD's server-side disconnect)\n"
        "       &status=S (revoke-tokens; forget-clients, forget-after-first-connect): the\n"
        "       401::Authentication invalid (403::Unknown client) replies come with HTTP S\n"
        "       advice and status are kept until clear\n"
        "  POST /admin/retention?keep=N\n"
        "  POST /admin/max-response?bytes=N   as --max-response-bytes, from the next answer\n"
        "  POST /admin/credentials?password=P   rotate the password-flow password\n"
        "  POST /admin/token-answer[?instance_url=URL][&access_token=crlf]   answer token\n"
        "       requests as a hostile endpoint: URL as instance_url, CR LF and a header\n"
        "       (X-Sfsim-Injected: 1) after the valid access_token; no parameters: undo\n"
        "  GET  /admin/stats   (clients live and clients_peak, deliveries per allocation, ...)\n"
        "       pollers: {CH: {now, max_concurrent_pollers, poll_overlap_ms}} per channel: clients\n"
        "       subscribed to CH with a /meta/connect in progress now, the most at once, and the\n"
        "       total ms with 2 or more (since start or the last reset)\n"
        "  POST /admin/reset-pollers   max_concurrent_pollers := now, poll_overlap_ms := 0\n"
        "  GET  /admin/clients   {\"clients\":[{clientId, created, last_connect, connects,\n"
        "       subscriptions, polling, disconnected, state, ended, peer_port}]}: live clients\n"
        "       and the last 256 removed ones (state disconnected, expired, forgotten, revoked,\n"
        "       server-disconnected), oldest first\n";

enum opt {
        OPT_LISTEN = 1000, OPT_CLIENT_ID, OPT_CLIENT_SECRET, OPT_USERNAME, OPT_PASSWORD,
        OPT_JWT_KEY, OPT_REFRESH, OPT_CONNECT_TIMEOUT, OPT_EXPIRY, OPT_RETENTION,
        OPT_RETENTION_AGE, OPT_MAX_BATCH, OPT_MAX_RESPONSE, OPT_MAX_CLIENTS, OPT_DAILY_LIMIT, OPT_FIRST_REPLAY_ID, OPT_MISSING,
        OPT_ORG_ID, OPT_TLS_CERT, OPT_TLS_KEY, OPT_PUBLIC_URL, OPT_STATS_JSON, OPT_VERBOSE, OPT_HELP,
        OPT_ROTATE_RT, OPT_MY_DOMAIN, OPT_EXPERIENCE_SITE, OPT_PASSWORD_BLOCKED, OPT_TOKEN_IDLE,
        OPT_SINGLE_HOST, OPT_LB_COOKIE_TTL,
};

static const struct option options[] = {
        { "listen", required_argument, NULL, OPT_LISTEN },
        { "client-id", required_argument, NULL, OPT_CLIENT_ID },
        { "client-secret", required_argument, NULL, OPT_CLIENT_SECRET },
        { "username", required_argument, NULL, OPT_USERNAME },
        { "password", required_argument, NULL, OPT_PASSWORD },
        { "jwt-public-key", required_argument, NULL, OPT_JWT_KEY },
        { "refresh-token", required_argument, NULL, OPT_REFRESH },
        { "connect-timeout-ms", required_argument, NULL, OPT_CONNECT_TIMEOUT },
        { "client-expiry-ms", required_argument, NULL, OPT_EXPIRY },
        { "retention", required_argument, NULL, OPT_RETENTION },
        { "retention-age-s", required_argument, NULL, OPT_RETENTION_AGE },
        { "max-batch", required_argument, NULL, OPT_MAX_BATCH },
        { "max-response-bytes", required_argument, NULL, OPT_MAX_RESPONSE },
        { "max-clients", required_argument, NULL, OPT_MAX_CLIENTS },
        { "daily-delivery-limit", required_argument, NULL, OPT_DAILY_LIMIT },
        { "first-replay-id", required_argument, NULL, OPT_FIRST_REPLAY_ID },
        { "missing-channel", required_argument, NULL, OPT_MISSING },
        { "org-id", required_argument, NULL, OPT_ORG_ID },
        { "tls-cert", required_argument, NULL, OPT_TLS_CERT },
        { "tls-key", required_argument, NULL, OPT_TLS_KEY },
        { "public-url", required_argument, NULL, OPT_PUBLIC_URL },
        { "stats-json", required_argument, NULL, OPT_STATS_JSON },
        { "verbose", no_argument, NULL, OPT_VERBOSE },
        { "single-host", no_argument, NULL, OPT_SINGLE_HOST },
        { "lb-cookie-ttl-ms", required_argument, NULL, OPT_LB_COOKIE_TTL },
        { "help", no_argument, NULL, OPT_HELP },
        { "rotate-refresh-token", no_argument, NULL, OPT_ROTATE_RT },
        { "my-domain", no_argument, NULL, OPT_MY_DOMAIN },
        { "experience-site", required_argument, NULL, OPT_EXPERIENCE_SITE },
        { "password-flow-blocked", no_argument, NULL, OPT_PASSWORD_BLOCKED },
        { "token-idle-timeout-ms", required_argument, NULL, OPT_TOKEN_IDLE },
        { NULL, 0, NULL, 0 },
};

static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int bad_usage(const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "sfsim: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\nsfsim: try --help\n");
        return 2;
}

static int parse_num(const char *opt, const char *s, long min, long max, long *out)
{
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (!*s || *end || errno || v < min || v > max) {
                fprintf(stderr, "sfsim: --%s: '%s' is not an integer from %ld to %ld\n", opt, s, min,
                        max);
                return -1;
        }
        *out = v;
        return 0;
}

static int parse_listen(const char *s, struct sim_config *cfg)
{
        const char *colon = strrchr(s, ':');
        struct in_addr addr;
        long port;
        size_t n;

        if (!colon || colon == s || (size_t)(colon - s) >= sizeof(cfg->listen_host))
                return -1;
        n = (size_t)(colon - s);
        memcpy(cfg->listen_host, s, n);
        cfg->listen_host[n] = '\0';
        if (!strcmp(cfg->listen_host, "localhost"))
                strcpy(cfg->listen_host, "127.0.0.1");
        if (inet_pton(AF_INET, cfg->listen_host, &addr) != 1)
                return -1;
        if (parse_num("listen", colon + 1, 0, 65535, &port) == -1)
                return -1;
        cfg->listen_port = (int)port;
        return 0;
}

static int parse_args(int argc, char **argv, struct sim_config *cfg)
{
        long v;
        int c;

        memset(cfg, 0, sizeof(*cfg));
        strcpy(cfg->listen_host, "127.0.0.1");
        cfg->connect_timeout_ms = 110000;
        cfg->client_expiry_ms = 40000;
        cfg->retention = 100000;
        cfg->retention_age_s = 86400;
        cfg->max_batch = 1000;
        cfg->max_response_bytes = 8 * 1024 * 1024;
        cfg->org_id = "00D000000000001AAA";
        cfg->lb_cookie_ttl_ms = 3L * 3600 * 1000;

        while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
                switch (c) {
                case OPT_LISTEN:
                        if (parse_listen(optarg, cfg) == -1)
                                return bad_usage("--listen: '%s' is not IPV4:PORT", optarg);
                        break;
                case OPT_CLIENT_ID: cfg->client_id = optarg; break;
                case OPT_CLIENT_SECRET: cfg->client_secret = optarg; break;
                case OPT_USERNAME: cfg->username = optarg; break;
                case OPT_PASSWORD: cfg->password = optarg; break;
                case OPT_JWT_KEY: cfg->jwt_public_key = optarg; break;
                case OPT_REFRESH: cfg->refresh_token = optarg; break;
                case OPT_CONNECT_TIMEOUT:
                        if (parse_num("connect-timeout-ms", optarg, 1, 3600000, &v) == -1)
                                return 2;
                        cfg->connect_timeout_ms = v;
                        break;
                case OPT_EXPIRY:
                        if (parse_num("client-expiry-ms", optarg, 1, 86400000, &v) == -1)
                                return 2;
                        cfg->client_expiry_ms = v;
                        break;
                case OPT_RETENTION:
                        if (parse_num("retention", optarg, 1, 100000000, &v) == -1)
                                return 2;
                        cfg->retention = (size_t)v;
                        break;
                case OPT_RETENTION_AGE:
                        if (parse_num("retention-age-s", optarg, 0, 365L * 86400, &v) == -1)
                                return 2;
                        cfg->retention_age_s = v;
                        break;
                case OPT_MAX_BATCH:
                        if (parse_num("max-batch", optarg, 1, 1000000, &v) == -1)
                                return 2;
                        cfg->max_batch = (size_t)v;
                        break;
                case OPT_MAX_RESPONSE:
                        /* Under RESPONSE_MAX (32 MiB) with room for the replies. */
                        if (parse_num("max-response-bytes", optarg, 4096, 30L * 1024 * 1024, &v) == -1)
                                return 2;
                        cfg->max_response_bytes = (size_t)v;
                        break;
                case OPT_MAX_CLIENTS:
                        if (parse_num("max-clients", optarg, 0, 10000, &v) == -1)
                                return 2;
                        cfg->max_clients = (size_t)v;
                        break;
                case OPT_DAILY_LIMIT:
                        if (parse_num("daily-delivery-limit", optarg, 0, 1000000000000L, &v) == -1)
                                return 2;
                        cfg->daily_delivery_limit = (uint64_t)v;
                        break;
                case OPT_FIRST_REPLAY_ID:
                        /* Below 2^63 with room to spare: subscribers send IDs as Java longs. */
                        if (parse_num("first-replay-id", optarg, 1, 9000000000000000000L, &v) == -1)
                                return 2;
                        cfg->first_replay_id = (uint64_t)v;
                        break;
                case OPT_MISSING:
                        if (cfg->nmissing == SIM_MAX_MISSING)
                                return bad_usage("--missing-channel: more than %d given", SIM_MAX_MISSING);
                        cfg->missing[cfg->nmissing++] = optarg;
                        break;
                case OPT_ORG_ID:
                        if (strlen(optarg) != 18 || strncmp(optarg, "00D", 3))
                                return bad_usage("--org-id: '%s' is not an 18-character ID starting with 00D",
                                                 optarg);
                        cfg->org_id = optarg;
                        break;
                case OPT_TLS_CERT: cfg->tls_cert = optarg; break;
                case OPT_TLS_KEY: cfg->tls_key = optarg; break;
                case OPT_PUBLIC_URL:
                        if (strncmp(optarg, "http://", 7) && strncmp(optarg, "https://", 8))
                                return bad_usage("--public-url: '%s' is not an http(s) URL", optarg);
                        cfg->public_url = optarg;
                        break;
                case OPT_STATS_JSON: cfg->stats_json = optarg; break;
                case OPT_VERBOSE: cfg->verbose = 1; break;
                case OPT_ROTATE_RT: cfg->rotate_refresh_token = 1; break;
                case OPT_MY_DOMAIN: cfg->my_domain = 1; break;
                case OPT_EXPERIENCE_SITE:
                        if (strncmp(optarg, "https://", 8))
                                return bad_usage("--experience-site: '%s' is not an https URL", optarg);
                        cfg->experience_site = optarg;
                        break;
                case OPT_PASSWORD_BLOCKED: cfg->password_flow_blocked = 1; break;
                case OPT_TOKEN_IDLE:
                        if (parse_num("token-idle-timeout-ms", optarg, 0, 86400000, &v) == -1)
                                return 2;
                        cfg->token_idle_timeout_ms = v;
                        break;
                case OPT_SINGLE_HOST: cfg->single_host = 1; break;
                case OPT_LB_COOKIE_TTL:
                        if (parse_num("lb-cookie-ttl-ms", optarg, 0, 7L * 86400000, &v) == -1)
                                return 2;
                        cfg->lb_cookie_ttl_ms = v;
                        break;
                case OPT_HELP:
                        fputs(usage, stdout);
                        exit(0);
                default:
                        fprintf(stderr, "sfsim: try --help\n");
                        return 2;
                }
        }
        if (optind < argc)
                return bad_usage("unexpected argument '%s'", argv[optind]);
        if (!cfg->client_id)
                return bad_usage("%s is required", "--client-id");
        if (!cfg->client_secret)
                return bad_usage("%s is required", "--client-secret");
        if (!cfg->username)
                return bad_usage("%s is required", "--username");
        if (!cfg->password)
                return bad_usage("%s is required", "--password");
        if (!cfg->tls_cert != !cfg->tls_key)
                return bad_usage("%s: give both --tls-cert and --tls-key, or neither",
                                 cfg->tls_cert ? "--tls-cert" : "--tls-key");
        return 0;
}

/* Read a PEM file into a NUL-terminated malloc'd string. */
static char *read_pem(const char *opt, const char *path)
{
        FILE *fp = fopen(path, "r");
        char *text;
        size_t n;

        if (!fp) {
                fprintf(stderr, "sfsim: %s %s: %s\n", opt, path, strerror(errno));
                return NULL;
        }
        text = malloc(PEM_MAX + 1);
        n = text ? fread(text, 1, PEM_MAX + 1, fp) : 0;
        fclose(fp);
        if (!text || n == 0 || n > PEM_MAX) {
                fprintf(stderr, "sfsim: %s %s: empty, unreadable or larger than 1 MB\n", opt, path);
                free(text);
                return NULL;
        }
        text[n] = '\0';
        return text;
}

static int open_listener(const struct sim_config *cfg, int port_wanted, int *port)
{
        struct sockaddr_in sin;
        socklen_t len = sizeof(sin);
        int fd, one = 1;

        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        memset(&sin, 0, sizeof(sin));
        sin.sin_family = AF_INET;
        sin.sin_port = htons((uint16_t)port_wanted);
        inet_pton(AF_INET, cfg->listen_host, &sin.sin_addr);
        if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 128) < 0 ||
            getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
                close(fd);
                return -1;
        }
        *port = ntohs(sin.sin_port);
        return fd;
}

/*
 * The URL of an instance listener on @p port: the login URL's scheme and
 * host (the --public-url one when given) with that port, keeping any path.
 */
static void instance_url(const char *login, int port, char *out, size_t size)
{
        const char *host = strstr(login, "://"), *end;
        size_t hl;

        host = host ? host + 3 : login;
        end = host + strcspn(host, "/");
        hl = (size_t)(end - host);
        /* Drop the login port, but not the colons of a bracketed IPv6 host. */
        if (memchr(host, ':', hl) && (host[0] != '[' || memchr(host, ']', hl))) {
                const char *colon = host + hl;

                while (colon > host && colon[-1] != ':' && colon[-1] != ']')
                        colon--;
                if (colon > host && colon[-1] == ':')
                        hl = (size_t)(colon - 1 - host);
        }
        snprintf(out, size, "%.*s%.*s:%d%s", (int)(host - login), login, (int)hl, host, port, end);
}

static void write_stats(struct sim *sim)
{
        char *text = sim_stats_json(sim);
        FILE *fp;

        if (!text)
                return;
        fp = fopen(sim->cfg.stats_json, "w");
        if (!fp || fprintf(fp, "%s\n", text) < 0 || fclose(fp) != 0)
                fprintf(stderr, "sfsim: --stats-json %s: %s\n", sim->cfg.stats_json, strerror(errno));
        free(text);
}

int main(int argc, char **argv)
{
        char url[256], inst[SIM_INSTANCES][256], errstr[512], *cert = NULL, *key = NULL;
        struct server *servers[1 + SIM_INSTANCES] = { NULL };
        int fds[1 + SIM_INSTANCES], ports[1 + SIM_INSTANCES];
        struct sim *sim = NULL;
        struct sim_config cfg;
        sigset_t stop_signals;
        int rc, i, nfds, sig = 0;

        rc = parse_args(argc, argv, &cfg);
        if (rc)
                return rc;
        if (cfg.tls_cert) {
                cert = read_pem("--tls-cert", cfg.tls_cert);
                key = cert ? read_pem("--tls-key", cfg.tls_key) : NULL;
                if (!key) {
                        free(cert);
                        return 1;
                }
        }
        /* Every thread inherits this mask, so only sigwait() below sees the
         * stop signals and nothing runs in signal context. */
        sigemptyset(&stop_signals);
        sigaddset(&stop_signals, SIGINT);
        sigaddset(&stop_signals, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
        signal(SIGPIPE, SIG_IGN);

        /* The login listener, then the instance hosts on free ports of the
         * same address (a real org's instance is another host name). */
        nfds = cfg.single_host ? 1 : 1 + SIM_INSTANCES;
        for (i = 0; i < nfds; i++)
                fds[i] = -1;
        for (i = 0; i < nfds; i++) {
                fds[i] = open_listener(&cfg, i == 0 ? cfg.listen_port : 0, &ports[i]);
                if (fds[i] < 0) {
                        if (i == 0)
                                fprintf(stderr, "sfsim: --listen %s:%d: %s\n", cfg.listen_host,
                                        cfg.listen_port, strerror(errno));
                        else
                                fprintf(stderr, "sfsim: instance listener on %s: %s\n",
                                        cfg.listen_host, strerror(errno));
                        rc = 1;
                        goto out;
                }
        }
        if (cfg.public_url)
                snprintf(url, sizeof(url), "%.*s", (int)strcspn(cfg.public_url, "\n"), cfg.public_url);
        else
                snprintf(url, sizeof(url), "%s://%s:%d", cert ? "https" : "http", cfg.listen_host,
                         ports[0]);
        while (strlen(url) > 8 && url[strlen(url) - 1] == '/')
                url[strlen(url) - 1] = '\0';
        sim = sim_new(&cfg, url, errstr, sizeof(errstr));
        if (!sim) {
                fprintf(stderr, "sfsim: %s\n", errstr);
                rc = 1;
                goto out;
        }
        if (cfg.single_host) {
                snprintf(inst[0], sizeof(inst[0]), "%s", url);
        } else {
                for (i = 0; i < SIM_INSTANCES; i++)
                        instance_url(url, ports[1 + i], inst[i], sizeof(inst[i]));
        }
        sim_set_instances(sim, inst, cfg.single_host ? 1 : SIM_INSTANCES);
        for (i = 0; i < nfds; i++) {
                servers[i] = server_new(sim, fds[i],
                                        cfg.single_host ? SERVER_ALL
                                        : i == 0        ? SERVER_LOGIN
                                                        : SERVER_INSTANCE,
                                        i - 1, cert, key, errstr, sizeof(errstr));
                if (!servers[i]) {
                        fprintf(stderr, "sfsim: %s\n", errstr);
                        rc = 1;
                        goto out;
                }
                fds[i] = -1; /* the server owns it */
        }
        printf("sfsim listening on %s\n", url);
        fflush(stdout);
        fprintf(stderr, "sfsim: level=info msg=ready url=%s instance_urls=%s%s%s connect_timeout_ms=%ld "
                        "client_expiry_ms=%ld retention=%zu max_batch=%zu lb_cookie_ttl_ms=%ld jwt=%s "
                        "refresh_token=%s\n",
                url, inst[0], cfg.single_host ? "" : ",", cfg.single_host ? "" : inst[1],
                cfg.connect_timeout_ms, cfg.client_expiry_ms, cfg.retention, cfg.max_batch,
                cfg.lb_cookie_ttl_ms, cfg.jwt_public_key ? "on" : "off",
                cfg.refresh_token ? "on" : "off");

        while (sigwait(&stop_signals, &sig) != 0 || (sig != SIGINT && sig != SIGTERM))
                ;
        fprintf(stderr, "sfsim: level=info msg=stopping signal=%s\n", sig == SIGINT ? "INT" : "TERM");
        rc = 0;
out:
        for (i = 0; i < 1 + SIM_INSTANCES; i++)
                server_destroy(servers[i]);
        for (i = 0; i < nfds; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
        if (sim && cfg.stats_json)
                write_stats(sim);
        sim_destroy(sim);
        free(cert);
        free(key);
        return rc;
}
