/*
 * bench_latency: the reader side of tests/bench/bridge.sh's latency run. A
 * read_committed consumer of every partition of the given topics (from the
 * log start: the topics are fresh) that notes, for each record, the time it
 * was handed to the application minus the event's publish time, which sfsim
 * writes into the event with millisecond precision (data.event.createdDate
 * for a PushTopic, data.payload.CreatedDate for a Platform Event; the
 * sf.event_time header only when the value has neither). It also notes the
 * record's Kafka timestamp minus the publish time: the part of the latency
 * spent before the bridge's producer took the record.
 *
 * It stops on SIGTERM, after --max-s, or --idle-ms after the last record,
 * and prints one line:
 *
 *   latency records=N no_time=M p50_ms=.. p90_ms=.. p99_ms=.. p999_ms=..
 *           max_ms=.. min_ms=.. mean_ms=.. produce_p50_ms=.. produce_p99_ms=..
 *           produce_max_ms=..
 *
 * sfsim's times are truncated to the millisecond, so a latency reads up to
 * 1 ms long. kafka-mock holds an empty fetch for fetch.wait.max.ms and does
 * not answer early when data arrives, so --fetch-wait-ms (default 1) adds up
 * to that much; a real broker answers as soon as the data is there.
 *
 * usage: bench_latency --bootstrap B --topic T [--topic T...] [--idle-ms N]
 *                      [--max-s N] [--fetch-wait-ms N]
 */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#define MAX_TOPICS 16

struct samples {
        double *v;
        size_t n, cap;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
        (void)sig;
        stop = 1;
}

static double wall_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double mono_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int samples_add(struct samples *s, double v)
{
        if (s->n == s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 65536;
                double *nv = realloc(s->v, cap * sizeof(*nv));

                if (!nv)
                        return -1;
                s->v = nv;
                s->cap = cap;
        }
        s->v[s->n++] = v;
        return 0;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted samples. */
static double pct(const struct samples *s, double p)
{
        size_t rank;

        if (!s->n)
                return NAN;
        rank = (size_t)ceil(p / 100.0 * (double)s->n);
        if (rank < 1)
                rank = 1;
        return s->v[rank - 1];
}

/* "2024-01-02T03:04:05.678Z" (at @p s, @p len bytes at most) -> ms since the epoch, or -1. */
static int64_t parse_iso_ms(const char *s, size_t len)
{
        struct tm tm;
        int ms = 0, n = 0;

        if (len < 20)
                return -1;
        memset(&tm, 0, sizeof(tm));
        if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                   &tm.tm_min, &tm.tm_sec, &n) != 6)
                return -1;
        if ((size_t)n + 4 <= len && s[n] == '.' && sscanf(s + n + 1, "%3d", &ms) != 1)
                return -1;
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        return (int64_t)timegm(&tm) * 1000 + ms;
}

/* The publish time sfsim wrote into the event, or -1. */
static int64_t publish_ms(const rd_kafka_message_t *msg)
{
        static const char *const keys[] = { "\"createdDate\":\"", "\"CreatedDate\":\"" };
        const char *v = msg->payload, *end = v ? v + msg->len : NULL, *p;
        rd_kafka_headers_t *hdrs = NULL;
        const void *hv;
        size_t i, hlen;

        for (i = 0; v && i < sizeof(keys) / sizeof(keys[0]); i++) {
                size_t klen = strlen(keys[i]);

                for (p = v; p + klen < end; p++)
                        if (*p == '"' && !memcmp(p, keys[i], klen))
                                return parse_iso_ms(p + klen, (size_t)(end - p - (long)klen));
        }
        if (rd_kafka_message_headers(msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            rd_kafka_header_get_last(hdrs, "sf.event_time", &hv, &hlen) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            hv)
                return parse_iso_ms(hv, hlen);
        return -1;
}

static rd_kafka_t *consumer(const char *bootstrap, const char *const *topics, int ntopics,
                            long fetch_wait_ms)
{
        char errstr[512], wait[32];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        const char *const props[][2] = {
                { "bootstrap.servers", bootstrap },
                { "group.id", "sfbridge-bench-latency" }, /* assign() needs one; nothing joins */
                { "isolation.level", "read_committed" },
                { "enable.auto.commit", "false" },
                { "enable.auto.offset.store", "false" },
                { "enable.partition.eof", "false" },
                { "auto.offset.reset", "earliest" },
                { "fetch.wait.max.ms", wait },
                { "log_level", "3" },
        };
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(64);
        rd_kafka_t *rk;
        size_t k;
        int t, i;

        snprintf(wait, sizeof(wait), "%ld", fetch_wait_ms);
        for (k = 0; k < sizeof(props) / sizeof(props[0]); k++)
                if (rd_kafka_conf_set(conf, props[k][0], props[k][1], errstr, sizeof(errstr))) {
                        fprintf(stderr, "bench_latency: %s\n", errstr);
                        rd_kafka_conf_destroy(conf);
                        rd_kafka_topic_partition_list_destroy(l);
                        return NULL;
                }
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
        if (!rk) {
                fprintf(stderr, "bench_latency: %s\n", errstr);
                rd_kafka_topic_partition_list_destroy(l);
                return NULL;
        }
        rd_kafka_poll_set_consumer(rk);
        for (t = 0; t < ntopics; t++) {
                const struct rd_kafka_metadata *md = NULL;
                rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topics[t], NULL);
                rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, 10000);

                rd_kafka_topic_destroy(rkt);
                if (err || md->topic_cnt != 1 || md->topics[0].err) {
                        fprintf(stderr, "bench_latency: no metadata for %s\n", topics[t]);
                        if (md)
                                rd_kafka_metadata_destroy(md);
                        goto fail;
                }
                for (i = 0; i < md->topics[0].partition_cnt; i++)
                        rd_kafka_topic_partition_list_add(l, topics[t], md->topics[0].partitions[i].id)
                                ->offset = RD_KAFKA_OFFSET_BEGINNING;
                rd_kafka_metadata_destroy(md);
        }
        if (rd_kafka_assign(rk, l)) {
                fprintf(stderr, "bench_latency: assign failed\n");
                goto fail;
        }
        printf("ready partitions=%d\n", l->cnt);
        fflush(stdout);
        rd_kafka_topic_partition_list_destroy(l);
        return rk;
fail:
        rd_kafka_topic_partition_list_destroy(l);
        rd_kafka_destroy(rk);
        return NULL;
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "bootstrap", required_argument, NULL, 'b' },
                { "topic", required_argument, NULL, 't' },
                { "idle-ms", required_argument, NULL, 'i' },
                { "max-s", required_argument, NULL, 'm' },
                { "fetch-wait-ms", required_argument, NULL, 'f' },
                { NULL, 0, NULL, 0 },
        };
        const char *bootstrap = NULL, *topics[MAX_TOPICS];
        long idle_ms = 3000, max_s = 3600, fetch_wait_ms = 1;
        struct samples lat = { 0 }, prod = { 0 };
        double t_end, last_rx = 0, sum = 0;
        long long no_time = 0;
        struct sigaction sa;
        int ntopics = 0, c;
        rd_kafka_t *rk;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 'b': bootstrap = optarg; break;
                case 't':
                        if (ntopics == MAX_TOPICS)
                                return 2;
                        topics[ntopics++] = optarg;
                        break;
                case 'i': idle_ms = strtol(optarg, NULL, 10); break;
                case 'm': max_s = strtol(optarg, NULL, 10); break;
                case 'f': fetch_wait_ms = strtol(optarg, NULL, 10); break;
                default:
                        fprintf(stderr, "usage: bench_latency --bootstrap B --topic T... [--idle-ms N] "
                                        "[--max-s N] [--fetch-wait-ms N]\n");
                        return 2;
                }
        }
        if (!bootstrap || !ntopics || idle_ms <= 0 || max_s <= 0 || fetch_wait_ms < 0) {
                fprintf(stderr, "bench_latency: --bootstrap and --topic are required\n");
                return 2;
        }
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        rk = consumer(bootstrap, topics, ntopics, fetch_wait_ms);
        if (!rk)
                return 1;
        t_end = mono_s() + (double)max_s;
        while (!stop && mono_s() < t_end) {
                rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 50);
                double rx = wall_ms();
                int64_t pub;

                if (!msg) {
                        if (last_rx && mono_s() - last_rx > (double)idle_ms / 1e3)
                                break;
                        continue;
                }
                if (msg->err) {
                        fprintf(stderr, "bench_latency: %s\n", rd_kafka_message_errstr(msg));
                        rd_kafka_message_destroy(msg);
                        continue;
                }
                last_rx = mono_s();
                pub = publish_ms(msg);
                if (pub < 0) {
                        no_time++;
                } else if (samples_add(&lat, rx - (double)pub) == -1 ||
                           samples_add(&prod, (double)(rd_kafka_message_timestamp(msg, NULL) - pub)) ==
                                   -1) {
                        fprintf(stderr, "bench_latency: out of memory\n");
                        stop = 1;
                } else {
                        sum += rx - (double)pub;
                }
                rd_kafka_message_destroy(msg);
        }
        qsort(lat.v, lat.n, sizeof(*lat.v), cmp_double);
        qsort(prod.v, prod.n, sizeof(*prod.v), cmp_double);
        printf("latency records=%zu no_time=%lld p50_ms=%.1f p90_ms=%.1f p99_ms=%.1f p999_ms=%.1f "
               "max_ms=%.1f min_ms=%.1f mean_ms=%.1f produce_p50_ms=%.0f produce_p99_ms=%.0f "
               "produce_max_ms=%.0f\n",
               lat.n, no_time, pct(&lat, 50), pct(&lat, 90), pct(&lat, 99), pct(&lat, 99.9),
               lat.n ? lat.v[lat.n - 1] : NAN, lat.n ? lat.v[0] : NAN, lat.n ? sum / (double)lat.n : NAN,
               pct(&prod, 50), pct(&prod, 99), prod.n ? prod.v[prod.n - 1] : NAN);
        fflush(stdout);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        free(lat.v);
        free(prod.v);
        return 0;
}
