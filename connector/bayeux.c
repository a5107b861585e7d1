/*
 * The CometD/Bayeux codec. Responses are parsed once with cJSON and every
 * element is described by a struct bayeux_msg whose strings point into the
 * tree; requests are written straight into a bounded buffer, never through
 * a cJSON tree, so building a connect costs no allocation once warm.
 */
#include "bayeux.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static const char *bayeux_get_string(const cJSON *obj, const char *name)
{
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);

        return cJSON_IsString(item) ? item->valuestring : NULL;
}

/* An advice number in ms. Anything that is not a non-negative number is
 * "absent" (-1); huge values are clamped so that no double-to-long
 * conversion can overflow. */
static long bayeux_advice_ms(const cJSON *advice, const char *name)
{
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(advice, name);
        double d;

        if (!cJSON_IsNumber(item))
                return -1;
        d = item->valuedouble;
        if (!(d >= 0))  /* negative or NaN */
                return -1;
        if (d > (double)BAYEUX_ADVICE_MAX_MS)
                return BAYEUX_ADVICE_MAX_MS;
        return (long)d;
}

/* CometD ids are strings ("7"), Salesforce sometimes sends numbers (7). */
static long long bayeux_msg_id(const cJSON *obj)
{
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, "id");
        long long v = 0;
        const char *s;

        if (cJSON_IsNumber(item)) {
                if (item->valuedouble >= 0 && item->valuedouble < 9007199254740992.0 &&
                    item->valuedouble == (double)(long long)item->valuedouble)
                        return (long long)item->valuedouble;
                return -1;
        }
        if (!cJSON_IsString(item) || !item->valuestring[0])
                return -1;
        for (s = item->valuestring; *s; s++) {
                if (*s < '0' || *s > '9' || v > (9007199254740991LL - 9) / 10)
                        return -1;
                v = v * 10 + (*s - '0');
        }
        return v;
}

static void bayeux_describe(struct bayeux_msg *msg, const cJSON *elem, const char *channel)
{
        const cJSON *successful, *ext, *advice, *item;
        const char *reconnect;

        memset(msg, 0, sizeof(*msg));
        msg->json = elem;
        msg->channel = channel;
        msg->kind = channel[0] ? bayeux_kind_of(channel) : BAYEUX_OTHER_META;
        msg->id = bayeux_msg_id(elem);

        successful = cJSON_GetObjectItemCaseSensitive(elem, "successful");
        msg->successful = cJSON_IsTrue(successful) ? 1 : cJSON_IsFalse(successful) ? 0 : -1;
        msg->error = bayeux_get_string(elem, "error");
        msg->client_id = bayeux_get_string(elem, "clientId");
        msg->subscription = bayeux_get_string(elem, "subscription");

        ext = cJSON_GetObjectItemCaseSensitive(elem, "ext");
        if (cJSON_IsObject(ext)) {
                item = cJSON_GetObjectItemCaseSensitive(ext, "sfdc");
                if (cJSON_IsObject(item))
                        msg->failure_reason = bayeux_get_string(item, "failureReason");
                msg->replay_ext = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ext, "replay"));
        }

        msg->advice.reconnect = BAYEUX_RECONNECT_UNSET;
        msg->advice.interval_ms = -1;
        msg->advice.timeout_ms = -1;
        advice = cJSON_GetObjectItemCaseSensitive(elem, "advice");
        if (cJSON_IsObject(advice)) {
                reconnect = bayeux_get_string(advice, "reconnect");
                if (reconnect && !strcmp(reconnect, "retry"))
                        msg->advice.reconnect = BAYEUX_RECONNECT_RETRY;
                else if (reconnect && !strcmp(reconnect, "handshake"))
                        msg->advice.reconnect = BAYEUX_RECONNECT_HANDSHAKE;
                else if (reconnect && !strcmp(reconnect, "none"))
                        msg->advice.reconnect = BAYEUX_RECONNECT_NONE;
                msg->advice.interval_ms = bayeux_advice_ms(advice, "interval");
                msg->advice.timeout_ms = bayeux_advice_ms(advice, "timeout");
        }
}

/* Grow resp->msgs to hold n; it never shrinks, so a warm response reuses it. */
static int bayeux_reserve(struct bayeux_response *resp, size_t n)
{
        struct bayeux_msg *msgs;
        size_t cap;

        if (n <= resp->cap)
                return 0;
        cap = resp->cap ? resp->cap : 16;
        while (cap < n) {
                if (cap > ((size_t)-1) / 2 / sizeof(*msgs))
                        return -1;
                cap *= 2;
        }
        msgs = realloc(resp->msgs, cap * sizeof(*msgs));
        if (!msgs)
                return -1;
        resp->msgs = msgs;
        resp->cap = cap;
        return 0;
}

static void bayeux_response_clear(struct bayeux_response *resp)
{
        cJSON_Delete(resp->root);
        resp->root = NULL;
        resp->nmsgs = 0;
}

int bayeux_response_parse(struct bayeux_response *resp, const char *body, size_t len,
                          char *errstr, size_t errstr_size)
{
        const char *end = NULL;
        const cJSON *elem;
        size_t n, i;
        int count;

        bayeux_response_clear(resp);
        if (!body || len == 0) {
                snprintf(errstr, errstr_size, "response is empty, expected a JSON array");
                return -1;
        }
        resp->root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
        if (!resp->root) {
                size_t off = end && end >= body && end <= body + len ? (size_t)(end - body) : 0;
                snprintf(errstr, errstr_size,
                         "response is not JSON: syntax error at byte offset %zu", off);
                return -1;
        }
        /* cJSON stops after the first value; anything but blanks after it
         * means the body was not one JSON document. */
        if (end) {
                const char *p = end;
                while (p < body + len && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
                        p++;
                if (p < body + len && *p != '\0') {
                        snprintf(errstr, errstr_size,
                                 "response is not JSON: unexpected data after the value "
                                 "at byte offset %zu", (size_t)(p - body));
                        bayeux_response_clear(resp);
                        return -1;
                }
        }

        if (cJSON_IsObject(resp->root)) {
                n = 1;
        } else if (cJSON_IsArray(resp->root)) {
                count = cJSON_GetArraySize(resp->root);
                n = count > 0 ? (size_t)count : 0;
        } else {
                snprintf(errstr, errstr_size,
                         "response is neither a JSON array nor an object");
                bayeux_response_clear(resp);
                return -1;
        }
        if (bayeux_reserve(resp, n) == -1) {
                snprintf(errstr, errstr_size, "out of memory for %zu response messages", n);
                bayeux_response_clear(resp);
                return -1;
        }

        elem = cJSON_IsObject(resp->root) ? resp->root : resp->root->child;
        for (i = 0; i < n && elem; i++, elem = elem->next) {
                const cJSON *channel;
                const char *name;

                if (!cJSON_IsObject(elem)) {
                        snprintf(errstr, errstr_size,
                                 "response element %zu is not a JSON object", i);
                        bayeux_response_clear(resp);
                        return -1;
                }
                channel = cJSON_GetObjectItemCaseSensitive(elem, "channel");
                if (cJSON_IsString(channel)) {
                        name = channel->valuestring;
                } else if (!channel &&
                           cJSON_GetObjectItemCaseSensitive(elem, "successful")) {
                        name = "";  /* a meta reply without its channel */
                } else {
                        snprintf(errstr, errstr_size, "response element %zu has %s", i,
                                 channel ? "a channel that is not a string" : "no channel");
                        bayeux_response_clear(resp);
                        return -1;
                }
                bayeux_describe(&resp->msgs[i], elem, name);
        }
        resp->nmsgs = i;
        return 0;
}

void bayeux_response_free(struct bayeux_response *resp)
{
        bayeux_response_clear(resp);
        free(resp->msgs);
        resp->msgs = NULL;
        resp->cap = 0;
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
