/*
 * Owner claims on the replay topic. The key "<name>:owner" cannot collide
 * with a replay key, whose channel part always starts with '/'.
 */
#include "fence.h"
#include "units.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kafka_conf.h"
#include "log.h"
#include "replay_store.h"

struct fence {
        const struct config *cfg;
        char instance[17];
        char owner_key[300];
        size_t owner_key_len;
        rd_kafka_t *rk;          /* the watcher, NULL until fence_watch_start() */
        char claimed_by[64];     /* the newer owner once seen */
        char member_id[256];     /* group mode: our consumer group member ID, "" outside */
};

static long long fence_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void random_hex(char *out, size_t n)
{
        static const char hex[] = "0123456789abcdef";
        unsigned char raw[8] = { 0 };
        size_t i;
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

        if (fd < 0 || read(fd, raw, sizeof(raw)) != (ssize_t)sizeof(raw)) {
                /* No urandom: time and pid still differ between two starts. */
                unsigned long long v = (unsigned long long)time(NULL) * 2654435761ULL ^
                                       (unsigned long long)getpid() << 20;
                memcpy(raw, &v, sizeof(raw));
        }
        if (fd >= 0)
                close(fd);
        for (i = 0; i < 8 && 2 * i + 1 < n; i++) {
                out[2 * i] = hex[raw[i] >> 4];
                out[2 * i + 1] = hex[raw[i] & 15];
        }
        out[2 * i] = '\0';
}

struct fence *fence_new(const struct config *cfg, char *errstr, size_t errstr_size)
{
        struct fence *fence = calloc(1, sizeof(*fence));

        if (!fence) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        fence->cfg = cfg;
        random_hex(fence->instance, sizeof(fence->instance));
        units_owner_key(cfg, fence->owner_key, sizeof(fence->owner_key));
        fence->owner_key_len = strlen(fence->owner_key);
        return fence;
}

void fence_destroy(struct fence *fence)
{
        if (!fence)
                return;
        if (fence->rk) {
                rd_kafka_consumer_close(fence->rk);
                rd_kafka_destroy(fence->rk);
        }
        free(fence);
}

const char *fence_instance(const struct fence *fence)
{
        return fence->instance;
}

/* The owner record; state is "claimed" or "released". */
static int fence_encode(const struct fence *fence, const char *state, struct buf *key,
                        struct buf *value)
{
        char host[128] = "", now[40];

        gethostname(host, sizeof(host) - 1);
        replay_now_rfc3339(now, sizeof(now));
        buf_reset(key);
        buf_reset(value);
        if (buf_append(key, fence->owner_key, fence->owner_key_len) == -1)
                return -1;
        /* host comes from the kernel; keep it JSON-safe rather than escape it. */
        for (char *p = host; *p; p++)
                if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
                        *p = '_';
        if (buf_printf(value, "{\"instance\":\"%s\",\"state\":\"%s\",\"host\":\"%s\",\"pid\":%ld,",
                       fence->instance, state, host, (long)getpid()))
                return -1;
        /* librdkafka's member IDs are the client.id and a UUID: JSON-safe. */
        if (fence->member_id[0] && buf_printf(value, "\"member_id\":\"%s\",", fence->member_id))
                return -1;
        return buf_printf(value, "\"at\":\"%s\"}", now);
}

void fence_set_member(struct fence *fence, const char *member_id)
{
        snprintf(fence->member_id, sizeof(fence->member_id), "%s", member_id ? member_id : "");
        for (char *p = fence->member_id; *p; p++)
                if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
                        *p = '_';
}

int fence_claim_encode(const struct fence *fence, struct buf *key, struct buf *value)
{
        return fence_encode(fence, "claimed", key, value);
}

int fence_release_encode(const struct fence *fence, struct buf *key, struct buf *value)
{
        return fence_encode(fence, "released", key, value);
}

int fence_claim_decode(const char *value, size_t len, char *out, size_t out_size, int *released)
{
        cJSON *root = cJSON_ParseWithLength(value, len);
        const cJSON *inst = root ? cJSON_GetObjectItemCaseSensitive(root, "instance") : NULL;
        const cJSON *state = root ? cJSON_GetObjectItemCaseSensitive(root, "state") : NULL;
        int rc = -1;

        /* Records without a state come from versions that only claimed. */
        if (cJSON_IsString(inst) && inst->valuestring[0] && strlen(inst->valuestring) < out_size &&
            (!state || (cJSON_IsString(state) && (!strcmp(state->valuestring, "claimed") ||
                                                   !strcmp(state->valuestring, "released"))))) {
                snprintf(out, out_size, "%s", inst->valuestring);
                *released = state && !strcmp(state->valuestring, "released");
                rc = 0;
        }
        cJSON_Delete(root);
        return rc;
}

/* A short string member copied out, or "" (kept JSON-safe by its writer). */
static void fence_member(const cJSON *root, const char *name, char *out, size_t out_size)
{
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, name);

        snprintf(out, out_size, "%s",
                 cJSON_IsString(item) && item->valuestring ? item->valuestring : "");
}

int fence_owner_live(const char *value, size_t len, char *instance, size_t instance_size,
                     char *host, size_t host_size, char *at, size_t at_size)
{
        cJSON *root;
        int released;

        if (!value || fence_claim_decode(value, len, instance, instance_size, &released) ||
            released)
                return 0;
        root = cJSON_ParseWithLength(value, len);
        fence_member(root, "host", host, host_size);
        fence_member(root, "at", at, at_size);
        cJSON_Delete(root);
        return 1;
}

int fence_watch_start(struct fence *fence, int timeout_ms, char *errstr, size_t errstr_size)
{
        const char *topic = fence->cfg->kafka.replay_topic;
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_partition_list_t *parts = NULL;
        rd_kafka_topic_t *rkt = NULL;
        rd_kafka_conf_t *conf;
        rd_kafka_resp_err_t err;
        char group[300], wait[16], rderr[512];
        int i, rc = -1;

        if (fence->rk)
                return 0;
        conf = kafka_conf_new(fence->cfg, KAFKA_CONF_CONSUMER, errstr, errstr_size);
        if (!conf)
                return -1;
        snprintf(group, sizeof(group), "sfbridge-%s-fence", fence->cfg->name);
        snprintf(wait, sizeof(wait), "%d", FENCE_FETCH_WAIT_MS);
        if (kafka_conf_set(conf, "sfbridge", "group.id", group, errstr, errstr_size) ||
            kafka_conf_set(conf, "sfbridge", "fetch.wait.max.ms", wait, errstr, errstr_size)) {
                rd_kafka_conf_destroy(conf);
                return -1;
        }
        fence->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, rderr, sizeof(rderr));
        if (!fence->rk) {
                rd_kafka_conf_destroy(conf);
                snprintf(errstr, errstr_size, "fence: cannot create Kafka consumer: %s", rderr);
                return -1;
        }
        rkt = rd_kafka_topic_new(fence->rk, topic, NULL);
        err = rkt ? rd_kafka_metadata(fence->rk, 0, rkt, &md, timeout_ms) : RD_KAFKA_RESP_ERR__NOENT;
        if (err || !md || md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt < 1) {
                snprintf(errstr, errstr_size, "replay topic %s: no partitions to watch: %s", topic,
                         rd_kafka_err2str(err ? err : md && md->topic_cnt == 1 ? md->topics[0].err
                                                                                : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
                goto out;
        }
        /* From the exact end now, not OFFSET_END resolved later: a release
         * written right after our claim must not be skipped. */
        parts = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
        for (i = 0; i < md->topics[0].partition_cnt; i++) {
                int32_t id = md->topics[0].partitions[i].id;
                int64_t lo = 0, hi = 0;

                err = rd_kafka_query_watermark_offsets(fence->rk, topic, id, &lo, &hi, timeout_ms);
                if (err) {
                        snprintf(errstr, errstr_size, "replay topic %s [%d]: end offset: %s", topic,
                                 (int)id, rd_kafka_err2str(err));
                        goto out;
                }
                rd_kafka_topic_partition_list_add(parts, topic, id)->offset = hi;
        }
        err = rd_kafka_assign(fence->rk, parts);
        if (err) {
                snprintf(errstr, errstr_size, "replay topic %s: assign: %s", topic, rd_kafka_err2str(err));
                goto out;
        }
        rc = 0;
out:
        if (parts)
                rd_kafka_topic_partition_list_destroy(parts);
        if (md)
                rd_kafka_metadata_destroy(md);
        if (rkt)
                rd_kafka_topic_destroy(rkt);
        if (rc) {
                rd_kafka_destroy(fence->rk);
                fence->rk = NULL;
        }
        return rc;
}

/*
 * Read one record of the watcher. A claim by another instance fences us;
 * a release by `awaited` (when given) is noted in *seen_release.
 */
static void fence_read(struct fence *fence, const rd_kafka_message_t *rkm, const char *awaited,
                       int *seen_release)
{
        char other[64];
        int released;

        if (rkm->err || rkm->key_len != fence->owner_key_len ||
            memcmp(rkm->key, fence->owner_key, fence->owner_key_len) || !rkm->payload ||
            fence_claim_decode(rkm->payload, rkm->len, other, sizeof(other), &released) ||
            !strcmp(other, fence->instance))
                return;
        if (released) {
                if (awaited && !strcmp(other, awaited))
                        *seen_release = 1;
                return;
        }
        snprintf(fence->claimed_by, sizeof(fence->claimed_by), "%s", other);
        log_msg(LOG_ERROR, "fenced", "instance=%s newer_instance=%s", fence->instance, other);
}

static int fence_fenced(const struct fence *fence, char *errstr, size_t errstr_size)
{
        snprintf(errstr, errstr_size,
                 "fenced by a newer instance with the same name %s (instance %s); this one (%s) stops "
                 "so that no event is produced twice",
                 fence->cfg->name, fence->claimed_by, fence->instance);
        return 1;
}

int fence_check(struct fence *fence, char *errstr, size_t errstr_size)
{
        rd_kafka_message_t *rkm;

        if (fence->claimed_by[0])
                return fence_fenced(fence, errstr, errstr_size);
        if (!fence->rk)
                return 0;
        while ((rkm = rd_kafka_consumer_poll(fence->rk, 0))) {
                fence_read(fence, rkm, NULL, NULL);
                rd_kafka_message_destroy(rkm);
                if (fence->claimed_by[0])
                        return fence_fenced(fence, errstr, errstr_size);
        }
        return 0;
}

int fence_is_fenced(const struct fence *fence)
{
        return fence->claimed_by[0] != '\0';
}

int fence_await_release(struct fence *fence, const char *previous, size_t previous_len,
                        int timeout_ms, char *errstr, size_t errstr_size)
{
        char owner[64];
        int released = 0, seen = 0;
        long long start = fence_now_ms(), waited;

        if (!previous || fence_claim_decode(previous, previous_len, owner, sizeof(owner), &released) ||
            released || !strcmp(owner, fence->instance) || !fence->rk)
                return 0;
        log_msg(LOG_INFO, "takeover", "previous_instance=%s wait_ms=%d", owner, timeout_ms);
        while (!seen && (waited = fence_now_ms() - start) < timeout_ms) {
                rd_kafka_message_t *rkm = rd_kafka_consumer_poll(fence->rk, FENCE_FETCH_WAIT_MS);

                if (!rkm)
                        continue;
                fence_read(fence, rkm, owner, &seen);
                rd_kafka_message_destroy(rkm);
                if (fence->claimed_by[0])
                        return fence_fenced(fence, errstr, errstr_size);
        }
        if (seen)
                log_msg(LOG_INFO, "takeover", "previous_instance=%s released=true ms=%lld", owner,
                        fence_now_ms() - start);
        else
                log_msg(LOG_WARN, "takeover",
                        "previous_instance=%s released=false ms=%d err=\"no release record: the previous "
                        "instance crashed or its broker fenced it; going on\"",
                        owner, timeout_ms);
        return 0;
}
