/*
 * Rendering an event as a Kafka record, as DESIGN.md "What lands in Kafka"
 * says. Nothing is allocated: the record lives on the caller's stack and
 * points into the event, whose value is the text Salesforce sent.
 */
#include "router.h"

#include "murmur2.h"

#include <stdio.h>
#include <string.h>

#include "topic_name.h"

#define ROUTER_ENTITY "{entity}"
#define ROUTER_ORG "{org}"
#define ROUTER_UNKNOWN_ENTITY "_unknown"

/* The org a record belongs to: the view's, "default" for the top level's. */
static const char *router_org(const struct config *cfg)
{
        return cfg->org_id ? cfg->org_id : "default";
}

static int router_topic(const struct config *cfg, const struct config_route *rt,
                        const struct bayeux_msg *ev, struct router_record *rec, int *warned,
                        char *errstr, size_t errstr_size)
{
        const size_t elen = strlen(ROUTER_ENTITY), olen = strlen(ROUTER_ORG);
        const char *t = rt->topic;
        size_t len = 0;
        char why[160];

        while (*t) {
                const char *src;
                int sanitize;
                size_t n;

                if (!strncmp(t, ROUTER_ENTITY, elen)) {
                        src = ev->entity;
                        sanitize = 1;
                        if (!src) {
                                src = ROUTER_UNKNOWN_ENTITY;
                                *warned |= ROUTER_WARN_NO_ENTITY;
                        }
                        n = strlen(src);
                        t += elen;
                } else if (!strncmp(t, ROUTER_ORG, olen)) {
                        /* An org id is checked at load: nothing to sanitize. */
                        src = router_org(cfg);
                        sanitize = 0;
                        n = strlen(src);
                        t += olen;
                } else {
                        src = t;
                        sanitize = 0;
                        n = strcspn(t + 1, "{") + 1;
                        t += n;
                }
                if (n >= sizeof(rec->topic) - len) {
                        /* Kept cut short for the error and sf.topic; illegal anyway. */
                        n = sizeof(rec->topic) - 1 - len;
                        t += strlen(t);
                }
                memcpy(rec->topic + len, src, n);
                if (sanitize) {
                        size_t i;
                        for (i = len; i < len + n; i++)
                                if (!topic_name_char_ok(rec->topic[i]))
                                        rec->topic[i] = '_';
                }
                len += n;
        }
        rec->topic[len] = '\0';
        if (topic_name_check(rec->topic, len, why, sizeof(why)) == -1) {
                snprintf(errstr, errstr_size, "route %s renders topic \"%.64s%s\" for event %lld: %s",
                         rt->channel, rec->topic, len > 64 ? "..." : "", ev->replay_id, why);
                return ROUTER_ILLEGAL_TOPIC;
        }
        return 0;
}

/* The replay ID in decimal: snprintf costs more than the rest of a record. */
static void router_decimal(char *out, long long v)
{
        char tmp[24];
        unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
        size_t n = 0, i = 0;

        do {
                tmp[n++] = (char)('0' + u % 10);
                u /= 10;
        } while (u);
        if (v < 0)
                out[i++] = '-';
        while (n)
                out[i++] = tmp[--n];
        out[i] = '\0';
}

static void router_header(struct router_record *rec, const char *name, const char *value)
{
        struct router_header *hdr = &rec->headers[rec->nheaders++];

        hdr->name = name;
        hdr->value = value;
        hdr->value_len = strlen(value);
}

/*
 * What a change event is about: its first record ID; for an overflow event
 * (GAP_OVERFLOW), which Salesforce sends with recordIds [] because it
 * stands for the rest of a transaction's changes to one entity, that
 * entity. Other events: their record ID, or NULL.
 */
static const char *router_order_id(const struct bayeux_msg *ev)
{
        if (ev->record_id)
                return ev->record_id;
        if (ev->change_type && ev->entity && ev->entity[0] && !strcmp(ev->change_type, "GAP_OVERFLOW"))
                return ev->entity;
        return NULL;
}

int router_render(const struct config *cfg, const struct config_route *rt,
                  const struct bayeux_msg *ev, struct router_record *rec, struct buf *scratch,
                  int *warned, char *errstr, size_t errstr_size)
{
        const char *order_id = router_order_id(ev);
        const struct bayeux_value *value;
        int warned_local = 0, topic_rc;
        char topic_err[320];

        if (!warned)
                warned = &warned_local;
        *warned = 0;
        memset(rec, 0, sizeof(*rec));
        rec->channel = ev->channel;
        rec->replay_id = ev->replay_id;
        rec->event_time = ev->event_time;

        /* An illegal topic is reported last: the rest is still rendered, for a dead letter. */
        topic_rc = router_topic(cfg, rt, ev, rec, warned, topic_err, sizeof(topic_err));

        router_decimal(rec->replay_id_buf, ev->replay_id);
        switch (rt->key) {
        case ROUTE_KEY_REPLAY_ID:
                memcpy(rec->key_buf, rec->replay_id_buf, sizeof(rec->key_buf));
                rec->key = rec->key_buf;
                rec->key_len = strlen(rec->key_buf);
                break;
        case ROUTE_KEY_RECORD_ID:
                /* An overflow event is keyed by its entity: never null, which
                 * a compacted topic would refuse (INVALID_RECORD). */
                if (order_id) {
                        rec->key = order_id;
                        rec->key_len = strlen(order_id);
                } else {
                        *warned |= ROUTER_WARN_NO_KEY;
                }
                break;
        case ROUTE_KEY_EVENT_UUID:
                if (ev->event_uuid) {
                        rec->key = ev->event_uuid;
                        rec->key_len = strlen(ev->event_uuid);
                } else {
                        *warned |= ROUTER_WARN_NO_KEY;
                }
                break;
        case ROUTE_KEY_NONE:
                break;
        }

        /*
         * The partition follows Salesforce's order unit: a record (all its
         * change events, and a merged change of several records as a whole
         * by its first ID: one copy per event, as Kafka readers expect), an
         * overflow event's entity, or the channel. Another event without a
         * record ID on a record_id route goes by its channel: one fixed
         * partition, still in order, never a random one.
         */
        switch (rt->partition_by) {
        case ROUTE_PARTITION_RECORD_ID:
                if (order_id) {
                        rec->partition_hash = murmur2_positive(order_id, strlen(order_id));
                        break;
                }
                *warned |= ROUTER_WARN_NO_PARTITION_ID;
                rec->partition_hash = murmur2_positive(ev->channel, strlen(ev->channel));
                break;
        case ROUTE_PARTITION_ENTITY:
                /* Strict order per record even across merged changes: a
                 * record may be named by events keyed by other records, so
                 * only its entity is sure to hold all of them. */
                if (ev->entity && ev->entity[0]) {
                        rec->partition_hash = murmur2_positive(ev->entity, strlen(ev->entity));
                        break;
                }
                *warned |= ROUTER_WARN_NO_PARTITION_ID;
                rec->partition_hash = murmur2_positive(ev->channel, strlen(ev->channel));
                break;
        case ROUTE_PARTITION_KEY:
                /* librdkafka's murmur2_random partitioner (kafka_conf.c) hashes
                 * the key as a Java producer does. No key (an event without its
                 * record ID or EventUuid, warned above): the channel. */
                rec->partition_hash = rec->key ? ROUTER_PARTITION_BY_KEY
                                               : murmur2_positive(ev->channel, strlen(ev->channel));
                break;
        case ROUTE_PARTITION_CHANNEL:
        default:
                rec->partition_hash = murmur2_positive(ev->channel, strlen(ev->channel));
                break;
        }

        switch (rt->value) {
        case ROUTE_VALUE_PAYLOAD:
                value = &ev->payload;
                if (!value->len) {
                        snprintf(errstr, errstr_size,
                                 "event %lld on %s has neither data.payload nor data.sobject "
                                 "(route %s has value: payload)",
                                 ev->replay_id, ev->channel, rt->channel);
                        return -1;
                }
                break;
        case ROUTE_VALUE_MESSAGE:
                value = &ev->message;
                break;
        case ROUTE_VALUE_DATA:
        default:
                value = &ev->data;
                break;
        }
        if (!value->len) {
                snprintf(errstr, errstr_size, "event %lld on %s has no data object",
                         ev->replay_id, ev->channel);
                return -1;
        }
        rec->value = value->p;
        rec->value_len = value->len;
        if (value->blanks) {
                /* Whitespace outside strings is all that may change. */
                struct json_span src = { value->p, value->len };

                buf_reset(scratch);
                if (buf_reserve(scratch, value->len) == -1) {
                        rec->value = NULL;
                        snprintf(errstr, errstr_size, "out of memory compacting event %lld on %s",
                                 ev->replay_id, ev->channel);
                        return -1;
                }
                scratch->len = json_compact(&src, scratch->data);
                scratch->data[scratch->len] = '\0';
                rec->value = scratch->data;
                rec->value_len = scratch->len;
        }

        router_header(rec, "sf.channel", ev->channel);
        router_header(rec, "sf.replay_id", rec->replay_id_buf);
        if (ev->event_time)
                router_header(rec, "sf.event_time", ev->event_time);
        if (ev->event_uuid)
                router_header(rec, "sf.event_uuid", ev->event_uuid);
        router_header(rec, "sf.bridge", cfg->name ? cfg->name : "sfbridge");
        if (cfg->has_orgs)
                router_header(rec, "sf.org", router_org(cfg));
        if (topic_rc == ROUTER_ILLEGAL_TOPIC) {
                snprintf(errstr, errstr_size, "%s", topic_err);
                return ROUTER_ILLEGAL_TOPIC;
        }
        return 0;
}
