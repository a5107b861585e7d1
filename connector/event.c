/*
 * Recognising a Salesforce event in a Bayeux message. Nothing is copied or
 * allocated: the fields point into the cJSON tree, except a CDC
 * commitTimestamp, which is rendered as RFC 3339 text into the event.
 */
#include "event.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* 2^53: above it a JSON number no longer holds every integer exactly. */
#define EVENT_MAX_REPLAY_ID 9007199254740992.0
/* 9999-12-31T23:59:59.999Z in epoch ms: the last time RFC 3339 can write. */
#define EVENT_MAX_EPOCH_MS 253402300799999.0

static const struct {
        const char *prefix;
        enum sf_channel_kind kind;
} event_prefixes[] = {
        { "/topic/", SF_CHANNEL_TOPIC },
        { "/event/", SF_CHANNEL_EVENT },
        { "/data/", SF_CHANNEL_DATA },
        { "/u/", SF_CHANNEL_GENERIC },
};

enum sf_channel_kind event_channel_kind(const char *channel)
{
        size_t i;

        for (i = 0; i < sizeof(event_prefixes) / sizeof(event_prefixes[0]); i++)
                if (!strncmp(channel, event_prefixes[i].prefix, strlen(event_prefixes[i].prefix)))
                        return event_prefixes[i].kind;
        return SF_CHANNEL_UNKNOWN;
}

static const cJSON *event_get(const cJSON *obj, const char *name)
{
        return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, name) : NULL;
}

static const char *event_get_string(const cJSON *obj, const char *name)
{
        const cJSON *item = event_get(obj, name);

        return cJSON_IsString(item) && item->valuestring[0] ? item->valuestring : NULL;
}

static const cJSON *event_get_object(const cJSON *obj, const char *name)
{
        const cJSON *item = event_get(obj, name);

        return cJSON_IsObject(item) ? item : NULL;
}

/* replayId is an integer "up to 2^53 in practice"; Salesforce documents it
 * as opaque, so a string of digits is taken too. */
static int event_replay_id(const cJSON *item, const char *channel, long long *out,
                           char *errstr, size_t errstr_size)
{
        double d;

        if (cJSON_IsNumber(item)) {
                d = item->valuedouble;
                if (d != d || d < 0) {
                        snprintf(errstr, errstr_size,
                                 "event on %s: data.event.replayId %g is negative", channel, d);
                        return -1;
                }
                if (d >= EVENT_MAX_REPLAY_ID) {
                        snprintf(errstr, errstr_size,
                                 "event on %s: data.event.replayId %g is too large (2^53 or more)",
                                 channel, d);
                        return -1;
                }
                if (d != (double)(long long)d) {
                        snprintf(errstr, errstr_size,
                                 "event on %s: data.event.replayId %g is not an integer",
                                 channel, d);
                        return -1;
                }
                *out = (long long)d;
                return 0;
        }
        if (cJSON_IsString(item)) {
                const char *s = item->valuestring;
                long long v = 0;

                if (!*s)
                        goto bad_string;
                for (; *s; s++) {
                        if (*s < '0' || *s > '9')
                                goto bad_string;
                        if (v > ((long long)EVENT_MAX_REPLAY_ID - 1 - (*s - '0')) / 10) {
                                snprintf(errstr, errstr_size,
                                         "event on %s: data.event.replayId \"%.40s\" is too "
                                         "large (2^53 or more)", channel, item->valuestring);
                                return -1;
                        }
                        v = v * 10 + (*s - '0');
                }
                *out = v;
                return 0;
bad_string:
                snprintf(errstr, errstr_size,
                         "event on %s: data.event.replayId \"%.40s\" is not a non-negative integer",
                         channel, item->valuestring);
                return -1;
        }
        if (!item)
                snprintf(errstr, errstr_size, "event on %s has no data.event.replayId", channel);
        else
                snprintf(errstr, errstr_size,
                         "event on %s: data.event.replayId is not a number", channel);
        return -1;
}

/* CDC commitTimestamp: epoch ms -> 2026-11-23T09:18:43.123Z. */
static const char *event_render_millis(const cJSON *item, char *out, size_t out_size)
{
        long long ms;
        time_t secs;
        struct tm tm;
        double d;

        if (cJSON_IsString(item) && item->valuestring[0])
                return item->valuestring;  /* already text: keep it as sent */
        if (!cJSON_IsNumber(item))
                return NULL;
        d = item->valuedouble;
        if (!(d >= 0 && d <= EVENT_MAX_EPOCH_MS))
                return NULL;
        ms = (long long)d;
        secs = (time_t)(ms / 1000);
        if (!gmtime_r(&secs, &tm))
                return NULL;
        if (snprintf(out, out_size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(ms % 1000)) >= (int)out_size)
                return NULL;
        return out;
}

int event_parse(const cJSON *msg, struct sf_event *ev, char *errstr, size_t errstr_size)
{
        const cJSON *event, *header, *ids, *sobject, *payload;

        memset(ev, 0, sizeof(*ev));
        ev->msg = msg;
        ev->channel = event_get_string(msg, "channel");
        if (!ev->channel) {
                snprintf(errstr, errstr_size, "event has no channel");
                return -1;
        }
        ev->kind = event_channel_kind(ev->channel);
        ev->data = event_get_object(msg, "data");
        if (!ev->data) {
                snprintf(errstr, errstr_size, "event on %s has no data object", ev->channel);
                return -1;
        }
        event = event_get_object(ev->data, "event");
        if (!event) {
                snprintf(errstr, errstr_size, "event on %s has no data.event object", ev->channel);
                return -1;
        }
        if (event_replay_id(event_get(event, "replayId"), ev->channel, &ev->replay_id,
                            errstr, errstr_size) == -1)
                return -1;
        ev->event_uuid = event_get_string(event, "EventUuid");

        /* The value a `value: payload` route sends: data.payload for
         * platform events, CDC and generic channels (a string there),
         * data.sobject for PushTopic. */
        payload = event_get(ev->data, "payload");
        sobject = event_get_object(ev->data, "sobject");
        if (cJSON_IsObject(payload) || cJSON_IsString(payload))
                ev->payload = payload;
        else if (sobject)
                ev->payload = sobject;
        if (!cJSON_IsObject(payload))
                payload = NULL;

        header = event_get_object(payload, "ChangeEventHeader");
        if (header) {
                ev->entity = event_get_string(header, "entityName");
                ev->change_type = event_get_string(header, "changeType");
                ids = event_get(header, "recordIds");
                if (cJSON_IsArray(ids) && cJSON_IsString(ids->child) && ids->child->valuestring[0])
                        ev->record_id = ids->child->valuestring;
        }
        if (!ev->record_id)
                ev->record_id = event_get_string(sobject, "Id");
        if (!ev->record_id)
                ev->record_id = event_get_string(payload, "Id");

        /* Event time as aiosfstream reads it: PushTopic/generic createdDate,
         * else the CDC commit time, else the platform event's CreatedDate. */
        ev->event_time = event_get_string(event, "createdDate");
        if (!ev->event_time && header)
                ev->event_time = event_render_millis(event_get(header, "commitTimestamp"),
                                                     ev->event_time_buf,
                                                     sizeof(ev->event_time_buf));
        if (!ev->event_time)
                ev->event_time = event_get_string(payload, "CreatedDate");
        return 0;
}

int event_is_gap(const struct sf_event *ev)
{
        return ev->change_type && !strncmp(ev->change_type, "GAP_", 4);
}
