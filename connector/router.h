/*
 * Routing: which Kafka record an event becomes. Topic (template with
 * {entity} and {org}), key (replay_id | record_id | none), value (data | payload |
 * message) and the sf.* headers, exactly as DESIGN.md "What lands in Kafka".
 */
#ifndef SFB_ROUTER_H
#define SFB_ROUTER_H

#include <stddef.h>
#include <stdint.h>
#include "bayeux.h"
#include "buf.h"
#include "config.h"

#define ROUTER_MAX_HEADERS 6

/* router_render(): the record is rendered but its topic breaks Kafka's rules. */
#define ROUTER_ILLEGAL_TOPIC (-2)

/* Bits set in *warned by router_render(): the record was still rendered. */
#define ROUTER_WARN_NO_ENTITY 0x1  /* {entity} in the topic, no entityName: "_unknown" used */
#define ROUTER_WARN_NO_KEY    0x2  /* key: record_id or event_uuid, none in the event: no key */
#define ROUTER_WARN_NO_PARTITION_ID 0x4 /* partition_by: record_id (entity), no record ID
                                         * (entityName): by channel */


struct router_header {
        const char *name;
        const char *value;
        size_t value_len;
};

/* rec->partition_hash when librdkafka's partitioner (murmur2_random, as Java) picks from the key. */
#define ROUTER_PARTITION_BY_KEY (-1)

struct router_record {
        char topic[256];
        const char *key;           /* NULL for key: none; points into key_buf or the event */
        size_t key_len;
        const char *value;         /* the JSON text Salesforce sent (borrowed: the response
                                    * body, or the scratch buffer once compacted) */
        size_t value_len;
        struct router_header headers[ROUTER_MAX_HEADERS];
        size_t nheaders;
        const char *channel;       /* the event's channel (borrowed) */
        long long replay_id;
        const char *event_time;    /* borrowed, may be NULL */
        /* Kafka's positive murmur2 of what partition_by names (record ID or channel):
         * the partition is partition_hash % the topic's partition count, as a Java
         * producer computes it; or ROUTER_PARTITION_BY_KEY. */
        int32_t partition_hash;
        char key_buf[24];
        char replay_id_buf[24];
};

/**
 * @brief Render @p ev (a message of kind BAYEUX_EVENT whose problem is
 *        BAYEUX_EVENT_OK), received on route @p rt, as a Kafka record.
 * @returns 0, or -1 with errstr (value could not be rendered: no payload for
 *          value: payload, out of memory), or ROUTER_ILLEGAL_TOPIC with
 *          errstr when the rendered topic breaks Kafka's rules
 *          (topic_name_check(): empty, ".", "..", longer than 249 bytes);
 *          the record is then complete (key, value, headers) and rec->topic
 *          holds the illegal name (cut to 255 bytes), so the caller can
 *          dead-letter it. A {entity}
 *          template on an event without entityName renders "_unknown" and
 *          sets ROUTER_WARN_NO_ENTITY in *warned; key: record_id on an event
 *          without a record ID renders no key and sets ROUTER_WARN_NO_KEY
 *          (key: event_uuid without an EventUuid likewise); partition_by:
 *          record_id on an event without a record ID hashes its channel
 *          instead and sets ROUTER_WARN_NO_PARTITION_ID (*warned is zeroed
 *          first; NULL is allowed) so the caller logs it. A change event
 *          with several recordIds goes by the first. An overflow event
 *          (changeType GAP_OVERFLOW, recordIds []) stands for its entity:
 *          key: record_id keys it and partition_by: record_id hashes it by
 *          entityName, with no warning. partition_by: entity hashes
 *          entityName (an event without one: its channel, with
 *          ROUTER_WARN_NO_PARTITION_ID).
 *          Characters of entityName that Kafka forbids in a topic name are
 *          replaced by '_'.
 *
 *          Headers, in this order: sf.channel, sf.replay_id (decimal),
 *          sf.event_time (only when known), sf.event_uuid (only when
 *          present), sf.bridge (cfg->name, "sfbridge" when NULL), sf.org
 *          (only when cfg->has_orgs: the view's org id, "default" for the
 *          top level's routes). {org} in the topic renders the same id.
 * @param cfg  the unit's view (config_unit_view()) in group mode: its
 *          org_id names the org; a loaded config is the default org.
 *          Value: the JSON text Salesforce sent for data / data.payload or
 *          data.sobject (a generic /u/ payload string stays a JSON string
 *          literal) / the whole message, byte for byte except whitespace
 *          outside strings, which is removed.
 * @remark rec borrows from ev, cfg and @p scratch (where a value holding
 *         whitespace is compacted; it grows to the largest such value and
 *         is the caller's to trim). rec->key and the sf.replay_id header may
 *         point into rec itself (key_buf, replay_id_buf): do not copy a
 *         rendered record by value. Nothing is allocated once scratch is warm.
 */
int router_render(const struct config *cfg, const struct config_route *rt,
                  const struct bayeux_msg *ev, struct router_record *rec, struct buf *scratch,
                  int *warned, char *errstr, size_t errstr_size);

#endif
