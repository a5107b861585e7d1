/*
 * One Salesforce streaming event, recognised from a Bayeux message: its
 * channel kind and the fields the router needs. Nothing is copied: every
 * string points into the cJSON tree the event was parsed from.
 */
#ifndef SFB_EVENT_H
#define SFB_EVENT_H

#include <cjson/cJSON.h>

enum sf_channel_kind {
        SF_CHANNEL_TOPIC,    /* /topic/X     PushTopic */
        SF_CHANNEL_EVENT,    /* /event/X__e  Platform Event */
        SF_CHANNEL_DATA,     /* /data/...    Change Data Capture */
        SF_CHANNEL_GENERIC,  /* /u/X         generic streaming */
        SF_CHANNEL_UNKNOWN
};

struct sf_event {
        const cJSON *msg;        /* the whole Bayeux message */
        const cJSON *data;       /* msg.data */
        const cJSON *payload;    /* data.payload, else data.sobject (PushTopic), or NULL;
                                  * for generic /u/ channels a string node */
        const char *channel;
        enum sf_channel_kind kind;
        long long replay_id;     /* data.event.replayId: an integer in [0, 2^53) */
        const char *event_time;  /* data.event.createdDate, else ChangeEventHeader.commitTimestamp
                                  * (RFC 3339 UTC with ms, in event_time_buf), else
                                  * payload.CreatedDate; or NULL */
        const char *event_uuid;  /* data.event.EventUuid, or NULL */
        const char *record_id;   /* ChangeEventHeader.recordIds[0], else sobject.Id, else
                                  * payload.Id; or NULL */
        const char *entity;      /* ChangeEventHeader.entityName, or NULL */
        const char *change_type; /* ChangeEventHeader.changeType, or NULL */
        char event_time_buf[32]; /* holds commitTimestamp rendered as text */
};

/** @returns the kind of a channel name from its prefix. */
enum sf_channel_kind event_channel_kind(const char *channel);

/**
 * @brief Recognise @p msg (one element of a /meta/connect response that is
 *        not a /meta/ reply) as an event.
 * @returns 0, or -1 with the reason in errstr (no channel, no data, no
 *          data.event.replayId, a replayId that is not an integer in
 *          [0, 2^53)); errstr names the channel and the field.
 * @remark ev borrows from msg: valid while the tree lives, except
 *         event_time, which may point into ev->event_time_buf (a copy of
 *         the struct still points into the original's buffer). A replayId may be
 *         a JSON number or a string of decimal digits. Optional fields of the
 *         wrong JSON type are treated as absent: the event is still forwarded.
 *         Field lookup does not depend on the channel kind, so an event of an
 *         unknown channel prefix is recognised by its shape.
 */
int event_parse(const cJSON *msg, struct sf_event *ev, char *errstr, size_t errstr_size);

/** @returns non-zero when the event is a CDC gap event (changeType GAP_*). */
int event_is_gap(const struct sf_event *ev);

#endif
