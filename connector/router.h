/*
 * Routing: which Kafka record an event becomes. Topic (template with
 * {entity}), key (replay_id | record_id | none), value (data | payload |
 * message) and the sf.* headers, exactly as DESIGN.md "What lands in Kafka".
 */
#ifndef SFB_ROUTER_H
#define SFB_ROUTER_H

#include <stddef.h>
#include "config.h"
#include "event.h"

#define ROUTER_MAX_HEADERS 5

struct router_header {
        const char *name;
        const char *value;
        size_t value_len;
};

struct router_record {
        char topic[256];
        const char *key;           /* NULL for key: none; points into key_buf or the event */
        size_t key_len;
        char *value;               /* malloc'd compact JSON; ownership passes to sink_produce() */
        size_t value_len;
        struct router_header headers[ROUTER_MAX_HEADERS];
        size_t nheaders;
        const char *channel;       /* the event's channel (borrowed) */
        long long replay_id;
        const char *event_time;    /* borrowed, may be NULL */
        char key_buf[24];
        char replay_id_buf[24];
};

/**
 * @brief Render @p ev, received on route @p rt, as a Kafka record.
 * @returns 0, or -1 with errstr (value could not be rendered: no payload for
 *          value: payload, out of memory, topic too long). A {entity}
 *          template on an event without entityName renders "_unknown" and
 *          sets *warned (when non-NULL) so the caller logs it.
 * @remark rec borrows from ev and cfg except rec->value, which the caller
 *         owns (free() it if it is not handed to the sink).
 */
int router_render(const struct config *cfg, const struct config_route *rt,
                  const struct sf_event *ev, struct router_record *rec,
                  int *warned, char *errstr, size_t errstr_size);

#endif
