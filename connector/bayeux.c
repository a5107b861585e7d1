/*
 * The CometD/Bayeux codec. A response is scanned once (json.c): each element
 * becomes a struct bayeux_msg holding the few strings the bridge decides on,
 * decoded into one arena, and spans of the JSON text it forwards, so values
 * reach Kafka as Salesforce wrote them. Requests are written straight into a
 * bounded buffer, so building a connect costs no allocation once warm.
 */
#include "bayeux.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* 9999-12-31T23:59:59.999Z in epoch ms: the last time RFC 3339 can write. */
#define BAYEUX_MAX_EPOCH_MS 253402300799999LL

/* ------------------------------------------------------------------ */
/* Parsing                                                            */
/* ------------------------------------------------------------------ */

static const struct {
        const char *channel;
        enum bayeux_kind kind;
} bayeux_meta_channels[] = {
        { "/meta/handshake", BAYEUX_HANDSHAKE },
        { "/meta/connect", BAYEUX_CONNECT },
        { "/meta/subscribe", BAYEUX_SUBSCRIBE },
        { "/meta/unsubscribe", BAYEUX_UNSUBSCRIBE },
        { "/meta/disconnect", BAYEUX_DISCONNECT },
};

static enum bayeux_kind bayeux_kind_of(const char *channel)
{
        size_t i;

        if (strncmp(channel, "/meta/", 6) != 0)
                return BAYEUX_EVENT;
        for (i = 0; i < sizeof(bayeux_meta_channels) / sizeof(bayeux_meta_channels[0]); i++)
                if (!strcmp(channel, bayeux_meta_channels[i].channel))
                        return bayeux_meta_channels[i].kind;
        return BAYEUX_OTHER_META;
}

/* One parse: the scanner, the response being filled and the first error. */
struct bayeux_parse {
        struct json_scanner js;
        struct bayeux_response *resp;
};

/* Copy decoded string contents into the arena. The arena was sized to the
 * body, and a decoded string never outgrows its raw text, so this cannot
 * run out; NULL only on a bad escape (already refused by the scanner). */
static const char *bayeux_keep(struct bayeux_parse *bp, const struct json_span *raw)
{
        struct bayeux_response *resp = bp->resp;
        long n = json_unescape(raw, resp->arena + resp->arena_len,
                               resp->arena_cap - resp->arena_len);
        const char *s;

        if (n < 0)
                return NULL;
        s = resp->arena + resp->arena_len;
        resp->arena_len += (size_t)n + 1;
        return s;
}

/* The next value if it is a non-empty string (decoded), else NULL; the
 * value is consumed either way. -1 only on bad JSON. */
static int bayeux_string(struct bayeux_parse *bp, const char **out)
{
        struct json_span raw;

        if (json_peek(&bp->js) != JSON_STRING)
                return json_skip(&bp->js, NULL);
        if (json_string(&bp->js, &raw) == -1)
                return -1;
        if (raw.len > 0 && !*out)
                *out = bayeux_keep(bp, &raw);
        return 0;
}

/* A number value as a double: advice values only (cold). */
static int bayeux_number(struct bayeux_parse *bp, double *out, int *is_number)
{
        struct json_span sp;
        char tmp[64];

        *is_number = json_peek(&bp->js) == JSON_NUMBER;
        if (json_skip(&bp->js, &sp) == -1)
                return -1;
        if (*is_number) {
                size_t n = sp.len < sizeof(tmp) - 1 ? sp.len : sizeof(tmp) - 1;
                memcpy(tmp, sp.p, n);
                tmp[n] = '\0';
                *out = strtod(tmp, NULL);
        }
        return 0;
}

/* An advice number in ms. Anything that is not a non-negative number is
 * "absent" (-1); huge values are clamped. */
static int bayeux_advice_ms(struct bayeux_parse *bp, long *out)
{
        double d = 0;
        int is_number;

        if (bayeux_number(bp, &d, &is_number) == -1)
                return -1;
        if (!is_number || !(d >= 0))
                *out = -1;
        else if (d > (double)BAYEUX_ADVICE_MAX_MS)
                *out = BAYEUX_ADVICE_MAX_MS;
        else
                *out = (long)d;
        return 0;
}

static int bayeux_scan_advice(struct bayeux_parse *bp, struct bayeux_msg *msg)
{
        struct json_span key;
        const char *reconnect = NULL;
        int rc;

        if (json_peek(&bp->js) != JSON_OBJECT)
                return json_skip(&bp->js, NULL);
        if (json_open(&bp->js, JSON_OBJECT) == -1)
                return -1;
        while ((rc = json_member(&bp->js, &key)) == 1) {
                if (json_key_is(&key, "reconnect"))
                        rc = bayeux_string(bp, &reconnect);
                else if (json_key_is(&key, "interval"))
                        rc = bayeux_advice_ms(bp, &msg->advice.interval_ms);
                else if (json_key_is(&key, "timeout"))
                        rc = bayeux_advice_ms(bp, &msg->advice.timeout_ms);
                else
                        rc = json_skip(&bp->js, NULL);
                if (rc == -1)
                        return -1;
        }
        if (reconnect && !strcmp(reconnect, "retry"))
                msg->advice.reconnect = BAYEUX_RECONNECT_RETRY;
        else if (reconnect && !strcmp(reconnect, "handshake"))
                msg->advice.reconnect = BAYEUX_RECONNECT_HANDSHAKE;
        else if (reconnect && !strcmp(reconnect, "none"))
                msg->advice.reconnect = BAYEUX_RECONNECT_NONE;
        return rc;
}

static int bayeux_scan_ext(struct bayeux_parse *bp, struct bayeux_msg *msg)
{
        struct json_span key;
        int rc;

        if (json_peek(&bp->js) != JSON_OBJECT)
                return json_skip(&bp->js, NULL);
        if (json_open(&bp->js, JSON_OBJECT) == -1)
                return -1;
        while ((rc = json_member(&bp->js, &key)) == 1) {
                if (json_key_is(&key, "replay")) {
                        msg->replay_ext = json_peek(&bp->js) == JSON_TRUE;
                        rc = json_skip(&bp->js, NULL);
                } else if (json_key_is(&key, "sfdc") && json_peek(&bp->js) == JSON_OBJECT) {
                        struct json_span k2;

                        if (json_open(&bp->js, JSON_OBJECT) == -1)
                                return -1;
                        while ((rc = json_member(&bp->js, &k2)) == 1) {
                                if (json_key_is(&k2, "failureReason"))
                                        rc = bayeux_string(bp, &msg->failure_reason);
                                else
                                        rc = json_skip(&bp->js, NULL);
                                if (rc == -1)
                                        return -1;
                        }
                } else {
                        rc = json_skip(&bp->js, NULL);
                }
                if (rc == -1)
                        return -1;
        }
        return rc;
}

/* CometD ids are strings ("7"), Salesforce sometimes sends numbers (7). */
static int bayeux_scan_id(struct bayeux_parse *bp, long long *id)
{
        enum json_type type = json_peek(&bp->js);
        struct json_span sp;

        if (json_skip(&bp->js, &sp) == -1)
                return -1;
        if (type == JSON_STRING) {
                sp.p++;
                sp.len -= 2;
        } else if (type != JSON_NUMBER) {
                return 0;
        }
        if (json_int64(sp.p, sp.len, id) == -1)
                *id = -1;
        return 0;
}

/* The three record-ID sources, resolved in order of preference at the end. */
struct bayeux_ids {
        const char *header_record;  /* ChangeEventHeader.recordIds[0] */
        const char *sobject_id;
        const char *payload_id;
        const char *commit_text;    /* commitTimestamp sent as text: kept as it is */
        struct json_span commit_ms; /* commitTimestamp sent as a number (epoch ms) */
        const char *created_date;   /* payload.CreatedDate */
};

/* A value spanning [start, js.p) and how much whitespace it held. */
static void bayeux_value_end(struct bayeux_parse *bp, struct bayeux_value *v, const char *start,
                             size_t ws_before)
{
        v->p = start;
        v->len = (size_t)(bp->js.p - start);
        v->blanks = bp->js.ws != ws_before;
}

/* A value whose whitespace count must exclude the blanks before it. */
static int bayeux_value_skip(struct bayeux_parse *bp, struct bayeux_value *v)
{
        struct json_span sp;
        size_t ws;

        json_peek(&bp->js);
        ws = bp->js.ws;
        if (json_skip(&bp->js, &sp) == -1)
                return -1;
        v->p = sp.p;
        v->len = sp.len;
        v->blanks = bp->js.ws != ws;
        return 0;
}

static int bayeux_scan_header(struct bayeux_parse *bp, struct bayeux_msg *msg,
                              struct bayeux_ids *ids)
{
        struct json_span key, sp;
        int rc;

        if (json_open(&bp->js, JSON_OBJECT) == -1)
                return -1;
        while ((rc = json_member(&bp->js, &key)) == 1) {
                if (json_key_is(&key, "entityName")) {
                        rc = bayeux_string(bp, &msg->entity);
                } else if (json_key_is(&key, "changeType")) {
                        rc = bayeux_string(bp, &msg->change_type);
                } else if (json_key_is(&key, "commitTimestamp")) {
                        enum json_type type = json_peek(&bp->js);

                        if (type == JSON_NUMBER) {
                                if ((rc = json_skip(&bp->js, &sp)) == 0 && !ids->commit_ms.len)
                                        ids->commit_ms = sp;
                        } else {
                                rc = bayeux_string(bp, &ids->commit_text);
                        }
                } else if (json_key_is(&key, "recordIds") &&
                           json_peek(&bp->js) == JSON_ARRAY) {
                        int first = 1;

                        if (json_open(&bp->js, JSON_ARRAY) == -1)
                                return -1;
                        while ((rc = json_item(&bp->js)) == 1) {
                                /* recordIds[0] only: a multi-record change is keyed by its first. */
                                if ((first ? bayeux_string(bp, &ids->header_record)
                                           : json_skip(&bp->js, NULL)) == -1)
                                        return -1;
                                if (first && !ids->header_record)
                                        ids->header_record = "";
                                first = 0;
                        }
                } else {
                        rc = json_skip(&bp->js, NULL);
                }
                if (rc == -1)
                        return -1;
        }
        return rc;
}

/* data.payload or data.sobject: remember the span, read what routing needs. */
static int bayeux_scan_record(struct bayeux_parse *bp, struct bayeux_msg *msg,
                              struct bayeux_ids *ids, int is_sobject, struct bayeux_value *v)
{
        const char *start;
        struct json_span key;
        size_t ws;
        int rc;

        json_peek(&bp->js);
        start = bp->js.p;
        ws = bp->js.ws;
        if (json_open(&bp->js, JSON_OBJECT) == -1)
                return -1;
        while ((rc = json_member(&bp->js, &key)) == 1) {
                if (json_key_is(&key, "Id"))
                        rc = bayeux_string(bp, is_sobject ? &ids->sobject_id : &ids->payload_id);
                else if (!is_sobject && json_key_is(&key, "CreatedDate"))
                        rc = bayeux_string(bp, &ids->created_date);
                else if (!is_sobject && json_key_is(&key, "ChangeEventHeader") &&
                         json_peek(&bp->js) == JSON_OBJECT)
                        rc = bayeux_scan_header(bp, msg, ids);
                else
                        rc = json_skip(&bp->js, NULL);
                if (rc == -1)
                        return -1;
        }
        if (rc == 0)
                bayeux_value_end(bp, v, start, ws);
        return rc;
}

static int bayeux_scan_event_info(struct bayeux_parse *bp, struct bayeux_msg *msg)
{
        struct json_span key;
        int rc, have_replay = 0;

        if (json_open(&bp->js, JSON_OBJECT) == -1)
                return -1;
        while ((rc = json_member(&bp->js, &key)) == 1) {
                if (json_key_is(&key, "replayId") && !have_replay) {
                        enum json_type type = json_peek(&bp->js);
                        struct json_span sp;

                        if (json_skip(&bp->js, &sp) == -1)
                                return -1;
                        have_replay = 1;
                        msg->replay_raw = sp;
                        if (type == JSON_STRING) {
                                sp.p++;
                                sp.len -= 2;
                        }
                        /* Salesforce sends a JSON integer; a string of
                         * digits is read too (the ID is documented as opaque). */
                        msg->problem = (type == JSON_NUMBER || type == JSON_STRING) &&
                                               json_int64(sp.p, sp.len, &msg->replay_id) == 0
                                           ? BAYEUX_EVENT_OK
                                           : BAYEUX_EVENT_BAD_REPLAY_ID;
                } else if (json_key_is(&key, "EventUuid")) {
                        rc = bayeux_string(bp, &msg->event_uuid);
                } else if (json_key_is(&key, "createdDate")) {
                        rc = bayeux_string(bp, &msg->event_time);
                } else {
                        rc = json_skip(&bp->js, NULL);
                }
                if (rc == -1)
                        return -1;
        }
        if (rc == 0 && !have_replay)
                msg->problem = BAYEUX_EVENT_NO_REPLAY_ID;
        return rc;
}

/* CDC commitTimestamp: epoch ms -> 2026-11-23T09:18:43.123Z, in the arena
 * (the rendered text is shorter than the member it came from). */
static const char *bayeux_render_millis(struct bayeux_parse *bp, const struct json_span *digits)
{
        struct bayeux_response *resp = bp->resp;
        char *out = resp->arena + resp->arena_len;
        size_t room = resp->arena_cap - resp->arena_len;
        long long ms;
        time_t secs;
        struct tm tm;
        int n;

        if (json_int64(digits->p, digits->len, &ms) == -1 || ms > BAYEUX_MAX_EPOCH_MS)
                return NULL;
        secs = (time_t)(ms / 1000);
        if (!gmtime_r(&secs, &tm) || room < 25)
                return NULL;
        n = snprintf(out, room, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(ms % 1000));
        if (n < 0 || (size_t)n >= room)
                return NULL;
        resp->arena_len += (size_t)n + 1;
        return out;
}

static int bayeux_scan_data(struct bayeux_parse *bp, struct bayeux_msg *msg)
{
        struct bayeux_ids ids = { 0 };
        struct bayeux_value sobject = { 0 };
        struct json_span key;
        const char *start;
        size_t ws;
        int rc, have_event = 0;

        if (json_peek(&bp->js) != JSON_OBJECT)
                return json_skip(&bp->js, NULL); /* problem stays NO_DATA */
        start = bp->js.p;
        ws = bp->js.ws;
        if (json_open(&bp->js, JSON_OBJECT) == -1)
                return -1;
        msg->problem = BAYEUX_EVENT_NO_EVENT;
        while ((rc = json_member(&bp->js, &key)) == 1) {
                enum json_type type = json_peek(&bp->js);

                if (json_key_is(&key, "event") && type == JSON_OBJECT && !have_event) {
                        have_event = 1;
                        rc = bayeux_scan_event_info(bp, msg);
                } else if (json_key_is(&key, "payload") && type == JSON_OBJECT &&
                           !msg->payload.len) {
                        rc = bayeux_scan_record(bp, msg, &ids, 0, &msg->payload);
                } else if (json_key_is(&key, "payload") && type == JSON_STRING &&
                           !msg->payload.len) {
                        rc = bayeux_value_skip(bp, &msg->payload); /* generic /u/ channels */
                } else if (json_key_is(&key, "sobject") && type == JSON_OBJECT && !sobject.len) {
                        rc = bayeux_scan_record(bp, msg, &ids, 1, &sobject);
                } else {
                        rc = json_skip(&bp->js, NULL);
                }
                if (rc == -1)
                        return -1;
        }
        if (rc == -1)
                return -1;
        bayeux_value_end(bp, &msg->data, start, ws);
        if (!msg->payload.len)
                msg->payload = sobject;
        if (ids.header_record && !ids.header_record[0])
                ids.header_record = NULL; /* recordIds[0] empty or not a string */
        msg->record_id = ids.header_record ? ids.header_record
                         : ids.sobject_id  ? ids.sobject_id
                                           : ids.payload_id;
        /* Event time as aiosfstream reads it: PushTopic/generic createdDate,
         * else the CDC commit time, else the platform event's CreatedDate. */
        if (!msg->event_time && ids.commit_ms.len)
                msg->event_time = bayeux_render_millis(bp, &ids.commit_ms);
        if (!msg->event_time)
                msg->event_time = ids.commit_text;
        if (!msg->event_time)
                msg->event_time = ids.created_date;
        return 0;
}

/* One element of the response array. */
static int bayeux_scan_msg(struct bayeux_parse *bp, struct bayeux_msg *msg, size_t index,
                           char *errstr, size_t errstr_size)
{
        struct json_span key;
        const char *start;
        size_t ws;
        int rc, has_channel = 0, has_successful = 0, bad_channel = 0;

        memset(msg, 0, sizeof(*msg));
        msg->id = -1;
        msg->successful = -1;
        msg->advice.reconnect = BAYEUX_RECONNECT_UNSET;
        msg->advice.interval_ms = -1;
        msg->advice.timeout_ms = -1;
        msg->problem = BAYEUX_EVENT_NO_DATA;

        if (json_peek(&bp->js) != JSON_OBJECT) {
                if (json_skip(&bp->js, NULL) == 0)
                        snprintf(errstr, errstr_size, "response element %zu is not a JSON object",
                                 index);
                return -1;
        }
        start = bp->js.p;
        ws = bp->js.ws;
        if (json_open(&bp->js, JSON_OBJECT) == -1)
                return -1;
        while ((rc = json_member(&bp->js, &key)) == 1) {
                enum json_type type = json_peek(&bp->js);

                if (json_key_is(&key, "channel")) {
                        has_channel = 1;
                        bad_channel = type != JSON_STRING;
                        rc = bayeux_string(bp, &msg->channel);
                } else if (json_key_is(&key, "id")) {
                        rc = bayeux_scan_id(bp, &msg->id);
                } else if (json_key_is(&key, "successful")) {
                        has_successful = 1;
                        msg->successful = type == JSON_TRUE ? 1 : type == JSON_FALSE ? 0 : -1;
                        rc = json_skip(&bp->js, NULL);
                } else if (json_key_is(&key, "error")) {
                        rc = bayeux_string(bp, &msg->error);
                } else if (json_key_is(&key, "clientId")) {
                        rc = bayeux_string(bp, &msg->client_id);
                } else if (json_key_is(&key, "subscription")) {
                        rc = bayeux_string(bp, &msg->subscription);
                } else if (json_key_is(&key, "ext")) {
                        rc = bayeux_scan_ext(bp, msg);
                } else if (json_key_is(&key, "advice")) {
                        rc = bayeux_scan_advice(bp, msg);
                } else if (json_key_is(&key, "data")) {
                        rc = bayeux_scan_data(bp, msg);
                } else {
                        rc = json_skip(&bp->js, NULL);
                }
                if (rc == -1)
                        return -1;
        }
        if (rc == -1)
                return -1;
        bayeux_value_end(bp, &msg->message, start, ws);
        if (bad_channel || (!has_channel && !has_successful)) {
                snprintf(errstr, errstr_size, "response element %zu has %s", index,
                         bad_channel ? "a channel that is not a string" : "no channel");
                return -1;
        }
        if (!msg->channel)
                msg->channel = "";
        msg->kind = msg->channel[0] ? bayeux_kind_of(msg->channel) : BAYEUX_OTHER_META;
        return 0;
}

/* Grow resp->msgs to hold one more; it never shrinks below what it was. */
static int bayeux_reserve(struct bayeux_response *resp)
{
        struct bayeux_msg *msgs;
        size_t cap;

        if (resp->nmsgs < resp->cap)
                return 0;
        cap = resp->cap ? resp->cap * 2 : 16;
        msgs = realloc(resp->msgs, cap * sizeof(*msgs));
        if (!msgs)
                return -1;
        resp->msgs = msgs;
        resp->cap = cap;
        return 0;
}

static int bayeux_arena(struct bayeux_response *resp, size_t len)
{
        size_t need = len + 64;
        char *arena;

        resp->arena_len = 0;
        if (need <= resp->arena_cap)
                return 0;
        arena = realloc(resp->arena, need);
        if (!arena)
                return -1;
        resp->arena = arena;
        resp->arena_cap = need;
        return 0;
}

int bayeux_response_parse(struct bayeux_response *resp, const char *body, size_t len,
                          char *errstr, size_t errstr_size)
{
        struct bayeux_parse bp;
        enum json_type top;
        int rc = 0, single;

        resp->nmsgs = 0;
        errstr[0] = '\0';
        if (!body || len == 0) {
                snprintf(errstr, errstr_size, "response is empty, expected a JSON array");
                return -1;
        }
        if (bayeux_arena(resp, len) == -1) {
                snprintf(errstr, errstr_size, "out of memory for a response of %zu bytes", len);
                return -1;
        }
        bp.resp = resp;
        json_init(&bp.js, body, len);
        top = json_peek(&bp.js);
        single = top == JSON_OBJECT;
        if (top != JSON_OBJECT && top != JSON_ARRAY) {
                if (json_skip(&bp.js, NULL) == -1)
                        goto not_json;
                snprintf(errstr, errstr_size, "response is neither a JSON array nor an object");
                return -1;
        }
        if (!single && json_open(&bp.js, JSON_ARRAY) == -1)
                goto not_json;
        while (single || (rc = json_item(&bp.js)) == 1) {
                if (bayeux_reserve(resp) == -1) {
                        snprintf(errstr, errstr_size, "out of memory for %zu response messages",
                                 resp->nmsgs + 1);
                        goto fail;
                }
                if (bayeux_scan_msg(&bp, &resp->msgs[resp->nmsgs], resp->nmsgs, errstr,
                                    errstr_size) == -1) {
                        if (bp.js.error)
                                goto not_json;
                        goto fail;
                }
                resp->nmsgs++;
                if (single)
                        break;
        }
        if (rc == -1)
                goto not_json;
        /* One JSON document: only blanks may follow it. */
        if (json_peek(&bp.js) != JSON_NONE || bp.js.p < bp.js.end) {
                snprintf(errstr, errstr_size,
                         "response is not JSON: unexpected data after the value at byte offset %zu",
                         (size_t)(bp.js.p - body));
                goto fail;
        }
        return 0;
not_json:
        snprintf(errstr, errstr_size, "response is not JSON: %s at byte offset %zu",
                 bp.js.error ? bp.js.error : "syntax error", bp.js.error_at);
fail:
        resp->nmsgs = 0;
        return -1;
}

void bayeux_response_trim(struct bayeux_response *resp)
{
        int freed = 0;

        if (resp->arena_cap > BAYEUX_KEEP_BYTES) {
                free(resp->arena);
                resp->arena = NULL;
                resp->arena_cap = 0;
                resp->arena_len = 0;
                resp->nmsgs = 0;
                freed = 1;
        }
        if (resp->cap * sizeof(*resp->msgs) > BAYEUX_KEEP_BYTES) {
                free(resp->msgs);
                resp->msgs = NULL;
                resp->cap = 0;
                resp->nmsgs = 0;
                freed = 1;
        }
        /* Called once the batch is committed, when Kafka's copies of its
         * events are freed too: now RSS can fall back to the steady state. */
        if (freed)
                buf_release_memory();
}

void bayeux_response_free(struct bayeux_response *resp)
{
        free(resp->msgs);
        free(resp->arena);
        memset(resp, 0, sizeof(*resp));
}

void bayeux_event_problem_text(const struct bayeux_msg *msg, char *errstr, size_t errstr_size)
{
        int n = (int)(msg->replay_raw.len < 40 ? msg->replay_raw.len : 40);

        switch (msg->problem) {
        case BAYEUX_EVENT_OK:
                snprintf(errstr, errstr_size, "event on %s is fine", msg->channel);
                break;
        case BAYEUX_EVENT_NO_DATA:
                snprintf(errstr, errstr_size, "event on %s has no data object", msg->channel);
                break;
        case BAYEUX_EVENT_NO_EVENT:
                snprintf(errstr, errstr_size, "event on %s has no data.event object", msg->channel);
                break;
        case BAYEUX_EVENT_NO_REPLAY_ID:
                snprintf(errstr, errstr_size, "event on %s has no data.event.replayId",
                         msg->channel);
                break;
        case BAYEUX_EVENT_BAD_REPLAY_ID:
                snprintf(errstr, errstr_size,
                         "event on %s: data.event.replayId %.*s is not an integer in [0, 2^63)",
                         msg->channel, n, msg->replay_raw.p);
                break;
        }
}

/* ------------------------------------------------------------------ */
/* Building                                                           */
/* ------------------------------------------------------------------ */

/* A JSON string literal of s[0..n): quotes, backslashes and control
 * characters escaped; other bytes (UTF-8) copied as they are. */
static int bayeux_put_string(struct buf *out, const char *s, size_t n)
{
        static const char hex[] = "0123456789abcdef";
        size_t i, run = 0;
        char esc[6];

        if (buf_append(out, "\"", 1) == -1)
                return -1;
        for (i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                size_t elen;

                if (c >= 0x20 && c != '"' && c != '\\')
                        continue;
                if (buf_append(out, s + run, i - run) == -1)
                        return -1;
                run = i + 1;
                esc[0] = '\\';
                elen = 2;
                switch (c) {
                case '"': esc[1] = '"'; break;
                case '\\': esc[1] = '\\'; break;
                case '\b': esc[1] = 'b'; break;
                case '\f': esc[1] = 'f'; break;
                case '\n': esc[1] = 'n'; break;
                case '\r': esc[1] = 'r'; break;
                case '\t': esc[1] = 't'; break;
                default:
                        esc[1] = 'u';
                        esc[2] = '0';
                        esc[3] = '0';
                        esc[4] = hex[c >> 4];
                        esc[5] = hex[c & 0xf];
                        elen = 6;
                }
                if (buf_append(out, esc, elen) == -1)
                        return -1;
        }
        if (buf_append(out, s + run, n - run) == -1)
                return -1;
        return buf_append(out, "\"", 1);
}

static int bayeux_put_cstring(struct buf *out, const char *s)
{
        return bayeux_put_string(out, s, strlen(s));
}

/* Cut out back to len after a refused append, keeping it NUL-terminated. */
static void bayeux_truncate(struct buf *out, size_t len)
{
        out->len = len;
        out->toobig = 0;
        if (out->data)
                out->data[len] = '\0';
}

static int bayeux_put_lit(struct buf *out, const char *s)
{
        return buf_append(out, s, strlen(s));
}

/* The common tail of the simple builders: `"id":"N"}]`. */
static int bayeux_finish(struct buf *out, unsigned long *id)
{
        if (buf_printf(out, "\"id\":\"%lu\"}]", *id + 1) == -1) {
                buf_reset(out);
                return -1;
        }
        ++*id;
        return 0;
}

int bayeux_build_handshake(struct buf *out, unsigned long *id)
{
        buf_reset(out);
        if (bayeux_put_lit(out, "[{\"channel\":\"/meta/handshake\","
                                "\"supportedConnectionTypes\":[\"long-polling\"],"
                                "\"version\":\"1.0\",\"minimumVersion\":\"1.0\",") == -1 ||
            buf_printf(out, "\"id\":\"%lu\",\"ext\":{\"replay\":true}}]", *id + 1) == -1) {
                buf_reset(out);
                return -1;
        }
        ++*id;
        return 0;
}

int bayeux_build_connect(struct buf *out, const char *client_id, unsigned long *id)
{
        buf_reset(out);
        if (bayeux_put_lit(out, "[{\"channel\":\"/meta/connect\","
                                "\"connectionType\":\"long-polling\",\"clientId\":") == -1 ||
            bayeux_put_cstring(out, client_id) == -1 || bayeux_put_lit(out, ",") == -1) {
                buf_reset(out);
                return -1;
        }
        return bayeux_finish(out, id);
}

int bayeux_build_unsubscribe(struct buf *out, const char *client_id, const char *channel,
                             unsigned long *id)
{
        buf_reset(out);
        if (bayeux_put_lit(out, "[{\"channel\":\"/meta/unsubscribe\",\"subscription\":") == -1 ||
            bayeux_put_cstring(out, channel) == -1 ||
            bayeux_put_lit(out, ",\"clientId\":") == -1 ||
            bayeux_put_cstring(out, client_id) == -1 || bayeux_put_lit(out, ",") == -1) {
                buf_reset(out);
                return -1;
        }
        return bayeux_finish(out, id);
}

int bayeux_build_disconnect(struct buf *out, const char *client_id, unsigned long *id)
{
        buf_reset(out);
        if (bayeux_put_lit(out, "[{\"channel\":\"/meta/disconnect\",\"clientId\":") == -1 ||
            bayeux_put_cstring(out, client_id) == -1 || bayeux_put_lit(out, ",") == -1) {
                buf_reset(out);
                return -1;
        }
        return bayeux_finish(out, id);
}

/* One subscribe message, without separators. */
static int bayeux_put_subscribe(struct buf *out, const char *client_id,
                                const struct bayeux_sub *sub, unsigned long msg_id)
{
        size_t base_len = strcspn(sub->channel, "?");

        if (bayeux_put_lit(out, "{\"channel\":\"/meta/subscribe\",\"clientId\":") == -1 ||
            bayeux_put_cstring(out, client_id) == -1 ||
            bayeux_put_lit(out, ",\"subscription\":") == -1 ||
            bayeux_put_cstring(out, sub->channel) == -1 ||
            buf_printf(out, ",\"id\":\"%lu\",\"ext\":{\"replay\":{", msg_id) == -1 ||
            bayeux_put_string(out, sub->channel, base_len) == -1 ||
            buf_printf(out, ":%lld}}}", sub->replay_id) == -1)
                return -1;
        return 0;
}

int bayeux_build_subscribes(struct buf *out, const char *client_id,
                            const struct bayeux_sub *subs, size_t n, size_t limit,
                            unsigned long *id)
{
        size_t i, mark;

        buf_reset(out);
        /* The closing "]" must still fit after the last message. */
        if (limit > out->max)
                limit = out->max;
        if (limit < 2 || bayeux_put_lit(out, "[") == -1) {
                buf_reset(out);
                return -1;
        }
        for (i = 0; i < n; i++) {
                mark = out->len;
                if ((i > 0 && bayeux_put_lit(out, ",") == -1) ||
                    bayeux_put_subscribe(out, client_id, &subs[i], *id + i + 1) == -1 ||
                    out->len + 1 > limit) {
                        bayeux_truncate(out, mark);
                        break;
                }
        }
        if (n > 0 && i == 0) {
                buf_reset(out);
                return -1;
        }
        if (bayeux_put_lit(out, "]") == -1) {
                /* Cannot happen: limit <= max kept room for it. */
                buf_reset(out);
                return -1;
        }
        *id += i;
        return (int)i;
}

const char *bayeux_base_channel(const char *channel, char *out, size_t out_size)
{
        size_t n = strcspn(channel, "?");

        if (n >= out_size)
                return NULL;
        memcpy(out, channel, n);
        out[n] = '\0';
        return out;
}
