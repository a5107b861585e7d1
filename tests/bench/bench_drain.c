/*
 * bench_drain: watches a backlog drain into Kafka for tests/bench/bridge.sh,
 * without relying on anything the bridge reports about itself. Started
 * before the bridge, it
 *   - reads the first record of every partition (from the log start) and
 *     then pauses that partition, so it costs one fetched batch per
 *     partition, not a second copy of the whole drain on a 2-core machine;
 *   - polls the partitions' end offsets (one ListOffsets per broker every
 *     50 ms) until they add up to --count;
 *   - at that moment samples the bridge process (--pid-file): CPU of all
 *     its threads (utime + stime, dead threads included), split into the
 *     main thread, librdkafka's rdk:* threads and the rest, and VmHWM/VmRSS;
 *   - then reads the last record of every partition (the newest are never
 *     dropped) and the log start offsets (what the mock dropped).
 *
 * The first record of the drain is the earliest of the partitions' offset-0
 * records, and the last one the latest of their end-1 records, both by the
 * record timestamps (CreateTime, set by the producer's librdkafka when the
 * bridge calls produce; kafka-mock keeps them as sent). Output, one line:
 *
 *   result records=R dropped=D partitions=P partitions_used=U first_lost=L
 *          first_ts_ms=T last_ts_ms=T first_seen_ms=W drained_seen_ms=W
 *          record_bytes=B cpu_ticks=C cpu_user_ticks=C cpu_main_ticks=C
 *          cpu_rdk_ticks=C cpu_other_ticks=C clk_tck=H peak_rss_kb=K rss_kb=K
 *          watcher_cpu_ms=M
 *
 * first_lost counts partitions whose first readable record was not offset 0
 * (the mock dropped it before it was read: first_ts_ms is then not the first
 * record). *_seen_ms are this program's wall clock when it saw the first
 * record and the end offsets reach --count (fallbacks, 50-100 ms coarse).
 * record_bytes estimates the size of the largest first record in its batch
 * (value, key, headers, framing), to size the mock's 5 MiB per partition. watcher_cpu_ms is what
 * this program took from the machine until the drain ended.
 *
 * usage: bench_drain --bootstrap B --topic T [--topic T...] --count N
 *                    [--pid-file F] [--timeout-s S]
 * Exit: 0 drained, 1 timeout / the bridge exited / Kafka error, 2 usage.
 */
#include <dirent.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#define MAX_TOPICS 16
#define END_POLL_MS 50

struct part {
        const char *topic;
        int32_t id;
        int seen;              /* its first record was read */
        int64_t first_offset;  /* offset of that record */
        int64_t first_ts;
        int64_t start, end;    /* log start and end offsets at the end */
};

struct watch {
        const char *bootstrap, *topics[MAX_TOPICS], *pid_file;
        int ntopics;
        long long count;
        long timeout_s;
        rd_kafka_t *rk;
        struct part *parts;
        int nparts;
        long pid;
        double first_seen_ms, drained_seen_ms;
        double self_cpu_ms; /* this program's own CPU until the drain ended */
        long record_bytes;
};

struct proc_sample {
        long long ticks, user_ticks, main_ticks, rdk_ticks, other_ticks;
        long hwm_kb, rss_kb;
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

/* utime and stime of a /proc/.../stat file: fields 14 and 15, counted after
 * the ")" that ends the command name (which may hold spaces). */
static int stat_ticks(const char *path, long long *user, long long *sys)
{
        char buf[1024], *p;
        size_t n;
        FILE *f = fopen(path, "r");

        if (!f)
                return -1;
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        p = strrchr(buf, ')');
        if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld", user, sys) != 2)
                return -1;
        return 0;
}

static long status_kb(long pid, const char *field)
{
        char path[64], line[256];
        size_t flen = strlen(field);
        long kb = -1;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%ld/status", pid);
        f = fopen(path, "r");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (!strncmp(line, field, flen) && line[flen] == ':') {
                        kb = strtol(line + flen + 1, NULL, 10);
                        break;
                }
        fclose(f);
        return kb;
}

static int sample_proc(long pid, struct proc_sample *ps)
{
        char path[128], comm[64];
        struct dirent *de;
        long long u, s;
        DIR *dir;
        FILE *f;

        memset(ps, 0, sizeof(*ps));
        snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
        if (stat_ticks(path, &u, &s) == -1)
                return -1;
        ps->ticks = u + s;
        ps->user_ticks = u;
        ps->hwm_kb = status_kb(pid, "VmHWM");
        ps->rss_kb = status_kb(pid, "VmRSS");
        /* The threads alive now; tid == pid is the main thread. */
        snprintf(path, sizeof(path), "/proc/%ld/task", pid);
        dir = opendir(path);
        while (dir && (de = readdir(dir))) {
                long tid = strtol(de->d_name, NULL, 10);

                if (tid <= 0)
                        continue;
                snprintf(path, sizeof(path), "/proc/%ld/task/%ld/stat", pid, tid);
                if (stat_ticks(path, &u, &s) == -1)
                        continue;
                snprintf(path, sizeof(path), "/proc/%ld/task/%ld/comm", pid, tid);
                comm[0] = '\0';
                if ((f = fopen(path, "r"))) {
                        if (!fgets(comm, sizeof(comm), f))
                                comm[0] = '\0';
                        fclose(f);
                }
                if (tid == pid)
                        ps->main_ticks += u + s;
                else if (!strncmp(comm, "rdk:", 4))
                        ps->rdk_ticks += u + s;
                else
                        ps->other_ticks += u + s;
        }
        if (dir)
                closedir(dir);
        return 0;
}

static long read_pid(const char *file)
{
        long pid = 0;
        FILE *f;

        if (!file || !(f = fopen(file, "r")))
                return 0;
        if (fscanf(f, "%ld", &pid) != 1)
                pid = 0;
        fclose(f);
        return pid;
}

static int pid_alive(long pid)
{
        char path[64], buf[512], *p;
        size_t n;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
        if (!(f = fopen(path, "r")))
                return 0;
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        p = strrchr(buf, ')');
        return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static rd_kafka_topic_partition_list_t *part_list(const struct watch *w)
{
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(w->nparts);
        int i;

        for (i = 0; i < w->nparts; i++)
                rd_kafka_topic_partition_list_add(l, w->parts[i].topic, w->parts[i].id);
        return l;
}

static struct part *part_find(struct watch *w, const char *topic, int32_t id)
{
        int i;

        for (i = 0; i < w->nparts; i++)
                if (w->parts[i].id == id && !strcmp(w->parts[i].topic, topic))
                        return &w->parts[i];
        return NULL;
}

/* Log start (@p which = RD_KAFKA_OFFSET_BEGINNING) or end (RD_KAFKA_OFFSET_END)
 * offsets of every partition, one ListOffsets request per broker. */
static int list_offsets(struct watch *w, int64_t which, int end, long long *sum)
{
        rd_kafka_topic_partition_list_t *l = part_list(w);
        rd_kafka_resp_err_t err;
        int i;

        for (i = 0; i < l->cnt; i++)
                l->elems[i].offset = which;
        err = rd_kafka_offsets_for_times(w->rk, l, 5000);
        if (err) {
                fprintf(stderr, "bench_drain: ListOffsets: %s\n", rd_kafka_err2str(err));
                rd_kafka_topic_partition_list_destroy(l);
                return -1;
        }
        *sum = 0;
        for (i = 0; i < l->cnt; i++) {
                struct part *pt = part_find(w, l->elems[i].topic, l->elems[i].partition);
                int64_t off = l->elems[i].err ? -1 : l->elems[i].offset;

                if (!pt || off < 0) {
                        rd_kafka_topic_partition_list_destroy(l);
                        return -1;
                }
                if (end)
                        pt->end = off;
                else
                        pt->start = off;
                *sum += off;
        }
        rd_kafka_topic_partition_list_destroy(l);
        return 0;
}

static long record_size(const rd_kafka_message_t *msg)
{
        rd_kafka_headers_t *hdrs = NULL;
        const void *val;
        const char *name;
        size_t i, vlen;
        long n = (long)msg->len + (long)msg->key_len + 16; /* varints, attributes, deltas */

        if (rd_kafka_message_headers(msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR)
                for (i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &vlen) ==
                            RD_KAFKA_RESP_ERR_NO_ERROR;
                     i++)
                        n += (long)strlen(name) + (long)vlen + 2;
        return n;
}

static int setup(struct watch *w)
{
        char errstr[512];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        static const char *const props[][2] = {
                { "group.id", "sfbridge-bench-drain" }, /* assign() needs one; nothing joins */
                { "enable.auto.commit", "false" },
                { "enable.auto.offset.store", "false" },
                { "enable.partition.eof", "false" },
                { "auto.offset.reset", "earliest" },
                /* The mock holds an empty fetch this long (and does not cut
                 * it short when data arrives): short enough to see the
                 * first records soon, long enough to cost nothing. */
                { "fetch.wait.max.ms", "100" },
                { "queued.max.messages.kbytes", "4096" },
                { "log_level", "3" },
        };
        rd_kafka_topic_partition_list_t *l;
        size_t k;
        int t, i;

        if (rd_kafka_conf_set(conf, "bootstrap.servers", w->bootstrap, errstr, sizeof(errstr)))
                goto conf_fail;
        for (k = 0; k < sizeof(props) / sizeof(props[0]); k++)
                if (rd_kafka_conf_set(conf, props[k][0], props[k][1], errstr, sizeof(errstr)))
                        goto conf_fail;
        w->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
        if (!w->rk) {
                fprintf(stderr, "bench_drain: %s\n", errstr);
                return -1;
        }
        rd_kafka_poll_set_consumer(w->rk);
        for (t = 0; t < w->ntopics; t++) {
                const struct rd_kafka_metadata *md = NULL;
                rd_kafka_topic_t *rkt = rd_kafka_topic_new(w->rk, w->topics[t], NULL);
                rd_kafka_resp_err_t err = rd_kafka_metadata(w->rk, 0, rkt, &md, 10000);

                rd_kafka_topic_destroy(rkt);
                if (err || md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt < 1) {
                        fprintf(stderr, "bench_drain: no partitions for topic %s: %s\n", w->topics[t],
                                rd_kafka_err2str(err ? err : md->topics[0].err));
                        if (md)
                                rd_kafka_metadata_destroy(md);
                        return -1;
                }
                w->parts = realloc(w->parts, (size_t)(w->nparts + md->topics[0].partition_cnt) *
                                                     sizeof(*w->parts));
                if (!w->parts)
                        return -1;
                for (i = 0; i < md->topics[0].partition_cnt; i++) {
                        struct part *pt = &w->parts[w->nparts++];

                        memset(pt, 0, sizeof(*pt));
                        pt->topic = w->topics[t];
                        pt->id = md->topics[0].partitions[i].id;
                }
                rd_kafka_metadata_destroy(md);
        }
        l = part_list(w);
        for (i = 0; i < l->cnt; i++)
                l->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
        if (rd_kafka_assign(w->rk, l)) {
                fprintf(stderr, "bench_drain: assign failed\n");
                rd_kafka_topic_partition_list_destroy(l);
                return -1;
        }
        rd_kafka_topic_partition_list_destroy(l);
        return 0;
conf_fail:
        fprintf(stderr, "bench_drain: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return -1;
}

/* The first record of each partition, then pause it. */
static void on_first(struct watch *w, rd_kafka_message_t *msg)
{
        struct part *pt = part_find(w, rd_kafka_topic_name(msg->rkt), msg->partition);
        rd_kafka_topic_partition_list_t *l;

        if (!pt || pt->seen)
                return;
        pt->seen = 1;
        pt->first_offset = msg->offset;
        pt->first_ts = rd_kafka_message_timestamp(msg, NULL);
        if (!w->first_seen_ms)
                w->first_seen_ms = wall_ms();
        if (record_size(msg) > w->record_bytes)
                w->record_bytes = record_size(msg);
        l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, pt->topic, pt->id);
        rd_kafka_pause_partitions(w->rk, l);
        rd_kafka_topic_partition_list_destroy(l);
}

/* Phase 1: first records and end offsets until they add up to the count. */
static int watch_drain(struct watch *w, struct proc_sample *ps)
{
        double deadline = mono_s() + (double)w->timeout_s, next_poll = 0;
        long long sum = 0;

        while (!stop) {
                rd_kafka_message_t *msg = rd_kafka_consumer_poll(w->rk, 10);
                double now;

                if (msg) {
                        if (!msg->err)
                                on_first(w, msg);
                        rd_kafka_message_destroy(msg);
                }
                now = mono_s();
                if (now < next_poll)
                        continue;
                next_poll = now + END_POLL_MS / 1e3;
                if (!w->pid)
                        w->pid = read_pid(w->pid_file);
                if (list_offsets(w, RD_KAFKA_OFFSET_END, 1, &sum) == 0 && sum >= w->count) {
                        struct rusage ru;

                        w->drained_seen_ms = wall_ms();
                        if (getrusage(RUSAGE_SELF, &ru) == 0)
                                w->self_cpu_ms = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
                                                 (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
                        if (w->pid && sample_proc(w->pid, ps) == -1)
                                fprintf(stderr, "bench_drain: cannot read /proc/%ld\n", w->pid);
                        return 0;
                }
                if (w->pid && !pid_alive(w->pid)) {
                        fprintf(stderr, "bench_drain: the bridge (pid %ld) exited; %lld of %lld records\n",
                                w->pid, sum, w->count);
                        return -1;
                }
                if (now > deadline) {
                        fprintf(stderr, "bench_drain: timeout: %lld of %lld records after %ld s\n", sum,
                                w->count, w->timeout_s);
                        return -1;
                }
        }
        return -1;
}

/* Phase 2: the newest record of every non-empty partition. */
static int read_last(struct watch *w, int64_t *last_ts)
{
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(w->nparts);
        double deadline = mono_s() + 15;
        int i, want = 0, got = 0;
        int *done = calloc((size_t)w->nparts, sizeof(*done));

        if (!done)
                return -1;
        *last_ts = -1;
        rd_kafka_assign(w->rk, NULL);
        for (i = 0; i < w->nparts; i++)
                if (w->parts[i].end > 0) {
                        rd_kafka_topic_partition_list_add(l, w->parts[i].topic, w->parts[i].id)->offset =
                                w->parts[i].end - 1;
                        want++;
                }
        if (want && rd_kafka_assign(w->rk, l) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                rd_kafka_resume_partitions(w->rk, l);
                while (got < want && mono_s() < deadline && !stop) {
                        rd_kafka_message_t *msg = rd_kafka_consumer_poll(w->rk, 100);
                        struct part *pt;

                        if (!msg)
                                continue;
                        pt = msg->err ? NULL : part_find(w, rd_kafka_topic_name(msg->rkt), msg->partition);
                        if (pt && !done[pt - w->parts] && msg->offset == pt->end - 1) {
                                int64_t ts = rd_kafka_message_timestamp(msg, NULL);

                                done[pt - w->parts] = 1;
                                got++;
                                if (ts > *last_ts)
                                        *last_ts = ts;
                        }
                        rd_kafka_message_destroy(msg);
                }
        }
        rd_kafka_topic_partition_list_destroy(l);
        free(done);
        if (got < want)
                fprintf(stderr, "bench_drain: read the last record of %d of %d partitions\n", got, want);
        return got == want ? 0 : -1;
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "bootstrap", required_argument, NULL, 'b' },
                { "topic", required_argument, NULL, 't' },
                { "count", required_argument, NULL, 'n' },
                { "pid-file", required_argument, NULL, 'p' },
                { "timeout-s", required_argument, NULL, 'T' },
                { NULL, 0, NULL, 0 },
        };
        struct watch w;
        struct proc_sample ps;
        struct sigaction sa;
        long long records = 0, dropped = 0;
        int64_t first_ts = -1, last_ts = -1;
        int c, i, used = 0, lost = 0, rc = 0;

        memset(&w, 0, sizeof(w));
        memset(&ps, 0, sizeof(ps));
        w.timeout_s = 600;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 'b': w.bootstrap = optarg; break;
                case 't':
                        if (w.ntopics == MAX_TOPICS)
                                return 2;
                        w.topics[w.ntopics++] = optarg;
                        break;
                case 'n': w.count = strtoll(optarg, NULL, 10); break;
                case 'p': w.pid_file = optarg; break;
                case 'T': w.timeout_s = strtol(optarg, NULL, 10); break;
                default:
                        fprintf(stderr, "usage: bench_drain --bootstrap B --topic T... --count N "
                                        "[--pid-file F] [--timeout-s S]\n");
                        return 2;
                }
        }
        if (!w.bootstrap || !w.ntopics || w.count <= 0 || w.timeout_s <= 0) {
                fprintf(stderr, "bench_drain: --bootstrap, --topic and --count (> 0) are required\n");
                return 2;
        }
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        if (setup(&w) == -1)
                return 1;
        printf("ready partitions=%d\n", w.nparts);
        fflush(stdout);

        if (watch_drain(&w, &ps) == -1)
                rc = 1;
        list_offsets(&w, RD_KAFKA_OFFSET_END, 1, &records);
        list_offsets(&w, RD_KAFKA_OFFSET_BEGINNING, 0, &dropped);
        for (i = 0; i < w.nparts; i++) {
                struct part *pt = &w.parts[i];

                if (pt->end > 0)
                        used++;
                if (!pt->seen)
                        continue;
                if (pt->first_offset != 0)
                        lost++;
                if (first_ts < 0 || pt->first_ts < first_ts)
                        first_ts = pt->first_ts;
        }
        if (rc == 0 && read_last(&w, &last_ts) == -1)
                rc = 1;
        printf("result records=%lld dropped=%lld partitions=%d partitions_used=%d first_lost=%d "
               "first_ts_ms=%" PRId64 " last_ts_ms=%" PRId64 " first_seen_ms=%.0f drained_seen_ms=%.0f "
               "record_bytes=%ld cpu_ticks=%lld cpu_user_ticks=%lld cpu_main_ticks=%lld "
               "cpu_rdk_ticks=%lld cpu_other_ticks=%lld clk_tck=%ld peak_rss_kb=%ld rss_kb=%ld "
               "watcher_cpu_ms=%.0f\n",
               records, dropped, w.nparts, used, lost, first_ts, last_ts, w.first_seen_ms,
               w.drained_seen_ms, w.record_bytes, ps.ticks, ps.user_ticks, ps.main_ticks, ps.rdk_ticks,
               ps.other_ticks, sysconf(_SC_CLK_TCK), ps.hwm_kb, ps.rss_kb, w.self_cpu_ms);
        fflush(stdout);
        rd_kafka_consumer_close(w.rk);
        rd_kafka_destroy(w.rk);
        free(w.parts);
        return rc;
}
