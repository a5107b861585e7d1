/*
 * A null CometD client for benchmarking sfsim: it logs in, preloads its
 * channels through the admin API (--count events in all, shared evenly;
 * --no-preload drains a backlog already there), then handshakes, subscribes
 * to every channel with replay -2 in one session and drains them with
 * /meta/connect over one keep-alive connection, doing as little work per
 * event as possible (it counts replayIds instead of parsing JSON, checking
 * they grow per channel). It prints the publish and drain rates;
 * tests/bench/run.sh keeps the output, and tests/bench/bridge.sh compares
 * the bridge with its first-to-last rate: events / the time from the end of
 * the first response that carried events to the end of the last one.
 *
 * CometD goes to the instance URL of the token answer, as for Salesforce.
 *
 * usage: sfsim_null_client --url URL [--count N] [--size BYTES]
 *                          [--channel CH]... [--no-preload] [--chunk N]
 *                          [--client-id ID --client-secret S
 *                           --username U --password P]
 */
#define _GNU_SOURCE /* memmem */

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#define BODY_MAX (64 * 1024 * 1024)  /* ceiling on one response */
#define MAX_CHANNELS 16

struct body {
        char *data;
        size_t len, cap;
};

struct bench {
        const char *url, *channels[MAX_CHANNELS], *client_id, *client_secret, *username, *password;
        int nchannels, preload;
        long count, size, chunk;
        CURL *curl;
        struct body body;
        char auth[512];
        char instance[256];  /* the token's instance_url: where CometD is served */
        char client[64];
        long next_id;
};

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
        struct body *b = arg;
        size_t len = size * n;

        if (len > BODY_MAX - b->len)
                return 0; /* aborts the transfer: over the ceiling */
        if (b->len + len + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 65536;
                char *data;

                while (cap < b->len + len + 1)
                        cap *= 2;
                data = realloc(b->data, cap);
                if (!data)
                        return 0;
                b->data = data;
                b->cap = cap;
        }
        memcpy(b->data + b->len, p, len);
        b->len += len;
        b->data[b->len] = '\0';
        return len;
}

/* POST @p body (may be NULL for an empty POST) to @p url; @returns the HTTP status or -1. */
static long post(struct bench *bench, const char *url, const char *body, const char *type)
{
        struct curl_slist *headers = NULL;
        char content_type[128];
        long status = -1;
        CURLcode rc;

        bench->body.len = 0;
        snprintf(content_type, sizeof(content_type), "Content-Type: %s", type);
        headers = curl_slist_append(headers, content_type);
        if (bench->auth[0])
                headers = curl_slist_append(headers, bench->auth);
        curl_easy_setopt(bench->curl, CURLOPT_URL, url);
        curl_easy_setopt(bench->curl, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(bench->curl, CURLOPT_HTTPHEADER, headers);
        rc = curl_easy_perform(bench->curl);
        curl_slist_free_all(headers);
        if (rc != CURLE_OK) {
                fprintf(stderr, "sfsim_null_client: POST %s: %s\n", url, curl_easy_strerror(rc));
                return -1;
        }
        curl_easy_getinfo(bench->curl, CURLINFO_RESPONSE_CODE, &status);
        return status;
}

static int login(struct bench *bench)
{
        char url[512], *form, *e[4];
        const cJSON *tok, *inst;
        cJSON *json;
        long status;
        size_t n;

        e[0] = curl_easy_escape(bench->curl, bench->client_id, 0);
        e[1] = curl_easy_escape(bench->curl, bench->client_secret, 0);
        e[2] = curl_easy_escape(bench->curl, bench->username, 0);
        e[3] = curl_easy_escape(bench->curl, bench->password, 0);
        n = strlen(e[0]) + strlen(e[1]) + strlen(e[2]) + strlen(e[3]) + 128;
        form = malloc(n);
        if (!form)
                return -1;
        snprintf(form, n, "grant_type=password&client_id=%s&client_secret=%s&username=%s&password=%s",
                 e[0], e[1], e[2], e[3]);
        for (n = 0; n < 4; n++)
                curl_free(e[n]);
        snprintf(url, sizeof(url), "%s/services/oauth2/token", bench->url);
        status = post(bench, url, form, "application/x-www-form-urlencoded");
        free(form);
        if (status != 200) {
                fprintf(stderr, "sfsim_null_client: login: HTTP %ld\n", status);
                return -1;
        }
        json = cJSON_Parse(bench->body.data);
        tok = cJSON_GetObjectItemCaseSensitive(json, "access_token");
        inst = cJSON_GetObjectItemCaseSensitive(json, "instance_url");
        if (!cJSON_IsString(tok) || !cJSON_IsString(inst)) {
                cJSON_Delete(json);
                fprintf(stderr, "sfsim_null_client: login: no access_token or instance_url in the answer\n");
                return -1;
        }
        snprintf(bench->instance, sizeof(bench->instance), "%s", inst->valuestring);
        snprintf(bench->auth, sizeof(bench->auth), "Authorization: Bearer %s", tok->valuestring);
        cJSON_Delete(json);
        return 0;
}

static int preload(struct bench *bench)
{
        char url[1024], *chan;
        long done = 0, share, n, total = 0;
        double t0 = now_s(), secs;
        int c;

        for (c = 0; c < bench->nchannels; c++) {
                /* --count in all; the first channels take the remainder. */
                share = bench->count / bench->nchannels + (c < bench->count % bench->nchannels);
                chan = curl_easy_escape(bench->curl, bench->channels[c], 0);
                for (done = 0; done < share; done += n) {
                        n = share - done < bench->chunk ? share - done : bench->chunk;
                        snprintf(url, sizeof(url), "%s/admin/publish?channel=%s&count=%ld&size=%ld",
                                 bench->url, chan, n, bench->size);
                        if (post(bench, url, NULL, "application/json") != 200) {
                                fprintf(stderr, "sfsim_null_client: publish failed: %s\n",
                                        bench->body.data ? bench->body.data : "");
                                curl_free(chan);
                                return -1;
                        }
                }
                total += done;
                curl_free(chan);
        }
        done = total;
        secs = now_s() - t0;
        printf("publish: %ld events of %ld bytes in %.3f s: %.0f events/s\n", done, bench->size, secs,
               (double)done / secs);
        return 0;
}

/* Send one Bayeux message array; @returns the parsed answer (caller frees) or NULL. */
static cJSON *bayeux(struct bench *bench, const char *json)
{
        char url[512];

        snprintf(url, sizeof(url), "%s/cometd/59.0", bench->instance);
        if (post(bench, url, json, "application/json") != 200) {
                fprintf(stderr, "sfsim_null_client: %s -> %s\n", json,
                        bench->body.data ? bench->body.data : "");
                return NULL;
        }
        return cJSON_Parse(bench->body.data);
}

static int meta_ok(cJSON *answer, const char *what)
{
        const cJSON *first = cJSON_GetArrayItem(answer, 0);

        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(first, "successful"))) {
                fprintf(stderr, "sfsim_null_client: %s failed\n", what);
                return -1;
        }
        return 0;
}

static int start_session(struct bench *bench)
{
        char msg[1024];
        const cJSON *id;
        cJSON *answer;
        int c;

        answer = bayeux(bench, "[{\"channel\":\"/meta/handshake\",\"version\":\"1.0\","
                               "\"supportedConnectionTypes\":[\"long-polling\"],\"id\":\"1\"}]");
        if (!answer || meta_ok(answer, "handshake") == -1) {
                cJSON_Delete(answer);
                return -1;
        }
        id = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(answer, 0), "clientId");
        snprintf(bench->client, sizeof(bench->client), "%s", cJSON_IsString(id) ? id->valuestring : "");
        cJSON_Delete(answer);
        for (c = 0; c < bench->nchannels; c++) {
                snprintf(msg, sizeof(msg),
                         "[{\"channel\":\"/meta/subscribe\",\"clientId\":\"%s\",\"subscription\":\"%s\","
                         "\"id\":\"s%d\",\"ext\":{\"replay\":{\"%s\":-2}}}]",
                         bench->client, bench->channels[c], c, bench->channels[c]);
                answer = bayeux(bench, msg);
                if (!answer || meta_ok(answer, "subscribe") == -1) {
                        cJSON_Delete(answer);
                        return -1;
                }
                cJSON_Delete(answer);
        }
        return 0;
}

/*
 * Count events without parsing: one "replayId" per event, whose channel is
 * the next "channel" member (every event shape ends with it). Replay IDs
 * must grow per channel; @returns the count, or -1 when one went backwards.
 */
static long count_events(struct bench *bench, const char *p, size_t len, long long *last)
{
        static const char key[] = "\"replayId\":", ckey[] = "\"channel\":\"";
        const char *end = p + len, *ch;
        long long id;
        long n = 0;
        int c;

        while ((p = memmem(p, (size_t)(end - p), key, sizeof(key) - 1))) {
                p += sizeof(key) - 1;
                id = strtoll(p, NULL, 10);
                n++;
                ch = memmem(p, (size_t)(end - p), ckey, sizeof(ckey) - 1);
                if (!ch)
                        continue;
                ch += sizeof(ckey) - 1;
                for (c = 0; c < bench->nchannels; c++) {
                        size_t clen = strlen(bench->channels[c]);

                        if ((size_t)(end - ch) > clen && !memcmp(ch, bench->channels[c], clen) &&
                            ch[clen] == '"')
                                break;
                }
                if (c == bench->nchannels)
                        continue;
                if (id <= last[c]) {
                        fprintf(stderr, "sfsim_null_client: replay IDs of %s went backwards (%lld after %lld)\n",
                                bench->channels[c], id, last[c]);
                        return -1;
                }
                last[c] = id;
        }
        return n;
}

static int drain(struct bench *bench)
{
        char msg[256], url[512];
        long got = 0, polls = 0, n, status;
        long long last[MAX_CHANNELS] = { 0 };
        double t0, t_first = 0, t_last = 0, secs, bytes = 0;

        snprintf(url, sizeof(url), "%s/cometd/59.0", bench->instance);
        t0 = now_s();
        while (got < bench->count) {
                snprintf(msg, sizeof(msg),
                         "[{\"channel\":\"/meta/connect\",\"clientId\":\"%s\","
                         "\"connectionType\":\"long-polling\",\"id\":\"%ld\"}]",
                         bench->client, bench->next_id++);
                status = post(bench, url, msg, "application/json");
                if (status != 200) {
                        fprintf(stderr, "sfsim_null_client: connect: HTTP %ld\n", status);
                        return -1;
                }
                if (!strstr(bench->body.data + (bench->body.len > 400 ? bench->body.len - 400 : 0),
                            "\"channel\":\"/meta/connect\"") ||
                    !strstr(bench->body.data + (bench->body.len > 400 ? bench->body.len - 400 : 0),
                            "\"successful\":true")) {
                        fprintf(stderr, "sfsim_null_client: connect failed: %.300s\n", bench->body.data);
                        return -1;
                }
                n = count_events(bench, bench->body.data, bench->body.len, last);
                if (n < 0)
                        return -1;
                if (n) {
                        t_last = now_s();
                        if (!t_first)
                                t_first = t_last;
                }
                got += n;
                bytes += (double)bench->body.len;
                polls++;
                if (n == 0 && polls > 2) {
                        fprintf(stderr, "sfsim_null_client: drained %ld of %ld events, then nothing\n", got,
                                bench->count);
                        return -1;
                }
        }
        secs = now_s() - t0;
        printf("drain: %ld events, %.1f MB in %ld responses, %.3f s: %.0f events/s, %.1f MB/s\n", got,
               bytes / 1e6, polls, secs, (double)got / secs, bytes / 1e6 / secs);
        if (t_last > t_first)
                printf("first-to-last: %ld events in %.3f s: %.0f events/s\n", got, t_last - t_first,
                       (double)got / (t_last - t_first));
        return 0;
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "url", required_argument, NULL, 'u' },
                { "count", required_argument, NULL, 'n' },
                { "size", required_argument, NULL, 's' },
                { "channel", required_argument, NULL, 'c' },
                { "chunk", required_argument, NULL, 'k' },
                { "no-preload", no_argument, NULL, 'N' },
                { "client-id", required_argument, NULL, 'i' },
                { "client-secret", required_argument, NULL, 'S' },
                { "username", required_argument, NULL, 'U' },
                { "password", required_argument, NULL, 'P' },
                { NULL, 0, NULL, 0 },
        };
        struct bench bench;
        int c, rc = 1;

        memset(&bench, 0, sizeof(bench));
        bench.preload = 1;
        bench.count = 200000;
        bench.size = 1024;
        bench.chunk = 10000;
        bench.client_id = "bench-client";
        bench.client_secret = "bench-secret";
        bench.username = "bench@example.com";
        bench.password = "bench-password";
        bench.next_id = 3;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 'u': bench.url = optarg; break;
                case 'n': bench.count = strtol(optarg, NULL, 10); break;
                case 's': bench.size = strtol(optarg, NULL, 10); break;
                case 'c':
                        if (bench.nchannels == MAX_CHANNELS) {
                                fprintf(stderr, "sfsim_null_client: at most %d channels\n", MAX_CHANNELS);
                                return 2;
                        }
                        bench.channels[bench.nchannels++] = optarg;
                        break;
                case 'N': bench.preload = 0; break;
                case 'k': bench.chunk = strtol(optarg, NULL, 10); break;
                case 'i': bench.client_id = optarg; break;
                case 'S': bench.client_secret = optarg; break;
                case 'U': bench.username = optarg; break;
                case 'P': bench.password = optarg; break;
                default:
                        fprintf(stderr, "usage: sfsim_null_client --url URL [--count N] [--size BYTES] "
                                        "[--channel CH]... [--no-preload] [--chunk N] [credentials]\n");
                        return 2;
                }
        }
        if (!bench.url || bench.count <= 0 || bench.size < 0 || bench.chunk <= 0) {
                fprintf(stderr, "sfsim_null_client: --url is required; --count and --chunk must be > 0\n");
                return 2;
        }
        if (!bench.nchannels)
                bench.channels[bench.nchannels++] = "/event/Bench__e";
        curl_global_init(CURL_GLOBAL_DEFAULT);
        bench.curl = curl_easy_init();
        if (!bench.curl)
                return 1;
        /* One keep-alive connection, an in-memory cookie jar (BAYEUX_BROWSER). */
        curl_easy_setopt(bench.curl, CURLOPT_COOKIEFILE, "");
        curl_easy_setopt(bench.curl, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(bench.curl, CURLOPT_WRITEDATA, &bench.body);
        curl_easy_setopt(bench.curl, CURLOPT_TIMEOUT, 300L);
        curl_easy_setopt(bench.curl, CURLOPT_MAXCONNECTS, 1L);
        printf("sfsim null client: %ld events of %ld bytes on", bench.count, bench.size);
        for (c = 0; c < bench.nchannels; c++)
                printf(" %s", bench.channels[c]);
        printf("\n");
        if (login(&bench) == 0 && (!bench.preload || preload(&bench) == 0) && start_session(&bench) == 0 &&
            drain(&bench) == 0)
                rc = 0;
        curl_easy_cleanup(bench.curl);
        free(bench.body.data);
        curl_global_cleanup();
        return rc;
}
