/*
 * The replay store: channel -> last committed replay ID, kept in memory and
 * persisted as records of a compacted Kafka topic. At start the topic is read
 * to its end with read_committed, so only IDs whose events were committed are
 * trusted; afterwards sink_kafka writes the records and tells us (set).
 */
#include "replay_store.h"
#include "kafka_topic.h"
#include "units.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "json.h"
#include "kafka_conf.h"
#include "log.h"

#define REPLAY_KEY_MAX 4096

struct replay_slot {
        struct replay_entry entry;
        int32_t partition; /* where load() found it; -1 when set locally */
};

struct replay_store {
        const struct config *cfg; /* borrowed */
        struct replay_slot *slots;
        size_t nslots;
        size_t cap;
        char prefix[300];    /* replay keys are "<prefix>:<channel>": units_replay_prefix() */
        char owner_key[300]; /* the owner record's key: units_owner_key() */
        char *owner;      /* value of the newest owner record, see fence.h */
        size_t owner_len;
        char org[40];     /* the origin written into records, see replay_store_set_origin() */
        char login_host[256];
        volatile sig_atomic_t *stop; /* a load gives up once it is set */
};

/* The state of one replay_store_load(): what the caller sees in errstr. */
struct replay_load {
        size_t skipped;
        char first_skip[256];
};

static long long now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

        nanosleep(&ts, NULL);
}

/* A stop asked for: a load waiting on Kafka gives up within STOP_SLICE_MS. */
#define STOP_SLICE_MS 500

static int stopped(volatile sig_atomic_t *stop)
{
        return stop && *stop;
}

/* Milliseconds left before deadline, never negative. */
static int remaining_ms(long long deadline)
{
        long long left = deadline - now_ms();

        if (left < 0)
                return 0;
        if (left > 0x7fffffff)
                return 0x7fffffff;
        return (int)left;
}

void replay_now_rfc3339(char *out, size_t out_size)
{
        struct timespec ts;
        struct tm tm;

        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        snprintf(out, out_size, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (long)(ts.tv_nsec / 1000000));
}

/* ---- record codec ---- */

/* Append s as a JSON string literal (quotes included). */
static int json_put_string(struct buf *b, const char *s)
{
        const unsigned char *p;
        char esc[8];

        if (buf_append(b, "\"", 1))
                return -1;
        for (p = (const unsigned char *)s; *p; p++) {
                const unsigned char *run = p;

                while (*p && *p != '"' && *p != '\\' && *p >= 0x20)
                        p++;
                if (p > run && buf_append(b, run, (size_t)(p - run)))
                        return -1;
                if (!*p)
                        break;
                if (*p == '"' || *p == '\\') {
                        esc[0] = '\\';
                        esc[1] = (char)*p;
                        if (buf_append(b, esc, 2))
                                return -1;
                } else {
                        snprintf(esc, sizeof(esc), "\\u%04x", *p);
                        if (buf_append(b, esc, 6))
                                return -1;
                }
        }
        return buf_append(b, "\"", 1);
}

/* The value, with org and login_host when known. */
static int record_encode(const char *name, const char *channel, long long replay_id,
                         const char *event_time, const char *committed_at, const char *org,
                         const char *login_host, struct buf *key, struct buf *value)
{
        buf_reset(key);
        buf_reset(value);
        if (buf_printf(key, "%s:%s", name, channel))
                return -1;
        if (buf_append(value, "{\"channel\":", 11) || json_put_string(value, channel) ||
            buf_printf(value, ",\"replay_id\":%lld,\"event_time\":", replay_id) ||
            json_put_string(value, event_time ? event_time : "") ||
            buf_append(value, ",\"committed_at\":", 16) ||
            json_put_string(value, committed_at ? committed_at : ""))
                return -1;
        if (org && org[0] && (buf_append(value, ",\"org\":", 7) || json_put_string(value, org)))
                return -1;
        if (login_host && login_host[0] &&
            (buf_append(value, ",\"login_host\":", 14) || json_put_string(value, login_host)))
                return -1;
        return buf_append(value, "}", 1);
}

int replay_record_encode(const char *name, const char *channel, long long replay_id,
                         const char *event_time, const char *committed_at, struct buf *key,
                         struct buf *value)
{
        return record_encode(name, channel, replay_id, event_time, committed_at, NULL, NULL, key,
                             value);
}

int replay_store_record_encode(const struct replay_store *rs, const char *channel,
                               long long replay_id, const char *event_time,
                               const char *committed_at, struct buf *key, struct buf *value)
{
        return record_encode(rs->prefix, channel, replay_id, event_time, committed_at, rs->org,
                             rs->login_host, key, value);
}

int replay_gap_encode(const char *name, const char *channel, long long stored_replay_id,
                      long long resubscribed_from, const char *policy, const char *detected_at,
                      struct buf *key, struct buf *value)
{
        buf_reset(key);
        buf_reset(value);
        if (buf_printf(key, "%s:%s:gap:%s", name, channel, detected_at ? detected_at : ""))
                return -1;
        if (buf_append(value, "{\"channel\":", 11) || json_put_string(value, channel) ||
            buf_printf(value, ",\"stored_replay_id\":%lld,\"resubscribed_from\":", stored_replay_id))
                return -1;
        if (resubscribed_from == REPLAY_ALL || resubscribed_from == REPLAY_NEW ?
                    buf_printf(value, "%lld", resubscribed_from) : buf_append(value, "null", 4))
                return -1;
        if (buf_append(value, ",\"policy\":", 10) || json_put_string(value, policy ? policy : "") ||
            buf_append(value, ",\"detected_at\":", 15) ||
            json_put_string(value, detected_at ? detected_at : "") ||
            buf_append(value, ",\"bridge\":", 10) || json_put_string(value, name) ||
            buf_append(value, "}", 1))
                return -1;
        return 0;
}

/*
 * Gaps go to a topic of their own, not to the replay topic: the replay
 * topic is compacted and read to its end at every start, so one record per
 * gap under a unique key would make every start read a little more,
 * forever; a topic nobody reads at start can keep every gap.
 */
void replay_gap_topic(const struct config *cfg, char *out, size_t out_size)
{
        static const char suffix[] = ".gaps";
        size_t room = 249 - (sizeof(suffix) - 1);

        snprintf(out, out_size, "%.*s%s", (int)room, cfg->kafka.replay_topic, suffix);
}

/* An optional string member (a timestamp, the org): absent or null -> "", else a short string. */
static int decode_time(const cJSON *obj, const char *field, char *out, size_t out_size,
                       char *errstr, size_t errstr_size)
{
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, field);

        out[0] = '\0';
        if (!item || cJSON_IsNull(item))
                return 0;
        if (!cJSON_IsString(item) || !item->valuestring) {
                snprintf(errstr, errstr_size, "%s: not a string", field);
                return -1;
        }
        if (strlen(item->valuestring) >= out_size) {
                snprintf(errstr, errstr_size, "%s: too long (at most %zu bytes)", field,
                         out_size - 1);
                return -1;
        }
        memcpy(out, item->valuestring, strlen(item->valuestring) + 1);
        return 0;
}


/* The top-level "replay_id" of a replay record, exactly: digits, or -1 / -2. */
static int replay_exact_id(const char *value, size_t len, long long *id)
{
        struct json_scanner js;
        struct json_span key, sp;
        int rc;

        json_init(&js, value, len);
        if (json_open(&js, JSON_OBJECT) == -1)
                return -1;
        while ((rc = json_member(&js, &key)) == 1) {
                if (!json_key_is(&key, "replay_id")) {
                        if (json_skip(&js, NULL) == -1)
                                return -1;
                        continue;
                }
                if (json_peek(&js) != JSON_NUMBER || json_skip(&js, &sp) == -1)
                        return -1;
                if (sp.len == 2 && sp.p[0] == '-' && (sp.p[1] == '1' || sp.p[1] == '2')) {
                        *id = -(long long)(sp.p[1] - '0');
                        return 0;
                }
                return json_int64(sp.p, sp.len, id);
        }
        return -1;
}
int replay_record_decode(const char *value, size_t len, struct replay_entry *out, char *errstr,
                         size_t errstr_size)
{
        const cJSON *item;
        cJSON *root;
        long long id;

        memset(out, 0, sizeof(*out));
        if (!value || len == 0) {
                snprintf(errstr, errstr_size, "empty value");
                return -1;
        }
        if (len > REPLAY_RECORD_MAX) {
                snprintf(errstr, errstr_size, "value too large (%zu bytes, at most %d)", len,
                         REPLAY_RECORD_MAX);
                return -1;
        }
        root = cJSON_ParseWithLength(value, len);
        if (!root) {
                snprintf(errstr, errstr_size, "not valid JSON");
                return -1;
        }
        if (!cJSON_IsObject(root)) {
                snprintf(errstr, errstr_size, "not a JSON object");
                goto fail;
        }

        item = cJSON_GetObjectItemCaseSensitive(root, "channel");
        if (!item) {
                snprintf(errstr, errstr_size, "channel: missing");
                goto fail;
        }
        if (!cJSON_IsString(item) || !item->valuestring) {
                snprintf(errstr, errstr_size, "channel: not a string");
                goto fail;
        }
        if (!item->valuestring[0]) {
                snprintf(errstr, errstr_size, "channel: empty");
                goto fail;
        }

        item = cJSON_GetObjectItemCaseSensitive(root, "replay_id");
        if (!item) {
                snprintf(errstr, errstr_size, "replay_id: missing");
                goto fail;
        }
        if (!cJSON_IsNumber(item)) {
                snprintf(errstr, errstr_size, "replay_id: not a number");
                goto fail;
        }
        /*
         * cJSON keeps numbers as doubles, which past 2^53 are not the value
         * written: the ID is read exactly from its text instead.
         */
        if (replay_exact_id(value, len, &id) == -1) {
                snprintf(errstr, errstr_size, "replay_id: not an integer in [-2, 2^63)");
                goto fail;
        }

        /* Records of versions before org binding have no org: unknown, accepted. */
        if (decode_time(root, "event_time", out->event_time, sizeof(out->event_time), errstr,
                        errstr_size) ||
            decode_time(root, "committed_at", out->committed_at, sizeof(out->committed_at), errstr,
                        errstr_size) ||
            decode_time(root, "org", out->org, sizeof(out->org), errstr, errstr_size) ||
            decode_time(root, "login_host", out->login_host, sizeof(out->login_host), errstr,
                        errstr_size))
                goto fail;

        out->channel = strdup(cJSON_GetObjectItemCaseSensitive(root, "channel")->valuestring);
        if (!out->channel) {
                snprintf(errstr, errstr_size, "out of memory");
                goto fail;
        }
        out->replay_id = id;
        cJSON_Delete(root);
        return 0;
fail:
        cJSON_Delete(root);
        memset(out, 0, sizeof(*out));
        return -1;
}

/* ---- the store ---- */

struct replay_store *replay_store_new(const struct config *cfg, char *errstr, size_t errstr_size)
{
        struct replay_store *rs;

        if (!cfg || !cfg->name || !cfg->kafka.replay_topic) {
                snprintf(errstr, errstr_size,
                         "replay store: name and kafka.replay_topic are required");
                return NULL;
        }
        rs = calloc(1, sizeof(*rs));
        if (!rs) {
                snprintf(errstr, errstr_size, "replay store: out of memory");
                return NULL;
        }
        rs->cfg = cfg;
        units_replay_prefix(cfg, rs->prefix, sizeof(rs->prefix));
        units_owner_key(cfg, rs->owner_key, sizeof(rs->owner_key));
        return rs;
}

static void replay_store_clear(struct replay_store *rs)
{
        size_t i;

        for (i = 0; i < rs->nslots; i++)
                free(rs->slots[i].entry.channel);
        rs->nslots = 0;
        free(rs->owner);
        rs->owner = NULL;
        rs->owner_len = 0;
}

void replay_store_destroy(struct replay_store *rs)
{
        if (!rs)
                return;
        replay_store_clear(rs);
        free(rs->slots);
        free(rs);
}

static struct replay_slot *replay_find(const struct replay_store *rs, const char *channel,
                                       size_t len)
{
        size_t i;

        for (i = 0; i < rs->nslots; i++) {
                const char *c = rs->slots[i].entry.channel;

                if (strlen(c) == len && !memcmp(c, channel, len))
                        return &rs->slots[i];
        }
        return NULL;
}

/* The slot for channel, added empty when missing. NULL when out of memory. */
static struct replay_slot *replay_slot_get(struct replay_store *rs, const char *channel, size_t len)
{
        struct replay_slot *slot = replay_find(rs, channel, len);
        char *copy;

        if (slot)
                return slot;
        if (rs->nslots == rs->cap) {
                size_t cap = rs->cap ? rs->cap * 2 : 16;
                struct replay_slot *slots = realloc(rs->slots, cap * sizeof(*slots));

                if (!slots)
                        return NULL;
                rs->slots = slots;
                rs->cap = cap;
        }
        copy = malloc(len + 1);
        if (!copy)
                return NULL;
        memcpy(copy, channel, len);
        copy[len] = '\0';
        slot = &rs->slots[rs->nslots++];
        memset(slot, 0, sizeof(*slot));
        slot->entry.channel = copy;
        slot->partition = -1;
        return slot;
}

static void replay_remove(struct replay_store *rs, struct replay_slot *slot)
{
        size_t i = (size_t)(slot - rs->slots);

        free(slot->entry.channel);
        memmove(&rs->slots[i], &rs->slots[i + 1], (rs->nslots - i - 1) * sizeof(*slot));
        rs->nslots--;
}

void replay_store_set_origin(struct replay_store *rs, const char *org, const char *login_host)
{
        snprintf(rs->org, sizeof(rs->org), "%s", org ? org : "");
        snprintf(rs->login_host, sizeof(rs->login_host), "%s", login_host ? login_host : "");
}

int replay_org_same(const char *a, const char *b)
{
        /* The 18-character form adds a case-checksum suffix to the 15. */
        if (strlen(a) >= 15 && strlen(b) >= 15)
                return !strncmp(a, b, 15);
        return !strcmp(a, b);
}

void replay_store_set_stop(struct replay_store *rs, volatile sig_atomic_t *stop)
{
        rs->stop = stop;
}

void replay_store_forget(struct replay_store *rs, const char *channel)
{
        struct replay_slot *slot = replay_find(rs, channel, strlen(channel));

        if (slot)
                replay_remove(rs, slot);
}

int replay_store_get(const struct replay_store *rs, const char *channel, long long *replay_id)
{
        const struct replay_slot *slot = replay_find(rs, channel, strlen(channel));

        if (!slot)
                return -1;
        *replay_id = slot->entry.replay_id;
        return 0;
}

int replay_store_set(struct replay_store *rs, const char *channel, long long replay_id,
                     const char *event_time)
{
        struct replay_slot *slot = replay_slot_get(rs, channel, strlen(channel));

        if (!slot)
                return -1;
        slot->entry.replay_id = replay_id;
        snprintf(slot->entry.event_time, sizeof(slot->entry.event_time), "%s",
                 event_time ? event_time : "");
        replay_now_rfc3339(slot->entry.committed_at, sizeof(slot->entry.committed_at));
        memcpy(slot->entry.org, rs->org, sizeof(slot->entry.org));
        memcpy(slot->entry.login_host, rs->login_host, sizeof(slot->entry.login_host));
        return 0;
}

size_t replay_store_count(const struct replay_store *rs)
{
        return rs->nslots;
}

const struct replay_entry *replay_store_entry(const struct replay_store *rs, size_t i)
{
        return i < rs->nslots ? &rs->slots[i].entry : NULL;
}

/* ---- reading the topic ---- */

static void load_skip(struct replay_load *ld, const char *topic, int32_t partition, int64_t offset,
                      const char *why)
{
        log_msg(LOG_WARN, "replay_record_skipped", "topic=%s partition=%d offset=%lld err=\"%s\"",
                topic, (int)partition, (long long)offset, why);
        if (ld->skipped++ == 0)
                snprintf(ld->first_skip, sizeof(ld->first_skip), "partition %d offset %lld: %s",
                         (int)partition, (long long)offset, why);
}

/* Keep the newest owner record (one key: one partition, so the later
 * offset is the newer); fence.c reads it. A tombstone forgets it. */
static void load_owner(struct replay_store *rs, const rd_kafka_message_t *rkm)
{
        char *copy = NULL;

        if (rkm->payload && rkm->len <= REPLAY_RECORD_MAX && (copy = malloc(rkm->len + 1))) {
                memcpy(copy, rkm->payload, rkm->len);
                copy[rkm->len] = '\0';
        }
        free(rs->owner);
        rs->owner = copy;
        rs->owner_len = copy ? rkm->len : 0;
}

/*
 * Apply one record of the replay topic. Keys are "<name>:<channel>"; a
 * channel always starts with '/' and holds no ':', which tells our keys
 * from those of a bridge whose name merely starts like ours, and from gap
 * keys ("<name>:<channel>:gap", which older versions wrote here).
 */
static void load_record(struct replay_store *rs, struct replay_load *ld,
                        const rd_kafka_message_t *rkm)
{
        const char *name = rs->prefix;
        const char *topic = rs->cfg->kafka.replay_topic;
        size_t namelen = strlen(name);
        const char *key = rkm->key;
        const char *channel;
        size_t chlen;
        struct replay_entry entry;
        struct replay_slot *slot;
        char why[200];

        if (key && rkm->key_len == strlen(rs->owner_key) &&
            !memcmp(key, rs->owner_key, rkm->key_len)) {
                load_owner(rs, rkm);
                return;
        }
        if (!key || rkm->key_len <= namelen + 1 || memcmp(key, name, namelen) ||
            key[namelen] != ':' || key[namelen + 1] != '/')
                return;
        channel = key + namelen + 1;
        chlen = rkm->key_len - namelen - 1;
        if (memchr(channel, ':', chlen))
                return; /* a gap record or another bridge's key */

        if (!rkm->payload) {
                /* A tombstone: someone deleted the channel's stored ID. */
                slot = replay_find(rs, channel, chlen);
                if (slot)
                        replay_remove(rs, slot);
                return;
        }
        if (replay_record_decode(rkm->payload, rkm->len, &entry, why, sizeof(why))) {
                load_skip(ld, topic, rkm->partition, rkm->offset, why);
                return;
        }
        if (strlen(entry.channel) != chlen || memcmp(entry.channel, channel, chlen)) {
                load_skip(ld, topic, rkm->partition, rkm->offset,
                          "channel in the value differs from the key");
                free(entry.channel);
                return;
        }
        slot = replay_find(rs, channel, chlen);
        /*
         * Within a partition the later offset is the newer record. The same
         * key in two partitions only happens when a writer used another
         * partitioner; then the later commit time wins.
         */
        if (slot && slot->partition != rkm->partition &&
            strcmp(entry.committed_at, slot->entry.committed_at) < 0) {
                free(entry.channel);
                return;
        }
        if (!slot)
                slot = replay_slot_get(rs, channel, chlen);
        if (!slot) {
                load_skip(ld, topic, rkm->partition, rkm->offset, "out of memory");
                free(entry.channel);
                return;
        }
        slot->entry.replay_id = entry.replay_id;
        memcpy(slot->entry.event_time, entry.event_time, sizeof(entry.event_time));
        memcpy(slot->entry.committed_at, entry.committed_at, sizeof(entry.committed_at));
        memcpy(slot->entry.org, entry.org, sizeof(entry.org));
        memcpy(slot->entry.login_host, entry.login_host, sizeof(entry.login_host));
        slot->partition = rkm->partition;
        free(entry.channel);
}

/*
 * Find the topic (creating it when missing) and its partition count.
 * @returns 0 with *state and *partitions, or -1 with errstr.
 */
static int replay_topic_prepare(rd_kafka_t *rk, const char *topic, long long deadline,
                                volatile sig_atomic_t *stop, enum kafka_topic_state *state,
                                int *partitions, char *errstr, size_t errstr_size)
{
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err;
        int rc = -1;

        if (!rkt) {
                snprintf(errstr, errstr_size, "replay topic %s: %s", topic,
                         rd_kafka_err2str(rd_kafka_last_error()));
                return -1;
        }
        for (;;) {
                int slice = remaining_ms(deadline);

                if (stop && slice > STOP_SLICE_MS)
                        slice = STOP_SLICE_MS;
                err = rd_kafka_metadata(rk, 0, rkt, &md, slice);
                if (err && stop && !*stop && remaining_ms(deadline) > 0)
                        continue; /* Kafka not there yet: ask again, stop soon when told */
                if (stopped(stop)) {
                        snprintf(errstr, errstr_size, "replay topic %s: stopped", topic);
                        goto out;
                }
                if (err) {
                        snprintf(errstr, errstr_size,
                                 "replay topic %s: Kafka metadata not available: %s", topic,
                                 rd_kafka_err2str(err));
                        goto out;
                }
                err = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
                if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                        *state = KAFKA_TOPIC_EXISTS;
                        *partitions = md->topics[0].partition_cnt;
                        rc = 0;
                        goto out;
                }
                if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                    err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
                        *state = kafka_topic_create(rk, topic, 1, "compact", md, remaining_ms(deadline),
                                                    "replay_topic");
                        *partitions = 0;
                        if (*state != KAFKA_TOPIC_EXISTS) {
                                rc = 0;
                                goto out;
                        }
                        /* It appeared meanwhile: describe it again. */
                } else if (err != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE) {
                        snprintf(errstr, errstr_size, "replay topic %s: %s", topic,
                                 rd_kafka_err2str(err));
                        goto out;
                }
                rd_kafka_metadata_destroy(md);
                md = NULL;
                if (remaining_ms(deadline) == 0) {
                        snprintf(errstr, errstr_size,
                                 "replay topic %s: no partition leader before the timeout", topic);
                        goto out;
                }
                sleep_ms(100);
        }
out:
        if (md)
                rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
        return rc;
}

/*
 * Make sure the gap topic (replay_gap_topic()) exists, created with
 * cleanup.policy=delete when missing: where the brokers' auto-creation is
 * off, a missing one would fail every batch that records a gap. Only
 * logged when it cannot be done: the first gap then says so.
 */
static void replay_gap_topic_prepare(rd_kafka_t *rk, const struct config *cfg, long long deadline)
{
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *rkt;
        rd_kafka_resp_err_t err;
        char topic[256];

        replay_gap_topic(cfg, topic, sizeof(topic));
        if (!(rkt = rd_kafka_topic_new(rk, topic, NULL)))
                return;
        err = rd_kafka_metadata(rk, 0, rkt, &md, remaining_ms(deadline));
        if (!err) {
                err = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
                if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                    err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC)
                        kafka_topic_create(rk, topic, 1, "delete", md, remaining_ms(deadline),
                                           "replay_topic");
        }
        if (md)
                rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
}

struct load_partition {
        int32_t partition;
        int64_t high; /* read_committed end (last stable offset) when load began */
        int done;
};

/* Errors after which waiting longer cannot help. */
static int load_error_is_permanent(rd_kafka_resp_err_t err)
{
        switch (err) {
        case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
        case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
        case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
        case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
        case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
        case RD_KAFKA_RESP_ERR__SSL:
        case RD_KAFKA_RESP_ERR__AUTHENTICATION:
        case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
        case RD_KAFKA_RESP_ERR__FATAL: return 1;
        default: return 0;
        }
}

static int replay_read_partitions(struct replay_store *rs, rd_kafka_t *rk, int partitions,
                                  long long deadline, struct replay_load *ld, char *errstr,
                                  size_t errstr_size)
{
        const char *topic = rs->cfg->kafka.replay_topic;
        rd_kafka_topic_partition_list_t *assignment = NULL;
        struct load_partition *parts;
        rd_kafka_resp_err_t err;
        size_t nparts = 0, left = 0, i;
        int rc = -1;
        int32_t p;

        parts = calloc((size_t)partitions, sizeof(*parts));
        assignment = rd_kafka_topic_partition_list_new(partitions);
        if (!parts || !assignment) {
                snprintf(errstr, errstr_size, "replay topic %s: out of memory", topic);
                goto out;
        }
        for (p = 0; p < partitions; p++) {
                int64_t low = 0, high = 0;

                /*
                 * With isolation.level=read_committed the high mark is the
                 * last stable offset: reading to it yields every committed
                 * record and never waits for an open transaction.
                 */
                for (;;) {
                        err = rd_kafka_query_watermark_offsets(rk, topic, p, &low, &high,
                                                               remaining_ms(deadline));
                        if (!err || load_error_is_permanent(err) || remaining_ms(deadline) == 0)
                                break;
                        sleep_ms(100);
                }
                if (err) {
                        snprintf(errstr, errstr_size,
                                 "replay topic %s: partition %d: end offset not available: %s",
                                 topic, (int)p, rd_kafka_err2str(err));
                        goto out;
                }
                if (high <= low)
                        continue; /* empty: nothing to wait for */
                parts[nparts].partition = p;
                parts[nparts].high = high;
                nparts++;
                rd_kafka_topic_partition_list_add(assignment, topic, p)->offset =
                    RD_KAFKA_OFFSET_BEGINNING;
        }
        if (nparts == 0) {
                rc = 0;
                goto out;
        }
        err = rd_kafka_assign(rk, assignment);
        if (err) {
                snprintf(errstr, errstr_size, "replay topic %s: assign: %s", topic,
                         rd_kafka_err2str(err));
                goto out;
        }
        left = nparts;
        while (left > 0) {
                rd_kafka_message_t *rkm;
                struct load_partition *lp = NULL;

                if (stopped(rs->stop)) {
                        snprintf(errstr, errstr_size, "replay topic %s: stopped", topic);
                        goto out;
                }
                if (remaining_ms(deadline) == 0) {
                        for (i = 0; i < nparts && parts[i].done; i++)
                                ;
                        snprintf(errstr, errstr_size,
                                 "replay topic %s: not read to its end before the timeout "
                                 "(partition %d, end offset %lld)",
                                 topic, (int)parts[i].partition, (long long)parts[i].high);
                        goto out;
                }
                rkm = rd_kafka_consumer_poll(
                    rk, remaining_ms(deadline) < 100 ? remaining_ms(deadline) : 100);
                if (!rkm)
                        continue;
                for (i = 0; i < nparts; i++)
                        if (parts[i].partition == rkm->partition)
                                lp = &parts[i];
                if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        if (lp && !lp->done && rkm->offset >= lp->high) {
                                lp->done = 1;
                                left--;
                        }
                } else if (rkm->err) {
                        if (load_error_is_permanent(rkm->err)) {
                                snprintf(errstr, errstr_size, "replay topic %s: %s", topic,
                                         rd_kafka_message_errstr(rkm));
                                rd_kafka_message_destroy(rkm);
                                goto out;
                        }
                        log_msg(LOG_WARN, "replay_load_error", "topic=%s err=\"%s\"", topic,
                                rd_kafka_message_errstr(rkm));
                } else {
                        load_record(rs, ld, rkm);
                        if (lp && !lp->done && rkm->offset + 1 >= lp->high) {
                                lp->done = 1;
                                left--;
                        }
                }
                rd_kafka_message_destroy(rkm);
        }
        rc = 0;
out:
        if (assignment)
                rd_kafka_topic_partition_list_destroy(assignment);
        free(parts);
        return rc;
}

int replay_store_load(struct replay_store *rs, int timeout_ms, char *errstr, size_t errstr_size)
{
        const struct config *cfg = rs->cfg;
        long long deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
        struct replay_load ld = {0, ""};
        enum kafka_topic_state state = KAFKA_TOPIC_MISSING;
        rd_kafka_conf_t *conf;
        rd_kafka_t *rk;
        char group[300];
        char rderr[512];
        int partitions = 0;
        int rc;

        errstr[0] = '\0';
        replay_store_clear(rs);
        conf = kafka_conf_new(cfg, KAFKA_CONF_CONSUMER, errstr, errstr_size);
        if (!conf)
                return -1;
        snprintf(group, sizeof(group), "sfbridge-%s-replay-loader", cfg->name);
        /* Set after the user's properties: these make the load correct. */
        if (kafka_conf_set(conf, "sfbridge", "group.id", group, errstr, errstr_size) ||
            kafka_conf_set(conf, "sfbridge", "enable.partition.eof", "true", errstr,
                           errstr_size) ||
            kafka_conf_set(conf, "sfbridge", "auto.offset.reset", "earliest", errstr,
                           errstr_size)) {
                rd_kafka_conf_destroy(conf);
                return -1;
        }
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, rderr, sizeof(rderr));
        if (!rk) {
                rd_kafka_conf_destroy(conf);
                snprintf(errstr, errstr_size, "replay store: cannot create Kafka consumer: %s",
                         rderr);
                return -1;
        }
        rc = replay_topic_prepare(rk, cfg->kafka.replay_topic, deadline, rs->stop, &state,
                                  &partitions, errstr, errstr_size);
        if (rc == 0)
                replay_gap_topic_prepare(rk, cfg, deadline);
        if (rc == 0 && state == KAFKA_TOPIC_EXISTS && partitions > 0)
                rc = replay_read_partitions(rs, rk, partitions, deadline, &ld, errstr, errstr_size);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        if (rc)
                return -1;
        if (ld.skipped)
                snprintf(errstr, errstr_size,
                         "replay topic %s: skipped %zu undecodable record(s), first at %s",
                         cfg->kafka.replay_topic, ld.skipped, ld.first_skip);
        log_msg(LOG_INFO, "replay_store_loaded", "topic=%s channels=%zu skipped=%zu",
                cfg->kafka.replay_topic, rs->nslots, ld.skipped);
        return 0;
}

const char *replay_store_owner(const struct replay_store *rs, size_t *len)
{
        *len = rs->owner_len;
        return rs->owner;
}

/* ---- writing one record outside the bridge (`sfbridge replay set`) ---- */

struct replay_write_result {
        int done;
        rd_kafka_resp_err_t err;
};

static void replay_write_dr(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
        struct replay_write_result *res = rkm->_private;

        (void)rk;
        (void)opaque;
        if (res) {
                res->done = 1;
                res->err = rkm->err;
        }
}

int replay_store_write(struct replay_store *rs, const char *channel, long long replay_id,
                       int timeout_ms, char *errstr, size_t errstr_size)
{
        const struct config *cfg = rs->cfg;
        long long deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
        struct replay_write_result res = {0, RD_KAFKA_RESP_ERR_NO_ERROR};
        enum kafka_topic_state state;
        rd_kafka_conf_t *conf;
        rd_kafka_t *rk;
        struct buf key, value;
        char now[40];
        char rderr[512];
        int partitions, rc = -1;
        rd_kafka_resp_err_t err;

        if (!channel || channel[0] != '/') {
                snprintf(errstr, errstr_size, "replay set: channel must start with '/'");
                return -1;
        }
        if (replay_id < REPLAY_ALL) {
                snprintf(errstr, errstr_size, "replay set: replay ID %lld not in [-2, 2^63)",
                         replay_id);
                return -1;
        }
        conf = kafka_conf_new(cfg, KAFKA_CONF_PRODUCER, errstr, errstr_size);
        if (!conf)
                return -1;
        rd_kafka_conf_set_dr_msg_cb(conf, replay_write_dr);
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, rderr, sizeof(rderr));
        if (!rk) {
                rd_kafka_conf_destroy(conf);
                snprintf(errstr, errstr_size, "replay set: cannot create Kafka producer: %s",
                         rderr);
                return -1;
        }
        buf_init(&key, REPLAY_KEY_MAX);
        buf_init(&value, REPLAY_RECORD_MAX);
        if (replay_topic_prepare(rk, cfg->kafka.replay_topic, deadline, NULL, &state, &partitions,
                                 errstr, errstr_size))
                goto out;
        replay_now_rfc3339(now, sizeof(now));
        if (replay_record_encode(rs->prefix, channel, replay_id, "", now, &key, &value)) {
                snprintf(errstr, errstr_size, "replay set: channel too long");
                goto out;
        }
        err = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(cfg->kafka.replay_topic), RD_KAFKA_V_KEY(key.data, key.len),
            RD_KAFKA_V_VALUE(value.data, value.len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_OPAQUE(&res), RD_KAFKA_V_END);
        if (err) {
                snprintf(errstr, errstr_size, "replay topic %s: produce: %s",
                         cfg->kafka.replay_topic, rd_kafka_err2str(err));
                goto out;
        }
        rd_kafka_flush(rk, remaining_ms(deadline));
        if (!res.done) {
                /* Purge so the report cannot reach &res after we return. */
                rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
                rd_kafka_flush(rk, 1000);
                if (res.err == RD_KAFKA_RESP_ERR_NO_ERROR)
                        res.err = RD_KAFKA_RESP_ERR__TIMED_OUT;
        }
        if (res.err) {
                snprintf(errstr, errstr_size, "replay topic %s: write not acknowledged: %s",
                         cfg->kafka.replay_topic, rd_kafka_err2str(res.err));
                goto out;
        }
        if (replay_store_set(rs, channel, replay_id, "")) {
                snprintf(errstr, errstr_size, "replay set: out of memory");
                goto out;
        }
        rc = 0;
out:
        buf_free(&key);
        buf_free(&value);
        rd_kafka_destroy(rk);
        return rc;
}
