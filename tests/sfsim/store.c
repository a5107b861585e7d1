/*
 * The event store (see store.h). Each channel keeps its retained events in a
 * ring ordered by replay ID, so "everything after N" is a binary search and a
 * run of memcpy()s of ready-made JSON: nothing is re-serialised on delivery.
 */
#include "store.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pollers.h"
#include "render.h"

struct sim_event {
        uint64_t replay_id;
        int64_t created_ms;   /* wall clock, for the age limit */
        size_t len;
        char json[];          /* the Bayeux message, NUL-terminated */
};

struct channel {
        char *name;
        enum channel_kind kind;
        char entity[CHANNEL_ENTITY_MAX];  /* CDC_ENTITY: from the name */
        char schema[23];

        /* Guarded by the sim lock. */
        uint64_t last_id;       /* newest replay ID stored, 0 = none yet */
        uint64_t dropped_upto;  /* newest replay ID dropped, 0 = none */
        struct sim_event **ring;
        size_t cap, head, count;
        uint64_t published;
        uint64_t subscriptions; /* successful subscribes, ever */
        long subscribers;       /* clients subscribed now */
        struct pollers pollers; /* subscribers long-polling, and their overlap */
        long tally;             /* pollers counted by the tally under way */

        /* Guarded by publish_lock: the replay ID sequence. */
        pthread_mutex_t publish_lock;
        uint64_t next_id;
        uint64_t seq;
        struct render_rng id_rng;   /* gap sizes */
        struct render_rng uuid_rng; /* EventUuid, transactionKey */
        char transaction_key[37];   /* of the publish under way, when one transaction */
        struct sbuf scratch;        /* one rendered event */

        struct channel *next;
};

struct store {
        size_t retention;
        long retention_age_s;
        char *user_id;
        uint64_t first_replay_id;  /* 0: per-channel default */
        struct channel *channels;  /* guarded by the sim lock */
        size_t nchannels;
};

static uint64_t name_hash(const char *s)
{
        uint64_t h = 0xcbf29ce484222325ULL;

        for (; *s; s++) {
                h ^= (unsigned char)*s;
                h *= 0x100000001b3ULL;
        }
        return h;
}

struct store *store_new(size_t retention, long retention_age_s, const char *user_id,
                        uint64_t first_replay_id)
{
        struct store *store = calloc(1, sizeof(*store));

        if (!store)
                return NULL;
        store->retention = retention ? retention : 1;
        store->retention_age_s = retention_age_s;
        store->first_replay_id = first_replay_id;
        store->user_id = strdup(user_id);
        if (!store->user_id) {
                store_destroy(store);
                return NULL;
        }
        return store;
}

static struct sim_event *ring_at(const struct channel *ch, size_t i)
{
        return ch->ring[(ch->head + i) % ch->cap];
}

static void channel_destroy(struct channel *ch)
{
        size_t i;

        if (!ch)
                return;
        for (i = 0; i < ch->count; i++)
                free(ring_at(ch, i));
        free(ch->ring);
        sbuf_free(&ch->scratch);
        pthread_mutex_destroy(&ch->publish_lock);
        free(ch->name);
        free(ch);
}

void store_destroy(struct store *store)
{
        struct channel *ch, *next;

        if (!store)
                return;
        for (ch = store->channels; ch; ch = next) {
                next = ch->next;
                channel_destroy(ch);
        }
        free(store->user_id);
        free(store);
}

struct channel *store_channel_locked(struct store *store, const char *name, int create)
{
        struct channel *ch;
        uint64_t h;

        for (ch = store->channels; ch; ch = ch->next)
                if (!strcmp(ch->name, name))
                        return ch;
        if (!create || store->nchannels >= STORE_MAX_CHANNELS)
                return NULL;
        ch = calloc(1, sizeof(*ch));
        if (!ch)
                return NULL;
        ch->name = strdup(name);
        if (!ch->name || pthread_mutex_init(&ch->publish_lock, NULL)) {
                free(ch->name);
                free(ch);
                return NULL;
        }
        ch->kind = channel_classify(name, ch->entity, sizeof(ch->entity));
        pollers_init(&ch->pollers);
        /* A deterministic, channel-specific starting point, like the large
         * opaque IDs of a real org; the gaps come from a seeded generator. */
        h = name_hash(name);
        ch->next_id = 1000000 + h % 9000000;
        render_rng_seed(&ch->id_rng, h);
        render_rng_seed(&ch->uuid_rng, h ^ 0x5bd1e995ULL);
        sbuf_init(&ch->scratch, STORE_MAX_EVENT_SIZE + 4096);
        ch->next = store->channels;
        store->channels = ch;
        store->nchannels++;
        return ch;
}

const char *store_channel_name(const struct channel *ch)
{
        return ch->name;
}

void store_publish_begin(struct channel *ch)
{
        pthread_mutex_lock(&ch->publish_lock);
}

void store_publish_end(struct channel *ch)
{
        pthread_mutex_unlock(&ch->publish_lock);
}

void store_events_free(struct sim_event **evs, size_t n)
{
        size_t i;

        for (i = 0; i < n; i++) {
                free(evs[i]);
                evs[i] = NULL;
        }
}

/* Turn the rendered "replayId":N into "replayId":"unreadable-N": a fault for
 * the client's event parser, while the store keeps the event under N. */
static int unreadable_replay_id(struct sbuf *sb)
{
        static const char tag[] = "\"unreadable-";
        char *key = strstr(sb->data, "\"replayId\"");
        size_t at, end;

        if (!key)
                return -1;
        at = (size_t)(key - sb->data) + strlen("\"replayId\"");
        while (at < sb->len && (sb->data[at] < '0' || sb->data[at] > '9'))
                at++;
        end = at;
        while (end < sb->len && sb->data[end] >= '0' && sb->data[end] <= '9')
                end++;
        if (sbuf_reserve(sb, sizeof(tag)) == -1)
                return -1;
        memmove(sb->data + end + sizeof(tag), sb->data + end, sb->len - end + 1);
        sb->data[end + sizeof(tag) - 1] = '"';
        memmove(sb->data + at + sizeof(tag) - 1, sb->data + at, end - at);
        memcpy(sb->data + at, tag, sizeof(tag) - 1);
        sb->len += sizeof(tag);
        return 0;
}

int store_render(struct store *store, struct channel *ch, const struct store_publish_opts *opts,
                 struct sim_event **evs, size_t n, int64_t now_ms)
{
        struct render_params rp;
        char schema[23];
        size_t i;

        rp.kind = ch->kind;
        rp.channel = ch->name;
        rp.entity = ch->kind == CHANNEL_CDC_ENTITY ? ch->entity
                    : opts->entity                 ? opts->entity
                                                   : "Account";
        rp.record_ids = opts->record_ids;
        rp.records = opts->records;
        rp.changed_fields = opts->changed_fields;
        rp.transaction_key = NULL;
        rp.sequence = 1;
        rp.mid_transaction = 0;
        render_schema_id(ch->name, rp.entity, schema);
        rp.schema = schema;
        rp.user_id = store->user_id;
        rp.size = opts->size;
        rp.fields = opts->fields;
        rp.pretty = opts->pretty;
        for (i = 0; i < n; i++) {
                uint64_t id = ch->next_id + 1 + render_rng_next(&ch->id_rng) % 3;
                size_t at = opts->index + i;
                struct sim_event *ev;
                char ct[16];

                if (ch->seq == 0 && store->first_replay_id)
                        id = store->first_replay_id;
                render_change_type_at(opts->change_type ? opts->change_type : "CREATE", at, ct);
                rp.change_type = ct;
                if (opts->transaction) {
                        /* The publish lock is held across the whole publish. */
                        if (at == 0)
                                render_uuid(&ch->uuid_rng, ch->transaction_key);
                        rp.transaction_key = ch->transaction_key;
                        rp.sequence = (unsigned)at + 1;
                        rp.mid_transaction = at + 1 < opts->count;
                }
                sbuf_reset(&ch->scratch);
                if (render_event(&ch->scratch, &rp, id, ch->seq + 1, now_ms, &ch->uuid_rng) == -1 ||
                    (opts->bad_replay_id && unreadable_replay_id(&ch->scratch) == -1))
                        goto fail;
                ev = malloc(sizeof(*ev) + ch->scratch.len + 1);
                if (!ev)
                        goto fail;
                ev->replay_id = id;
                ev->created_ms = now_ms;
                ev->len = ch->scratch.len;
                memcpy(ev->json, ch->scratch.data, ch->scratch.len + 1);
                evs[i] = ev;
                ch->next_id = id;
                ch->seq++;
        }
        return 0;
fail:
        store_events_free(evs, i);
        return -1;
}

static void drop_oldest(struct channel *ch)
{
        struct sim_event *ev = ch->ring[ch->head];

        ch->dropped_upto = ev->replay_id;
        free(ev);
        ch->ring[ch->head] = NULL;
        ch->head = (ch->head + 1) % ch->cap;
        ch->count--;
}

static void trim(struct store *store, struct channel *ch, size_t keep, int64_t now_ms)
{
        int64_t oldest_ok = now_ms - (int64_t)store->retention_age_s * 1000;

        while (ch->count > keep)
                drop_oldest(ch);
        while (store->retention_age_s > 0 && ch->count && ch->ring[ch->head]->created_ms < oldest_ok)
                drop_oldest(ch);
}

/* Grow the ring to hold at least @p need events, never past the retention. */
static int ring_grow(struct channel *ch, size_t need)
{
        struct sim_event **ring;
        size_t cap = ch->cap ? ch->cap : 64, i;

        while (cap < need)
                cap *= 2;
        ring = malloc(cap * sizeof(*ring));
        if (!ring)
                return -1;
        for (i = 0; i < ch->count; i++)
                ring[i] = ring_at(ch, i);
        free(ch->ring);
        ch->ring = ring;
        ch->cap = cap;
        ch->head = 0;
        return 0;
}

void store_append_locked(struct store *store, struct channel *ch, struct sim_event **evs,
                         size_t n, uint64_t *ids, int64_t now_ms)
{
        size_t i;

        for (i = 0; i < n; i++) {
                if (ids)
                        ids[i] = evs[i]->replay_id;
                ch->last_id = evs[i]->replay_id;
                ch->published++;
                if (ch->count >= store->retention)
                        drop_oldest(ch);
                if (ch->count == ch->cap && ring_grow(ch, ch->count + 1) == -1) {
                        /* Out of memory: the event counts as published and
                         * immediately dropped, as if retention were shorter. */
                        ch->dropped_upto = evs[i]->replay_id;
                        free(evs[i]);
                        evs[i] = NULL;
                        continue;
                }
                ch->ring[(ch->head + ch->count) % ch->cap] = evs[i];
                ch->count++;
                evs[i] = NULL;
        }
        trim(store, ch, store->retention, now_ms);
}

int store_replay_start_locked(struct store *store, struct channel *ch, long long replay,
                              uint64_t *cursor, int64_t now_ms)
{
        trim(store, ch, store->retention, now_ms);
        if (replay == -1) {
                *cursor = ch->last_id;
                return 0;
        }
        if (replay == -2) {
                *cursor = 0;
                return 0;
        }
        /* Events after N must all still be here: N may not predate the
         * newest dropped event, nor lie beyond the newest event. */
        if (replay < 0 || (uint64_t)replay < ch->dropped_upto || (uint64_t)replay > ch->last_id)
                return -1;
        *cursor = (uint64_t)replay;
        return 0;
}

int store_has_after_locked(const struct channel *ch, uint64_t cursor)
{
        return ch->count && ring_at(ch, ch->count - 1)->replay_id > cursor;
}

/* Index of the first retained event whose replay ID is > cursor. */
static size_t first_after(const struct channel *ch, uint64_t cursor)
{
        size_t lo = 0, hi = ch->count;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (ring_at(ch, mid)->replay_id > cursor)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return lo;
}

size_t store_collect_locked(struct channel *ch, uint64_t *cursor, size_t max_events,
                            size_t max_bytes, int out_has_events, struct sbuf *out)
{
        size_t i, taken = 0;

        if (!store_has_after_locked(ch, *cursor))
                return 0;
        for (i = first_after(ch, *cursor); i < ch->count && taken < max_events; i++) {
                const struct sim_event *ev = ring_at(ch, i);

                if ((out_has_events || taken) && out->len + ev->len + 1 > max_bytes)
                        break;
                if (sbuf_reserve(out, ev->len + 1) == -1)
                        break;
                memcpy(out->data + out->len, ev->json, ev->len);
                out->len += ev->len;
                out->data[out->len++] = ',';
                out->data[out->len] = '\0';
                *cursor = ev->replay_id;
                taken++;
        }
        return taken;
}

size_t store_truncate_locked(struct store *store, size_t keep)
{
        struct channel *ch;
        size_t dropped = 0;

        for (ch = store->channels; ch; ch = ch->next) {
                while (ch->count > keep) {
                        drop_oldest(ch);
                        dropped++;
                }
        }
        return dropped;
}

void store_note_subscription_locked(struct channel *ch, int added)
{
        if (added >= 0)
                ch->subscriptions++;
        ch->subscribers += added;
}

/*
 * Replay IDs go in as raw text: a cJSON number is a double, which cannot
 * hold every ID above 2^53 (--first-replay-id).
 */
static cJSON *add_id(cJSON *obj, const char *name, uint64_t id)
{
        char text[24];

        snprintf(text, sizeof(text), "%" PRIu64, id);
        return cJSON_AddRawToObject(obj, name, text);
}

int store_stats_locked(const struct store *store, cJSON *channels)
{
        const struct channel *ch;

        for (ch = store->channels; ch; ch = ch->next) {
                cJSON *obj = cJSON_CreateObject();

                if (!obj || !cJSON_AddItemToObject(channels, ch->name, obj)) {
                        cJSON_Delete(obj);
                        return -1;
                }
                if (!cJSON_AddNumberToObject(obj, "subscriptions", (double)ch->subscriptions) ||
                    !cJSON_AddNumberToObject(obj, "subscribers", (double)ch->subscribers) ||
                    !add_id(obj, "last_replay_id", ch->last_id) ||
                    !add_id(obj, "first_replay_id", ch->count ? ring_at(ch, 0)->replay_id : 0) ||
                    !cJSON_AddNumberToObject(obj, "retained", (double)ch->count) ||
                    !cJSON_AddNumberToObject(obj, "published", (double)ch->published))
                        return -1;
        }
        return 0;
}

void store_pollers_tally_begin_locked(struct store *store)
{
        struct channel *ch;

        for (ch = store->channels; ch; ch = ch->next)
                ch->tally = 0;
}

void store_pollers_tally_locked(struct channel *ch)
{
        ch->tally++;
}

void store_pollers_tally_end_locked(struct store *store, int64_t now_ms)
{
        struct channel *ch;

        for (ch = store->channels; ch; ch = ch->next)
                pollers_set(&ch->pollers, ch->tally, now_ms);
}

int store_pollers_stats_locked(const struct store *store, cJSON *pollers, int64_t now_ms)
{
        const struct channel *ch;

        for (ch = store->channels; ch; ch = ch->next) {
                cJSON *obj = cJSON_CreateObject();

                if (!obj || !cJSON_AddItemToObject(pollers, ch->name, obj)) {
                        cJSON_Delete(obj);
                        return -1;
                }
                if (!cJSON_AddNumberToObject(obj, "now", (double)ch->pollers.now) ||
                    !cJSON_AddNumberToObject(obj, "max_concurrent_pollers", (double)ch->pollers.max) ||
                    !cJSON_AddNumberToObject(obj, "poll_overlap_ms",
                                             (double)pollers_overlap_ms(&ch->pollers, now_ms)))
                        return -1;
        }
        return 0;
}

size_t store_pollers_reset_locked(struct store *store, int64_t now_ms)
{
        struct channel *ch;
        size_t n = 0;

        for (ch = store->channels; ch; ch = ch->next, n++)
                pollers_reset(&ch->pollers, now_ms);
        return n;
}
